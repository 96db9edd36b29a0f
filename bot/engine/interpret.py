"""Stage 3, interpret: what was recognised + the chat's context -> a :class:`Decision`.

Which records the message is about (named, referred back to, described, or the conversation's),
what it asks of them, whether it wants a stance (yes/no) or a reason, and what to do: answer,
compare, pick among several, give safety advice, decline, or reply to small talk. The decision
holds no text: composing the reply is the next stage's job.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from bot.context import Context
from bot.engine.names import NameIndex
from bot.engine.recognise import Ask, Form, How, Recognition, Ref
from bot.engine.retrieve import FactIndex, Query
from bot.engine.subjects import RELATING, Subjects
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase

# The constraint a pain, injury or medical condition leaves in a chat's context.
MEDICAL = "medical"


class Move(enum.Enum):
    """What the reply does."""

    ANSWER = "answer"  # answer about one record (lead fact, or a section, or an overview)
    COMPARE = "compare"  # two records side by side
    CHOOSE = "choose"  # pick among records in view ("which of them is easiest?")
    SAFETY = "safety"  # pain, injury, medical: cautions and a referral
    FOR_MUSCLE = "for muscle"  # exercises that work a muscle
    FOR_SITUATION = "for situation"  # what fits a stated situation, across records
    NOTED = "noted"  # a situation stated, nothing asked yet
    SUGGEST = "suggest"  # did you mean...?
    TALK = "talk"  # hello, thanks, help
    DECLINE = "decline"  # not covered
    DISTINCT = "distinct"  # a different exercise that shares a name with one of ours
    TELL_APART = "tell apart"  # ours, told apart from the one that shares its name


@dataclass(frozen=True)
class Decision:
    """What to reply, decided; the composer turns it into an answer."""

    move: Move
    recognition: Recognition
    context: Context
    records: tuple[str, ...] = ()
    query: Query | None = None
    stance: bool = False
    uncovered: str | None = None
    talk: str | None = None
    suggestions: tuple[str, ...] = ()
    carried_ask: Ask | None = None
    described: bool = False
    strengths: Mapping[str, float] = field(default_factory=dict)


class Interpreter:
    """Turns a recognition and a chat context into a decision."""

    def __init__(
        self, kb: KnowledgeBase, names: NameIndex, index: FactIndex, tuning: Tuning
    ) -> None:
        self.kb = kb
        self.names = names
        self.index = index
        self.tuning = tuning
        self.subjects = Subjects(kb, names, index, tuning)

    def decide(self, rec: Recognition, context: Context) -> Decision:
        """The decision for one message."""
        situations = _merge(context.constraints, rec.situations)
        if rec.safety:
            situations = _merge(situations, (MEDICAL,))
        context = replace(context, constraints=situations)
        picked = self._picked(rec, context)
        if picked is not None:
            return self._answer(rec, context, {picked: self.tuning.alias})
        if rec.small_talk:
            return Decision(Move.TALK, rec, context, talk=rec.small_talk)
        if rec.distinct is not None and not rec.uncovered:
            rid, _ = rec.distinct
            # "Is it the same as the banded barbell one?", "what IS a reverse squat then?":
            # about our record, with the other one told apart. Otherwise about the other one.
            about_ours = (
                Ask.COMPARISON in rec.asks or rec.form is Form.YES_NO or Ask.WHAT in rec.clear_asks
            )
            move = Move.TELL_APART if about_ours else Move.DISTINCT
            return Decision(
                move,
                rec,
                context,
                records=(rid,),
                strengths={rid: self.tuning.alias},
                stance=rec.form is Form.YES_NO,
            )
        if self._only_about_muscles(rec):
            # "How can I strengthen my hip flexors?": the exercises that work them.
            return Decision(Move.FOR_MUSCLE, rec, context, records=rec.muscle_records)
        if rec.uncovered and not rec.mentions and self._examples_in_view(rec, context):
            # "can I do that with pull-ups?" about negatives: the knowledge's own example.
            rec = replace(rec, uncovered=())
        strengths = self.subjects.records(rec, context)
        if rec.asked and not rec.named and self._foreign(rec):
            # "teach me the moonwalk" after talking about reverse squats: the thing asked
            # about is not in the knowledge base, whatever the conversation was about.
            word = next(
                w.read for t, w in zip(rec.topic, rec.topic_words, strict=True) if t == rec.asked
            )
            return Decision(Move.DECLINE, rec, context, uncovered=word)
        if rec.uncovered and not self._covered_beside(rec, strengths):
            return Decision(
                Move.DECLINE,
                rec,
                context,
                records=tuple(strengths),
                uncovered=rec.uncovered[0].name,
            )
        if rec.safety:
            return Decision(
                Move.SAFETY,
                rec,
                context,
                records=tuple(strengths)[:1],
                query=self.subjects.query(rec, context, strengths) if strengths else None,
                strengths=strengths,
            )
        if not strengths:
            return self._about_nothing_named(rec, context)
        both = Ref.ALL in rec.refs and not rec.named and rec.form is not Form.WHICH
        if len(strengths) >= 2 and (self._compares(rec) or self._relates(rec) or both):
            pair = tuple(strengths)[:2]
            # Topics that relate records ("squat vs. hip hinge") may hold the answer too.
            t = self.tuning
            topics = {r: t.partial for r, rec_ in self.kb.records.items() if rec_.kind == "topic"}
            return Decision(
                Move.COMPARE,
                rec,
                context,
                records=pair,
                query=self.subjects.query(
                    rec, context, {**topics, **dict.fromkeys(pair, t.alias)}
                ),
            )
        if len(strengths) >= 2 and rec.form is Form.WHICH:
            return Decision(
                Move.CHOOSE,
                rec,
                context,
                records=tuple(strengths),
                query=self.subjects.query(rec, context, strengths),
            )
        return self._answer(rec, context, strengths)

    # -- which records -------------------------------------------------------------------

    def _picked(self, rec: Recognition, context: Context) -> str | None:
        """A "did you mean" candidate picked by "yes" or "the second one"."""
        if not context.pending or rec.named:
            return None
        if rec.small_talk == "yes":
            return context.pending[0]
        if Ref.SECOND in rec.refs and len(context.pending) > 1:
            return context.pending[1]
        if Ref.FIRST in rec.refs:
            return context.pending[0]
        return None

    def _examples_in_view(self, rec: Recognition, context: Context) -> bool:
        """Whether every exercise named that we do not cover is one the record being discussed
        uses as an example ("negative pull-ups" in the negative-exercise topic)."""
        if not context.exercises:
            return False
        terms = rec.analysis.terms
        return all(
            context.exercises[0] in self.names.examples_of.get(terms[u.start : u.end], ())
            for u in rec.uncovered
        )

    def _covered_beside(self, rec: Recognition, strengths: Mapping[str, float]) -> bool:
        """Whether a record named in full stands beside the uncovered exercise as what to do
        instead of it ("can I do psoas marches instead of lunges?"). Asked about together in
        any other way ("how do I do a romanian deadlift, is it like the hinge?"), the message
        is about the exercise we do not cover."""
        named = [m for m in rec.mentions if m.how is How.ALIAS]
        if not named or Ask.ALTERNATIVES not in rec.clear_asks:
            return False
        return all(
            m.end <= u.start or m.start >= u.end for m in named for u in rec.uncovered
        ) and bool(strengths)

    def _only_about_muscles(self, rec: Recognition) -> bool:
        """Whether the message asks which exercises work a muscle and nothing else ("how can I
        strengthen my hip flexors?"; not "... do I still need to stretch them?")."""
        if (
            not (rec.muscle_records and rec.muscle_ask)
            or rec.mentions
            or rec.refs
            or rec.uncovered
        ):
            return False
        words = {t for t in rec.topic if t not in self.names.muscles.words}
        hinted = {t for t in words if t in rec.cue_terms or t in self.index.muscle_ask_words}
        return len(words - hinted) == 0

    def _foreign(self, rec: Recognition) -> bool:
        """Whether the word a message asks about is one the knowledge base never uses."""
        return rec.asked is not None and not self.index.knows(rec.asked)

    def _relates(self, rec: Recognition) -> bool:
        """Two records named in full with no other clear ask and a word relating them ("do
        deadlifts hit the glutes harder *than* back squats?", "squat *or* hinge"): the
        message is about how they relate. "Negative squats? I back squat 100 kg" is not."""
        named = [m for m in rec.mentions if m.how is How.ALIAS]
        if len({m.record for m in named}) < 2:
            return False
        if rec.clear_asks - {Ask.COMPARISON, Ask.MUSCLES, Ask.BENEFITS}:
            return False
        first, second = named[0], next(m for m in named if m.record != named[0].record)
        between = set(rec.analysis.terms[first.end : second.start])
        return bool(between & RELATING)

    def _compares(self, rec: Recognition) -> bool:
        weight = rec.asks.get(Ask.COMPARISON, 0.0)
        rivals = [
            w
            for a, w in rec.asks.items()
            if a not in (Ask.COMPARISON, Ask.WHAT, Ask.MUSCLES, Ask.BENEFITS) and w >= weight
        ]
        return weight >= 0.5 and not rivals

    # -- nothing named -------------------------------------------------------------------

    def _about_nothing_named(self, rec: Recognition, context: Context) -> Decision:
        """No record named or in view: a muscle, a situation, a part of a name, or the
        knowledge base as a whole. "Is it good for me?" with nothing said before refers to
        nothing: declined rather than guessed."""
        if rec.refs and not rec.mentions and len(rec.topic) < 2:
            return Decision(Move.DECLINE, rec, context)
        if rec.muscle_records and rec.muscle_ask:
            return Decision(Move.FOR_MUSCLE, rec, context, records=rec.muscle_records)
        if rec.situations and Ask.ALTERNATIVES in rec.asks:
            return Decision(Move.FOR_SITUATION, rec, context)
        if rec.situations and not rec.asks:
            return Decision(Move.NOTED, rec, context)
        partial = tuple(dict.fromkeys(m.record for m in rec.mentions if m.how is not How.ALIAS))
        if len(partial) > 1:
            return Decision(Move.SUGGEST, rec, context, suggestions=partial[:4])
        if 0 < len(rec.topic) <= 2:
            # "stretch", "hip": a word or two that several records' names use.
            named = tuple(self.names.named_with(rec.topic))
            if 2 <= len(named) <= 4:
                return Decision(Move.SUGGEST, rec, context, suggestions=named)
        found = self.subjects.found_by_words(rec, context)
        if found is not None:
            return self._answer(rec, context, {found: self.tuning.context})
        return Decision(Move.DECLINE, rec, context)

    def _answer(self, rec: Recognition, context: Context, strengths: dict[str, float]) -> Decision:
        if len(strengths) < 2 and Ask.COMPARISON in rec.asks:
            # "where should my shoulders be vs my hips?" with one exercise in view compares
            # no exercises: the comparison word is only a hint.
            asks = dict(rec.asks)
            asks[Ask.COMPARISON] = min(asks[Ask.COMPARISON], self.tuning.hint)
            rec = replace(rec, asks=asks)
        first = next(iter(strengths))
        if (
            rec.situations
            and first in rec.named
            and not rec.clear_asks
            and self._situation_ask(first, context) is Ask.STEPS
        ):
            # "I only have bands at home, can I still do the reverse squat?": the variant
            # that fits, not only the alternatives.
            asks = dict(rec.asks)
            asks[Ask.STEPS] = 1.0
            rec = replace(rec, asks=asks)
        if rec.situations and not rec.clear_asks and first in context.exercises:
            # "I don't have a gym though": what changes for the exercise at hand is the
            # variant to do, or what to do instead; for a topic ("my core is pretty weak
            # though" about hip flexors), what suits the situation among all exercises.
            if self.kb.records[first].kind == "topic" and rec.form is Form.OPEN:
                return Decision(Move.FOR_SITUATION, rec, context)
            rec = replace(rec, asks={self._situation_ask(first, context): 1.0})
        named_by = {m.record: m.how for m in rec.mentions}
        # Words that describe the record already being discussed ("how do I fix the counting
        # one" about negative squats) point within it, so they stay what is asked.
        described = not rec.refs and (
            named_by.get(first) is How.PARTIAL
            or (
                first not in named_by
                and first not in context.exercises[:1]
                and first == self.subjects.described(rec)
            )
        )
        query = self.subjects.query(
            rec, context, strengths, described_as=first if described else None
        )
        return Decision(
            Move.ANSWER,
            rec,
            context,
            records=tuple(strengths),
            query=query,
            stance=rec.form is Form.YES_NO,
            strengths=strengths,
            described=described,
        )

    def _situation_ask(self, rid: str, context: Context) -> Ask:
        """The section a newly stated situation changes for ``rid``: its steps when the
        situation picks another variant (bands at home), else its alternatives."""
        probe = Query(topic={}, records={rid: 1.0}, asks={}, situations=context.constraints)
        method = self.index.method_for(self.kb.records[rid], probe)
        return Ask.STEPS if method else Ask.ALTERNATIVES


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))
