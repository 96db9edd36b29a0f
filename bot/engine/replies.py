"""Replies that are not about one record's facts: greetings, the catalogue, "did you mean",
declines, and the length limit every reply is fitted to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from bot.answers import Answer, Block, Choice
from bot.engine.facts import Section
from bot.knowledge import KnowledgeBase
from bot.render import render_text
from bot.schema import DistinctFrom, Record
from bot.text import words

# Longest reply, in plain-text characters: answers address the ask, not the whole card.
MAX_REPLY_CHARS = 1400
# Names a welcome or a decline lists before pointing to /exercises.
NAMES_SHOWN = 15
# Sections that open with what fits the person's stated situation (steps or variations would
# repeat it on every follow-up).
SITUATION_LEAD = (Section.WHAT, Section.BENEFITS, Section.CAUTIONS, Section.ALTERNATIVES)


def fit(answer: Answer, limit: int = MAX_REPLY_CHARS) -> Answer:
    """``answer`` trimmed until its plain-text reply is at most ``limit`` characters.

    Trailing items go first, from the block with the most of them (the first block, which
    holds the lead, last); then whole trailing blocks; then the text of a last item; then the
    title and what follows the blocks. Every step removes something, so it always finishes.
    """
    if len(render_text(answer)) <= limit:
        return answer
    blocks = list(answer.blocks)
    while blocks and len(render_text(replace(answer, blocks=tuple(blocks)))) > limit:
        longest = max(
            range(len(blocks)),
            key=lambda i: (len(blocks[i].items) if i or len(blocks) == 1 else 0, i),
        )
        if len(blocks[longest].items) > 1:
            blocks[longest] = replace(blocks[longest], items=blocks[longest].items[:-1])
        elif len(blocks) > 1:
            blocks.pop()
        else:
            break
    answer = replace(answer, blocks=tuple(blocks))
    excess = len(render_text(answer)) - limit
    if excess > 0 and blocks and blocks[0].items:
        item = blocks[0].items[0]
        keep = max(0, len(item) - excess - 1)
        blocks[0] = replace(blocks[0], items=(item[:keep].rstrip() + "…",))
        answer = replace(answer, blocks=tuple(blocks))
    excess = len(render_text(answer)) - limit
    if excess > 0:
        answer = replace(answer, followups=(), suggestions=())
        excess = len(render_text(answer)) - limit
    if excess > 0:
        title = answer.title[: max(1, len(answer.title) - excess - 1)] + "…"
        answer = replace(answer, title=title)
        excess = len(render_text(answer)) - limit
    if excess > 0:
        answer = replace(answer, sources=(), blocks=())
        title = answer.title[: max(1, limit - 1)]
        answer = replace(answer, title=title)
    return answer


class Replies:
    """Fixed replies, written from the knowledge base's names and language data."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        self.situations = {s.id: s.label for s in kb.language.situations}
        # Situations that are complaints: a cue of theirs holds a safety cue ("knee pain").
        safety = [tuple(words(cue)) for cue in kb.language.safety_cues]
        self.complaints = frozenset(
            s.id
            for s in kb.language.situations
            if any(_holds(tuple(words(cue)), phrase) for cue in s.cues for phrase in safety)
        )
        self._names_by_kind = {
            kind: tuple(r.name for r in kb.records.values() if r.kind == kind)
            for kind in ("exercise", "topic")
        }

    def names(self, kind: str, limit: int | None = None) -> tuple[str, ...]:
        """Display names of the records of ``kind``; past ``limit``, a pointer to the rest."""
        names = self._names_by_kind.get(kind, ())
        if limit is None or len(names) <= limit:
            return names
        return (*names[:limit], f"…and {len(names) - limit} more: send /exercises")

    def covered(self) -> Answer:
        """What the knowledge base covers."""
        blocks = (
            Block("Exercises", self.names("exercise")),
            Block("Topics", self.names("topic")),
        )
        return fit(Answer(True, "What I cover", blocks, intent="catalogue", confidence=1.0))

    def welcome(self, full: bool) -> Answer:
        """/start (and /help, with the commands)."""
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
        names = ", ".join(self.names("exercise", NAMES_SHOWN))
        blocks.append(Block("I cover", (names,), "paragraph"))
        return fit(
            Answer(True, "Hi, I'm fitbot", tuple(blocks), intent="greeting", confidence=1.0)
        )

    def talk(self, kind: str) -> Answer:
        """Thanks, a bare "yes" with nothing offered, and the like."""
        if kind in ("start", "help"):
            return self.welcome(kind == "help")
        if kind == "exercises":
            return self.covered()
        text = (
            "You're welcome. Ask me anything else about the exercises I cover, or send /exercises."
            if kind == "thanks"
            else "What would you like to know? Name an exercise, or send /exercises."
        )
        title = "You're welcome" if kind == "thanks" else "OK"
        return Answer(True, title, (Block(None, (text,), "paragraph"),), intent=kind)

    def prompt(self) -> Answer:
        """An empty message."""
        note = 'Send me a question about an exercise, e.g. "how do I do a reverse squat?"'
        return Answer(False, "Ask me something", (Block(None, (note,), "paragraph"),))

    def noted(self, situations: Sequence[str]) -> Answer:
        """A situation stated with nothing asked yet."""
        labels = ", ".join(self.situations[s] for s in situations if s in self.situations)
        note = (
            f"Noted: {labels}. I'll keep it in mind when I suggest alternatives. "
            "Which exercise are you asking about?"
        )
        return Answer(
            True,
            "Got it",
            (Block(None, (note,), "paragraph"),),
            intent="constraint",
            confidence=0.7,
        )

    def decline(self, what: str | None, offer: Sequence[Record] = ()) -> Answer:
        """Not covered; ``offer`` names covered records close to what was asked."""
        lead = (
            f"I don't cover the {what}, so I won't guess at it."
            if what
            else "That's not something my knowledge base covers, so I won't guess."
        )
        blocks = [Block(None, (lead,), "paragraph")]
        if offer:
            blocks.append(Block("Closest I do cover", tuple(r.name for r in offer)))
        blocks.append(Block("What I can help with", self.names("exercise", NAMES_SHOWN)))
        blocks.append(
            Block(
                None,
                ('Ask e.g. "what muscles does the reverse squat work?" or send /exercises.',),
                "paragraph",
            )
        )
        suggestions = tuple(Choice(r.name, r.id, "overview") for r in offer)
        return fit(
            Answer(False, "Not covered", tuple(blocks), confidence=0.0, suggestions=suggestions)
        )

    def not_in_articles(
        self,
        record: Record,
        section: Section | None,
        near: Sequence[str],
        amount: bool,
        followups: tuple[Choice, ...],
    ) -> Answer:
        """The knowledge base lacks what is asked about ``record``: say so, and show what it
        does hold on the subject (the facts nearest the question, else its summary)."""
        what = f"the {record.name.lower()}"
        if amount:
            note = f"The article doesn't give that number for {what}, so I won't guess one."
        elif section is not None:
            note = f"The article doesn't cover {section.label.lower()} for {what}."
        else:
            note = f"My articles don't say that about {what}, so I won't guess."
        blocks = [Block(None, (note,), "paragraph")]
        if near:
            blocks.append(Block("What the article does say", tuple(near)))
        else:
            blocks.append(Block(None, (record.summary,), "paragraph"))
        return fit(
            Answer(
                False,
                f"{record.name}: not in my articles",
                tuple(blocks),
                exercise=record.id,
                intent=section.value if section else None,
                confidence=0.3,
                sources=(self.kb.title(record.source),),
                followups=followups,
            )
        )

    def distinct(self, record: Record, item: DistinctFrom) -> Answer:
        """An exercise that shares a name with one of ours but is another one."""
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
            suggestions=(Choice(record.name, record.id, "overview"),),
        )

    def suggest(self, candidates: Sequence[str]) -> Answer:
        """Did you mean...?"""
        note = "I'm not sure which exercise you mean. Pick one, or say yes for the first."
        return Answer(
            False,
            "Did you mean…?",
            (Block(None, (note,), "paragraph"),),
            confidence=0.4,
            suggestions=tuple(Choice(self.kb.records[c].name, c, "overview") for c in candidates),
        )

    def situation_lead(
        self,
        record: Record,
        wanted: Sequence[str],
        section: Section,
        fresh: Sequence[str] = (),
    ) -> str | None:
        """What in ``record`` answers a situation the person stated: an alternative tagged
        for it ("you mentioned poor balance: consider the supported version"). Steps take it
        only from the message itself, so it is not repeated on every follow-up."""
        if section is Section.STEPS:
            wanted = fresh
        elif section not in SITUATION_LEAD:
            return None
        for sid in wanted:
            label = self.situations.get(sid)
            if label is None:
                continue
            if section is not Section.CAUTIONS:
                for alt in record.alternatives:
                    if sid in alt.situations:
                        name = alt.name or self.kb.records[alt.exercise or ""].name
                        return f"You mentioned {label}: consider the {name.lower()}. {alt.why}"
        return None


def _holds(text: tuple[str, ...], phrase: tuple[str, ...]) -> bool:
    """Whether ``phrase`` stands in ``text`` as consecutive words."""
    n = len(phrase)
    return n > 0 and any(text[i : i + n] == phrase for i in range(len(text) - n + 1))
