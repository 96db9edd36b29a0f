"""Drafted values with their provenance, and drafted records as the knowledge schema wants them.

A :class:`Value` is one piece of text taken from the article (:class:`Where`: under which
heading, on which lines), marked for rewriting when it is the article's own sentence, or a
``TODO`` when nothing in the article could fill a field the schema requires. A
:class:`DraftRecord` holds the fields in the schema's order; :meth:`DraftRecord.data` gives the
plain data a knowledge file holds (marks included), :meth:`DraftRecord.reviewed` the data as it
would be once a coach has written every mark away (used to check a draft validates).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from bot.review import REWRITE, TODO


@dataclass(frozen=True)
class Where:
    """Where a value came from: the heading it sat under and its lines."""

    heading: str
    first: int
    last: int

    def __str__(self) -> str:
        lines = (
            f"line {self.first}" if self.first == self.last else f"lines {self.first}-{self.last}"
        )
        return f"from \u201c{self.heading}\u201d, {lines}"


@dataclass(frozen=True)
class Value:
    """One drafted string. ``rewrite``: the article's own words, to rewrite; otherwise a name
    or label kept as the article gives it. ``todo``: what the coach must write (no source)."""

    text: str
    where: Where | None = None
    rewrite: bool = True
    todo: bool = False
    note: str | None = None

    def marked(self) -> str:
        """The value as written in the draft file, with its mark."""
        if self.todo:
            return f"{TODO} {self.text}"
        return f"{REWRITE} {self.text}" if self.rewrite else self.text

    def reviewed(self) -> str:
        """The value once reviewed: marks dropped (a TODO stands for what the coach writes)."""
        return self.text


def todo(what: str) -> Value:
    """A value the coach must write."""
    return Value(what, rewrite=False, todo=True)


@dataclass
class DraftRecord:
    """One drafted record: schema fields in order (values are :class:`Value`, lists, dicts, or
    plain strings for ``id``, ``kind`` and ``source``), and the optional fields left empty."""

    id: str
    kind: str
    fields: dict[str, Any] = field(default_factory=dict)
    unfilled: list[str] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)

    def data(self) -> dict[str, Any]:
        """The record as its draft file holds it."""
        return {"id": self.id, "kind": self.kind, **_plain(self.fields, reviewed=False)}

    def reviewed(self) -> dict[str, Any]:
        """The record as it would be once every mark is written away."""
        return {"id": self.id, "kind": self.kind, **_plain(self.fields, reviewed=True)}


def _plain(value: Any, *, reviewed: bool) -> Any:
    if isinstance(value, Value):
        return value.reviewed() if reviewed else value.marked()
    if isinstance(value, dict):
        return {k: _plain(v, reviewed=reviewed) for k, v in value.items() if v not in (None, [])}
    if isinstance(value, list):
        return [_plain(v, reviewed=reviewed) for v in value]
    return value


def slug(text: str) -> str:
    """A record id from a name."""
    return "-".join(re.findall(r"[a-z0-9]+", text.lower())) or "draft"


def singular(word: str) -> str:
    """A plural word made singular, simply ("squats" -> "squat", "marches" -> "march")."""
    lowered = word.lower()
    if lowered.endswith("ies") and len(word) > 4:
        return word[:-3] + ("Y" if word[-1].isupper() else "y")
    if re.search(r"(ch|sh|ss|x)es$", lowered):
        return word[:-2]
    if lowered.endswith("s") and not lowered.endswith(("ss", "us", "is")) and len(word) > 3:
        return word[:-1]
    return word


def plural(phrase: str) -> str:
    """A name made plural on its last word ("reverse squat" -> "reverse squats")."""
    if re.search(r"(ch|sh|s|x|z)$", phrase):
        return phrase + "es"
    if re.search(r"[^aeiou]y$", phrase):
        return phrase[:-1] + "ies"
    return phrase + "s"


def sentence_case(text: str) -> str:
    """A name in sentence case: "Backwards Leg Hold" -> "Backwards leg hold"; acronyms and
    numerals stay ("Warrior III")."""
    words = text.split()
    out = []
    for index, word in enumerate(words):
        keep = word.isupper() and len(word) > 1
        if index == 0:
            out.append(word if keep else word[:1].upper() + word[1:].lower())
        else:
            out.append(word if keep else word.lower())
    return " ".join(out)
