"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from bot.engine import Engine
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge
from tests.fake_bot_api import FakeBotApi


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
