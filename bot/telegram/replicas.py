"""What webhook replicas share besides the state store, through the same Redis: Telegram's send
limits (:class:`RedisRateLimiter`), per-user flood control (:class:`RedisFloodGate`) and
knowledge reloads (:class:`ReloadChannel`).

Times are Redis's own (``TIME`` inside the scripts), so replicas on hosts whose clocks differ
still share one schedule.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import zlib
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import redis.asyncio as redis
from redis.exceptions import RedisError
from telegram.error import RetryAfter
from telegram.ext import BaseRateLimiter

from bot.telegram.handlers import Verdict
from bot.telegram.request import retry_after_seconds

logger = logging.getLogger(__name__)

# Telegram's limits (https://core.telegram.org/bots/faq#broadcasting-to-users): about 30
# messages a second overall, one a second per chat (short bursts pass), 20 a minute per group.
OVERALL_PER_SECOND = 30
CHAT_PER_SECOND = 1
CHAT_BURST = 3
GROUP_PER_MINUTE = 20
RETRY_AFTER_MARGIN = 0.1
UNLIMITED = frozenset({"sendChatAction"})  # the typing indicator costs no message
RELOAD_RETRY_FIRST = 1.0
RELOAD_RETRY_CAP = 30.0

# GCRA: each limit's key holds the theoretical arrival time (ms, Redis's clock) of its next
# message; a message may go once that time minus the burst allowance has come. The script
# admits a message now (and moves every limit that applies on), or says how long to wait
# before asking again; nothing is reserved ahead, so a message that waits for its own chat's
# limit holds no one else up. KEYS: the pause (after a 429), then each limit; ARGV: an offset
# to Redis's clock (tests), then per limit its interval and burst.
_ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
local wait = tonumber(redis.call('GET', KEYS[1]) or '0') - now
for i = 2, #KEYS do
  local interval, burst = tonumber(ARGV[2 * i - 2]), tonumber(ARGV[2 * i - 1])
  local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
  wait = math.max(wait, tat - interval * (burst - 1) - now)
end
if wait > 0 then return math.ceil(wait) end  -- Redis makes a reply number an integer
for i = 2, #KEYS do
  local interval = tonumber(ARGV[2 * i - 2])
  local tat = math.max(tonumber(redis.call('GET', KEYS[i]) or '0'), now) + interval
  redis.call('SET', KEYS[i], tat, 'PX', math.ceil(tat - now) + 1000)
end
return 0
"""

_PAUSE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[2])
local until_ms = now + tonumber(ARGV[1])
if until_ms > tonumber(redis.call('GET', KEYS[1]) or '0') then
  redis.call('SET', KEYS[1], until_ms, 'PX', ARGV[1])
end
return until_ms
"""

_BUCKET = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'stamp', 'warned')
local tokens = tonumber(b[1]) or burst
local stamp = tonumber(b[2]) or now
local warned = b[3] == '1'
tokens = math.min(burst, tokens + (now - stamp) * rate)
local verdict
if tokens >= 1 then
  tokens = tokens - 1
  warned = false
  verdict = 'pass'
elseif warned then
  verdict = 'drop'
else
  warned = true
  verdict = 'warn'
end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'stamp', now, 'warned', warned and '1' or '0')
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 1000)
return verdict
"""


class RedisRateLimiter(BaseRateLimiter[int]):
    """Telegram's send limits held across every replica: python-telegram-bot's
    :class:`~telegram.ext.BaseRateLimiter` on a schedule kept in Redis.

    Each request asks Redis whether it may go now (one script: the overall limit, the chat's,
    and a group's when the chat is one, each a GCRA bucket as :class:`~telegram.ext.
    AIORateLimiter`'s leaky buckets behave), and if not, sleeps as long as it is told and asks
    again. A 429 pauses every replica
    for ``retry_after`` (a key the reservations honour), then the request is tried again, up
    to ``max_retries`` times (``rate_limit_args`` overrides it), as
    :class:`~telegram.ext.AIORateLimiter` does. If Redis fails, requests go unthrottled (a
    429 is still waited out).
    """

    def __init__(
        self,
        client: redis.Redis,
        prefix: str,
        *,
        max_retries: int = 3,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        clock_offset: Callable[[], float] = lambda: 0.0,
    ) -> None:
        self._max_retries = max_retries
        self._sleep = sleep
        self._offset = clock_offset  # seconds added to Redis's clock: tests that do not wait
        self._pause_key = f"{prefix}limit:pause"
        self._overall_key = f"{prefix}limit:all"
        self._prefix = prefix
        self._admit = client.register_script(_ADMIT)
        self._pause = client.register_script(_PAUSE)
        self._failing = False

    async def initialize(self) -> None:
        """Nothing to set up: the schedule lives in Redis."""

    async def shutdown(self) -> None:
        """Nothing to release."""

    async def process_request(
        self,
        callback: Callable[..., Coroutine[Any, Any, bool | dict[str, Any] | list[dict[str, Any]]]],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> bool | dict[str, Any] | list[dict[str, Any]]:
        """Wait for the request's slot, send it; on a 429 pause everyone and try again."""
        if endpoint in UNLIMITED:
            return await callback(*args, **kwargs)
        retries = rate_limit_args if rate_limit_args is not None else self._max_retries
        chat = data.get("chat_id")
        for attempt in range(retries + 1):
            while (delay := await self.admit(chat)) > 0:
                await self._sleep(delay)
            try:
                return await callback(*args, **kwargs)
            except RetryAfter as exc:
                if attempt == retries:
                    raise
                wait = retry_after_seconds(exc) + RETRY_AFTER_MARGIN
                logger.info("flood wait of %.1f s from Telegram; every replica pauses", wait)
                with contextlib.suppress(RedisError, OSError):
                    await self._pause(
                        keys=[self._pause_key], args=[round(wait * 1000), self._offset_ms()]
                    )
                await self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _offset_ms(self) -> int:
        return round(self._offset() * 1000)

    async def admit(self, chat: object) -> float:
        """Let a message to ``chat`` (None: no chat) go now (0), or say how many seconds to
        wait before asking again."""
        keys = [self._pause_key, self._overall_key]
        args: list[float] = [self._offset_ms(), 1000 / OVERALL_PER_SECOND, OVERALL_PER_SECOND]
        chat_id = _chat_id(chat)
        if chat_id is not None:
            keys.append(f"{self._prefix}limit:chat:{chat_id}")
            args += [1000 / CHAT_PER_SECOND, CHAT_BURST]
            if chat_id < 0 or isinstance(chat, str):  # a group, supergroup or channel
                keys.append(f"{self._prefix}limit:group:{chat_id}")
                args += [60_000 / GROUP_PER_MINUTE, GROUP_PER_MINUTE]
        try:
            waited = await self._admit(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            if not self._failing:
                logger.warning("rate limits unavailable (%s); sending unthrottled", exc)
            self._failing = True
            return 0.0
        self._failing = False
        return max(0.0, float(waited) / 1000)


class RedisFloodGate:
    """Per-user flood control (a token bucket per user, as
    :class:`~bot.telegram.handlers.FloodGate`) whose buckets live in Redis, so a user who
    floods is held back whichever replica gets the message. Open if Redis fails."""

    def __init__(self, client: redis.Redis, prefix: str, rate: float, burst: int) -> None:
        self._prefix = prefix
        self._rate = rate
        self._burst = burst
        self._take = client.register_script(_BUCKET)

    async def admit(self, user_id: int) -> Verdict:
        """Take a token for ``user_id``: PASS, or WARN the first time over, then DROP."""
        try:
            verdict = await self._take(
                keys=[f"{self._prefix}flood:{user_id}"], args=[self._rate, self._burst]
            )
        except (RedisError, OSError):
            return Verdict.PASS
        return Verdict(verdict)


class ReloadChannel:
    """Knowledge reloads reach every replica: one that reloads (``/reload``, SIGHUP) publishes
    on a Redis channel, and every other replica reloads too (each validates the knowledge
    base itself before switching). Listening survives Redis restarts."""

    def __init__(self, client: redis.Redis, prefix: str, replica: str) -> None:
        self._client = client
        self._channel = f"{prefix}reload"
        self._replica = replica
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()

    async def announce(self) -> None:
        """Ask the other replicas to reload (best effort: a warning if Redis fails)."""
        try:
            await self._client.publish(self._channel, json.dumps({"from": self._replica}))
        except (RedisError, OSError) as exc:
            logger.warning("could not ask the other replicas to reload: %s", exc)

    def start(self, on_reload: Callable[[], object]) -> None:
        """Call ``on_reload`` whenever another replica announces a reload."""
        self._task = asyncio.create_task(self._listen(on_reload), name="fitbot:reload-channel")

    async def stop(self) -> None:
        """Stop listening."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _listen(self, on_reload: Callable[[], object]) -> None:
        delay = RELOAD_RETRY_FIRST
        while True:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    self.listening.set()
                    delay = RELOAD_RETRY_FIRST
                    async for message in pubsub.listen():
                        if message.get("type") == "message" and self._from_other(message):
                            logger.info("another replica reloaded the knowledge base; reloading")
                            on_reload()
            except (RedisError, OSError) as exc:
                self.listening.clear()
                logger.warning("reload channel lost (%s); listening again in %.0f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(RELOAD_RETRY_CAP, delay * 2)

    def _from_other(self, message: dict[str, Any]) -> bool:
        try:
            sender = json.loads(message.get("data") or "{}").get("from")
        except (ValueError, AttributeError):
            return True
        return bool(sender != self._replica)


def _chat_id(chat: object) -> int | None:
    """A chat id as sent (an int, or digits in a string); a ``@channel`` name counts as a
    group's."""
    if isinstance(chat, bool) or chat is None:
        return None
    if isinstance(chat, int):
        return chat
    try:
        return int(str(chat))
    except ValueError:
        return -1 - zlib.crc32(str(chat).encode())
