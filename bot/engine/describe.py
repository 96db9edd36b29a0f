"""Records as descriptions: which record a message's words describe ("lie on your back, knees to
your chest" fits the reverse squat), for messages that name none. Part of the recognise stage."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Iterator

from bot.engine.analyse import Analyzer, PhraseIndex
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase

# Words that only say "a muscle" rather than which one.
_MUSCLE_FILLER = frozenset({"muscl", "group", "of", "the", "and"})


class MuscleNames:
    """The muscles the records list, by all their names, and which records work each."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer) -> None:
        self._build(kb, analyzer)

    def _build(self, kb: KnowledgeBase, an: Analyzer) -> None:
        """Muscle names (with their aliases) -> terms, and each record's main-muscle terms."""
        self._muscles: dict[frozenset[str], str] = {}
        self._primary: dict[str, frozenset[str]] = {}
        for rid, record in kb.records.items():
            if record.muscles is None:
                continue
            primary: set[str] = set()
            for m in (*record.muscles.primary, *record.muscles.stabilisers):
                for name in (m.name, *m.aliases):
                    terms = frozenset(an.terms(name)) - _MUSCLE_FILLER
                    if terms:
                        self._muscles.setdefault(terms, m.name.lower())
                        if m in record.muscles.primary:
                            primary.update(terms)
            self._primary[rid] = frozenset(primary)
        # One-word muscle names ("quads", "psoas"): a word that names a muscle, not an exercise.
        self.one_word = frozenset(t for terms in self._muscles if len(terms) == 1 for t in terms)
        # Every word of a muscle's names ("hip", "flexor"): they name a muscle, not a topic.
        self.words = frozenset(t for terms in self._muscles for t in terms)
        self.phrases = PhraseIndex(
            (tuple(an.terms(n)), True)
            for r in kb.records.values()
            if r.muscles
            for m in (*r.muscles.primary, *r.muscles.stabilisers)
            for n in (m.name, *m.aliases)
            if len(an.terms(n)) > 1
        )

    def named_in(self, terms: Iterable[str]) -> Iterator[str]:
        """The muscles (by their main name) whose every name word ``terms`` holds."""
        present = set(terms)
        seen: set[str] = set()
        for names, canonical in self._muscles.items():
            if names <= present and canonical not in seen:
                seen.add(canonical)
                yield canonical

    def records_working(self, terms: Iterable[str]) -> list[str]:
        """Records whose main muscles include every muscle ``terms`` mention, in file order."""
        present = set(terms)
        asked = [names for names in self._muscles if names <= present]
        if not asked:
            return []
        return [
            rid
            for rid, primary in self._primary.items()
            if all(names <= primary for names in asked)
        ]


class Descriptions:
    """The words that describe each record as a whole, with how telling each word is."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer, tuning: Tuning) -> None:
        self.kb = kb
        self.analyzer = analyzer
        self.tuning = tuning
        self._build(kb)

    def _build(self, kb: KnowledgeBase) -> None:
        """The words that describe each record as a whole: names, summary and keywords."""
        an = self.analyzer
        self._described_by: dict[str, frozenset[str]] = {}
        records_of: dict[str, set[str]] = defaultdict(set)
        self._name_words: dict[str, frozenset[str]] = {}
        for rid, r in kb.records.items():
            text = " ".join((r.name, *r.aliases, r.summary, *r.keywords))
            terms = frozenset(an.terms(text))
            self._described_by[rid] = terms
            self._name_words[rid] = frozenset(an.terms(" ".join((r.name, *r.aliases))))
            for t in terms:
                records_of[t].add(rid)
        total = len(kb.records)
        self._describe_idf = {t: math.log(1 + total / len(rids)) for t, rids in records_of.items()}
        self._records_of = {t: frozenset(r) for t, r in records_of.items()}
        self._order = {rid: i for i, rid in enumerate(kb.records)}

    # -- reading a text ------------------------------------------------------------------

    def description_terms(self, rid: str) -> frozenset[str]:
        """The words that describe a record as a whole: its names, summary and keywords."""
        return self._described_by[rid]

    def describe(
        self, terms: Iterable[str], among: Iterable[str] | None = None
    ) -> list[tuple[str, float]]:
        """Records ranked by the IDF-weighted share of ``terms`` that describe them ("lie on
        your back, knees to your chest" fits the reverse squat); ``among`` limits the records
        (then one or two telling words are enough: "the yoga one")."""
        q = [t for t in dict.fromkeys(terms) if t in self._records_of]
        allowed = frozenset(among) if among is not None else None
        if allowed is not None:
            q = [t for t in q if self._records_of[t] & allowed]
        elif len(q) < self.tuning.description_terms:
            return []
        total = sum(self._describe_idf[t] for t in q)
        if not total:
            return []
        # A word of a record's names describes it twice as surely as one of its summary or
        # keywords ("the leg back thing": "leg" and "back" are words of "back leg hold").
        scores: dict[str, float] = defaultdict(float)
        for t in q:
            for rid in self._records_of[t] if allowed is None else self._records_of[t] & allowed:
                named = t in self._name_words[rid]
                scores[rid] += self._describe_idf[t] * (1.0 if named else 0.5) / total
        # Ties go to the knowledge base's order, the same in every run.
        order = self._order
        ranked = sorted(scores.items(), key=lambda rv: (-rv[1], order[rv[0]]))
        return ranked if among is not None else ranked[:3]
