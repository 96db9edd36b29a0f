"""The feedback part of the state store's contract: ratings, comment requests, answer counts.

Every test takes the ``store`` fixture, parametrised over :data:`BACKENDS`; a new backend
(another store behind the same methods) adds one factory there and runs the same tests.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.state.store import (
    COMMENT_REQUEST_SECONDS,
    MAX_RECORDED_CHARS,
    SECONDS_PER_DAY,
    VIA_BUTTON,
    VIA_QUESTION,
    AnswerCount,
    Rating,
    Store,
    read_answer_counts,
    read_ratings,
)

T0 = 1_714_564_800.0  # 2024-05-01 12:00 UTC


class Ticker:
    """Wall time that moves only when a test says so."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


StoreFactory = Callable[[Path, Callable[[], float]], Store]
BACKENDS: dict[str, StoreFactory] = {
    "sqlite": lambda tmp, clock: Store(tmp / "state.sqlite3", clock=clock),
}


@pytest.fixture
def clock() -> Ticker:
    return Ticker(T0)


@pytest.fixture(params=sorted(BACKENDS))
def store(request: pytest.FixtureRequest, tmp_path: Path, clock: Ticker) -> Iterator[Store]:
    opened = BACKENDS[request.param](tmp_path, clock)
    try:
        yield opened
    finally:
        opened.close()


def rating(
    message: int = 10, *, helpful: bool = False, chat: str = "a1b2c3", **more: object
) -> Rating:
    values: dict[str, object] = {
        "chat": chat,
        "message": message,
        "rated_at": T0,
        "helpful": helpful,
        "record": "reverse-squat",
        "section": "steps",
        "confidence": 0.93,
        "question": "how do I do a reverse squat?",
        **more,
    }
    return Rating(**values)  # type: ignore[arg-type]


# -- ratings ---------------------------------------------------------------------------------


def test_a_rating_is_kept_with_everything_it_says(store: Store) -> None:
    kept = rating(asked=True)

    assert store.rate(kept)

    assert store.rating("a1b2c3", 10) == kept
    assert store.ratings() == [kept]


def test_an_unrated_message_has_no_rating(store: Store) -> None:
    store.rate(rating(10))

    assert store.rating("a1b2c3", 11) is None
    assert store.rating("ffffff", 10) is None


def test_a_second_press_on_the_same_message_replaces_the_first(store: Store) -> None:
    store.rate(rating(10, helpful=True))
    store.rate(rating(10, helpful=False, rated_at=T0 + 5))
    store.rate(rating(10, chat="other", helpful=True))

    assert [(r.chat, r.helpful) for r in store.ratings()] == [("other", True), ("a1b2c3", False)]


def test_a_comment_is_attached_to_its_rating_only(store: Store) -> None:
    store.rate(rating(10))
    store.rate(rating(11))

    assert store.add_comment("a1b2c3", 10, "breathing cues")
    assert not store.add_comment("a1b2c3", 99, "no such rating")

    comments = {r.message: r.comment for r in store.ratings()}
    assert comments == {10: "breathing cues", 11: None}


def test_texts_are_kept_to_the_recorded_length(store: Store) -> None:
    store.rate(rating(10, question="q" * 5000))
    store.add_comment("a1b2c3", 10, "c" * 5000)

    (kept,) = store.ratings()
    assert len(kept.question or "") == MAX_RECORDED_CHARS
    assert len(kept.comment or "") == MAX_RECORDED_CHARS


def test_ratings_since_leaves_out_older_ones(store: Store) -> None:
    store.rate(rating(1, rated_at=T0 - 10 * SECONDS_PER_DAY))
    store.rate(rating(2, rated_at=T0))

    assert [r.message for r in store.ratings(since=T0 - SECONDS_PER_DAY)] == [2]


# -- comment requests ------------------------------------------------------------------------


def test_a_comment_request_is_taken_once(store: Store, clock: Ticker) -> None:
    store.request_comment("a1b2c3", 10)

    assert store.take_comment_request("a1b2c3") == (10, T0)
    assert store.take_comment_request("a1b2c3") is None


def test_a_newer_comment_request_replaces_the_older(store: Store, clock: Ticker) -> None:
    store.request_comment("a1b2c3", 10)
    clock.advance(30)
    store.request_comment("a1b2c3", 12)
    store.request_comment("other", 3)

    assert store.take_comment_request("a1b2c3") == (12, T0 + 30)
    assert store.take_comment_request("other") == (3, T0 + 30)


def test_a_request_nobody_answered_is_forgotten(store: Store, clock: Ticker) -> None:
    store.request_comment("quiet", 10)
    clock.advance(COMMENT_REQUEST_SECONDS + 1)
    store.request_comment("a1b2c3", 11)  # any new request sweeps the old ones

    assert store.take_comment_request("quiet") is None


# -- answer counts ---------------------------------------------------------------------------


def test_answers_are_counted_per_day_record_section_and_way(store: Store) -> None:
    day = T0 // SECONDS_PER_DAY * SECONDS_PER_DAY
    store.count_answer(T0, "reverse-squat", "steps", True, VIA_QUESTION)
    store.count_answer(T0 + 60, "reverse-squat", "steps", True, VIA_QUESTION)
    store.count_answer(T0, "reverse-squat", "steps", True, VIA_BUTTON)
    store.count_answer(T0, None, None, False, VIA_QUESTION)
    store.count_answer(T0 + SECONDS_PER_DAY, "reverse-squat", "steps", True, VIA_QUESTION)

    assert set(store.answer_counts()) == {
        AnswerCount(day, "", "", False, VIA_QUESTION, 1),
        AnswerCount(day, "reverse-squat", "steps", True, VIA_BUTTON, 1),
        AnswerCount(day, "reverse-squat", "steps", True, VIA_QUESTION, 2),
        AnswerCount(day + SECONDS_PER_DAY, "reverse-squat", "steps", True, VIA_QUESTION, 1),
    }
    assert {c.day for c in store.answer_counts(since=T0 + SECONDS_PER_DAY)} == {
        day + SECONDS_PER_DAY
    }


# -- the SQLite file, read by the reports ----------------------------------------------------


def test_the_reports_read_the_file_without_writing(tmp_path: Path, clock: Ticker) -> None:
    path = tmp_path / "state.sqlite3"
    writer = Store(path, clock=clock)
    writer.rate(rating(10))
    writer.count_answer(T0, "reverse-squat", "steps", True, VIA_QUESTION)

    assert read_ratings(path) == writer.ratings()  # while the bot has it open
    assert read_answer_counts(path) == writer.answer_counts()
    writer.close()


def test_a_state_file_from_before_feedback_has_none(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    sqlite3.connect(path).close()

    assert read_ratings(path) == []
    assert read_answer_counts(path) == []
