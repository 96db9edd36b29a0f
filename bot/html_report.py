"""``fitbot report --html FILE``: the coach's loop on one self-contained page.

Questions per day, answered/declined/👍/👎 over time, the most missed questions with a
suggestion for each (:mod:`bot.suggest`), and the helpful rate per exercise. One HTML file with
its CSS inline and every chart an inline SVG drawn here: no script, no font, no image, nothing
fetched, so it opens the same from a laptop, a mail attachment or a server without network.

Every string that comes from people or the state file (questions, comments, record ids) goes
through :func:`html.escape`; the only markup is the page's own.
"""

from __future__ import annotations

import argparse
import html
import math
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from bot.errors import ConfigError
from bot.feedback_report import FeedbackReport, build_report, read_feedback
from bot.report import EXIT_USAGE, local_time, parse_since, read_questions, state_of
from bot.state.store import SECONDS_PER_DAY, VIA_QUESTION, AnswerCount, Rating
from bot.suggest import Suggestion
from bot.unanswered import Group, group_questions

TOP_MISSED = 10
WIDTH, HEIGHT = 760, 240
PAD_LEFT, PAD_RIGHT, PAD_TOP, PAD_BOTTOM = 44, 12, 14, 34
MAX_X_LABELS = 10
BAR_ROW = 26
COLOURS = {
    "answered": "#2f7d5b",
    "declined": "#c4553d",
    "up": "#2f6fb5",
    "down": "#b5892f",
}
# The thumbs with a word: not every system has an emoji font.
UP = "\N{THUMBS UP SIGN} helpful"
DOWN = "\N{THUMBS DOWN SIGN} not helpful"
LABELS = {"answered": "answered", "declined": "declined", "up": UP, "down": DOWN}
LATEST_DOWN = 10
CSS = """
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif;
  color: #1d232a; background: #f4f5f2; }
main { max-width: 840px; margin: 0 auto; padding: 24px 16px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 18px; margin: 0 0 12px; }
.sub { color: #5b6670; margin: 0 0 20px; }
section { background: #fff; border: 1px solid #dfe3e0; border-radius: 8px; padding: 16px 18px;
  margin: 0 0 18px; }
.totals { display: grid; grid-template-columns: repeat(auto-fit, minmax(120px, 1fr)); gap: 10px; }
.total { background: #f7f8f6; border-radius: 6px; padding: 8px 10px; }
.total b { display: block; font-size: 22px; }
.total span { color: #5b6670; font-size: 13px; }
svg.chart { display: block; width: 100%; height: auto; }
svg.chart text { font: 11px system-ui, sans-serif; fill: #5b6670; }
svg.chart .grid { stroke: #e6e9e6; }
svg.chart .axis { stroke: #9aa3a9; }
.legend { display: flex; gap: 16px; flex-wrap: wrap; margin: 6px 0 0; font-size: 13px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px;
  margin-right: 5px; vertical-align: -1px; }
table { width: 100%; border-collapse: collapse; }
td, th { text-align: left; vertical-align: top; padding: 8px 6px; border-top: 1px solid #e6e9e6; }
th { font-size: 13px; color: #5b6670; border-top: 0; }
td.n { text-align: right; width: 3em; font-weight: 600; }
.also { color: #5b6670; font-size: 13px; }
pre { margin: 6px 0 0; padding: 8px 10px; background: #f7f8f6; border-radius: 6px;
  font-size: 12px; overflow-x: auto; white-space: pre; }
.kind { font-size: 12px; padding: 1px 6px; border-radius: 10px; background: #e8efe9; }
.empty { color: #5b6670; font-style: italic; }
tr.down td:first-child { width: 9.5em; white-space: nowrap; color: #5b6670; }
"""


@dataclass(frozen=True)
class Day:
    """One UTC day: questions answered and declined, and the ratings pressed."""

    start: float
    answered: int = 0
    declined: int = 0
    up: int = 0
    down: int = 0

    @property
    def questions(self) -> int:
        """Questions asked that day (typed, not section buttons)."""
        return self.answered + self.declined


def by_day(
    counts: Iterable[AnswerCount], ratings: Iterable[Rating], since: float | None
) -> list[Day]:
    """Every day from the first with data (or ``since``) to the last, empty days included."""
    tallies: dict[int, dict[str, int]] = {}

    def add(stamp: float, key: str, amount: int) -> None:
        day = int(stamp // SECONDS_PER_DAY)
        tallies.setdefault(day, {"answered": 0, "declined": 0, "up": 0, "down": 0})
        tallies[day][key] += amount

    for count in counts:
        if count.via == VIA_QUESTION:
            add(count.day, "answered" if count.answered else "declined", count.count)
    for rating in ratings:
        add(rating.rated_at, "up" if rating.helpful else "down", 1)
    if not tallies:
        return []
    first = min(tallies)
    if since is not None:
        first = max(first, int(since // SECONDS_PER_DAY))
    last = max(tallies)
    return [
        Day(float(day * SECONDS_PER_DAY), **tallies.get(day, {})) for day in range(first, last + 1)
    ]


def render_page(
    days: Sequence[Day],
    feedback: FeedbackReport,
    missed: Sequence[tuple[Group, Suggestion | None]],
    since: float | None,
    *,
    generated: float | None = None,
) -> str:
    """The whole page."""
    made = local_time(generated if generated is not None else time.time())
    window = f"since {local_time(since)}" if since is not None else "all the data kept"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        "<title>fitbot: the coach's report</title>",
        f"<style>{CSS}</style></head><body><main>",
        "<h1>fitbot: the coach's report</h1>",
        f'<p class="sub">{_e(window)}; made {_e(made)}. Days are UTC days.</p>',
        _totals(days, feedback),
        _section(
            "Questions per day",
            _stacked_bars(days) if days else _empty("No questions yet."),
            "questions-per-day",
        ),
        _section(
            "Answered, declined, \N{THUMBS UP SIGN} and \N{THUMBS DOWN SIGN} per day",
            _lines(days) if days else _empty("Nothing yet."),
            "over-time",
        ),
        _section("Most missed questions", _missed(missed), "missed"),
        _section("Helpful rate per exercise", _helpful(feedback), "helpful"),
        _section(
            "Latest \N{THUMBS DOWN SIGN} and what people were looking for",
            _down_votes(feedback),
            "down-votes",
        ),
        "</main></body></html>",
    ]
    return "\n".join(parts) + "\n"


# -- parts ------------------------------------------------------------------------------------


def _totals(days: Sequence[Day], feedback: FeedbackReport) -> str:
    answered = sum(d.answered for d in days)
    declined = sum(d.declined for d in days)
    rate = feedback.total.helpful_rate
    items = [
        (answered + declined, "questions"),
        (answered, "answered"),
        (declined, "declined"),
        (feedback.total.up, UP),
        (feedback.total.down, DOWN),
        (f"{rate:.0%}" if rate is not None else "-", "helpful rate"),
    ]
    cells = "".join(
        f'<div class="total"><b>{_e(str(value))}</b><span>{_e(label)}</span></div>'
        for value, label in items
    )
    return f'<section id="totals"><div class="totals">{cells}</div></section>'


def _section(title: str, body: str, anchor: str) -> str:
    return f'<section id="{anchor}"><h2>{_e(title)}</h2>{body}</section>'


def _empty(text: str) -> str:
    return f'<p class="empty">{_e(text)}</p>'


def _stacked_bars(days: Sequence[Day]) -> str:
    top = _nice(max((d.questions for d in days), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / len(days)
    bar = max(1.0, step * 0.7)
    shapes: list[str] = []
    for i, day in enumerate(days):
        x = PAD_LEFT + i * step + (step - bar) / 2
        base = PAD_TOP + plot_h
        for key in ("answered", "declined"):
            value = getattr(day, key)
            if not value:
                continue
            h = plot_h * value / top
            base -= h
            shapes.append(
                f'<rect class="bar {key}" x="{x:.1f}" y="{base:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{COLOURS[key]}"><title>{_e(_date(day.start))}: '
                f"{value} {key}</title></rect>"
            )
    return _svg(
        "questions-per-day-chart",
        "Questions per day, answered and declined",
        _grid(top) + _x_labels(days) + "".join(shapes),
    ) + _legend(("answered", "declined"))


def _lines(days: Sequence[Day]) -> str:
    keys = ("answered", "declined", "up", "down")
    top = _nice(max((getattr(d, k) for d in days for k in keys), default=0))
    plot_w, plot_h = WIDTH - PAD_LEFT - PAD_RIGHT, HEIGHT - PAD_TOP - PAD_BOTTOM
    step = plot_w / len(days)
    series: list[str] = []
    for key in keys:
        points = [
            (PAD_LEFT + (i + 0.5) * step, PAD_TOP + plot_h - plot_h * getattr(d, key) / top)
            for i, d in enumerate(days)
        ]
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        dots = "".join(
            f'<circle class="point {key}" cx="{x:.1f}" cy="{y:.1f}" r="2.5" '
            f'fill="{COLOURS[key]}"/>'
            for x, y in points
        )
        series.append(
            f'<g class="series {key}"><polyline points="{path}" fill="none" '
            f'stroke="{COLOURS[key]}" stroke-width="2"/>{dots}</g>'
        )
    return _svg(
        "over-time-chart",
        "Answered, declined, thumbs up and thumbs down per day",
        _grid(top) + _x_labels(days) + "".join(series),
    ) + _legend(keys)


def _helpful(feedback: FeedbackReport) -> str:
    rows = [(name, tally) for name, tally in feedback.ordered() if tally.up + tally.down]
    if not rows:
        return _empty("No ratings yet.")
    label_w, bar_w = 170, WIDTH - 170 - 250
    height = BAR_ROW * len(rows) + 8
    shapes: list[str] = []
    for i, (name, tally) in enumerate(rows):
        y = 4 + i * BAR_ROW
        rate = tally.helpful_rate or 0.0
        detail = f"{rate:.0%}: {tally.up} up, {tally.down} down, {tally.answers} answers"
        shapes.append(
            f'<text x="{label_w - 8}" y="{y + 15}" text-anchor="end">{_e(name)}</text>'
            f'<rect class="track" x="{label_w}" y="{y + 3}" width="{bar_w}" height="16" '
            f'fill="#eef0ed"/>'
            f'<rect class="bar rate" x="{label_w}" y="{y + 3}" width="{bar_w * rate:.1f}" '
            f'height="16" fill="{COLOURS["up"]}"><title>{_e(name)}: {_e(detail)}</title></rect>'
            f'<text x="{label_w + bar_w + 8}" y="{y + 15}">{_e(detail)}</text>'
        )
    return _svg("helpful-chart", "Helpful rate per exercise", "".join(shapes), height=height)


def _missed(missed: Sequence[tuple[Group, Suggestion | None]]) -> str:
    if not missed:
        return _empty("No unanswered questions.")
    rows = ["<table><tr><th>asked</th><th>question, and what to add</th></tr>"]
    for group, suggestion in missed:
        others = ", ".join(f"\u201c{text}\u201d" for text, _ in group.phrasings[1:4])
        also = f'<div class="also">also: {_e(others)}</div>' if others else ""
        advice = ""
        if suggestion is not None:
            advice = (
                f'<div class="also">nearest: {_e(suggestion.nearest)} '
                f'<span class="kind">{_e(suggestion.kind)}</span> in '
                f"{_e(suggestion.file)}</div><pre>{_e(suggestion.snippet)}</pre>"
            )
        rows.append(
            f'<tr class="missed"><td class="n">{group.count}\u00d7</td>'
            f"<td>{_e(group.example)}{also}{advice}</td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _down_votes(feedback: FeedbackReport) -> str:
    if not feedback.down_votes:
        return _empty("No answer was rated not helpful.")
    rows = ["<table><tr><th>when</th><th>answer, question and comment</th></tr>"]
    for rating in feedback.down_votes[:LATEST_DOWN]:
        question = rating.question or "(question not kept)"
        comment = rating.comment or "(no comment)"
        rows.append(
            f'<tr class="down"><td>{_e(local_time(rating.rated_at))}</td>'
            f"<td>{_e(rating.record)} / {_e(rating.section)} "
            f'<span class="also">(confidence {rating.confidence:.2f})</span>'
            f"<div>asked: \u201c{_e(question)}\u201d</div>"
            f'<div class="also">looking for: \u201c{_e(comment)}\u201d</div></td></tr>'
        )
    rows.append("</table>")
    return "".join(rows)


# -- SVG helpers ------------------------------------------------------------------------------


def _svg(anchor: str, title: str, body: str, *, height: int = HEIGHT) -> str:
    return (
        f'<svg id="{anchor}" class="chart" viewBox="0 0 {WIDTH} {height}" role="img" '
        f'aria-labelledby="{anchor}-title" xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{anchor}-title">{_e(title)}</title>{body}</svg>'
    )


def _grid(top: int) -> str:
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    lines: list[str] = []
    for i in range(5):
        value = top * i / 4
        y = PAD_TOP + plot_h - plot_h * i / 4
        label = f"{value:.0f}" if value == int(value) else f"{value:.1f}"
        lines.append(
            f'<line class="grid" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
            f'y2="{y:.1f}"/><text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{label}</text>'
        )
    base = PAD_TOP + plot_h
    lines.append(
        f'<line class="axis" x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{base}" y2="{base}"/>'
    )
    return "".join(lines)


def _x_labels(days: Sequence[Day]) -> str:
    plot_w = WIDTH - PAD_LEFT - PAD_RIGHT
    step = plot_w / len(days)
    every = max(1, math.ceil(len(days) / MAX_X_LABELS))
    y = HEIGHT - PAD_BOTTOM + 16
    return "".join(
        f'<text x="{PAD_LEFT + (i + 0.5) * step:.1f}" y="{y}" text-anchor="middle">'
        f"{_e(_date(day.start)[5:])}</text>"
        for i, day in enumerate(days)
        if i % every == 0
    )


def _legend(keys: Iterable[str]) -> str:
    items = "".join(
        f'<span><i style="background:{COLOURS[k]}"></i>{_e(LABELS[k])}</span>' for k in keys
    )
    return f'<div class="legend">{items}</div>'


def _nice(value: int) -> int:
    """A round top for an axis holding ``value`` (at least 4, so quarters are whole)."""
    if value <= 4:
        return 4
    magnitude = 10 ** int(math.log10(value))
    for factor in (1, 2, 2.5, 4, 5, 10):
        top = int(factor * magnitude)
        if top >= value and top % 4 == 0:
            return top
    return int(math.ceil(value / 4) * 4)


def _date(stamp: float) -> str:
    return datetime.fromtimestamp(stamp, UTC).strftime("%Y-%m-%d")


def _e(text: str) -> str:
    return html.escape(text, quote=True)


# -- the command ------------------------------------------------------------------------------


def build_page(state: str, knowledge: Path | None, since: float | None) -> str:
    """The page for ``state`` (a state file, read-only, or the replicas' ``redis://`` URL),
    suggestions from the knowledge base in ``knowledge``."""
    from bot.engine import Engine
    from bot.knowledge import default_knowledge_dir, load_knowledge
    from bot.suggest import Suggester

    ratings, counts = read_feedback(state, since)
    groups = group_questions(read_questions(state, since))[:TOP_MISSED]
    suggester = Suggester(Engine(load_knowledge(knowledge or default_knowledge_dir())))
    missed = [(group, suggester.suggest(group)) for group in groups]
    return render_page(
        by_day(counts, ratings, since), build_report(ratings, counts, since), missed, since
    )


def run_html(args: argparse.Namespace) -> int:
    """``fitbot report --html FILE``: 0 once written, 2 for a bad flag, no state file or a
    file that cannot be written."""
    state = state_of(args)
    try:
        since = parse_since(args.since, now=time.time()) if args.since else None
        page = build_page(state, args.knowledge, since)
        Path(args.html).write_text(page, encoding="utf-8")
    except (ValueError, ConfigError, OSError) as exc:
        print(f"fitbot report --html: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(f"wrote {args.html}")
    return 0
