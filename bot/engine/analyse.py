"""Stage 1, analyse: text -> words as the person meant them -> comparable terms.

normalise -> word tokens -> spelling -> stems -> synonym phrases. Knowledge text and questions go
through the same :class:`Analyzer`, so a synonym or a stem only has to be right once.

Spelling is read against two vocabularies: the knowledge base's own words and general English
(:class:`English`, the word-frequency list that ships with ``pyspellchecker``). A word either
knows is never changed, so "sweep" stays "sweep" however close "swing" is; a word neither knows
is read as the nearest knowledge word or frequent English word, whichever is closer ("realy" ->
"really", "sqaut" -> "squat"); what is still unknown is kept as written and reported.
"""

from __future__ import annotations

import enum
import gzip
import importlib.resources
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Generic, TypeVar

from rapidfuzz import fuzz, process, utils

from bot.text import WORD, normalise, stem, words

_LETTERS = "abcdefghijklmnopqrstuvwxyz"

T = TypeVar("T")


class English:
    """General English: which words exist and how common each is.

    Built from ``pyspellchecker``'s English word-frequency list (counts from a large corpus of
    subtitles and web text). Words counted fewer than :data:`MIN_COUNT` times are mostly
    misspellings and names in that list, so they do not count as English here.
    """

    # The list's floor is 50; below 100 it is mostly noise ("revers", "calfs", "rn").
    MIN_COUNT = 100

    def __init__(self, counts: Mapping[str, int]) -> None:
        self._counts: dict[str, int] = {}
        for w, c in counts.items():
            if c >= self.MIN_COUNT:
                # Text is read without apostrophes ("shouldn't" -> "shouldnt"), so the list is too.
                key = w.replace("'", "")
                self._counts[key] = max(c, self._counts.get(key, 0))
        top = max(self._counts.values(), default=1)
        self._log_top = math.log10(top + 1)

    @classmethod
    def shipped(cls) -> English:
        """The list that ships with pyspellchecker (loaded once per process)."""
        return _shipped_english()

    def __contains__(self, word: object) -> bool:
        return word in self._counts

    def count(self, word: str) -> int:
        """How often ``word`` occurs in the corpus (0 if it is not English)."""
        return self._counts.get(word, 0)

    def rarity(self, word: str) -> float:
        """0 for the commonest words ("the"), rising to 1 for words English does not know."""
        return 1.0 - math.log10(self._counts.get(word, 0) + 1) / self._log_top

    def nearest(self, word: str) -> str | None:
        """The most frequent English word one edit (or one swap) away from ``word``."""
        best: tuple[int, str] | None = None
        for candidate in _one_edit(word):
            count = self._counts.get(candidate)
            if count is not None and (best is None or count > best[0]):
                best = (count, candidate)
        return None if best is None else best[1]


@lru_cache(maxsize=1)
def _shipped_english() -> English:
    data = importlib.resources.files("spellchecker") / "resources" / "en.json.gz"
    return English(json.loads(gzip.decompress(data.read_bytes())))


def _one_edit(word: str) -> set[str]:
    """Every string one deletion, swap of neighbours, replacement or insertion from ``word``."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    out = {a + b[1:] for a, b in splits if b}
    out.update(a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1)
    out.update(a + c + b[1:] for a, b in splits if b for c in _LETTERS)
    out.update(a + c + b for a, b in splits for c in _LETTERS)
    return out


class Spelling(enum.Enum):
    """How a word was read."""

    KNOWN = "known"  # the knowledge base or general English has it
    CORRECTED = "corrected"  # a misspelling, read as a known word
    UNKNOWN = "unknown"  # neither has it, and nothing known is close enough


@dataclass(frozen=True, slots=True)
class Word:
    """One word of a text: as written, as read, and how it was read."""

    written: str
    read: str
    spelling: Spelling


@dataclass(frozen=True)
class Analysis:
    """A text after analysis.

    ``terms`` are the stems of the words as read, with synonym phrases replaced by their
    canonical terms; ``origin[i]`` is the index in ``words`` that ``terms[i]`` came from.
    """

    text: str
    words: tuple[Word, ...]
    terms: tuple[str, ...]
    origin: tuple[int, ...]
    # The sentence each word is in, and the sentence that asks: the first one ending in a
    # question mark, else the last ("I back squat 100 kg. What weight for negatives?").
    sentence: tuple[int, ...] = ()
    asking: int = 0
    # The clause (between commas or sentence ends) each word is in.
    clause: tuple[int, ...] = ()
    # The words read past as hedges ("kinda", "usually").
    hedges: frozenset[int] = frozenset()

    @cached_property
    def corrected(self) -> dict[str, str]:
        """Misspelt words -> the words they were read as."""
        return {w.written: w.read for w in self.words if w.spelling is Spelling.CORRECTED}

    @cached_property
    def unknown(self) -> tuple[str, ...]:
        """Words neither the knowledge base nor English knows."""
        return tuple(w.written for w in self.words if w.spelling is Spelling.UNKNOWN)

    @cached_property
    def gerunds(self) -> frozenset[str]:
        """Stems only ever written as "-ing" verbs here ("squatting"), never as nouns."""
        ing = {stem(w.read) for w in self.words if w.read.endswith("ing")}
        plain = {stem(w.read) for w in self.words if not w.read.endswith("ing")}
        return frozenset(ing - plain)

    def words_of(self, start: int, end: int) -> str:
        """The text's own words (spelling fixed, not stemmed) behind ``terms[start:end]``."""
        if end <= start or not self.origin:
            return " ".join(self.terms[start:end])
        return " ".join(w.read for w in self.words[self.origin[start] : self.origin[end - 1] + 1])

    def word_at(self, term: int) -> Word:
        """The word ``terms[term]`` came from."""
        return self.words[self.origin[term]]


def _sentences(text: str, starts: list[int]) -> tuple[tuple[int, ...], int]:
    """Each word's sentence (by its start offset) and the sentence that asks."""
    sentence = _parts(_SENTENCE_END, text, starts)
    questions = [i for i, m in enumerate(_SENTENCE_END.finditer(text)) if "?" in m.group()]
    last = sentence[-1] if sentence else 0
    return sentence, min(questions[0], last) if questions else last


def _parts(end: re.Pattern[str], text: str, starts: list[int]) -> tuple[int, ...]:
    """Which part of ``text`` (split where ``end`` matches) each word starting at ``starts``
    is in."""
    ends = [m.start() for m in end.finditer(text)]
    part: list[int] = []
    n = 0
    for start in starts:
        while n < len(ends) and ends[n] < start:
            n += 1
        part.append(n)
    return tuple(part)


# Where a sentence ends: ".", "!", "?", ";" or ":" before a space or the end ("3.5 kg" goes on);
# a clause also at a comma.
_SENTENCE_END = re.compile(r"[.!?;:]+(?=\s|$)")
_CLAUSE_END = re.compile(r"[,.!?;:]+(?=\s|$)")


@dataclass(frozen=True)
class SpellingTuning:
    """How close a misspelling must be to the word it is read as.

    A rapidfuzz ratio of 80 admits one transposition in a five-letter word ("sqaut") but not
    unrelated words; words under four letters are too often one edit from another real word
    ("hit", "hip") to be corrected at all.
    """

    min_ratio: float = 80.0
    min_length: int = 4


class Analyzer:
    """Turns text into comparable terms, reading misspellings against known words."""

    def __init__(
        self,
        synonyms: Mapping[str, Iterable[str]],
        knowledge_words: Iterable[str],
        domain: Iterable[str],
        english: English,
        tuning: SpellingTuning = SpellingTuning(),
        fillers: Iterable[str] = (),
    ) -> None:
        """``knowledge_words``: every word the knowledge base and its language data use;
        ``domain``: the words a misspelling may be read as (names, muscles, cues)."""
        self.english = english
        self.tuning = tuning
        self._known = frozenset(knowledge_words)
        # An inflection of a knowledge word ("hingeing", "marchs") is that word.
        self._known_stems = frozenset(stem(w) for w in self._known)
        self._domain = sorted({w for w in domain if len(w) >= tuning.min_length - 1})
        replacements: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in synonyms.items():
            target = tuple(stem(w) for w in words(canonical))
            for variant in variants:
                key = tuple(stem(w) for w in words(variant))
                if key and key != target:
                    replacements[key] = target
        self._synonyms = PhraseIndex(replacements.items())
        self._fillers = PhraseIndex((tuple(words(f)), True) for f in fillers if words(f))
        self._read_cache: dict[str, Word] = {}
        self._terms_cache: dict[str, tuple[str, ...]] = {}

    @property
    def knowledge_words(self) -> frozenset[str]:
        """Every surface word the knowledge base and language data use."""
        return self._known

    def knows(self, word: str) -> bool:
        """Whether ``word`` is a word of the knowledge base or of general English."""
        return word in self._known or word in self.english or word.isdigit()

    def read(self, written: str) -> Word:
        """Read one written word: known as it is, corrected, or unknown."""
        found = self._read_cache.get(written)
        if found is None:
            found = self._read(written)
            if len(self._read_cache) < 100_000:
                self._read_cache[written] = found
        return found

    def _read(self, written: str) -> Word:
        if self.knows(written) or stem(written) in self._known_stems:
            return Word(written, written, Spelling.KNOWN)
        if len(written) < self.tuning.min_length:
            return Word(written, written, Spelling.UNKNOWN)
        domain = process.extractOne(
            written,
            self._domain,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=self.tuning.min_ratio,
        )
        general = self.english.nearest(written)
        general_ratio = fuzz.ratio(written, general) if general else 0.0
        # The closer reading wins; on a tie the knowledge base's word, which is what people
        # ask this bot about.
        if domain is not None and domain[1] >= general_ratio:
            return Word(written, str(domain[0]), Spelling.CORRECTED)
        if general is not None:
            return Word(written, general, Spelling.CORRECTED)
        return Word(written, written, Spelling.UNKNOWN)

    def analyse(self, text: str) -> Analysis:
        """Analyse a question: spelling is read, then stems and synonyms."""
        norm = normalise(text)
        found = list(WORD.finditer(norm))
        read = tuple(self.read(m.group()) for m in found)
        kept = self._without_fillers([w.read for w in read])
        terms, at = self._apply_synonyms([stem(read[i].read) for i in kept])
        starts = [m.start() for m in found]
        sentence, asking = _sentences(norm, starts)
        clause = _parts(_CLAUSE_END, norm, starts)
        hedges = frozenset(range(len(read))) - frozenset(kept)
        return Analysis(
            norm, read, terms, tuple(kept[i] for i in at), sentence, asking, clause, hedges
        )

    def _without_fillers(self, read: list[str]) -> list[int]:
        """Indexes of the words that are not hedges ("kinda", "basically")."""
        skip: set[int] = set()
        starts = self._fillers.first_terms
        for i, w in enumerate(read):
            if w in starts:
                found = self._fillers.longest_at(read, i)
                if found is not None:
                    skip.update(range(i, i + found[0]))
        return [i for i in range(len(read)) if i not in skip]

    def terms(self, text: str) -> tuple[str, ...]:
        """Stems with synonyms applied, no spelling correction (for knowledge text and cues).

        Cached: the same knowledge texts are read again while answers are composed."""
        found = self._terms_cache.get(text)
        if found is None:
            if len(self._terms_cache) >= 50_000:
                self._terms_cache.clear()
            found = self._terms_cache[text] = self._apply_synonyms([stem(w) for w in words(text)])[
                0
            ]
        return found

    def _apply_synonyms(self, stems: Sequence[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """Stems with synonym phrases replaced, and the stem index each output term came from."""
        out: list[str] = []
        origin: list[int] = []
        i = 0
        starts = self._synonyms.first_terms
        while i < len(stems):
            found = self._synonyms.longest_at(stems, i) if stems[i] in starts else None
            if found is None:
                out.append(stems[i])
                origin.append(i)
                i += 1
            else:
                size, target = found
                out.extend(target)
                # A replacement maps onto the words it replaced, first to last.
                origin.extend(min(i + k, i + size - 1) for k in range(len(target)))
                i += size
        return tuple(out), tuple(origin)


class PhraseIndex(Generic[T]):
    """Phrases (tuples of terms) with a value each, found in one pass over a text's terms."""

    def __init__(self, entries: Iterable[tuple[tuple[str, ...], T]]) -> None:
        self._by_first: dict[str, list[tuple[tuple[str, ...], T]]] = {}
        # Each phrase's values, and per first term the lengths its phrases have (longest
        # first): a text is matched by looking its slices up, not by scanning every phrase
        # that starts with a common word (10,000 exercise names share a few first words).
        self._exact: dict[tuple[str, ...], list[T]] = {}
        for phrase, value in entries:
            if phrase:
                self._by_first.setdefault(phrase[0], []).append((phrase, value))
                self._exact.setdefault(phrase, []).append(value)
        self._lengths = {
            first: sorted({len(p) for p, _ in group}, reverse=True)
            for first, group in self._by_first.items()
        }

    @property
    def first_terms(self) -> Mapping[str, object]:
        """The terms some phrase starts with (a mapping, for fast membership tests)."""
        return self._by_first

    def longest_at(self, terms: Sequence[str], i: int) -> tuple[int, T] | None:
        """(length, value) of the longest phrase starting at ``terms[i]``, if any."""
        for n in self._lengths.get(terms[i], ()):
            values = self._exact.get(tuple(terms[i : i + n])) if i + n <= len(terms) else None
            if values:
                return n, values[0]
        return None

    def find(self, terms: Sequence[str]) -> list[tuple[int, int, T]]:
        """Every (start, end, value) of a phrase occurring in ``terms``."""
        found = []
        size = len(terms)
        for i, term in enumerate(terms):
            for n in self._lengths.get(term, ()):
                if i + n <= size:
                    found.extend(
                        (i, i + n, v) for v in self._exact.get(tuple(terms[i : i + n]), ())
                    )
        return found
