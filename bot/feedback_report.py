"""``fitbot report feedback``: how people rated the answers, per exercise and section.

Per record and section: the answers given (questions typed and section buttons, from the daily
counts), the 👍 and 👎 pressed under them, and the helpful rate (👍 out of all ratings); then
every 👎 with its question and what the person said they were looking for, most recent first.
Read from the state file, read-only, so it runs beside the bot.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.report import EXIT_USAGE, iso_time, local_time, parse_since, state_of
from bot.settings import REDIS_SCHEMES
from bot.state.store import AnswerCount, Rating, read_answer_counts, read_ratings

NO_RATE = "-"
UP, DOWN = "\N{THUMBS UP SIGN}", "\N{THUMBS DOWN SIGN}"
UNKNOWN_QUESTION = "(not kept: a section button, or asked before a restart)"


@dataclass
class Tally:
    """Answers given and ratings of one record, or of one section of it."""

    answers: int = 0
    up: int = 0
    down: int = 0

    @property
    def helpful_rate(self) -> float | None:
        """👍 out of all ratings; None with no rating."""
        rated = self.up + self.down
        return self.up / rated if rated else None


@dataclass
class RecordTally(Tally):
    """One record's tally, and its sections'."""

    sections: dict[str, Tally] = field(default_factory=dict)


@dataclass(frozen=True)
class FeedbackReport:
    """Everything ``fitbot report feedback`` shows."""

    since: float | None
    total: Tally
    records: dict[str, RecordTally]  # most answered first
    down_votes: tuple[Rating, ...]  # most recent first

    def ordered(self) -> list[tuple[str, RecordTally]]:
        """Records, most answered first (then most rated, then by id); each one's sections
        the same way."""
        return sorted(self.records.items(), key=lambda item: _order(*item))


def _order(name: str, tally: Tally) -> tuple[int, int, str]:
    return (-tally.answers, -(tally.up + tally.down), name)


def build_report(
    ratings: Iterable[Rating], counts: Iterable[AnswerCount], since: float | None
) -> FeedbackReport:
    """Tally ``ratings`` and ``counts`` per record and section."""
    records: dict[str, RecordTally] = defaultdict(RecordTally)
    total = Tally()

    def tallies(record: str, section: str) -> tuple[Tally, Tally]:
        whole = records[record]
        return whole, whole.sections.setdefault(section, Tally())

    for count in counts:
        if count.answered and count.record:
            for tally in (total, *tallies(count.record, count.section)):
                tally.answers += count.count
    down: list[Rating] = []
    for rating in ratings:
        for tally in (total, *tallies(rating.record, rating.section)):
            if rating.helpful:
                tally.up += 1
            else:
                tally.down += 1
        if not rating.helpful:
            down.append(rating)
    down.sort(key=lambda r: -r.rated_at)
    return FeedbackReport(since, total, dict(records), tuple(down))


def render_text(report: FeedbackReport) -> str:
    """The report for a terminal."""
    window = f" since {local_time(report.since)}" if report.since is not None else ""
    total = report.total
    if not report.records:
        return f"No answers or ratings{window}."
    lines = [
        f"Feedback{window}: {total.answers} answer(s) given, {total.up} {UP}, "
        f"{total.down} {DOWN}, helpful {_rate(total)}.",
        "",
        # The thumbs are two columns wide in a terminal.
        f"{'exercise / section':<34}{'answers':>8}{UP:>5}{DOWN:>5}{'helpful':>9}",
    ]
    for name, record in report.ordered():
        lines.append(_row(name, record))
        for section, tally in sorted(record.sections.items(), key=lambda item: _order(*item)):
            lines.append(_row(f"  {section}", tally))
    if report.down_votes:
        lines += ["", f"{DOWN} and what people were looking for, most recent first:"]
        for rating in report.down_votes:
            lines += [
                "",
                f"  {local_time(rating.rated_at)}  {rating.record} / {rating.section} "
                f"(confidence {rating.confidence:.2f})",
                f"      asked:       {_quoted(rating.question) or UNKNOWN_QUESTION}",
                f"      looking for: {_quoted(rating.comment) or '(no comment)'}",
            ]
    return "\n".join(lines)


def render_json(report: FeedbackReport) -> dict[str, Any]:
    """The report as JSON (times in ISO 8601 with their UTC offset)."""
    return {
        "since": iso_time(report.since) if report.since is not None else None,
        **_tally_json(report.total),
        "exercises": [
            {
                "exercise": name,
                **_tally_json(record),
                "sections": [
                    {"section": section, **_tally_json(tally)}
                    for section, tally in sorted(
                        record.sections.items(), key=lambda item: _order(*item)
                    )
                ],
            }
            for name, record in report.ordered()
        ],
        "down_votes": [
            {
                "rated_at": iso_time(r.rated_at),
                "exercise": r.record,
                "section": r.section,
                "confidence": r.confidence,
                "question": r.question,
                "comment": r.comment,
            }
            for r in report.down_votes
        ],
    }


def read_feedback(state: str, since: float | None) -> tuple[list[Rating], list[AnswerCount]]:
    """The ratings and answer counts kept in ``state``: a state file (read-only), or the
    replicas' ``redis://`` URL."""
    if state.lower().startswith(REDIS_SCHEMES):
        from bot.state import redis_store

        return asyncio.run(redis_store.read_feedback(state, since))
    return read_ratings(Path(state), since), read_answer_counts(Path(state), since)


def read_report(state: str, since: float | None) -> FeedbackReport:
    """The report from ``state`` (a state file, read-only, or a ``redis://`` URL)."""
    return build_report(*read_feedback(state, since), since)


def add_feedback_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fitbot report feedback``."""
    parser.add_argument(
        "--since",
        help="only ratings since DATE (2024-05-01, local time) or DURATION ago (30m, 24h, 7d, "
        "2w); answers given are counted by whole days (UTC)",
    )
    parser.add_argument(
        "--state", help="state file, or the replicas' redis:// URL (env FITBOT_STATE)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_feedback(args: argparse.Namespace) -> int:
    """``fitbot report feedback``: 0 with the report, 2 for a bad flag or no state file."""
    state = state_of(args)
    try:
        since = parse_since(args.since, now=time.time()) if args.since else None
        report = read_report(state, since)
    except (ValueError, ConfigError) as exc:
        print(f"fitbot report feedback: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.json:
        print(json.dumps(render_json(report), ensure_ascii=False, indent=2))
    else:
        print(render_text(report))
    return 0


def _row(name: str, tally: Tally) -> str:
    return f"{name:<34}{tally.answers:>8}{tally.up:>6}{tally.down:>6}{_rate(tally):>9}"


def _rate(tally: Tally) -> str:
    rate = tally.helpful_rate
    return f"{rate:.0%}" if rate is not None else NO_RATE


def _tally_json(tally: Tally) -> dict[str, Any]:
    return {
        "answers": tally.answers,
        "up": tally.up,
        "down": tally.down,
        "helpful_rate": tally.helpful_rate,
    }


def _quoted(text: str | None) -> str | None:
    return json.dumps(text, ensure_ascii=False) if text else None
