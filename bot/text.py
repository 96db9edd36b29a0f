"""Text analysis shared by the knowledge index and the questions: one pipeline for both.

normalise -> words -> typo correction against the knowledge vocabulary -> stems -> synonyms.
Because knowledge text and questions go through the same :class:`Analyzer`, a synonym or a
stem only has to be right once.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Generic, TypeVar

import snowballstemmer
from rapidfuzz import fuzz, process, utils

_WORD = re.compile(r"[a-z0-9]+")
# Control, format and bidirectional characters: dropped so "squat\u200bs" reads as "squats".
_INVISIBLE = re.compile(r"[\x00-\x1f\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "`": "'", "\u02bc": "'"})
_DASHES = re.compile(r"[\u2010-\u2015\u2212]")

# A misspelling is corrected to a known word only above this rapidfuzz ratio; 80 admits one
# transposition in a five-letter word ("sqaut") but not unrelated words ("life" -> "lift").
TYPO_CUTOFF = 80.0
T = TypeVar("T")
# Knowledge texts analysed at answer time are cached, up to this many.
TERMS_CACHE_SIZE = 50_000
# Words shorter than this are never corrected: too many short words are one edit apart
# ("sing" and "swing").
MIN_TYPO_LENGTH = 5


def normalise(text: str) -> str:
    """Fold Unicode compatibility forms, case, apostrophes and dashes; drop control characters."""
    text = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES)
    text = _DASHES.sub("-", text).casefold().replace("%", " percent ")
    text = text.replace("'", "")  # "what's" -> "whats", "don't" -> "dont"
    return _INVISIBLE.sub("", text)


def words(text: str) -> list[str]:
    """Lower-case word tokens of ``text``."""
    return _WORD.findall(normalise(text))


_stemmer = snowballstemmer.stemmer("english")


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """The English (Snowball) stem of one lower-case word."""
    return str(_stemmer.stemWord(word))


@dataclass(frozen=True)
class Analysed:
    """A text after analysis.

    ``terms`` is the full sequence of stems with synonyms applied (for phrase and cue
    matching); ``content`` drops stopwords and bare numbers (for scoring); ``corrected`` maps
    misspelt words to the known words they were read as; ``gerunds`` holds stems that were
    only ever written as "-ing" verbs ("squatting"), not as nouns; ``surface`` holds the words
    as written (typos fixed) and ``origin`` the surface index each term came from.
    """

    terms: tuple[str, ...]
    content: tuple[str, ...]
    corrected: Mapping[str, str]
    unknown: tuple[str, ...]
    gerunds: frozenset[str] = frozenset()
    surface: tuple[str, ...] = ()
    origin: tuple[int, ...] = ()

    def words_of(self, start: int, end: int) -> str:
        """The question's own words (typos fixed, not stemmed) behind ``terms[start:end]``."""
        if not self.origin or end <= start:
            return " ".join(self.terms[start:end])
        return " ".join(self.surface[self.origin[start] : self.origin[end - 1] + 1])


class Analyzer:
    """Turns text into comparable terms, using the knowledge base's own vocabulary."""

    def __init__(
        self,
        synonyms: Mapping[str, Iterable[str]],
        stopwords: Iterable[str],
        vocabulary: Iterable[str],
        domain: Iterable[str],
    ) -> None:
        """``vocabulary``: every word the knowledge uses (never corrected); ``domain``: the
        words a misspelling may be corrected to (names, muscles, cues), so that an ordinary
        word the knowledge happens not to use is not bent into a nearby one."""
        self._stop = frozenset(stem(w) for phrase in stopwords for w in words(phrase))
        replacements: dict[tuple[str, ...], tuple[str, ...]] = {}
        for canonical, variants in synonyms.items():
            target = tuple(stem(w) for w in words(canonical))
            for variant in variants:
                key = tuple(stem(w) for w in words(variant))
                if key and key != target:
                    replacements[key] = target
        self._synonyms = PhraseIndex(replacements.items())
        self._cache: dict[str, tuple[str, ...]] = {}
        self._vocabulary = frozenset(vocabulary)
        # Only words long enough to be corrected take part in the fuzzy look-up.
        self._choices = sorted(w for w in domain if len(w) >= MIN_TYPO_LENGTH - 1)

    @property
    def vocabulary(self) -> frozenset[str]:
        """Every surface word the knowledge base and language data use."""
        return self._vocabulary

    def correct(self, word: str) -> str | None:
        """The known word ``word`` is a misspelling of, or None if it is known or too far off."""
        if word in self._vocabulary or len(word) < MIN_TYPO_LENGTH or word.isdigit():
            return None
        found = process.extractOne(
            word,
            self._choices,
            scorer=fuzz.ratio,
            processor=utils.default_process,
            score_cutoff=TYPO_CUTOFF,
        )
        return None if found is None else str(found[0])

    def analyse(self, text: str, *, fix_typos: bool = True) -> Analysed:
        """Analyse ``text``; knowledge text is analysed with ``fix_typos=False``."""
        corrected: dict[str, str] = {}
        unknown: list[str] = []
        stems: list[str] = []
        surface: list[str] = []
        ing: set[str] = set()
        plain: set[str] = set()
        for word in words(text):
            if fix_typos and word not in self._vocabulary:
                fixed = self.correct(word)
                if fixed is None:
                    unknown.append(word)
                else:
                    corrected[word] = fixed
                    word = fixed
            stems.append(stem(word))
            surface.append(word)
            (ing if word.endswith("ing") else plain).add(stems[-1])
        terms, origin = self._apply_synonyms(stems)
        content = tuple(t for t in terms if t not in self._stop and not t.isdigit())
        return Analysed(
            terms,
            content,
            corrected,
            tuple(unknown),
            frozenset(ing - plain),
            tuple(surface),
            origin,
        )

    def terms(self, text: str) -> tuple[str, ...]:
        """Stems with synonyms applied, no typo correction (for knowledge text and cues).

        Cached: the same knowledge texts are read again while answers are composed."""
        found = self._cache.get(text)
        if found is None:
            if len(self._cache) >= TERMS_CACHE_SIZE:
                self._cache.clear()
            stems = [stem(w) for w in words(text)]
            found = self._cache[text] = self._apply_synonyms(stems)[0]
        return found

    def is_stopword(self, term: str) -> bool:
        """Whether ``term`` (a stem) carries no meaning for matching."""
        return term in self._stop

    def _apply_synonyms(self, stems: list[str]) -> tuple[tuple[str, ...], tuple[int, ...]]:
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
        for phrase, value in entries:
            if phrase:
                self._by_first.setdefault(phrase[0], []).append((phrase, value))
        for group in self._by_first.values():
            group.sort(key=lambda pv: -len(pv[0]))  # longest first

    @property
    def first_terms(self) -> Mapping[str, object]:
        """The terms some phrase starts with (a mapping, for fast membership tests)."""
        return self._by_first

    def longest_at(self, terms: Sequence[str], i: int) -> tuple[int, T] | None:
        """(length, value) of the longest phrase starting at ``terms[i]``, if any."""
        for phrase, value in self._by_first.get(terms[i], ()):
            n = len(phrase)
            if tuple(terms[i : i + n]) == phrase:
                return n, value
        return None

    def find(self, terms: Sequence[str]) -> list[tuple[int, int, T]]:
        """Every (start, end, value) of a phrase occurring in ``terms``."""
        found = []
        for i, term in enumerate(terms):
            for phrase, value in self._by_first.get(term, ()):
                n = len(phrase)
                if tuple(terms[i : i + n]) == phrase:
                    found.append((i, i + n, value))
        return found


def find_phrase(terms: tuple[str, ...], phrase: tuple[str, ...]) -> int:
    """Index of the first occurrence of ``phrase`` in ``terms``, or -1."""
    n = len(phrase)
    if n == 0:
        return -1
    first = phrase[0]
    for i in range(len(terms) - n + 1):
        if terms[i] == first and terms[i : i + n] == phrase:
            return i
    return -1
