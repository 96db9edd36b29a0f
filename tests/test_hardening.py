"""Hardening (issue 12): signals at awkward moments, a reload that hangs, webhook clients that
misbehave, settings that would leak, what the logs may show, and odd messages.

As everywhere in the suite, the bot runs for real against the fake Bot API on 127.0.0.1; the
process tests run ``fitbot`` with a small script in front that makes one thing slow or sends
one signal at a chosen moment, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import resource
import signal
import subprocess
import sys
import threading
import unicodedata
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from telegram import Update

from bot import operations
from bot.cli import main
from bot.engine import Engine
from bot.logs import STRUCTURED, ChatHasher, LogfmtFormatter, RepeatFilter, guard
from bot.settings import Secret
from bot.telegram import receiving
from bot.text import tidy
from tests.fake_bot_api import FakeBotApi, parse_html
from tests.harness import free_port, running, settings_for

TIMEOUT = 10.0
START_TIMEOUT = 20.0
DOCKER_GRACE = 10.0  # seconds Docker waits after SIGTERM before SIGKILL
ADMIN = 10


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@asynccontextmanager
async def bot_script(
    api: FakeBotApi, tmp_path: Path, script: str, **env: str
) -> AsyncIterator[asyncio.subprocess.Process]:
    """``script`` (which ends by running ``fitbot run``) as a process against ``api``; its
    stderr is a pipe; killed when the block ends if it is still alive."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        str(tmp_path / "marker"),
        env={
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "FITBOT_STATE": str(tmp_path / "state.sqlite3"),
            "FITBOT_RATE_LIMIT": "0",
            "FITBOT_ADMINS": str(ADMIN),
            **env,
        },
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            process.kill()
        await process.communicate()


async def http_get(port: int, path: str, **headers: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"http://127.0.0.1:{port}{path}", headers=headers) as response,
    ):
        return response.status, await response.text()


async def until(condition: Any, timeout: float = TIMEOUT) -> None:
    for _ in range(int(timeout / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


# -- signals ---------------------------------------------------------------------------------

HANG_UP_WHILE_STARTING = """
import os, signal, sys
import bot.cli, bot.telegram.app

def hang_up_first(real):
    def wrapper(*args):
        os.kill(os.getpid(), signal.SIGHUP)
        return real(*args)
    return wrapper

# SIGHUP while the parser imports the subcommands, and again while the knowledge base loads.
bot.cli.build_parser = hang_up_first(bot.cli.build_parser)
bot.telegram.app.load_knowledge = hang_up_first(bot.telegram.app.load_knowledge)
sys.exit(bot.cli.main(["run"]))
"""


async def test_sighup_while_starting_is_a_reload_once_running_not_the_end(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    port = free_port()
    script = HANG_UP_WHILE_STARTING
    async with bot_script(fake_api, tmp_path, script, FITBOT_METRICS_PORT=str(port)) as process:
        await fake_api.wait_for(
            lambda: bool(fake_api.commands) or process.returncode is not None, START_TIMEOUT
        )
        assert process.returncode is None, "SIGHUP ended the process"
        for _ in range(int(TIMEOUT / 0.05)):
            if 'result="ok"} 1.0' in (await http_get(port, "/metrics"))[1]:
                break
            await asyncio.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)

    log = stderr.decode()
    assert process.returncode == 0, log
    assert log.count("knowledge reloaded from") == 1, log


SLOW_RELOAD = """
import sys, time
import bot.cli, bot.operations

def slow_load(directory, real=bot.operations._load_engine):
    open(sys.argv[1], "w").close()
    time.sleep(120)  # as a reload of a huge knowledge base, or a hung file system
    return real(directory)

bot.operations._load_engine = slow_load
sys.exit(bot.cli.main(["run"]))
"""


async def test_sigterm_during_a_slow_reload_exits_within_dockers_grace_period(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    async with bot_script(fake_api, tmp_path, SLOW_RELOAD) as process:
        await fake_api.wait_for(lambda: bool(fake_api.commands), START_TIMEOUT)
        process.send_signal(signal.SIGHUP)
        await until(lambda: (tmp_path / "marker").exists())
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), DOCKER_GRACE)

    assert process.returncode == 0, stderr.decode()


async def test_a_reload_that_hangs_is_given_up_and_the_next_one_answers(
    fake_api: FakeBotApi,
    engine: Engine,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    release = threading.Event()
    real = operations._load_engine

    def hung(directory: Path) -> Engine:
        release.wait(TIMEOUT)  # as a read from a lost network mount
        return real(directory)

    monkeypatch.setattr(operations, "_load_engine", hung)
    monkeypatch.setattr(operations, "RELOAD_TIMEOUT_SECONDS", 0.5)
    settings = settings_for(fake_api, tmp_path / "s.sqlite3", admins=frozenset({ADMIN}))
    try:
        async with running(fake_api, engine, settings) as application:
            fake_api.push_command(ADMIN, "reload")
            (gave_up,) = await fake_api.wait_sent(ADMIN, 1, TIMEOUT)
            fake_api.push_command(ADMIN, "reload")
            _, still = await fake_api.wait_sent(ADMIN, 2, TIMEOUT)
            release.set()
            loader = operations.operations_of(application)._loader
            await until(lambda: loader is not None and not loader.is_alive())
            fake_api.push_command(ADMIN, "reload")
            *_, reloaded = await fake_api.wait_sent(ADMIN, 3, TIMEOUT)
    finally:
        release.set()

    assert gave_up["text"].startswith("Reload failed: 1 problem(s)")
    assert "reading it took over 0.5 s" in gave_up["text"]
    assert "the reload before is still reading it" in still["text"]
    assert reloaded["text"].startswith("Reloaded the knowledge base")


# -- item 8: settings that would leak -----------------------------------------------------

TOKEN = "123456:ABCdefGHIjklMNOpqrSTUvwxYZ0123456789_-"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({"TELEGRAM_BASE_URL": f"ftp://api.example/bot{TOKEN}"}, id="ftp"),
        pytest.param({"TELEGRAM_BASE_URL": f"api.telegram.org/bot{TOKEN}"}, id="no-scheme"),
        pytest.param({"TELEGRAM_BASE_URL": f"bot{TOKEN}"}, id="only-the-token"),
        pytest.param({"TELEGRAM_BASE_URL": "http://[::1/bot"}, id="broken-ipv6"),
        pytest.param({"TELEGRAM_BASE_URL": "http://127.0.0.1:99999/bot"}, id="port-too-big"),
        pytest.param({"TELEGRAM_BASE_URL": "http://127.0.0.1:0/bot"}, id="port-zero"),
        pytest.param({"TELEGRAM_BASE_URL": "http://user:pa55word@exa mple/bot"}, id="space"),
        pytest.param(
            {"FITBOT_WEBHOOK_URL": f"https://bot.example:70000/{TOKEN}"}, id="webhook-port"
        ),
        pytest.param({"FITBOT_WEBHOOK_LISTEN": "0.0.0.0:8443"}, id="listen-with-port"),
        pytest.param({"FITBOT_METRICS_PORT": "99999"}, id="metrics-port"),
        pytest.param({"HTTPS_PROXY": "http://user:pa55word@[::1"}, id="proxy"),
    ],
)
def test_a_malformed_setting_is_one_line_exit_2_and_shows_no_secret(
    env: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    state = str(tmp_path / "state.sqlite3")
    for name, value in {
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "NO_PROXY": "",
        "FITBOT_STATE": state,
        **env,
    }.items():
        monkeypatch.setenv(name, value)
    previous = signal.getsignal(signal.SIGHUP)
    try:
        code = main(["run"])  # as `fitbot run`; a traceback would fail the test
    finally:
        signal.signal(signal.SIGHUP, previous)

    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and err.startswith("fitbot: "), err
    assert (env.keys() & set(err.split())) or "proxy" in err
    for secret in (TOKEN.partition(":")[2], "pa55word"):
        assert secret not in err


def test_telegram_unreachable_at_start_is_one_error_line_without_a_traceback(
    tmp_path: Path,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env={
            **os.environ,
            "TELEGRAM_BOT_TOKEN": TOKEN,
            "TELEGRAM_BASE_URL": f"http://127.0.0.1:{free_port()}/bot",
            "FITBOT_STATE": str(tmp_path / "state.sqlite3"),
        },
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if "level=error" in line]
    assert len(errors) == 1 and "could not start" in errors[0], done.stderr
    assert "Traceback" not in done.stderr


# -- items 9 and 10: what the logs may show ---------------------------------------------------

RUN = "import sys, bot.cli\nsys.exit(bot.cli.main(['run']))"
CHAT = 987_654_321
QUESTION = "how do I do a reverse squat?"


def private_message(chat: int, text: str) -> dict[str, Any]:
    person = {"id": chat, "first_name": "Zebulon", "last_name": "Quill", "username": "zeb_lifts"}
    return {
        "message_id": 1,
        "date": 0,
        "chat": {**person, "type": "private"},
        "from": {**person, "is_bot": False},
        "text": text,
    }


# A secret in the webhook's path, as some operators set it up.
PATH_SECRET = "k7Qz0pW3xR9tB2mV"


async def test_no_secret_reaches_the_log_at_debug_in_webhook_mode_with_a_generated_secret(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "TELEGRAM_BASE_URL": fake_api.base_url.replace("://", "://fitbot:pa55w0rd@"),
        "FITBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook/{PATH_SECRET}",
        "FITBOT_WEBHOOK_PORT": str(port),
        "FITBOT_LOG_LEVEL": "DEBUG",
        "FITBOT_LOG_SALT": "s4lt-of-the-logs",
    }
    async with bot_script(fake_api, tmp_path, RUN, **env) as process:
        await fake_api.wait_for(lambda: fake_api.webhook is not None, START_TIMEOUT)
        assert fake_api.webhook is not None
        secret = fake_api.webhook["secret_token"]
        assert await fake_api.post_webhook_update({"message": private_message(CHAT, QUESTION)})
        await fake_api.wait_sent(CHAT, 1, TIMEOUT)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)

    log = stderr.decode()
    assert process.returncode == 0, log
    assert "Calling Bot API endpoint `setWebhook` with parameters" in log
    assert "Set Bot API URL: http://fitbot:***@127.0.0.1" in log
    never_logged = (secret, fake_api.token.partition(":")[2], "pa55w0rd", "s4lt-of-the-logs")
    for never in (*never_logged, PATH_SECRET):
        assert never not in log


@pytest.mark.parametrize("level", ["DEBUG", "INFO"])
async def test_no_chat_id_reaches_the_log_and_names_and_texts_only_at_debug(
    fake_api: FakeBotApi, tmp_path: Path, level: str
) -> None:
    async with bot_script(fake_api, tmp_path, RUN, FITBOT_LOG_LEVEL=level) as process:
        await fake_api.wait_for(lambda: bool(fake_api.commands), START_TIMEOUT)
        fake_api.push_raw({"message": private_message(CHAT, QUESTION)})
        fake_api.push_raw({"message": {"message_id": 2, "text": "Zebulon's unreadable one"}})
        await fake_api.wait_sent(CHAT, 1, TIMEOUT)
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)

    log = stderr.decode()
    assert process.returncode == 0, log
    for never in (str(CHAT), "Zebulon", "Quill", "zeb_lifts"):
        assert never not in log
    if level == "DEBUG":  # PTB's own lines are there, with the text, the ids hashed
        assert "Calling Bot API endpoint `sendMessage`" in log
        assert "Processing update" in log and QUESTION in log
    else:
        assert "reverse squat" not in log


def guarded(*records: logging.LogRecord) -> str:
    """What the stderr handler ``fitbot run`` configures writes for ``records``."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(LogfmtFormatter())
    guard(handler, ChatHasher(b"key"), [TOKEN])
    for record in records:
        handler.handle(record)
    return stream.getvalue()


def record(name: str, level: int, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def parsed(update: dict[str, Any]) -> Update:
    return Update.de_json(update, None)


def test_third_party_lines_that_dump_updates_keep_ids_names_and_texts_out() -> None:
    update = {"update_id": 7, "message": private_message(CHAT, QUESTION)}
    request = {"chat_id": CHAT, "text": QUESTION, "reply_parameters": {"chat_id": str(CHAT)}}
    migrated = "Group migrated to supergroup. New chat id: -100%s"
    shown = guarded(
        record("telegram.Bot", logging.CRITICAL, "Error while parsing updates! %r", [update]),
        record("telegram.ext.Application", logging.INFO, "Processing update %s", parsed(update)),
        record("telegram.ext.ExtBot", logging.WARNING, "Calling `sendMessage` %s", request),
        record("bot.operations", logging.WARNING, f"reply not delivered ({migrated})", CHAT),
        record("aiohttp.client", logging.ERROR, "bad url https://api/bot%s/getMe", TOKEN),
    )

    assert shown.count("\n") == 5
    assert ChatHasher(b"key")(CHAT) in shown
    for never in (str(CHAT), "Zebulon", "zeb_lifts", "reverse squat", TOKEN.partition(":")[2]):
        assert never not in shown


def test_at_debug_third_party_lines_keep_texts_but_not_ids_or_names() -> None:
    request = {"chat_id": CHAT, "text": QUESTION}
    update = {"update_id": 7, "message": private_message(CHAT, QUESTION)}
    shown = guarded(
        record("telegram.Bot", logging.DEBUG, "Calling `sendMessage` %s", request),
        record("telegram.ext.Application", logging.DEBUG, "Processing update %s", parsed(update)),
    )

    assert shown.count(QUESTION) == 2 and ChatHasher(b"key")(CHAT) in shown
    for never in (str(CHAT), "Zebulon", "zeb_lifts"):
        assert never not in shown


def test_a_line_repeated_many_times_is_written_a_few_times_then_counted() -> None:
    now = [0.0]
    repeat = RepeatFilter(burst=3, window=60.0, clock=lambda: now[0])

    def line(msg: str = "socket.accept() out of system resource") -> logging.LogRecord:
        return record("asyncio", logging.ERROR, msg)

    written = [repeat.filter(line()) for _ in range(1000)]
    other = repeat.filter(line("something else"))
    update = record("bot.operations", logging.INFO, "update %s", "type=message")
    setattr(update, STRUCTURED, True)
    updates = [repeat.filter(update) for _ in range(10)]
    now[0] = 61.0
    after = line()

    assert written == [True] * 3 + [False] * 997
    assert other and all(updates)
    assert repeat.filter(after)
    assert " repeated=997" in guarded(after)


# -- items 5 and 6: webhook clients ---------------------------------------------------------

HOOK_SECRET = "hook-secret_1"


@asynccontextmanager
async def webhook_bot(
    api: FakeBotApi, engine: Engine, tmp_path: Path, path: str = "/hook"
) -> AsyncIterator[int]:
    """The bot in webhook mode on a free port of 127.0.0.1 (yielded) at ``path``."""
    port = free_port()
    settings = settings_for(
        api,
        tmp_path / "state.sqlite3",
        webhook_url=f"http://127.0.0.1:{port}{path}",
        listen="127.0.0.1",
        port=port,
        webhook_secret=Secret(HOOK_SECRET),
    )
    async with running(api, engine, settings):
        yield port


@pytest.mark.parametrize("path", ["/tg%20hook", "/%D0%B1%D0%BE%D1%82/hook", "/a%2Fb", "/hook"])
async def test_a_percent_encoded_webhook_path_receives_updates(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, path: str
) -> None:
    async with webhook_bot(fake_api, engine, tmp_path, path) as port:
        status = await fake_api.post_webhook_update({"message": private_message(7, QUESTION)})
        await fake_api.wait_sent(7, 1, TIMEOUT)
        elsewhere = await raw_http(port, b"POST /elsewhere HTTP/1.1\r\nHost: x\r\n\r\n")

    assert fake_api.webhook is not None and fake_api.webhook["url"].endswith(path)
    assert status == 200
    assert elsewhere.startswith(b"HTTP/1.1 404")


async def raw_http(port: int, data: bytes, timeout: float = TIMEOUT) -> bytes:
    """Send ``data`` on a new connection; the first bytes that come back (the answer's head)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(data)
        await writer.drain()
        return await asyncio.wait_for(reader.read(1 << 16), timeout)
    finally:
        writer.close()


async def test_half_open_connections_are_closed_and_healthz_answers_meanwhile(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiving, "CLIENT_IDLE_SECONDS", 1.0)
    async with webhook_bot(fake_api, engine, tmp_path) as port:
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(100)]
        for _, writer in connections[::2]:  # half send part of a request, half nothing
            writer.write(b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Le")
        status, _ = await http_get(port, "/healthz")
        try:
            left = await asyncio.wait_for(
                asyncio.gather(*(reader.read() for reader, _ in connections)), TIMEOUT
            )
        finally:
            for _, writer in connections:
                writer.close()

    assert status == 200
    assert left == [b""] * len(connections)  # every one closed by the server, none answered


async def test_a_request_whose_body_never_arrives_gets_408(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(receiving, "BODY_SECONDS", 1.0)
    head = (
        "POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"X-Telegram-Bot-Api-Secret-Token: {HOOK_SECRET}\r\nContent-Length: 100\r\n\r\n"
    )
    async with webhook_bot(fake_api, engine, tmp_path) as port:
        answer = await raw_http(port, head.encode() + b'{"update_id": 1')

    assert answer.startswith(b"HTTP/1.1 408")


DEEP_BUT_PARSABLE = b'{"update_id": 1, "x": ' + b"[" * 900 + b"]" * 900 + b"}"


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        pytest.param(b"X-Telegram-Bot-Api-Secret-Token: \xff\xfe\x80\r\n", b"{}", 403, id="latin"),
        pytest.param(b"X-Telegram-Bot-Api-Secret-Token: \r\n", b"{}", 403, id="empty-secret"),
        pytest.param(b"", b'{"update_id": 1, "message": ' + b"[" * 100_000, 400, id="deep"),
        pytest.param(b"", DEEP_BUT_PARSABLE, 200, id="deep-but-parsable"),
        pytest.param(b"", b"\xff\xfe not utf-8", 400, id="not-utf-8"),
        pytest.param(b"", b"[1, 2]", 400, id="not-an-update"),
    ],
)
async def test_bad_webhook_requests_get_4xx_without_a_traceback(
    fake_api: FakeBotApi,
    engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    headers: bytes,
    body: bytes,
    status: int,
) -> None:
    secret = f"X-Telegram-Bot-Api-Secret-Token: {HOOK_SECRET}\r\n".encode()
    request = (
        b"POST /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
        + (headers or secret)
        + b"Content-Length: %d\r\n\r\n" % len(body)
        + body
    )
    async with webhook_bot(fake_api, engine, tmp_path) as port:
        answer = await raw_http(port, request)
        garbage = await raw_http(port, b"\x16\x03\x01 not http at all\r\n\r\n")

    assert answer.startswith(b"HTTP/1.1 %d" % status), answer[:80]
    assert garbage.startswith((b"HTTP/1.0 400", b"HTTP/1.1 400"))
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


STARVED_OF_FILES = """
import resource, sys, bot.cli
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))  # as a container's 1,024, but smaller
sys.exit(bot.cli.main(["run"]))
"""


@pytest.mark.skipif(
    resource.getrlimit(resource.RLIMIT_NOFILE)[1] < 4096, reason="needs a hard limit of 4096 files"
)
async def test_hundreds_of_half_open_connections_do_not_starve_healthz(
    fake_api: FakeBotApi, tmp_path: Path
) -> None:
    port = free_port()
    env = {
        "FITBOT_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook/{PATH_SECRET}",
        "FITBOT_WEBHOOK_PORT": str(port),
    }
    async with bot_script(fake_api, tmp_path, STARVED_OF_FILES, **env) as process:
        await fake_api.wait_for(lambda: fake_api.webhook is not None, START_TIMEOUT)
        connections = [await asyncio.open_connection("127.0.0.1", port) for _ in range(400)]
        try:
            status, _ = await http_get(port, "/healthz")
        finally:
            for _, writer in connections:
                writer.close()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)

    assert status == 200
    assert process.returncode == 0
    assert stderr.decode().count("out of system resource") <= 5


# -- smaller: an edited admin command, decomposed accents, zalgo ----------------------------

SOMEONE = 11


async def test_a_message_edited_into_an_admin_command_runs_it(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    settings = settings_for(fake_api, tmp_path / "s.sqlite3", admins=frozenset({ADMIN}))
    command = [{"type": "bot_command", "offset": 0, "length": len("/stats")}]
    async with running(fake_api, engine, settings):
        for user in (ADMIN, SOMEONE):
            message_id = fake_api.push_text(user, "stat")
            await fake_api.wait_sent(user, 1, TIMEOUT)
            fake_api.push_edited_text(user, message_id, "/stats", entities=command)
        *_, stats = await fake_api.wait_sent(ADMIN, 2, TIMEOUT)
        *_, refused = await fake_api.wait_sent(SOMEONE, 2, TIMEOUT)

    assert stats["text"].startswith("Uptime: ")
    assert refused["text"] == "Not allowed."


STEPS = "Reverse squat: steps"


def zalgo(text: str) -> str:
    return "".join(c + "\u0334\u0321\u0322\u0300\u0301\u0302\u0303\u0304" for c in text)


def longest_run_of_marks(text: str) -> int:
    longest = run = 0
    for char in text:
        run = run + 1 if unicodedata.combining(char) else 0
        longest = max(longest, run)
    return longest


@pytest.mark.parametrize(
    ("question", "title"),
    [
        pytest.param("how do I do a re\u0301verse squat?", STEPS, id="decomposed"),
        pytest.param(f"how do I do a {zalgo('reverse')} squat?", STEPS, id="zalgo"),
    ],
)
async def test_decomposed_accents_and_zalgo_read_as_their_letters(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, question: str, title: str
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "s.sqlite3")):
        fake_api.push_text(1, question)
        (reply,) = await fake_api.wait_sent(1, 1, TIMEOUT)

    assert parse_html(reply["text"]).startswith(title)


async def test_a_zalgo_question_is_not_quoted_back_mangled(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "s.sqlite3")):
        fake_api.push_command(1, "checklist", zalgo("moonwalk"))
        (reply,) = await fake_api.wait_sent(1, 1, TIMEOUT)

    text = parse_html(reply["text"])
    assert "I don't cover" in text
    assert longest_run_of_marks(text) <= 2
    letters = unicodedata.normalize("NFD", text)
    assert "moonwalk" in "".join(c for c in letters if not unicodedata.combining(c))


@pytest.mark.parametrize(
    ("message", "tidied"),
    [
        pytest.param("re\u0301verse", "r\u00e9verse", id="decomposed-composed"),
        pytest.param("Vi\u1ec7t Nam", "Vi\u1ec7t Nam", id="vietnamese-kept"),
        pytest.param("e\u0323\u0302", "\u1ec7", id="two-marks-kept"),
        pytest.param("\u1f04", "\u1f04", id="greek-kept"),
        pytest.param("o" + "\u0300" * 40, "\u00f2\u0300", id="flood-cut"),
        pytest.param("plain ascii", "plain ascii", id="ascii"),
    ],
)
def test_tidy_composes_accents_and_cuts_mark_floods_only(message: str, tidied: str) -> None:
    assert tidy(message) == tidied


# -- already on main, pinned here: items 2 and 7's neighbours, the delivery field ---------------


async def test_an_update_with_a_poll_python_telegram_bot_cannot_read_is_skipped(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    poll = {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}, "poll": {"id": "p"}}
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "s.sqlite3")):
        bad = fake_api.push_raw({"message": poll})
        fake_api.push_text(1, QUESTION)
        (reply,) = await fake_api.wait_sent(1, 1, TIMEOUT)

    assert parse_html(reply["text"]).startswith(STEPS)
    skipped = [r.getMessage() for r in caplog.records if "could not be read" in r.getMessage()]
    assert skipped == [f"update {bad} could not be read (TypeError); skipped"]


async def test_the_update_line_says_what_became_of_the_reply(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with running(fake_api, engine, settings_for(fake_api, tmp_path / "s.sqlite3")):
        fake_api.push_text(1, QUESTION)
        await fake_api.wait_sent(1, 1, TIMEOUT)
        fake_api.fail_next("sendMessage", 502)
        fake_api.push_text(1, QUESTION)
        await fake_api.wait_sent(1, 2, TIMEOUT)
        await asyncio.sleep(0.05)

    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("update type=")]
    assert len(lines) == 2
    assert "answered=true delivery=sent" in lines[0] and "api_error" not in lines[0]
    assert "answered=true delivery=queued api_error=502" in lines[1]
