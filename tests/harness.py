"""Running the real application in a test: serving in the background until a block ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from bot.engine import Engine
from bot.settings import Settings
from bot.state.store import Store
from bot.telegram.app import build_application, serve
from bot.telegram.handlers import FitbotApp
from tests.clock import HastyClock
from tests.fake_bot_api import FakeBotApi

START_STOP_TIMEOUT = 10.0


@asynccontextmanager
async def running(
    api: FakeBotApi, engine: Engine, settings: Settings, **seams: Any
) -> AsyncIterator[FitbotApp]:
    """The application serving ``api`` in the background until the block ends; ``seams`` go
    to :func:`build_application` (``clock``, ``retry``, ``receive_stale_after``). Unless a
    clock is given, the bot's waits (backoffs, ``retry_after``) are skipped."""
    seams.setdefault("clock", HastyClock())
    application = build_application(settings, engine, Store(settings.state), **seams)
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
