"""Time as the bot reads and waits for it, injectable so tests need not wait.

:class:`Clock` is the seam: the poller's and the outbox's backoff, the age of an undelivered
reply and the health check's "how long since updates were received" all read and sleep through
one, so a test can run a 30-second outage on a clock it advances itself.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Clock(Protocol):
    """What the bot needs of time."""

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (for intervals)."""

    def time(self) -> float:
        """Unix time (for ages kept across restarts)."""

    async def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clock: :func:`time.monotonic`, :func:`time.time`, :func:`asyncio.sleep`."""

    def monotonic(self) -> float:
        """:func:`time.monotonic`."""
        return time.monotonic()

    def time(self) -> float:
        """:func:`time.time`."""
        return time.time()

    async def sleep(self, seconds: float) -> None:
        """:func:`asyncio.sleep`."""
        await asyncio.sleep(seconds)


SYSTEM_CLOCK = SystemClock()
