"""The state shared by webhook replicas, in Redis (``FITBOT_STATE=redis://host:port/db``).

The same :class:`~bot.state.store.Store` contract as the SQLite file, on redis-py's asyncio
client. Every change that must happen together (a reply, the chat's context and "this update is
handled"; taking over a chat's lane of replies) is one Lua script, so it is atomic in Redis and
costs one round trip. Scripts are registered with :meth:`redis.asyncio.Redis.register_script`,
which re-sends a script Redis forgot (after a restart) by itself.

Keys, all under :data:`PREFIX`:

==========================  ========  =========================================================
``ctx:<chat>``              string    the chat's context (JSON), until replaced
``inbox``                   hash      update id -> the update's JSON, until it is handled
``handled``                 zset      update ids handled, scored by when: 24 hours, at most
                                      :data:`~bot.state.store.MAX_HANDLED`
``last-update``             string    the newest update id received (polling's offset)
``outbox``                  hash      row -> a reply not delivered yet (JSON)
``outbox:lane``             hash      row -> the chat whose lane it waits in
``lane:<chat>``             zset      the rows of one chat's lane, in the order composed
``lanes``                   set       chats with rows
``lane-owner:<chat>``       string    the replica sending the chat's replies; a lease that the
                                      replica renews, so a dead one's lanes are taken over
``outbox:seq``              counter   row numbers
``turn:<chat>``             string    the replica handling one of the chat's updates now (a
                                      short lock: a button press racing a message)
``unanswered``              stream    unanswered questions, the newest
                                      :data:`~bot.state.store.MAX_UNANSWERED` (approximately)
``rating``                  hash      ``<chat hash>:<message>`` -> a 👍/👎 with its question
                                      and comment (JSON), the newest
                                      :data:`~bot.state.store.MAX_RATINGS`
``ratings``                 zset      the same fields, scored by when rated
``comment-request:<chat>``  string    the message a 👎 asked a comment for, and when; expires
                                      after :data:`~bot.state.store.COMMENT_REQUEST_SECONDS`
``answers:<day>``           hash      ``[record, section, answered, via]`` -> questions that
                                      UTC day (counts only)
``answer-days``             zset      the days counted, scored by day
``flood:<user>``, ``limit:*``         flood control and Telegram's send limits
                                      (:mod:`bot.telegram.replicas`)
==========================  ========  =========================================================

Redis down: each command is retried with backoff for about :data:`RIDE_THROUGH_SECONDS` (a
restart passes unnoticed but for the wait); past that it fails like a broken state file does
(counted in :attr:`RedisStore.errors`, logged now and then, the bot answers without it), and
``/healthz`` is 503 until Redis answers again. A single Redis (with persistence on) is assumed:
the scripts touch keys they derive, which Redis Cluster does not allow.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, TypeVar

import redis.asyncio as redis
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from bot.context import Context
from bot.errors import ConfigError
from bot.metrics import replica_name
from bot.settings import redis_display
from bot.state.batching import ScriptBatcher
from bot.state.store import (
    COMMENT_REQUEST_SECONDS,
    DEDUPE_SECONDS,
    LOG_ERRORS_EVERY,
    MAX_HANDLED,
    MAX_RATINGS,
    MAX_RECORDED_CHARS,
    MAX_UNANSWERED,
    PRUNE_EVERY,
    SECONDS_PER_DAY,
    AnswerCount,
    Outgoing,
    PendingReply,
    Rating,
    UnansweredQuestion,
    clip,
    day_of,
    rating_from_row,
)

logger = logging.getLogger(__name__)

PREFIX = "fitbot:"
# A restart of Redis (seconds with AOF) is ridden out: each command is retried this long.
RIDE_THROUGH_SECONDS = 10.0
COMMAND_TIMEOUT_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 1.0
MAX_CONNECTIONS = 32
# One update of a chat is handled at a time across replicas; the lock outlives a dead holder
# by at most this. An update takes milliseconds, plus one send to Telegram (seconds at worst).
TURN_SECONDS = 10.0
TURN_POLL_FIRST = 0.005
TURN_POLL_CAP = 0.1
# A replica holds a chat's lane of undelivered replies by a lease it renews every
# SWEEP_SECONDS; another replica takes the lane over once the lease has run out.
LANE_LEASE_SECONDS = 15.0
SWEEP_SECONDS = 5.0

T = TypeVar("T")

_RECEIVE = """
local fresh = {}
local last = redis.call('GET', KEYS[3])
for i = 1, #ARGV, 2 do
  local id = ARGV[i]
  if not redis.call('ZSCORE', KEYS[1], id) then
    redis.call('HSETNX', KEYS[2], id, ARGV[i + 1])
    fresh[#fresh + 1] = id
  end
  if not last or tonumber(id) > tonumber(last) then last = id end
end
if last then redis.call('SET', KEYS[3], last) end
return fresh
"""

# Take the chat's turn (or nothing, if another replica has it); with it, whether the update was
# handled, the chat's context, how many of its replies wait in the outbox and (given its key)
# whether it has a comment request.
_TURN = """
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return false end
local handled = redis.call('ZSCORE', KEYS[2], ARGV[3]) and 1 or 0
local asked = KEYS[5] and redis.call('EXISTS', KEYS[5]) or 1
return {handled, redis.call('GET', KEYS[3]) or '', redis.call('ZCARD', KEYS[4]), asked}
"""

# Keep a rating (replacing the message's earlier one) and drop the oldest beyond the bound.
_RATE = """
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[1])
local over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[4])
if over > 0 then
  local old = redis.call('ZRANGE', KEYS[2], 0, over - 1)
  redis.call('ZREMRANGEBYRANK', KEYS[2], 0, over - 1)
  redis.call('HDEL', KEYS[1], unpack(old))
end
return 1
"""

# A rating's comment (its 9th field), if the rating is there.
_ADD_COMMENT = """
local raw = redis.call('HGET', KEYS[1], ARGV[1])
if not raw then return 0 end
local rating = cjson.decode(raw)
rating[9] = ARGV[2]
redis.call('HSET', KEYS[1], ARGV[1], cjson.encode(rating))
return 1
"""

# XADD with MAXLEN ~ ARGV[1]; the fields and values follow.
_RECORD = """
return redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(ARGV, 2))
"""

# Let go of a turn, and count answers: KEYS[3...] the days' hashes, ARGV[2...] pairs of the
# field and the day.
_RELEASE_TURN = """
for i = 3, #KEYS do
  redis.call('HINCRBY', KEYS[i], ARGV[2 * i - 4], 1)
  redis.call('ZADD', KEYS[2], ARGV[2 * i - 3], ARGV[2 * i - 3])
end
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""

# The rows of a lane with their replies, flat: row, reply, row, reply...
_LANE_ROWS = """
local function lane_rows(lane, outbox)
  local out = {}
  for _, row in ipairs(redis.call('ZRANGE', lane, 0, -1)) do
    out[#out + 1] = row
    out[#out + 1] = redis.call('HGET', outbox, row) or ''
  end
  return out
end
"""

_COMMIT = (
    _LANE_ROWS
    + """
if ARGV[3] ~= '' then redis.call('SET', KEYS[1], ARGV[3]) end
if ARGV[2] ~= '' then
  redis.call('ZADD', KEYS[2], ARGV[1], ARGV[2])
  redis.call('HDEL', KEYS[3], ARGV[2])
end
if #ARGV < 7 then return {} end
local new = {}
for i = 7, #ARGV do
  local row = redis.call('INCR', KEYS[9])
  redis.call('HSET', KEYS[4], row, ARGV[i])
  redis.call('HSET', KEYS[5], row, ARGV[6])
  redis.call('ZADD', KEYS[6], row, row)
  new[#new + 1] = row
  new[#new + 1] = ARGV[i]
end
redis.call('SADD', KEYS[8], ARGV[6])
local owner = redis.call('GET', KEYS[7])
if not owner then
  redis.call('SET', KEYS[7], ARGV[4], 'PX', ARGV[5])
  return lane_rows(KEYS[6], KEYS[4])
end
if owner == ARGV[4] then return new end
return {}
"""
)

_DELIVERED = """
local chat = redis.call('HGET', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if chat then
  local lane = ARGV[2] .. 'lane:' .. chat
  redis.call('ZREM', lane, ARGV[1])
  if redis.call('ZCARD', lane) == 0 then redis.call('SREM', KEYS[3], chat) end
end
return 1
"""

_RELEASE_LANE = (
    _LANE_ROWS
    + """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return {} end
if redis.call('ZCARD', KEYS[2]) == 0 then
  redis.call('DEL', KEYS[1])
  redis.call('SREM', KEYS[4], ARGV[2])
  return {}
end
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return lane_rows(KEYS[2], KEYS[3])
"""
)

_LET_GO = """
for i = 2, #ARGV do
  local owner = ARGV[1] .. 'lane-owner:' .. ARGV[i]
  if redis.call('GET', owner) == KEYS[1] then redis.call('DEL', owner) end
end
return 1
"""

_SWEEP = (
    _LANE_ROWS
    + """
for i = 4, #ARGV do
  local owner = ARGV[3] .. 'lane-owner:' .. ARGV[i]
  if redis.call('GET', owner) == ARGV[1] then redis.call('PEXPIRE', owner, ARGV[2]) end
end
local out = {}
for _, chat in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  local lane = ARGV[3] .. 'lane:' .. chat
  if redis.call('ZCARD', lane) == 0 then
    redis.call('SREM', KEYS[1], chat)
  elseif redis.call('SET', ARGV[3] .. 'lane-owner:' .. chat, ARGV[1], 'NX', 'PX', ARGV[2]) then
    for _, item in ipairs(lane_rows(lane, KEYS[2])) do out[#out + 1] = item end
  end
end
return out
"""
)


def client_for(url: str, *, ride_through: float = RIDE_THROUGH_SECONDS) -> redis.Redis:
    """A redis-py asyncio client for ``url`` that retries a failed command with backoff for
    about ``ride_through`` seconds (0: not at all). Raises :class:`ConfigError` for a URL
    redis-py cannot use."""
    retries, waited, delay = 0, 0.0, 0.05
    while waited < ride_through:
        waited += min(delay * 2**retries, 1.0)
        retries += 1
    retry = Retry(ExponentialBackoff(cap=1.0, base=delay), retries) if retries else None
    try:
        # Waiting for a free connection beats failing: hundreds of chats may be answered at
        # once, and a few connections carry their commands.
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=MAX_CONNECTIONS,
            timeout=COMMAND_TIMEOUT_SECONDS,
            decode_responses=True,
            socket_timeout=COMMAND_TIMEOUT_SECONDS if retries else PROBE_TIMEOUT_SECONDS,
            socket_connect_timeout=CONNECT_TIMEOUT_SECONDS if retries else PROBE_TIMEOUT_SECONDS,
            retry=retry or Retry(NoBackoff(), 0),
            retry_on_error=[RedisConnectionError, RedisTimeoutError, ConnectionError, OSError],
        )
        return redis.Redis.from_pool(pool)
    except ValueError as exc:
        raise ConfigError(f"cannot use the Redis at {redis_display(url)}: {exc}") from None


class RedisStore:
    """The :class:`~bot.state.store.Store` in a Redis that replicas share.

    Nothing is cached across updates (another replica may change a chat's context): a chat's
    context is read with its :meth:`turn`, and served from there to the handler.
    """

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = PREFIX,
        clock: Callable[[], float] = time.time,
        turn_seconds: float = TURN_SECONDS,
        lane_lease: float = LANE_LEASE_SECONDS,
        ride_through: float = RIDE_THROUGH_SECONDS,
    ) -> None:
        self.url = url
        self.errors = 0
        self.client = client_for(url, ride_through=ride_through)
        self._probe = client_for(url, ride_through=0)
        self.prefix = prefix
        self.replica = f"{replica_name()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._clock = clock
        self._turn_ms = round(turn_seconds * 1000)
        self._turn_seconds = turn_seconds
        self._lease_ms = round(lane_lease * 1000)
        self._handled_since_prune = 0
        self._held: dict[int, Context] = {}  # chats whose turn this process holds
        self._pending: dict[int, int] = {}  # their replies waiting in the outbox then
        self._unasked: set[str] = set()  # chat hashes of held turns without a comment request
        self._counts: list[tuple[str, str, int]] = []  # answer counts to write with a release
        self._closed = False
        k = self._key
        self._inbox, self._handled, self._last = k("inbox"), k("handled"), k("last-update")
        self._outbox, self._lane_of, self._lanes = k("outbox"), k("outbox:lane"), k("lanes")
        self._seq, self._unanswered = k("outbox:seq"), k("unanswered")
        self._rating, self._ratings, self._days = k("rating"), k("ratings"), k("answer-days")
        script = self.client.register_script
        self._receive_script = script(_RECEIVE)
        self._turn_script = script(_TURN)
        self._release_turn_script = script(_RELEASE_TURN)
        self._commit_script = script(_COMMIT)
        self._delivered_script = script(_DELIVERED)
        self._release_lane_script = script(_RELEASE_LANE)
        self._sweep_script = script(_SWEEP)
        self._let_go_script = script(_LET_GO)
        self._record_script = script(_RECORD)
        self._batch = ScriptBatcher(self.client)
        self._rate_script = script(_RATE)
        self._comment_script = script(_ADD_COMMENT)
        self._lanes_held: set[int] = set()  # chats whose lane lease this process holds

    def _key(self, name: str) -> str:
        return self.prefix + name

    @property
    def location(self) -> str:
        """The Redis URL without its password."""
        return redis_display(self.url)

    # -- contexts ---------------------------------------------------------------------------

    async def load(self, chat_id: int) -> Context:
        """The chat's context: as read with its turn, else from Redis."""
        held = self._held.get(chat_id)
        if held is not None:
            return held
        raw = await self._guard("read a context", self.client.get(self._key(f"ctx:{chat_id}")))
        return Context.from_json(raw) if raw else Context()

    async def save(self, chat_id: int, context: Context) -> None:
        """Store the chat's context."""
        await self.commit_reply(None, chat_id, context, ())

    # -- turns ------------------------------------------------------------------------------

    def turn(
        self, chat_id: int, update_id: int, chat_hash: str | None = None
    ) -> AbstractAsyncContextManager[bool]:
        """The chat's lock in Redis while one of its updates is handled (see :class:`_Turn`).
        With ``chat_hash`` (the key of the chat's comment request), whether it has a comment
        request is read with the turn: :meth:`take_comment_request` then costs no round trip
        when it has none (a request is made only in the chat's own turn)."""
        return _Turn(self, chat_id, update_id, chat_hash)

    def quiet(self, chat_id: int) -> bool:
        """True only while this process holds the chat's turn and nothing of it waited in the
        outbox when the turn was taken (no other process can queue one meanwhile)."""
        return self._pending.get(chat_id) == 0

    # -- inbox ------------------------------------------------------------------------------

    async def receive(self, updates: Sequence[tuple[int, str]]) -> set[int]:
        """Keep the updates' JSON; return the ids not handled yet (a redelivery of an update
        that a dead replica never finished is handled here)."""
        if not updates:
            return set()
        args = [value for update_id, body in updates for value in (update_id, body)]
        fresh = await self._guard(
            "keep updates",
            self._batch.call(self._receive_script, [self._handled, self._inbox, self._last], args),
            None,
        )
        if fresh is None:
            return {update_id for update_id, _ in updates}
        return {int(update_id) for update_id in fresh}

    async def handled(self, update_id: int) -> None:
        """Mark an update handled."""
        async with self.client.pipeline(transaction=True) as pipe:
            pipe.zadd(self._handled, {str(update_id): self._clock()})
            pipe.hdel(self._inbox, str(update_id))
            await self._guard("mark an update handled", pipe.execute())
        await self._count_handled()

    async def unhandled(self) -> list[tuple[int, str]]:
        """Updates received but not handled, oldest first (some may be under way on another
        replica: their turn tells)."""
        rows = await self._guard("read the inbox", self.client.hgetall(self._inbox), {})
        return sorted((int(update_id), body) for update_id, body in rows.items())

    async def last_update_id(self) -> int | None:
        """The newest update id received."""
        value = await self._guard("read the inbox", self.client.get(self._last))
        return int(value) if value is not None else None

    # -- outbox -----------------------------------------------------------------------------

    async def commit_reply(
        self,
        update_id: int | None,
        chat_id: int,
        context: Context | None,
        messages: Sequence[Outgoing],
    ) -> list[PendingReply]:
        """One script: the context, "handled", the replies queued in the chat's lane, and the
        lane taken if no replica holds it. Return the replies this process must send."""
        now = self._clock()
        held = self._held.get(chat_id)
        changed = context is not None and held != context
        if context is not None and held is not None:
            self._held[chat_id] = context
        if not changed and not messages and update_id is None:
            return []
        k = self._key
        rows = await self._guard(
            "keep a reply",
            self._batch.call(
                self._commit_script,
                [
                    k(f"ctx:{chat_id}"),
                    self._handled,
                    self._inbox,
                    self._outbox,
                    self._lane_of,
                    k(f"lane:{chat_id}"),
                    k(f"lane-owner:{chat_id}"),
                    self._lanes,
                    self._seq,
                ],
                [
                    now,
                    "" if update_id is None else update_id,
                    context.to_json() if changed and context is not None else "",
                    self.replica,
                    self._lease_ms,
                    chat_id,
                    *(_dump(now, message) for message in messages),
                ],
            ),
            None,
        )
        if messages:
            self._pending.pop(chat_id, None)  # the chat's outbox is not empty now
        if update_id is not None:
            await self._count_handled()
        if rows is None:
            return [PendingReply(None, now, message) for message in messages]
        if rows:
            self._lanes_held.add(chat_id)
        return _replies(rows)

    async def delivered(self, row: int | None) -> None:
        """Forget a row, and its lane once empty."""
        if row is not None:
            await self._guard(
                "forget a delivered reply",
                self._batch.call(
                    self._delivered_script,
                    [self._outbox, self._lane_of, self._lanes],
                    [row, self.prefix],
                ),
            )

    async def undelivered(self) -> list[PendingReply]:
        """The replies of every lane no live replica holds, taken over, in the order composed."""
        return await self.sweep(())

    async def release_lane(self, chat_id: int) -> list[PendingReply]:
        """Let the chat's lane go if it is empty; else the rows queued meanwhile."""
        rows = await self._guard(
            "release a lane",
            self._release_lane_script(
                keys=[
                    self._key(f"lane-owner:{chat_id}"),
                    self._key(f"lane:{chat_id}"),
                    self._outbox,
                    self._lanes,
                ],
                args=[self.replica, chat_id, self._lease_ms],
            ),
            [],
        )
        if not rows:
            self._lanes_held.discard(chat_id)
        return _replies(rows)

    async def sweep(self, lanes: Sequence[int]) -> list[PendingReply]:
        """Renew the leases of ``lanes``; take over lanes whose lease ran out."""
        rows = await self._guard(
            "sweep the outbox",
            self._sweep_script(
                keys=[self._lanes, self._outbox],
                args=[self.replica, self._lease_ms, self.prefix, *lanes],
            ),
            [],
        )
        taken = sorted(_replies(rows), key=lambda reply: reply.row or 0)  # as composed
        self._lanes_held.update(reply.message.chat_id for reply in taken)
        return taken

    # -- unanswered questions ---------------------------------------------------------------

    async def record_unanswered(self, question: UnansweredQuestion) -> bool:
        """Append to the stream, trimmed to about :data:`MAX_UNANSWERED` (a script, so it goes
        with the other scripts of the loop turn)."""
        fields: dict[Any, Any] = {
            "text": question.text[:MAX_RECORDED_CHARS],
            "asked_at": question.asked_at,
            "answered": int(question.answered),
            "confidence": question.confidence,
            "exercise": question.exercise or "",
            "intent": question.intent or "",
        }
        added = await self._guard(
            "record an unanswered question",
            self._batch.call(
                self._record_script,
                [self._unanswered],
                [MAX_UNANSWERED, *(v for pair in fields.items() for v in pair)],
            ),
        )
        return added is not None

    async def count_unanswered(self) -> int:
        """The stream's length."""
        return int(
            await self._guard("count unanswered questions", self.client.xlen(self._unanswered), 0)
        )

    async def read_unanswered(self, since: float | None = None) -> list[UnansweredQuestion]:
        """The stream, oldest first (by when asked)."""
        entries = await self._guard(
            "read unanswered questions", self.client.xrange(self._unanswered), []
        )
        questions = [_question(fields) for _, fields in entries]
        if since is not None:
            questions = [q for q in questions if q.asked_at >= since]
        return sorted(questions, key=lambda q: q.asked_at)

    # -- feedback ---------------------------------------------------------------------------

    async def rating(self, chat: str, message: int) -> Rating | None:
        """The rating of ``message`` in ``chat``, if it has one."""
        raw = await self._guard(
            "read a rating", self.client.hget(self._rating, f"{chat}:{message}")
        )
        return _rating(raw) if raw else None

    async def rate(self, rating: Rating) -> bool:
        """Keep ``rating`` (one script: the hash, the time index, the bound)."""
        member = f"{rating.chat}:{rating.message}"
        kept = await self._guard(
            "keep a rating",
            self._rate_script(
                keys=[self._rating, self._ratings],
                args=[member, _dump_rating(rating), rating.rated_at, MAX_RATINGS],
            ),
        )
        return kept is not None

    async def add_comment(self, chat: str, message: int, comment: str) -> bool:
        """Attach ``comment`` to the rating, in one script; False if there is no rating."""
        done = await self._guard(
            "keep a comment",
            self._comment_script(
                keys=[self._rating], args=[f"{chat}:{message}", clip(comment) or ""]
            ),
        )
        return bool(done)

    async def request_comment(self, chat: str, message: int) -> None:
        """A key per chat that expires by itself."""
        self._unasked.discard(chat)
        await self._guard(
            "keep a comment request",
            self.client.set(
                self._key(f"comment-request:{chat}"),
                f"{message} {self._clock()!r}",
                px=round(COMMENT_REQUEST_SECONDS * 1000),
            ),
        )

    async def take_comment_request(self, chat: str) -> tuple[int, float] | None:
        """GETDEL the chat's request (nothing to do if its turn found none)."""
        if chat in self._unasked:
            return None
        raw = await self._guard(
            "read a comment request", self.client.getdel(self._key(f"comment-request:{chat}"))
        )
        if not raw:
            return None
        message, requested_at = raw.split()
        if float(requested_at) < self._clock() - COMMENT_REQUEST_SECONDS:
            return None  # the key expires by itself; this is for a clock that disagrees
        return int(message), float(requested_at)

    async def count_answer(
        self, at: float, record: str | None, section: str | None, answered: bool, via: str
    ) -> None:
        """HINCRBY the day's field; the day joins the index. While this process holds a turn
        (an update under way, which counts its answer before it lets go), the count is written
        by the script that next releases a turn, in its round trip (a pipeline with a script
        would cost a SCRIPT EXISTS round trip of its own)."""
        day = day_of(at)
        field = json.dumps([record or "", section or "", int(answered), via])
        self._counts.append((self._key(f"answers:{day}"), field, day))
        if not self._held:
            async with self.client.pipeline(transaction=False) as pipe:
                self._queue_counts(pipe)
                await self._guard("count an answer", pipe.execute())

    def _queue_counts(self, pipe: Any) -> None:
        """Add the answer counts not written yet to ``pipe``."""
        counts, self._counts = self._counts, []
        for key, field, day in counts:
            pipe.hincrby(key, field, 1)
            pipe.zadd(self._days, {str(day): day})

    async def ratings(self, since: float | None = None) -> list[Rating]:
        """The ratings since ``since``, oldest first."""
        low = since if since is not None else "-inf"
        members = await self._guard(
            "read ratings", self.client.zrangebyscore(self._ratings, low, "+inf"), []
        )
        if not members:
            return []
        raws = await self._guard("read ratings", self.client.hmget(self._rating, members), [])
        return [_rating(raw) for raw in raws if raw]

    async def answer_counts(self, since: float | None = None) -> list[AnswerCount]:
        """Every counted day that ends after ``since``, each day's fields."""
        low = f"({since - SECONDS_PER_DAY}" if since is not None else "-inf"
        days = await self._guard(
            "read answer counts", self.client.zrangebyscore(self._days, low, "+inf"), []
        )
        if not days:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for day in days:
                pipe.hgetall(self._key(f"answers:{day}"))
            tallies = await self._guard("read answer counts", pipe.execute(), [])
        counts = []
        for day, fields in zip(days, tallies, strict=False):
            for field, count in sorted(fields.items()):
                record, section, answered, via = json.loads(field)
                counts.append(
                    AnswerCount(float(day), record, section, bool(answered), via, int(count))
                )
        return counts

    # -- lifecycle --------------------------------------------------------------------------

    async def ping(self) -> bool:
        """Whether Redis answers now (no retries: for ``/healthz``)."""
        for _ in range(2):  # a connection left from before a Redis restart fails once
            try:
                return bool(await self._probe.ping())
            except (RedisError, OSError):
                continue
        return False

    async def close(self) -> None:
        """Let go of this process's lanes (another replica, or this one restarted, takes them
        over at once) and close the connections; safe to call twice."""
        if self._closed:
            return
        self._closed = True
        if self._lanes_held:
            await self._guard(
                "let go of lanes",
                self._let_go_script(
                    keys=[self.replica], args=[self.prefix, *sorted(self._lanes_held)]
                ),
            )
        await self.client.aclose()
        await self._probe.aclose()

    # -- helpers ----------------------------------------------------------------------------

    async def _guard(self, doing: str, action: Awaitable[Any], fallback: Any = None) -> Any:
        """``await action``, or ``fallback`` if Redis fails (logged now and then, counted)."""
        try:
            return await action
        except (RedisError, OSError) as exc:
            self.errors += 1
            if self.errors % LOG_ERRORS_EVERY == 1:
                logger.error(
                    "state in %s: could not %s (%s: %s); carrying on without it "
                    "(%d failure(s) so far)",
                    self.location,
                    doing,
                    type(exc).__name__,
                    exc,
                    self.errors,
                )
            return fallback

    async def _count_handled(self) -> None:
        """Forget handled ids older than a day or beyond :data:`MAX_HANDLED`, now and then."""
        self._handled_since_prune += 1
        if self._handled_since_prune < PRUNE_EVERY:
            return
        self._handled_since_prune = 0
        async with self.client.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self._handled, "-inf", self._clock() - DEDUPE_SECONDS)
            pipe.zremrangebyrank(self._handled, 0, -(MAX_HANDLED + 1))
            await self._guard("forget old update ids", pipe.execute())


class _Turn:
    """The chat's turn: a lock in Redis (``SET NX PX`` with a token of this turn; released only
    by its holder), taken by polling, since one is held only for milliseconds. If Redis fails,
    the update is handled without it."""

    def __init__(
        self, store: RedisStore, chat_id: int, update_id: int, chat_hash: str | None
    ) -> None:
        self._store = store
        self._chat = chat_id
        self._update = update_id
        self._hash = chat_hash
        self._token = secrets.token_hex(8)
        self._key = store._key(f"turn:{chat_id}")

    async def __aenter__(self) -> bool:
        store, chat = self._store, self._chat
        keys = [
            self._key,
            store._handled,
            store._key(f"ctx:{chat}"),
            store._key(f"lane:{chat}"),
        ]
        if self._hash is not None:
            keys.append(store._key(f"comment-request:{self._hash}"))
        args: list[str | int] = [self._token, store._turn_ms, self._update]
        deadline = time.monotonic() + store._turn_seconds + 1
        pause = TURN_POLL_FIRST
        while True:
            try:
                taken = await store._batch.call(store._turn_script, keys, args)
            except (RedisError, OSError) as exc:
                await store._guard("take a chat's turn", _raise(exc))
                return True
            if taken is not None:
                handled, context, pending, asked = taken
                store._held[chat] = Context.from_json(context) if context else Context()
                store._pending[chat] = int(pending)
                if self._hash is not None and not int(asked):
                    store._unasked.add(self._hash)
                return not int(handled)
            if time.monotonic() >= deadline:  # the holder is stuck: go on without the turn
                logger.warning("chat %s: turn still held after %.0f s", chat, store._turn_seconds)
                return True
            await asyncio.sleep(pause)
            pause = min(TURN_POLL_CAP, pause * 2)

    async def __aexit__(self, *exc: object) -> None:
        """Let go of the turn, writing the answer counts of updates under way with it."""
        store = self._store
        store._held.pop(self._chat, None)
        store._pending.pop(self._chat, None)
        if self._hash is not None:
            store._unasked.discard(self._hash)
        counts, store._counts = store._counts, []
        await store._guard(
            "release a chat's turn",
            store._batch.call(
                store._release_turn_script,
                [self._key, store._days, *(key for key, _, _ in counts)],
                [self._token, *(v for _, field, day in counts for v in (field, day))],
            ),
        )


async def _raise(exc: BaseException) -> None:
    raise exc


def _dump(now: float, message: Outgoing) -> str:
    return json.dumps(
        [
            now,
            message.chat_id,
            message.text,
            message.parse_mode,
            message.reply_to,
            message.thread,
            message.markup,
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _replies(flat: Sequence[str] | None) -> list[PendingReply]:
    """Rows and their JSON, flat (row, reply, row, reply...), as replies; a row whose reply is
    gone is left out."""
    replies = []
    items = list(flat or ())
    for row, raw in zip(items[0::2], items[1::2], strict=True):
        if not raw:
            continue
        created, chat, text, parse_mode, reply_to, thread, markup = json.loads(raw)
        message = Outgoing(chat, text, parse_mode, reply_to, thread, markup)
        replies.append(PendingReply(int(row), float(created), message))
    return replies


def _question(fields: dict[str, str]) -> UnansweredQuestion:
    return UnansweredQuestion(
        text=fields.get("text", ""),
        asked_at=float(fields.get("asked_at", 0)),
        answered=fields.get("answered") == "1",
        confidence=float(fields.get("confidence", 0)),
        exercise=fields.get("exercise") or None,
        intent=fields.get("intent") or None,
    )


async def read_unanswered(url: str, since: float | None = None) -> list[UnansweredQuestion]:
    """``fitbot report unanswered`` on a Redis: the questions kept there, oldest first.
    Raises :class:`ConfigError` if Redis cannot be reached."""
    store = RedisStore(url, ride_through=0)
    try:
        if not await store.ping():
            raise ConfigError(f"cannot reach the Redis at {store.location}")
        return await store.read_unanswered(since)
    finally:
        await store.close()


def _dump_rating(rating: Rating) -> str:
    return json.dumps(
        [
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
        ],
        ensure_ascii=False,
        separators=(",", ":"),
    )


def _rating(raw: str) -> Rating:
    return rating_from_row(json.loads(raw))


async def read_feedback(
    url: str, since: float | None = None
) -> tuple[list[Rating], list[AnswerCount]]:
    """``fitbot report feedback`` on a Redis: the ratings and the answer counts kept there.
    Raises :class:`ConfigError` if Redis cannot be reached."""
    store = RedisStore(url, ride_through=0)
    try:
        if not await store.ping():
            raise ConfigError(f"cannot reach the Redis at {store.location}")
        return await store.ratings(since), await store.answer_counts(since)
    finally:
        await store.close()
