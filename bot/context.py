"""Per-chat conversation state: what was discussed and what the person told us."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace

# How many recently discussed records a chat remembers ("which of them is easiest?").
RECENT = 5


@dataclass(frozen=True)
class Context:
    """What a chat has talked about so far.

    ``exercises`` holds the record(s) last discussed, the one answered about first (two after a
    comparison); ``intent`` the last ask; ``constraints`` the situation ids the person stated
    ("weak-core", "at-home"); ``pending`` the "did you mean" candidates offered last, so a bare
    "yes" or "the second one" can pick one; ``recent`` the records discussed lately, newest
    first; ``lead`` the fact the last answer led with, as (record, kind, method, position);
    ``listed`` the records the last comparison or list showed, in order ("the second one");
    ``measured`` what the last question asked to measure ("how long": duration), so "and
    coming back up?" asks the same; ``said`` the words the last message was about ("stuck
    for 3 months": plateau, month), so a bare "would negative squats help?" asks about them.
    """

    exercises: tuple[str, ...] = ()
    intent: str | None = None
    constraints: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()
    recent: tuple[str, ...] = ()
    lead: tuple[str, str, int, int] | None = None
    listed: tuple[str, ...] = ()
    measured: tuple[str, ...] = ()
    said: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Serialise for the persistent store."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Context:
        """Rebuild from :meth:`to_json` output; unknown or malformed data gives a fresh context
        (a context saved by an older version loads with the fields it has)."""
        try:
            data = json.loads(raw)
            lead = data.get("lead")
            return cls(
                exercises=tuple(str(x) for x in data.get("exercises", ())),
                intent=data.get("intent"),
                constraints=tuple(str(x) for x in data.get("constraints", ())),
                pending=tuple(str(x) for x in data.get("pending", ())),
                recent=tuple(str(x) for x in data.get("recent", ())),
                listed=tuple(str(x) for x in data.get("listed", ())),
                measured=tuple(str(x) for x in data.get("measured", ())),
                said=tuple(str(x) for x in data.get("said", ())),
                lead=(str(lead[0]), str(lead[1]), int(lead[2]), int(lead[3]))
                if isinstance(lead, list) and len(lead) == 4
                else None,
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def reset(self) -> Context:
        """Forget topic and constraints."""
        return Context()

    def about(
        self,
        records: tuple[str, ...],
        intent: str | None,
        lead: tuple[str, str, int, int] | None = None,
        offered: tuple[str, ...] = (),
        listed: tuple[str, ...] | None = None,
        measured: tuple[str, ...] = (),
    ) -> Context:
        """The context after an answer about ``records`` (the first is the focus); ``offered``
        are other records the answer named ("try the psoas march"), which "that one" may mean
        next."""
        recent = tuple(dict.fromkeys((*records, *offered, *self.recent)))[:RECENT]
        return replace(
            self,
            exercises=records,
            intent=intent,
            pending=(),
            recent=recent,
            lead=lead,
            listed=self.listed if listed is None else listed,
            measured=measured,
        )
