"""Script calls of one loop turn go to Redis together, and each gets its own answer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as redis
from redis.exceptions import ResponseError

from bot.state.batching import ScriptBatcher
from tests.redis_server import RedisServer

INCR = "return redis.call('INCRBY', KEYS[1], ARGV[1])"
FAIL = "return redis.error_reply('no: ' .. ARGV[1])"
KEY = "test-batching:n"


@pytest.fixture
async def client(redis_server: RedisServer) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    await client.delete(KEY)
    yield client
    await client.delete(KEY)
    await client.aclose()


async def test_calls_of_one_loop_turn_share_a_round_trip(
    client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    batcher = ScriptBatcher(client)
    incr = client.register_script(INCR)
    await incr(keys=[KEY], args=[0])  # loaded
    executed: list[int] = []
    real = redis.client.Pipeline.execute

    async def counting(self: redis.client.Pipeline, raise_on_error: bool = True) -> object:
        executed.append(len(self.command_stack))
        return await real(self, raise_on_error)

    monkeypatch.setattr(redis.client.Pipeline, "execute", counting)

    results = await asyncio.gather(*(batcher.call(incr, [KEY], [1]) for _ in range(10)))

    assert sorted(results) == list(range(1, 11))
    assert executed == [10]
    assert await batcher.call(incr, [KEY], [5]) == 15  # alone: no pipeline
    assert executed == [10]


async def test_an_error_is_the_failing_calls_own(client: redis.Redis) -> None:
    batcher = ScriptBatcher(client)
    incr, fail = client.register_script(INCR), client.register_script(FAIL)

    results = await asyncio.gather(
        batcher.call(incr, [KEY], [1]),
        batcher.call(fail, [], ["x"]),
        batcher.call(incr, [KEY], [1]),
        return_exceptions=True,
    )

    assert results[0] == 1 and results[2] == 2
    assert isinstance(results[1], ResponseError) and "no: x" in str(results[1])


async def test_a_script_redis_forgot_is_loaded_again(client: redis.Redis) -> None:
    batcher = ScriptBatcher(client)
    incr = client.register_script(INCR)
    await incr(keys=[KEY], args=[1])
    await client.script_flush()  # as after a restart without the scripts

    results = await asyncio.gather(*(batcher.call(incr, [KEY], [1]) for _ in range(3)))

    assert sorted(results) == [2, 3, 4]


async def test_a_redis_that_is_gone_fails_every_call(redis_server: RedisServer) -> None:
    client = redis.Redis(port=1, socket_connect_timeout=0.2)  # nothing listens there
    batcher = ScriptBatcher(client)
    incr = client.register_script(INCR)

    results = await asyncio.gather(
        *(batcher.call(incr, [KEY], [1]) for _ in range(3)), return_exceptions=True
    )

    assert all(isinstance(result, redis.ConnectionError) for result in results)
    await client.aclose()
