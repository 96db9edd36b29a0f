"""Understanding a question against the knowledge base.

The :class:`Index` is built once per knowledge base. :meth:`Index.read` turns a question into
a :class:`Reading`: which records it names (exact alias phrases, or a distinctive part of one),
which asks it signals (cue phrases from ``language.yaml``), stated situations, safety words,
exercises it names that the knowledge base does not cover, and a ranked list of answer units
(BM25 over every item of knowledge, in the record's own words).
"""

from __future__ import annotations

import heapq
import math
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from bot.knowledge import KnowledgeBase
from bot.schema import DistinctFrom, Record
from bot.sections import LABELS
from bot.text import Analysed, Analyzer, PhraseIndex, find_phrase, words

# BM25 parameters (the usual defaults; units are short, so length normalisation matters little).
K1 = 1.2
B = 0.75
# A part of an alias names its record only if the matched part carries at least this share of
# the alias's weight and includes a word few records use ("negative" in "negative squat").
PARTIAL_ALIAS_SHARE = 0.5
DISTINCTIVE_DF = 2
# A one-word alias names its record less surely than a phrase does ("hinging" in a question
# about rest days), and one used by several records' names ("squat") only weakly.
SINGLE_WORD_STRENGTH = 0.9
GENERIC_ALIAS_STRENGTH = 0.6
# A part of a name is weaker evidence than a description that fits a record well.
PARTIAL_STRENGTH = 0.6
# The signals that say what is asked, and the words that may stand before a named exercise.
ASKS = ("cue", "hint")
DETERMINERS = frozenset({"a", "an", "the", "my", "your", "these", "those", "this", "that"})
# How many of the best units a search returns, in order.
TOP_HITS = 50
# Terms found in more units than this are too common to scan for the best units.
SCAN_LIMIT = 2000
# A word found in at most this many knowledge items is rare enough to identify one alone.
RARE_DF = 3
# How much one hint word leans towards its ask (a clear cue phrase counts 1).
HINT_WEIGHT = 0.4
# Weight in the text match of words that only signal the kind of ask.
CUE_TERM_WEIGHT = 0.6


@dataclass(frozen=True)
class Unit:
    """One retrievable piece of knowledge: an item of a record's section."""

    record: str
    intent: str
    key: str
    terms: tuple[str, ...]
    n: int = 0


@dataclass(frozen=True)
class Mention:
    """A record the question names, where, how surely, and whether by a whole alias."""

    record: str
    start: int
    end: int
    strength: float
    exact: bool = True


@dataclass(frozen=True)
class Uncovered:
    """An exercise the question names that no record covers, and where ("goblet squat")."""

    name: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    """A unit and how well the question's own words (not the names) match it, 0..1."""

    unit: Unit
    text: float


@dataclass(frozen=True)
class Reading:
    """Everything the matcher understood from one question."""

    analysed: Analysed
    mentions: tuple[Mention, ...]
    intents: dict[str, float]
    situations: tuple[str, ...]
    safety: bool
    small_talk: str | None
    correction: bool
    uncovered: tuple[Uncovered, ...]
    distinct: tuple[str, DistinctFrom] | None
    ask_terms: tuple[str, ...]
    coverage: float
    ask_coverage: float = 1.0
    refers_back: bool = False
    muscle_ask: bool = False
    clear_intents: frozenset[str] = frozenset()
    hits: tuple[Hit, ...] = field(default=())
    weights: Mapping[str, float] = field(default_factory=dict)

    @property
    def records(self) -> tuple[str, ...]:
        """Named records in order of appearance, without repeats."""
        return tuple(dict.fromkeys(m.record for m in self.mentions))


def _phrases(analyzer: Analyzer, items: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(t for t in (analyzer.terms(i) for i in items) if t)


def record_texts(record: Record) -> Iterator[tuple[str, str, str]]:
    """(intent, key, text) for every retrievable item of a record, each item's text led by
    its section's name, as a search index boosts field names ("form checklist", "mistakes")."""
    for intent, key, text in _item_texts(record):
        yield intent, key, f"{LABELS.get(intent, '')} {text}"


def _item_texts(record: Record) -> Iterator[tuple[str, str, str]]:
    yield "what", "summary", " ".join((record.name, *record.aliases, record.summary))
    for i, fact in enumerate(record.facts):
        yield "what", f"fact:{i}", fact
    if record.movement or record.level or record.equipment:
        yield (
            "what",
            "profile",
            " ".join((record.movement or "", record.level or "", *record.equipment)),
        )
    if record.muscles:
        m = record.muscles
        parts = [
            f"{x.name} {x.detail or ''} {' '.join(x.aliases)}"
            for x in (*m.primary, *m.stabilisers)
        ]
        yield "muscles", "muscles", " ".join((*parts, m.note or ""))
    for i, method in enumerate(record.methods):
        yield (
            "steps",
            f"method:{i}",
            " ".join((method.name, *method.equipment, *method.setup, *method.steps, *method.tips)),
        )
    if record.checklist:
        yield "checklist", "checklist", " ".join(record.checklist)
    for i, mistake in enumerate(record.mistakes):
        yield "mistakes", f"mistake:{i}", f"{mistake.mistake} Fix: {mistake.fix}"
    for i, caution in enumerate(record.cautions):
        yield "cautions", f"caution:{i}", caution
    for i, avoid in enumerate(record.avoid_if):
        yield "cautions", f"avoid:{i}", f"{avoid.who} {avoid.why}"
    for i, alt in enumerate(record.alternatives):
        target = alt.name or (alt.exercise or "").replace("-", " ")
        yield "alternatives", f"alt:{i}", f"{target} {alt.why}"
    for i, var in enumerate(record.variations):
        yield "variations", f"var:{i}", f"{var.name} {var.text} {var.direction}"
    for i, benefit in enumerate(record.benefits):
        yield "benefits", f"benefit:{i}", f"{benefit.name} {benefit.text}"
    if record.suits:
        yield "benefits", "suits", " ".join(record.suits)
    for i, point in enumerate(record.programming):
        yield "programming", f"prog:{i}", f"{point.name} {point.text}"
    for i, point in enumerate(record.points):
        yield "what", f"point:{i}", f"{point.name} {point.text}"
    for i, faq in enumerate(record.faq):
        yield faq.intent, f"faq:{i}", " ".join((faq.q, *faq.also, faq.a))


class Index:
    """Everything needed to read questions against one knowledge base, built once."""

    def __init__(self, kb: KnowledgeBase) -> None:
        lang = kb.language
        self.kb = kb
        self.analyzer = Analyzer(
            lang.synonyms, lang.stopwords, self._vocabulary(kb), self._domain(kb)
        )
        an = self.analyzer
        self.units: list[Unit] = []
        self.by_record: dict[str, list[Unit]] = defaultdict(list)
        for rid, record in kb.records.items():
            for intent, key, text in record_texts(record):
                terms = tuple(t for t in an.terms(text) if not an.is_stopword(t))
                unit = Unit(rid, intent, key, terms, len(self.units))
                self.units.append(unit)
                self.by_record[rid].append(unit)
        # One-word muscle names ("calves", "psoas"): words that name a muscle, not an exercise.
        self.muscle_terms = frozenset(
            terms[0]
            for record in kb.records.values()
            if record.muscles
            for m in (*record.muscles.primary, *record.muscles.stabilisers)
            for terms in (an.terms(name) for name in (m.name, *m.aliases))
            if len(terms) == 1
        )
        self._build_bm25()
        self._build_aliases(kb)
        self._build_muscles(kb)
        signals: list[tuple[tuple[str, ...], tuple[str, str]]] = []
        for kind, table in (("cue", lang.intents), ("hint", lang.intent_hints)):
            for intent, cues in table.items():
                signals.extend((p, (kind, intent)) for p in _phrases(an, cues))
        for situation in lang.situations:
            signals.extend((p, ("situation", situation.id)) for p in _phrases(an, situation.cues))
        for talk, cues in lang.small_talk.items():
            signals.extend((p, ("talk", talk)) for p in _phrases(an, cues))
        for kind, cues in (
            ("correction", lang.corrections),
            ("pronoun", lang.pronouns),
        ):
            signals.extend((p, (kind, "")) for p in _phrases(an, cues))
        self.signals = PhraseIndex(signals)
        self._other_exercises = PhraseIndex(
            (p, words_of) for words_of in lang.uncovered_exercises for p in (an.terms(words_of),)
        )
        # Those the knowledge itself mentions, by their terms.
        self._example_names = frozenset(
            tuple(terms[a:b])
            for terms in (an.terms(t) for r in kb.records.values() for _, _, t in record_texts(r))
            for a, b, _ in self._other_exercises.find(terms)
        )
        # Safety words are matched as written, not stemmed: "pulling my knees" is no "pulled
        # my hamstring", "replace my squats" no "hip replacement".
        self.safety = PhraseIndex((tuple(words(c)), c) for c in lang.safety_cues)
        # Cues of two or more content words also count in any order, with words between
        # ("my balance is pretty bad" for "bad balance").
        self._loose_situations = [
            (situation.id, frozenset(phrase))
            for situation in lang.situations
            for phrase in _phrases(an, situation.cues)
            # Only cues of content words alone: "no cable" loosened would lose its "no".
            if len(phrase) > 1 and not any(an.is_stopword(t) for t in phrase)
        ]
        # What each situation is about: the words most of its cues share ("core", "home").
        self.situation_terms = {
            situation.id: _common_terms(_phrases(an, situation.cues), an)
            for situation in lang.situations
        }
        self.cue_terms = frozenset(
            t for p, (kind, _) in signals if kind in ("cue", "hint") for t in p
        )
        self.generic = frozenset(t for p in _phrases(an, lang.generic_modifiers) for t in p)
        self.nouns = frozenset(t for p in _phrases(an, lang.exercise_nouns) for t in p)
        known_terms = {t for u in self.units for t in u.terms}
        # A bare exercise word the knowledge never uses ("lunge", "plank") names an
        # exercise we do not cover; one it does use ("press your heels") may be a verb.
        self.foreign_nouns = frozenset(n for n in self.nouns if n not in known_terms)
        self.known_terms = frozenset(known_terms)
        self.distinct = {
            rid: tuple((d, _phrases(an, d.cues)) for d in r.distinct_from)
            for rid, r in kb.records.items()
            if r.distinct_from
        }

    @staticmethod
    def _vocabulary(kb: KnowledgeBase) -> set[str]:
        vocab: set[str] = set()
        for record in kb.records.values():
            for _, _, text in record_texts(record):
                vocab.update(words(text))
            for d in record.distinct_from:
                vocab.update(words(" ".join((d.name, *d.cues))))
        lang = kb.language
        for variants in lang.synonyms.items():
            vocab.update(words(" ".join((variants[0], *variants[1]))))
        for cues in (*lang.intents.values(), *lang.intent_hints.values()):
            vocab.update(words(" ".join(cues)))
        for sit in lang.situations:
            vocab.update(words(" ".join(sit.cues)))
        for group in (
            lang.safety_cues,
            lang.exercise_nouns,
            lang.generic_modifiers,
            *lang.small_talk.values(),
            lang.stopwords,
            lang.corrections,
        ):
            vocab.update(words(" ".join(group)))
        return vocab

    @staticmethod
    def _domain(kb: KnowledgeBase) -> set[str]:
        """Words a misspelling may be corrected to: names, muscles, equipment and cues."""
        out: set[str] = set()
        for r in kb.records.values():
            out.update(words(" ".join((r.name, *r.aliases, *r.keywords, *r.equipment))))
            if r.muscles:
                for m in (*r.muscles.primary, *r.muscles.stabilisers):
                    out.update(words(" ".join((m.name, m.detail or "", *m.aliases))))
        lang = kb.language
        for canonical, variants in lang.synonyms.items():
            out.update(words(" ".join((canonical, *variants))))
        for cues in (
            *lang.intents.values(),
            *lang.intent_hints.values(),
            *(s.cues for s in lang.situations),
        ):
            out.update(words(" ".join(cues)))
        out.update(words(" ".join((*lang.safety_cues, *lang.exercise_nouns))))
        return out

    # -- indexes -------------------------------------------------------------------------

    def _build_bm25(self) -> None:
        postings: dict[str, list[tuple[int, float]]] = defaultdict(list)
        total_len = sum(len(u.terms) for u in self.units)
        self._avg_len = total_len / max(len(self.units), 1)
        for n, unit in enumerate(self.units):
            counts: dict[str, int] = defaultdict(int)
            for t in unit.terms:
                counts[t] += 1
            norm = K1 * (1 - B + B * len(unit.terms) / self._avg_len)
            for t, c in counts.items():
                # BM25's term-frequency part, fixed per posting: computed once here.
                postings[t].append((n, c * (K1 + 1) / (c + norm)))
        total = len(self.units)
        self._postings = dict(postings)
        # Which records use each word, keywords included: the basis for recognising a
        # record from a description. Keywords are not answers, so they are not units.
        records_of: dict[str, set[str]] = defaultdict(set)
        for unit in self.units:
            for t in unit.terms:
                records_of[t].add(unit.record)
        self._description_terms: dict[str, frozenset[str]] = {}
        for rid, record in self.kb.records.items():
            keywords = self.analyzer.terms(" ".join(record.keywords))
            for t in keywords:
                records_of[t].add(rid)
            summary = next(u.terms for u in self.by_record[rid] if u.key == "summary")
            self._description_terms[rid] = frozenset((*summary, *keywords))
        self._term_records = {t: frozenset(r) for t, r in records_of.items()}
        self._idf = {
            t: math.log(1 + (total - len(p) + 0.5) / (len(p) + 0.5)) for t, p in postings.items()
        }
        self._max_idf = math.log(1 + (total + 0.5) / 0.5)
        self._pairs = frozenset(
            p for u in self.units for p in zip(u.terms, u.terms[1:], strict=False)
        )

    def _build_muscles(self, kb: KnowledgeBase) -> None:
        """Muscle names (with their aliases) to terms, and each record's main-muscle terms."""
        an = self.analyzer
        generic = {"muscl", "group"}
        self._muscle_names: dict[str, tuple[frozenset[str], str]] = {}
        self._primary_terms: dict[str, frozenset[str]] = {}
        for rid, record in kb.records.items():
            if record.muscles is None:
                continue
            primary: set[str] = set()
            for m in (*record.muscles.primary, *record.muscles.stabilisers):
                names = [m.name, *m.aliases]
                terms = [frozenset(an.terms(n)) - generic for n in names]
                for name, t in zip(names, terms, strict=True):
                    self._muscle_names.setdefault(name.lower(), (t, m.name.lower()))
                if m in record.muscles.primary:
                    primary.update(*terms)
            self._primary_terms[rid] = frozenset(primary)
        self._muscles_by_term: dict[str, list[tuple[frozenset[str], str]]] = defaultdict(list)
        for entry in {(names, c) for names, c in self._muscle_names.values() if names}:
            for word in entry[0]:
                self._muscles_by_term[word].append(entry)
        fits: dict[str, set[str]] = defaultdict(set)
        for record in kb.records.values():
            for alt in record.alternatives:
                if alt.exercise is not None:
                    fits[alt.exercise].update(alt.situations)
        self._fits = {rid: frozenset(s) for rid, s in fits.items()}

    def _build_aliases(self, kb: KnowledgeBase) -> None:
        self.name_terms = {
            rid: frozenset(self.analyzer.terms(r.name)) for rid, r in kb.records.items()
        }
        self.aliases: dict[tuple[str, ...], str] = {}
        df: dict[str, set[str]] = defaultdict(set)
        for rid, record in kb.records.items():
            for alias in (record.name, *record.aliases):
                terms = self.analyzer.terms(alias)
                if terms:
                    self.aliases.setdefault(terms, rid)
                    for t in terms:
                        df[t].add(rid)
        self._alias_df = {t: len(r) for t, r in df.items()}
        # Multi-word aliases by the words in them, for partial names.
        self._aliases_with: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for words_ in self.aliases:
            if len(words_) > 1:
                for t in set(words_):
                    self._aliases_with[t].append(words_)
        self._alias_len = max((len(a) for a in self.aliases), default=1)
        self._alias_heads = frozenset(a[-1] for a in self.aliases)

    # -- reading a question --------------------------------------------------------------

    def read(self, text: str) -> Reading:
        """Interpret one question (no conversation context: that is the engine's job)."""
        analysed = self.analyzer.analyse(text)
        terms = analysed.terms
        mentions = self._mentions(terms)
        # The words that name a record say which record, not what is asked about it; but
        # when several records are named, how they relate is the question ("rest day after
        # hinging"), so their names stay in.
        exact = [m for m in mentions if m.exact]
        # Words of an alias beyond the record's own name ("banded", "bodyweight") say which
        # version is meant, so they stay part of the ask.
        named = (
            {
                i
                for m in exact
                for i in range(m.start, m.end)
                if terms[i] in self.name_terms[m.record]
            }
            if len(exact) < 2
            else set()
        )
        ask = tuple(
            t
            for i, t in enumerate(terms)
            if i not in named and not self.analyzer.is_stopword(t) and not t.isdigit()
        )
        content = analysed.content
        known = sum(1 for t in content if self._known(t))
        ask_known = sum(1 for t in ask if self._known(t))
        found = self.signals.find(terms)
        kinds = {kind for _, _, (kind, _) in found}
        talk = [(a, b, v) for a, b, (kind, v) in found if kind == "talk"]
        # Asks are read with each named exercise standing as "it", so one cue phrase covers
        # "what does it work" and "what does a reverse squat work".
        as_it = self._as_it(terms, mentions)
        asks = [f for f in self.signals.find(as_it) if f[2][0] in ASKS]
        # Words of clear cue phrases only say what kind of answer is wanted ("checklist"),
        # so they weigh less in the text match than the words saying what it is about.
        weights = {
            t: CUE_TERM_WEIGHT for a, b, (kind, _) in asks if kind == "cue" for t in as_it[a:b]
        }
        intents = _intents(asks)
        muscle_ask = "muscles" in intents
        if set(ask) & self.muscle_terms and not muscle_ask:
            intents["muscles"] = HINT_WEIGHT  # "does it hit my glutes or quads?"
        return Reading(
            analysed=analysed,
            mentions=mentions,
            intents=intents,
            muscle_ask=muscle_ask,
            clear_intents=frozenset(v for _, _, (k, v) in asks if k == "cue"),
            situations=self._situations(terms, found),
            safety=bool(self.safety.find(analysed.surface)),
            small_talk=self._small_talk(terms, talk),
            correction="correction" in kinds,
            uncovered=tuple(self._uncovered(terms, analysed, mentions)),
            distinct=self._distinct(terms, mentions),
            ask_terms=ask,
            coverage=known / len(content) if content else 1.0,
            ask_coverage=ask_known / len(ask) if ask else 1.0,
            refers_back="pronoun" in kinds,
            hits=self.search(ask, weights),
            weights=weights,
        )

    def records_named_with(self, terms: Iterable[str]) -> list[str]:
        """Records one of whose names uses all of ``terms``, in file order."""
        wanted = set(terms)
        if not wanted:
            return []
        first = next(iter(wanted))
        names = [*self._aliases_with.get(first, ()), (first,)]
        found = {self.aliases[a] for a in names if a in self.aliases and wanted <= set(a)}
        return [rid for rid in self.kb.records if rid in found]

    def _small_talk(self, terms: tuple[str, ...], talk: list[tuple[int, int, str]]) -> str | None:
        """What a message that is only small talk ("hi", "thanks!") stands for."""
        if not talk or not _only(terms, [(a, b) for a, b, _ in talk], self.analyzer):
            return None
        return max(talk, key=lambda abv: abv[1] - abv[0])[2]

    def _as_it(self, terms: tuple[str, ...], mentions: tuple[Mention, ...]) -> tuple[str, ...]:
        """``terms`` with each exactly named record (and a determiner before it) as "it"."""
        starts = {m.start: m.end for m in mentions if m.exact}
        out: list[str] = []
        i = 0
        while i < len(terms):
            if i in starts:
                if out and out[-1] in DETERMINERS:
                    out.pop()
                out.append("it")
                i = starts[i]
            else:
                out.append(terms[i])
                i += 1
        return tuple(out)

    def _situations(
        self, terms: tuple[str, ...], found: list[tuple[int, int, tuple[str, str]]]
    ) -> tuple[str, ...]:
        """Situations stated by a cue phrase, or by all the words a several-word situation is
        about in any order ("my core is pretty weak")."""
        stated = [v for _, _, (k, v) in found if k == "situation"]
        present = set(terms)
        stated.extend(sid for sid, loose in self._loose_situations if loose <= present)
        return tuple(dict.fromkeys(stated))

    def _known(self, term: str) -> bool:
        return term in self.known_terms or term in self.cue_terms

    def is_rare(self, term: str) -> bool:
        """Whether ``term`` occurs in only a few knowledge items (so it alone is telling)."""
        return len(self._postings.get(term, ())) <= RARE_DF

    def _mentions(self, terms: tuple[str, ...]) -> tuple[Mention, ...]:
        found: list[Mention] = []
        taken: set[int] = set()
        for size in range(min(self._alias_len, len(terms)), 0, -1):
            for i in range(len(terms) - size + 1):
                span = range(i, i + size)
                if taken.intersection(span):
                    continue
                rid = self.aliases.get(terms[i : i + size])
                if rid is None:
                    continue
                strength = 1.0
                if size == 1:
                    generic = self._alias_df.get(terms[i], 0) > DISTINCTIVE_DF
                    strength = GENERIC_ALIAS_STRENGTH if generic else SINGLE_WORD_STRENGTH
                found.append(Mention(rid, i, i + size, strength))
                taken.update(span)
        if not found:
            # Only when nothing is fully named: extra partial hits beside a full name are noise.
            found.extend(self._partial_mentions(terms, taken))
        return tuple(sorted(found, key=lambda m: m.start))

    def _partial_mentions(self, terms: tuple[str, ...], taken: set[int]) -> Iterator[Mention]:
        """Records named by a distinctive part of an alias ("leg hold", "negative reps").

        A muscle word alone ("quads", "psoas") names a muscle, not the exercise whose alias
        happens to contain it, so muscle words do not count towards a partial name.
        """
        free = {
            t: i
            for i, t in enumerate(terms)
            if i not in taken and not self.analyzer.is_stopword(t) and t not in self.muscle_terms
        }
        best: dict[str, Mention] = {}
        candidates = {a for t in free for a in self._aliases_with.get(t, ())}
        for alias in candidates:
            rid = self.aliases[alias]
            weights = [1.0 / self._alias_df.get(t, 1) for t in alias]
            hit = [t in free for t in alias]
            share = sum(w for w, h in zip(weights, hit, strict=True) if h) / sum(weights)
            distinctive = any(
                h and self._alias_df.get(t, 0) <= DISTINCTIVE_DF
                for t, h in zip(alias, hit, strict=True)
            )
            if share <= PARTIAL_ALIAS_SHARE or not distinctive:
                continue
            pos = sorted(free[t] for t, h in zip(alias, hit, strict=True) if h)
            strength = round(PARTIAL_STRENGTH * share, 3)
            mention = Mention(rid, pos[0], pos[-1] + 1, strength, exact=False)
            if rid not in best or mention.strength > best[rid].strength:
                best[rid] = mention
        yield from best.values()

    def _uncovered(
        self, terms: tuple[str, ...], analysed: Analysed, mentions: tuple[Mention, ...]
    ) -> Iterator[Uncovered]:
        """Exercises the question names that no record covers ("goblet squat").

        A one-word alias ("squat") does not protect its word from a modifier in front of it:
        "goblet squat" is not the squat the knowledge base describes. A pair the knowledge
        itself uses ("yoga pose") is a description, not a name.
        """
        named = {i for m in mentions if m.exact for i in range(m.start, m.end)}
        phrase_named = {
            i for m in mentions if m.exact and m.end - m.start > 1 for i in range(m.start, m.end)
        }
        for i, term in enumerate(terms):
            if term not in self.nouns or i in phrase_named or term in analysed.gerunds:
                continue
            prev = terms[i - 1] if i > 0 else None
            modifier = (
                prev
                if prev is not None
                and len(prev) > 2
                and i - 1 not in named
                and prev not in analysed.gerunds
                and not self.analyzer.is_stopword(prev)
                and prev not in self.generic
                and not prev.isdigit()
                and prev not in self.nouns
                else None
            )
            if (
                modifier is not None
                and not self._alias_has(modifier, term)
                and not ((modifier, term) in self._pairs and term in self._alias_heads)
            ):
                yield Uncovered(analysed.words_of(i - 1, i + 1), i - 1, i + 1)
            elif modifier is None and term in self.foreign_nouns:
                yield Uncovered(analysed.words_of(i, i + 1), i, i + 1)
        for start, end, _ in self._other_exercises.find(terms):
            # The knowledge uses some as examples ("negative pull-ups"): with a record in
            # view such a name is that example, not a request about the exercise.
            example = mentions and terms[start:end] in self._example_names
            if not named.intersection(range(start, end)) and not example:
                yield Uncovered(analysed.words_of(start, end), start, end)

    def _alias_has(self, *parts: str) -> bool:
        return any(all(p in alias for p in parts) for alias in self.aliases)

    def _distinct(
        self, terms: tuple[str, ...], mentions: tuple[Mention, ...]
    ) -> tuple[str, DistinctFrom] | None:
        for m in mentions:
            for item, cues in self.distinct.get(m.record, ()):
                if _any_phrase(terms, cues):
                    return m.record, item
        return None

    def search(self, query: Iterable[str], weights: Mapping[str, float]) -> tuple[Hit, ...]:
        """The best units by BM25 on ``query`` terms, scaled to 0..1 of a perfect match.

        Terms in more than :data:`SCAN_LIMIT` units are too common to pick units out of a
        large knowledge base, so they are not scanned here; :meth:`unit_text` still counts
        them for the units of the records in view."""
        q = tuple(dict.fromkeys(query))
        # Words the knowledge never uses cannot match anything; the caller weighs them through
        # coverage, so they do not dilute the match here.
        ceiling = sum(self._idf.get(t, 0.0) for t in q) * (K1 + 1)
        if not ceiling:
            return ()
        scores: dict[int, float] = defaultdict(float)
        for t in q:
            postings = self._postings.get(t, ())
            if not postings or len(postings) > SCAN_LIMIT:
                continue
            idf = self._idf[t] * weights.get(t, 1.0) / ceiling
            for n, w in postings:
                scores[n] += idf * w
        top = heapq.nlargest(TOP_HITS, scores.items(), key=lambda kv: kv[1])
        return tuple(Hit(self.units[n], v) for n, v in top)

    def unit_text(self, unit: Unit, query: Iterable[str], weights: Mapping[str, float]) -> float:
        """BM25 of one unit for ``query``, on the same 0..1 scale as :meth:`search`."""
        q = set(query)
        ceiling = sum(self._idf.get(t, 0.0) for t in q) * (K1 + 1)
        if not ceiling:
            return 0.0
        counts: dict[str, int] = defaultdict(int)
        for t in unit.terms:
            if t in q:
                counts[t] += 1
        norm = K1 * (1 - B + B * len(unit.terms) / self._avg_len)
        total = sum(
            self._idf[t] * weights.get(t, 1.0) * c * (K1 + 1) / (c + norm)
            for t, c in counts.items()
        )
        return total / ceiling

    def _muscles_in(self, query: Iterable[str]) -> list[tuple[frozenset[str], str]]:
        """(terms, main name) of every muscle name ``query`` holds all the words of."""
        q = set(query)
        seen = {id(m): m for t in q for m in self._muscles_by_term.get(t, ())}
        return [m for m in seen.values() if m[0] <= q]

    def asked_muscles(self, query: Iterable[str]) -> list[str]:
        """The muscles (by their main name) that ``query`` mentions by any of their names."""
        return list(dict.fromkeys(canon for _, canon in self._muscles_in(query)))

    def records_for_muscles(self, query: Iterable[str]) -> list[str]:
        """Records whose main muscles include every muscle ``query`` mentions, in file order."""
        asked = [terms for terms, _ in self._muscles_in(query)]
        if not asked:
            return []
        return [
            rid
            for rid, primary in self._primary_terms.items()
            if all(terms <= primary for terms in asked)
        ]

    def record_fits(self, rid: str, situation: str) -> bool:
        """Whether some record offers ``rid`` as the alternative for ``situation``."""
        return situation in self._fits.get(rid, frozenset())

    def description_terms(self, rid: str) -> frozenset[str]:
        """The words that describe a record as a whole: its names, summary and keywords."""
        return self._description_terms[rid]

    def describe(self, query: Iterable[str]) -> list[tuple[str, float]]:
        """Records ranked by the IDF-weighted share of ``query`` terms found anywhere in them
        (keywords included): how well a description ("lie on your back, knees to your
        chest") fits each record."""
        q = [t for t in dict.fromkeys(query) if t in self._term_records]
        weight = {t: self._idf.get(t, self._max_idf) for t in q}
        total = sum(weight.values())
        if not total:
            return []
        scores: dict[str, float] = defaultdict(float)
        for t in q:
            for rid in self._term_records[t]:
                scores[rid] += weight[t]
        return sorted(((r, v / total) for r, v in scores.items()), key=lambda rv: -rv[1])

    def item_overlap(self, query: Iterable[str], text: str) -> float:
        """IDF-weighted share of ``query`` terms that occur in ``text`` (for picking a lead)."""
        q = set(query)
        if not q:
            return 0.0
        have = set(self.analyzer.terms(text))
        total = sum(self._idf.get(t, self._max_idf) for t in q)
        return sum(self._idf.get(t, self._max_idf) for t in q & have) / total


def _any_phrase(terms: tuple[str, ...], phrases: Iterable[tuple[str, ...]]) -> bool:
    return any(find_phrase(terms, p) >= 0 for p in phrases)


def _intents(found: list[tuple[int, int, tuple[str, str]]]) -> dict[str, float]:
    """Ask -> 0..1: a clear cue phrase is decisive; each hint leans by :data:`HINT_WEIGHT`,
    counted once even inside a longer hint ("make it easier" is not also "easier")."""
    strong = {v for _, _, (k, v) in found if k == "cue"}
    hints = [(a, b, v) for a, b, (k, v) in found if k == "hint"]
    scores: dict[str, float] = {}
    for intent in strong | {v for _, _, v in hints}:
        spans = [(a, b) for a, b, v in hints if v == intent]
        lone = sum(
            1
            for a, b in spans
            if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in spans)
        )
        scores[intent] = min(1.0, (1.0 if intent in strong else 0.0) + HINT_WEIGHT * lone)
    return scores


def _only(terms: tuple[str, ...], spans: list[tuple[int, int]], analyzer: Analyzer) -> bool:
    """Whether ``terms`` hold nothing but the phrases at ``spans`` and stopwords."""
    covered = {i for a, b in spans for i in range(a, b)}
    return all(i in covered or analyzer.is_stopword(t) for i, t in enumerate(terms))


def _common_terms(phrases: tuple[tuple[str, ...], ...], analyzer: Analyzer) -> frozenset[str]:
    """Content terms found in at least half of ``phrases``."""
    counts: dict[str, int] = defaultdict(int)
    for phrase in phrases:
        for t in set(phrase):
            if not analyzer.is_stopword(t):
                counts[t] += 1
    return frozenset(t for t, n in counts.items() if 2 * n >= len(phrases))
