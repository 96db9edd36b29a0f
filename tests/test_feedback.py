"""👍/👎 under answers, through the real application and the fake Bot API, into the state file
and ``fitbot report feedback``."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot.cli import main
from bot.engine import Engine
from bot.settings import Secret
from bot.state.redis_store import RedisStore
from bot.state.store import read_answer_counts, read_ratings
from bot.telegram.feedback import ASK_COMMENT, THANKS_HELPFUL, THANKS_UNHELPFUL
from bot.telegram.handlers import STALE_BUTTON, FitbotApp
from tests.fake_bot_api import FakeBotApi, parse_html
from tests.harness import running, settings_for
from tests.redis_server import RedisServer

TIMEOUT = 10.0
UP, DOWN = "\N{THUMBS UP SIGN}", "\N{THUMBS DOWN SIGN}"
HOW = "how do I do a reverse squat?"
JSONDict = dict[str, Any]


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def state(tmp_path: Path) -> Path:
    return tmp_path / "state.sqlite3"


@asynccontextmanager
async def serving(api: FakeBotApi, engine: Engine, state: Path) -> AsyncIterator[FitbotApp]:
    # A fixed salt keeps chat hashes stable across the restarts some tests make.
    settings = settings_for(api, state, log_salt=Secret("test-salt"))
    async with running(api, engine, settings) as application:
        yield application


def rating_buttons(message: JSONDict) -> dict[str, str]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return {b["text"]: b["callback_data"] for row in rows for b in row if b["text"] in (UP, DOWN)}


def toasts(api: FakeBotApi) -> list[str | None]:
    return [c.params.get("text") for c in api.calls if c.method == "answerCallbackQuery"]


async def ask(api: FakeBotApi, chat: int, text: str) -> JSONDict:
    before = len(api.sent(chat))
    api.push_text(chat, text)
    sent = await api.wait_sent(chat, before + 1, TIMEOUT)
    return sent[before]


async def press(api: FakeBotApi, chat: int, answer: JSONDict, thumb: str) -> None:
    before = len(toasts(api))
    api.push_callback(chat, rating_buttons(answer)[thumb], message_id=answer["message_id"])
    await api.wait_for(lambda: len(toasts(api)) > before, TIMEOUT)


def report(state: Path, capsys: pytest.CaptureFixture[str], *flags: str) -> str:
    capsys.readouterr()
    assert main(["report", "feedback", "--state", str(state), *flags]) == 0
    return capsys.readouterr().out


async def test_an_answer_has_one_row_of_thumbs_within_64_bytes(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)

    rows = answer["reply_markup"]["inline_keyboard"]
    thumbs = [row for row in rows if {b["text"] for b in row} & {UP, DOWN}]
    assert [[b["text"] for b in row] for row in thumbs] == [[UP, DOWN]]
    assert len(rows) > 1  # beside the section buttons
    for data in rating_buttons(answer).values():
        assert data.startswith("r|") and "reverse-squat|steps" in data
        assert len(data.encode()) <= 64


async def test_a_decline_has_no_thumbs(fake_api: FakeBotApi, engine: Engine, state: Path) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, "teach me the moonwalk")

    assert rating_buttons(answer) == {}


async def test_a_thumbs_up_is_toasted_and_lands_in_the_store_and_the_report(
    fake_api: FakeBotApi, engine: Engine, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, UP)

    assert toasts(fake_api) == [THANKS_HELPFUL]
    assert len(fake_api.sent(1)) == 1  # a toast, no message
    (kept,) = read_ratings(state)
    assert (kept.helpful, kept.record, kept.section, kept.question) == (
        True,
        "reverse-squat",
        "steps",
        HOW,
    )
    assert 0 < kept.confidence <= 1
    assert kept.chat != "1" and str(kept.chat) != "1"  # a hash, not the id

    data = json.loads(report(state, capsys, "--json"))
    (record,) = data["exercises"]
    assert (record["exercise"], record["answers"], record["up"], record["down"]) == (
        "reverse-squat",
        1,
        1,
        0,
    )
    assert record["helpful_rate"] == 1.0
    assert record["sections"][0]["section"] == "steps"
    assert data["down_votes"] == []


async def test_a_thumbs_down_asks_once_and_the_next_message_is_its_comment(
    fake_api: FakeBotApi, engine: Engine, state: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, DOWN)
        prompt = (await fake_api.wait_sent(1, 2, TIMEOUT))[1]
        await press(fake_api, 1, answer, DOWN)  # pressed again: no second question
        comment = await ask(fake_api, 1, "how much weight should I use")

    assert toasts(fake_api) == [THANKS_UNHELPFUL, THANKS_UNHELPFUL]
    assert prompt["text"] == ASK_COMMENT
    assert [m["text"] for m in fake_api.sent(1)].count(ASK_COMMENT) == 1
    assert parse_html(comment["text"]).startswith("Reverse squat")  # answered as usual
    (kept,) = read_ratings(state)
    assert (kept.helpful, kept.comment) == (False, "how much weight should I use")

    text = report(state, capsys)
    assert f'asked:       "{HOW}"' in text
    assert 'looking for: "how much weight should I use"' in text
    assert "reverse-squat" in text and "0%" in text


async def test_a_new_question_after_a_thumbs_down_is_answered_and_not_kept_as_comment(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, DOWN)
        await fake_api.wait_sent(1, 2, TIMEOUT)
        other = await ask(fake_api, 1, "what muscles do negative squats work?")
        later = await ask(fake_api, 1, "and the mistakes?")

    assert parse_html(other["text"]).startswith("Negative squat")
    assert parse_html(later["text"]).startswith("Negative squat")
    (kept,) = read_ratings(state)
    assert kept.comment is None


async def test_changing_a_thumbs_up_to_down_keeps_one_rating(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, UP)
        await press(fake_api, 1, answer, DOWN)
        await fake_api.wait_sent(1, 2, TIMEOUT)

    assert [r.helpful for r in read_ratings(state)] == [False]


async def test_buttons_and_the_comment_request_work_after_a_restart(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    async with serving(fake_api, engine, state):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, DOWN)
        await fake_api.wait_sent(1, 2, TIMEOUT)
    async with serving(fake_api, engine, state):  # restarted: nothing in memory
        await ask(fake_api, 1, "breathing cues")
        await press(fake_api, 1, answer, UP)

    (kept,) = read_ratings(state)
    assert (kept.record, kept.section, kept.helpful) == ("reverse-squat", "steps", True)
    assert kept.question == HOW  # kept from the first press
    assert kept.comment == "breathing cues"


async def test_answers_given_are_counted_per_record_and_section(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    async with serving(fake_api, engine, state):
        await ask(fake_api, 1, HOW)
        await ask(fake_api, 2, HOW)
        await ask(fake_api, 1, "teach me the moonwalk")
        fake_api.push_command(1, "start")
        await fake_api.wait_sent(1, 3, TIMEOUT)

    counts = {(c.record, c.section, c.answered): c.count for c in read_answer_counts(state)}
    assert counts == {("reverse-squat", "steps", True): 2, ("", "", False): 1}


@pytest.mark.parametrize("data", ["r|+|reverse-squat|steps", "r|x|a|b|1", "r|+|a|b|200"])
async def test_a_garbled_rating_gets_the_stale_button_notice(
    fake_api: FakeBotApi, engine: Engine, state: Path, data: str
) -> None:
    async with serving(fake_api, engine, state):
        fake_api.push_callback(1, data, message_id=1)
        await fake_api.wait_for(lambda: bool(toasts(fake_api)), TIMEOUT)

    assert toasts(fake_api) == [STALE_BUTTON]
    assert read_ratings(state) == []


async def test_in_a_group_the_question_quotes_the_answer_and_a_reply_is_the_comment(
    fake_api: FakeBotApi, engine: Engine, state: Path
) -> None:
    group = -1001
    async with serving(fake_api, engine, state):
        fake_api.push_command(group, "checklist", "reverse squat", user_id=5, chat_type="group")
        (answer,) = await fake_api.wait_sent(group, 1, TIMEOUT)
        await press(fake_api, group, answer, DOWN)
        prompt = (await fake_api.wait_sent(group, 2, TIMEOUT))[1]
        fake_api.push_text(group, "the breathing", user_id=5, chat_type="group", reply_to_bot=True)
        await fake_api.wait_sent(group, 3, TIMEOUT)

    assert prompt["text"] == ASK_COMMENT
    assert prompt["reply_parameters"]["message_id"] == answer["message_id"]
    (kept,) = read_ratings(state)
    assert (kept.section, kept.comment) == ("checklist", "the breathing")


async def test_ratings_and_comments_live_in_a_shared_redis_too(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, redis_server: RedisServer
) -> None:
    prefix = f"test-{secrets.token_hex(4)}:"
    settings = settings_for(fake_api, tmp_path / "unused.sqlite3", log_salt=Secret("salt"))

    def store() -> RedisStore:
        return RedisStore(redis_server.url, prefix=prefix)

    async with running(fake_api, engine, settings, store=store()):
        answer = await ask(fake_api, 1, HOW)
        await press(fake_api, 1, answer, DOWN)
        await fake_api.wait_sent(1, 2, TIMEOUT)
    async with running(fake_api, engine, settings, store=store()):  # another replica
        await ask(fake_api, 1, "how much weight should I use")

    reader = store()
    try:
        (kept,) = await reader.ratings()
        counts = {(c.record, c.section): c.count for c in await reader.answer_counts()}
    finally:
        await reader.close()
    assert (kept.helpful, kept.question, kept.comment) == (
        False,
        HOW,
        "how much weight should I use",
    )
    assert counts[("reverse-squat", "steps")] == 1
