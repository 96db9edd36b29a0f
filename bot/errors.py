"""Exceptions fitbot raises on purpose.

    FitbotError
     +-- KnowledgeError   the knowledge base failed validation (carries every problem)
     +-- ConfigError      settings missing or malformed (e.g. the bot token)

"No match" is an ordinary answer, never an exception.
"""

from __future__ import annotations

import re
import reprlib
from collections.abc import Iterable
from dataclasses import dataclass, fields

# A problem is one line of a report: its parts are cut to these lengths, line breaks and other
# control characters (from a file name or a value) become spaces.
MAX_WHERE_CHARS = 200
MAX_MESSAGE_CHARS = 300
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")


def _short_repr() -> reprlib.Repr:
    short = reprlib.Repr()
    short.maxstring = short.maxother = 60
    short.maxlist = short.maxtuple = short.maxdict = short.maxset = 4
    short.maxlevel = 2
    return short


# The repr of a value in a problem message: a few dozen characters whatever the value, and
# computed without building the repr of all of it.
short_repr = _short_repr().repr


def one_line(text: str, limit: int) -> str:
    """``text`` on one line, cut to ``limit`` characters (the last one an ellipsis)."""
    text = _CONTROL.sub(" ", text)
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


class FitbotError(Exception):
    """Base class for fitbot's own errors."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: the file, the field inside it, and what is wrong."""

    file: str
    field: str
    message: str

    def __post_init__(self) -> None:
        for part in fields(self):
            limit = MAX_MESSAGE_CHARS if part.name == "message" else MAX_WHERE_CHARS
            # frozen: the bounded form replaces what was given, once, here
            object.__setattr__(self, part.name, one_line(getattr(self, part.name), limit))

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class KnowledgeError(FitbotError):
    """The knowledge base is broken: ``problems`` lists the issues found, ``total`` counts
    them (more than are listed when there were very many)."""

    def __init__(self, problems: Iterable[Problem], total: int | None = None) -> None:
        self.problems = tuple(problems)
        self.total = max(total or 0, len(self.problems))
        lines = [f"  {p}" for p in self.problems]
        if self.more:
            lines.append(f"  ... and {self.more} more")
        super().__init__(f"knowledge base has {self.total} problem(s):\n" + "\n".join(lines))

    @property
    def more(self) -> int:
        """Problems counted but not listed."""
        return self.total - len(self.problems)


class ConfigError(FitbotError):
    """A setting is missing or malformed."""
