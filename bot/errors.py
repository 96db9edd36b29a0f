"""Exceptions fitbot raises on purpose.

    FitbotError
     +-- KnowledgeError   the knowledge base failed validation (carries every problem)
     +-- ConfigError      settings missing or malformed (e.g. the bot token)

"No match" is an ordinary answer, never an exception.
"""

from __future__ import annotations

from dataclasses import dataclass


class FitbotError(Exception):
    """Base class for fitbot's own errors."""


@dataclass(frozen=True)
class Problem:
    """One validation problem: the file, the field inside it, and what is wrong."""

    file: str
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}: {self.field}" if self.field else self.file
        return f"{where}: {self.message}"


class KnowledgeError(FitbotError):
    """The knowledge base is broken; ``problems`` lists every issue found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = tuple(problems)
        lines = "\n".join(f"  {p}" for p in self.problems)
        super().__init__(f"knowledge base has {len(self.problems)} problem(s):\n{lines}")


class ConfigError(FitbotError):
    """A setting is missing or malformed."""
