"""Which records a message is about: named, referred back to, described, the conversation's, or
found by its words; and the retrieval query built from it. Part of the interpret stage."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from bot.context import Context
from bot.engine.analyse import Spelling, Word
from bot.engine.names import NameIndex
from bot.engine.recognise import Ask, Form, How, Recognition, Ref
from bot.engine.retrieve import FactIndex, Query
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase

_ASK_VALUES = frozenset(a.value for a in Ask)
# Words that relate two named records: "X vs Y", "X or Y", "harder than".
RELATING = frozenset({"vs", "or", "than", "and", "like", "compar", "versus", "from", "same", "to"})


class Subjects:
    """Works out which records a message is about, and what retrieval should rank."""

    def __init__(
        self, kb: KnowledgeBase, names: NameIndex, index: FactIndex, tuning: Tuning
    ) -> None:
        self.kb = kb
        self.names = names
        self.index = index
        self.tuning = tuning
        self._topics = tuple(rid for rid, r in kb.records.items() if r.kind == "topic")

    def records(self, rec: Recognition, context: Context) -> dict[str, float]:
        """How surely each record is meant, strongest first; empty when none is."""
        t = self.tuning
        strengths: dict[str, float] = {}
        # A record named in the sentence that asks is what it asks about; those named around it
        # only set the scene ("two things: the slow squat and the leg hold. what's the slow
        # squat for"), unless the message compares them.
        mentions = list(rec.mentions)
        asking = [m for m in mentions if m.start in rec.asking_at]
        # "reverse squat, is that a squat variation?": "that" points back at what was named.
        if asking and Ask.COMPARISON not in rec.asks and not rec.points_back:
            mentions = asking
        for m in mentions:
            # Of several records named, the first is what the message is about ("weight for
            # negative squats? I back squat 100 kg"): each later one counts a little less.
            strength = m.strength * t.later_name ** len(strengths)
            strengths[m.record] = max(strengths.get(m.record, 0.0), strength)
        if rec.correction and not rec.named:
            # "No, I meant the lying one with the cable": the record its description fits.
            fits = [(r, v) for r, v in rec.described if r not in context.exercises]
            if fits and fits[0][1] >= t.described_fit:
                return {fits[0][0]: t.context}
        among = None if rec.named else self._described_among(rec, context)
        if among is not None:
            # "the yoga one you mentioned, what's different about it": of the records just
            # discussed or offered, the one the words describe.
            return {among: t.context}
        referred = self._referred(rec, context)
        if rec.named:
            if referred and (rec.form is Form.WHICH or Ask.COMPARISON in rec.asks):
                # "is that easier than reverse squats?": the record at hand against the one named
                for rid in referred:
                    strengths.setdefault(rid, t.context)
            for rid in self._topics_between(rec):
                strengths.setdefault(rid, t.context)
            if all(self.kb.records[r].kind == "topic" for r in rec.named):
                # A topic is broad ("negative reps"): an exercise whose facts fit the words
                # better ("I lose count on my negative reps") may be what is meant, and so may
                # the exercises its article discusses ("a checklist for negatives").
                found = self.found_by_words(rec, context)
                if found is not None:
                    strengths.setdefault(found, t.context)
                self._topic_exercises(rec, context, rec.named, strengths)
            return ordered(strengths)
        if referred:
            for rid in referred:
                strengths[rid] = max(strengths.get(rid, 0.0), t.context)
            # "where do they go in the workout" about negatives: the negative squat's answer.
            self._topic_exercises(rec, context, referred, strengths)
            return ordered(strengths)
        if rec.form is Form.WHICH and len(context.exercises) > 1 and not strengths:
            # "which one would help my sprinting?" after two were compared
            return dict.fromkeys(context.exercises, t.context)
        described = self.described(rec)
        if described and (not strengths or max(strengths.values()) < t.context):
            # A generic or partial name ("squat") and words that describe one record far
            # better ("squats where you lower slowly"): the description settles it.
            strengths[described] = max(strengths.get(described, 0.0), t.context)
        if context.exercises and self._follows_up(rec):
            # The conversation's record competes with a generic or partial name, and with a
            # record whose facts the message's words fit ("how often should I train these?"
            # may be answered by the rest-day topic).
            current = context.exercises[0]
            strengths.setdefault(current, t.context)
            found = self.found_by_words(rec, context)
            # ...unless the conversation's record covers the words as well ("I keep tipping
            # forward" about the leg hold is not about the squat that also tips forward).
            if found is not None and self._covers(rec, context, current) < self._covers(
                rec, context, found
            ):
                strengths.setdefault(found, t.context * t.later_name)
        elif strengths and max(strengths.values()) < t.context:
            # Only a generic word ("squats every day"): a record whose facts cover the
            # question far better competes with it, if it is a topic (rest days) or a kind of
            # what was named (a squat), not some other exercise whose words happen to fit.
            found = self.found_by_words(rec, context)
            if found is not None and _kind_of(self.kb, self.names, found, rec):
                strengths.setdefault(found, t.context)
        return ordered(strengths)

    def _topics_between(self, rec: Recognition) -> list[str]:
        """Topics that relate the records named ("squats and hinges" -> squat vs. hip hinge)
        or that the message's words name beside one of them ("strengthening with reverse
        squats, do I still need to stretch?" -> hip flexor stretching)."""
        named = set(rec.named)
        words = set(rec.topic)
        found = []
        for rid in self._topics:
            if rid in named:
                continue
            record = self.kb.records[rid]
            links = named & {
                *record.related,
                *(r for r in named if rid in self.kb.records[r].related),
            }
            own = (
                self.names.name_terms[rid]
                - {t for r in named for t in self.names.name_terms[r]}
                - self.names.muscles.words
                - RELATING
            )
            if len(links) >= 2 or (links and own & words):
                found.append(rid)
        return found

    def _referred(self, rec: Recognition, context: Context) -> tuple[str, ...]:
        """The records a back reference points at ("it", "the other one", "both of them")."""
        if not rec.refs or not context.exercises:
            return ()
        shown = context.listed or context.exercises
        if Ref.OTHER in rec.refs:
            if len(context.exercises) > 1:
                return (context.exercises[1],)
            # The records in view, and those a topic in view relates ("squat vs. hip hinge",
            # then "the other one" after the hinge: the squat).
            seen = (*shown, *context.recent)
            related = [
                r
                for t in seen
                for r in self.kb.records[t].related
                if t in self.kb.records and self.kb.records[t].kind == "topic"
            ]
            others = list(
                dict.fromkeys(r for r in (*seen, *related) if r not in context.exercises[:1])
            )
            described = self.names.descriptions.describe(rec.topic, among=others) if others else []
            if described:
                return (described[0][0],)  # "the other one with dumbbells"
            return tuple(others[:1])
        if Ref.SECOND in rec.refs and len(shown) > 1:
            return (shown[1],)
        if Ref.FIRST in rec.refs:
            return shown[:1]
        if Ref.ALL in rec.refs and len(context.exercises) > 1:
            return context.exercises
        if Ref.ALL in rec.refs and len(context.recent) > 1:
            return context.recent
        if rec.named:
            return context.exercises[:1]
        return context.exercises[:1] if rec.form is not Form.WHICH else context.exercises

    def described(self, rec: Recognition) -> str | None:
        """The record the message's words describe clearly better than any other."""
        t = self.tuning
        # "that yoga one where you tip forward ...": the words that say which one were chosen
        # to tell it apart, so fitting one record clearly better than the rest is enough.
        for described, least in ((rec.described_one, 0.0), (rec.described, t.described_fit)):
            if described:
                best, fit = described[0]
                runner_up = described[1][1] if len(described) > 1 else 0.0
                if fit >= least and fit - runner_up >= t.described_margin:
                    return best
        return None

    def _described_among(self, rec: Recognition, context: Context) -> str | None:
        """The one of the records recently discussed or offered that the message's words
        describe clearly better than the others ("the yoga one", "the foot grab one")."""
        t = self.tuning
        if len(context.recent) < 2:
            return None
        words = [t for t in rec.topic if t not in rec.cue_terms]
        if rec.form is Form.AMOUNT:
            # "how many seconds do I hold that one": what is measured describes no exercise.
            words = [t for t in words if not self.index.is_unit(t)]
        fits = self.names.descriptions.describe(words, among=context.recent)
        if not fits or fits[0][0] in context.exercises[:1] or fits[0][1] < t.described_fit / 2:
            return None
        runner_up = fits[1][1] if len(fits) > 1 else 0.0
        if fits[0][1] - runner_up < t.described_margin:
            return None
        return fits[0][0]

    def _follows_up(self, rec: Recognition) -> bool:
        """Whether a message naming no record continues the conversation: it asks something
        (a cue phrase, a question word) or uses words the knowledge base knows; a bare "why?"
        or "which is better then?" can mean nothing else."""
        if rec.refs or rec.asks or rec.correction:
            return True
        if not rec.topic and rec.form is not Form.OPEN:
            return True
        known = [t for t in rec.topic if self.index.knows(t)]
        return bool(known) and len(known) * 3 >= len(rec.topic)

    def _topic_exercises(
        self,
        rec: Recognition,
        context: Context,
        records: Iterable[str],
        strengths: dict[str, float],
    ) -> None:
        """Add the exercises a topic's article relates it to when the topic's own points do
        not answer ("a checklist for negatives", "how long down on negatives?")."""
        if rec.form is Form.WHICH or Ask.COMPARISON in rec.asks:
            return
        for rid in records:
            topic = self.kb.records[rid]
            if topic.kind != "topic" or self._topic_answers(rec, context, rid):
                continue
            for other in topic.related:
                if self.kb.records[other].source == topic.source:
                    strengths.setdefault(other, self.tuning.partial)

    def _covers(self, rec: Recognition, context: Context, rid: str) -> float:
        """The largest share of the question's topic one fact of record ``rid`` covers."""
        ranked = self.index.rank(self.query(rec, context, {rid: self.tuning.alias}), limit=1)
        return ranked[0].covers if ranked else 0.0

    def _topic_answers(self, rec: Recognition, context: Context, rid: str) -> bool:
        """Whether a topic's own points cover the question: a fact covering its words, or
        no words to cover and no ask for a section a topic lacks."""
        query = self.query(rec, context, {rid: self.tuning.alias})
        if not query.subject:
            return not rec.clear_asks
        ranked = self.index.rank(query, limit=1)
        return bool(ranked) and ranked[0].covers >= self.tuning.answers

    def found_by_words(self, rec: Recognition, context: Context) -> str | None:
        """The record a question naming none still clearly means: one fact covers most of
        its topic."""
        query = self.query(rec, context, dict.fromkeys(self.kb.records, 0.0))
        # Words that only measure ("sets", "reps") or only ask ("checklist") point nowhere.
        content = {t: w for t, w in query.subject.items() if not self.index.is_unit(t)}
        if not content:
            return None
        best = self.index.best_anywhere(query)
        if best is None or best.covers < self.tuning.global_answers:
            return None
        if best.covers * sum(query.topic.values()) < self.tuning.global_evidence:
            return None  # one common word ("times") is chance, not a topic
        return best.fact.record

    # -- the query -----------------------------------------------------------------------

    def query(
        self,
        rec: Recognition,
        context: Context,
        strengths: Mapping[str, float],
        described_as: str | None = None,
    ) -> Query:
        """What retrieval ranks by: the topic words with their weights, the asks, the records.

        Words that described a record found by its description ("lie on your back, knees to
        chest") have named it; what is left of the message is what it asks."""
        pairs = list(zip(rec.topic, rec.topic_words, strict=True))
        # Words of a named record's own name said again elsewhere ("the hinge with the
        # kettlebell"), and words that described the record found by its description ("lie
        # on your back, knees to chest"), name it again: they weigh like cue words.
        renamed = frozenset(
            t for m in rec.mentions if m.how is How.ALIAS for t in self.names.name_terms[m.record]
        )
        if described_as is not None:
            renamed |= self.names.descriptions.description_terms(described_as)
        weights = self.index.weights(pairs, rec.cue_terms | renamed)
        exclude: frozenset[tuple[str, str, int, int]] = frozenset()
        lead = context.lead
        if not weights and rec.form is Form.WHY and lead is not None and lead[0] in strengths:
            # A bare "why?" asks for the reason behind the last answer: the facts that share
            # the most with it, explanations first, the fact itself left out.
            weights = self.index.about_fact(lead)
            exclude = frozenset({lead})
        elif not weights and rec.form is Form.YES_NO and context.said and (rec.named or rec.refs):
            # "my squat has been stuck for 3 months" then "would negative squats help?": help
            # with what the person just said.
            said = ((t, Word(t, t, Spelling.KNOWN)) for t in context.said)
            weights = self.index.weights(said, frozenset())
        asks = rec.asks
        amount = rec.form is Form.AMOUNT or (rec.form is Form.YES_NO and bool(rec.stated_units))
        units = rec.units
        carried = False
        if rec.continues and not rec.clear_asks and context.intent in _ASK_VALUES:
            # "what about as strength work after my main lifts": the last ask still holds,
            # and so does what it measured ("how long down?" then "and coming back up?").
            asks = {**asks, Ask(context.intent): 1.0}
            if context.measured and not units and rec.form is Form.OPEN:
                amount, units, carried = True, frozenset(context.measured), True
        return Query(
            topic=weights,
            records=strengths,
            asks=asks,
            situations=context.constraints,
            # A yes/no question that states an amount asks whether it is right ("can I do it
            # every day?", "so do I just put 70 kg on?").
            amount=amount,
            carried_amount=carried,
            yes_no=rec.form is Form.YES_NO,
            why=rec.form is Form.WHY,
            units=units,
            cues=rec.cue_terms,
            exclude=exclude,
        )


def _kind_of(kb: KnowledgeBase, names: NameIndex, rid: str, rec: Recognition) -> bool:
    """Whether ``rid`` is a topic, or one of its names holds a word of a generic name the
    message used ("negative squat" for "squat")."""
    if kb.records[rid].kind == "topic":
        return True
    said = {
        t
        for m in rec.mentions
        if m.how is How.GENERIC
        for t in rec.analysis.terms[m.start : m.end]
    }
    return any(rid in names.records_using.get(t, ()) for t in said)


def ordered(strengths: Mapping[str, float]) -> dict[str, float]:
    """Strengths, strongest first."""
    return dict(sorted(strengths.items(), key=lambda kv: -kv[1]))
