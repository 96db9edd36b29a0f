"""BotApiRequest against the fake Bot API: delivery, retries, timeouts, errors, throughput."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
import socket
import ssl
import subprocess
import time
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
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

from bot.transport import BotApiRequest, discard_sent_messages
from tests.fake_bot_api import FakeBotApi

MakeBot = Callable[..., Bot]


@pytest.fixture
async def make_bot(fake_api: FakeBotApi) -> AsyncIterator[MakeBot]:
    """Build initialised-on-demand Bots on BotApiRequest(**kwargs); all are shut down after."""
    bots: list[Bot] = []

    def make(**kwargs: Any) -> Bot:
        bot = Bot(
            fake_api.token,
            base_url=fake_api.base_url,
            request=BotApiRequest(**kwargs),
            get_updates_request=BotApiRequest(**kwargs),
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


async def test_sent_messages_can_be_discarded_instead_of_parsed(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot() as bot:
        with discard_sent_messages():
            assert await bot.send_message(21, "<b>fire</b> and forget", parse_mode="HTML") is True
            me = await bot.get_me()  # other results are built as always
            with pytest.raises(BadRequest):  # and errors raised
                await bot.send_message(21, "<b>broken", parse_mode="HTML")
        message = await bot.send_message(21, "kept")

    assert me.username == "fitbot_test_bot"
    assert message.text == "kept"
    assert [p["text"] for p in fake_api.sent(21)] == ["<b>fire</b> and forget", "kept"]


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
    async with BotApiRequest() as request:
        started = time.monotonic()
        with pytest.raises(NetworkError, match="could not connect") as caught:
            await request.post(url, data)

    assert 0.3 <= time.monotonic() - started < 2  # two backoffs: 0.1 s and 0.2 s
    assert len([r for r in caplog.records if "retrying" in r.getMessage()]) == 2
    assert_no_token(caught.value, token)
    assert all(token not in r.getMessage() for r in caplog.records)


async def test_requests_before_initialize_fail(fake_api: FakeBotApi) -> None:
    request = BotApiRequest()
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


# -- the HTTP/1.1 client on the wire, against a server that sends scripted bytes -------------

CLOSE = "close"  # in a script: the server closes the connection
Piece = bytes | float | str  # bytes to send, seconds to pause, or CLOSE
OK = b'{"ok":true,"result":true}'


def ok_response(body: bytes = OK, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\n{extra}Content-Length: {len(body)}\r\n\r\n".encode() + body


class ScriptedServer:
    """A loopback HTTP server answering its n-th request with ``scripts[n]`` (the last one
    repeats); it records each request and how many connections it accepted."""

    def __init__(self, *scripts: list[Piece], tls: ssl.SSLContext | None = None) -> None:
        self.scripts = scripts
        self.tls = tls
        self.requests: list[bytes] = []
        self.connections = 0
        self.open_connections = 0
        self.most_open = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> ScriptedServer:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0, ssl=self.tls)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.ensure_future(self._serve(reader, writer))
        self._handlers.add(task)

    def url(self, method: str = "getMe") -> str:
        assert self._server is not None
        port = self._server.sockets[0].getsockname()[1]
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{port}/bot{FakeBotApi().token}/{method}"

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self.open_connections += 1
        self.most_open = max(self.most_open, self.open_connections)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    (int(line.split(b":")[1]) for line in head.split(b"\r\n")
                     if line.lower().startswith(b"content-length:")),
                    0,
                )  # fmt: skip
                self.requests.append(head + await reader.readexactly(length))
                script = self.scripts[min(len(self.requests), len(self.scripts)) - 1]
                for piece in script:
                    if piece == CLOSE:
                        return
                    if isinstance(piece, float):
                        await asyncio.sleep(piece)
                    elif isinstance(piece, bytes):
                        writer.write(piece)
                        await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            self.open_connections -= 1
            writer.close()


def get_me() -> RequestData:
    return RequestData([])


async def test_connections_are_kept_alive_and_reused() -> None:
    async with ScriptedServer([ok_response()]) as server, BotApiRequest() as request:
        for _ in range(3):
            assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)

    assert server.connections == 1
    assert b"Content-Type: application/json" in server.requests[0]
    assert server.requests[0].endswith(b"\r\n\r\n{}")


@pytest.mark.parametrize(
    "script",
    [
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             b"8;ext=1\r\n{\"ok\":tr\r\n11\r\nue,\"result\":true}\r\n0\r\nX-Trailer: 1\r\n\r\n"],
            id="chunked-with-extension-and-trailer",
        ),
        pytest.param(
            [bytes([b]) for b in ok_response()], id="one-byte-at-a-time"
        ),
        pytest.param(
            [b"HTTP/1.1 100 Continue\r\n\r\n", ok_response()], id="after-an-interim-response"
        ),
        pytest.param(
            [ok_response(OK, "Connection: keep-alive", "X-Header:spaced   ")], id="odd-headers"
        ),
    ],
)  # fmt: skip
async def test_response_framings_are_read(script: list[Piece]) -> None:
    async with ScriptedServer(script) as server, BotApiRequest() as request:
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)

    assert server.connections == 1


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([b"HTTP/1.1 200 OK\r\n\r\n" + OK, CLOSE], id="body-until-close"),
        pytest.param([ok_response(OK, "Connection: close"), CLOSE], id="connection-close"),
        pytest.param([b"HTTP/1.0 200 OK\r\nContent-Length: 25\r\n\r\n" + OK], id="http-1.0"),
    ],
)
async def test_a_connection_the_server_ends_is_not_reused(script: list[Piece]) -> None:
    async with ScriptedServer(script) as server, BotApiRequest() as request:
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)

    assert server.connections == 2


async def test_an_idle_connection_closed_by_the_server_is_replaced() -> None:
    async with ScriptedServer([ok_response(), 0.05, CLOSE]) as server, BotApiRequest() as request:
        await request.do_request(server.url(), "POST", get_me())
        await asyncio.sleep(0.2)  # the server hangs up on the idle connection
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)

    assert server.connections == 2


async def test_idle_connections_expire_after_the_keepalive_timeout() -> None:
    async with (
        ScriptedServer([ok_response()]) as server,
        BotApiRequest(keepalive_timeout=0.1) as request,
    ):
        await request.do_request(server.url(), "POST", get_me())
        await asyncio.sleep(0.2)
        await request.do_request(server.url(), "POST", get_me())

    assert server.connections == 2


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([b"SPDY/3 200 OK\r\n\r\n"], id="not-http"),
        pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"], id="bad-length"),
        pytest.param([b"HTTP/1.1 200 OK\r\nno colon\r\n\r\n"], id="bad-header"),
        pytest.param([b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 20_000], id="endless-head"),
        pytest.param(
            [b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"], id="bad-chunk"
        ),
        pytest.param([b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n{", CLOSE], id="cut-short"),
    ],
)
async def test_a_broken_response_is_a_network_error_without_the_token(
    script: list[Piece],
) -> None:
    async with ScriptedServer(script) as server, BotApiRequest(max_attempts=3) as request:
        with pytest.raises(NetworkError) as caught:
            await request.post(server.url("sendMessage"), get_me())

    assert not isinstance(caught.value, TimedOut)
    assert len(server.requests) == 1  # a sendMessage may have been delivered: not resent
    assert_no_token(caught.value, FakeBotApi().token)


async def test_a_broken_response_to_a_read_only_call_is_retried() -> None:
    async with (
        ScriptedServer([b"garbage\r\n\r\n"], [ok_response()]) as server,
        BotApiRequest(backoff_base=0.01) as request,
    ):
        assert await request.do_request(server.url("getMe"), "POST", get_me()) == (200, OK)

    assert len(server.requests) == 2


async def test_the_read_timeout_bounds_silence_not_the_whole_response() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 25\r\n\r\n"
    trickle: list[Piece] = [head]
    for byte in OK:
        trickle += [0.03, bytes([byte])]  # 0.75 s in all, never silent for 0.2 s
    async with ScriptedServer(trickle) as server, BotApiRequest(read_timeout=0.2) as request:
        assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)
    async with (
        ScriptedServer([head, 0.4, OK]) as server,
        BotApiRequest(read_timeout=0.2) as request,
    ):
        with pytest.raises(TimedOut):
            await request.do_request(server.url("sendMessage"), "POST", get_me())


async def test_the_pool_bounds_concurrent_connections() -> None:
    async with (
        ScriptedServer([0.1, ok_response()]) as server,
        BotApiRequest(connection_pool_size=2) as request,
    ):
        replies = await asyncio.gather(
            *(request.do_request(server.url(), "POST", get_me()) for _ in range(6))
        )

    assert replies == [(200, OK)] * 6
    assert server.most_open == 2


async def test_waiting_too_long_for_a_free_connection_times_out_unsent() -> None:
    async with (
        ScriptedServer([0.5, ok_response()]) as server,
        BotApiRequest(connection_pool_size=1, pool_timeout=0.1, max_attempts=1) as request,
    ):
        first = asyncio.ensure_future(request.do_request(server.url(), "POST", get_me()))
        await asyncio.sleep(0.05)
        with pytest.raises(TimedOut, match="not sent"):
            await request.do_request(server.url("sendMessage"), "POST", get_me())
        assert await first == (200, OK)

    assert len(server.requests) == 1


async def test_file_handles_are_read_once_so_an_upload_can_be_resent(
    fake_api: FakeBotApi, make_bot: MakeBot, tmp_path: Path
) -> None:
    path = tmp_path / "cert.pem"
    path.write_bytes(b"-----BEGIN CERTIFICATE-----\n")
    async with make_bot() as bot:
        fake_api.fail_next("setWebhook", 503)
        with path.open("rb") as handle:
            certificate = InputFile(handle, filename="cert.pem", read_file_handle=False)
            await bot.set_webhook("https://example.org/hook", certificate=certificate)

    assert [c.status for c in fake_api.calls if c.method == "setWebhook"] == [503, 200]
    assert fake_api.webhook is not None
    assert fake_api.webhook["certificate"]["data"] == b"-----BEGIN CERTIFICATE-----\n"


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    """A self-signed certificate (and its key) for 127.0.0.1, made with openssl."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60,
    )  # fmt: skip
    return cert, key


async def test_https_is_verified_and_kept_alive(certificate: tuple[Path, Path]) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    async with ScriptedServer([ok_response()], tls=server_side) as server:
        async with BotApiRequest(max_attempts=1) as untrusting:
            with pytest.raises(NetworkError, match="not sent"):
                await untrusting.do_request(server.url(), "POST", get_me())
        trusting = ssl.create_default_context(cafile=cert)
        async with BotApiRequest(ssl_context=trusting) as request:
            for _ in range(2):
                assert await request.do_request(server.url(), "POST", get_me()) == (200, OK)

    assert server.connections == 1  # one kept alive (the refused handshake never got that far)
