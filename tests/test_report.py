"""``fitbot report unanswered`` and the store's record of unanswered questions."""

from __future__ import annotations

import json
import sqlite3
import time
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.report import parse_since
from bot.state import store as store_module
from bot.state.store import MIGRATIONS, SqliteStore, UnansweredQuestion, read_unanswered
from bot.unanswered import group_questions, topic_key

DAY = 86_400.0
NOW = time.time()


def asked(
    text: str,
    days_ago: float = 0.0,
    *,
    confidence: float = 0.0,
    exercise: str | None = None,
    intent: str | None = None,
) -> UnansweredQuestion:
    return UnansweredQuestion(
        text, NOW - days_ago * DAY, confidence > 0, confidence, exercise, intent
    )


QUESTIONS = [
    asked("how many calories does a squat burn", 10),
    asked("How many calories do squats burn?", 3),
    asked("calories burned by squats", 1),
    asked("what about pilates", 2),
    asked("how many calories does a squat burn", 0.5),
    asked(
        "is a deadlift bad for my back", 1, confidence=0.4, exercise="deadlift", intent="cautions"
    ),
]


@pytest.fixture
async def state(tmp_path: Path) -> Path:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    for question in QUESTIONS:
        await store.record_unanswered(question)
    await store.close()
    return path


# -- grouping --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "second", "together"),
    [
        pytest.param("how many calories does a squat burn", "calories burned by squats", True,
                     id="same-topic"),
        pytest.param("how do I deadlift properly", "deadlift form", True, id="near"),
        pytest.param("what about yoga", "what about pilates", False, id="shared-phrasing"),
        pytest.param("how to do a pull up", "push up form", False, id="different"),
    ],
)  # fmt: skip
def test_similar_questions_share_a_group(first: str, second: str, together: bool) -> None:
    groups = group_questions([asked(first), asked(second)])

    assert (len(groups) == 1) is together


def test_groups_are_ordered_by_count_with_the_most_asked_phrasing_as_example() -> None:
    groups = group_questions(QUESTIONS)

    assert [(g.count, g.example) for g in groups] == [
        (4, "how many calories does a squat burn"),
        (1, "is a deadlift bad for my back"),  # asked more recently than pilates
        (1, "what about pilates"),
    ]
    calories = groups[0]
    assert calories.phrasings[0] == ("how many calories does a squat burn", 2)
    assert calories.first_asked == pytest.approx(NOW - 10 * DAY)
    assert (groups[1].exercise, groups[1].intent, groups[1].confidence) == (
        "deadlift",
        "cautions",
        0.4,
    )


def test_topic_key_keeps_content_words_stemmed() -> None:
    assert topic_key("How many calories does a squat burn?") == "mani calori squat burn"
    assert topic_key("what is it?") == "what is it"  # nothing but function words


# -- --since ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds_ago"),
    [
        pytest.param("30m", 1_800, id="minutes"),
        pytest.param("24h", 86_400, id="hours"),
        pytest.param("7d", 7 * 86_400, id="days"),
        pytest.param("2W", 14 * 86_400, id="weeks"),
    ],
)
def test_since_a_duration_ago(text: str, seconds_ago: int) -> None:
    assert parse_since(text, now=1_000_000.0) == 1_000_000.0 - seconds_ago


def test_since_a_date_is_local_midnight_and_a_zone_is_honoured() -> None:
    assert parse_since("2024-05-01", now=0) == datetime(2024, 5, 1).timestamp()
    assert parse_since("2024-05-01T12:00:00+00:00", now=0) == 1_714_564_800


@pytest.mark.parametrize("text", ["yesterday", "7x", "-3d", ""])
def test_since_rejects_anything_else(text: str) -> None:
    with pytest.raises(ValueError, match="--since"):
        parse_since(text, now=0)


# -- the command -----------------------------------------------------------------------------


def test_report_json_lists_groups_with_counts_and_best_guesses(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "unanswered", "--state", str(state), "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 6
    assert report["since"] is None
    first = report["groups"][0]
    assert first["count"] == 4
    assert first["phrasings"][0] == {"text": "how many calories does a squat burn", "count": 2}
    assert report["groups"][1]["best_guess"] == {
        "exercise": "deadlift",
        "intent": "cautions",
        "confidence": 0.4,
    }
    assert datetime.fromisoformat(first["last_asked"]).tzinfo is not None


def test_report_since_leaves_out_older_questions(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "unanswered", "--state", str(state), "--since", "2d", "--json"]) == 0

    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 3
    assert [g["count"] for g in report["groups"]] == [2, 1]
    assert report["since"] is not None


def test_report_text_shows_counts_examples_and_guesses(
    state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", "unanswered", "--state", str(state)]) == 0

    out = capsys.readouterr().out
    assert out.startswith("6 unanswered question(s) in 3 group(s), most asked first:")
    assert "    4x  how many calories does a squat burn" in out
    assert 'also: "How many calories do squats burn?", "calories burned by squats"' in out
    assert "best guess: deadlift/cautions (confidence 0.40)" in out


def test_report_reads_the_state_file_named_by_the_environment(
    state: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FITBOT_STATE", str(state))

    assert main(["report", "unanswered", "--since", "1d"]) == 0

    assert "1 unanswered question(s) in 1 group(s)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["--state", "missing.sqlite3"], "no state file", id="no-state"),
        pytest.param(["--since", "someday"], "--since wants", id="bad-since"),
    ],
)
def test_report_errors_exit_2_with_a_message(
    state: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = ["report", "unanswered", "--state", str(state), *args]

    assert main(argv) == 2

    assert message in capsys.readouterr().err


async def test_nothing_unanswered_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await SqliteStore(tmp_path / "s.sqlite3").close()

    assert main(["report", "unanswered", "--state", str(tmp_path / "s.sqlite3")]) == 0

    assert capsys.readouterr().out.strip() == "No unanswered questions."


# -- the store -------------------------------------------------------------------------------


def test_reading_does_not_write_to_the_state_file(state: Path) -> None:
    before = state.stat().st_mtime_ns
    state.chmod(0o444)
    try:
        assert len(read_unanswered(state)) == len(QUESTIONS)
    finally:
        state.chmod(0o644)
    assert state.stat().st_mtime_ns == before


async def test_a_state_file_from_before_the_table_has_no_unanswered_questions(
    tmp_path: Path,
) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute(MIGRATIONS[0])
        db.execute("PRAGMA user_version = 1")
    db.close()

    assert read_unanswered(path) == []
    await SqliteStore(path).close()  # migrates
    assert read_unanswered(path) == []


async def test_the_oldest_unanswered_questions_are_pruned_beyond_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_module, "MAX_UNANSWERED", 5)
    monkeypatch.setattr(store_module, "PRUNE_EVERY", 4)
    store = SqliteStore(tmp_path / "s.sqlite3")
    for n in range(12):
        await store.record_unanswered(asked(f"question {n}", days_ago=12 - n))

    kept = [q.text for q in read_unanswered(tmp_path / "s.sqlite3")]
    await store.close()

    assert kept == [f"question {n}" for n in range(7, 12)]  # pruned at 12: ids <= 7 went


async def test_long_questions_are_cut_when_recorded(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "s.sqlite3")
    await store.record_unanswered(asked("x" * 5_000))
    await store.close()

    (question,) = read_unanswered(tmp_path / "s.sqlite3")
    assert len(question.text) == store_module.MAX_RECORDED_CHARS
