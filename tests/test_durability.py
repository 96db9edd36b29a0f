"""Nothing lost: Telegram outages, failing sends, crashes and restarts, against the fake Bot API.

Outages run on a :class:`~tests.clock.FakeClock`: the bot's backoffs and the health check's
staleness read it, so 30 seconds of outage take a fraction of a second. Crashes are real: the
bot runs as its own process (``fitbot run``) and is sent SIGKILL, then started again on the same
state file.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot.engine import Engine
from bot.state.store import SqliteStore
from bot.telegram.receiving import ReceivingFatal
from tests.clock import FakeClock
from tests.fake_bot_api import FakeBotApi, parse_html
from tests.harness import free_port, running, settings_for

TIMEOUT = 10.0
START_TIMEOUT = 30.0
HOW = "how do I do a reverse squat?"
MISTAKES = "what are the common mistakes?"
CHECKLIST = "/checklist reverse squat"
TITLES = ("Reverse squat: steps", "Reverse squat: mistakes", "Reverse squat: form checklist")
OUTAGE_SECONDS = 30.0


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


def title(message: dict[str, Any]) -> str:
    text = parse_html(message["text"]) if message.get("parse_mode") else message["text"]
    return str(text).split("\n", 1)[0]


def statuses(api: FakeBotApi, method: str) -> list[int]:
    return [c.status for c in api.calls if c.method == method]


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"http://127.0.0.1:{port}/healthz") as response,
    ):
        return response.status, await response.json()


def tracebacks(records: Sequence[logging.LogRecord]) -> list[str]:
    return [r.getMessage() for r in records if r.exc_info or r.stack_info]


# -- outages ---------------------------------------------------------------------------------


async def test_a_30_second_outage_ends_with_every_reply_delivered_exactly_once(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock, chats = FakeClock(), range(1, 6)  # 25 messages in all
    async with running(
        fake_api, engine, settings_for(fake_api, tmp_path / "state.sqlite3"), clock=clock
    ):
        fake_api.go_down(502)  # everything fails, getUpdates too
        await clock.advance(5)
        fake_api.go_down(502, sparing=("getUpdates",))  # messages arrive, replies cannot go
        for second in range(0, int(OUTAGE_SECONDS) - 5, 5):
            for chat in chats:
                fake_api.push_text(chat, HOW if second < 10 else MISTAKES)
            await clock.advance(5)
        assert not any(fake_api.sent(chat) for chat in chats)
        assert statuses(fake_api, "getUpdates").count(502) >= 3
        fake_api.come_back()
        await clock.advance(90)  # past the longest backoff (60 s)
        for chat in chats:
            await fake_api.wait_sent(chat, 5, TIMEOUT)
        await clock.advance(5)

    for chat in chats:
        replies = [title(m) for m in fake_api.sent(chat)]
        assert replies == [TITLES[0]] * 2 + [TITLES[1]] * 3, replies
    assert statuses(fake_api, "sendMessage").count(200) == 5 * len(chats)
    assert not tracebacks(caplog.records)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("getUpdates failed (Bad Gateway)" in w for w in warnings)
    assert any("not delivered (network: Bad Gateway)" in w for w in warnings)


async def test_502_three_times_on_one_send_is_delivered_once(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "state.sqlite3")):
        fake_api.fail_next("sendMessage", 502, times=3)
        fake_api.push_text(1, HOW)
        (reply,) = await fake_api.wait_sent(1, 1, TIMEOUT)
        await asyncio.sleep(0.1)

    assert title(reply) == TITLES[0]
    assert statuses(fake_api, "sendMessage") == [502, 502, 502, 200]
    assert len(fake_api.sent(1)) == 1


async def test_a_chats_replies_keep_their_order_behind_a_failing_one(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    clock = FakeClock()
    async with running(
        fake_api, engine, settings_for(fake_api, tmp_path / "state.sqlite3"), clock=clock
    ):
        fake_api.fail_next("sendMessage", 503)
        fake_api.push_text(1, HOW)
        await fake_api.wait_for(lambda: statuses(fake_api, "sendMessage") == [503], TIMEOUT)
        fake_api.push_text(1, MISTAKES)
        fake_api.push_command(1, "checklist", "reverse squat")
        fake_api.push_text(2, HOW)  # another chat is not held up
        await fake_api.wait_sent(2, 1, TIMEOUT)
        await clock.advance(10)
        replies = await fake_api.wait_sent(1, 3, TIMEOUT)

    assert [title(m) for m in replies] == list(TITLES)


async def test_replies_kept_during_an_outage_are_sent_after_a_restart(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    settings = settings_for(fake_api, tmp_path / "state.sqlite3")
    async with running(fake_api, engine, settings, clock=FakeClock()):
        fake_api.go_down(502, sparing=("getUpdates",))
        fake_api.push_text(1, HOW)
        fake_api.push_text(1, MISTAKES)
        fake_api.push_text(2, HOW)
        await fake_api.wait_for(lambda: len(statuses(fake_api, "sendMessage")) >= 2, TIMEOUT)
    # SIGTERM-like stop during the outage (bounded by the harness): the replies stay kept.
    assert not fake_api.sent(1) and not fake_api.sent(2)
    fake_api.come_back()

    async with running(fake_api, engine, settings):
        first = await fake_api.wait_sent(1, 2, TIMEOUT)
        await fake_api.wait_sent(2, 1, TIMEOUT)

    assert [title(m) for m in first] == list(TITLES[:2])
    assert len(fake_api.sent(1)) == 2 and len(fake_api.sent(2)) == 1


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        pytest.param(429, "flood", id="429"),
        pytest.param(403, "blocked", id="403"),
        pytest.param(500, "network", id="5xx"),
    ],
)
async def test_expected_errors_are_one_warning_line_without_a_traceback(
    fake_api: FakeBotApi,
    engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    status: int,
    outcome: str,
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "state.sqlite3")):
        fake_api.stall_next("sendMessage", 0.8)  # slow enough for the typing indicator
        fake_api.fail_next("sendMessage", status)
        fake_api.fail_next("sendChatAction", status)
        fake_api.push_text(1, HOW)
        await fake_api.wait_for(lambda: len(statuses(fake_api, "sendMessage")) >= 1, TIMEOUT)
        if status != 403:
            await fake_api.wait_sent(1, 1, TIMEOUT)
        await asyncio.sleep(0.1)

    assert not tracebacks(caplog.records)
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert [line for line in lines if f"({outcome}:" in line], lines
    assert [line for line in lines if line.startswith("typing failed")], lines
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.levelno >= 30)


# -- health ----------------------------------------------------------------------------------


async def test_healthz_turns_503_while_updates_cannot_be_received(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    clock, port = FakeClock(), free_port()
    settings = settings_for(fake_api, tmp_path / "state.sqlite3", metrics_port=port)
    async with running(fake_api, engine, settings, clock=clock, receive_stale_after=60):
        assert (await healthz(port))[0] == 200
        fake_api.go_down(502)
        await fake_api.wait_for(lambda: 502 in statuses(fake_api, "getUpdates"), TIMEOUT)
        await clock.advance(30)
        assert (await healthz(port))[0] == 200  # a short failure is not an outage
        await clock.advance(40)
        status, body = await healthz(port)
        assert (status, body["receiving"]) == (503, "stalled")
        fake_api.come_back()
        fake_api.push_text(1, MISTAKES)  # the next poll returns at once
        await clock.advance(40)
        await fake_api.wait_for(lambda: statuses(fake_api, "getUpdates")[-1] == 200, TIMEOUT)
        assert (await healthz(port))[0] == 200


class BuggyStore(SqliteStore):
    """Keeping updates fails with a bug (not a state-file error)."""

    async def receive(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        if updates:
            raise RuntimeError("a bug in receiving")
        return set()


async def test_a_receiving_task_that_dies_of_a_bug_stops_the_bot_with_an_error(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.telegram.app import build_application, serve

    port = free_port()
    settings = settings_for(fake_api, tmp_path / "state.sqlite3", metrics_port=port)
    application = build_application(settings, engine, BuggyStore(settings.state))
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, settings, stop))
    await fake_api.wait_for(lambda: application.running, TIMEOUT)
    assert (await healthz(port))[0] == 200
    fake_api.push_text(1, HOW)

    with pytest.raises(ReceivingFatal):
        await asyncio.wait_for(task, TIMEOUT)

    (record,) = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert "a bug in receiving" in str(record.exc_info[1] if record.exc_info else "")


# -- unreadable updates, a failing state file ------------------------------------------------


async def test_an_unreadable_update_is_skipped_and_confirmed_and_others_are_answered(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = settings_for(fake_api, tmp_path / "state.sqlite3")
    async with running(fake_api, engine, settings):
        bad = fake_api.push_raw({"message": {"message_id": 1, "text": "no chat, no date"}})
        fake_api.push_text(1, HOW)
        await fake_api.wait_sent(1, 1, TIMEOUT)
    async with running(fake_api, engine, settings):
        fake_api.push_text(1, MISTAKES)
        await fake_api.wait_sent(1, 2, TIMEOUT)

    skipped = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert len(skipped) == 1
    assert re.fullmatch(rf"update {bad} could not be read \(\w+Error\); skipped", skipped[0])
    assert [title(m) for m in fake_api.sent(1)] == list(TITLES[:2])


class BreakableStore(SqliteStore):
    """A state file that can become unusable (as a corrupt file or a lost disk would)."""

    def break_down(self) -> None:
        self._db.close()


async def test_a_failing_state_file_does_not_cost_the_answer(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.telegram.app import build_application, serve

    port = free_port()
    settings = settings_for(fake_api, tmp_path / "state.sqlite3", metrics_port=port)
    store = BreakableStore(settings.state)
    application = build_application(settings, engine, store)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, settings, stop))
    try:
        await fake_api.wait_for(lambda: application.running, TIMEOUT)
        store.break_down()
        fake_api.push_text(1, HOW)
        fake_api.push_text(1, MISTAKES)
        replies = await fake_api.wait_sent(1, 2, TIMEOUT)
        status, body = await healthz(port)
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)

    assert [title(m) for m in replies] == list(TITLES[:2])  # the context was kept in memory
    assert status == 200 and body["state_errors"] > 0
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "carrying on without it" in errors[0].getMessage()


# -- crashes: the bot as a process, killed and started again ---------------------------------


@asynccontextmanager
async def bot_process(
    api: FakeBotApi, state: Path, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``fitbot run`` against ``api`` on ``state``; killed when the block ends if still alive.
    Its log goes to ``bot.log`` beside the state file."""
    log = (state.parent / "bot.log").open("ab")
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot.cli",
        "run",
        env={
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "FITBOT_STATE": str(state),
            "FITBOT_RATE_LIMIT": "0",
            "FITBOT_FLOOD_RATE": "0",
            **env,
        },
        stderr=log,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.wait()
        log.close()


async def quiet(api: FakeBotApi, seconds: float = 0.3) -> None:
    """Wait until the fake API has seen no new call for ``seconds`` (bounded)."""
    for _ in range(int(TIMEOUT / seconds)):
        count = len(api.calls)
        await asyncio.sleep(seconds)
        if len(api.calls) == count:
            return


def collapsed(titles: list[str]) -> list[str]:
    """``titles`` with repeats in a row made one (a resent reply arrives right after itself)."""
    return [t for i, t in enumerate(titles) if i == 0 or titles[i - 1] != t]


async def test_sigkill_mid_burst_and_restart_answers_every_message(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    state, chats = tmp_path / "state.sqlite3", range(1, 21)
    fake_api.latency = 0.01
    async with bot_process(fake_api, state) as first:
        await fake_api.wait_for(lambda: bool(fake_api.commands), START_TIMEOUT)
        for text in (HOW, MISTAKES, CHECKLIST):
            for chat in chats:
                fake_api.push_text(chat, text)
        await fake_api.wait_for(
            lambda: statuses(fake_api, "sendMessage").count(200) >= 15, TIMEOUT
        )
        fake_api.hold("sendMessage")  # what is sent from now on stays on the wire
        await fake_api.wait_for(lambda: fake_api.held > 0, TIMEOUT)
        await quiet(fake_api)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    on_the_wire = fake_api.held
    fake_api.release("sendMessage")  # Telegram took them, but the bot never heard
    await fake_api.wait_for(lambda: fake_api.held == 0, TIMEOUT)
    answered_before = sum(len(fake_api.sent(chat)) for chat in chats)
    assert answered_before < 60

    async with bot_process(fake_api, state):
        for chat in chats:
            await fake_api.wait_sent(chat, 3, START_TIMEOUT)
        await quiet(fake_api)

    total = 0
    for chat in chats:
        titles = [title(m) for m in fake_api.sent(chat)]
        assert collapsed(titles) == list(TITLES), titles
        total += len(titles)
    assert total - 60 <= on_the_wire  # only a send on the wire at the kill may repeat


async def test_webhook_loses_nothing_when_the_process_dies_after_the_200(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    state, port, chats = tmp_path / "state.sqlite3", free_port(), range(1, 6)
    hook = {
        "FITBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "FITBOT_WEBHOOK_PORT": str(port),
        "FITBOT_WEBHOOK_SECRET": "hook-secret",
    }
    fake_api.hold("sendMessage")
    async with bot_process(fake_api, state, **hook) as first:
        await fake_api.wait_for(lambda: fake_api.webhook is not None, START_TIMEOUT)
        for text in (HOW, MISTAKES):
            for chat in chats:
                assert await fake_api.post_webhook_update(fake_api.text_update(chat, text)) == 200
        # Each chat's first reply is on the wire; its second message waits its turn.
        await fake_api.wait_for(lambda: fake_api.held == len(chats), TIMEOUT)
        first.send_signal(signal.SIGKILL)
        await first.wait()
    fake_api.release("sendMessage")
    await fake_api.wait_for(lambda: fake_api.held == 0, TIMEOUT)

    async with bot_process(fake_api, state, **hook):
        for chat in chats:
            await fake_api.wait_sent(chat, 3, START_TIMEOUT)
        await quiet(fake_api)

    for chat in chats:
        titles = [title(m) for m in fake_api.sent(chat)]
        assert collapsed(titles) == list(TITLES[:2]), titles
        assert len(titles) <= 3  # the reply on the wire at the kill, at most twice
