"""Running the real application in a test: serving in the background until a block ends."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from bot.engine import Engine
from bot.settings import Settings
from bot.store import Store
from bot.telegram_app import FitbotApp, build_application, serve
from tests.fake_bot_api import FakeBotApi

START_STOP_TIMEOUT = 10.0


@asynccontextmanager
async def running(api: FakeBotApi, engine: Engine, settings: Settings) -> AsyncIterator[FitbotApp]:
    """The application serving ``api`` in the background until the block ends."""
    application = build_application(settings, engine, Store(settings.state))
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
