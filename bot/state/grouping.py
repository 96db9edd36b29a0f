"""The writes of updates under way, committed together: one SQLite transaction per loop turn.

Every update makes a few small writes (its reply's commit with the chat's context and
"handled", the answer count, maybe an unanswered question), each committed on its own: a
write-ahead-log append, page copies and syscalls per commit. Updates of different chats are
answered at once, and many of their writes are made in the same turn of the event loop:
:class:`GroupCommit` runs the writes of one loop turn in one transaction, and each caller goes
on once that transaction is committed, so a write is exactly as durable, at the same point of
its caller, as when committed alone.

If the transaction fails, it is rolled back and every write is run again on its own (so one
failing write, a full disk or a corrupt row, costs only its own caller, as before).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")

MAX_GROUP = 500  # writes in one transaction; more wait for the next


@dataclass(frozen=True)
class Write(Generic[T]):
    """A write: ``statements`` (no transaction control of their own; rerunnable, since a group
    that fails runs them again alone), and how to run it alone (``alone``: in its own
    transaction, or its statement committing by itself, guarded as the store guards)."""

    statements: Callable[[], T]
    alone: Callable[[], T]


class GroupCommit:
    """Writes queued in one turn of the event loop, committed in one transaction."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db
        self._queue: list[tuple[Write[Any], asyncio.Future[Any]]] = []

    async def run(self, write: Write[T]) -> T:
        """``write``'s result once its transaction is committed (or ``write.alone()``'s)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        if not self._queue:
            loop.call_soon(self.flush)
        self._queue.append((write, future))
        return await future

    def flush(self) -> None:
        """Commit what is queued now (also before the connection closes)."""
        while self._queue:
            group, self._queue = self._queue[:MAX_GROUP], self._queue[MAX_GROUP:]
            self._commit(group)

    def _commit(self, group: list[tuple[Write[Any], asyncio.Future[Any]]]) -> None:
        results: list[Any] = []
        if len(group) > 1:
            try:
                self._db.execute("BEGIN")
                results = [write.statements() for write, _ in group]
                self._db.execute("COMMIT")
            except Exception:  # the file failed (or a bug): each write alone says which
                with contextlib.suppress(sqlite3.Error):
                    self._db.execute("ROLLBACK")
                results = []
        for index, (write, future) in enumerate(group):
            try:
                result = results[index] if results else write.alone()
            except BaseException as exc:  # a bug: the caller hears of it, as before
                if not future.done():
                    future.set_exception(exc)
                continue
            if not future.done():
                future.set_result(result)
