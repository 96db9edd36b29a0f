"""The SQLite store: contexts survive a restart and a SIGKILL, the cache stays bounded.

What every store must do is in ``test_store_contract.py``, run against SQLite and Redis alike.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.context import Context
from bot.errors import ConfigError
from bot.state.store import MIGRATIONS, SqliteStore

TALKED = Context(exercises=("reverse-squat",), intent="steps", constraints=("weak-core",))


async def test_unknown_chat_gets_a_fresh_context(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")

    assert await store.load(1) == Context()
    await store.close()


async def test_context_survives_reopening(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    await store.save(1, TALKED)
    await store.save(-100, Context(intent="what"))
    await store.close()

    reopened = SqliteStore(path)
    assert await reopened.load(1) == TALKED
    assert await reopened.load(-100) == Context(intent="what")
    assert await reopened.load(2) == Context()
    await reopened.close()


async def test_later_save_replaces_the_earlier(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    await store.save(1, TALKED)
    await store.save(1, TALKED.reset())
    await store.close()

    assert await SqliteStore(path).load(1) == Context()


def _save_and_hang(path: str, ready: multiprocessing.synchronize.Event) -> None:
    store = SqliteStore(path)
    asyncio.run(store.save(7, TALKED))
    ready.set()
    signal.pause()


async def test_a_saved_context_survives_sigkill(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    child = spawn.Process(target=_save_and_hang, args=(str(path), ready))
    child.start()
    try:
        assert ready.wait(timeout=10)
    finally:
        os.kill(child.pid or 0, signal.SIGKILL)
        child.join(timeout=10)

    assert child.exitcode == -signal.SIGKILL
    assert await SqliteStore(path).load(7) == TALKED


async def test_cache_is_bounded_and_misses_read_the_file(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3", cache_size=2)
    for chat in range(5):
        await store.save(chat, Context(intent=str(chat)))

    assert [(await store.load(chat)).intent for chat in range(5)] == ["0", "1", "2", "3", "4"]
    assert len(store._cache) == 2
    await store.close()


async def test_corrupt_row_gives_a_fresh_context(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    await SqliteStore(path).close()
    with sqlite3.connect(path) as db:
        db.execute("INSERT INTO chat_context VALUES (9, 'not json', 0)")
    db.close()

    assert await SqliteStore(path).load(9) == Context()


async def test_schema_version_is_recorded(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    await SqliteStore(path).close()
    await SqliteStore(path).close()  # migrations are not applied twice

    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone() == (len(MIGRATIONS),)
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    db.close()


async def test_close_twice_is_harmless(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.close()
    await store.close()


def test_unusable_path_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot open the state file"):
        SqliteStore(tmp_path / "missing-dir" / "state.sqlite3")


ids = st.text(alphabet="abcdefghijklmnopqrstuvwxyz-", min_size=1, max_size=20)
contexts = st.builds(
    Context,
    exercises=st.lists(ids, max_size=2).map(tuple),
    intent=st.none() | ids,
    constraints=st.lists(ids, max_size=3).map(tuple),
    pending=st.lists(ids, max_size=3).map(tuple),
)


@given(chat=st.integers(min_value=-(2**52), max_value=2**52), context=contexts)
def test_any_context_round_trips_through_the_file(chat: int, context: Context) -> None:
    async def round_trip() -> Context:
        store = SqliteStore(":memory:")
        await store.save(chat, context)
        store._cache.clear()
        loaded = await store.load(chat)
        await store.close()
        return loaded

    assert asyncio.run(round_trip()) == context


async def test_chats_asked_for_a_comment_are_read_afresh_past_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("bot.state.store.MAX_ASKED_CHATS", 2)
    store = SqliteStore(tmp_path / "state.sqlite3", clock=lambda: 1_000.0)
    for n in range(5):
        await store.request_comment(f"chat{n}", n)
    for n in range(5):
        assert await store.take_comment_request(f"chat{n}") == (n, 1_000.0)
    assert await store.take_comment_request("chat0") is None
    await store.close()
