"""The engine's output: structured answers that each front end renders its own way."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Style = Literal["numbered", "bulleted", "paragraph"]


@dataclass(frozen=True)
class Block:
    """One section of an answer: a heading and its items in a given style."""

    heading: str | None
    items: tuple[str, ...]
    style: Style = "bulleted"


@dataclass(frozen=True)
class Choice:
    """A next step the reader can take: show ``intent`` of ``exercise`` (a record id)."""

    label: str
    exercise: str
    intent: str


@dataclass(frozen=True)
class Answer:
    """What the engine says to one message.

    ``answered`` is False when the bot declines (not covered, unclear). ``followups`` are the
    next useful sections of the same record; ``suggestions`` are "did you mean" candidates.
    """

    answered: bool
    title: str
    blocks: tuple[Block, ...]
    exercise: str | None = None
    intent: str | None = None
    confidence: float = 0.0
    sources: tuple[str, ...] = ()
    followups: tuple[Choice, ...] = field(default=())
    suggestions: tuple[Choice, ...] = field(default=())
