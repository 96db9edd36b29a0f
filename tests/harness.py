"""Running the real application in a test: serving in the background until a block ends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from bot.engine import Engine
from bot.knowledge import default_knowledge_dir
from bot.settings import Secret, Settings
from bot.state.store import SqliteStore
from bot.telegram.app import build_application, serve
from bot.telegram.handlers import FitbotApp
from tests.clock import HastyClock
from tests.fake_bot_api import FakeBotApi

START_STOP_TIMEOUT = 10.0


def settings_for(api: FakeBotApi, state: Path, **changes: Any) -> Settings:
    """Settings that run the bot against ``api`` on the state file ``state``, with the shipped
    knowledge base and no rate limiter, changed by ``changes``."""
    values: dict[str, Any] = {
        "token": Secret(api.token),
        "base_url": api.base_url,
        "state": state,
        "rate_limit": False,
        "knowledge": default_knowledge_dir({}),
        **changes,
    }
    return Settings(**values)


def free_port() -> int:
    """A TCP port of 127.0.0.1 nothing listens on (at the time of asking)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running(
    api: FakeBotApi, engine: Engine, settings: Settings, **seams: Any
) -> AsyncIterator[FitbotApp]:
    """The application serving ``api`` in the background until the block ends; ``seams`` go
    to :func:`build_application` (``clock``, ``retry``, ``receive_stale_after``), but for
    ``store`` (default: the SQLite file ``settings.state``). Unless a clock is given, the
    bot's waits (backoffs, ``retry_after``) are skipped."""
    seams.setdefault("clock", HastyClock())
    store = seams.pop("store", None) or SqliteStore(settings.state)
    application = build_application(settings, engine, store, **seams)
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, settings, stop))
    try:
        await api.wait_for(lambda: application.running or task.done(), START_STOP_TIMEOUT)
        if task.done():
            task.result()
        yield application
    finally:
        stop.set()
        await asyncio.wait_for(task, START_STOP_TIMEOUT)
