"""Compose replies about several records, or about a person rather than a record: a comparison,
a pick among the records in view, the exercises for a muscle or a situation, safety advice."""

from __future__ import annotations

from bot.answers import Answer, Block, Choice
from bot.engine.cards import Card
from bot.engine.compose import Composed, Composer, followups
from bot.engine.facts import Kind, Section
from bot.engine.interpret import Decision
from bot.engine.recognise import Ask
from bot.engine.replies import fit
from bot.schema import Record

# How hard each difficulty is, for "which is easiest?".
_RANK = {"beginner": 0, "intermediate": 1, "advanced": 2}
_EASY_WORDS = frozenset({"easi", "easier", "easiest", "beginn", "simpl", "simplest", "start"})
_HARD_WORDS = frozenset({"harder", "hardest", "advanc", "difficult", "toughest", "tougher"})


class Several:
    """Replies that span records."""

    def __init__(self, composer: Composer) -> None:
        self.c = composer
        self.kb = composer.kb

    def compare(self, d: Decision) -> Composed:
        """Two records side by side, led by what an article says of the pair."""
        records = [self.kb.records[r] for r in d.records[:2]]
        blocks: list[Block] = []
        sources: list[str] = []
        lead = self._compare_lead(d, records) or self._pair_lead(records)
        if lead:
            blocks.append(Block(None, (lead[0],), "paragraph"))
            sources.append(lead[1])
        for record in records:
            facts = [record.summary]
            if record.muscles and record.muscles.primary:
                facts.append("Main muscles: " + ", ".join(m.name for m in record.muscles.primary))
            if record.level:
                facts.append(f"Level: {record.level}")
            if record.equipment:
                facts.append("Equipment: " + "; ".join(record.equipment))
            blocks.append(Block(record.name, tuple(facts)))
            sources.append(record.source)
        answer = Answer(
            True,
            " vs ".join(r.name for r in records),
            tuple(blocks),
            exercise=records[0].id,
            intent="comparison",
            confidence=0.9,
            sources=tuple(dict.fromkeys(self.kb.title(s) for s in sources)),
            followups=tuple(Choice(r.name, r.id, "overview") for r in records),
        )
        pair = tuple(r.id for r in records)
        return Composed(fit(answer), d.context.about(pair, "comparison", listed=pair))

    def _compare_lead(self, d: Decision, records: list[Record]) -> tuple[str, str] | None:
        """The fact that answers what the comparison asks ("which hits the quads harder?"):
        the best one, from either record or a topic relating them, that covers the question."""
        if d.query is None or not d.query.subject:
            return None
        for r in self.c.index.rank(d.query, limit=12):
            if r.covers >= self.c.tuning.answers:
                return r.fact.text, r.fact.source
        return None

    def _pair_lead(self, records: list[Record]) -> tuple[str, str] | None:
        """A FAQ answer of one record that speaks about the other, if the article has one."""
        an = self.c.index.analyzer
        for record, other in ((records[0], records[1]), (records[1], records[0])):
            names = [set(an.terms(n)) for n in (other.name, *other.aliases)]
            for entry in record.faq:
                terms = set(an.terms(" ".join((entry.q, *entry.also, entry.a))))
                if any(n <= terms for n in names if n):
                    return entry.a, entry.source or record.source
        return None

    def choose(self, d: Decision) -> Composed:
        """ "Which of them...?": rank the records in view by difficulty when that is asked,
        else by how well each one's best fact answers the question."""
        assert d.query is not None
        records = [self.kb.records[r] for r in d.records]
        topic = set(d.query.topic)
        rated = [r for r in records if r.difficulty]
        if topic & (_EASY_WORDS | _HARD_WORDS) and len(rated) >= 2:
            hardest = bool(topic & _HARD_WORDS) and not topic & _EASY_WORDS
            rated.sort(key=lambda r: _RANK[r.difficulty or "beginner"], reverse=hardest)
            pick = rated[0]
            word = "hardest" if hardest else "easiest to start with"
            lines = [f"{r.name}: {r.level or r.difficulty}" for r in rated]
            blocks = (
                Block(None, (f"Of those, the {pick.name.lower()} is the {word}.",), "paragraph"),
                Block("Level of each", tuple(lines)),
            )
            answer = Answer(
                True,
                f"{pick.name}: {word}",
                blocks,
                exercise=pick.id,
                intent="comparison",
                confidence=0.8,
                sources=tuple(dict.fromkeys(self.kb.title(r.source) for r in rated)),
                followups=tuple(Choice(r.name, r.id, "overview") for r in rated),
            )
            shown = tuple(r.id for r in rated)
            focus = (pick.id, *(r for r in shown if r != pick.id))
            return Composed(fit(answer), d.context.about(focus, "comparison", listed=shown))
        kit = self._needs_kit(records, topic)
        if kit is not None:
            return self.c.overview(d, kit)  # "which one needs a barbell?"
        ranked = self.c.index.rank(d.query)
        if not ranked:
            return self.c.overview(d, records[0])
        return self.c.lead(d, self.kb.records[ranked[0].fact.record], ranked[0])

    def _needs_kit(self, records: list[Record], topic: set[str]) -> Record | None:
        """The one record whose equipment the question names, if exactly one has it."""
        an = self.c.index.analyzer
        having = [
            r
            for r in records
            if topic
            & {
                t
                for e in (*r.equipment, *(x for m in r.methods for x in m.equipment))
                for t in an.terms(e)
            }
        ]
        return having[0] if len(having) == 1 else None

    def for_muscle(self, d: Decision) -> Composed:
        """Exercises whose main muscles are the ones asked about, those fitting the person's
        situation first."""
        wanted = d.context.constraints
        fits = {rid: [s for s in wanted if self._offered_for(rid, s)] for rid in d.records}
        ranked = sorted(d.records, key=lambda rid: (-len(fits[rid]), d.records.index(rid)))[:4]
        items = []
        for rid in ranked:
            record = self.kb.records[rid]
            labels = [
                self.c.replies.situations[s] for s in fits[rid] if s in self.c.replies.situations
            ]
            notes = ["a stretch"] if record.movement == "stretch" else []
            if labels:
                notes.append("fits " + ", ".join(labels))
            name = f"{record.name} ({'; '.join(notes)})" if notes else record.name
            items.append(f"{name}: {record.summary}")
        muscles = ", ".join(d.recognition.muscles)
        answer = Answer(
            True,
            f"Exercises that work the {muscles}",
            (Block(None, tuple(items)),),
            exercise=ranked[0],
            intent="muscles",
            confidence=0.7,
            sources=tuple(dict.fromkeys(self.kb.title(self.kb.records[r].source) for r in ranked)),
            followups=tuple(Choice(self.kb.records[r].name, r, "overview") for r in ranked),
        )
        return Composed(
            fit(answer), d.context.about((ranked[0],), "muscles", listed=tuple(ranked))
        )

    def _offered_for(self, rid: str, situation: str) -> bool:
        return any(
            alt.exercise == rid and situation in alt.situations
            for record in self.kb.records.values()
            for alt in record.alternatives
        )

    def for_situation(self, d: Decision) -> Composed:
        """ "My core is weak, what can I do instead?": the alternatives the knowledge base
        offers for the stated situations, from any record."""
        wanted = d.context.constraints
        items: list[str] = []
        offered: list[str] = []
        sources: list[str] = []
        for record in self.kb.records.values():
            for alt in record.alternatives:
                if set(alt.situations) & set(wanted):
                    name = alt.name or self.kb.records[alt.exercise or ""].name
                    items.append(f"{name} (instead of the {record.name.lower()}): {alt.why}")
                    offered.append(alt.exercise or record.id)
                    sources.append(alt.source or record.source)
        if not items:
            return Composed(self.c.replies.noted(d.recognition.situations), d.context)
        labels = ", ".join(
            self.c.replies.situations[s] for s in wanted if s in self.c.replies.situations
        )
        answer = Answer(
            True,
            f"Alternatives for {labels}",
            (Block(None, tuple(dict.fromkeys(items))),),
            exercise=offered[0],
            intent="alternatives",
            confidence=0.7,
            sources=tuple(dict.fromkeys(self.kb.title(s) for s in sources)),
            followups=tuple(
                Choice(self.kb.records[r].name, r, "overview") for r in dict.fromkeys(offered)
            ),
        )
        listed = tuple(dict.fromkeys(offered))
        return Composed(fit(answer), d.context.about((offered[0],), "alternatives", listed=listed))

    def safety(self, d: Decision) -> Composed:
        """The referral, and the record's cautions, the one nearest the question first."""
        referral = Block(None, (self.kb.language.referral,), "paragraph")
        if not d.records:
            answer = Answer(
                True, "Please get that checked", (referral,), intent="cautions", confidence=0.6
            )
            return Composed(fit(answer), d.context)
        record = self.kb.records[d.records[0]]
        ranked = (
            [r for r in self.c.index.rank(d.query, limit=40) if r.fact.section is Section.CAUTIONS]
            if d.query is not None
            else []
        )
        lead = next((r.fact for r in ranked if r.covers > 0 and r.fact.kind is not Kind.FAQ), None)
        parts: list[Card] = []
        if lead is not None:
            parts.append(Card((Block(None, (lead.text,), "paragraph"),), (lead.source,)))
        card = self.c.cards.cautions(record)
        parts.append(card)
        # What the article offers for the situation the person told us ("my balance is bad":
        # the supported version), after the cautions.
        # Not for a situation that is itself a complaint ("knee pain"): that gets the
        # referral and the cautions only.
        stated = (
            frozenset(d.query.situations) - self.c.replies.complaints if d.query else frozenset()
        )
        for alt in record.alternatives:
            if stated.intersection(alt.situations):
                name = alt.name or self.kb.records[alt.exercise or ""].name
                text = f"Instead: {name}: {alt.why}"
                parts.append(
                    Card((Block(None, (text,), "paragraph"),), (alt.source or record.source,))
                )
                break
        blocks = (referral, *(b for p in parts for b in p.blocks))
        sources = tuple(dict.fromkeys(self.kb.title(s) for p in parts for s in p.sources))
        answer = Answer(
            True,
            f"{record.name}: safety first",
            blocks,
            exercise=record.id,
            intent=Ask.CAUTIONS.value,
            confidence=0.8,
            sources=sources,
            followups=followups(self.c.index, record, Section.CAUTIONS.value),
        )
        return Composed(fit(answer), d.context.about((record.id,), "cautions"))
