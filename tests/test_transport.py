"""AiohttpRequest against the fake Bot API: delivery, retries, timeouts, errors, throughput."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import socket
import time
import traceback
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from telegram import Bot, InputFile
from telegram.error import (
    BadRequest,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import RequestData
from telegram.request._requestparameter import RequestParameter

from bot.transport import AiohttpRequest
from tests.fake_bot_api import FakeBotApi

MakeBot = Callable[..., Bot]


@pytest.fixture
async def make_bot(fake_api: FakeBotApi) -> AsyncIterator[MakeBot]:
    """Build initialised-on-demand Bots on AiohttpRequest(**kwargs); all are shut down after."""
    bots: list[Bot] = []

    def make(**kwargs: Any) -> Bot:
        bot = Bot(
            fake_api.token,
            base_url=fake_api.base_url,
            request=AiohttpRequest(**kwargs),
            get_updates_request=AiohttpRequest(**kwargs),
        )
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        await bot.shutdown()


def sendmessage_statuses(api: FakeBotApi) -> list[int]:
    return [c.status for c in api.calls if c.method == "sendMessage"]


def assert_no_token(exc: BaseException, token: str) -> None:
    """Neither the message nor a logged traceback (with causes) may reveal the token."""
    rendered = "".join(traceback.format_exception(exc))
    assert token not in str(exc)
    assert token not in repr(exc)
    assert token not in rendered
    assert token.partition(":")[2] not in rendered


async def test_send_message_is_delivered(fake_api: FakeBotApi, make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        message = await bot.send_message(11, "<b>Squat</b> deep", parse_mode="HTML")

    assert (message.chat.id, message.text) == (11, "Squat deep")
    assert [p["text"] for p in fake_api.sent(11)] == ["<b>Squat</b> deep"]


@pytest.mark.parametrize("status", [pytest.param(s, id=str(s)) for s in (500, 502, 503, 504)])
async def test_server_error_then_success_is_delivered_once(
    fake_api: FakeBotApi, make_bot: MakeBot, status: int
) -> None:
    async with make_bot() as bot:
        fake_api.fail_next("sendMessage", status, times=2)
        await bot.send_message(12, "retry me")

    assert sendmessage_statuses(fake_api) == [status, status, 200]
    assert [p["text"] for p in fake_api.sent(12)] == ["retry me"]


async def test_server_errors_beyond_the_bound_raise_network_error(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(max_attempts=3) as bot:
        fake_api.fail_next("sendMessage", 500, times=4)
        started = time.monotonic()
        with pytest.raises(NetworkError, match="Internal Server Error") as caught:
            await bot.send_message(13, "lost")

    assert not isinstance(caught.value, TimedOut)
    assert sendmessage_statuses(fake_api) == [500, 500, 500]
    assert 0.3 <= time.monotonic() - started < 1.5  # backoff 0.1 s, then 0.2 s
    assert fake_api.sent(13) == []
    assert_no_token(caught.value, fake_api.token)


async def test_read_timeout_of_send_message_is_not_retried(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(read_timeout=0.2) as bot:
        fake_api.stall_next("sendMessage", 0.6)
        with pytest.raises(TimedOut) as caught:
            await bot.send_message(14, "maybe delivered")
        # The stalled call still completes on the server: a retry would have duplicated it.
        await fake_api.wait_for(lambda: len(fake_api.sent(14)) == 1, timeout=2)
        await asyncio.sleep(0.3)

    assert sendmessage_statuses(fake_api) == [200]
    assert_no_token(caught.value, fake_api.token)


async def test_read_timeout_of_a_read_only_method_is_retried(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(read_timeout=0.2) as bot:
        fake_api.stall_next("getMe", 0.6)
        me = await bot.get_me()
        # initialize's call, the retry, and (once its stall ends) the timed-out call
        await fake_api.wait_for(lambda: [c.method for c in fake_api.calls].count("getMe") == 3)

    assert me.username == "fitbot_test_bot"


async def test_explicit_none_read_timeout_waits_indefinitely(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(read_timeout=0.1) as bot:
        fake_api.stall_next("sendMessage", 0.4)
        await bot.send_message(15, "patience", read_timeout=None)

    assert sendmessage_statuses(fake_api) == [200]


async def test_long_poll_longer_than_the_read_timeout_does_not_time_out(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(read_timeout=0.3) as bot:
        started = time.monotonic()
        updates = await bot.get_updates(timeout=1)

    assert updates == ()
    assert time.monotonic() - started >= 0.9


async def test_pushed_update_arrives_through_long_polling(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot() as bot:
        poll = asyncio.ensure_future(bot.get_updates(timeout=5))
        await asyncio.sleep(0.05)
        fake_api.push_text(16, "hello coach")
        updates = await asyncio.wait_for(poll, 2)

    assert [u.message.text for u in updates if u.message] == ["hello coach"]


async def test_flood_limit_is_waited_out_when_enabled(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot(retry_after_429=True) as bot:
        fake_api.fail_next("sendMessage", 429, retry_after=1)
        started = time.monotonic()
        await bot.send_message(17, "after the flood")

    assert time.monotonic() - started >= 1.0
    assert sendmessage_statuses(fake_api) == [429, 200]
    assert [p["text"] for p in fake_api.sent(17)] == ["after the flood"]


@pytest.mark.parametrize(
    ("kwargs", "retry_after"),
    [
        pytest.param({}, 1, id="disabled-by-default"),
        pytest.param({"retry_after_429": True, "max_retry_after": 2}, 30, id="wait-too-long"),
        pytest.param({"retry_after_429": True, "max_429_retries": 0}, 1, id="no-retries-left"),
    ],
)
async def test_flood_limit_is_left_to_ptb_otherwise(
    fake_api: FakeBotApi,
    make_bot: MakeBot,
    monkeypatch: pytest.MonkeyPatch,
    kwargs: dict[str, Any],
    retry_after: int,
) -> None:
    # PTB 22 warns (an error here) when RetryAfter is built unless timedeltas are opted into.
    monkeypatch.setenv("PTB_TIMEDELTA", "1")
    async with make_bot(**kwargs) as bot:
        fake_api.fail_next("sendMessage", 429, retry_after=retry_after)
        started = time.monotonic()
        with pytest.raises(RetryAfter) as caught:
            await bot.send_message(18, "flooded")

    assert caught.value.retry_after == dt.timedelta(seconds=retry_after)
    assert time.monotonic() - started < 0.5
    assert sendmessage_statuses(fake_api) == [429]


@pytest.mark.parametrize(
    ("setup", "error"),
    [
        pytest.param(lambda api: api.fail_next("sendMessage", 403), Forbidden, id="fail-403"),
        pytest.param(lambda api: api.block_chat(19), Forbidden, id="blocked-chat"),
        pytest.param(lambda api: api.fail_next("sendMessage", 400), BadRequest, id="fail-400"),
    ],
)
async def test_client_errors_become_ptb_errors_without_retry(
    fake_api: FakeBotApi,
    make_bot: MakeBot,
    setup: Callable[[FakeBotApi], None],
    error: type[TelegramError],
) -> None:
    async with make_bot() as bot:
        setup(fake_api)
        with pytest.raises(error) as caught:
            await bot.send_message(19, "hi")

    assert len(sendmessage_statuses(fake_api)) == 1
    assert_no_token(caught.value, fake_api.token)


async def test_bad_html_is_a_bad_request(fake_api: FakeBotApi, make_bot: MakeBot) -> None:
    async with make_bot() as bot:
        with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
            await bot.send_message(20, "<b>unclosed", parse_mode="HTML")


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_refused_connections_are_retried_then_reported_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = FakeBotApi().token
    url = f"http://127.0.0.1:{unused_port()}/bot{token}/sendMessage"
    data = RequestData([RequestParameter.from_input("chat_id", 1)])
    caplog.set_level(logging.DEBUG, logger="bot.transport")
    async with AiohttpRequest() as request:
        started = time.monotonic()
        with pytest.raises(NetworkError, match="ClientConnectorError") as caught:
            await request.post(url, data)

    assert 0.3 <= time.monotonic() - started < 2  # two backoffs: 0.1 s and 0.2 s
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2
    assert_no_token(caught.value, token)
    assert all(token not in r.getMessage() for r in caplog.records)


async def test_requests_before_initialize_fail(fake_api: FakeBotApi) -> None:
    request = AiohttpRequest()
    with pytest.raises(NetworkError, match="not initialized"):
        await request.post(f"{fake_api.base_url}{fake_api.token}/getMe")
    await request.shutdown()  # shutting down an uninitialised request is harmless


async def test_uploads_are_multipart_and_resent_after_a_server_error(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    certificate = InputFile(b"-----BEGIN CERTIFICATE-----\n", filename='my "cert".pem')
    async with make_bot() as bot:
        fake_api.fail_next("setWebhook", 502)
        await bot.set_webhook("https://example.org/hook", certificate=certificate)

    assert [c.status for c in fake_api.calls if c.method == "setWebhook"] == [502, 200]
    assert fake_api.webhook is not None
    upload = fake_api.webhook["certificate"]
    assert upload["data"] == b"-----BEGIN CERTIFICATE-----\n"
    assert upload["filename"] == "my %22cert%22.pem"
    assert fake_api.webhook["url"] == "https://example.org/hook"


async def test_200_concurrent_sends_at_50_ms_latency(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot() as bot:
        fake_api.latency = 0.05
        started = time.monotonic()
        await asyncio.gather(*(bot.send_message(1000 + i, f"reply {i}") for i in range(200)))
        elapsed = time.monotonic() - started

    assert all(len(fake_api.sent(1000 + i)) == 1 for i in range(200))
    assert elapsed < 0.8, f"200 concurrent sends took {elapsed:.2f} s"
