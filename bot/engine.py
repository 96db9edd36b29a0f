"""The answer engine: a question and a chat's context in, a structured answer and the new
context out. No I/O and no Telegram: every front end (terminal, JSON, Telegram) calls this.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from bot import sections
from bot.answers import Answer, Block, Choice
from bot.context import Context
from bot.knowledge import KnowledgeBase
from bot.matching import HINT_WEIGHT as HINT
from bot.matching import Hit, Index, Reading
from bot.render import render_text
from bot.schema import DistinctFrom, Record
from bot.sections import LABELS, Part, has_section

# Longest reply, in plain-text characters: answers address the ask, not the whole card.
MAX_REPLY_CHARS = 1400
# Characters a dropped list item frees besides its text (its "- " and line break).
ITEM_OVERHEAD = 3
# Names a welcome or a decline lists before pointing to /exercises.
NAMES_SHOWN = 15
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
GLOBAL_COVERAGE = 0.75
REFERENCE_MIN_TEXT = 0.7
# What is asked about a known record must be mostly known words too ("calories" is not).
MIN_ASK_COVERAGE = 0.5
# A description names a record when it has enough words, fits it well, and fits it clearly
# better than the next record.
MIN_DESCRIPTION_TERMS = 4
DESCRIPTION_MIN_FIT = 0.6
DESCRIPTION_MARGIN = 0.15
# A rare word ("inhibition", "valgus") identifies its item with a weaker overall match.
RARE_MIN_TEXT = 0.35
# Answers that open with what fits the person's stated situation.
SITUATION_LEAD = ("overview", "what", "benefits")
# The constraint a pain, injury or medical condition leaves in a chat's context.
MEDICAL = "medical"
# How surely a record found only by the question's words is meant.
GLOBAL_STRENGTH = 0.8
# Below this text match a named record with no signalled ask gets an overview.
OVERVIEW_MAX_TEXT = 0.3
# An item leads its section when it holds at least this share of the question's words.
LEAD_MIN_OVERLAP = 0.34
# Word match kept by items answering another ask than the one clearly asked.
OFF_ASK_FACTOR = 0.5
# What a FAQ answer gives up against a whole section with the same score.
FAQ_PENALTY = 0.15
# How many records a "did you mean" offers at most.
MAX_SUGGESTIONS = 4
# Two candidate records this close in strength are ambiguous: offer both instead of guessing.
AMBIGUOUS_GAP = 0.08

# The context of a chat that has not said anything yet.
FRESH = Context()

_COMMAND = re.compile(r"^/([A-Za-z0-9_]+)(?:@\w+)?\s*(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Ask:
    """What a question asks about: its own words (names removed), all its content words, and
    the situations to honour (stated now or earlier in the chat)."""

    terms: tuple[str, ...]
    content: tuple[str, ...]
    wanted: tuple[str, ...]


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
        self._names_by_kind = {
            kind: tuple(r.name for r in kb.records.values() if r.kind == kind)
            for kind in ("exercise", "topic")
        }

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
            return Reply(self._decline(None), context)
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
        if reading.small_talk and not reading.mentions:
            return self._small_talk(reading.small_talk, context)
        if reading.distinct is not None:
            return Reply(self._distinct(*reading.distinct), context)
        # An uncovered exercise ("goblet squat", "sumo deadlift") is declined unless the
        # question also names a covered one outright, elsewhere than inside it.
        if reading.uncovered and not any(
            m.exact
            and m.strength >= CONTEXT_STRENGTH
            and all(m.end <= u.start or m.start >= u.end for u in reading.uncovered)
            for m in reading.mentions
        ):
            return Reply(self._decline(reading.uncovered[0].name), context)
        if reading.safety:
            # A pain, injury or condition stays in mind for the rest of the chat.
            context = replace(context, constraints=_merge(context.constraints, (MEDICAL,)))
        if not reading.safety and self._muscle_question(reading, context):
            return self._for_muscles(reading, context)
        strengths = self._record_strengths(reading, context)
        if reading.safety:
            return self._safety(reading, strengths, context)
        if strengths is None:
            if reading.situations:
                return Reply(self._noted(reading.situations), context)
            candidates = self._named_in_part(reading)
            if candidates:
                return Reply(self._did_you_mean(candidates), replace(context, pending=candidates))
            return Reply(self._decline(None), context)
        if reading.ask_coverage < MIN_ASK_COVERAGE:
            # The record is known but what is asked about it is not ("calories", "protein").
            return Reply(self._decline(None), context)
        ambiguous = self._ambiguous(reading, strengths)
        if ambiguous:
            return Reply(self._did_you_mean(ambiguous), replace(context, pending=ambiguous))
        if reading.correction and reading.records and context.intent in LABELS:
            # "No, I meant the back squat": the same ask, about the record meant.
            rid = reading.records[0]
            answer = self._section_answer(
                self.kb.records[rid], context.intent, context.constraints, (), GLOBAL_STRENGTH
            )
            return Reply(answer, self._remember(context, (rid,), answer.intent))
        pair = self._comparison_pair(reading, context)
        if pair:
            return Reply(self._comparison(pair), self._remember(context, pair, "comparison"))
        if not reading.mentions and not context.exercises:
            reading = self._described(reading, next(iter(strengths)))
        return self._best_unit(reading, strengths, context)

    def _small_talk(self, kind: str, context: Context) -> Reply:
        """Replies to messages that are not questions: hello, help, thanks, yes."""
        if kind in ("start", "help"):
            return Reply(self._welcome(kind == "help"), context)
        if kind == "exercises":
            return Reply(self._covered(), context)
        if kind == "yes" and context.pending:
            return self.show(context.pending[0], "overview", context)
        text = (
            "You're welcome. Ask me anything else about the exercises I cover, or send /exercises."
            if kind == "thanks"
            else "What would you like to know? Name an exercise, or send /exercises."
        )
        title = "You're welcome" if kind == "thanks" else "OK"
        answer = Answer(True, title, (Block(None, (text,), "paragraph"),), intent=kind)
        return Reply(answer, context)

    def _named_in_part(self, reading: Reading) -> tuple[str, ...]:
        """For a one- or two-word message ("stretch", "hip"), the few records whose names
        use those words, to offer instead of a flat "not covered"."""
        words_ = [t for t in reading.analysed.content if not t.isdigit()]
        if not words_ or len(words_) > 2 or reading.coverage < 1.0:
            return ()
        found = [r for r in self.index.records_named_with(words_) if r in self.kb.records]
        return tuple(found) if 2 <= len(found) <= MAX_SUGGESTIONS else ()

    def _record_strengths(self, reading: Reading, context: Context) -> dict[str, float] | None:
        """How strongly each candidate record is meant; None when nothing points anywhere."""
        strengths: dict[str, float] = {}
        for m in reading.mentions:
            strengths[m.record] = max(strengths.get(m.record, 0.0), m.strength)
        exact = any(m.exact for m in reading.mentions)
        at_hand = dict.fromkeys(context.exercises, CONTEXT_STRENGTH)
        if not exact and len(context.exercises) > 1 and "comparison" in reading.intents:
            return at_hand  # "which one needs a barbell?" after comparing two
        if reading.correction and not exact:
            # "No, I meant the lying one with the cable": the record its description fits.
            fits = [
                (r, v)
                for r, v in self.index.describe(reading.ask_terms)
                if r not in context.exercises
            ]
            return {fits[0][0]: GLOBAL_STRENGTH} if fits else None
        if strengths and max(strengths.values()) < CONTEXT_STRENGTH:
            # Only a generic or partial name ("squat"): a record the words describe far
            # better ("slow lowering squats") competes with it.
            described = self._described_record(reading)
            if described:
                strengths[described] = max(strengths.get(described, 0.0), GLOBAL_STRENGTH)
        if strengths:
            if not exact and reading.coverage < MIN_COVERAGE:
                return None
            if not exact and context.exercises:
                # A part of a name ("exercise", "hold") may as well point at the topic at hand.
                return {**at_hand, **strengths}
            return strengths
        understood = reading.coverage >= MIN_COVERAGE
        follows_up = reading.intents or reading.ask_terms or reading.refers_back
        if context.exercises and understood and follows_up:
            return at_hand
        found = self._found_by_words(reading)
        return {found: GLOBAL_STRENGTH} if found else None

    def _muscle_question(self, reading: Reading, context: Context) -> bool:
        """Whether a question naming no exercise ("how can I strengthen my hip flexors?")
        asks which exercises train a muscle; "does it work my glutes?" stays with the
        exercise at hand."""
        named = any(
            m.exact and self.kb.records[m.record].kind == "exercise" for m in reading.mentions
        )
        at_hand = bool(context.exercises) and reading.refers_back
        asked = bool(self.index.asked_muscles(reading.ask_terms))
        return reading.muscle_ask and asked and not named and not at_hand

    def _for_muscles(self, reading: Reading, context: Context) -> Reply:
        """Exercises whose main muscles are the ones asked about ("how can I strengthen my
        hip flexors?"), those fitting the person's situation first."""
        wanted = _merge(reading.situations, context.constraints)
        found = self.index.records_for_muscles(reading.ask_terms)
        if not found:
            return Reply(self._decline(None), context)
        fits = {rid: [s for s in wanted if self.index.record_fits(rid, s)] for rid in found}
        ranked = sorted(found, key=lambda rid: (-len(fits[rid]), found.index(rid)))[:4]
        items = []
        for rid in ranked:
            record = self.kb.records[rid]
            tag = ", ".join(self._situations[s] for s in fits[rid] if s in self._situations)
            notes = [
                n
                for n in (
                    "a stretch" if record.movement == "stretch" else "",
                    f"fits {tag}" if tag else "",
                )
                if n
            ]
            name = f"{record.name} ({'; '.join(notes)})" if notes else record.name
            items.append(f"{name}: {record.summary}")
        muscles = ", ".join(self.index.asked_muscles(reading.ask_terms))
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
        return Reply(self._fit(answer), self._remember(context, (ranked[0],), "muscles"))

    def _found_by_words(self, reading: Reading) -> str | None:
        """The record a question naming none still clearly means, if any.

        Most of its words must be known. Then either one item of knowledge holds most of them,
        resting on two words or one rare word (one common word like "times" is chance), or
        the words describe one record far better than any other ("lie on your back and pull
        your knees to your chest"). "It" in a short question points at something never said,
        so it needs a closer match.
        """
        if not reading.hits or reading.coverage < GLOBAL_COVERAGE:
            return None
        top = reading.hits[0]
        short = len(reading.analysed.content) <= 2
        needed = REFERENCE_MIN_TEXT if reading.refers_back and short else GLOBAL_MIN_TEXT
        matched = set(reading.ask_terms) & set(top.unit.terms)
        rare = any(map(self.index.is_rare, matched))
        if (top.text >= needed and (len(matched) >= 2 or rare)) or (
            rare and top.text >= RARE_MIN_TEXT
        ):
            return top.unit.record
        return self._described_record(reading)

    def _described_record(self, reading: Reading) -> str | None:
        """The record the question's words describe clearly better than any other."""
        described = self.index.describe(reading.ask_terms)
        if len(reading.ask_terms) < MIN_DESCRIPTION_TERMS or not described:
            return None
        best = described[0][1]
        runner_up = described[1][1] if len(described) > 1 else 0.0
        if best >= DESCRIPTION_MIN_FIT and best - runner_up >= DESCRIPTION_MARGIN:
            return described[0][0]
        return None

    def _described(self, reading: Reading, rid: str) -> Reading:
        """Once words describing a record ("lie on your back, knees to chest") have found it,
        they are its name: what remains of the question is the ask."""
        naming = self.index.description_terms(rid)
        rest = tuple(t for t in reading.ask_terms if t not in naming)
        if not rest and not reading.intents:
            return reading
        return replace(reading, ask_terms=rest, hits=self.index.search(rest, reading.weights))

    def _comparison_pair(self, reading: Reading, context: Context) -> tuple[str, ...]:
        """The two records to compare, when comparing is the clearest ask."""
        weight = reading.intents.get("comparison", 0.0)
        # The comparison card shows what each is and its main muscles, so those asks fit it.
        shown = ("comparison", "what", "muscles", "benefits")
        rivals = [w for i, w in reading.intents.items() if i not in shown and w >= weight]
        if weight < 0.5 or rivals:
            return ()
        named = reading.records
        if len(named) >= 2:
            return named[:2]
        if len(named) == 1 and context.exercises and context.exercises[0] != named[0]:
            return (context.exercises[0], named[0])  # "is that like a wall sit?"
        return ()

    def _ambiguous(self, reading: Reading, strengths: dict[str, float]) -> tuple[str, ...]:
        """Records too close to choose between, when only partial names were given."""
        partial = [m for m in reading.mentions if not m.exact]
        if len(partial) < 2 or any(m.exact for m in reading.mentions):
            return ()
        if max(strengths.values()) >= CONTEXT_STRENGTH:
            return ()  # a description or the context settles it
        ranked = sorted(partial, key=lambda m: -m.strength)
        if ranked[0].strength - ranked[1].strength > AMBIGUOUS_GAP:
            return ()
        if reading.hits and reading.hits[0].text >= GLOBAL_MIN_TEXT:
            return ()
        return tuple(dict.fromkeys(m.record for m in ranked[:3]))

    def _best_hit(self, reading: Reading, strengths: dict[str, float]) -> Hit:
        """The best unit for this reading.

        When the question clearly names records, or follows up on the conversation's, only
        their units compete: a word shared with another record ("breathe") must not pull the
        answer away. A generic name ("squat") or none lets any unit compete on its words.
        """
        focus = {r for r, s in strengths.items() if s >= CONTEXT_STRENGTH}
        candidates = [] if focus else list(reading.hits)
        seen = {h.unit.n for h in candidates}
        for rid in focus or strengths:
            candidates.extend(
                Hit(u, self.index.unit_text(u, reading.ask_terms, reading.weights))
                for u in self.index.by_record[rid]
                if u.n not in seen
            )

        intents = dict(reading.intents)
        if len(strengths) < 2 and "comparison" in intents:
            # "compared to my hips" with one exercise in view compares no exercises.
            intents["comparison"] = min(intents["comparison"], HINT)

        def score(hit: Hit) -> float:
            # A clear ask ("how heavy") halves the word match of items answering other asks:
            # a FAQ on "too heavy" shares the word but not the question.
            off_ask = reading.clear_intents and hit.unit.intent not in reading.clear_intents
            # A FAQ answer is narrower than its section, so it must match more to win.
            faq = FAQ_PENALTY if hit.unit.key.startswith("faq:") else 0.0
            return (
                W_TEXT * hit.text * (OFF_ASK_FACTOR if off_ask else 1.0)
                - faq
                + W_INTENT * intents.get(hit.unit.intent, 0.0)
                + W_RECORD * strengths.get(hit.unit.record, 0.0)
            )

        return max(candidates, key=score)

    def _best_unit(self, reading: Reading, strengths: dict[str, float], context: Context) -> Reply:
        if not strengths and not reading.hits:
            return Reply(self._decline(None), context)
        hit = self._best_hit(reading, strengths)
        record = self.kb.records[hit.unit.record]
        text_match = hit.text
        if not reading.intents and text_match < OVERVIEW_MAX_TEXT and record.id in strengths:
            # A bare name: "what about negative squats?" after an ask carries that ask over;
            # with nothing to carry, an overview with the sections available next.
            carried = context.intent if context.exercises and context.intent in LABELS else None
            if carried and record.id not in context.exercises and has_section(record, carried):
                answer = self._section_answer(
                    record, carried, context.constraints, (), strengths[record.id]
                )
            else:
                answer = self._overview(record, strengths[record.id], context.constraints)
                carried = None
            return Reply(answer, self._remember(context, (record.id,), carried))
        # Sure of the record (named outright, by context, or only by the words) times sure of
        # the ask (a cue phrase or the words matching the item).
        sure_record = strengths.get(record.id, text_match)
        sure_ask = max(reading.intents.get(hit.unit.intent, 0.0), min(1.0, 2 * text_match))
        confidence = round(min(1.0, sure_record * (0.6 + 0.4 * sure_ask)), 2)
        answer = self._unit_answer(record, hit, reading, context.constraints, confidence)
        # After "which one ...?" about a pair, the pair stays at hand for the next one.
        pair = len(strengths) > 1 and set(strengths) == set(context.exercises)
        focus = (record.id, *(r for r in strengths if r != record.id)) if pair else (record.id,)
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
        wanted = _merge(reading.situations, constraints)
        if kind == "faq":
            part = sections.faq(record, index or 0)
            title = f"{record.name}: {record.faq[index or 0].q}"
            return self._finish(record, unit.intent, title, [part], confidence, wanted)
        intent = unit.intent
        ask = Ask(reading.ask_terms, reading.analysed.content, wanted)
        parts = [self._part(record, intent, unit.key, ask)]
        second = self._second_intent(reading, record, intent)
        if second:
            parts.append(self._part(record, second, "", ask))
        title = f"{record.name}: {LABELS[intent].lower()}" if intent != "what" else record.name
        return self._finish(record, intent, title, parts, confidence, wanted)

    def _second_intent(self, reading: Reading, record: Record, first: str) -> str | None:
        """A second ask in the same question ("how do I set it up and what should I check?")."""
        ranked = sorted(reading.intents.items(), key=lambda kv: -kv[1])
        for intent, weight in ranked:
            if intent in (first, "comparison", "what") or weight < 0.5:
                continue
            if has_section(record, intent):
                return intent
        return None

    def _part(self, record: Record, intent: str, key: str, ask: Ask) -> Part:
        """The blocks for ``intent`` of ``record``, led by the item ``key`` or by the ask."""
        kind, _, num = key.partition(":")
        index = int(num) if num.isdigit() else None
        if intent == "muscles":
            return sections.muscles(record, self._muscle_lead(record, ask.terms))
        if intent == "steps" and record.methods:
            # "banded reverse squat": words inside the name can choose the method too.
            methods = [
                " ".join((m.name, *m.equipment, *m.setup, *m.steps)) for m in record.methods
            ]
            own = set(self.index.analyzer.terms(record.name))
            chosen = self._lead([t for t in ask.content if t not in own], methods, minimum=0.0)
            fallback = index if kind == "method" and index is not None else 0
            return sections.steps(record, fallback if chosen is None else chosen)
        if intent == "checklist" and record.checklist:
            return sections.checklist(record)
        if intent == "mistakes" and record.mistakes:
            texts = [f"{m.mistake} {m.fix}" for m in record.mistakes]
            return sections.mistakes(record, self._item(kind, "mistake", index, ask, texts))
        if intent == "cautions" and has_section(record, "cautions"):
            lead = self._situation_lead(record, ask.wanted, cautions_only=True)
            return sections.cautions(record, lead)
        if intent == "alternatives" and record.alternatives:
            return sections.alternatives(record, self.kb, ask.wanted, self._situations)
        if intent == "benefits" and has_section(record, "benefits"):
            texts = [f"{b.name} {b.text}" for b in record.benefits]
            first = -1 if kind == "suits" else self._item(kind, "benefit", index, ask, texts)
            return sections.benefits(record, first)
        if intent == "variations" and record.variations:
            texts = [f"{v.name} {v.text}" for v in record.variations]
            return sections.variations(record, self._item(kind, "var", index, ask, texts))
        if intent == "programming" and record.programming:
            texts = [f"{p.name} {p.text}" for p in record.programming]
            return sections.programming(record, self._item(kind, "prog", index, ask, texts))
        return sections.what(record, self.kb, index if kind in ("fact", "point") else None)

    def _situation_lead(
        self, record: Record, wanted: tuple[str, ...], *, cautions_only: bool = False
    ) -> str | None:
        """What in ``record`` answers a situation the person stated: an alternative tagged
        for it, else a caution about it ("you mentioned a weak core: ...")."""
        cautions = [*record.cautions, *(f"{a.who}: {a.why}" for a in record.avoid_if)]
        for sid in wanted:
            label = self._situations.get(sid)
            if label is None:
                continue
            for alt in () if cautions_only else record.alternatives:
                if sid in alt.situations:
                    name = alt.name or self.kb.records[alt.exercise or ""].name
                    return f"You mentioned {label}: consider the {name.lower()}. {alt.why}"
            about = self.index.situation_terms.get(sid, frozenset())
            for item in cautions:
                if about & set(self.index.analyzer.terms(item)):
                    return f"You mentioned {label}: {item}"
        return None

    def _item(
        self, kind: str, expected: str, index: int | None, ask: Ask, texts: list[str]
    ) -> int | None:
        """The item to lead with: the unit that matched, else the one the ask's words fit."""
        return index if kind == expected else self._lead(ask.terms, texts)

    def _lead(
        self, ask: Sequence[str], texts: list[str], minimum: float = LEAD_MIN_OVERLAP
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
                    return f"Yes: the {record.name.lower()} works the {muscle.name} as {role}."
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
            missing = None if intent == "overview" else intent
            return self._overview(record, confidence, constraints, missing)
        part = self._part(record, intent, "", Ask(ask, ask, constraints))
        title = f"{record.name}: {LABELS[intent].lower()}"
        return self._finish(record, intent, title, [part], confidence, constraints)

    def _overview(
        self,
        record: Record,
        confidence: float,
        wanted: tuple[str, ...] = (),
        missing: str | None = None,
    ) -> Answer:
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
        overview = Part(tuple(blocks), part.sources)
        return self._finish(
            record, "overview", record.name, [overview], round(confidence, 2), wanted
        )

    def _comparison(self, pair: tuple[str, ...]) -> Answer:
        records = [self.kb.records[r] for r in pair]
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
        self,
        record: Record,
        intent: str,
        title: str,
        parts: list[Part],
        confidence: float,
        wanted: tuple[str, ...] = (),
    ) -> Answer:
        """The answer for ``record``: its parts, led by what the person's stated situation
        calls for, with sources and the sections to offer next."""
        lead: list[Block] = []
        if MEDICAL in wanted:
            lead.append(Block(None, (self.kb.language.referral,), "paragraph"))
        # Only answers about the exercise as a whole ("is it for me?") lead with the
        # situation; steps or variations would repeat it on every follow-up.
        situation = self._situation_lead(record, wanted) if intent in SITUATION_LEAD else None
        if situation:
            lead.append(Block(None, (situation,), "paragraph"))
        blocks = (*lead, *(b for p in parts for b in p.blocks))
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
        """Trim trailing items until the plain-text reply fits :data:`MAX_REPLY_CHARS`.

        Items are dropped from the block with the most of them, counting the characters they
        free, so a long list is cut in one pass rather than re-rendered item by item."""
        blocks = list(answer.blocks)
        excess = len(render_text(answer)) - MAX_REPLY_CHARS
        while excess > 0:
            longest = max(range(len(blocks)), key=lambda i: len(blocks[i].items) if i else 0)
            block = blocks[longest]
            if len(block.items) > 1:
                items = list(block.items)
                while len(items) > 1 and excess > 0:
                    excess -= len(items.pop()) + ITEM_OVERHEAD
                blocks[longest] = replace(block, items=tuple(items))
            elif len(blocks) > 1:
                blocks.pop()
            else:
                item = block.items[0]
                blocks[0] = replace(block, items=(item[: MAX_REPLY_CHARS // 2].rstrip() + "…",))
            excess = len(render_text(replace(answer, blocks=tuple(blocks)))) - MAX_REPLY_CHARS
        return replace(answer, blocks=tuple(blocks))

    # -- fixed replies -------------------------------------------------------------------

    def _names(self, kind: str, limit: int | None = None) -> tuple[str, ...]:
        """Display names of the records of ``kind``; past ``limit``, a pointer to the rest."""
        names = self._names_by_kind.get(kind, ())
        if limit is None or len(names) <= limit:
            return names
        return (*names[:limit], f"…and {len(names) - limit} more: send /exercises")

    def _covered(self) -> Answer:
        blocks = (
            Block("Exercises", self._names("exercise")),
            Block("Topics", self._names("topic")),
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
        names = ", ".join(self._names("exercise", NAMES_SHOWN))
        blocks.append(Block("I cover", (names,), "paragraph"))
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
            if what
            else "That's not something my knowledge base covers, so I won't guess."
        )
        blocks = (
            Block(None, (lead,), "paragraph"),
            Block("What I can help with", self._names("exercise", NAMES_SHOWN)),
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
        note = Block(
            None,
            ("I'm not sure which exercise you mean. Pick one, or say yes for the first.",),
            "paragraph",
        )
        return Answer(
            False,
            "Did you mean…?",
            (note,),
            confidence=0.4,
            suggestions=tuple(Choice(self.kb.records[c].name, c, "overview") for c in candidates),
        )

    @staticmethod
    def _remember(context: Context, records: tuple[str, ...], intent: str | None) -> Context:
        return replace(context, exercises=records, intent=intent, pending=())


def _merge(first: tuple[str, ...], second: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*first, *second)))
