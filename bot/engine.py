"""The answer engine: a question and a chat's context in, a structured answer and the new
context out. No I/O and no Telegram: every front end (terminal, JSON, Telegram) calls this.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from bot import sections
from bot.answers import Answer, Block, Choice
from bot.context import Context
from bot.knowledge import KnowledgeBase
from bot.matching import Hit, Index, Reading
from bot.schema import DistinctFrom, Record
from bot.sections import LABELS, Part, has_section

# Longest reply, in plain-text characters: answers address the ask, not the whole card.
MAX_REPLY_CHARS = 1400
# Only this much of a message is read; the rest cannot change which exercise is meant.
MAX_QUESTION_CHARS = 1000

# How a unit is scored: its words matching the question's own words weigh most, then the
# ask signalled by cue phrases, then the question naming (or the context holding) its record.
W_TEXT = 2.0
W_INTENT = 0.6
W_RECORD = 1.0
# Strength given to the records a conversation is about when the question names none.
CONTEXT_STRENGTH = 0.7
# With no record named and no context, a question is answered from the best unit only if its
# own words match that unit this well and most of its words are known to the knowledge base.
GLOBAL_MIN_TEXT = 0.5
MIN_COVERAGE = 0.6
# Below this text match a named record with no signalled ask gets an overview.
OVERVIEW_MAX_TEXT = 0.3
# An item leads its section when it holds at least this share of the question's words.
LEAD_MIN_OVERLAP = 0.34
# Two candidate records this close in strength are ambiguous: offer both instead of guessing.
AMBIGUOUS_GAP = 0.08

# The context of a chat that has not said anything yet.
FRESH = Context()

_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@\w+)?\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Reply:
    """An answer and the chat context to keep for the next message."""

    answer: Answer
    context: Context


class Engine:
    """Answers questions from one knowledge base."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.index = Index(kb)
        self._situations = {s.id: s.label for s in kb.language.situations}

    # -- public API ----------------------------------------------------------------------

    def catalogue(self) -> tuple[tuple[str, str], ...]:
        """(record id, display name) of every exercise, then every topic."""
        records = sorted(self.kb.records.values(), key=lambda r: r.kind != "exercise")
        return tuple((r.id, r.name) for r in records)

    def ask(self, text: str, context: Context = FRESH) -> Reply:
        """Answer one message (free text or a command) in the given context."""
        text = text.strip()[:MAX_QUESTION_CHARS]
        if not text:
            return Reply(self._prompt(), context)
        command = _COMMAND.match(text)
        if command:
            return self._command(command.group(1).lower(), command.group(2).strip(), context)
        return self._answer(text, context)

    def show(self, exercise: str, intent: str, context: Context = FRESH) -> Reply:
        """One section of a record, as a button press or command asks for it."""
        record = self.kb.records.get(exercise)
        if record is None or (intent not in LABELS and intent != "overview"):
            return Reply(self._decline("that"), context)
        answer = self._section_answer(record, intent, context.constraints, (), 0.95)
        return Reply(answer, replace(context, exercises=(exercise,), intent=intent, pending=()))

    # -- commands ------------------------------------------------------------------------

    def _command(self, name: str, arg: str, context: Context) -> Reply:
        if name in ("start", "help"):
            return Reply(self._welcome(name == "help"), context)
        if name == "exercises":
            return Reply(self._covered(), context)
        if name == "reset":
            note = Block(
                None,
                (
                    "Done: I have forgotten our topic and anything you told me "
                    "about your situation.",
                ),
                "paragraph",
            )
            return Reply(
                Answer(True, "Fresh start", (note,), intent="reset", confidence=1.0),
                context.reset(),
            )
        if name in ("checklist", "alternatives"):
            return self._section_command(name, arg, context)
        note = Block(
            None,
            (f"I don't know the command /{name}. Send /help to see what I can do.",),
            "paragraph",
        )
        return Reply(Answer(False, "Unknown command", (note,)), context)

    def _section_command(self, intent: str, arg: str, context: Context) -> Reply:
        reading = self.index.read(arg) if arg else None
        named = reading.records if reading else ()
        target = (
            named[0]
            if named
            else (context.exercises[0] if context.exercises and not arg else None)
        )
        if target is None:
            example = f"/{intent} reverse squat"
            what = f"I don't cover {arg!r}." if arg else "Which exercise?"
            note = Block(None, (f"{what} Try for example: {example}",), "paragraph")
            return Reply(Answer(False, "Which exercise?", (note,), intent=intent), context)
        constraints = _merge(context.constraints, reading.situations if reading else ())
        context = replace(context, constraints=constraints)
        return self.show(target, intent, context)

    # -- free text -----------------------------------------------------------------------

    def _answer(self, text: str, context: Context) -> Reply:
        reading = self.index.read(text)
        constraints = _merge(context.constraints, reading.situations)
        context = replace(context, constraints=constraints)
        if reading.greeting and not reading.mentions:
            return Reply(self._welcome(False), context)
        if reading.distinct is not None:
            return Reply(self._distinct(*reading.distinct), context)
        # An uncovered exercise ("goblet squat") is declined unless the question also names
        # a covered one outright; a bare generic word ("squat") inside it does not count.
        sure = [m for m in reading.mentions if m.exact and m.strength >= CONTEXT_STRENGTH]
        if reading.unknown_exercise and not sure:
            return Reply(self._decline(reading.unknown_exercise), context)
        strengths = self._record_strengths(reading, context)
        if reading.safety:
            return self._safety(reading, strengths, context)
        if strengths is None:
            if reading.situations:
                return Reply(self._noted(reading.situations), context)
            return Reply(self._decline(None), context)
        ambiguous = self._ambiguous(reading, strengths)
        if ambiguous:
            return Reply(self._did_you_mean(ambiguous), replace(context, pending=ambiguous))
        named = reading.records
        if len(named) >= 2 and reading.intents.get("comparison", 0.0) >= 0.5:
            return Reply(
                self._comparison(reading, named), self._remember(context, named, "comparison")
            )
        return self._best_unit(reading, strengths, context)

    def _record_strengths(self, reading: Reading, context: Context) -> dict[str, float] | None:
        """How strongly each candidate record is meant; None when nothing points anywhere."""
        strengths: dict[str, float] = {}
        for m in reading.mentions:
            strengths[m.record] = max(strengths.get(m.record, 0.0), m.strength)
        if strengths and not reading.correction:
            partial_only = not any(m.exact for m in reading.mentions)
            return None if partial_only and reading.coverage < MIN_COVERAGE else strengths
        if reading.correction:
            # "No, I meant the lying one with the cable": find the record from its description.
            hits = [h for h in reading.hits if h.unit.record not in context.exercises]
            if hits and hits[0].text >= GLOBAL_MIN_TEXT / 2:
                return {hits[0].unit.record: 0.9}
            return strengths or None
        understood = reading.coverage >= MIN_COVERAGE
        if context.exercises and understood and (reading.intents or reading.ask_terms):
            return dict.fromkeys(context.exercises, CONTEXT_STRENGTH)
        if reading.hits and reading.hits[0].text >= GLOBAL_MIN_TEXT and understood:
            return {}  # no named record, but the words alone find a unit
        return None

    def _ambiguous(self, reading: Reading, strengths: dict[str, float]) -> tuple[str, ...]:
        """Records too close to choose between, when only partial names were given."""
        partial = [m for m in reading.mentions if not m.exact]
        if len(partial) < 2 or any(m.exact for m in reading.mentions):
            return ()
        ranked = sorted(partial, key=lambda m: -m.strength)
        if ranked[0].strength - ranked[1].strength > AMBIGUOUS_GAP:
            return ()
        if reading.hits and reading.hits[0].text >= GLOBAL_MIN_TEXT:
            return ()
        return tuple(dict.fromkeys(m.record for m in ranked[:3]))

    def _score(self, reading: Reading, strengths: dict[str, float]) -> tuple[Hit, float]:
        """The best unit for this reading and its score.

        When the question clearly names records, or follows up on the conversation's, only
        their units compete: a word shared with another record ("breathe") must not pull the
        answer away. A generic name ("squat") or none lets any unit compete on its words.
        """
        text = {id(h.unit): h.text for h in reading.hits}
        focus = {r for r, s in strengths.items() if s >= CONTEXT_STRENGTH}
        candidates = [h for h in reading.hits if not focus or h.unit.record in focus][:50]
        seen = {id(h.unit) for h in candidates}
        candidates.extend(
            Hit(u, 0.0) for u in self.index.units if u.record in strengths and id(u) not in seen
        )
        best: tuple[Hit, float] | None = None
        for hit in candidates:
            score = (
                W_TEXT * text.get(id(hit.unit), 0.0)
                + W_INTENT * reading.intents.get(hit.unit.intent, 0.0)
                + W_RECORD * strengths.get(hit.unit.record, 0.0)
            )
            if best is None or score > best[1]:
                best = (hit, score)
        assert best is not None
        return best

    def _best_unit(self, reading: Reading, strengths: dict[str, float], context: Context) -> Reply:
        if not strengths and not reading.hits:
            return Reply(self._decline(None), context)
        hit, score = self._score(reading, strengths)
        record = self.kb.records[hit.unit.record]
        text_match = next((h.text for h in reading.hits if h.unit is hit.unit), 0.0)
        if not reading.intents and text_match < OVERVIEW_MAX_TEXT and record.id in strengths:
            answer = self._overview(record, strengths[record.id])
            return Reply(answer, self._remember(context, (record.id,), None))
        confidence = round(min(1.0, score / (W_TEXT * 0.5 + W_INTENT + W_RECORD)), 2)
        answer = self._unit_answer(record, hit, reading, context.constraints, confidence)
        focus = (record.id,)
        return Reply(answer, self._remember(context, focus, answer.intent))

    # -- composing answers ---------------------------------------------------------------

    def _unit_answer(
        self,
        record: Record,
        hit: Hit,
        reading: Reading,
        constraints: tuple[str, ...],
        confidence: float,
    ) -> Answer:
        unit = hit.unit
        kind, _, num = unit.key.partition(":")
        index = int(num) if num.isdigit() else None
        if kind == "faq":
            part = sections.faq(record, index or 0)
            title = f"{record.name}: {record.faq[index or 0].q}"
            return self._finish(record, unit.intent, title, [part], confidence)
        intent = unit.intent
        wanted = _merge(reading.situations, constraints)
        parts = [self._part(record, intent, unit.key, reading.ask_terms, wanted)]
        second = self._second_intent(reading, record, intent)
        if second:
            parts.append(self._part(record, second, "", reading.ask_terms, wanted))
        title = f"{record.name}: {LABELS[intent].lower()}" if intent != "what" else record.name
        return self._finish(record, intent, title, parts, confidence)

    def _second_intent(self, reading: Reading, record: Record, first: str) -> str | None:
        """A second ask in the same question ("how do I set it up and what should I check?")."""
        ranked = sorted(reading.intents.items(), key=lambda kv: -kv[1])
        for intent, weight in ranked:
            if intent in (first, "comparison", "what") or weight < 0.5:
                continue
            if has_section(record, intent):
                return intent
        return None

    def _part(
        self, record: Record, intent: str, key: str, ask: tuple[str, ...], wanted: tuple[str, ...]
    ) -> Part:
        """The blocks for ``intent`` of ``record``, led by the item ``key`` or the ask."""
        kind, _, num = key.partition(":")
        index = int(num) if num.isdigit() else None
        if intent == "muscles":
            return sections.muscles(record, self._muscle_lead(record, ask))
        if intent == "steps":
            method = (
                index if kind == "method" and index is not None else self._pick_method(record, ask)
            )
            return (
                sections.steps(record, method)
                if record.methods
                else sections.what(record, self.kb)
            )
        if intent == "checklist" and record.checklist:
            return sections.checklist(record)
        if intent == "mistakes" and record.mistakes:
            lead = (
                index
                if kind == "mistake"
                else self._lead(ask, [m.mistake + " " + m.fix for m in record.mistakes])
            )
            return sections.mistakes(record, lead)
        if intent == "cautions" and has_section(record, "cautions"):
            return sections.cautions(record)
        if intent == "alternatives" and record.alternatives:
            return sections.alternatives(record, self.kb, wanted, self._situations)
        if intent == "benefits" and has_section(record, "benefits"):
            lead = -1 if kind == "suits" else (index if kind == "benefit" else None)
            return sections.benefits(record, lead)
        if intent == "variations" and record.variations:
            lead = (
                index
                if kind == "var"
                else self._lead(ask, [v.name + " " + v.text for v in record.variations])
            )
            return sections.variations(record, lead)
        if intent == "programming" and record.programming:
            lead = (
                index
                if kind == "prog"
                else self._lead(ask, [p.name + " " + p.text for p in record.programming])
            )
            return sections.programming(record, lead)
        lead = index if kind in ("fact", "point") else None
        return sections.what(record, self.kb, lead)

    def _pick_method(self, record: Record, ask: tuple[str, ...]) -> int:
        texts = [" ".join((m.name, *m.equipment, *m.setup, *m.steps)) for m in record.methods]
        return self._lead(ask, texts, minimum=0.0) or 0

    def _lead(
        self, ask: tuple[str, ...], texts: list[str], minimum: float = LEAD_MIN_OVERLAP
    ) -> int | None:
        scores = [self.index.item_overlap(ask, t) for t in texts]
        if not scores:
            return None
        best = max(range(len(scores)), key=scores.__getitem__)
        return best if scores[best] > minimum else None

    def _muscle_lead(self, record: Record, ask: tuple[str, ...]) -> str | None:
        """A direct answer when the question names a muscle ("do they work my calves?")."""
        m = record.muscles
        if m is None:
            return None
        an = self.index.analyzer
        asked = set(ask)
        for group, role in ((m.primary, "a main target"), (m.stabilisers, "a stabiliser")):
            for muscle in group:
                names = " ".join((muscle.name, muscle.detail or "", *muscle.aliases))
                if asked & set(an.terms(names)) - {"muscl", "group"}:
                    return f"Yes: the {muscle.name} work as {role} in the {record.name.lower()}."
        mentioned = asked & self.index.muscle_terms
        if mentioned:
            main = ", ".join(x.name for x in m.primary) or "the muscles below"
            return (
                f"The article doesn't list that muscle for the {record.name.lower()}; "
                f"it mainly works the {main}."
            )
        return None

    def _section_answer(
        self,
        record: Record,
        intent: str,
        constraints: tuple[str, ...],
        ask: tuple[str, ...],
        confidence: float,
    ) -> Answer:
        if intent == "overview" or not has_section(record, intent):
            return self._overview(
                record, confidence, missing=None if intent == "overview" else intent
            )
        part = self._part(record, intent, "", ask, constraints)
        return self._finish(
            record, intent, f"{record.name}: {LABELS[intent].lower()}", [part], confidence
        )

    def _overview(self, record: Record, confidence: float, missing: str | None = None) -> Answer:
        part = sections.what(record, self.kb)
        blocks = list(part.blocks)
        if missing:
            blocks.insert(
                0,
                Block(
                    None,
                    (
                        f"The article gives no {LABELS[missing].lower()} for the "
                        f"{record.name.lower()}.",
                    ),
                    "paragraph",
                ),
            )
        return self._finish(
            record,
            "overview",
            record.name,
            [Part(tuple(blocks), part.sources)],
            round(confidence, 2),
        )

    def _comparison(self, reading: Reading, named: tuple[str, ...]) -> Answer:
        records = [self.kb.records[r] for r in named[:2]]
        blocks: list[Block] = []
        sources: list[str] = []
        lead = self._comparison_lead(records)
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
        title = " vs ".join(r.name for r in records)
        answer = Answer(
            True,
            title,
            tuple(blocks),
            exercise=records[0].id,
            intent="comparison",
            confidence=0.9,
            sources=tuple(dict.fromkeys(self.kb.title(s) for s in sources)),
            followups=tuple(Choice(r.name, r.id, "overview") for r in records),
        )
        return self._fit(answer)

    def _comparison_lead(self, records: list[Record]) -> tuple[str, str] | None:
        """A FAQ answer of one record that speaks about the other, if the article has one."""
        an = self.index.analyzer
        for record, other in ((records[0], records[1]), (records[1], records[0])):
            names = [set(an.terms(n)) for n in (other.name, *other.aliases)]
            for entry in record.faq:
                terms = set(an.terms(" ".join((entry.q, *entry.also, entry.a))))
                if entry.intent == "comparison" and any(n <= terms for n in names if n):
                    return entry.a, entry.source or record.source
        return None

    def _safety(
        self, reading: Reading, strengths: dict[str, float] | None, context: Context
    ) -> Reply:
        rid = next(iter(strengths), None) if strengths else None
        if rid is None and reading.hits and reading.hits[0].text >= GLOBAL_MIN_TEXT:
            rid = reading.hits[0].unit.record
        referral = Block(None, (self.kb.language.referral,), "paragraph")
        if rid is None:
            answer = Answer(
                True, "Please get that checked", (referral,), intent="cautions", confidence=0.6
            )
            return Reply(self._fit(answer), context)
        record = self.kb.records[rid]
        part = (
            sections.cautions(record)
            if has_section(record, "cautions")
            else Part((), (record.source,))
        )
        answer = self._finish(
            record,
            "cautions",
            f"{record.name}: safety first",
            [Part((referral, *part.blocks), part.sources)],
            0.8,
        )
        return Reply(answer, self._remember(context, (rid,), "cautions"))

    def _finish(
        self, record: Record, intent: str, title: str, parts: list[Part], confidence: float
    ) -> Answer:
        blocks = tuple(b for p in parts for b in p.blocks)
        sources = tuple(dict.fromkeys(self.kb.title(s) for p in parts for s in p.sources))
        shown = {intent}
        followups = tuple(
            Choice(LABELS[i], record.id, i)
            for i in sections.FOLLOW_UP_ORDER
            if i not in shown and has_section(record, i)
        )[:6]
        answer = Answer(
            True,
            title,
            blocks,
            exercise=record.id,
            intent=intent,
            confidence=confidence,
            sources=sources,
            followups=followups,
        )
        return self._fit(answer)

    def _fit(self, answer: Answer) -> Answer:
        """Trim trailing items until the plain-text reply fits :data:`MAX_REPLY_CHARS`."""
        from bot.render import render_text

        blocks = list(answer.blocks)
        while len(render_text(replace(answer, blocks=tuple(blocks)))) > MAX_REPLY_CHARS:
            longest = max(range(len(blocks)), key=lambda i: len(blocks[i].items) if i else 0)
            block = blocks[longest]
            if len(block.items) > 1:
                blocks[longest] = replace(block, items=block.items[:-1])
            elif len(blocks) > 1:
                blocks.pop()
            else:
                item = block.items[0]
                blocks[0] = replace(block, items=(item[: MAX_REPLY_CHARS // 2].rstrip() + "…",))
        return replace(answer, blocks=tuple(blocks))

    # -- fixed replies -------------------------------------------------------------------

    def _names(self, kind: str) -> list[str]:
        return [r.name for r in self.kb.records.values() if r.kind == kind]

    def _covered(self) -> Answer:
        blocks = (
            Block("Exercises", tuple(self._names("exercise"))),
            Block("Topics", tuple(self._names("topic"))),
        )
        return self._fit(Answer(True, "What I cover", blocks, intent="catalogue", confidence=1.0))

    def _welcome(self, full: bool) -> Answer:
        intro = (
            "I'm fitbot. Ask me about an exercise in your own words and I'll answer from my "
            "knowledge base: how to do it, form checklists, mistakes, cautions, muscles and "
            "alternatives, each with its source article."
        )
        examples = (
            "What does a reverse squat work?",
            "Give me a form checklist for negative squats",
            "My core is weak, what can I do instead?",
        )
        blocks = [Block(None, (intro,), "paragraph"), Block("Try", examples)]
        if full:
            blocks.append(
                Block(
                    "Commands",
                    (
                        "/exercises: what I cover",
                        "/checklist <exercise>: the form checklist",
                        "/alternatives <exercise> [situation]: what to do instead",
                        "/reset: forget our conversation",
                    ),
                )
            )
        blocks.append(Block("I cover", (", ".join(self._names("exercise")),), "paragraph"))
        return self._fit(
            Answer(True, "Hi, I'm fitbot", tuple(blocks), intent="greeting", confidence=1.0)
        )

    def _prompt(self) -> Answer:
        note = Block(
            None,
            ('Send me a question about an exercise, e.g. "how do I do a reverse squat?"',),
            "paragraph",
        )
        return Answer(False, "Ask me something", (note,))

    def _noted(self, situations: tuple[str, ...]) -> Answer:
        labels = ", ".join(self._situations[s] for s in situations)
        note = Block(
            None,
            (
                f"Noted: {labels}. I'll keep it in mind when I suggest alternatives. "
                "Which exercise are you asking about?",
            ),
            "paragraph",
        )
        return Answer(True, "Got it", (note,), intent="constraint", confidence=0.7)

    def _decline(self, what: str | None) -> Answer:
        lead = (
            f"I don't cover the {what}, so I won't guess at it."
            if what and what != "that"
            else "That's not something my knowledge base covers, so I won't guess."
        )
        blocks = (
            Block(None, (lead,), "paragraph"),
            Block("What I can help with", tuple(self._names("exercise"))),
            Block(
                None,
                ('Ask e.g. "what muscles does the reverse squat work?" or send /exercises.',),
                "paragraph",
            ),
        )
        return self._fit(Answer(False, "Not covered", blocks, confidence=0.0))

    def _distinct(self, rid: str, item: DistinctFrom) -> Answer:
        record = self.kb.records[rid]
        note = Block(None, (item.note,), "paragraph")
        offer = Block(
            None,
            (f"Ask me about the {record.name.lower()} itself if that's what you meant.",),
            "paragraph",
        )
        return Answer(
            False,
            "Not covered",
            (note, offer),
            confidence=0.0,
            sources=(self.kb.title(record.source),),
            suggestions=(Choice(record.name, rid, "overview"),),
        )

    def _did_you_mean(self, candidates: tuple[str, ...]) -> Answer:
        names = tuple(self.kb.records[c].name for c in candidates)
        note = Block(
            None,
            ("I'm not sure which exercise you mean. Did you mean one of these?",),
            "paragraph",
        )
        return Answer(
            False,
            "Did you mean…?",
            (note, Block(None, names)),
            confidence=0.4,
            suggestions=tuple(Choice(self.kb.records[c].name, c, "overview") for c in candidates),
        )

    @staticmethod
    def _remember(context: Context, records: tuple[str, ...], intent: str | None) -> Context:
        return replace(context, exercises=records, intent=intent, pending=())


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))
