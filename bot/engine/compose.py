"""Stage 5, compose: a decision + ranked facts -> an :class:`~bot.answers.Answer`.

An answer leads with what answers the question: a stance for a yes/no question, the fact that
covers the question, or the section asked for; the section the fact belongs to follows. When
the knowledge base lacks what is asked, the reply says so (``answered`` is false) and shows
what it does know about the record instead. Nothing here decides which records or asks: that
was the interpret stage.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from bot.answers import Answer, Block, Choice
from bot.context import Context
from bot.engine.cards import Card, Cards
from bot.engine.facts import FOLLOW_UP_ORDER, Fact, Kind, Section
from bot.engine.interpret import MEDICAL, Decision
from bot.engine.recognise import Ask, Form
from bot.engine.replies import Replies, fit
from bot.engine.retrieve import FactIndex, Query, Ranked
from bot.engine.tuning import Tuning
from bot.knowledge import KnowledgeBase
from bot.schema import Record

STANCES = {"yes": "Yes.", "no": "No.", "depends": "It depends."}
_ASKS = frozenset(a.value for a in Ask)


@dataclass(frozen=True)
class Composed:
    """An answer and the chat context to keep for the next message."""

    answer: Answer
    context: Context


class Composer:
    """Writes answers about records from their facts."""

    def __init__(
        self,
        kb: KnowledgeBase,
        index: FactIndex,
        cards: Cards,
        replies: Replies,
        tuning: Tuning,
    ) -> None:
        self.kb = kb
        self.index = index
        self.cards = cards
        self.replies = replies
        self.tuning = tuning

    # -- one record ----------------------------------------------------------------------

    def answer(self, d: Decision) -> Composed:
        """The answer about the decision's first record. An amount carried over from the last
        question ("and coming back up?" after "how long down?") is tried first; if nothing
        states it, the message is answered as it reads ("and later on when it gets easy?")."""
        assert d.query is not None
        if d.query.carried_amount:
            composed = self._answer(d)
            if composed.answer.answered:
                return composed
            d = replace(
                d,
                query=replace(d.query, amount=False, units=frozenset(), carried_amount=False),
            )
        return self._answer(d)

    def _answer(self, d: Decision) -> Composed:
        """The answer about the decision's first record.

        Nothing specific asked beyond an ask ("checklist", "how do I do it"): that section,
        or an overview. Something specific asked: the fact that covers it leads. The question
        asks what the knowledge base does not hold (its words are unknown to it, or no fact
        states the amount asked for): say so, with what it does hold."""
        assert d.query is not None
        query = d.query
        ranked = self.index.rank(query)
        record = self.kb.records[d.records[0]]
        ask = _top_ask(query)
        if ask is None and d.context.intent in _ASKS and d.records[0] not in d.context.exercises:
            ask = Ask(d.context.intent)  # "what about negative squats?" keeps the ask
        subject = query.subject
        if d.recognition.muscles and query.asks.get(Ask.MUSCLES, 0.0) >= 0.5 and record.muscles:
            return self.muscles(d, record)  # "do negative squats work my calves?"
        # A "why" about something named ("the knees thing, why does that happen") asks for
        # the reason, however common the word.
        why_about = d.recognition.form is Form.WHY and bool(subject)
        if sum(subject.values()) < self.tuning.specific and not why_about:
            if query.amount and (ask is None or ask is Ask.COMPARISON):
                # "ok so what weight then": the fact that states that amount, if any
                stating = self.index.stating(record, ranked, query)
                if stating:
                    return self.lead(d, record, stating[0])
                return self.missing(d, record, Section.PROGRAMMING, related=ranked)
            if ask is None or ask is Ask.COMPARISON:
                return self.overview(d, record)
            stance = _stance_put_so(self.index, ranked, query, self.tuning.answers)
            if stance is not None:
                # "can it replace my normal squats?": the article's answer to a question put
                # that way ("Can negative squats replace back squats?"), first.
                return self.lead(d, self.kb.records[stance.fact.record], stance)
            return self._asked_section(d, record, Section(ask.value), ranked)
        best = ranked[0]
        record = self.kb.records[best.fact.record]
        if (
            ask is Ask.WHAT
            and Ask.WHAT in d.recognition.clear_asks
            and (best.fact.section is not Section.WHAT or best.fact.record != d.records[0])
            and d.recognition.form is not Form.YES_NO
        ):
            # "What is X?" asks for the definition, whatever else the message tells us.
            return self.overview(d, self.kb.records[d.records[0]])
        asked = d.recognition.asked
        if asked is not None and asked in subject and not self.index.knows(asked):
            # "how many calories...", "what brand...": the thing asked for is not in the
            # knowledge base at all.
            return self.missing(d, record, None, related=ranked)
        if query.amount:
            # "How long / how many / how heavy": the answer is a fact stating that amount and
            # about what was asked ("rest between sets" is not answered by "4 s down").
            stating = self.index.stating(record, ranked, query)
            if not stating:
                return self.missing(d, record, best.fact.section, related=ranked)
            rest = {t: w for t, w in subject.items() if not self.index.is_unit(t)}
            top = stating[0]
            # A yes/no question that states an amount ("can I do squats every single day to
            # grow my glutes faster?") asks whether that amount is right, whatever it is for.
            asks_amount = d.recognition.form is not Form.YES_NO
            if asks_amount and sum(rest.values()) >= self.tuning.specific:
                covered = sum(w for t, w in rest.items() if self.index.has_term(top.fact, t))
                if covered < self.tuning.answers * sum(rest.values()):
                    # "how long should I rest between sets?": "4 s down" states a duration,
                    # but not of resting.
                    return self.missing(d, record, best.fact.section, related=ranked)
            return self.lead(d, self.kb.records[top.fact.record], top)
        if best.covers >= self.tuning.answers:
            return self.lead(d, record, best)
        if ask is not None and ask is not Ask.COMPARISON and query.asks.get(ask, 1.0) >= 0.5:
            return self._asked_section(d, record, Section(ask.value), ranked)
        if _known_covers(self.index, best, subject) > 0:
            return self.lead(d, record, best)
        # It asks something specific that no fact of this record covers.
        return self.missing(d, record, None, related=ranked)

    def _asked_section(
        self, d: Decision, record: Record, section: Section, ranked: list[Ranked]
    ) -> Composed:
        """The section asked for, led by its best fact; a record without that section gets
        an overview when the overview answers the ask ("what's the point of it?"), else the
        reply says the article does not give it."""
        assert d.query is not None
        if record.kind == "topic":
            # A topic has points, not sections: its best point answers, or an overview.
            best = ranked[0] if ranked else None
            if best is not None and best.covers > 0:
                return self.lead(d, record, best)
            return self.overview(d, record)
        if self.index.has_section(record.id, section):
            lead = _lead_in(self.index, ranked, section, d.query)
            return self.section(d, record, section, lead=lead)
        if section in (Section.WHAT, Section.BENEFITS):
            return self.overview(d, record)
        if Ask(section.value) not in d.recognition.clear_asks and ranked and ranked[0].covers > 0:
            return self.lead(d, record, ranked[0])  # only a hint of the ask: the best fact
        faq = next(
            (
                r
                for r in ranked
                if r.fact.kind is Kind.FAQ
                and r.fact.section is section
                and r.covers > 0
                and (not d.query.amount or self.index.states_amount(r.fact, d.query))
            ),
            None,
        )
        if faq is not None:
            return self.lead(d, record, faq)
        return self.missing(d, record, section)

    def lead(self, d: Decision, record: Record, best: Ranked) -> Composed:
        """Lead with the fact that answers, then the section it belongs to."""
        fact = best.fact
        record = self.kb.records[fact.record]
        assert d.query is not None
        opening = _stance(d, fact) + fact.text
        lead_block = Block(None, (opening,), "paragraph")
        if fact.kind is Kind.FAQ:
            title = f"{record.name}: {fact.questions[0]}" if fact.questions else record.name
            parts = [Card((lead_block,), (fact.source,))]
        else:
            title = f"{record.name}: {fact.section.label.lower()}"
            card = _card_for(self.index, self.cards, record, fact, d)
            parts = [Card((lead_block,), (fact.source,)), _without(card, fact.text)]
            second = _second_ask(self.index, d, record, fact.section)
            if second is not None:
                parts.append(self.cards.card(record, second, wanted=d.context.constraints))
        intent = fact.intent or fact.section.value
        return self.finish(d, record, intent, title, parts, _confidence(d, best), fact)

    def muscles(self, d: Decision, record: Record) -> Composed:
        """Whether the record works the muscles asked about, then its muscles."""
        lines = [self.cards.muscle_line(record, m) for m in d.recognition.muscles]
        lead = Card((Block(None, tuple(lines), "paragraph"),), (record.source,))
        parts = [lead, self.cards.muscles(record)]
        title = f"{record.name}: muscles"
        return self.finish(d, record, "muscles", title, parts, 0.9, None)

    def tell_apart(self, d: Decision) -> Composed:
        """Our record, told apart from another exercise that shares its name."""
        record = self.kb.records[d.records[0]]
        assert d.recognition.distinct is not None
        other = d.recognition.distinct[1]
        lead = Block(None, ((STANCES["no"] + " " if d.stance else "") + other.note,), "paragraph")
        card = self.cards.what(record)
        return self.finish(
            d, record, "what", record.name, [Card((lead,), (record.source,)), card], 0.9, None
        )

    def section(
        self, d: Decision, record: Record, section: Section, lead: Fact | None = None
    ) -> Composed:
        """A whole section, led by the fact the question's words pick (if any)."""
        assert d.query is not None
        method = lead.method if lead is not None and lead.method is not None else None
        if method is None:
            method = self.index.method_for(record, d.query) or 0
        position = lead.position if lead is not None and lead.kind is not Kind.FAQ else None
        card = self.cards.card(
            record, section, lead=position, method=method, wanted=d.context.constraints
        )
        parts = [card]
        if lead is not None and lead.kind is Kind.FAQ:
            # A FAQ is not part of the card: it leads.
            parts.insert(
                0,
                Card(
                    (Block(None, (_stance(d, lead) + lead.text,), "paragraph"),),
                    (lead.source,),
                ),
            )
        situation = self.replies.situation_lead(
            record, d.context.constraints, section, fresh=d.recognition.situations
        )
        if situation:
            parts.insert(0, Card((Block(None, (situation,), "paragraph"),), (record.source,)))
        second = _second_ask(self.index, d, record, section)
        if second is not None:
            parts.append(
                self.cards.card(record, second, method=method, wanted=d.context.constraints)
            )
        title = f"{record.name}: {section.label.lower()}"
        confidence = round(min(1.0, 0.6 + 0.4 * max(d.strengths.values(), default=0.7)), 2)
        return self.finish(d, record, section.value, title, parts, confidence, lead)

    def overview(self, d: Decision, record: Record) -> Composed:
        """What the record is: nothing specific was asked."""
        card = self.cards.what(record)
        parts = [card]
        situation = self.replies.situation_lead(record, d.context.constraints, Section.WHAT)
        if situation:
            parts.insert(0, Card((Block(None, (situation,), "paragraph"),), (record.source,)))
        strength = max(d.strengths.values(), default=0.7)
        return self.finish(d, record, "overview", record.name, parts, round(strength, 2), None)

    def missing(
        self,
        d: Decision,
        record: Record,
        section: Section | None,
        related: list[Ranked] | None = None,
    ) -> Composed:
        """The knowledge base lacks what is asked about ``record``: say so, and show what it
        does hold on the subject (the section asked for, or the facts nearest the question)."""
        amount = d.query is not None and d.query.amount
        near = [r.fact.text for r in (related or [])[:3] if r.covers > 0]
        answer = self.replies.not_in_articles(
            record, section, near, amount, followups(self.index, record, None)
        )
        # What was asked stays the conversation's ask, answered or not ("how do I do one?"
        # about swings, then "what about the hip hinge then" asks for the hinge's steps).
        asked = _top_ask(d.query) if d.query is not None else None
        intent = section.value if section is not None else asked.value if asked else None
        return Composed(
            fit(answer),
            d.context.about((record.id,), intent or d.context.intent, offered=_named(d)),
        )

    def finish(
        self,
        d: Decision,
        record: Record,
        intent: str,
        title: str,
        parts: list[Card],
        confidence: float,
        lead: Fact | None,
    ) -> Composed:
        """The answer for ``record``: a referral first after a medical mention, then its
        parts, with sources and the sections to offer next."""
        blocks: list[Block] = []
        if MEDICAL in d.context.constraints:
            blocks.append(Block(None, (self.kb.language.referral,), "paragraph"))
        blocks.extend(b for p in parts for b in p.blocks)
        sources = tuple(dict.fromkeys(self.kb.title(s) for p in parts for s in p.sources))
        answer = Answer(
            True,
            title,
            tuple(blocks),
            exercise=record.id,
            intent=intent,
            confidence=confidence,
            sources=sources,
            followups=followups(self.index, record, intent),
        )
        focus = (record.id, *(r for r in d.records if r != record.id))
        keep = (
            focus
            if len(d.records) > 1 and set(d.records) <= set(d.context.exercises)
            else (record.id,)
        )
        # Records the message named beside the one answered stay in view ("two things: the
        # slow squat and the leg hold. what's the slow squat for?" then "which of the two").
        offered = (*_named(d), *_offered(self.kb, record, parts))
        # Two records named ("a squat or a hip hinge") are a list "the second one" picks from.
        named = _named(d)
        query = d.query
        return Composed(
            fit(answer),
            d.context.about(
                keep,
                intent,
                lead.key if lead else None,
                offered,
                listed=named if len(named) >= 2 else None,
                measured=tuple(sorted(query.units)) if query and query.amount else (),
            ),
        )


def _card_for(index: FactIndex, cards: Cards, record: Record, fact: Fact, d: Decision) -> Card:
    """The card of ``fact``'s section, in its variant, led by it."""
    assert d.query is not None
    method = fact.method if fact.method is not None else index.method_for(record, d.query)
    lead = fact.position if fact.kind is not Kind.FAQ and fact.position >= 0 else None
    return cards.card(
        record, fact.section, lead=lead, method=method or 0, wanted=d.context.constraints
    )


def _stance(d: Decision, fact: Fact) -> str:
    """ "Yes." / "No." / "It depends." before a fact that carries the article's stance."""
    if not d.stance or fact.stance is None:
        return ""
    word = STANCES[fact.stance]
    return "" if fact.text.lower().startswith(word.lower().rstrip(".")) else word + " "


def followups(index: FactIndex, record: Record, shown: str | None) -> tuple[Choice, ...]:
    """The sections of ``record`` to offer next, ``shown`` left out."""
    return tuple(
        Choice(s.label, record.id, s.value)
        for s in FOLLOW_UP_ORDER
        if s.value != shown and index.has_section(record.id, s)
    )[:6]


def _stance_put_so(
    index: FactIndex, ranked: list[Ranked], query: Query, enough: float
) -> Ranked | None:
    """For a yes/no question, the item taking a stance on a question put the same way: it
    covers ``enough`` of the words and says it answers a question using them."""
    if not query.yes_no:
        return None
    return next(
        (
            r
            for r in ranked
            if r.fact.stance and r.covers >= enough and index.phrased(r.fact, query.topic)
        ),
        None,
    )


def _top_ask(query: Query) -> Ask | None:
    asks = dict(query.asks)
    if len(asks) > 1:
        asks.pop(Ask.COMPARISON, None)  # comparing is how, not what, when something else is asked
    if not asks:
        return None
    return max(asks, key=lambda a: (asks[a], a is not Ask.WHAT))


def _without(card: Card, text: str) -> Card:
    """``card`` with the item ``text`` left out (it leads the answer already)."""
    blocks = []
    for b in card.blocks:
        items = tuple(i for i in b.items if i != text)
        if items:
            blocks.append(replace(b, items=items))
    return Card(tuple(blocks), card.sources)


def _known_covers(index: FactIndex, best: Ranked, subject: dict[str, float]) -> float:
    """The share of the subject's known words (those the knowledge base uses) that the
    fact covers: "work my stomach too, or just the hips?" is answered on "hips"."""
    known = {t: w for t, w in subject.items() if index.knows(t)}
    total = sum(known.values())
    if not total:
        return 0.0
    return sum(w for t, w in known.items() if index.has_term(best.fact, t)) / total


def _lead_in(
    index: FactIndex, ranked: list[Ranked], section: Section, query: Query
) -> Fact | None:
    """The best fact of ``section`` the question's words (or its wish for an amount) pick."""
    amount = query.amount
    subject = query.subject  # cue words ("set up", "walk me through") pick no fact
    for r in ranked:
        if r.fact.section is not section:
            continue
        if amount and index.states_amount(r.fact, query):
            return r.fact
        if r.covers > 0 and any(index.has_term(r.fact, t) for t in subject):
            return r.fact
    return None


def _second_ask(index: FactIndex, d: Decision, record: Record, first: Section) -> Section | None:
    """A second clear ask in the same message ("how do I set it up and what should I
    check?"), if the record has that section."""
    asks = d.recognition.asks
    for ask in sorted(asks, key=lambda a: (-asks[a], a.value)):
        if ask in (Ask.COMPARISON, Ask.WHAT) or ask.value == first.value or asks[ask] < 0.75:
            continue
        if index.has_section(record.id, Section(ask.value)):
            return Section(ask.value)
    return None


def _offered(kb: KnowledgeBase, record: Record, parts: list[Card]) -> tuple[str, ...]:
    """Other records an answer names: its alternatives and variations that have records
    of their own, when the answer shows them."""
    text = " ".join(i for p in parts for b in p.blocks for i in b.items).lower()
    linked = [a.exercise for a in record.alternatives if a.exercise] + [
        v.exercise for v in record.variations if v.exercise
    ]
    return tuple(dict.fromkeys(r for r in linked if r and kb.records[r].name.lower() in text))


def _confidence(d: Decision, best: Ranked) -> float:
    sure_record = max(d.strengths.values(), default=0.7)
    return round(min(1.0, sure_record * (0.6 + 0.4 * min(1.0, best.covers))), 2)


def _named(d: Decision) -> tuple[str, ...]:
    """Every record the message named, however it named them."""
    return tuple(dict.fromkeys(m.record for m in d.recognition.mentions))
