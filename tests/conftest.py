"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest

from bot.engine import Engine
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge
from tests.fake_bot_api import FakeBotApi
from tests.redis_server import RedisServer


@pytest.fixture
async def fake_api() -> AsyncIterator[FakeBotApi]:
    """A started :class:`~tests.fake_bot_api.FakeBotApi` (no latency), stopped afterwards."""
    api = FakeBotApi()
    await api.start()
    try:
        yield api
    finally:
        await api.stop()


@pytest.fixture(scope="session")
def knowledge() -> KnowledgeBase:
    """The shipped knowledge base, loaded once."""
    return load_knowledge(default_knowledge_dir({}))


@pytest.fixture(scope="session")
def engine(knowledge: KnowledgeBase) -> Engine:
    """An engine over the shipped knowledge base (engines hold no per-chat state)."""
    return Engine(knowledge)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One redis-server for the session (tests keep apart by key prefix); skipped locally
    without redis-server, a failure in CI."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server
    finally:
        server.stop()
