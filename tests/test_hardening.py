"""Hardening (issue 12): signals at awkward moments, a reload that hangs, webhook clients that
misbehave, settings that would leak, what the logs may show, and odd messages.

As everywhere in the suite, the bot runs for real against the fake Bot API on 127.0.0.1; the
process tests run ``fitbot`` with a small script in front that makes one thing slow or sends
one signal at a chosen moment, and every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from bot import operations
from bot.engine import Engine
from tests.fake_bot_api import FakeBotApi
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
def test_a_malformed_setting_is_one_line_exit_2_and_shows_no_secret(env: dict[str, str]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot.cli", "run"],
        env={**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN, **env},
        capture_output=True,
        text=True,
        timeout=START_TIMEOUT,
        check=False,
    )

    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("fitbot: "), done.stderr
    assert (env.keys() & set(done.stderr.split())) or "proxy" in done.stderr
    for secret in (TOKEN.partition(":")[2], "pa55word"):
        assert secret not in done.stderr


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
