"""Webhook replicas in tests and benchmarks: Telegram's webhook delivery, a round-robin balancer,
and ``fitbot run`` processes sharing a Redis.

:class:`TelegramWebhook` delivers updates as Telegram does: one update in flight per chat (the
next one only after a 200), and an update that was not answered 200 sent again after a pause.
:class:`Balancer` spreads the requests over the replicas in turn, like a reverse proxy with
round robin, and says 502 for a replica it cannot reach. Everything stays on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sys
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.fake_bot_api import FakeBotApi
from tests.harness import free_port

SECRET = "replica-secret"
HOOK_PATH = "/hook"
REDELIVER_SECONDS = 0.2
REQUEST_TIMEOUT = 60.0
START_TIMEOUT = 60.0


class Balancer:
    """A round-robin reverse proxy on 127.0.0.1: each request to the next replica in turn."""

    def __init__(self, ports: list[int]) -> None:
        self.ports = ports
        self.port = free_port()
        self.served: list[int] = []  # the replica (index) each request went to
        self._next = itertools.cycle(range(len(ports)))
        self._runner: web.AppRunner | None = None
        self._client: aiohttp.ClientSession | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}"

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=0),
        )
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._forward)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", self.port, backlog=1024).start()

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._client is not None:
            await self._client.close()

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._client is not None
        replica = next(self._next)
        self.served.append(replica)
        body = await request.read()
        headers = {k: v for k, v in request.headers.items() if k.lower().startswith("x-telegram")}
        headers["Content-Type"] = request.headers.get("Content-Type", "application/json")
        url = f"http://127.0.0.1:{self.ports[replica]}{request.path}"
        try:
            async with self._client.post(url, data=body, headers=headers) as answer:
                return web.Response(status=answer.status, body=await answer.read())
        except (TimeoutError, aiohttp.ClientError):
            return web.Response(status=502)


@dataclass
class _Chat:
    queue: deque[dict[str, Any]] = field(default_factory=deque)
    busy: bool = False


class TelegramWebhook:
    """Telegram's side of a webhook: per chat one update in flight, each redelivered until it
    is answered 200 (every :data:`REDELIVER_SECONDS`, for at most ``give_up_after`` s)."""

    def __init__(self, url: str, *, give_up_after: float = 60.0) -> None:
        self.url = url
        self.give_up_after = give_up_after
        self.statuses: defaultdict[int, int] = defaultdict(int)  # HTTP status (0: no answer)
        self.acknowledged = 0
        self.on_acknowledged: Callable[[dict[str, Any]], None] | None = None
        self._ids = itertools.count(500_000_001)
        self._chats: defaultdict[int, _Chat] = defaultdict(_Chat)
        self._tasks: set[asyncio.Task[None]] = set()
        self._client: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._client = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(limit=0),
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._client is not None:
            await self._client.close()

    def send(self, chat_id: int, update: dict[str, Any]) -> int:
        """Queue ``update`` (an update_id is given) for the chat; return its update_id."""
        update = {"update_id": next(self._ids), **update}
        chat = self._chats[chat_id]
        chat.queue.append(update)
        if not chat.busy:
            chat.busy = True
            task = asyncio.create_task(self._deliver(chat))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return int(update["update_id"])

    @property
    def pending(self) -> int:
        """Updates not acknowledged yet."""
        return sum(len(chat.queue) for chat in self._chats.values())

    async def _deliver(self, chat: _Chat) -> None:
        assert self._client is not None
        headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
        try:
            while chat.queue:
                update = chat.queue[0]
                deadline = asyncio.get_running_loop().time() + self.give_up_after
                while True:
                    status = 0
                    with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError):
                        async with self._client.post(self.url, json=update, headers=headers) as r:
                            await r.read()
                            status = r.status
                    self.statuses[status] += 1
                    if status == 200 or asyncio.get_running_loop().time() > deadline:
                        break
                    await asyncio.sleep(REDELIVER_SECONDS)
                chat.queue.popleft()
                self.acknowledged += status == 200
                if self.on_acknowledged is not None:
                    self.on_acknowledged(update)
        finally:
            chat.busy = False


def replica_env(api: FakeBotApi, redis_url: str, balancer: Balancer, port: int) -> dict[str, str]:
    """The environment of one replica: webhook mode behind ``balancer``, state in Redis."""
    return {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": api.token,
        "TELEGRAM_BASE_URL": api.base_url,
        "FITBOT_STATE": redis_url,
        "FITBOT_WEBHOOK_URL": balancer.url,
        "FITBOT_WEBHOOK_LISTEN": "127.0.0.1",
        "FITBOT_WEBHOOK_PORT": str(port),
        "FITBOT_WEBHOOK_SECRET": SECRET,
        "PYTHONUNBUFFERED": "1",
    }


def command() -> list[str]:
    """``fitbot run`` as installed beside this Python, else as a module."""
    script = Path(sys.executable).with_name("fitbot")
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]


@asynccontextmanager
async def replica_processes(
    api: FakeBotApi,
    redis_url: str,
    directory: Path,
    count: int = 2,
    cwd: Path | None = None,
    **env: str,
) -> AsyncIterator[tuple[Balancer, list[asyncio.subprocess.Process]]]:
    """``count`` replicas of ``fitbot run`` behind a started :class:`Balancer`, each logging
    to ``replica-N.log`` in ``directory``; healthy when the block starts, stopped (SIGTERM,
    then SIGKILL) when it ends."""
    ports = [free_port() for _ in range(count)]
    balancer = Balancer(ports)
    await balancer.start()
    processes: list[asyncio.subprocess.Process] = []
    logs = [(directory / f"replica-{n}.log").open("ab") for n in range(count)]
    try:
        for n, port in enumerate(ports):
            processes.append(
                await asyncio.create_subprocess_exec(
                    *command(),
                    env={**replica_env(api, redis_url, balancer, port), **env},
                    cwd=cwd,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=logs[n],
                    stderr=logs[n],
                )
            )
        for port, process in zip(ports, processes, strict=True):
            await wait_healthy(port, process, directory)
        yield balancer, processes
    finally:
        for process in processes:
            if process.returncode is None:
                process.terminate()
        for process in processes:
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        for log in logs:
            log.close()
        await balancer.stop()


async def healthz(port: int) -> tuple[int, dict[str, Any]]:
    """``GET /healthz`` of the replica on ``port``: (status, body); (0, {}) if it is down."""
    timeout = aiohttp.ClientTimeout(total=5)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as http,
            http.get(f"http://127.0.0.1:{port}/healthz") as response,
        ):
            return response.status, await response.json()
    except (TimeoutError, aiohttp.ClientError):
        return 0, {}


async def wait_healthy(port: int, process: asyncio.subprocess.Process, directory: Path) -> None:
    """Wait until the replica on ``port`` answers ``/healthz`` 200."""
    deadline = asyncio.get_running_loop().time() + START_TIMEOUT
    while (await healthz(port))[0] != 200:
        if process.returncode is not None or asyncio.get_running_loop().time() > deadline:
            logs = "\n".join(
                p.read_text(errors="replace")[-3000:] for p in directory.glob("replica-*.log")
            )
            raise AssertionError(f"replica on port {port} did not become healthy:\n{logs}")
        await asyncio.sleep(0.1)
