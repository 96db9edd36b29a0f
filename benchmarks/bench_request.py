"""The Bot API client's own CPU per call: AiohttpRequest beside PTB's default HTTPXRequest.

    python -m benchmarks.bench_request [--calls 3000]

The fake Bot API runs in its own process on 127.0.0.1, so only the client's side is measured:
this process's CPU time per ``send_message`` (a reply with a six-button keyboard, PTB's whole
call path, parsing the returned Message included), one call at a time and 32 at a time over
kept-alive connections, after a warm-up. Each client runs three times, interleaved; the median
is shown.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence

from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.request import BaseRequest, HTTPXRequest

from benchmarks import Result, format_table
from bot.telegram.request import AiohttpRequest

SERVER = """\
import asyncio, sys
from tests.fake_bot_api import FakeBotApi

async def main():
    api = FakeBotApi()
    await api.start()
    print(api.base_url, api.token, flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await api.stop()

asyncio.run(main())
"""
CONCURRENCY = (1, 32)
WARMUP_CALLS = 320
RUNS = 3
KEYBOARD = InlineKeyboardMarkup(
    [
        [InlineKeyboardButton(f"Section {row}{col}", callback_data=f"s|record|s{row}{col}")]
        for row in range(2)
        for col in range(3)
    ]
)
CLIENTS: dict[str, Callable[[int], BaseRequest]] = {
    "AiohttpRequest": AiohttpRequest,
    "HTTPXRequest (PTB default)": lambda pool: HTTPXRequest(connection_pool_size=pool),
}


async def _cpu_per_call(
    base_url: str, token: str, make: Callable[[int], BaseRequest], calls: int, concurrency: int
) -> float:
    bot = Bot(token, base_url=base_url, request=make(concurrency), get_updates_request=make(1))
    async with bot:

        async def send(count: int) -> None:
            for n in range(count):
                await bot.send_message(1 + n % 50, "<b>A reply</b>\n1. a step", parse_mode="HTML",
                                       reply_markup=KEYBOARD)  # fmt: skip

        await asyncio.gather(*(send(WARMUP_CALLS // concurrency) for _ in range(concurrency)))
        started = time.process_time()
        await asyncio.gather(*(send(calls // concurrency) for _ in range(concurrency)))
        return (time.process_time() - started) / (calls // concurrency * concurrency)


async def _measure(calls: int) -> dict[tuple[str, int], float]:
    server = subprocess.Popen(
        [sys.executable, "-c", SERVER], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        base_url, token = server.stdout.readline().split()
        samples: dict[tuple[str, int], list[float]] = {
            (name, c): [] for c in CONCURRENCY for name in CLIENTS
        }
        for _ in range(RUNS):
            for name, concurrency in samples:
                cpu = await _cpu_per_call(base_url, token, CLIENTS[name], calls, concurrency)
                samples[name, concurrency].append(cpu)
        return {key: statistics.median(values) for key, values in samples.items()}
    finally:
        server.communicate("", timeout=10)


def run(quick: bool = False, calls: int = 3000) -> list[Result]:
    """One row per client: CPU microseconds per call (in the notes) and calls per CPU second."""
    medians = asyncio.run(_measure(1000 if quick else calls))
    return [
        Result(
            benchmark="request",
            scenario=f"{name}, {concurrency} at a time",
            per_second=1 / seconds,
            notes=f"{seconds * 1e6:.0f} us CPU per send_message (client side, median of {RUNS})",
        )
        for (name, concurrency), seconds in medians.items()
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=3000)
    args = parser.parse_args(argv)
    print(format_table(run(calls=args.calls)))


if __name__ == "__main__":
    main()
