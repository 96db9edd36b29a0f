"""Per-chat conversation state: what was discussed and what the person told us."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Context:
    """What a chat has talked about so far.

    ``exercises`` holds the record(s) last discussed (two after a comparison), ``intent`` the
    last ask, ``constraints`` the situation ids the person stated ("weak-core", "at-home"),
    and ``pending`` the "did you mean" candidates offered last, so a bare "yes" can pick one.
    """

    exercises: tuple[str, ...] = ()
    intent: str | None = None
    constraints: tuple[str, ...] = ()
    pending: tuple[str, ...] = ()

    def to_json(self) -> str:
        """Serialise for the persistent store."""
        return json.dumps(asdict(self), separators=(",", ":"))

    @classmethod
    def from_json(cls, raw: str) -> Context:
        """Rebuild from :meth:`to_json` output; unknown or malformed data gives a fresh context."""
        try:
            data = json.loads(raw)
            return cls(
                exercises=tuple(str(x) for x in data.get("exercises", ())),
                intent=data.get("intent"),
                constraints=tuple(str(x) for x in data.get("constraints", ())),
                pending=tuple(str(x) for x in data.get("pending", ())),
            )
        except (ValueError, TypeError, AttributeError):
            return cls()

    def reset(self) -> Context:
        """Forget topic and constraints."""
        return replace(self, exercises=(), intent=None, constraints=(), pending=())
