"""Clocks for tests (:class:`bot.clock.Clock`): time that passes only when a test says so, or
that jumps ahead whenever the bot waits. Neither makes a test wait for a backoff."""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time

START = 1_000.0
WALL_START = 1_700_000_000.0
# A real pause long enough for loopback HTTP and the bot's tasks to move between two steps.
REAL_STEP_SECONDS = 0.01


class FakeClock:
    """Virtual time that moves only in :meth:`advance`; sleepers wake as it passes their
    deadlines, in order."""

    def __init__(self) -> None:
        self.now = START
        self._sleepers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    def monotonic(self) -> float:
        return self.now

    def time(self) -> float:
        return WALL_START + self.now

    async def sleep(self, seconds: float) -> None:
        if seconds <= 0:
            await asyncio.sleep(0)
            return
        waiter = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + seconds, next(self._order), waiter))
        await waiter

    @property
    def sleeping(self) -> int:
        """Sleepers still waiting."""
        return sum(1 for _, _, waiter in self._sleepers if not waiter.done())

    async def advance(self, seconds: float, *, step: float = 1.0) -> None:
        """Move time ``seconds`` forward in steps of ``step``, letting the loop (and loopback
        HTTP) run for a moment after each."""
        end = self.now + seconds
        while self.now < end:
            self.now = min(end, self.now + step)
            while self._sleepers and self._sleepers[0][0] <= self.now:
                _, _, waiter = heapq.heappop(self._sleepers)
                if not waiter.done():
                    waiter.set_result(None)
            await asyncio.sleep(REAL_STEP_SECONDS)


class HastyClock:
    """Real time, except that every wait of the bot is over after a millisecond and moves the
    clock on by what it asked for: backoffs cost nothing."""

    def __init__(self) -> None:
        self.skipped = 0.0

    def monotonic(self) -> float:
        return START + self.skipped + time.monotonic()

    def time(self) -> float:
        return WALL_START + self.monotonic()

    async def sleep(self, seconds: float) -> None:
        self.skipped += max(0.0, seconds)
        await asyncio.sleep(0.001)
