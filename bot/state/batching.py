"""Redis scripts called by many updates at once, sent together: one write, one round trip.

Each update under way calls a few Lua scripts (keep it, take its chat's turn, commit its reply,
let the turn go), each its own command. With hundreds of chats answered at once, many of those
calls are made in the same turn of the event loop; :class:`ScriptBatcher` collects the calls of
one turn of the loop and sends them as one pipeline (not a transaction: each script is atomic on
its own, as when sent alone), so the replica and Redis handle one read and one write for all of
them instead of one each. A call alone is sent as before.

Scripts go in the pipeline as ``EVALSHA``; redis-py's pipeline would first ask ``SCRIPT
EXISTS`` on every execute, a round trip of its own. A script Redis does not know (after a
restart) is sent again alone through :class:`~redis.commands.core.AsyncScript`, which loads it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import redis.asyncio as redis
from redis.commands.core import AsyncScript
from redis.exceptions import NoScriptError

MAX_BATCH = 256  # calls in one pipeline; more wait for the next one

_Call = tuple[AsyncScript, Sequence[Any], Sequence[Any], "asyncio.Future[Any]"]


class ScriptBatcher:
    """Calls of registered scripts, sent together with the others of the same loop turn."""

    def __init__(self, client: redis.Redis) -> None:
        self._client = client
        self._queue: list[_Call] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def call(self, script: AsyncScript, keys: Sequence[Any], args: Sequence[Any]) -> Any:
        """What ``script(keys=keys, args=args)`` returns (or raises), sent with the calls made
        in the same turn of the loop."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        if not self._queue:
            loop.call_soon(self._flush)
        self._queue.append((script, keys, args, future))
        return await future

    def _flush(self) -> None:
        queue, self._queue = self._queue, []
        for start in range(0, len(queue), MAX_BATCH):
            task = asyncio.create_task(self._send(queue[start : start + MAX_BATCH]))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _send(self, calls: list[_Call]) -> None:
        if len(calls) == 1:
            await _alone(calls[0])
            return
        try:
            async with self._client.pipeline(transaction=False) as pipe:
                for script, keys, args, _ in calls:
                    pipe.evalsha(script.sha, len(keys), *keys, *args)
                results = await pipe.execute(raise_on_error=False)
        except BaseException as exc:  # the connection failed (after retries), or cancelled
            for *_, future in calls:
                _fail(future, exc)
            if not isinstance(exc, Exception):
                raise
            return
        for call, result in zip(calls, results, strict=True):
            if isinstance(result, NoScriptError):
                await _alone(call)  # Redis restarted: the script loads itself
            elif isinstance(result, BaseException):
                _fail(call[3], result)
            elif not call[3].done():
                call[3].set_result(result)


async def _alone(call: _Call) -> None:
    script, keys, args, future = call
    try:
        result = await script(keys=keys, args=args)
    except BaseException as exc:
        _fail(future, exc)
        if not isinstance(exc, Exception):
            raise
        return
    if not future.done():
        future.set_result(result)


def _fail(future: asyncio.Future[Any], exc: BaseException) -> None:
    if not future.done():
        if isinstance(exc, asyncio.CancelledError):
            future.cancel()
        else:
            future.set_exception(exc)
