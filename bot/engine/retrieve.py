"""Stage 4, retrieve: a decision about which records and what is asked -> ranked facts.

Every item of knowledge is a :class:`~bot.engine.facts.Fact`. A fact is ranked by how much of
the question's topic its words cover (each word weighted by how telling it is), helped by the
ask the cue phrases signal (a prior, not a gate), by the questions the item says it answers,
by the variant (cable, band) the person's words or situation pick, and by how surely its record
is meant. :class:`Tuning` holds the weights and their order.
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from bot.engine.amounts import amount_units
from bot.engine.analyse import Analyzer, PhraseIndex, Spelling, Word
from bot.engine.facts import Fact, Kind, Section, facts_of, has_quantity
from bot.engine.recognise import Ask
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase
from bot.schema import Record, Situation


@dataclass(frozen=True, slots=True)
class Ranked:
    """A fact, its score for the question, and the share of the question's topic it covers."""

    fact: Fact
    score: float
    covers: float


@dataclass(frozen=True)
class Query:
    """What retrieval needs to know about a question (built by the interpret stage).

    ``topic`` maps each topic term to its weight; ``records`` maps the records in question to
    how surely each is meant; ``asks`` are the ask priors; ``situations`` the person's stated
    situations; ``amount`` whether the answer must state an amount.
    """

    topic: Mapping[str, float]
    records: Mapping[str, float]
    asks: Mapping[Ask, float]
    situations: tuple[str, ...] = ()
    amount: bool = False
    yes_no: bool = False
    why: bool = False
    # The amount is the last question's, carried to a continuation ("and coming back up?").
    carried_amount: bool = False
    units: frozenset[str] = frozenset()
    cues: frozenset[str] = frozenset()
    exclude: frozenset[tuple[str, str, int, int]] = frozenset()

    @property
    def subject(self) -> dict[str, float]:
        """The topic without the words that only say which kind of answer is wanted."""
        return {t: w for t, w in self.topic.items() if t not in self.cues}


class FactIndex:
    """Every fact of a knowledge base with its terms, built once."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer, tuning: Tuning) -> None:
        self.kb = kb
        self.analyzer = analyzer
        self.tuning = tuning
        self.facts: list[Fact] = []
        self.by_record: dict[str, list[int]] = defaultdict(list)
        self._terms: list[frozenset[str]] = []
        self._phrasings: list[tuple[frozenset[str], ...]] = []
        self._amount: list[bool] = []
        for rid, record in kb.records.items():
            for fact in facts_of(record):
                n = len(self.facts)
                self.facts.append(fact)
                self.by_record[rid].append(n)
                # A step's method (its name and kit) is matched by method_for, not per step.
                about = "" if fact.method is not None else fact.about
                asked = " ".join(fact.questions)
                text = f"{fact.section.label} {about} {asked} {fact.text}"
                self._terms.append(frozenset(analyzer.terms(text)))
                self._phrasings.append(tuple(frozenset(analyzer.terms(q)) for q in fact.questions))
                self._amount.append(has_quantity(fact.text))
        self._number = {f.key: n for n, f in enumerate(self.facts)}
        self._ask = [_ask_of(f) for f in self.facts]
        # What rank needs of each fact, in one tuple: its ask, variant, whether it takes a
        # stance, whether it gives a reason, the situations it suits, its key.
        self._rows = [
            (
                self._ask[n],
                f.method,
                f.stance is not None,
                _explains(f),
                frozenset(f.situations),
                f.key,
            )
            for n, f in enumerate(self.facts)
        ]
        self._phrasing_terms = [frozenset().union(*p) for p in self._phrasings]
        df: dict[str, int] = defaultdict(int)
        postings: dict[str, list[int]] = defaultdict(list)
        by_record: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
        for n, terms in enumerate(self._terms):
            for t in terms:
                df[t] += 1
                postings[t].append(n)
                by_record[self.facts[n].record][t].append(n)
        self._postings = dict(postings)
        # Per record, term -> its facts using it: a question's words find their facts directly.
        self._record_postings = {rid: dict(p) for rid, p in by_record.items()}
        self.sections = {
            rid: frozenset(self.facts[n].section for n in ns if self.facts[n].kind is not Kind.FAQ)
            for rid, ns in self.by_record.items()
        }
        total = len(self.facts)
        top = math.log(1 + total)
        # How telling a word is inside this knowledge base, 0..1 (1: one fact uses it).
        self.idf = {t: math.log(1 + total / n) / top for t, n in df.items()}
        # Each phrasing's terms with the sum of their IDFs, for :meth:`_phrasing`.
        self._phrasing_idf = [
            tuple((p, sum(self.idf.get(term, 1.0) for term in p)) for p in phrasings)
            for phrasings in self._phrasings
        ]
        self._methods = {
            rid: [frozenset(analyzer.terms(" ".join((m.name, *m.equipment)))) for m in r.methods]
            for rid, r in kb.records.items()
        }
        self._situations = {s.id: s for s in kb.language.situations}
        # Words that ask about muscles ("strengthen", "work", "exercises for").
        self.muscle_ask_words = frozenset(
            t
            for table in (kb.language.intents, kb.language.intent_hints)
            for cue in table.get("muscles", ())
            for t in analyzer.terms(cue)
        )
        self._unit_index: PhraseIndex[str] = PhraseIndex(
            (analyzer.terms(cue), str(unit))
            for unit, cues in kb.language.amounts.items()
            for cue in cues
        )
        self._units = [self.units_in(f.text) for f in self.facts]
        self._unit_terms = frozenset(
            t for cues in kb.language.amounts.values() for c in cues for t in analyzer.terms(c)
        )

    def about_fact(self, key: tuple[str, str, int, int]) -> dict[str, float]:
        """The words of the fact ``key`` names, weighted like a question's (for "why?" after
        an answer: the reason is the fact that shares most with the one just given)."""
        n = self._number.get(key)
        if n is None:
            return {}
        label = set(self.analyzer.terms(self.facts[n].section.label))
        return {t: self.idf[t] for t in self._terms[n] if t not in label and self.idf[t] > 0.3}

    def is_unit(self, term: str) -> bool:
        """Whether ``term`` names what an amount measures ("seconds", "reps", "heavy")."""
        return term in self._unit_terms

    def has_term(self, fact: Fact, term: str) -> bool:
        """Whether ``fact``'s words include ``term``."""
        return term in self._terms[self._number[fact.key]]

    def knows(self, term: str) -> bool:
        """Whether some fact uses ``term``."""
        return term in self.idf

    def has_section(self, rid: str, section: Section) -> bool:
        """Whether record ``rid`` holds anything for ``section`` (FAQs aside)."""
        return section in self.sections.get(rid, frozenset())

    def rank(self, query: Query, limit: int = 8) -> list[Ranked]:
        """The facts of the query's records, best first."""
        t = self.tuning
        topic = query.topic
        total = sum(topic.values())
        if total <= 0:
            topic, total = {}, 0.0
        asks = query.asks
        ask_weight = {a: t.ask_prior * w for a, w in asks.items()}
        situations = frozenset(query.situations)
        exclude = query.exclude
        wanted = query.units
        yes_no = query.yes_no
        why = query.why
        amount = query.amount
        phrasing_terms = self._phrasing_terms
        scored: list[tuple[float, int, float]] = []
        for rid, strength in query.records.items():
            method = self.method_for(self.kb.records[rid], query)
            covered: dict[int, float] = defaultdict(float)
            postings = self._record_postings.get(rid, {})
            for term, w in topic.items():
                for n in postings.get(term, ()):
                    covered[n] += w
            prior = t.record_prior * strength
            for n in self.by_record.get(rid, ()):
                fact_ask, fact_method, stance, reason, fact_situations, key = self._rows[n]
                if exclude and key in exclude:
                    continue
                covers = covered[n] / total if n in covered else 0.0
                score = covers + prior + ask_weight.get(fact_ask, 0.0)
                if covers and not phrasing_terms[n].isdisjoint(topic):
                    score += t.phrasing * self._phrasing(n, topic)
                if fact_method is not None and method is not None and fact_method != method:
                    score -= t.method  # a step of the variant the person did not pick
                if amount and not _states(self._amount[n], self._units[n], wanted):
                    score -= t.method
                if covers and ((yes_no and stance) or (why and reason)):
                    score += t.stance  # the article's stance meets a yes/no, its reason a why
                if fact_situations and not situations.isdisjoint(fact_situations):
                    score += t.situation  # an alternative offered for what the person told us
                scored.append((score, -n, covers))
        top = heapq.nlargest(limit, scored)
        return [Ranked(self.facts[-m], score, covers) for score, m, covers in top]

    def best_anywhere(self, query: Query) -> Ranked | None:
        """The fact of any record that covers most of the query's topic (ties: the higher
        score), or None when no fact shares a word with it."""
        covered: dict[int, float] = defaultdict(float)
        for term, w in query.topic.items():
            for n in self._postings.get(term, ()):
                covered[n] += w
        total = sum(query.topic.values())
        if not covered or total <= 0:
            return None
        # Coverage decides; the score only breaks ties among the facts that cover the most.
        most = max(covered.values())
        best: tuple[float, int] | None = None
        for n, w in covered.items():
            if w < most:
                continue
            score = w / total + self.tuning.ask_prior * query.asks.get(self._ask[n], 0.0)
            if not self._phrasing_terms[n].isdisjoint(query.topic):
                score += self.tuning.phrasing * self._phrasing(n, query.topic)
            if best is None or (score, -n) > (best[0], -best[1]):
                best = (score, n)
        assert best is not None
        return Ranked(self.facts[best[1]], best[0], most / total)

    def phrased(self, fact: Fact, topic: Mapping[str, float]) -> float:
        """How closely the question matches a question ``fact`` says it answers, 0..1."""
        n = self._number[fact.key]
        return self._phrasing(n, topic) if not self._phrasing_terms[n].isdisjoint(topic) else 0.0

    def _phrasing(self, n: int, topic: Mapping[str, float]) -> float:
        """How closely the question matches a question the fact says it answers (weighted
        Jaccard of their terms), 0..1."""
        best = 0.0
        total = sum(topic.values())
        idf = self.idf
        for phrasing, phrasing_idf in self._phrasing_idf[n]:
            both = 0.0
            shared_idf = 0.0
            for term, w in topic.items():
                if term in phrasing:
                    both += w
                    shared_idf += idf.get(term, 1.0)
            if both:
                best = max(best, both / (total + phrasing_idf - shared_idf))
        return best

    def method_for(self, record: Record, query: Query) -> int | None:
        """The variant (method) of ``record`` the question's words or situations pick."""
        methods = self._methods.get(record.id, [])
        if len(methods) < 2:
            return 0 if methods else None
        scores = [sum(query.topic.get(term, 0.0) for term in m - _SHARED) for m in methods]
        if sum(1 for s in scores if s > 0) > 1:
            return None  # "cable or band?": both asked about
        best = max(range(len(methods)), key=scores.__getitem__)
        if scores[best] > 0:
            return best
        for sid in query.situations:
            situation = self._situations.get(sid)
            if situation is not None:
                fit = [_fits(self.analyzer, situation, m) for m in methods]
                if max(fit) > min(fit):
                    return max(range(len(methods)), key=fit.__getitem__)
        return 0

    def units_in(self, text: str) -> frozenset[str]:
        """What the amounts stated in ``text`` measure (duration, load, count, frequency)."""
        return amount_units(self._unit_index, self.analyzer.terms(text))

    def states_amount(self, fact: Fact, query: Query) -> bool:
        """Whether ``fact`` states an amount of what the query measures ("how long" wants a
        duration: "4 s down" answers it, "70% of your weight" does not)."""
        n = self._number[fact.key]
        return _states(self._amount[n], self._units[n], query.units)

    def stating(self, record: Record, ranked: list[Ranked], query: Query) -> list[Ranked]:
        """The ranked facts that state the amount asked for; if the record has none, those of
        the topics it relates to ("how often can I hinge?" -> rest the following day)."""
        stating = [r for r in ranked if self.states_amount(r.fact, query)]
        if stating:
            return stating
        # Only records of the same article: a topic's advice is about the exercises it
        # discusses, and a topic's amounts are those of its exercises ("how much weight for
        # negatives?" -> the negative squat's 70%).
        topics = [
            r
            for r in record.related
            if (self.kb.records[r].kind == "topic" or record.kind == "topic")
            and self.kb.records[r].source == record.source
        ]
        if not topics:
            return []
        wider = replace(query, records=dict.fromkeys(topics, self.tuning.context))
        return [r for r in self.rank(wider) if self.states_amount(r.fact, wider)]

    def text_states_amount(self, text: str, query: Query) -> bool:
        """:meth:`states_amount` for any text."""
        return _states(has_quantity(text), self.units_in(text), query.units)

    def section_facts(self, rid: str, section: Section) -> list[Fact]:
        """The facts of one section of a record, in the record's order (FAQs left out)."""
        return [
            self.facts[n]
            for n in self.by_record.get(rid, ())
            if self.facts[n].section is section and self.facts[n].kind.value != "faq"
        ]

    def weights(
        self, terms: Iterable[tuple[str, Word]], cue_terms: frozenset[str]
    ) -> dict[str, float]:
        """Each topic term's weight, from (term, word) pairs: how telling the term is in the
        knowledge base; for an English word the knowledge base never uses, how rare it is in
        English (so "calories" weighs, and "really" hardly); a word nobody knows ("asdf", a
        garbled name) is no evidence either way, so it weighs nothing."""
        t = self.tuning
        out: dict[str, float] = {}
        for term, word in terms:
            if term in self.idf:
                # Jargon ("psoas", "valgus") tells more than an everyday word the knowledge
                # happens to use rarely ("mention", "turn").
                rarity = self.analyzer.english.rarity(word.read)
                w = self.idf[term] * max(0.0, 1 - t.everyday + t.everyday * rarity)
            elif word.spelling is Spelling.UNKNOWN or len(word.read) <= 2:
                w = 0.0
            else:
                w = t.foreign_weight * self.analyzer.english.rarity(word.read) ** 2
            if term in cue_terms:
                w *= t.cue_weight
            out[term] = max(out.get(term, 0.0), w)
        return out


# Words every method's name may use ("machine"), so they pick none.
_SHARED = frozenset({"machin", "version", "the", "or", "a"})


def _states(quantity: bool, units: frozenset[str], wanted: frozenset[str]) -> bool:
    if wanted == {"frequency"} and "frequency" in units:
        return True  # "rest the following day" states a frequency without a number
    if not quantity and "load" not in units:
        return False
    return not wanted or bool(units & wanted)


def _explains(fact: Fact) -> bool:
    """Whether the fact gives a reason: it says it answers a "why"."""
    return any(q.lower().startswith("why") for q in fact.questions)


def _ask_of(fact: Fact) -> Ask:
    return Ask(fact.intent or fact.section.value)


def _fits(analyzer: Analyzer, situation: Situation, method: frozenset[str]) -> int:
    prefer = {t for p in situation.prefer for t in analyzer.terms(p)}
    avoid = {t for p in situation.avoid for t in analyzer.terms(p)}
    return len(method & prefer) - len(method & avoid)
