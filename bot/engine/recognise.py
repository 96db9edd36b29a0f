"""Stage 2, recognise: an analysed text -> what it mentions.

Which records it names (by an alias, a distinctive part of one, or a generic word such as
"squat"), exercises it names that no record covers, the asks its cue phrases signal, its
question form (yes/no, why, how much...), back references ("it", "the other one"), stated
situations, safety words and small talk. No conversation context: interpreting what the
mentions mean in a chat is the next stage's job.
"""

from __future__ import annotations

import enum
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field

from bot.engine.amounts import amount_units
from bot.engine.analyse import Analysis, Analyzer, PhraseIndex, Spelling, Word
from bot.engine.names import DETERMINERS, How, Mention, NameIndex, Uncovered
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase
from bot.schema import DistinctFrom
from bot.text import words


class Ask(enum.StrEnum):
    """What a question asks for: a section of a record, or a comparison of two."""

    WHAT = "what"
    MUSCLES = "muscles"
    STEPS = "steps"
    CHECKLIST = "checklist"
    MISTAKES = "mistakes"
    CAUTIONS = "cautions"
    ALTERNATIVES = "alternatives"
    BENEFITS = "benefits"
    VARIATIONS = "variations"
    PROGRAMMING = "programming"
    COMPARISON = "comparison"


class Form(enum.Enum):
    """The grammatical form of a question, which shapes how its answer opens."""

    YES_NO = "yes/no"  # "do psoas marches need a cable machine?" -> Yes / No / It depends
    WHY = "why"  # "why does hinging spare the knees?" -> the reason
    AMOUNT = "amount"  # "how many seconds down?" -> the fact must state an amount
    WHICH = "which"  # "which is easier?" -> pick among the records in view
    OPEN = "open"  # what / how / anything else


class Ref(enum.Enum):
    """A reference back to the conversation."""

    IT = "it"  # it, that, those, them: what we were talking about
    OTHER = "other"  # the other one
    FIRST = "first"  # the first one
    SECOND = "second"  # the second one
    ALL = "all"  # both, all of them, which of them


@dataclass(frozen=True)
class Recognition:
    """Everything recognised in one text, before the conversation is taken into account.

    ``topic`` holds the terms that say what is asked about a record (names, stopwords and
    numbers removed); ``cue_terms`` those of them that only say which kind of answer is
    wanted ("checklist", "muscles"). ``asks`` holds each ask's evidence, 0..1.
    """

    analysis: Analysis
    mentions: tuple[Mention, ...]
    uncovered: tuple[Uncovered, ...]
    asks: dict[Ask, float]
    clear_asks: frozenset[Ask]
    form: Form
    refs: frozenset[Ref]
    situations: tuple[str, ...]
    safety: tuple[str, ...]
    small_talk: str | None
    correction: bool
    topic: tuple[str, ...]
    topic_words: tuple[Word, ...]
    cue_terms: frozenset[str]
    muscles: tuple[str, ...]
    muscle_records: tuple[str, ...]
    distinct: tuple[str, DistinctFrom] | None = None
    negated: bool = False
    understood: float = 1.0
    asked: str | None = None
    units: frozenset[str] = frozenset()
    # What the amounts the message itself states measure ("I back squat 100 kg", "every day").
    stated_units: frozenset[str] = frozenset()
    muscle_ask: bool = False
    described: tuple[tuple[str, float], ...] = field(default=())
    # The term positions of the part of the message that asks (all, when it cannot tell):
    # "whats the point of an asian squat, saw it mentioned w reverse squats" asks in its
    # first clause; "two things: the slow squat and the leg hold. whats the slow squat for"
    # in its last sentence.
    asking_at: frozenset[int] = frozenset()
    # It opens as a continuation of what was just asked ("what about ...", "and if ...").
    continues: bool = False
    # A pronoun in that part points back ("reverse squat, is *that* a squat variation?").
    points_back: bool = False
    # How the words before "one" describe records ("the *yoga* one", "the *foot grab* one").
    described_one: tuple[tuple[str, float], ...] = field(default=())

    @property
    def records(self) -> tuple[str, ...]:
        """Named records in order of appearance, without repeats."""
        return tuple(dict.fromkeys(m.record for m in self.mentions))

    @property
    def named(self) -> tuple[str, ...]:
        """Records named in full (not only by a generic word or part of a name)."""
        return tuple(dict.fromkeys(m.record for m in self.mentions if m.how is How.ALIAS))


# First words that make a question a yes/no question ("is it...", "do I need...").
_AUXILIARIES = frozenset(
    [
        "is",
        "are",
        "am",
        "do",
        "does",
        "did",
        "can",
        "could",
        "should",
        "would",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "has",
        "have",
        "had",
        "was",
        "were",
        "isnt",
        "arent",
        "dont",
        "doesnt",
        "didnt",
        "cant",
        "couldnt",
        "shouldnt",
        "wont",
        "wouldnt",
        "hasnt",
        "havent",
    ]
)
# Words that may come before the question itself ("so", "ok", "hey").
_LEAD_IN = frozenset(
    [
        "so",
        "ok",
        "okay",
        "and",
        "but",
        "also",
        "hey",
        "hi",
        "hmm",
        "um",
        "uh",
        "well",
        "wait",
        "quick",
        "question",
        "q",
        "lol",
        "yo",
        "right",
        "then",
        "sorry",
        "plus",
        "oh",
        "ah",
        "alright",
        "fine",
        "cool",
        "thanks",
    ]
)
_SUBJECTS = frozenset(
    ["i", "you", "it", "they", "we", "he", "she", "this", "that", "these", "those", "my", "your"]
)
_WH = frozenset(
    [
        "what",
        "which",
        "how",
        "why",
        "when",
        "where",
        "who",
        "whats",
        "hows",
        "whos",
        "whens",
        "wheres",
    ]
)
# Words that make a safety word about avoiding it ("so I don't get hurt", "avoid injury").
_PREVENTION = frozenset(
    [
        "dont",
        "not",
        "no",
        "never",
        "avoid",
        "avoiding",
        "prevent",
        "preventing",
        "without",
        "risk",
        "protect",
    ]
)
_NEGATIONS = frozenset(
    [
        "not",
        "no",
        "never",
        "dont",
        "doesnt",
        "cant",
        "cannot",
        "shouldnt",
        "isnt",
        "arent",
        "without",
    ]
)
_AMOUNT_PHRASES = (
    ("how", "many"),
    ("how", "much"),
    ("how", "long"),
    ("how", "often"),
    ("how", "heavy"),
    ("how", "slow"),
    ("how", "fast"),
    ("what", "weight"),
    ("what", "size"),
    ("what", "percentage"),
    ("what", "percent"),
    ("how", "frequently"),
)
_WHY_PHRASES = (
    ("why",),
    ("how", "come"),
    ("what", "causes"),
    ("whats", "causing"),
    ("what", "is", "causing"),
    ("whats", "behind"),
    ("what", "is", "behind"),
    ("whats", "the", "reason"),
    ("what", "is", "the", "reason"),
)
_WHICH_PHRASES = (
    ("which",),
    ("what", "is", "better"),
    ("whats", "better"),
    ("what", "is", "easier"),
)


class Recogniser:
    """Finds mentions, asks and cues in analysed text; built once per knowledge base."""

    def __init__(self, kb: KnowledgeBase, analyzer: Analyzer, tuning: Tuning) -> None:
        self.kb = kb
        self.analyzer = analyzer
        self.tuning = tuning
        self.names = NameIndex(kb, analyzer, tuning)
        an = analyzer
        lang = kb.language
        signals: list[tuple[tuple[str, ...], tuple[str, str]]] = []
        for kind, table in (("cue", lang.intents), ("hint", lang.intent_hints)):
            for intent, cues in table.items():
                signals.extend((p, (kind, intent)) for p in _phrases(an, cues))
        for situation in lang.situations:
            signals.extend((p, ("situation", situation.id)) for p in _phrases(an, situation.cues))
        for talk, cues in lang.small_talk.items():
            signals.extend((p, ("talk", talk)) for p in _phrases(an, cues))
        signals.extend((p, ("correction", "")) for p in _phrases(an, lang.corrections))
        signals.extend((p, ("ref", Ref.IT.value)) for p in _phrases(an, lang.pronouns))
        for ref, cues in lang.references.items():
            signals.extend((p, ("ref", ref)) for p in _phrases(an, cues))
        self.signals = PhraseIndex(signals)
        self.units = PhraseIndex(
            (p, unit) for unit, cues in lang.amounts.items() for p in _phrases(an, cues)
        )
        self.stop = frozenset(t for p in _phrases(an, lang.stopwords) for t in p)
        # Safety words are matched as written, not stemmed: "pulling my knees" is no "pulled
        # my hamstring", "replace my squats" no "hip replacement".
        self.safety = PhraseIndex((tuple(words(c)), c) for c in lang.safety_cues)
        # Cues of two or more content words also count in any order, with words between
        # ("my balance is pretty bad" for "bad balance").
        self._loose_situations = [
            (situation.id, frozenset(phrase))
            for situation in lang.situations
            for phrase in _phrases(an, situation.cues)
            if len(phrase) > 1 and not any(t in self.stop for t in phrase)
        ]
        self.distinct = {
            rid: tuple((d, _phrases(an, d.cues)) for d in r.distinct_from)
            for rid, r in kb.records.items()
            if r.distinct_from
        }

    def is_stopword(self, term: str) -> bool:
        """Whether ``term`` (a stem) carries no meaning for matching."""
        return term in self.stop

    def recognise(self, analysis: Analysis) -> Recognition:
        """Everything :class:`Recognition` holds, for one analysed text."""
        terms = analysis.terms
        mentions, uncovered = self.names.find(analysis, self.stop)
        found = self.signals.find(terms)
        kinds = {kind for _, _, (kind, _) in found}
        # Asks are read with each named record standing as "it", so one cue phrase covers
        # "what does it work" and "what does a reverse squat work".
        as_it, as_it_origin = self.names.as_it(
            terms, [m for m in mentions if m.how is not How.PARTIAL]
        )
        asks_found = [
            _what_of_something_else(as_it, f)
            for f in self.signals.find(as_it)
            if f[2][0] in ("cue", "hint") and not self._names_variation(as_it, f)
        ]
        asking_at = _asking_at(analysis)
        asks_found = _in_question(asks_found, analysis, as_it_origin)
        predicate = _predicate_at(analysis, mentions, min(asking_at, default=0))
        after = [j for j, i in enumerate(as_it_origin) if predicate is not None and i >= predicate]
        if after:
            # "is the reverse squat a squat variation?" asks what it is: the words after "a"
            # describe a kind of exercise, they do not ask for a section.
            at_it = after[0]
            asks_found = [
                (a, b, ("hint", v)) if a >= at_it and k == "cue" else (a, b, (k, v))
                for a, b, (k, v) in asks_found
            ]
            asks_found.append((at_it, at_it + 1, ("cue", Ask.WHAT.value)))
        # The words of the clear cue phrases found here ("how long", "checklist") say which
        # kind of answer is wanted; the same words elsewhere ("rest" without "day") do not.
        cue_at = {
            as_it_origin[j] for a, b, (k, _) in asks_found if k == "cue" for j in range(a, b)
        }
        # Words of a name beyond the record's own name ("banded", "cable") say which version
        # is meant, so they stay part of what is asked.
        named_at = {
            i
            for m in mentions
            if m.how is not How.PARTIAL  # a part of a name is weak: its words stay the subject
            for i in range(m.start, m.end)
            if terms[i] in self.names.name_terms[m.record]
            or terms[i] in self.names.generic
            or (m.how is How.QUALIFIED and terms[i] not in self.names.equipment)
        }
        # "the hinge with the kettlebell": the equipment in the named record's own name, said
        # apart from it, still names it (unless it picks one of the record's variants).
        own = {
            t
            for m in mentions
            if m.how is How.ALIAS
            for t in self.names.name_terms[m.record] & self.names.equipment
            if t not in self.names.method_terms[m.record]
        }
        named_at |= {i for i, t in enumerate(terms) if t in own}
        # Words of signal phrases ("no I meant", "the other one", "thanks") say how the
        # message relates to the conversation, not what it asks about; a stated situation's
        # words are the subject only when nothing else is asked ("ok for a beginner?").
        clear = any(k == "cue" for _, _, (k, _) in asks_found)
        signal_at = {
            i
            for a, b, (k, _) in found
            if k in ("correction", "ref", "talk") or (k == "situation" and clear)
            for i in range(a, b)
        }
        at = [
            i
            for i, t in enumerate(terms)
            if i not in named_at and i not in signal_at and t not in self.stop and not t.isdigit()
        ]
        topic = tuple(terms[i] for i in at)
        muscles = tuple(self.names.muscles.named_in(topic))
        refs = frozenset(
            Ref(v)
            for _, b, (k, v) in found
            if k == "ref" and not (v in _ORDINAL and self._determines(terms, b))
        )
        talk = [(a, b, v) for a, b, (k, v) in found if k == "talk"]
        # A unit word inside a name ("leg *holds*") measures nothing.
        units = [
            (a, b, u)
            for a, b, u in self.units.find(terms)
            if not any(m.start <= a and b <= m.end for m in mentions)
        ]
        unit_at = {i for a, b, _ in units for i in range(a, b)}
        form = _form(analysis)
        if form is Form.OPEN and units and all(i in unit_at for i in at):
            form = Form.AMOUNT  # "sets and reps?"
        asks = _ask_weights(asks_found, self.tuning)
        # Asked about muscles in words ("work", "strengthen", "which muscles"), not only by
        # naming one.
        muscle_ask = Ask.MUSCLES in asks
        if muscles and Ask.MUSCLES not in asks:
            asks[Ask.MUSCLES] = self.tuning.hint  # "does it hit my glutes or quads?"
        return Recognition(
            analysis=analysis,
            mentions=mentions,
            uncovered=uncovered,
            asks=asks,
            clear_asks=frozenset(Ask(v) for _, _, (k, v) in asks_found if k == "cue"),
            form=form,
            refs=refs,
            situations=self._situations(terms, found),
            safety=self._safety(analysis),
            small_talk=self._small_talk(terms, talk, mentions),
            correction="correction" in kinds,
            topic=topic,
            topic_words=tuple(analysis.word_at(i) for i in at),
            cue_terms=frozenset(terms[i] for i in at if i in cue_at),
            muscles=muscles,
            muscle_records=tuple(self.names.muscles.records_working(topic))
            if muscles and muscle_ask
            else (),
            distinct=self._distinct(terms, mentions),
            negated=any(w.read in _NEGATIONS for w in analysis.words),
            understood=self._understood(analysis),
            asked=_asked(analysis, at, self.stop)
            or _asked_after_cue(analysis.terms, asks_found, as_it_origin, at),
            units=frozenset(u for _, _, u in units),
            stated_units=self._stated_units(analysis),
            described_one=self._described_one(terms),
            asking_at=asking_at,
            continues=_continues(analysis),
            points_back=any(
                k == "ref" and v == Ref.IT.value and a in asking_at for a, _, (k, v) in found
            ),
            muscle_ask=muscle_ask,
            described=tuple(
                self.names.descriptions.describe(terms[i] for i in at if i not in cue_at)
            ),
        )

    def _described_one(self, terms: tuple[str, ...]) -> tuple[tuple[str, float], ...]:
        """How the words right before "one" ("the yoga one", "the foot grab one") describe
        records; "how long do I hold that one" describes nothing."""
        for i, term in enumerate(terms):
            if term not in _ONE:
                continue
            start = i
            while start > 0 and i - start < 2 and terms[start - 1] not in self.stop:
                start -= 1
            if start < i:
                everything = self.names.kb.records
                return tuple(self.names.descriptions.describe(terms[start:i], among=everything))
        return ()

    def _determines(self, terms: tuple[str, ...], end: int) -> bool:
        """Whether a back-reference phrase ending at ``end`` is only a determiner of the noun
        after it ("the other leg", "the first set"), not a pointer to an exercise ("the other
        one", "the other backwards one")."""
        if end >= len(terms) or terms[end] in self.stop:
            return False
        return not any(t in _ONE for t in terms[end : end + 3])

    def _stated_units(self, analysis: Analysis) -> frozenset[str]:
        """What the amounts stated in the clause that asks measure ("so do I just put 70
        on?" states a number; "will negatives help, been stuck at 100 kg" asks about none)."""
        read = [w.read for w in analysis.words]
        heads = [
            j
            for j in range(len(read))
            if read[j] in _AUXILIARIES
            and (j == 0 or (j + 1 < len(read) and read[j + 1] in _SUBJECTS))
        ]
        if not heads or not analysis.clause:
            return frozenset()
        clause = analysis.clause[heads[0]]
        terms = tuple(
            t
            for i, t in enumerate(analysis.terms)
            if analysis.clause[analysis.origin[i]] == clause
        )
        stated = amount_units(self.units, terms)
        if not stated and any(t.isdigit() for t in terms):
            return frozenset({"number"})
        return stated

    def _names_variation(
        self, terms: tuple[str, ...], found: tuple[int, int, tuple[str, str]]
    ) -> bool:
        """Whether a variation word says which variation, not that variations are asked for:
        "the barbell version", "that band variant" (but "harder versions?" asks)."""
        start, end, (_, ask) = found
        return (
            ask == Ask.VARIATIONS.value
            and end - start == 1
            and start >= 2
            and terms[start - 1] not in self.stop
            and terms[start - 2] in DETERMINERS
        )

    def _safety(self, analysis: Analysis) -> tuple[str, ...]:
        """Safety words as written, except where the message is about preventing them ("so I
        don't get hurt", "to avoid injury"): that asks for cautions, not a referral."""
        written = [w.written for w in analysis.words]
        found = []
        for start, _, cue in self.safety.find(written):
            before = {w.read for w in analysis.words[max(0, start - 3) : start]}
            if not before & _PREVENTION:
                found.append(cue)
        return tuple(found)

    def _small_talk(
        self,
        terms: tuple[str, ...],
        talk: list[tuple[int, int, str]],
        mentions: tuple[Mention, ...],
    ) -> str | None:
        """What a message that is only small talk ("hi", "thanks!") stands for."""
        if not talk or mentions:
            return None
        covered = {i for a, b, _ in talk for i in range(a, b)}
        if not all(i in covered or t in self.stop for i, t in enumerate(terms)):
            return None
        return max(talk, key=lambda abv: abv[1] - abv[0])[2]

    def _situations(
        self, terms: tuple[str, ...], found: list[tuple[int, int, tuple[str, str]]]
    ) -> tuple[str, ...]:
        """Situations stated by a cue phrase, or by all the words of a several-word cue in any
        order ("my core is pretty weak")."""
        stated = [v for _, _, (k, v) in found if k == "situation"]
        present = set(terms)
        stated.extend(sid for sid, loose in self._loose_situations if loose <= present)
        return tuple(dict.fromkeys(stated))

    def _distinct(
        self, terms: tuple[str, ...], mentions: tuple[Mention, ...]
    ) -> tuple[str, DistinctFrom] | None:
        for m in mentions:
            for item, cues in self.distinct.get(m.record, ()):
                if any(_contains(terms, p) for p in cues):
                    return m.record, item
        return None

    def _understood(self, analysis: Analysis) -> float:
        """The share of the text's words that are known (to the knowledge base or English)."""
        if not analysis.words:
            return 1.0
        known = sum(1 for w in analysis.words if w.spelling is not Spelling.UNKNOWN)
        return known / len(analysis.words)


def _phrases(analyzer: Analyzer, items: Iterable[str]) -> tuple[tuple[str, ...], ...]:
    return tuple(t for t in (analyzer.terms(i) for i in items) if t)


def _contains(terms: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    n = len(phrase)
    return any(terms[i : i + n] == phrase for i in range(len(terms) - n + 1))


def _what_of_something_else(
    terms: tuple[str, ...], found: tuple[int, int, tuple[str, str]]
) -> tuple[int, int, tuple[str, str]]:
    """ "What is / what are" asks what an exercise is only when the exercise follows ("what
    are negative squats", "what is it"); before something else ("what are the stabiliser
    muscles") it only hints."""
    start, end, (kind, ask) = found
    if kind != "cue" or ask != Ask.WHAT.value or terms[end - 1] not in ("is", "are"):
        return found
    after = [t for t in terms[end:] if t not in DETERMINERS]
    if not after or after[0] in _PRONOUNS:
        return found
    return start, end, ("hint", ask)


def _in_question(
    asks_found: list[tuple[int, int, tuple[str, str]]],
    analysis: Analysis,
    origin: tuple[int, ...],
) -> list[tuple[int, int, tuple[str, str]]]:
    """The asks found, less the hints in what the person tells before the question ("I
    work from home and sit all day. why should I care about my hip flexors?": "work" asks
    nothing); a clear request there still asks ("form checklist for the hinge: where do my
    shoulders go")."""
    if not analysis.asking:
        return asks_found
    if "?" not in analysis.text:
        # Without a question mark the last sentence asks only if it reads as a question
        # ("... why should I care"), not as a closing remark ("hinge muscles pls. cheers").
        opening = [
            w.read
            for j, w in enumerate(analysis.words)
            if analysis.sentence[j] == analysis.asking and w.read not in _LEAD_IN
        ][:1]
        if not opening or (opening[0] not in _WH and opening[0] not in _AUXILIARIES):
            return asks_found
    return [
        f
        for f in asks_found
        if f[2][0] == "cue"
        or any(
            analysis.sentence[analysis.origin[origin[j]]] >= analysis.asking
            for j in range(f[0], f[1])
        )
    ]


def _ask_weights(
    found: list[tuple[int, int, tuple[str, str]]], tuning: Tuning
) -> dict[Ask, float]:
    """Ask -> 0..1: a clear cue phrase is decisive; each hint leans by ``tuning.hint``,
    counted once even inside a longer hint ("make it easier" is not also "easier")."""
    strong = {v for _, _, (k, v) in found if k == "cue"}
    hints = [(a, b, v) for a, b, (k, v) in found if k == "hint"]
    scores: dict[Ask, float] = {}
    # In the order the message says them: ties between asks break the same way every run.
    for intent in dict.fromkeys(v for _, _, (k, v) in found if k in ("cue", "hint")):
        spans = list(dict.fromkeys((a, b) for a, b, v in hints if v == intent))
        lone = sum(
            1
            for a, b in spans
            if not any(c <= a and b <= d and (c, d) != (a, b) for c, d in spans)
        )
        base = 1.0 if intent in strong else 0.0
        scores[Ask(intent)] = min(1.0, base + tuning.hint * lone)
    return scores


def _form(analysis: Analysis) -> Form:
    """The question's form, read from its words as spelled right, hedges left out ("what's
    usually behind that"); from the sentence that asks on, when one ends in a question mark
    ("my squat is stuck. would negatives sort it out?")."""
    asked = (
        frozenset(j for j, n in enumerate(analysis.sentence) if n >= analysis.asking)
        if "?" in analysis.text and len(set(analysis.sentence)) > 1
        else None
    )
    read = [
        w.read
        for i, w in enumerate(analysis.words)
        if i not in analysis.hedges and (asked is None or i in asked)
    ]
    grams = _ngrams(read)
    start = 0
    while start < len(read) and read[start] in _LEAD_IN:
        start += 1
    head = read[start:]
    if grams.intersection(_WHY_PHRASES):
        return Form.WHY
    if grams.intersection(_AMOUNT_PHRASES):
        return Form.AMOUNT
    if head and head[0] in _AUXILIARIES and not _WH.intersection(head[:2]):
        return Form.YES_NO
    if not _WH.intersection(read) and any(
        a in _AUXILIARIES and b in _SUBJECTS for a, b in itertools.pairwise(read)
    ):
        return Form.YES_NO  # "if I want bigger glutes, should I stop squatting?"
    if grams.intersection(_WHICH_PHRASES):
        return Form.WHICH
    if (read and read[-1] in _CHECKING) or ("or", "not") in grams:
        return Form.YES_NO
    if "same" in read and not _WH.intersection(read):
        return Form.YES_NO  # "negative squat = eccentric squat? same thing?"
    return Form.OPEN


# Words that may stand between "what"/"which" and the thing asked for ("what's a *decent*
# weight", "which *long term* goal"): determiners and evaluative adjectives, as stems.
_BEFORE_HEAD = frozenset(
    {
        "the",
        "a",
        "an",
        "best",
        "good",
        "right",
        "ideal",
        "decent",
        "proper",
        "reason",
        "normal",
        "typic",
        "realist",
        "sensibl",
        "safe",
        "recommend",
        "optim",
        "averag",
        "usual",
        "max",
        "maximum",
        "minimum",
        "start",
        "long",
        "term",
        "short",
        "general",
        "rough",
        # Superlatives and judgements head no thing of their own ("what's the worst that can
        # happen", "what's the most common mistake").
        "worst",
        "wors",
        "bad",
        "biggest",
        "easiest",
        "hardest",
        "common",
        "main",
        "most",
    }
)
_AFTER_NOUN = frozenset(
    [
        "of",
        "is",
        "are",
        "do",
        "does",
        "should",
        "would",
        "will",
        "can",
        "could",
        "for",
        "to",
        "i",
        "you",
        "should",
    ]
)
# Where a question names the thing it asks for, and how many words later that can come:
# "what *brand*", "how many *calories*", "how much does it *cost*".
_ASKED_AFTER = (
    (("what",), 1),
    (("whats",), 1),
    (("which",), 1),
    (("how", "many"), 3),
    (("how", "much"), 3),
    (("what", "kind", "of"), 1),
    (("what", "type", "of"), 1),
    (("what", "sort", "of"), 1),
)


def _asked_after_cue(
    terms: tuple[str, ...],
    asks_found: list[tuple[int, int, tuple[str, str]]],
    origin: tuple[int, ...],
    topic_at: list[int],
) -> str | None:
    """The topic word right after a clear ask, past a determiner ("teach me the *moonwalk*",
    "how to do a *handstand*"): what the ask is about, when no record is named there."""
    topic = set(topic_at)
    for _, b, (kind, ask) in asks_found:
        if kind != "cue" or ask not in ("steps", "checklist"):
            continue
        for j in range(b, min(b + 2, len(origin))):
            i = origin[j]
            if i in topic:
                return terms[i]
            if terms[i] not in _BEFORE_HEAD:
                break
    return None


def _asked(analysis: Analysis, topic_at: list[int], stop: frozenset[str]) -> str | None:
    """The term a wh-question asks for: the first word that means something right after
    "what", "which", "how many", "how much" ("how many *calories*", "what *brand*", "how much
    does it *cost*"), when that word is part of the topic (not a record's name)."""
    read = [w.read for w in analysis.words]
    topic = set(topic_at)
    for phrase, reach in _ASKED_AFTER:
        n = len(phrase)
        for i in range(len(read) - n + 1):
            if tuple(read[i : i + n]) != phrase:
                continue
            after = [t for t, o in enumerate(analysis.origin) if i + n <= o < i + n + 3]
            if reach == 1:
                # Right after "what"/"which": the thing itself ("which *brand*"), past a
                # determiner or "best" at most; "which one hits..." names nothing. After
                # "which", a noun is followed by a verb or "of" ("which brand is best",
                # "which size of band"); "which hits quads harder" has a verb there.
                after = [t for t in after if analysis.terms[t] not in _BEFORE_HEAD][:1]
                if phrase == ("which",) and after:
                    o = analysis.origin[after[0]] + 1
                    if o < len(read) and read[o] not in _AFTER_NOUN:
                        after = []
                content = after
            else:
                content = [t for t in after if t in topic or analysis.terms[t] not in stop]
            for t in content[:reach]:
                if t in topic:
                    return analysis.terms[t]
    return None


def _ngrams(words_: list[str], longest: int = 3) -> set[tuple[str, ...]]:
    """Every run of one to ``longest`` consecutive words."""
    return {
        tuple(words_[i : i + n]) for n in range(1, longest + 1) for i in range(len(words_) - n + 1)
    }


# Words that stand for an exercise ("the other backwards *one*", "the yoga *thing*").
_ONE = frozenset({"one", "thing", "exercis", "move", "movement"})
# References that may only pick a noun ("the other leg", "the first set").
_ORDINAL = frozenset({"other", "first", "second"})


def _asking_at(analysis: Analysis) -> frozenset[int]:
    """The term positions of the clause that asks: in the sentence that asks, the first clause
    that opens with a question word ("whats", "how", "is", "can"), else the whole sentence."""
    if not analysis.sentence:
        return frozenset(range(len(analysis.terms)))
    read = [w.read for w in analysis.words]
    words = [j for j in range(len(read)) if analysis.sentence[j] == analysis.asking]
    clauses = sorted({analysis.clause[j] for j in words})
    chosen = set(words)
    if len(clauses) > 1:
        for clause in clauses:
            inside = [j for j in words if analysis.clause[j] == clause]
            head = [j for j in inside if read[j] not in _LEAD_IN][:1]
            if head and (read[head[0]] in _WH or read[head[0]] in _AUXILIARIES):
                chosen = set(inside)
                break
    return frozenset(i for i, j in enumerate(analysis.origin) if j in chosen)


# How a message that carries on with the last question opens.
_CONTINUING = (("what", "about"), ("how", "about"), ("what", "if"), ("and", "if"), ("and", "for"))


def _continues(analysis: Analysis) -> bool:
    """Whether the message opens as a continuation ("what about as strength work", "and if
    I want it for strength instead")."""
    read = tuple(w.read for w in analysis.words[:3])
    if read[:1] in (("and",), ("or",)):
        return True  # "and coming back up?"
    return any(read[i : i + 2] == pair for pair in _CONTINUING for i in (0, 1))


def _predicate_at(analysis: Analysis, mentions: tuple[Mention, ...], start: int) -> int | None:
    """Where the predicate of an identity question starts: "is <exercise> a ..." ("is the
    reverse squat a squat variation?", "reverse squat, is that a squat variation?"), else
    None. ``start``: where the clause that asks begins."""
    terms = analysis.terms
    i = start
    while i < len(terms) and analysis.word_at(i).read in _LEAD_IN:
        i += 1
    first = next((m for m in mentions if m.start == i), None)
    if first is not None and terms[first.end : first.end + 2] in (("is", "a"), ("is", "an")):
        return first.end + 1  # "deadlift counts as a hip hinge, yeah?"
    if i >= len(terms) or terms[i] not in ("is", "are"):
        return None
    i += 1
    if i < len(terms) and terms[i] in _PRONOUNS and terms[i + 1 : i + 2] in (("a",), ("an",)):
        return i + 1  # "is that a squat variation?"
    while i < len(terms) and terms[i] in DETERMINERS:
        i += 1
    named = next((m for m in mentions if m.start == i), None)
    if named is None:
        return None
    end = named.end
    return end if end < len(terms) and terms[end] in ("a", "an") else None


# Words that stand for the exercise being discussed.
_PRONOUNS = frozenset({"it", "they", "them", "those", "these", "that", "this"})


# Last words that make a statement a question to confirm ("..., right?", "..., yeah?").
_CHECKING = frozenset({"right", "yes", "yeah", "yea", "yep", "correct", "innit", "no"})
