"""The embedded state store: per-chat :class:`~bot.context.Context` in one SQLite file.

Every :meth:`Store.save` that changes a context commits at once (write-through). SQLite runs in
WAL mode with ``synchronous=NORMAL``: a commit is an append to the write-ahead log without an
fsync, cheap enough for every reply, and survives the process being killed (only a power cut
can lose the last commits). Reads are served from a bounded in-memory cache.

The schema is a list of migrations applied in order and recorded in ``PRAGMA user_version``,
so a new table is one more entry in :data:`MIGRATIONS` plus the methods that use it.

Questions the bot declined or was unsure about are kept in ``unanswered`` (written through like
contexts) for ``fitbot report unanswered``, which reads them with :func:`read_unanswered`
without writing to the file. The table keeps the newest :data:`MAX_UNANSWERED` rows.
"""

from __future__ import annotations

import sqlite3
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

from bot.context import Context
from bot.errors import ConfigError

CACHE_SIZE = 10_000
BUSY_TIMEOUT_SECONDS = 5.0
# A flood of odd questions must not fill the disk: the oldest rows beyond this are pruned,
# checked every PRUNE_EVERY rows so that pruning costs nothing per question.
MAX_UNANSWERED = 100_000
PRUNE_EVERY = 1_000
MAX_RECORDED_CHARS = 1_000

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE chat_context (
        chat_id    INTEGER PRIMARY KEY,
        context    TEXT    NOT NULL,
        updated_at REAL    NOT NULL
    )
    """,
    """
    CREATE TABLE unanswered (
        id         INTEGER PRIMARY KEY,
        asked_at   REAL    NOT NULL,
        text       TEXT    NOT NULL,
        answered   INTEGER NOT NULL,
        confidence REAL    NOT NULL,
        exercise   TEXT,
        intent     TEXT
    )
    """,
)
_UNANSWERED_COLUMNS = "text, asked_at, answered, confidence, exercise, intent"


@dataclass(frozen=True)
class UnansweredQuestion:
    """A question the bot declined (or answered with low confidence), with its best guess."""

    text: str
    asked_at: float  # Unix time
    answered: bool
    confidence: float
    exercise: str | None = None
    intent: str | None = None


class Store:
    """Per-chat contexts in SQLite, with an LRU cache in front.

    Not thread-safe: use it from the event loop thread only (each call is one short statement).
    """

    def __init__(self, path: Path | str, *, cache_size: int = CACHE_SIZE) -> None:
        self.path = Path(path)
        self._cache: OrderedDict[int, Context] = OrderedDict()
        self._cache_size = cache_size
        self._closed = False
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the state file {self.path}: {exc}") from exc

    def load(self, chat_id: int) -> Context:
        """The chat's context; a fresh one for a chat never seen."""
        cached = self._cache.get(chat_id)
        if cached is not None:
            self._cache.move_to_end(chat_id)
            return cached
        row = self._db.execute(
            "SELECT context FROM chat_context WHERE chat_id = ?", (chat_id,)
        ).fetchone()
        context = Context.from_json(row[0]) if row else Context()
        self._remember(chat_id, context)
        return context

    def save(self, chat_id: int, context: Context) -> None:
        """Store the chat's context, committing at once unless it is unchanged."""
        if self._cache.get(chat_id) == context:
            self._cache.move_to_end(chat_id)
            return
        self._db.execute(
            "INSERT INTO chat_context (chat_id, context, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT (chat_id) DO UPDATE SET context = excluded.context, "
            "updated_at = excluded.updated_at",
            (chat_id, context.to_json(), time.time()),
        )
        self._remember(chat_id, context)

    def record_unanswered(self, question: UnansweredQuestion) -> None:
        """Keep ``question`` for the coach (committed at once), pruning the oldest now and then."""
        cursor = self._db.execute(
            f"INSERT INTO unanswered ({_UNANSWERED_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
            (
                question.text[:MAX_RECORDED_CHARS],
                question.asked_at,
                question.answered,
                question.confidence,
                question.exercise,
                question.intent,
            ),
        )
        row_id = cursor.lastrowid or 0
        if row_id % PRUNE_EVERY == 0:
            self._db.execute("DELETE FROM unanswered WHERE id <= ?", (row_id - MAX_UNANSWERED,))

    def count_unanswered(self) -> int:
        """How many unanswered questions are kept."""
        (count,) = self._db.execute("SELECT count(*) FROM unanswered").fetchone()
        return int(count)

    def close(self) -> None:
        """Checkpoint the log into the main file and close; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self._db.close()
        self._cache.clear()

    def _remember(self, chat_id: int, context: Context) -> None:
        self._cache[chat_id] = context
        self._cache.move_to_end(chat_id)
        if len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    def _migrate(self) -> None:
        (version,) = self._db.execute("PRAGMA user_version").fetchone()
        for number, statement in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._db:
                self._db.execute("BEGIN")
                self._db.execute(statement)
                self._db.execute(f"PRAGMA user_version = {number}")


def read_unanswered(path: Path | str, since: float | None = None) -> list[UnansweredQuestion]:
    """The unanswered questions kept in the state file ``path``, oldest first, read-only.

    ``since`` (Unix time) leaves out older ones. A state file written before the table existed
    has none. Raises :class:`ConfigError` if the file is missing or unreadable.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no state file at {path} (set FITBOT_STATE or pass --state)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'unanswered'"
            ).fetchone():
                return []
            rows = db.execute(
                f"SELECT {_UNANSWERED_COLUMNS} FROM unanswered WHERE asked_at >= ? "
                "ORDER BY asked_at, id",
                (since if since is not None else float("-inf"),),
            ).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read the state file {path}: {exc}") from exc
    return [
        UnansweredQuestion(text, asked_at, bool(answered), confidence, exercise, intent)
        for text, asked_at, answered, confidence, exercise, intent in rows
    ]
