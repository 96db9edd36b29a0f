"""Benchmarks, run by hand (``python -m benchmarks.run``), never in the test suite.

Every benchmark module exposes ``run(quick: bool = False) -> list[Result]``; :mod:`benchmarks.run`
calls each one and prints all the rows as one table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Result:
    """One row of the benchmark table; a figure a benchmark does not measure is None."""

    benchmark: str
    scenario: str
    per_second: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    load_s: float | None = None
    memory_mb: float | None = None
    notes: str = ""


COLUMNS = ("benchmark", "scenario", "per s", "p50 ms", "p99 ms", "load s", "memory MB", "notes")


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    if value >= 100:
        return f"{value:,.0f}"
    return f"{value:.3g}" if value < 1 else f"{value:.1f}"


def format_table(results: Sequence[Result]) -> str:
    """The rows as an aligned plain-text (and Markdown-compatible) table."""
    rows = [COLUMNS] + [
        (
            r.benchmark,
            r.scenario,
            _figure(r.per_second),
            _figure(r.p50_ms),
            _figure(r.p99_ms),
            _figure(r.load_s),
            _figure(r.memory_mb),
            r.notes,
        )
        for r in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(COLUMNS))]
    lines = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"
        for row in rows
    ]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)
