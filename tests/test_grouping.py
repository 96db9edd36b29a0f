"""The SQLite writes of one loop turn share a transaction, and stay as durable as alone."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.synchronize
import os
import signal
import sqlite3
from pathlib import Path

from bot.context import Context
from bot.state.store import VIA_QUESTION, SqliteStore

TALKED = Context(exercises=("reverse-squat",), intent="steps")


def _commits(store: SqliteStore) -> list[str]:
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    return statements


async def test_the_writes_of_one_loop_turn_are_one_transaction(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    store = SqliteStore(path)
    await store.receive([(n, "{}") for n in range(1, 11)])
    traced = _commits(store)
    reader = sqlite3.connect(path)
    seen_by_others: list[int] = []

    async def handle(update_id: int) -> None:
        await store.commit_reply(update_id, update_id, TALKED, ())
        # Once the call returns, the write is committed: another connection sees it.
        (body,) = reader.execute(
            "SELECT body FROM inbox WHERE update_id = ?", (update_id,)
        ).fetchone()
        if body is None:
            seen_by_others.append(update_id)

    await asyncio.gather(*(handle(n) for n in range(1, 11)))

    assert sorted(seen_by_others) == list(range(1, 11))
    assert [s for s in traced if s in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    assert await store.unhandled() == []
    reader.close()
    await store.close()


async def test_a_write_alone_commits_as_before(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.receive([(1, "{}")])
    traced = _commits(store)

    await store.commit_reply(1, 5, TALKED, ())  # context and "handled": a transaction
    await store.count_answer(0.0, "reverse-squat", "steps", True, VIA_QUESTION)  # one statement

    assert [s for s in traced if s in ("BEGIN", "COMMIT")] == ["BEGIN", "COMMIT"]
    await store.close()


async def test_a_failing_write_costs_only_its_own_caller(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.receive([(1, "{}"), (2, "{}")])
    # A trigger that refuses one chat's context: the group fails, each write runs alone.
    store._db.execute(
        "CREATE TRIGGER refuse BEFORE INSERT ON chat_context WHEN NEW.chat_id = 6 "
        "BEGIN SELECT RAISE(ABORT, 'refused'); END"
    )

    await asyncio.gather(
        store.commit_reply(1, 5, TALKED, ()),
        store.commit_reply(2, 6, TALKED, ()),
        store.count_answer(0.0, "reverse-squat", "steps", True, VIA_QUESTION),
    )

    assert store.errors == 1
    assert [update_id for update_id, _ in await store.unhandled()] == [2]
    assert len(await store.answer_counts()) == 1
    again = SqliteStore(tmp_path / "state.sqlite3")
    assert await again.load(5) == TALKED
    assert await again.load(6) == Context()
    await again.close()
    await store.close()


def _die_mid_group(path: str, ready: multiprocessing.synchronize.Event) -> None:
    """Receive two updates, then die inside the transaction committing their replies."""

    async def main() -> None:
        store = SqliteStore(path)
        await store.receive([(1, "{}"), (2, "{}")])

        def trace(statement: str) -> None:
            if statement.startswith("UPDATE inbox") and "2" in statement:
                ready.set()
                os.kill(os.getpid(), signal.SIGKILL)

        store._db.set_trace_callback(trace)
        await asyncio.gather(
            store.commit_reply(1, 5, TALKED, ()), store.commit_reply(2, 6, TALKED, ())
        )

    asyncio.run(main())


async def test_a_crash_mid_group_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "state.sqlite3"
    spawn = multiprocessing.get_context("spawn")
    ready = spawn.Event()
    child = spawn.Process(target=_die_mid_group, args=(str(path), ready))
    child.start()
    child.join(timeout=30)

    assert ready.is_set()
    assert child.exitcode == -signal.SIGKILL
    store = SqliteStore(path)
    # Neither reply was committed: both updates are handled again after the restart.
    assert [update_id for update_id, _ in await store.unhandled()] == [1, 2]
    assert await store.load(5) == Context()
    await store.close()
