"""Headless Chromium for tests: open a local page and evaluate JavaScript in it.

Chromium runs with a throwaway profile, its DevTools endpoint on 127.0.0.1, and every network
request sent to a dead proxy on loopback, so nothing leaves the machine; the page's own requests
are recorded (a self-contained page makes none but its own file). Every step is bounded.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import pytest

BROWSER_NAMES = ("chromium", "chromium-browser")
START_TIMEOUT = 30.0
STEP_TIMEOUT = 20.0
FLAGS = (
    "--headless=new",
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-default-apps",
    "--disable-sync",
    "--disable-domain-reliability",
    "--metrics-recording-only",
    "--proxy-server=http://127.0.0.1:9",
    "--proxy-bypass-list=<-loopback>",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
    "--window-size=1000,1400",
)
LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


def chromium_or_skip() -> str:
    """The Chromium executable; skips the test when there is none, except in CI (``CI=true``),
    where a missing browser is a failure."""
    for name in BROWSER_NAMES:
        found = shutil.which(name)
        if found:
            return found
    message = (
        "headless Chromium is not installed (Debian: apt-get install chromium); "
        "the HTML report's browser test needs it"
    )
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(message)
    pytest.skip(message)


class Page:
    """One browser tab, driven over the DevTools protocol."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = iter(range(1, 1_000_000))
        self.requests: list[str] = []

    async def call(self, method: str, **params: Any) -> dict[str, Any]:
        """Send one command and wait for its result (events met meanwhile are noted)."""
        number = next(self._ids)
        await self._socket.send_json({"id": number, "method": method, "params": params})
        while True:
            message = await self._next()
            if message.get("id") == number:
                if "error" in message:
                    raise AssertionError(f"{method}: {message['error']}")
                result: dict[str, Any] = message.get("result", {})
                return result

    async def open(self, path: Path) -> None:
        """Load ``path`` and wait for its load event."""
        await self.call("Network.enable")
        await self.call("Page.enable")
        await self.call("Page.navigate", url=path.resolve().as_uri())
        while (await self._next()).get("method") != "Page.loadEventFired":
            pass

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (returned by value, so JSON-like)."""
        result = await self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise AssertionError(f"JavaScript failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def _next(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self._socket.receive_json(), STEP_TIMEOUT)
        assert isinstance(message, dict)
        if message.get("method") == "Network.requestWillBeSent":
            self.requests.append(message["params"]["request"]["url"])
        return message


@asynccontextmanager
async def browser_page(executable: str) -> AsyncIterator[Page]:
    """A fresh headless Chromium with one blank tab, closed (and killed if need be) after."""
    with tempfile.TemporaryDirectory(prefix="fitbot-chromium-") as profile:
        process = await asyncio.create_subprocess_exec(
            executable,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )
        drain: list[asyncio.Task[None]] = []
        try:
            port = await asyncio.wait_for(_devtools_port(process, drain), START_TIMEOUT)
            async with aiohttp.ClientSession() as session:
                async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                    targets = await response.json()
                page = next(t for t in targets if t.get("type") == "page")
                async with session.ws_connect(
                    page["webSocketDebuggerUrl"], max_msg_size=0
                ) as socket:
                    yield Page(socket)
        finally:
            if process.returncode is None:
                process.kill()
            await asyncio.wait_for(process.wait(), STEP_TIMEOUT)
            for task in drain:
                await asyncio.wait_for(task, STEP_TIMEOUT)  # ends at the pipe's end


async def _devtools_port(
    process: asyncio.subprocess.Process, drain: list[asyncio.Task[None]]
) -> int:
    assert process.stderr is not None
    seen: list[str] = []
    while True:
        line = (await process.stderr.readline()).decode(errors="replace")
        if not line:
            raise AssertionError("Chromium exited before DevTools listened:\n" + "".join(seen))
        seen.append(line)
        found = LISTENING.search(line)
        if found:
            # Keep draining stderr so Chromium never blocks on a full pipe.
            drain.append(asyncio.get_running_loop().create_task(_drain(process.stderr)))
            return int(found.group(2))


async def _drain(stream: asyncio.StreamReader) -> None:
    while await stream.read(65536):
        pass


def as_json(value: Any) -> Any:
    """``JSON.stringify``'d results back to Python."""
    return json.loads(value) if isinstance(value, str) else value
