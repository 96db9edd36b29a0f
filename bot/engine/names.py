"""Names: which records a text names, and which exercises it names that no record covers.

Built once per knowledge base from the records' names and aliases, the muscles they list, the
words that describe them, and the names of exercises in general (``exercise-names.yaml`` and
``language.yaml``'s ``uncovered_exercises``). Where a general name and one of ours cover the
same words, ours wins; where a general name is longer ("goblet squat" around our "squat"), it
names another exercise.
"""

from __future__ import annotations

import enum
import itertools
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace

from bot.engine.analyse import Analysis, Analyzer, PhraseIndex, Spelling
from bot.engine.describe import Descriptions, MuscleNames
from bot.engine.facts import facts_of
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase
from bot.text import words

# Words that stand in front of a name without changing which exercise it is: determiners.
DETERMINERS = frozenset({"a", "an", "the", "my", "your", "these", "those", "this", "that"})
# Words that join two names ("squat vs hip hinge"): never a part of a name on their own.
_JOINERS = frozenset({"vs", "versus", "or", "and", "v", "to"})


class How(enum.Enum):
    """How a record was named."""

    ALIAS = "alias"  # one of its names, in full ("reverse squat")
    GENERIC = "generic"  # a one-word name several records share ("squat")
    PARTIAL = "partial"  # a distinctive part of a name ("leg hold")
    QUALIFIED = "qualified"  # a shared name with a word only one of its names has ("slow squat")


@dataclass(frozen=True, slots=True)
class Mention:
    """A record the text names, where (term positions) and how surely (0..1)."""

    record: str
    start: int
    end: int
    strength: float
    how: How


@dataclass(frozen=True, slots=True)
class Uncovered:
    """An exercise the text names that no record covers ("goblet squat")."""

    name: str
    start: int
    end: int


class NameIndex:
    """Names of records and of exercises in general, and the words that describe records."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer, tuning: Tuning) -> None:
        self.kb = kb
        self.analyzer = analyzer
        self.tuning = tuning
        an = analyzer
        lang = kb.language
        self.aliases: dict[tuple[str, ...], str] = {}
        records_using: dict[str, set[str]] = defaultdict(set)
        for rid, record in kb.records.items():
            for alias in (record.name, *record.aliases):
                terms = an.terms(alias)
                if terms:
                    self.aliases.setdefault(terms, rid)
                    for t in terms:
                        records_using[t].add(rid)
        # Which records' names use each term ("squat": the squat, the negative squat...).
        self.records_using = {t: frozenset(r) for t, r in records_using.items()}
        self._alias_df = {t: len(r) for t, r in records_using.items()}
        self._aliases_with: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for phrase in self.aliases:
            if len(phrase) > 1:
                for t in set(phrase):
                    self._aliases_with[t].append(phrase)
        self._alias_index = PhraseIndex((a, rid) for a, rid in self.aliases.items())
        self.name_terms = {rid: frozenset(an.terms(r.name)) for rid, r in kb.records.items()}
        self.method_terms = _method_terms(kb, an)
        self.nouns = frozenset(t for p in (an.terms(n) for n in lang.exercise_nouns) for t in p)
        self.generic = frozenset(
            t for p in (an.terms(g) for g in lang.generic_modifiers) for t in p
        )
        self.equipment = frozenset(
            t
            for r in kb.records.values()
            for text in (*r.equipment, *(e for m in r.methods for e in m.equipment))
            for t in an.terms(text)
        )
        spread: dict[str, set[str]] = defaultdict(set)
        for rid, r in kb.records.items():
            for f in facts_of(r):
                for t in an.terms(f.text):
                    spread[t].add(rid)
        self.known_terms = frozenset(spread)
        # How many records' facts use a word: "rep" or "hold" is everywhere, so it cannot
        # name a record by itself, however few aliases use it.
        self._spread = {t: len(r) for t, r in spread.items()}
        # A bare exercise word the knowledge never uses ("lunge", "plank") names an exercise
        # we do not cover; one it does use ("press your heels") may be a verb.
        self.foreign_nouns = self.nouns - self.known_terms
        # Per alias of two words or more: each word's weight (rarer among names, heavier) and
        # their sum; and the words few names and few records use.
        self._alias_weights = {
            alias: (w, sum(w))
            for alias in self._aliases_with_any()
            for w in ([1.0 / self._alias_df.get(term, 1) for term in alias],)
        }
        self._distinctive = frozenset(
            term
            for term, n in self._alias_df.items()
            if n <= tuning.distinctive_df and self._spread.get(term, 0) <= tuning.distinctive_df
        )
        self.descriptions = Descriptions(kb, analyzer, tuning)
        self.general = _general_names(
            kb, an, self.aliases, self.nouns, self.generic | self.equipment
        )
        # General names the knowledge itself uses as examples ("negative pull-ups"), and which
        # records use each.
        self.examples_of = _examples(kb, an, self.general)
        self.examples = frozenset(self.examples_of)
        self.muscles = MuscleNames(kb, analyzer)

    # -- building ------------------------------------------------------------------------

    def _aliases_with_any(self) -> set[tuple[str, ...]]:
        return {a for phrases in self._aliases_with.values() for a in phrases}

    def find(
        self, analysis: Analysis, stop: frozenset[str]
    ) -> tuple[tuple[Mention, ...], tuple[Uncovered, ...]]:
        """The records ``analysis`` names and the uncovered exercises it names."""

        terms = analysis.terms
        t = self.tuning
        found: list[Mention] = []
        taken: set[int] = set()
        # Longest names first; a name inside a longer one found already does not count.
        occurrences = sorted(self._alias_index.find(terms), key=lambda o: (o[0] - o[1], o[0]))
        for i, end, rid in occurrences:
            size = end - i
            span = range(i, end)
            if taken.intersection(span):
                continue
            how, strength = How.ALIAS, t.alias
            if size == 1 and self._alias_df.get(terms[i], 0) > t.distinctive_df:
                how, strength = How.GENERIC, t.generic_name
            elif size == 1:
                strength = t.one_word_alias
            found.append(Mention(rid, i, end, strength, how))
            taken.update(span)
        uncovered: list[Uncovered] = []
        for start, end, name in self.general.find(terms):
            inside = [m for m in found if start <= m.start and m.end <= end]
            overlaps = [m for m in found if m.start < end and start < m.end]
            if overlaps and not inside:
                continue  # one of ours stands across it: ours wins
            if inside and all(m.end - m.start == end - start for m in inside):
                continue  # the same words: ours
            if inside and self._only_equipment(terms, start, end, inside):
                continue  # "barbell deadlift" is our deadlift with its bar
            found = [m for m in found if m not in inside]
            uncovered.append(Uncovered(name, start, end))
        uncovered.extend(self._variants(analysis, found, uncovered, stop))
        if uncovered and not found:
            found.extend(self._partial(terms, set(), stop))
        if found:
            # Beside a record, a name the knowledge uses as an example is that example.
            uncovered = [u for u in uncovered if terms[u.start : u.end] not in self.examples]
        if uncovered:
            blocked = {i for u in uncovered for i in range(u.start, u.end)}
            found = [m for m in found if not blocked.intersection(range(m.start, m.end))]
        taken = {i for m in found for i in range(m.start, m.end)}
        have = {m.record for m in found}
        found.extend(m for m in self._partial(terms, taken, stop) if m.record not in have)
        # "my normal back squat", "a basic squat": a generic word before a name is part of it.
        found = [self._qualified(terms, self._widened(terms, m, stop), stop) for m in found]
        found.sort(key=lambda m: m.start)
        return tuple(found), tuple(sorted(uncovered, key=lambda u: u.start))

    def _widened(self, terms: tuple[str, ...], m: Mention, stop: frozenset[str]) -> Mention:
        start = m.start
        while start > 0 and terms[start - 1] in self.generic and terms[start - 1] not in stop:
            start -= 1
        return m if start == m.start else replace(m, start=start)

    def _qualified(self, terms: tuple[str, ...], m: Mention, stop: frozenset[str]) -> Mention:
        """A shared name ("squat") right after a word that, with it, only one record's names
        hold ("slow squat": "slow negative squat"; "banded squat": "banded reverse squat")
        names that record."""

        if m.how is not How.GENERIC or m.start == 0:
            return m
        word, noun = terms[m.start - 1], terms[m.end - 1]
        if word in stop or word in self.generic or word in _JOINERS or word in self.nouns:
            return m
        records = {
            rid
            for alias, rid in self.aliases.items()
            if word in alias and noun in alias and alias.index(word) < alias.index(noun)
        }
        if len(records) != 1:
            return m
        return replace(
            m,
            record=records.pop(),
            start=m.start - 1,
            strength=self.tuning.one_word_alias,
            how=How.QUALIFIED,
        )

    def _only_equipment(
        self, terms: tuple[str, ...], start: int, end: int, inside: list[Mention]
    ) -> bool:
        own = {i for m in inside for i in range(m.start, m.end)}
        return all(
            terms[i] in self.equipment or terms[i] in self.generic
            for i in range(start, end)
            if i not in own
        )

    def _variants(
        self,
        analysis: Analysis,
        found: list[Mention],
        uncovered: list[Uncovered],
        stop: frozenset[str],
    ) -> Iterator[Uncovered]:
        """ "<variant word> <exercise word>" phrases that are not ours ("zercher squat"), and
        bare exercise words the knowledge never uses ("lunges").

        A variant word is one that names variants in the general list ("goblet", "sumo"), or
        a word neither the knowledge nor English knows; an ordinary English word in front of
        a name ("basic squat tips") does not make another exercise.
        """

        terms = analysis.terms
        named_phrase = {
            i
            for m in found
            if m.how is How.ALIAS and m.end - m.start > 1
            for i in range(m.start, m.end)
        }
        claimed = {i for u in uncovered for i in range(u.start, u.end)}
        for i, term in enumerate(terms):
            if term not in self.nouns or i in named_phrase or i in claimed:
                continue
            if term in analysis.gerunds:
                continue  # "squatting" is the activity, not a named exercise
            prev = terms[i - 1] if i > 0 else None
            variant = prev is not None and self._names_variant(analysis, i - 1, prev, stop)
            if variant and not any(prev in alias and term in alias for alias in self.aliases):
                yield Uncovered(analysis.words_of(i - 1, i + 1), i - 1, i + 1)
                continue
            if term in self.foreign_nouns and (prev is None or prev not in self.nouns):
                yield Uncovered(analysis.words_of(i, i + 1), i, i + 1)

    def _names_variant(self, analysis: Analysis, i: int, term: str, stop: frozenset[str]) -> bool:
        """A word nobody knows in front of an exercise word names a variant ("kossack
        squat"); a known word that no general name pairs with it does not ("basic squat")."""
        if term in stop or term in self.generic or term.isdigit() or len(term) <= 2:
            return False
        word = analysis.word_at(i)
        return word.spelling is Spelling.UNKNOWN and term not in self.known_terms

    def _partial(
        self, terms: tuple[str, ...], taken: set[int], stop: frozenset[str]
    ) -> Iterator[Mention]:
        """Records named by a distinctive part of a name ("leg hold", "negative reps").

        A muscle word alone ("quads", "psoas") names a muscle, not the exercise whose alias
        happens to contain it, so muscle words do not count towards a partial name.
        """

        t = self.tuning
        muscle_at = {i for a, b, _ in self.muscles.phrases.find(terms) for i in range(a, b)}
        # Each free word with every place it stands ("leg holds ... before leg day").
        free: dict[str, list[int]] = defaultdict(list)
        for i, term in enumerate(terms):
            if (
                i not in taken
                and i not in muscle_at
                and term not in stop
                and term not in _JOINERS
                and term not in self.muscles.one_word
            ):
                free[term].append(i)
        best: dict[str, Mention] = {}
        if not free:
            return
        for alias in dict.fromkeys(a for term in free for a in self._aliases_with.get(term, ())):
            rid = self.aliases[alias]
            weights, total = self._alias_weights[alias]
            hit = [term in free for term in alias]
            share = sum(w for w, h in zip(weights, hit, strict=True) if h) / total
            if share <= t.partial_share:
                continue
            # A part names its record when it holds a word few names and few records use
            # ("psoas"), or two of the name's words side by side ("leg hold").
            pair = _adjacent_pair(alias, free)
            distinctive = pair is not None or any(
                h and term in self._distinctive for term, h in zip(alias, hit, strict=True)
            )
            if not distinctive:
                continue
            near = (
                pair[0]
                if pair is not None
                else min(free[term][0] for term in alias if term in free)
            )
            pos = sorted(
                min(free[term], key=lambda i: abs(i - near))
                for term, h in zip(alias, hit, strict=True)
                if h
            )
            mention = Mention(rid, pos[0], pos[-1] + 1, round(t.partial * share, 3), How.PARTIAL)
            if rid not in best or mention.strength > best[rid].strength:
                best[rid] = mention
        yield from best.values()

    def as_it(
        self, terms: tuple[str, ...], mentions: Iterable[Mention]
    ) -> tuple[tuple[str, ...], tuple[int, ...]]:
        """``terms`` with each named record (and a determiner before it) read as "it", and the
        index in ``terms`` each output term stands for."""
        starts = {m.start: m.end for m in mentions}
        out: list[str] = []
        origin: list[int] = []
        i = 0
        while i < len(terms):
            if i in starts:
                if out and out[-1] in DETERMINERS:
                    out.pop()
                    origin.pop()
                out.append("it")
                origin.append(i)
                i = starts[i]
            else:
                out.append(terms[i])
                origin.append(i)
                i += 1
        return tuple(out), tuple(origin)

    def named_with(self, terms: Iterable[str]) -> list[str]:
        """Records one of whose names uses every one of ``terms`` ("stretch"), in file order."""
        wanted = set(terms)
        if not wanted:
            return []
        found = {rid for alias, rid in self.aliases.items() if wanted <= set(alias)}
        return [rid for rid in self.kb.records if rid in found]


def _method_terms(kb: KnowledgeBase, an: Analyzer) -> dict[str, frozenset[str]]:
    """Per record, the words that pick one of its variants ("band", "cable")."""
    return {
        rid: frozenset(
            t
            for m in r.methods
            if len(r.methods) > 1
            for t in an.terms(" ".join((m.name, *m.equipment)))
        )
        for rid, r in kb.records.items()
    }


def _general_names(
    kb: KnowledgeBase,
    an: Analyzer,
    aliases: Mapping[tuple[str, ...], str],
    nouns: frozenset[str],
    ordinary: frozenset[str],
) -> PhraseIndex[str]:
    """Names of exercises in general, of two words or more ending in an exercise word
    ("goblet squat", "romanian deadlift"), and the words such names put before that word
    ("goblet", "romanian"): a word that names a variant, unlike "heavy" or "kettlebell"."""
    general: dict[tuple[str, ...], str] = {}
    for name in (*kb.exercise_names, *kb.language.uncovered_exercises):
        terms = an.terms(name)
        if not terms or terms in aliases:
            continue
        listed = name in kb.language.uncovered_exercises
        if listed or (len(terms) > 1 and terms[-1] in nouns):
            general.setdefault(terms, " ".join(words(name)))
    # "<word> <exercise word>" pairs that end general names ("hack squat" in "barbell hack
    # squat"): a variant in its own right unless the word is generic or kit.
    for terms in list(general):
        pair = terms[-2:]
        if len(pair) == 2 and pair[0] not in ordinary and pair not in aliases:
            general.setdefault(pair, _pair_name(pair, general[terms]))
    return PhraseIndex(general.items())


def _examples(
    kb: KnowledgeBase, an: Analyzer, general: PhraseIndex[str]
) -> dict[tuple[str, ...], frozenset[str]]:
    """General names the knowledge's own facts use, with the records whose facts use them."""
    examples: dict[tuple[str, ...], set[str]] = defaultdict(set)
    for r in kb.records.values():
        for f in facts_of(r):
            terms = an.terms(f.text)
            for a, b, _ in general.find(terms):
                examples[tuple(terms[a:b])].add(r.id)
    return {name: frozenset(rids) for name, rids in examples.items()}


def _pair_name(pair: tuple[str, ...], full_name: str) -> str:
    """The last two words of a general name as written ("hack squat")."""
    return " ".join(full_name.split()[-len(pair) :])


def _adjacent_pair(
    alias: tuple[str, ...], free: Mapping[str, list[int]]
) -> tuple[int, int] | None:
    """Where two neighbouring words of ``alias`` stand side by side, free, in either order
    ("leg backwards hold" for "backwards leg hold"), or None."""
    for a, b in itertools.pairwise(alias):
        if a == b:
            continue
        for i in free.get(a, ()):
            for j in free.get(b, ()):
                if abs(i - j) == 1:
                    return (i, j)
    return None
