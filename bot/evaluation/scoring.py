"""What a labelled case asks of a reply, what a system replied, and pass rates: the scoring
primitives that :mod:`bot.evaluation` and its per-stage report share."""

from __future__ import annotations

from dataclasses import dataclass

# score.py's default: a reply longer than this fails.
DEFAULT_MAX_CHARS = 1500


@dataclass(frozen=True)
class Case:
    """One message to answer and what its reply must satisfy.

    Cases with the same ``chat`` share a conversation, in file order.
    """

    id: str
    chat: str
    kind: str
    text: str
    exercise: str | None = None
    intent: str | None = None
    must: tuple[tuple[str, ...], ...] = ()
    must_not: tuple[str, ...] = ()
    must_reply: bool = False


@dataclass(frozen=True)
class Got:
    """What a system replied to one message."""

    answered: bool
    reply: str
    exercise: str | None = None
    intent: str | None = None
    move: str | None = None


def problems(case: Case, got: Got, max_chars: int = DEFAULT_MAX_CHARS) -> tuple[str, ...]:
    """Why ``got`` fails ``case`` under score.py's rules; empty when it passes."""
    low = got.reply.lower()
    found: list[str] = []
    if len(got.reply) > max_chars:
        found.append(f"too long ({len(got.reply)} > {max_chars} chars)")
    if case.kind == "in" and not got.answered:
        found.append("declined")
    if case.kind == "out" and got.answered:
        found.append("answered, should decline")
    if case.kind == "turn" and case.must_reply and not got.reply.strip():
        found.append("empty reply")
    if case.kind != "out":
        found.extend(
            f"missing one of {list(group)}"
            for group in case.must
            if not any(term.lower() in low for term in group)
        )
    found.extend(f"contains {term!r}" for term in case.must_not if term.lower() in low)
    return tuple(found)


@dataclass(frozen=True)
class Outcome:
    """A case, a system's reply to it, and why it failed (nothing when it passed)."""

    case: Case
    got: Got
    problems: tuple[str, ...]

    @property
    def passed(self) -> bool:
        """Whether the reply met every rule."""
        return not self.problems


@dataclass(frozen=True)
class Rate:
    """Passed out of total."""

    passed: int
    total: int

    @property
    def percent(self) -> float:
        """The pass rate in percent (100 for no cases: nothing failed)."""
        return 100.0 * self.passed / self.total if self.total else 100.0

    def __str__(self) -> str:
        return f"{self.passed:>3}/{self.total:<3} {self.percent:5.1f}%"
