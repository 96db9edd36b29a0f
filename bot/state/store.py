"""The state store: the :class:`Store` protocol, and its embedded implementation, one SQLite
file (:class:`SqliteStore`): per-chat context, unanswered questions, and the inbox and outbox
that let a reply survive a Telegram outage or a crash. Replicas share a Redis instead
(:mod:`bot.state.redis_store`); :func:`bot.state.open_store` picks by ``FITBOT_STATE``.

Every method is a coroutine (Redis is reached over the network); the SQLite ones do their
short statements in place, without a thread.

SQLite runs in WAL mode with ``synchronous=NORMAL``: a commit is an append to the write-ahead
log without an fsync, cheap enough for every update, and survives the process being killed
(only a power cut can lose the last commits). Context reads are served from a bounded cache.

What is kept, and for how long:

* ``chat_context``: each chat's :class:`~bot.context.Context`, until replaced.
* ``unanswered``: questions declined or answered with low confidence, for
  ``fitbot report unanswered``; the newest :data:`MAX_UNANSWERED`.
* ``inbox``: every update received, written before Telegram is told it arrived (before the next
  getUpdates offset moves past it, or the webhook's 200). ``body`` holds the update's JSON until
  it has been handled (then NULL); the ids of handled updates stay for de-duplication, for
  :data:`DEDUPE_SECONDS` and at most :data:`MAX_HANDLED` of them.
* ``outbox``: replies not yet delivered, in the order they were composed; a row is deleted once
  Telegram has accepted it (or it is dropped: blocked chat, rejected, too old).
* ``rating``: the 👍/👎 pressed under answers (:class:`Rating`: the chat as a keyed hash, never
  its id; the question and the 👎 comment as typed), for ``fitbot report feedback``; one per
  rated message, the newest :data:`MAX_RATINGS`.
* ``comment_request``: chats asked "What were you looking for?" whose next message is the
  comment (chat hashes only); a request is forgotten when that message comes, or after
  :data:`COMMENT_REQUEST_SECONDS`.
* ``answer_count``: how many questions were answered or declined per UTC day, record, section
  and way of asking (counts only, no text), for the reports.

The reply to an update, the chat's new context and "this update is handled" are written in one
transaction (:meth:`SqliteStore.commit_reply`), so after a crash either all of it happened or the
update is handled again from the start.

A failing write (disk full, a corrupt file) must not cost the person their answer: every
method catches :class:`sqlite3.Error`, logs the first failure of a run (and every
:data:`LOG_ERRORS_EVERY` th after it), counts it in :attr:`SqliteStore.errors`, and degrades: no
context kept, the reply sent without a durable copy.

The schema is a list of migrations applied in order and recorded in ``PRAGMA user_version``.
"""

from __future__ import annotations

import functools
import logging
import sqlite3
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

from bot.context import Context
from bot.errors import ConfigError
from bot.state.grouping import GroupCommit, Write

logger = logging.getLogger(__name__)

CACHE_SIZE = 10_000
BUSY_TIMEOUT_SECONDS = 5.0
# A flood of odd questions must not fill the disk: the oldest rows beyond this are pruned,
# checked every PRUNE_EVERY rows so that pruning costs nothing per question.
MAX_UNANSWERED = 100_000
PRUNE_EVERY = 1_000
MAX_RECORDED_CHARS = 1_000
# Handled updates are remembered this long (Telegram keeps an update for 24 hours, so a
# redelivery can come no later), and at most this many.
DEDUPE_SECONDS = 24 * 60 * 60
MAX_HANDLED = 100_000
LOG_ERRORS_EVERY = 1_000
# Ratings are kept like unanswered questions: the newest this many.
MAX_RATINGS = 100_000
# A comment request nobody answered is forgotten after this long.
COMMENT_REQUEST_SECONDS = 24 * 60 * 60
# Chats known to have a comment request are re-read from the file past this many.
MAX_ASKED_CHATS = 10_000
SECONDS_PER_DAY = 86_400
# How an answered question came in: typed (or a command with words), or a section button.
VIA_QUESTION = "question"
VIA_BUTTON = "button"

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
    """
    CREATE TABLE inbox (
        update_id   INTEGER PRIMARY KEY,
        received_at REAL    NOT NULL,
        body        TEXT
    )
    """,
    """
    CREATE TABLE outbox (
        id         INTEGER PRIMARY KEY,
        chat_id    INTEGER NOT NULL,
        created_at REAL    NOT NULL,
        text       TEXT    NOT NULL,
        parse_mode TEXT,
        reply_to   INTEGER,
        thread     INTEGER,
        markup     TEXT
    )
    """,
    """
    CREATE TABLE rating (
        chat       TEXT    NOT NULL,
        message    INTEGER NOT NULL,
        rated_at   REAL    NOT NULL,
        helpful    INTEGER NOT NULL,
        record     TEXT    NOT NULL,
        section    TEXT    NOT NULL,
        confidence REAL    NOT NULL,
        question   TEXT,
        comment    TEXT,
        asked      INTEGER NOT NULL,
        PRIMARY KEY (chat, message)
    )
    """,
    "CREATE INDEX rating_time ON rating (rated_at)",
    """
    CREATE TABLE comment_request (
        chat         TEXT    PRIMARY KEY,
        message      INTEGER NOT NULL,
        requested_at REAL    NOT NULL
    )
    """,
    """
    CREATE TABLE answer_count (
        day      INTEGER NOT NULL,
        record   TEXT    NOT NULL,
        section  TEXT    NOT NULL,
        answered INTEGER NOT NULL,
        via      TEXT    NOT NULL,
        count    INTEGER NOT NULL,
        PRIMARY KEY (day, record, section, answered, via)
    )
    """,
)
_UNANSWERED_COLUMNS = "text, asked_at, answered, confidence, exercise, intent"
_RATING_COLUMNS = (
    "chat, message, rated_at, helpful, record, section, confidence, question, comment, asked"
)
_SELECT_RATINGS = (
    f"SELECT {_RATING_COLUMNS} FROM rating WHERE rated_at >= ? ORDER BY rated_at, rowid"
)
_SELECT_COUNTS = (
    "SELECT day, record, section, answered, via, count FROM answer_count WHERE day > ? "
    "ORDER BY day, record, section, answered, via"
)
_COUNT_ANSWER = (
    "INSERT INTO answer_count (day, record, section, answered, via, count) "
    "VALUES (?, ?, ?, ?, ?, 1) "
    "ON CONFLICT (day, record, section, answered, via) DO UPDATE SET count = count + 1"
)
_OUTGOING_COLUMNS = "chat_id, created_at, text, parse_mode, reply_to, thread, markup"
_UPSERT_CONTEXT = (
    "INSERT INTO chat_context (chat_id, context, updated_at) VALUES (?, ?, ?) "
    "ON CONFLICT (chat_id) DO UPDATE SET context = excluded.context, "
    "updated_at = excluded.updated_at"
)
T = TypeVar("T")


# Contexts are frozen and few distinct ones recur (the same exercise and ask in many chats):
# serialising each once saves the dataclass walk on most writes.
_context_json = functools.lru_cache(maxsize=CACHE_SIZE)(Context.to_json)


@dataclass(frozen=True)
class UnansweredQuestion:
    """A question the bot declined (or answered with low confidence), with its best guess."""

    text: str
    asked_at: float  # Unix time
    answered: bool
    confidence: float
    exercise: str | None = None
    intent: str | None = None


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One message to send: what ``sendMessage`` needs, with the keyboard as JSON."""

    chat_id: int
    text: str
    parse_mode: str | None = None
    reply_to: int | None = None  # the message quoted
    thread: int | None = None  # forum topic
    markup: str | None = None  # reply_markup as JSON


@dataclass(frozen=True, slots=True)
class PendingReply:
    """A message in the outbox: its row (None if the state store could not keep it), when it
    was composed (Unix time), and the message."""

    row: int | None
    created_at: float
    message: Outgoing


@dataclass(frozen=True, slots=True)
class Rating:
    """A 👍 (``helpful``) or 👎 pressed under one answer.

    ``chat`` is a keyed hash of the chat id (the id itself is never stored) and ``message`` the
    rated message's id in that chat: one rating per message, a later press replaces it.
    ``question`` is what was asked (None when it is not known: a section button, or an answer
    given before a restart); ``comment`` the answer to "What were you looking for?";
    ``asked`` whether that question was asked for this message (it is asked once).
    """

    chat: str
    message: int
    rated_at: float  # Unix time
    helpful: bool
    record: str
    section: str
    confidence: float
    question: str | None = None
    comment: str | None = None
    asked: bool = False


@dataclass(frozen=True, slots=True)
class AnswerCount:
    """How many questions one UTC day got one outcome: ``record``/``section`` answered (empty
    strings for a decline or an answer without a record), typed or by a button (``via``)."""

    day: float  # Unix time of the day's start, UTC
    record: str
    section: str
    answered: bool
    via: str
    count: int


def day_of(stamp: float) -> int:
    """The start of the UTC day holding ``stamp`` (Unix time)."""
    return int(stamp // SECONDS_PER_DAY * SECONDS_PER_DAY)


def clip(text: str | None) -> str | None:
    """``text`` cut to :data:`MAX_RECORDED_CHARS` (texts kept for the coach)."""
    return text[:MAX_RECORDED_CHARS] if text is not None else None


class ContextStore(Protocol):
    """Each chat's conversation context."""

    async def load(self, chat_id: int) -> Context:
        """The chat's context; a fresh one for a chat never seen (or if the store fails)."""

    async def save(self, chat_id: int, context: Context) -> None:
        """Keep the chat's context."""


class InboxStore(Protocol):
    """Updates received, kept until handled; handled update ids, kept to recognise a
    redelivery."""

    async def receive(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        """Keep ``(update_id, JSON)`` pairs; return the ids to handle now: those not seen
        before, or (a shared store) not handled yet. If the store fails, every id."""

    async def handled(self, update_id: int) -> None:
        """Mark an update handled (its reply, if any, already committed)."""

    async def unhandled(self) -> list[tuple[int, str]]:
        """Updates received but not handled, oldest first."""

    async def last_update_id(self) -> int | None:
        """The newest update id received, if any is remembered."""


class OutboxStore(Protocol):
    """Replies not delivered yet, in per-chat lanes, each lane drained by one process."""

    async def commit_reply(
        self,
        update_id: int | None,
        chat_id: int,
        context: Context | None,
        messages: Sequence[Outgoing],
    ) -> list[PendingReply]:
        """At once: queue ``messages``, save the chat's ``context`` (if given) and mark
        ``update_id`` handled (if given). Return the replies this process must now send, oldest
        first: the new ones, after any older ones of the chat that no live process was
        delivering; none when another live process delivers the chat's replies (it takes the
        new ones after its own). If the store fails, the new ones without rows."""

    async def delivered(self, row: int | None) -> None:
        """Forget an outbox row: Telegram has it (or it was given up)."""

    async def undelivered(self) -> list[PendingReply]:
        """The replies no live process is delivering, now this process's to deliver, in the
        order composed."""

    def quiet(self, chat_id: int) -> bool:
        """Whether, as far as this process knows, nothing of the chat's waits in the outbox
        (its reply may be sent before it is committed)."""

    async def release_lane(self, chat_id: int) -> list[PendingReply]:
        """This process has sent every reply of the chat it had: let the lane go, or return
        the replies queued meanwhile by other processes (the lane stays this process's)."""

    async def sweep(self, lanes: Sequence[int]) -> list[PendingReply]:
        """Renew this process's hold on ``lanes`` and take over lanes whose process died;
        return their replies."""


class UnansweredLog(Protocol):
    """Questions declined or answered with low confidence, for ``fitbot report unanswered``."""

    async def record_unanswered(self, question: UnansweredQuestion) -> bool:
        """Keep ``question``; False if the store failed."""

    async def count_unanswered(self) -> int:
        """How many are kept."""

    async def read_unanswered(self, since: float | None = None) -> list[UnansweredQuestion]:
        """The questions kept, oldest first; ``since`` (Unix time) leaves out older ones."""


class FeedbackLog(Protocol):
    """The 👍/👎 on answers with their comments, the comment asked for, and how many questions
    were answered: for ``fitbot report feedback`` and the HTML report."""

    async def rating(self, chat: str, message: int) -> Rating | None:
        """The rating of ``message`` in ``chat`` (a chat hash), if it has one."""

    async def rate(self, rating: Rating) -> bool:
        """Keep ``rating``, replacing an earlier one of the same message; False if the store
        failed."""

    async def add_comment(self, chat: str, message: int, comment: str) -> bool:
        """Attach ``comment`` to the rating of ``message``; False if there is none."""

    async def request_comment(self, chat: str, message: int) -> None:
        """Remember that ``chat``'s next message comments on ``message`` (replacing an earlier
        request of the chat), for :data:`COMMENT_REQUEST_SECONDS`."""

    async def take_comment_request(self, chat: str) -> tuple[int, float] | None:
        """``(message, requested_at)`` of the chat's request, forgetting it; None if none."""

    async def count_answer(
        self, at: float, record: str | None, section: str | None, answered: bool, via: str
    ) -> None:
        """Count one question answered (or declined) at ``at`` in its UTC day."""

    async def ratings(self, since: float | None = None) -> list[Rating]:
        """Every rating kept, oldest first; ``since`` (Unix time) leaves out older ones."""

    async def answer_counts(self, since: float | None = None) -> list[AnswerCount]:
        """The counts of the days that end after ``since``, by day."""


class Store(ContextStore, InboxStore, OutboxStore, UnansweredLog, FeedbackLog, Protocol):
    """Everything the bot keeps: one protocol, an embedded SQLite file
    (:class:`SqliteStore`) or a Redis shared by replicas
    (:class:`~bot.state.redis_store.RedisStore`). The same contract tests run against both
    (``tests/test_store_contract.py``); a new kind of record is a new part above, implemented
    by both.

    ``shared`` stores are used by several processes at once: :meth:`turn` then serialises
    one chat's updates across them and tells whether an update is still to be handled.
    """

    shared: bool
    errors: int  # failed reads or writes since start

    @property
    def location(self) -> str:
        """Where the state is, for log lines (never with a password)."""

    def turn(
        self, chat_id: int, update_id: int, chat_hash: str | None = None
    ) -> AbstractAsyncContextManager[bool]:
        """Hold the chat while one of its updates is handled; enter as False if the update was
        handled already (by any process). ``chat_hash``: the chat as its comment request is
        kept (see :meth:`FeedbackLog.take_comment_request`), if the caller knows it."""

    async def ping(self) -> bool:
        """Whether the store answers (for ``/healthz``)."""

    async def close(self) -> None:
        """Flush and close; safe to call twice."""


class _NoTurn:
    """A turn that holds nothing: one process orders its chats itself."""

    async def __aenter__(self) -> bool:
        return True

    async def __aexit__(self, *exc: object) -> None:
        return None


_NO_TURN = _NoTurn()


class SqliteStore:
    """The state file, with an LRU cache of contexts in front.

    Not thread-safe: use it from the event loop thread only (each call is one short
    statement or transaction).
    """

    def __init__(
        self,
        path: Path | str,
        *,
        cache_size: int = CACHE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = Path(path)
        self.errors = 0
        self._cache: OrderedDict[int, Context] = OrderedDict()
        self._cache_size = cache_size
        self._clock = clock
        self._closed = False
        self._received = 0
        try:
            self._db = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._migrate()
            self._asked = self._chats_asked()
            self._group = GroupCommit(self._db)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open the state file {self.path}: {exc}") from exc

    shared = False

    @property
    def location(self) -> str:
        """The state file's path."""
        return str(self.path)

    def turn(
        self, chat_id: int, update_id: int, chat_hash: str | None = None
    ) -> AbstractAsyncContextManager[bool]:
        """Nothing to hold: one process owns the file, and orders each chat itself."""
        return _NO_TURN

    async def ping(self) -> bool:
        """The file is local: a failing one is counted in :attr:`errors`, not unreachable."""
        return True

    # -- contexts ---------------------------------------------------------------------------

    async def load(self, chat_id: int) -> Context:
        """The chat's context; a fresh one for a chat never seen (or if the file fails)."""
        cached = self._cache.get(chat_id)
        if cached is not None:
            self._cache.move_to_end(chat_id)
            return cached
        row = self._guard(
            "read a context",
            lambda: self._db.execute(
                "SELECT context FROM chat_context WHERE chat_id = ?", (chat_id,)
            ).fetchone(),
            None,
        )
        context = Context.from_json(row[0]) if row else Context()
        self._remember(chat_id, context)
        return context

    async def save(self, chat_id: int, context: Context) -> None:
        """Store the chat's context, committing at once unless it is unchanged."""
        await self.commit_reply(None, chat_id, context, ())

    # -- inbox ------------------------------------------------------------------------------

    async def receive(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        """Keep ``(update_id, JSON)`` pairs in one transaction; return the ids not seen before.

        If the file fails, every id is returned: the updates are handled without a copy.
        """
        if not updates:
            return set()
        now = self._clock()

        def statements() -> set[int]:
            fresh: set[int] = set()
            for update_id, body in updates:
                cursor = self._db.execute(
                    "INSERT OR IGNORE INTO inbox (update_id, received_at, body) VALUES (?, ?, ?)",
                    (update_id, now, body),
                )
                if cursor.rowcount:
                    fresh.add(update_id)
            return fresh

        fresh = await self._write("keep updates", statements, None, many=len(updates) > 1)
        if fresh is None:
            return {update_id for update_id, _ in updates}
        self._received += len(fresh)
        if self._received >= PRUNE_EVERY:
            self._received = 0
            newest = max(fresh, default=0)
            self._guard("prune the inbox", lambda: self._prune_inbox(newest, now), None)
        return fresh

    async def handled(self, update_id: int) -> None:
        """Mark an update handled (its reply, if any, already committed)."""
        await self._write(
            "mark an update handled",
            lambda: self._db.execute(
                "UPDATE inbox SET body = NULL WHERE update_id = ?", (update_id,)
            ),
            None,
        )

    async def unhandled(self) -> list[tuple[int, str]]:
        """Updates received but not handled (a crash or a stop came first), oldest first."""
        rows: list[tuple[int, str]] = self._guard(
            "read the inbox",
            lambda: self._db.execute(
                "SELECT update_id, body FROM inbox WHERE body IS NOT NULL ORDER BY update_id"
            ).fetchall(),
            [],
        )
        return rows

    async def last_update_id(self) -> int | None:
        """The newest update id received, if any is remembered."""
        value = self._guard(
            "read the inbox",
            lambda: self._db.execute("SELECT max(update_id) FROM inbox").fetchone()[0],
            None,
        )
        return int(value) if value is not None else None

    # -- outbox -----------------------------------------------------------------------------

    async def commit_reply(
        self,
        update_id: int | None,
        chat_id: int,
        context: Context | None,
        messages: Sequence[Outgoing],
    ) -> list[PendingReply]:
        """In one transaction: queue ``messages``, save the chat's ``context`` (if given and
        changed) and mark ``update_id`` handled (if given). Return the queued replies.

        If the file fails the context is only cached and the replies come back without rows:
        they are still sent, just not kept across a crash.
        """
        now = self._clock()
        changed = context is not None and self._cache.get(chat_id) != context
        if context is not None:
            self._remember(chat_id, context)

        def statements() -> list[PendingReply]:
            rows: list[PendingReply] = []
            if changed and context is not None:
                self._db.execute(_UPSERT_CONTEXT, (chat_id, _context_json(context), now))
            for message in messages:
                cursor = self._db.execute(
                    f"INSERT INTO outbox ({_OUTGOING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        message.chat_id,
                        now,
                        message.text,
                        message.parse_mode,
                        message.reply_to,
                        message.thread,
                        message.markup,
                    ),
                )
                rows.append(PendingReply(cursor.lastrowid, now, message))
            if update_id is not None:
                self._db.execute("UPDATE inbox SET body = NULL WHERE update_id = ?", (update_id,))
            return rows

        if not changed and not messages and update_id is None:
            return []
        fallback = [PendingReply(None, now, message) for message in messages]
        many = len(messages) + changed + (update_id is not None) > 1
        return await self._write("keep a reply", statements, fallback, many=many)

    async def delivered(self, row: int | None) -> None:
        """Forget an outbox row: Telegram has it (or it was given up)."""
        if row is not None:
            await self._write(
                "forget a delivered reply",
                lambda: self._db.execute("DELETE FROM outbox WHERE id = ?", (row,)),
                None,
            )

    async def undelivered(self) -> list[PendingReply]:
        """Every reply still in the outbox, in the order composed."""
        rows: list[tuple[int, int, float, str, str | None, int | None, int | None, str | None]]
        rows = self._guard(
            "read the outbox",
            lambda: self._db.execute(
                f"SELECT id, {_OUTGOING_COLUMNS} FROM outbox ORDER BY id"
            ).fetchall(),
            [],
        )
        return [
            PendingReply(row, created, Outgoing(chat, text, parse_mode, reply_to, thread, markup))
            for row, chat, created, text, parse_mode, reply_to, thread, markup in rows
        ]

    def quiet(self, chat_id: int) -> bool:
        """One process: its own lanes know what waits."""
        return True

    async def release_lane(self, chat_id: int) -> list[PendingReply]:
        """No other process queues replies."""
        return []

    async def sweep(self, lanes: Sequence[int]) -> list[PendingReply]:
        """No other process holds lanes."""
        return []

    # -- unanswered questions ---------------------------------------------------------------

    async def record_unanswered(self, question: UnansweredQuestion) -> bool:
        """Keep ``question`` for the coach (committed at once), pruning the oldest now and then.
        False if the file failed."""

        def write() -> bool:
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
                self._db.execute(
                    "DELETE FROM unanswered WHERE id <= ?", (row_id - MAX_UNANSWERED,)
                )
            return True

        return await self._write("record an unanswered question", write, False)

    async def count_unanswered(self) -> int:
        """How many unanswered questions are kept."""
        row = self._guard(
            "count unanswered questions",
            lambda: self._db.execute("SELECT count(*) FROM unanswered").fetchone(),
            (0,),
        )
        return int(row[0])

    async def read_unanswered(self, since: float | None = None) -> list[UnansweredQuestion]:
        """The questions kept, oldest first (read through this connection)."""
        rows: list[tuple[str, float, int, float, str | None, str | None]] = self._guard(
            "read unanswered questions",
            lambda: self._db.execute(
                f"SELECT {_UNANSWERED_COLUMNS} FROM unanswered WHERE asked_at >= ? "
                "ORDER BY asked_at, id",
                (since if since is not None else float("-inf"),),
            ).fetchall(),
            [],
        )
        return [_unanswered(row) for row in rows]

    # -- lifecycle --------------------------------------------------------------------------

    # -- feedback -----------------------------------------------------------------------------

    async def rating(self, chat: str, message: int) -> Rating | None:
        """The rating of ``message`` in ``chat`` (a chat hash), if it has one."""
        row = self._guard(
            "read a rating",
            lambda: self._db.execute(
                f"SELECT {_RATING_COLUMNS} FROM rating WHERE chat = ? AND message = ?",
                (chat, message),
            ).fetchone(),
            None,
        )
        return rating_from_row(row) if row is not None else None

    async def rate(self, rating: Rating) -> bool:
        """Keep ``rating`` (committed at once), replacing an earlier one of the same message;
        prune the oldest now and then. False if the file failed."""

        def write() -> bool:
            cursor = self._db.execute(
                f"INSERT OR REPLACE INTO rating ({_RATING_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    rating.chat,
                    rating.message,
                    rating.rated_at,
                    rating.helpful,
                    rating.record,
                    rating.section,
                    rating.confidence,
                    clip(rating.question),
                    clip(rating.comment),
                    rating.asked,
                ),
            )
            row_id = cursor.lastrowid or 0
            if row_id % PRUNE_EVERY == 0:
                self._db.execute("DELETE FROM rating WHERE rowid <= ?", (row_id - MAX_RATINGS,))
            return True

        return self._guard("keep a rating", write, False)

    async def add_comment(self, chat: str, message: int, comment: str) -> bool:
        """Attach ``comment`` to the rating of ``message`` in ``chat``. False if there is no
        such rating (or the file failed)."""
        cursor = self._guard(
            "keep a comment",
            lambda: self._db.execute(
                "UPDATE rating SET comment = ? WHERE chat = ? AND message = ?",
                (clip(comment), chat, message),
            ),
            None,
        )
        return cursor is not None and cursor.rowcount > 0

    async def request_comment(self, chat: str, message: int) -> None:
        """Remember that ``chat``'s next message comments on the rating of ``message``
        (replacing an earlier request of that chat); forget requests nobody answered."""
        now = self._clock()

        def write() -> None:
            self._db.execute(
                "INSERT OR REPLACE INTO comment_request (chat, message, requested_at) "
                "VALUES (?, ?, ?)",
                (chat, message, now),
            )
            self._db.execute(
                "DELETE FROM comment_request WHERE requested_at < ?",
                (now - COMMENT_REQUEST_SECONDS,),
            )

        self._asked.add(chat)  # before the write: a chat too many only costs a look
        self._guard("keep a comment request", lambda: self._transaction(write), None)
        if len(self._asked) > MAX_ASKED_CHATS:  # chats that never wrote again: read afresh
            self._asked = self._guard("read comment requests", self._chats_asked, self._asked)

    async def take_comment_request(self, chat: str) -> tuple[int, float] | None:
        """``(message, requested_at)`` of ``chat``'s comment request, forgetting it; None if
        there is none (or it is older than :data:`COMMENT_REQUEST_SECONDS`).

        Every text message asks, and hardly any chat has a request: the chats that may have
        one are known in memory (this process owns the file), so the others cost no
        statement."""
        if chat not in self._asked:
            return None
        self._asked.discard(chat)
        oldest = self._clock() - COMMENT_REQUEST_SECONDS

        def take() -> tuple[int, float] | None:
            # fetchall: a RETURNING statement commits only once its rows are all read.
            rows = self._db.execute(
                "DELETE FROM comment_request WHERE chat = ? RETURNING message, requested_at",
                (chat,),
            ).fetchall()
            if not rows or float(rows[0][1]) < oldest:
                return None
            return int(rows[0][0]), float(rows[0][1])

        return self._guard("read a comment request", take, None)

    async def count_answer(
        self, at: float, record: str | None, section: str | None, answered: bool, via: str
    ) -> None:
        """Count one question answered (or declined) at ``at`` (Unix time) in its UTC day."""
        await self._write(
            "count an answer",
            lambda: self._db.execute(
                _COUNT_ANSWER, (day_of(at), record or "", section or "", answered, via)
            ),
            None,
        )

    async def ratings(self, since: float | None = None) -> list[Rating]:
        """Every rating kept, oldest first (``since``: Unix time)."""
        rows: list[Any] = self._guard(
            "read ratings",
            lambda: self._db.execute(_SELECT_RATINGS, (_since(since),)).fetchall(),
            [],
        )
        return [rating_from_row(row) for row in rows]

    async def answer_counts(self, since: float | None = None) -> list[AnswerCount]:
        """The answer counts by day (the days that end after ``since``)."""
        rows: list[Any] = self._guard(
            "read answer counts",
            lambda: self._db.execute(_SELECT_COUNTS, (_day_since(since),)).fetchall(),
            [],
        )
        return [_count(row) for row in rows]

    async def close(self) -> None:
        """Checkpoint the log into the main file and close; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self._group.flush()
        self._guard(
            "checkpoint", lambda: self._db.execute("PRAGMA wal_checkpoint(TRUNCATE)"), None
        )
        self._db.close()
        self._cache.clear()

    # -- helpers ----------------------------------------------------------------------------

    def _guard(self, doing: str, action: Callable[[], T], fallback: T) -> T:
        """``action()``, or ``fallback`` if the file fails (logged now and then, counted)."""
        try:
            return action()
        except sqlite3.Error as exc:
            self.errors += 1
            if self.errors % LOG_ERRORS_EVERY == 1:
                logger.error(
                    "state file %s: could not %s (%s: %s); carrying on without it "
                    "(%d failure(s) so far)",
                    self.path,
                    doing,
                    type(exc).__name__,
                    exc,
                    self.errors,
                )
            return fallback

    def _transaction(self, statements: Callable[[], T]) -> T:
        self._db.execute("BEGIN")
        try:
            result = statements()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return result

    async def _write(
        self, doing: str, statements: Callable[[], T], fallback: T, *, many: bool = False
    ) -> T:
        """``statements()`` committed with the other writes of this loop turn (see
        :mod:`bot.state.grouping`), or ``fallback`` if the file fails. Alone, ``many``
        statements get a transaction; one commits by itself."""

        def alone() -> T:
            action = (lambda: self._transaction(statements)) if many else statements
            return self._guard(doing, action, fallback)

        return await self._group.run(Write(statements, alone))

    def _chats_asked(self) -> set[str]:
        """The chats with a comment request in the file."""
        return {chat for (chat,) in self._db.execute("SELECT chat FROM comment_request")}

    def _prune_inbox(self, newest: int, now: float) -> None:
        """Forget handled updates older than a day or far behind the newest.

        Update ids grow by one per update, so ``newest - MAX_HANDLED`` bounds the count.
        """
        self._db.execute(
            "DELETE FROM inbox WHERE body IS NULL AND (update_id <= ? OR received_at < ?)",
            (newest - MAX_HANDLED, now - DEDUPE_SECONDS),
        )

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
    query = (
        f"SELECT {_UNANSWERED_COLUMNS} FROM unanswered WHERE asked_at >= ? ORDER BY asked_at, id"
    )
    rows = _read_only(path, "unanswered", query, (_since(since),))
    return [_unanswered(row) for row in rows]


def _unanswered(row: tuple[str, float, int, float, str | None, str | None]) -> UnansweredQuestion:
    text, asked_at, answered, confidence, exercise, intent = row
    return UnansweredQuestion(text, asked_at, bool(answered), confidence, exercise, intent)


def rating_from_row(row: Sequence[Any]) -> Rating:
    """A :class:`Rating` from its fields in column order (a SQLite row, a Redis JSON list)."""
    chat, message, rated_at, helpful, record, section, confidence, question, comment, asked = row
    return Rating(
        chat,
        int(message),
        float(rated_at),
        bool(helpful),
        record,
        section,
        float(confidence),
        question,
        comment,
        bool(asked),
    )


def _count(row: Sequence[Any]) -> AnswerCount:
    day, record, section, answered, via, count = row
    return AnswerCount(float(day), record, section, bool(answered), via, int(count))


def _since(since: float | None) -> float:
    return since if since is not None else float("-inf")


def _day_since(since: float | None) -> float:
    """Days start at midnight UTC: the day holding ``since`` starts less than a day before."""
    return since - SECONDS_PER_DAY if since is not None else float("-inf")


def read_ratings(path: Path | str, since: float | None = None) -> list[Rating]:
    """The ratings kept in the state file ``path``, oldest first, read-only (``since``: Unix
    time). Raises :class:`ConfigError` if the file is missing or unreadable."""
    rows = _read_only(path, "rating", _SELECT_RATINGS, (_since(since),))
    return [rating_from_row(row) for row in rows]


def read_answer_counts(path: Path | str, since: float | None = None) -> list[AnswerCount]:
    """The answer counts kept in the state file ``path``, by day, read-only; ``since`` keeps
    the days that end after it."""
    rows = _read_only(path, "answer_count", _SELECT_COUNTS, (_day_since(since),))
    return [_count(row) for row in rows]


def _read_only(path: Path | str, table: str, query: str, params: tuple[Any, ...]) -> list[Any]:
    """Rows of ``query`` on the state file ``path`` opened read-only; none if ``table`` does
    not exist yet (a file written by an older version)."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"no state file at {path} (set FITBOT_STATE or pass --state)")
    try:
        db = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            if not db.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
            ).fetchone():
                return []
            return db.execute(query, params).fetchall()
        finally:
            db.close()
    except sqlite3.Error as exc:
        raise ConfigError(f"cannot read the state file {path}: {exc}") from exc
