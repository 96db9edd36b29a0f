"""``fitbot report unanswered``: what people asked that the knowledge base did not answer.

The questions recorded by the bot (declined, or answered with low confidence) are grouped by
similarity (:mod:`bot.unanswered`) so that the coach sees topics, most asked first, rather
than a list of phrasings.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.errors import ConfigError
from bot.settings import DEFAULT_STATE, REDIS_SCHEMES
from bot.state.store import UnansweredQuestion, read_unanswered
from bot.unanswered import Group, group_questions

DURATION = re.compile(r"^(\d+)\s*([mhdw])$")
SECONDS_PER = {"m": 60, "h": 3_600, "d": 86_400, "w": 604_800}
OTHER_PHRASINGS_SHOWN = 3
DATE_FORMAT = "%Y-%m-%d %H:%M"
EXIT_USAGE = 2
SUGGESTIONS_NOTE = (
    "(With a suggestion for each: nothing has been changed. Review a snippet, write every "
    "TODO, then paste it into the file it names.)"
)


def parse_since(text: str, *, now: float) -> float:
    """Unix time from ``7d``/``24h``/``30m``/``2w`` (ago) or an ISO date or date-time (local
    time unless it names a zone). Raises :class:`ValueError` for anything else."""
    duration = DURATION.fullmatch(text.strip().lower())
    if duration:
        return now - int(duration.group(1)) * SECONDS_PER[duration.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ValueError(
            f"--since wants a duration such as 7d, 24h, 30m or 2w, or a date such as "
            f"2024-05-01, got {text!r}"
        ) from None


def render_text(
    groups: Sequence[Group],
    since: float | None,
    notes: Sequence[Sequence[str]] | None = None,
) -> str:
    """The report for a terminal; ``notes`` are more lines for each group (the suggestions)."""
    total = sum(g.count for g in groups)
    window = f" since {local_time(since)}" if since is not None else ""
    if not groups:
        return f"No unanswered questions{window}."
    lines = [
        f"{total} unanswered question(s) in {len(groups)} group(s){window}, most asked first:"
    ]
    if notes is not None:
        lines.append(SUGGESTIONS_NOTE)
    for index, group in enumerate(groups):
        lines += ["", f"{group.count:>5}x  {group.example}"]
        guess = "/".join(part for part in (group.exercise, group.intent) if part) or "none"
        lines.append(
            f"        best guess: {guess} (confidence {group.confidence:.2f}); "
            f"last asked {local_time(group.last_asked)}"
        )
        others = [json.dumps(text, ensure_ascii=False) for text, _ in group.phrasings[1:]]
        if others:
            shown = ", ".join(others[:OTHER_PHRASINGS_SHOWN])
            more = len(others) - OTHER_PHRASINGS_SHOWN
            lines.append(f"        also: {shown}" + (f" (+{more} more)" if more > 0 else ""))
        if notes is not None:
            lines += notes[index]
    return "\n".join(lines)


def render_json(
    groups: Sequence[Group],
    since: float | None,
    extra: Sequence[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The report as JSON (times in ISO 8601 with their UTC offset); ``extra`` adds keys to
    each group (the suggestions)."""
    return {
        "since": iso_time(since) if since is not None else None,
        "total": sum(g.count for g in groups),
        "groups": [
            {
                "count": g.count,
                "example": g.example,
                "phrasings": [{"text": text, "count": n} for text, n in g.phrasings],
                "best_guess": {
                    "exercise": g.exercise,
                    "intent": g.intent,
                    "confidence": g.confidence,
                },
                "first_asked": iso_time(g.first_asked),
                "last_asked": iso_time(g.last_asked),
                **(extra[index] if extra is not None else {}),
            }
            for index, g in enumerate(groups)
        ],
    }


def add_unanswered_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``fitbot report unanswered``."""
    parser.add_argument(
        "--since",
        help="only questions asked since DATE (2024-05-01, local time) or DURATION ago "
        "(30m, 24h, 7d, 2w)",
    )
    parser.add_argument(
        "--state", help="state file, or the replicas' redis:// URL (env FITBOT_STATE)"
    )
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.add_argument(
        "--suggest",
        action="store_true",
        help="for each group, the nearest record and section (or 'new topic') and a YAML "
        "snippet to review and paste; changes nothing",
    )


def state_of(args: argparse.Namespace) -> str:
    """Where a report reads: ``--state``, else ``FITBOT_STATE``, else the default file."""
    return str(args.state or os.environ.get("FITBOT_STATE") or DEFAULT_STATE)


def read_questions(state: str, since: float | None) -> list[UnansweredQuestion]:
    """The unanswered questions kept in ``state``: a state file (read-only), or the
    replicas' ``redis://`` URL."""
    if state.lower().startswith(REDIS_SCHEMES):
        from bot.state import redis_store

        return asyncio.run(redis_store.read_unanswered(state, since))
    return read_unanswered(Path(state), since)


def run_unanswered(args: argparse.Namespace) -> int:
    """``fitbot report unanswered``: 0 with the report, 2 for a bad flag or no state file."""
    state = state_of(args)
    try:
        since = parse_since(args.since, now=time.time()) if args.since else None
        groups = group_questions(read_questions(state, since))
    except (ValueError, ConfigError) as exc:
        print(f"fitbot report unanswered: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if getattr(args, "suggest", False):
        # Loading the knowledge base may fail (exit 2 in main), so only when asked.
        from bot.suggest import for_report

        notes, extra = for_report(getattr(args, "knowledge", None), groups)
    else:
        notes, extra = None, None
    if args.json:
        print(json.dumps(render_json(groups, since, extra), ensure_ascii=False, indent=2))
    else:
        print(render_text(groups, since, notes))
    return 0


def local_time(stamp: float) -> str:
    """``stamp`` (Unix time) as local ``YYYY-MM-DD HH:MM``."""
    return time.strftime(DATE_FORMAT, time.localtime(stamp))


def iso_time(stamp: float) -> str:
    """``stamp`` (Unix time) in ISO 8601 with the local UTC offset."""
    return datetime.fromtimestamp(stamp).astimezone().isoformat(timespec="seconds")
