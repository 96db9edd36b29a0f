"""What replicas share besides the store, against a real Redis: Telegram's send limits (a
``BaseRateLimiter``), per-user flood control, and settings that name a Redis.

The limiter is given a ``sleep`` that records instead of waiting, so the schedule it computes is
checked, not the speed of anything.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from datetime import timedelta
from typing import Any

import pytest
import redis.asyncio as redis
from telegram.error import RetryAfter

from bot.errors import ConfigError
from bot.settings import Settings
from bot.state.redis_store import client_for
from bot.telegram.handlers import Verdict
from bot.telegram.replicas import RedisFloodGate, RedisRateLimiter
from tests.redis_server import RedisServer

SLACK = 0.25  # seconds the test itself may take between two reservations


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.Redis]:
    connection = client_for(redis_server.url)
    yield connection
    await connection.aclose()


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """RetryAfter in PTB 23's form, as the bot opts in to it."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def prefix() -> str:
    return f"test-{secrets.token_hex(4)}:"


class Clock:
    """Virtual time for limiters: ``sleep`` records the wait and moves the clock on, and the
    limiters read Redis's clock plus what was slept."""

    def __init__(self) -> None:
        self.waits: list[float] = []
        self.elapsed = 0.0

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.elapsed += seconds

    def limiter(self, client: redis.Redis, prefix: str) -> RedisRateLimiter:
        return RedisRateLimiter(
            client, prefix, sleep=self.sleep, clock_offset=lambda: self.elapsed
        )


async def sent(limiter: RedisRateLimiter, chat: int | str, endpoint: str = "sendMessage") -> Any:
    async def call() -> bool:
        return True

    return await limiter.process_request(call, (), {}, endpoint, {"chat_id": chat}, None)


async def test_one_chats_messages_go_a_second_apart_whichever_replica_sends(
    client: redis.Redis, prefix: str
) -> None:
    clock = Clock()
    replicas = [clock.limiter(client, prefix) for _ in range(2)]
    for n in range(6):
        await sent(replicas[n % 2], 42)

    # A burst of three, then one a second.
    assert clock.elapsed == pytest.approx(3.0, abs=SLACK)
    before = clock.elapsed
    await sent(replicas[0], 43)  # another chat is not held up by it
    assert clock.elapsed == before


async def test_everyone_gets_thirty_a_second_and_a_group_twenty_a_minute(
    client: redis.Redis, prefix: str
) -> None:
    clock = Clock()
    limiter = clock.limiter(client, prefix)
    started = time.monotonic()
    for n in range(61):
        await sent(limiter, 1000 + n)  # sixty-one private chats at once
    # Thirty at once, then one per 1/30 s: the 61st goes a second after the first. Redis's
    # clock runs on meanwhile, so what was slept and what passed add up to it.
    spent = clock.elapsed + time.monotonic() - started
    assert clock.waits and spent >= 1.0 - 0.05 and clock.elapsed <= 1.0 + 0.05

    private, group = Clock(), Clock()
    for _ in range(40):
        await sent(private.limiter(client, f"{prefix}p:"), 77)
        await sent(group.limiter(client, f"{prefix}g:"), -100200300)
    assert private.elapsed == pytest.approx(37, abs=SLACK)  # three at once, then 1/s
    assert group.elapsed == pytest.approx(60, abs=SLACK)  # twenty at once, then one per 3 s


async def test_a_429_pauses_every_replica_and_the_request_is_sent_again(
    client: redis.Redis, prefix: str
) -> None:
    clock = Clock()
    first, second = (clock.limiter(client, prefix) for _ in range(2))
    during_the_pause: list[float] = []
    answers: list[Any] = [RetryAfter(timedelta(seconds=5)), True]

    async def call() -> Any:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def sleep(seconds: float) -> None:
        during_the_pause.append(await second.admit(2))  # another replica, another chat
        await clock.sleep(seconds)

    first._sleep = sleep
    assert await first.process_request(call, (), {}, "sendMessage", {"chat_id": 1}, None)
    assert clock.waits == [pytest.approx(5.1)]
    assert during_the_pause == [pytest.approx(5.1, abs=SLACK)]
    assert await second.admit(2) == 0  # over once the wait is


async def test_the_typing_indicator_is_not_throttled(client: redis.Redis, prefix: str) -> None:
    clock = Clock()
    limiter = clock.limiter(client, prefix)
    for _ in range(10):
        await sent(limiter, 7, endpoint="sendChatAction")
    assert clock.waits == []


async def test_flood_buckets_are_shared_by_replicas(client: redis.Redis, prefix: str) -> None:
    gates = [RedisFloodGate(client, prefix, rate=0.01, burst=3) for _ in range(2)]
    verdicts = [await gates[n % 2].admit(5) for n in range(6)]

    assert verdicts == [Verdict.PASS] * 3 + [Verdict.WARN, Verdict.DROP, Verdict.DROP]
    assert await gates[1].admit(6) is Verdict.PASS  # other users are not affected


# -- settings --------------------------------------------------------------------------------


def test_a_redis_url_selects_redis_and_its_password_stays_secret() -> None:
    settings = Settings.from_env(env={"FITBOT_STATE": "rediss://:s3cret@cache.internal:6380/2"})

    assert settings.state_url is not None
    assert settings.state_location == "rediss://cache.internal:6380/2"
    assert "s3cret" in settings.secrets
    assert "s3cret" not in repr(settings)
    assert Settings.from_env(env={"FITBOT_STATE": "/data/s.sqlite3"}).state_url is None


@pytest.mark.parametrize(
    "url", ["redis://:hunter2@/0", "redis://:hunter2@host/db", "redis://:hunter2@host:99999/0"]
)
def test_a_malformed_redis_url_is_named_without_its_password(url: str) -> None:
    with pytest.raises(ConfigError, match="FITBOT_STATE must be") as error:
        Settings.from_env(env={"FITBOT_STATE": url})
    assert "hunter2" not in str(error.value)
