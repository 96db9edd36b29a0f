"""AiohttpRequest against the fake Bot API: delivery, errors without retries or tokens,
timeouts, uploads, HTTPS, and proxies from the environment (through a loopback proxy)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import traceback
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from telegram import Bot, InputFile
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

from bot.engine import Engine
from bot.errors import ConfigError
from bot.telegram.request import AiohttpRequest, proxy_from_environment
from tests.fake_bot_api import FakeBotApi
from tests.harness import running, settings_for
from tests.proxy import LoopbackProxy

MakeBot = Callable[..., Bot]


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """As build_application does: PTB 22 warns on every 429 without it."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
async def make_bot(fake_api: FakeBotApi) -> AsyncIterator[MakeBot]:
    """Bots on AiohttpRequest(**kwargs) against the fake API; all are shut down after."""
    bots: list[Bot] = []

    def make(api: FakeBotApi = fake_api, **kwargs: Any) -> Bot:
        bot = Bot(
            api.token,
            base_url=api.base_url,
            request=AiohttpRequest(**kwargs),
            get_updates_request=AiohttpRequest(**kwargs),
        )
        bots.append(bot)
        return bot

    yield make
    for bot in bots:
        await bot.shutdown()


def assert_no_token(exc: BaseException, token: str) -> None:
    """Neither the message nor a logged traceback (with causes) may reveal the token."""
    rendered = "".join(traceback.format_exception(exc))
    assert token.partition(":")[2] not in rendered
    assert token.partition(":")[2] not in repr(exc)


async def test_send_message_is_delivered_as_a_message(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    async with make_bot() as bot:
        sent = await bot.send_message(1, "<b>hi</b>", parse_mode="HTML")

    assert sent.text == "hi"
    assert fake_api.sent(1)[0]["text"] == "<b>hi</b>"


@pytest.mark.parametrize(
    ("status", "error"),
    [
        pytest.param(502, NetworkError, id="5xx"),
        pytest.param(403, Forbidden, id="blocked"),
        pytest.param(400, BadRequest, id="bad-request"),
        pytest.param(429, RetryAfter, id="flood"),
    ],
)
async def test_an_error_is_raised_at_once_counted_and_never_retried(
    fake_api: FakeBotApi, make_bot: MakeBot, status: int, error: type[Exception]
) -> None:
    seen: list[tuple[str, str]] = []
    fake_api.fail_next("sendMessage", status)
    async with make_bot(observer=lambda method, code: seen.append((method, code))) as bot:
        with pytest.raises(error) as raised:
            await bot.send_message(1, "hi")

    assert [c.status for c in fake_api.calls if c.method == "sendMessage"] == [status]
    assert seen == [("sendMessage", str(status))]
    assert_no_token(raised.value, fake_api.token)


async def test_a_slow_answer_times_out_as_unknown_outcome(
    fake_api: FakeBotApi, make_bot: MakeBot
) -> None:
    seen: list[tuple[str, str]] = []
    fake_api.stall_next("sendMessage", 1.0)
    async with make_bot(read_timeout=0.1, observer=lambda *call: seen.append(call)) as bot:
        with pytest.raises(TimedOut, match="waiting for the response") as raised:
            await bot.send_message(1, "hi")

    assert seen == [("sendMessage", "timeout")]
    assert_no_token(raised.value, fake_api.token)


async def test_a_refused_connection_is_a_network_error_that_was_not_sent() -> None:
    api = FakeBotApi()
    await api.start()
    await api.stop()  # nothing listens on its port any more
    request = AiohttpRequest()
    await request.initialize()
    try:
        with pytest.raises(NetworkError, match="not sent") as raised:
            await request.post(f"{api.base_url}{api.token}/getMe")
    finally:
        await request.shutdown()
    assert_no_token(raised.value, api.token)


async def test_requests_before_initialize_fail() -> None:
    with pytest.raises(RuntimeError, match="not initialized"):
        await AiohttpRequest().do_request("http://127.0.0.1:1/bot1:x/getMe", "POST")


async def test_uploads_are_multipart(
    fake_api: FakeBotApi, make_bot: MakeBot, tmp_path: Path
) -> None:
    async with make_bot() as bot:
        certificate = InputFile(b"-----BEGIN CERTIFICATE-----\n", filename="cert.pem")
        await bot.set_webhook("https://example.org/hook", certificate=certificate)

    assert fake_api.webhook is not None
    assert fake_api.webhook["certificate"]["data"] == b"-----BEGIN CERTIFICATE-----\n"
    assert fake_api.webhook["url"] == "https://example.org/hook"


# -- proxies -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "env", "expected"),
    [
        pytest.param("https://api.telegram.org/bot", {}, None, id="none"),
        pytest.param(
            "https://api.telegram.org/bot", {"HTTPS_PROXY": "http://p:3128"}, "http://p:3128",
            id="https",
        ),
        pytest.param(
            "https://api.telegram.org/bot", {"ALL_PROXY": "http://p:3128"}, "http://p:3128",
            id="all",
        ),
        pytest.param(
            "https://api.telegram.org/bot",
            {"ALL_PROXY": "http://all:1", "HTTPS_PROXY": "http://https:2"}, "http://https:2",
            id="scheme-wins",
        ),
        pytest.param(
            "https://api.telegram.org/bot",
            {"HTTPS_PROXY": "http://upper:1", "https_proxy": "http://lower:2"}, "http://lower:2",
            id="lower-case-wins",
        ),
        pytest.param(
            "http://127.0.0.1:8081/bot", {"HTTPS_PROXY": "http://p:1"}, None,
            id="other-scheme",
        ),
        pytest.param(
            "https://api.telegram.org/bot",
            {"ALL_PROXY": "http://p:1", "NO_PROXY": "localhost,.telegram.org"}, None,
            id="no-proxy-suffix",
        ),
        pytest.param(
            "https://api.telegram.org/bot", {"ALL_PROXY": "http://p:1", "NO_PROXY": "*"}, None,
            id="no-proxy-all",
        ),
        pytest.param(
            "https://api.telegram.org/bot", {"ALL_PROXY": "p:3128"}, "http://p:3128",
            id="no-scheme",
        ),
    ],
)  # fmt: skip
def test_proxy_from_environment(url: str, env: dict[str, str], expected: str | None) -> None:
    assert proxy_from_environment(url, env) == expected


def test_a_proxy_this_client_cannot_use_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="http:// proxy"):
        proxy_from_environment("https://api.telegram.org/bot", {"ALL_PROXY": "socks5://p:1"})


async def test_all_proxy_carries_the_calls(fake_api: FakeBotApi, make_bot: MakeBot) -> None:
    async with LoopbackProxy() as proxy:
        through = proxy_from_environment(fake_api.base_url, {"ALL_PROXY": proxy.url})
        async with make_bot(proxy=through) as bot:
            await bot.send_message(1, "via the proxy")

    assert fake_api.sent(1)[0]["text"] == "via the proxy"
    assert any(line.startswith(f"POST {fake_api.base_url}") for line in proxy.requests)


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


async def test_https_proxy_tunnels_to_a_verified_server(
    make_bot: MakeBot, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    server_side = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_side.load_cert_chain(cert, key)
    api = FakeBotApi()
    await api.start(tls=server_side)
    try:
        async with LoopbackProxy() as proxy:
            through = proxy_from_environment(api.base_url, {"HTTPS_PROXY": proxy.url})
            trusting = ssl.create_default_context(cafile=cert)
            async with make_bot(api, proxy=through, ssl_context=trusting) as bot:
                await bot.send_message(1, "tunnelled")
            with pytest.raises(NetworkError, match="CERTIFICATE_VERIFY_FAILED"):
                await make_bot(api, proxy=through).initialize()
    finally:
        await api.stop()

    assert api.sent(1)[0]["text"] == "tunnelled"
    port = api.base_url.split(":")[2].partition("/")[0]
    assert f"CONNECT 127.0.0.1:{port} HTTP/1.1" in proxy.requests


async def test_the_running_bot_takes_its_proxy_from_all_proxy(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)
    async with LoopbackProxy() as proxy:
        monkeypatch.setenv("ALL_PROXY", proxy.url)
        async with running(fake_api, engine, settings_for(fake_api, tmp_path / "s.sqlite3")):
            fake_api.push_text(1, "how do I do a reverse squat?")
            await fake_api.wait_sent(1, 1, 10.0)

    methods = {line.split()[1].rpartition("/")[2].partition("?")[0] for line in proxy.requests}
    assert {"getMe", "getUpdates"} <= methods
