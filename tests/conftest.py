"""Fixtures shared by the whole test suite."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

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
