"""``fitbot report feedback``: tallies per exercise and section, 👎 most recent first."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest

from bot.cli import main
from bot.feedback_report import build_report, render_json, render_text
from bot.state.store import (
    VIA_BUTTON,
    VIA_QUESTION,
    AnswerCount,
    Rating,
    SqliteStore,
    read_answer_counts,
    read_ratings,
)

T0 = 1_714_564_800.0  # 2024-05-01 12:00 UTC
DAY = 86_400.0


def rated(
    message: int,
    helpful: bool,
    record: str = "reverse-squat",
    section: str = "steps",
    *,
    at: float = T0,
    question: str | None = "how do I do it?",
    comment: str | None = None,
) -> Rating:
    return Rating("c0ffee", message, at, helpful, record, section, 0.9, question, comment)


RATINGS = [
    rated(1, True),
    rated(2, True),
    rated(3, False, at=T0 + 60, question="reverse squat form", comment="breathing"),
    rated(4, False, "negative-squat", "muscles", at=T0 + 120, question=None),
    rated(5, True, "negative-squat", "muscles"),
]
COUNTS = [
    AnswerCount(T0 - T0 % DAY, "reverse-squat", "steps", True, VIA_QUESTION, 7),
    AnswerCount(T0 - T0 % DAY, "reverse-squat", "steps", True, VIA_BUTTON, 1),
    AnswerCount(T0 - T0 % DAY, "reverse-squat", "mistakes", True, VIA_QUESTION, 2),
    AnswerCount(T0 - T0 % DAY, "negative-squat", "muscles", True, VIA_QUESTION, 3),
    AnswerCount(T0 - T0 % DAY, "", "", False, VIA_QUESTION, 4),  # declines are not answers
]


def test_tallies_per_record_and_section() -> None:
    report = build_report(RATINGS, COUNTS, None)

    assert (report.total.answers, report.total.up, report.total.down) == (13, 3, 2)
    (first, reverse), (second, negative) = report.ordered()
    assert (first, reverse.answers, reverse.up, reverse.down) == ("reverse-squat", 10, 2, 1)
    assert reverse.helpful_rate == pytest.approx(2 / 3)
    assert reverse.sections["mistakes"].helpful_rate is None
    assert (second, negative.helpful_rate) == ("negative-squat", 0.5)


def test_down_votes_come_most_recent_first_with_question_and_comment() -> None:
    text = render_text(build_report(RATINGS, COUNTS, None))

    down = text.split("looking for, most recent first:")[1]
    assert down.index("negative-squat / muscles") < down.index("reverse-squat / steps")
    assert '"reverse squat form"' in down and '"breathing"' in down
    assert "(no comment)" in down and "not kept" in down
    assert "67%" in text and "  mistakes" in text


def test_json_has_the_tallies_and_the_down_votes() -> None:
    data = render_json(build_report(RATINGS, COUNTS, None))

    assert [e["exercise"] for e in data["exercises"]] == ["reverse-squat", "negative-squat"]
    assert data["exercises"][0]["sections"][0] == {
        "section": "steps",
        "answers": 8,
        "up": 2,
        "down": 1,
        "helpful_rate": pytest.approx(2 / 3),
    }
    assert [d["comment"] for d in data["down_votes"]] == [None, "breathing"]


async def test_the_command_reads_the_state_file_since_a_date(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    await store.rate(rated(1, False, at=T0 - 30 * DAY))
    await store.rate(rated(2, True, at=T0))
    await store.close()

    assert (
        main(["report", "feedback", "--state", str(path), "--json", "--since", "2024-04-20"]) == 0
    )
    data = json.loads(capsys.readouterr().out)
    assert (data["up"], data["down"]) == (1, 0)


async def test_nothing_yet_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "state.sqlite3"
    await SqliteStore(path).close()

    assert main(["report", "feedback", "--state", str(path)]) == 0
    assert capsys.readouterr().out.startswith("No answers or ratings")


def test_a_missing_state_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", "feedback", "--state", str(tmp_path / "none.sqlite3")]) == 2
    assert "no state file" in capsys.readouterr().err


async def test_the_file_is_read_while_the_bot_has_it_open(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    writer = SqliteStore(path)
    await writer.rate(rated(10, True))
    await writer.count_answer(T0, "reverse-squat", "steps", True, VIA_QUESTION)

    assert read_ratings(path) == await writer.ratings()
    assert read_answer_counts(path) == await writer.answer_counts()
    await writer.close()


def test_a_state_file_from_before_feedback_has_none(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()

    assert read_ratings(path) == []
    assert read_answer_counts(path) == []
