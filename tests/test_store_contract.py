"""The Store contract, run against both implementations: the SQLite file and a real Redis.

A new kind of record kept by the bot gets its tests here, so both stores keep it alike. What
only replicas sharing a Redis need (turns held across processes, lanes taken over from a dead
replica) is at the end, against Redis.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from bot.context import Context
from bot.state.redis_store import RedisStore
from bot.state.store import (
    COMMENT_REQUEST_SECONDS,
    MAX_RECORDED_CHARS,
    SECONDS_PER_DAY,
    VIA_BUTTON,
    VIA_QUESTION,
    AnswerCount,
    Outgoing,
    Rating,
    SqliteStore,
    Store,
    UnansweredQuestion,
    day_of,
)
from tests.redis_server import RedisServer

TALKED = Context(exercises=("reverse-squat",), intent="steps", constraints=("weak-core",))
OTHER = Context(exercises=("deadlift",), intent="cautions")
NOW = 1_700_000_000.0

Opener = Callable[[], Store]


class Ticker:
    """Wall time for the stores, at :data:`NOW` until a test moves it on."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Ticker:
    return Ticker(NOW)


@pytest.fixture(params=["sqlite", "redis"])
async def opener(
    request: pytest.FixtureRequest, tmp_path: Path, clock: Ticker
) -> AsyncIterator[Opener]:
    """Opens the same state again each time it is called (a restart), and closes them all."""
    opened: list[Store] = []
    if request.param == "sqlite":
        path = tmp_path / "state.sqlite3"

        def open_store() -> Store:
            opened.append(SqliteStore(path, clock=clock))
            return opened[-1]
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        prefix = f"test-{secrets.token_hex(4)}:"

        def open_store() -> Store:
            opened.append(RedisStore(server.url, prefix=prefix, clock=clock))
            return opened[-1]

    yield open_store
    for store in opened:
        await store.close()


def message(chat: int, text: str, **fields: object) -> Outgoing:
    return Outgoing(chat, text, **fields)  # type: ignore[arg-type]


# -- contexts --------------------------------------------------------------------------------


async def test_contexts_are_kept_per_chat_and_replaced(opener: Opener) -> None:
    store = opener()
    assert await store.load(1) == Context()
    await store.save(1, TALKED)
    await store.save(-100123, OTHER)
    await store.save(1, TALKED.reset())

    again = opener()
    assert await again.load(1) == Context()
    assert await again.load(-100123) == OTHER
    assert await again.load(2) == Context()


# -- inbox -----------------------------------------------------------------------------------


async def test_updates_are_kept_until_handled_and_a_handled_one_is_not_taken_again(
    opener: Opener,
) -> None:
    store = opener()
    assert await store.receive([(12, '{"update_id":12}'), (11, '{"update_id":11}')]) == {11, 12}
    assert await store.last_update_id() == 12
    await store.handled(11)

    again = opener()
    assert await again.unhandled() == [(12, '{"update_id":12}')]
    assert await again.receive([(11, "{}"), (13, '{"update_id":13}')]) == {13}
    assert await again.last_update_id() == 13
    # Received and not handled: one process already has it; replicas hand it on again (the
    # replica that had it may have died), and the chat's turn tells whether it was handled.
    assert await again.receive([(12, "{}")]) == ({12} if again.shared else set())


async def test_an_empty_store_has_no_updates(opener: Opener) -> None:
    store = opener()
    assert await store.last_update_id() is None
    assert await store.unhandled() == []
    assert await store.receive([]) == set()


async def test_a_turn_says_whether_the_update_is_still_to_be_handled(opener: Opener) -> None:
    store = opener()
    await store.receive([(21, "{}"), (22, "{}")])
    await store.commit_reply(21, 5, TALKED, ())
    async with store.turn(5, 22) as fresh:
        assert fresh
        assert await store.load(5) == TALKED
    if store.shared:  # one process: a handled update is never received again (above)
        async with store.turn(5, 21) as fresh:
            assert not fresh


# -- outbox ----------------------------------------------------------------------------------


async def test_a_reply_is_committed_with_its_context_and_update_and_kept_until_delivered(
    opener: Opener,
) -> None:
    store = opener()
    await store.receive([(31, "{}")])
    first = message(7, "<b>one</b>", parse_mode="HTML", reply_to=3, thread=9, markup='{"k":1}')
    second = message(7, "two")
    kept = await store.commit_reply(31, 7, TALKED, [first, second])

    assert [reply.message for reply in kept] == [first, second]
    assert all(reply.row is not None and reply.created_at == NOW for reply in kept)
    assert await store.unhandled() == []
    await store.delivered(kept[0].row)
    await store.close()

    again = opener()
    assert await again.load(7) == TALKED
    (left,) = await again.undelivered()
    assert (left.row, left.message) == (kept[1].row, second)
    await again.delivered(left.row)
    assert await again.release_lane(7) == []
    assert await opener().undelivered() == []


async def test_replies_of_several_chats_come_back_in_the_order_composed(opener: Opener) -> None:
    store = opener()
    for n, chat in enumerate((1, 2, 1, 3, 2)):
        await store.commit_reply(None, chat, None, [message(chat, f"reply {n}")])
    await store.close()

    replies = await opener().undelivered()
    assert [r.message.text for r in replies] == [f"reply {n}" for n in range(5)]
    assert [r.row for r in replies] == sorted(r.row for r in replies)  # type: ignore[type-var]


async def test_nothing_to_commit_writes_nothing(opener: Opener) -> None:
    store = opener()
    assert await store.commit_reply(None, 1, None, ()) == []
    assert await store.undelivered() == []
    assert await store.sweep([1]) == []


# -- unanswered questions --------------------------------------------------------------------


async def test_unanswered_questions_are_kept_and_read_since_a_time(opener: Opener) -> None:
    store = opener()
    questions = [
        UnansweredQuestion("how many calories", NOW - 100, False, 0.0),
        UnansweredQuestion("x" * 5_000, NOW - 50, True, 0.4, "deadlift", "cautions"),
        UnansweredQuestion("teach me the moonwalk", NOW, False, 0.0),
    ]
    for question in questions:
        assert await store.record_unanswered(question)

    again = opener()
    assert await again.count_unanswered() == 3
    kept = await again.read_unanswered()
    assert [q.text[:20] for q in kept] == [q.text[:20] for q in questions]
    assert len(kept[1].text) == 1_000
    assert (kept[1].answered, kept[1].confidence, kept[1].exercise, kept[1].intent) == (
        True,
        0.4,
        "deadlift",
        "cautions",
    )
    assert [q.text for q in await again.read_unanswered(since=NOW - 10)] == [questions[2].text]


# -- feedback: ratings, comment requests, answer counts -------------------------------------


def rating(
    message: int = 10, *, helpful: bool = False, chat: str = "a1b2c3", **more: object
) -> Rating:
    values: dict[str, object] = {
        "chat": chat,
        "message": message,
        "rated_at": NOW,
        "helpful": helpful,
        "record": "reverse-squat",
        "section": "steps",
        "confidence": 0.93,
        "question": "how do I do a reverse squat?",
        **more,
    }
    return Rating(**values)  # type: ignore[arg-type]


async def test_a_rating_is_kept_with_everything_it_says(opener: Opener) -> None:
    kept = rating(asked=True, comment='é ünïcode / "quotes"')
    assert await opener().rate(kept)

    again = opener()
    assert await again.rating("a1b2c3", 10) == kept
    assert await again.rating("a1b2c3", 11) is None
    assert await again.rating("ffffff", 10) is None
    assert await again.ratings() == [kept]


async def test_a_second_press_on_the_same_message_replaces_the_first(opener: Opener) -> None:
    store = opener()
    await store.rate(rating(10, helpful=True))
    await store.rate(rating(10, helpful=False, rated_at=NOW + 5))
    await store.rate(rating(10, chat="other", helpful=True))

    ratings = await store.ratings()
    assert [(r.chat, r.helpful) for r in ratings] == [("other", True), ("a1b2c3", False)]


async def test_a_comment_is_attached_to_its_rating_only(opener: Opener) -> None:
    store = opener()
    await store.rate(rating(10))
    await store.rate(rating(11))

    assert await store.add_comment("a1b2c3", 10, "breathing cues")
    assert not await store.add_comment("a1b2c3", 99, "no such rating")

    comments = {r.message: r.comment for r in await opener().ratings()}
    assert comments == {10: "breathing cues", 11: None}


async def test_texts_are_kept_to_the_recorded_length(opener: Opener) -> None:
    store = opener()
    await store.rate(rating(10, question="q" * 5000))
    await store.add_comment("a1b2c3", 10, "c" * 5000)

    (kept,) = await store.ratings()
    assert len(kept.question or "") == MAX_RECORDED_CHARS
    assert len(kept.comment or "") == MAX_RECORDED_CHARS


async def test_ratings_since_leaves_out_older_ones(opener: Opener) -> None:
    store = opener()
    await store.rate(rating(1, rated_at=NOW - 10 * SECONDS_PER_DAY))
    await store.rate(rating(2, rated_at=NOW))

    assert [r.message for r in await store.ratings(since=NOW - SECONDS_PER_DAY)] == [2]


async def test_a_comment_request_is_taken_once_the_newest_per_chat(
    opener: Opener, clock: Ticker
) -> None:
    store = opener()
    await store.request_comment("a1b2c3", 10)
    clock.advance(30)
    await store.request_comment("a1b2c3", 12)
    await store.request_comment("other", 3)

    again = opener()  # a restart in between
    assert await again.take_comment_request("a1b2c3") == (12, NOW + 30)
    assert await again.take_comment_request("a1b2c3") is None
    assert await again.take_comment_request("other") == (3, NOW + 30)


async def test_a_request_nobody_answered_is_forgotten(opener: Opener, clock: Ticker) -> None:
    store = opener()
    await store.request_comment("quiet", 10)
    clock.advance(COMMENT_REQUEST_SECONDS + 1)
    await store.request_comment("a1b2c3", 11)

    assert await store.take_comment_request("quiet") is None
    assert await store.take_comment_request("a1b2c3") == (11, NOW + COMMENT_REQUEST_SECONDS + 1)


async def test_a_comment_request_is_found_by_the_chats_turn(opener: Opener) -> None:
    store = opener()
    await store.request_comment("a1b2c3", 10)
    async with store.turn(5, 1, "a1b2c3") as fresh:
        assert fresh
        assert await store.take_comment_request("a1b2c3") == (10, NOW)
    async with store.turn(5, 2, "a1b2c3"):
        assert await store.take_comment_request("a1b2c3") is None
        await store.request_comment("a1b2c3", 11)  # asked in the turn (a 👎): found at once
        assert await store.take_comment_request("a1b2c3") == (11, NOW)


async def test_a_request_made_by_another_process_is_found(opener: Opener) -> None:
    store = opener()
    async with store.turn(5, 1, "a1b2c3"):
        assert await store.take_comment_request("a1b2c3") is None
    await opener().request_comment("a1b2c3", 10)  # another replica, or before a restart
    again = store if store.shared else opener()
    async with again.turn(5, 2, "a1b2c3"):
        assert await again.take_comment_request("a1b2c3") == (10, NOW)


async def test_an_answer_counted_in_a_turn_is_kept_once_the_turn_ends(opener: Opener) -> None:
    store = opener()
    async with store.turn(5, 1, "a1b2c3"):
        await store.count_answer(NOW, "reverse-squat", "steps", True, VIA_QUESTION)
        async with store.turn(6, 2):
            await store.count_answer(NOW, "reverse-squat", "steps", True, VIA_QUESTION)
    await store.count_answer(NOW, None, None, False, VIA_QUESTION)  # outside any turn

    assert set(await opener().answer_counts()) == {
        AnswerCount(float(day_of(NOW)), "reverse-squat", "steps", True, VIA_QUESTION, 2),
        AnswerCount(float(day_of(NOW)), "", "", False, VIA_QUESTION, 1),
    }


async def test_answers_are_counted_per_day_record_section_and_way(opener: Opener) -> None:
    store = opener()
    day = float(day_of(NOW))
    await store.count_answer(NOW, "reverse-squat", "steps", True, VIA_QUESTION)
    await store.count_answer(NOW + 60, "reverse-squat", "steps", True, VIA_QUESTION)
    await store.count_answer(NOW, "reverse-squat", "steps", True, VIA_BUTTON)
    await store.count_answer(NOW, None, None, False, VIA_QUESTION)
    await store.count_answer(NOW + SECONDS_PER_DAY, "reverse-squat", "steps", True, VIA_QUESTION)

    again = opener()
    assert set(await again.answer_counts()) == {
        AnswerCount(day, "", "", False, VIA_QUESTION, 1),
        AnswerCount(day, "reverse-squat", "steps", True, VIA_BUTTON, 1),
        AnswerCount(day, "reverse-squat", "steps", True, VIA_QUESTION, 2),
        AnswerCount(day + SECONDS_PER_DAY, "reverse-squat", "steps", True, VIA_QUESTION, 1),
    }
    later = await again.answer_counts(since=day + SECONDS_PER_DAY + 1)
    assert {c.day for c in later} == {day + SECONDS_PER_DAY}


async def test_the_store_answers_a_ping_and_closes_twice(opener: Opener) -> None:
    store = opener()
    assert await store.ping()
    assert store.location
    await store.close()
    await store.close()


# -- replicas sharing a Redis ----------------------------------------------------------------


@pytest.fixture
async def replicas(redis_server: RedisServer) -> AsyncIterator[tuple[RedisStore, RedisStore]]:
    """Two replicas' stores on one Redis, with short turns and lane leases."""
    prefix = f"test-{secrets.token_hex(4)}:"
    pair = tuple(
        RedisStore(redis_server.url, prefix=prefix, turn_seconds=2.0, lane_lease=0.5)
        for _ in range(2)
    )
    yield pair  # type: ignore[misc]
    for store in pair:
        await store.close()


async def test_a_chats_turn_is_held_by_one_replica_at_a_time(
    replicas: tuple[RedisStore, RedisStore],
) -> None:
    a, b = replicas
    order: list[str] = []

    async def handle(store: RedisStore, name: str, update_id: int) -> None:
        async with store.turn(1, update_id) as fresh:
            assert fresh
            order.append(f"{name} in")
            await asyncio.sleep(0.05)
            order.append(f"{name} out")

    await asyncio.gather(handle(a, "a", 1), handle(b, "b", 2))

    assert order in (["a in", "a out", "b in", "b out"], ["b in", "b out", "a in", "a out"])


async def test_a_chats_replies_queue_behind_the_replica_sending_them(
    replicas: tuple[RedisStore, RedisStore],
) -> None:
    a, b = replicas
    (first,) = await a.commit_reply(None, 1, None, [message(1, "first")])  # a holds the lane
    assert not b.quiet(1)
    assert await b.commit_reply(None, 1, None, [message(1, "second")]) == []  # a sends it

    await a.delivered(first.row)
    (second,) = await a.release_lane(1)  # queued meanwhile: still a's
    assert second.message.text == "second"
    await a.delivered(second.row)
    assert await a.release_lane(1) == []  # empty: let go

    (third,) = await b.commit_reply(None, 1, None, [message(1, "third")])
    assert third.message.text == "third"  # b holds it now


async def test_a_dead_replicas_lanes_are_taken_over_once_its_lease_runs_out(
    replicas: tuple[RedisStore, RedisStore],
) -> None:
    a, b = replicas
    await a.commit_reply(None, 1, None, [message(1, "one"), message(1, "two")])
    await a.commit_reply(None, 2, None, [message(2, "three")])
    assert await b.sweep([]) == []  # a's leases hold (0.5 s)

    await asyncio.sleep(0.25)
    assert await a.sweep([2]) == []  # a renews chat 2's lease only, then "dies"
    await asyncio.sleep(0.35)  # chat 1's lease has run out, chat 2's not yet

    taken = await b.sweep([])
    assert [r.message.text for r in taken] == ["one", "two"]
    await asyncio.sleep(0.25)
    assert [r.message.text for r in await b.sweep([1])] == ["three"]  # b keeps chat 1's


async def test_the_report_reads_the_replicas_redis(
    redis_server: RedisServer, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    store = RedisStore(redis_server.url)  # the default prefix, as replicas use
    await store.record_unanswered(UnansweredQuestion("how do I bake sourdough", NOW, False, 0.0))
    await store.close()

    assert (
        await asyncio.to_thread(main, ["report", "unanswered", "--state", redis_server.url]) == 0
    )
    assert "how do I bake sourdough" in capsys.readouterr().out


async def test_the_feedback_reports_read_the_replicas_redis(
    redis_server: RedisServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from bot.cli import main

    store = RedisStore(redis_server.url)  # the default prefix, as replicas use
    await store.rate(rating(77, comment="how to breathe", chat="redis-report"))
    await store.count_answer(NOW, "reverse-squat", "steps", True, VIA_QUESTION)
    await store.close()

    flags = ["--state", redis_server.url, "--json"]
    assert await asyncio.to_thread(main, ["report", "feedback", *flags]) == 0
    down = json.loads(capsys.readouterr().out)["down_votes"]
    assert {"exercise": "reverse-squat", "comment": "how to breathe"}.items() <= down[0].items()
    page = tmp_path / "report.html"
    html_flags = ["report", "--html", str(page), "--state", redis_server.url]
    assert await asyncio.to_thread(main, html_flags) == 0
    assert "how to breathe" in page.read_text()
