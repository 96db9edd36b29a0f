"""The real application, built by build_application, against the fake Bot API over HTTP.

Every test runs the bot as production does (serve(): polling or webhook, the Bot API client
on aiohttp, the chat-ordered processor, the outbox) on 127.0.0.1, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.context import Context
from bot.engine import Engine
from bot.knowledge import default_knowledge_dir, load_knowledge
from bot.settings import Secret, Settings
from bot.state.store import SqliteStore
from bot.telegram.app import RedactingFilter, run
from bot.telegram.handlers import (
    COMMANDS,
    SLOW_DOWN,
    STALE_BUTTON,
    TEXT_ONLY,
    FitbotApp,
    FloodGate,
    Verdict,
)
from bot.telegram.ordering import ChatOrderedProcessor, ordering_key
from tests.fake_bot_api import BOT_USERNAME, FakeBotApi, parse_html
from tests.harness import free_port, running, settings_for

TIMEOUT = 10.0
JSONDict = dict[str, Any]
HOW = "how do I do a reverse squat?"
MISTAKES = "what are the common mistakes?"
MENTION = f"@{BOT_USERNAME}"


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(load_knowledge(default_knowledge_dir()))


@asynccontextmanager
async def serving(
    api: FakeBotApi, engine: Engine, state: Path, **changes: Any
) -> AsyncIterator[FitbotApp]:
    """The application running in the background until the block ends."""
    async with running(api, engine, settings_for(api, state, **changes)) as application:
        yield application


@pytest.fixture
async def live(fake_api: FakeBotApi, engine: Engine, tmp_path: Path) -> AsyncIterator[FakeBotApi]:
    """The fake API with the bot polling it."""
    async with serving(fake_api, engine, tmp_path / "state.sqlite3"):
        yield fake_api


def plain(message: JSONDict) -> str:
    return parse_html(message["text"])


def title(message: JSONDict) -> str:
    return plain(message).split("\n", 1)[0]


def buttons(message: JSONDict) -> list[tuple[str, str]]:
    rows = message.get("reply_markup", {}).get("inline_keyboard", [])
    return [(b["text"], b["callback_data"]) for row in rows for b in row]


def calls(api: FakeBotApi, method: str) -> list[JSONDict]:
    return [c.params for c in api.calls if c.method == method]


async def settle(api: FakeBotApi, chat_id: int, expected: int) -> list[JSONDict]:
    """Messages to ``chat_id`` once ``expected`` arrived, with no extra one close behind."""
    sent = await api.wait_sent(chat_id, expected, TIMEOUT)
    await asyncio.sleep(0.05)
    assert len(api.sent(chat_id)) == expected, [plain(m) for m in api.sent(chat_id)]
    return sent


# -- commands and conversation ---------------------------------------------------------------


async def test_command_menu_is_registered_at_start(live: FakeBotApi) -> None:
    assert [c["command"] for c in live.commands] == [c.command for c in COMMANDS]


@pytest.mark.parametrize(
    ("command", "args", "expected"),
    [
        pytest.param("start", "", "Hi, I'm fitbot", id="start"),
        pytest.param("help", "", "Hi, I'm fitbot", id="help"),
        pytest.param("exercises", "", "What I cover", id="exercises"),
        pytest.param("checklist", "reverse squat", "Reverse squat: form checklist", id="check"),
        pytest.param("alternatives", "reverse squat at home", "Reverse squat: alt", id="alts"),
        pytest.param("reset", "", "Fresh start", id="reset"),
    ],
)
async def test_commands(live: FakeBotApi, command: str, args: str, expected: str) -> None:
    live.push_command(1, command, args)

    (reply,) = await settle(live, 1, 1)

    assert title(reply).startswith(expected)
    assert reply["parse_mode"] == "HTML"
    assert reply["text"].startswith("<b>")
    assert "reply_parameters" not in reply  # private chats are not quoted


async def test_help_lists_the_commands(live: FakeBotApi) -> None:
    live.push_command(1, "help")

    (reply,) = await settle(live, 1, 1)

    assert "/checklist" in plain(reply)


async def test_typing_is_shown_only_while_an_answer_is_slow(live: FakeBotApi) -> None:
    live.push_text(1, HOW)
    await settle(live, 1, 1)
    live.stall_next("sendMessage", 0.8)  # longer than TYPING_AFTER_SECONDS
    live.push_text(1, MISTAKES)
    await settle(live, 1, 2)

    order = [
        (c.method, c.params.get("action")) for c in live.calls if c.params.get("chat_id") == 1
    ]
    assert order == [("sendMessage", None), ("sendChatAction", "typing"), ("sendMessage", None)]


async def test_follow_up_question_uses_the_conversation(live: FakeBotApi) -> None:
    live.push_text(1, HOW)
    live.push_text(1, MISTAKES)

    first, second = await settle(live, 1, 2)

    assert title(first) == "Reverse squat: steps"
    assert title(second) == "Reverse squat: mistakes"
    assert "Form checklist" in [text for text, _ in buttons(first)]


async def test_reset_forgets_the_conversation(live: FakeBotApi) -> None:
    live.push_text(1, HOW)
    live.push_command(1, "reset")
    live.push_text(1, MISTAKES)

    *_, after = await settle(live, 1, 3)

    assert "Reverse squat" not in title(after)


async def test_unknown_command_in_private_is_explained(live: FakeBotApi) -> None:
    live.push_command(1, "dance")

    (reply,) = await settle(live, 1, 1)

    assert "/dance" in plain(reply)


async def test_html_in_the_question_cannot_break_the_reply(live: FakeBotApi) -> None:
    live.push_command(1, "checklist", "<b>moon</b> & <co")

    (reply,) = await settle(live, 1, 1)  # the fake rejects malformed HTML with 400

    assert "<b>moon</b> & <co" in plain(reply)


# -- buttons ---------------------------------------------------------------------------------


async def test_pressing_a_button_answers_the_query_and_shows_the_section(
    live: FakeBotApi,
) -> None:
    live.push_text(1, HOW)
    (answer,) = await settle(live, 1, 1)
    data = dict(buttons(answer))["Form checklist"]
    assert len(data.encode()) <= 64

    query = live.push_callback(1, data, message_id=answer["message_id"])
    _, section = await settle(live, 1, 2)

    assert title(section) == "Reverse squat: form checklist"
    assert query in [c["callback_query_id"] for c in calls(live, "answerCallbackQuery")]


async def test_a_stale_button_is_answered_with_a_notice(live: FakeBotApi) -> None:
    query = live.push_callback(1, "v1:4f2a", message_id=1)

    await live.wait_for(lambda: bool(calls(live, "answerCallbackQuery")), TIMEOUT)

    (answered,) = calls(live, "answerCallbackQuery")
    assert answered["callback_query_id"] == query
    assert answered["text"] == STALE_BUTTON
    assert live.sent(1) == []


# -- inline mode -----------------------------------------------------------------------------


async def inline_results(api: FakeBotApi, query: str) -> list[JSONDict]:
    query_id = api.push_inline_query(7, query)
    await api.wait_for(
        lambda: any(c["inline_query_id"] == query_id for c in calls(api, "answerInlineQuery")),
        TIMEOUT,
    )
    call = next(c for c in calls(api, "answerInlineQuery") if c["inline_query_id"] == query_id)
    results: list[JSONDict] = call["results"]
    return results


async def test_inline_query_offers_the_matching_exercise_card(live: FakeBotApi) -> None:
    results = await inline_results(live, "reverse squat")

    assert results
    assert results[0]["title"].startswith("Reverse squat")
    content = results[0]["input_message_content"]
    assert content["parse_mode"] == "HTML"
    assert parse_html(content["message_text"]).startswith("Reverse squat")


async def test_empty_inline_query_offers_the_catalogue(live: FakeBotApi, engine: Engine) -> None:
    results = await inline_results(live, "")

    assert [r["title"] for r in results] == [name for _, name in engine.catalogue()]


async def test_inline_query_about_something_uncovered_offers_nothing(live: FakeBotApi) -> None:
    assert await inline_results(live, "moon landing") == []


# -- groups ----------------------------------------------------------------------------------

GROUP = -1001


async def test_group_plain_text_is_ignored(live: FakeBotApi) -> None:
    live.push_text(GROUP, HOW, user_id=5, chat_type="group")
    live.push_command(GROUP, "help", user_id=5, chat_type="group")

    (reply,) = await settle(live, GROUP, 1)  # in order: the plain text came first

    assert title(reply) == "Hi, I'm fitbot"
    assert [c.params["text"][:20] for c in live.calls if c.method == "sendMessage"] == [
        reply["text"][:20]
    ]


@pytest.mark.parametrize(
    "push",
    [
        pytest.param(
            lambda api: api.push_text(
                GROUP,
                f"{MENTION} {HOW}",
                user_id=5,
                chat_type="group",
                entities=[{"type": "mention", "offset": 0, "length": len(MENTION)}],
            ),
            id="mention",
        ),
        pytest.param(
            lambda api: api.push_text(GROUP, HOW, user_id=5, chat_type="group", reply_to_bot=True),
            id="reply-to-bot",
        ),
        pytest.param(
            lambda api: api.push_command(
                GROUP, f"checklist@{BOT_USERNAME}", "reverse squat", user_id=5, chat_type="group"
            ),
            id="command-for-us",
        ),
    ],
)
async def test_group_messages_meant_for_the_bot_are_answered_as_replies(
    live: FakeBotApi, push: Any
) -> None:
    message_id = push(live)

    (reply,) = await settle(live, GROUP, 1)

    assert title(reply).startswith("Reverse squat")
    assert reply["reply_parameters"]["message_id"] == message_id


async def test_group_command_for_another_bot_is_ignored(live: FakeBotApi) -> None:
    live.push_command(GROUP, "help@other_bot", user_id=5, chat_type="group")
    live.push_sticker(GROUP, user_id=5, chat_type="group")
    live.push_command(GROUP, "exercises", user_id=5, chat_type="group")

    (reply,) = await settle(live, GROUP, 1)

    assert title(reply) == "What I cover"


# -- other kinds of update -------------------------------------------------------------------


@pytest.mark.parametrize(
    "push",
    [
        pytest.param(lambda api: api.push_sticker(1), id="sticker"),
        pytest.param(lambda api: api.push_photo(1, caption="is my form ok?"), id="photo"),
    ],
)
async def test_non_text_gets_asked_for_text(live: FakeBotApi, push: Any) -> None:
    push(live)

    (reply,) = await settle(live, 1, 1)

    assert reply["text"] == TEXT_ONLY


async def test_an_edited_question_is_answered_again_quoting_the_edit(live: FakeBotApi) -> None:
    message_id = live.push_text(1, "how do I do a revrse squat?")
    await settle(live, 1, 1)

    live.push_edited_text(1, message_id, MISTAKES)
    _, reply = await settle(live, 1, 2)

    assert title(reply) == "Reverse squat: mistakes"
    assert reply["reply_parameters"]["message_id"] == message_id


async def test_channel_posts_are_not_even_requested(live: FakeBotApi) -> None:
    live.push_channel_post(-1002, HOW)
    live.push_text(1, HOW)

    await settle(live, 1, 1)

    assert live.sent(-1002) == []
    assert "channel_post" not in calls(live, "getUpdates")[-1]["allowed_updates"]


# -- robustness ------------------------------------------------------------------------------


@pytest.mark.parametrize("rate_limit", [True, False], ids=["rate-limiter", "outbox"])
async def test_flood_limit_is_waited_out_and_the_reply_delivered(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, rate_limit: bool
) -> None:
    async with serving(fake_api, engine, tmp_path / "s.sqlite3", rate_limit=rate_limit):
        fake_api.fail_next("sendMessage", 429, retry_after=1)
        fake_api.push_text(1, HOW)

        (reply,) = await settle(fake_api, 1, 1)

    assert title(reply) == "Reverse squat: steps"
    statuses = [c.status for c in fake_api.calls if c.method == "sendMessage"]
    assert statuses == [429, 200]


async def test_server_error_is_retried_and_delivered_once(live: FakeBotApi) -> None:
    live.fail_next("sendMessage", 502)
    live.push_text(1, HOW)

    await settle(live, 1, 1)

    assert [c.status for c in live.calls if c.method == "sendMessage"] == [502, 200]


async def test_polling_survives_a_failing_bot_api(
    live: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    live.fail_next("getUpdates", 502, times=4)
    live.push_text(1, HOW)  # answered by the poll already waiting; the next ones fail
    await live.wait_for(
        lambda: sum(c.status == 502 for c in live.calls if c.method == "getUpdates") == 4,
        TIMEOUT,
    )
    live.push_text(1, MISTAKES)

    *_, reply = await settle(live, 1, 2)

    assert title(reply) == "Reverse squat: mistakes"
    failed = [r for r in caplog.records if "getUpdates failed" in r.getMessage()]
    assert len(failed) == 4
    assert not any(r.exc_info for r in caplog.records)


async def test_blocked_chat_is_logged_once_and_others_still_served(
    live: FakeBotApi, caplog: pytest.LogCaptureFixture
) -> None:
    live.block_chat(2)
    for _ in range(3):
        live.push_text(2, HOW)
    live.push_text(1, HOW)

    await settle(live, 1, 1)
    await live.wait_for(
        lambda: sum(c.status == 403 for c in live.calls if c.method == "sendMessage") == 3,
        TIMEOUT,
    )

    blocked = [r for r in caplog.records if "(blocked:" in r.getMessage()]
    assert len(blocked) == 1
    assert blocked[0].levelno == logging.WARNING
    # The raw chat id never shows (its hash may start with a 2: "chat 2b3e...").
    raw = re.compile(r"chat 2\b")
    assert not [r for r in caplog.records if raw.search(r.getMessage()) or r.exc_info]
    assert live.sent(2) == []


class BrokenEngine(Engine):
    def ask(self, text: str, context: Context | None = None) -> Any:
        raise RuntimeError("engine bug")


async def test_a_failing_handler_is_logged_and_the_user_gets_an_apology(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with serving(fake_api, BrokenEngine(engine.kb), tmp_path / "s.sqlite3"):
        fake_api.push_text(1, HOW)
        (reply,) = await settle(fake_api, 1, 1)

    assert "something went wrong" in reply["text"]
    (record,) = [r for r in caplog.records if r.exc_info and r.levelno == logging.ERROR]
    assert "engine bug" in str(record.exc_info[1] if record.exc_info else "")


async def test_one_user_flooding_gets_one_notice_and_does_not_starve_others(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    async with serving(fake_api, engine, tmp_path / "s.sqlite3", flood_rate=0.1, flood_burst=3):
        for _ in range(30):
            fake_api.push_text(1, HOW)
        fake_api.push_text(2, HOW)

        await fake_api.wait_sent(2, 1, TIMEOUT)
        flooded = await settle(fake_api, 1, 4)

    assert [m["text"] for m in flooded].count(SLOW_DOWN) == 1
    assert flooded[-1]["text"] == SLOW_DOWN


async def test_each_chat_is_answered_in_order_while_chats_run_in_parallel(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    script = [
        ("/checklist reverse squat", "Reverse squat: form checklist"),
        ("/exercises", "What I cover"),
        ("/alternatives reverse squat", "Reverse squat: alternatives"),
        ("/help", "Hi, I'm fitbot"),
        ("/reset", "Fresh start"),
    ]
    chats = range(1, 51)
    fake_api.latency = 0.02
    async with serving(fake_api, engine, tmp_path / "s.sqlite3"):
        started = time.monotonic()
        for chat in chats:
            for text, _ in script[chat % 5 :] + script[: chat % 5]:
                fake_api.push_text(chat, text)
        for chat in chats:
            await fake_api.wait_sent(chat, len(script), TIMEOUT)
        elapsed = time.monotonic() - started

    for chat in chats:
        expected = [t for _, t in script[chat % 5 :] + script[: chat % 5]]
        assert [title(m) for m in fake_api.sent(chat)] == expected
    # 250 answers of two 20 ms calls each would take 10 s one at a time.
    assert elapsed < 5


# -- persistence and restart -----------------------------------------------------------------


async def test_context_and_buttons_survive_a_restart(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    async with serving(fake_api, engine, state):
        fake_api.push_text(1, HOW)
        (answer,) = await settle(fake_api, 1, 1)

    async with serving(fake_api, engine, state):
        fake_api.push_text(1, MISTAKES)
        await settle(fake_api, 1, 2)
        data = dict(buttons(answer))["Cautions"]
        fake_api.push_callback(1, data, message_id=answer["message_id"])
        *_, mistakes, cautions = await settle(fake_api, 1, 3)

    assert title(mistakes) == "Reverse squat: mistakes"
    assert title(cautions) == "Reverse squat: cautions"


# -- webhook ---------------------------------------------------------------------------------


async def test_webhook_mode_checks_the_secret_on_every_request(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/telegram/hook"
    async with serving(
        fake_api,
        engine,
        tmp_path / "s.sqlite3",
        webhook_url=url,
        listen="127.0.0.1",
        port=port,
        webhook_secret=Secret("hook-secret_1"),
    ):
        assert fake_api.webhook is not None
        assert fake_api.webhook["url"] == url
        assert fake_api.webhook["secret_token"] == "hook-secret_1"
        message = {
            "message_id": 1,
            "date": 0,
            "chat": {"id": 3, "type": "private", "first_name": "A"},
            "from": {"id": 3, "is_bot": False, "first_name": "A"},
            "text": HOW,
        }
        channel = {"message_id": 1, "date": 0, "chat": {"id": -1003, "type": "channel"}}
        async with aiohttp.ClientSession() as http:
            for headers in ({}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}):
                async with http.post(
                    url, json={"update_id": 1, "message": message}, headers=headers
                ) as r:
                    assert r.status == 403
            good = {"X-Telegram-Bot-Api-Secret-Token": "hook-secret_1"}
            async with http.post(url, data=b"{not json", headers=good) as r:
                assert r.status == 400
        assert (
            await fake_api.post_webhook_update({"channel_post": {**channel, "text": HOW}}) == 200
        )
        assert await fake_api.post_webhook_update({"edited_channel_post": channel}) == 200
        assert await fake_api.post_webhook_update({"message": message}) == 200

        (reply,) = await settle(fake_api, 3, 1)

    assert title(reply) == "Reverse squat: steps"
    assert not calls(fake_api, "getUpdates")


# -- secrets in logs -------------------------------------------------------------------------


async def test_the_token_appears_in_no_log_record(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with serving(fake_api, engine, tmp_path / "s.sqlite3", rate_limit=True):
        fake_api.fail_next("sendMessage", 502)
        fake_api.fail_next("sendChatAction", 429, retry_after=1)
        fake_api.block_chat(2)
        fake_api.push_text(2, HOW)
        fake_api.push_text(1, HOW)
        fake_api.push_callback(1, "junk", message_id=1)
        await settle(fake_api, 1, 1)

    formatter = logging.Formatter()
    secret = fake_api.token.partition(":")[2]
    assert len(caplog.records) > 20
    for record in caplog.records:
        assert secret not in formatter.format(record)


def test_redacting_filter_without_secrets_changes_nothing() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "plain %s", ("text",), None)

    assert RedactingFilter([""]).filter(record)
    assert record.getMessage() == "plain text"


def test_redacting_filter_scrubs_messages_arguments_and_tracebacks() -> None:
    token = "123:secret-value_0123456789012345678901234"
    redact = RedactingFilter([token])
    try:
        raise ValueError(f"bad url https://api/bot{token}/getMe")
    except ValueError:
        record = logging.LogRecord(
            "x", logging.ERROR, __file__, 1, "url %s", (token,), sys.exc_info()
        )
    record.stack_info = f"at {token.replace(':', '%3A')}"

    assert redact.filter(record)

    shown = logging.Formatter().format(record)
    assert "secret-value" not in shown
    assert "***" in shown


# -- start-up, signals -----------------------------------------------------------------------


@pytest.fixture
def clean_logging() -> Iterator[None]:
    """run() configures the root logger and its handlers; put them back."""
    root = logging.getLogger()
    level, handlers = root.level, {h: list(h.filters) for h in root.handlers}
    yield
    root.setLevel(level)
    for handler, filters in handlers.items():
        handler.filters[:] = filters


@pytest.mark.usefixtures("clean_logging")
def test_run_without_a_token_says_how_to_set_it(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code = run(Settings(state=tmp_path / "s.sqlite3"))

    assert code == 2
    assert "TELEGRAM_BOT_TOKEN is not set" in capsys.readouterr().err


@pytest.mark.usefixtures("clean_logging")
def test_run_refuses_a_broken_knowledge_base(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    token = Secret("123:" + "a" * 35)
    code = run(Settings(token=token, knowledge=tmp_path / "nope", state=tmp_path / "s.sqlite3"))

    assert code == 1
    assert "refusing to start" in capsys.readouterr().err


async def test_sigterm_sends_the_answer_in_flight_and_saves_state(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    state = tmp_path / "state.sqlite3"
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake_api.token,
        "TELEGRAM_BASE_URL": fake_api.base_url,
        "FITBOT_STATE": str(state),
        "FITBOT_RATE_LIMIT": "0",
        "FITBOT_LOG_LEVEL": "DEBUG",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        "from bot.settings import Settings; from bot.telegram.app import run; "
        "raise SystemExit(run(Settings.from_env()))",
        env=env,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        await fake_api.wait_for(lambda: bool(fake_api.commands), 20)
        fake_api.push_text(1, HOW)
        await fake_api.wait_sent(1, 1, TIMEOUT)
        fake_api.stall_next("sendMessage", 1.0)
        fake_api.push_text(1, MISTAKES)
        # Typing shows after half a second: the reply is waiting on the stalled server.
        await fake_api.wait_for(lambda: len(calls(fake_api, "sendChatAction")) == 1, TIMEOUT)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log = stderr.decode()
    assert process.returncode == 0, log
    assert [title(m) for m in fake_api.sent(1)] == [
        "Reverse squat: steps",
        "Reverse squat: mistakes",
    ]
    assert fake_api.token.partition(":")[2] not in log
    saved = await SqliteStore(state).load(1)
    assert (saved.exercises, saved.intent) == (("reverse-squat",), "mistakes")


# -- the pieces the application is built from ------------------------------------------------


async def test_flood_gate_allows_bursts_then_warns_once_then_drops() -> None:
    now = [0.0]
    gate = FloodGate(rate=1.0, burst=3, clock=lambda: now[0])

    verdicts = [await gate.admit(1) for _ in range(6)]

    assert verdicts == [Verdict.PASS] * 3 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    assert await gate.admit(2) is Verdict.PASS  # other users are not affected
    now[0] = 1.0
    assert await gate.admit(1) is Verdict.PASS  # refilled one token a second
    assert await gate.admit(1) is Verdict.WARN  # a new flood gets a new notice


async def test_processor_keeps_each_chat_in_order_and_runs_chats_in_parallel() -> None:
    from telegram import Update

    processor = ChatOrderedProcessor(max_concurrent=8)
    log: list[tuple[int, int]] = []
    running = 0
    peak = 0

    async def handle(chat: int, n: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01 * (3 - n))  # later messages finish faster if unordered
        log.append((chat, n))
        running -= 1

    def update(chat: int) -> Update:
        return Update.de_json(
            {
                "update_id": 1,
                "message": {
                    "message_id": 1,
                    "date": 0,
                    "chat": {"id": chat, "type": "private"},
                    "text": "x",
                },
            },
            None,
        )

    async with processor:
        await asyncio.gather(
            *(
                processor.process_update(update(chat), handle(chat, n))
                for n in range(3)
                for chat in (1, 2, 3)
            )
        )

    for chat in (1, 2, 3):
        assert [n for c, n in log if c == chat] == [0, 1, 2]
    assert peak == 3
    assert ordering_key(object()) is None
