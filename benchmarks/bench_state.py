"""The state store's CPU per reply: what the inbox, the outbox and the context cost.

    python -m benchmarks.bench_state [--replies 20000] [--bot-src DIR]

Replays, against a fresh state file, the store calls one reply makes in the running bot, 200
chats taking turns, updates arriving in batches of 20 as getUpdates returns them:

* this version: ``receive`` (the batch, one transaction), ``load`` (the chat's context, cached),
  then, the reply delivered at the first try (the common case, which keeps no outbox row),
  ``commit_reply`` of the new context and "handled" (one transaction); with ``--outbox`` every
  reply takes the path of one that failed at first: ``commit_reply`` with the reply, then
  ``delivered`` (the row deleted once Telegram has it);
* a version without inbox and outbox (``--bot-src`` pointing at an older checkout): ``load`` and
  ``save``.

Every 20th reply also records an unanswered question, as a decline would. The figure is this
process's CPU time per reply, the median of five runs.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks import Result, format_table

CHATS = 200
BATCH = 20
RUNS = 5
REPLY = "<b>Reverse squat: steps</b>\n1. Lie on your back.\n2. Pull your knees in." * 4
MARKUP = '{"inline_keyboard":[[{"text":"Form checklist","callback_data":"s|reverse-squat|c"}]]}'


def _store_module(source: Path | None) -> Any:
    if source is not None:
        sys.path.insert(0, str(source))
        for name in [n for n in sys.modules if n == "bot" or n.startswith("bot.")]:
            del sys.modules[name]
    for name in ("bot.store", "bot.state.store"):  # an older checkout first: its own module
        try:
            return importlib.import_module(name)
        except ImportError:
            continue
    raise ImportError("no state store module found")


async def _value(result: Any) -> Any:
    """``result``, awaited if it is awaitable: the store is async since issue 10, and an older
    checkout's is not."""
    return await result if inspect.isawaitable(result) else result


async def _replay(module: Any, replies: int, outbox: bool) -> float:
    from bot.context import Context

    contexts = [Context(exercises=("reverse-squat",), intent=i) for i in ("steps", "mistakes")]
    with tempfile.TemporaryDirectory() as tmp:
        store = getattr(module, "SqliteStore", None) or module.Store
        store = store(Path(tmp) / "state.sqlite3")
        durable = hasattr(store, "commit_reply")
        started = time.process_time()
        for first in range(0, replies, BATCH):
            ids = range(first + 1, first + BATCH + 1)
            if durable:
                await _value(
                    store.receive([(i, f'{{"update_id":{i},"message":{{}}}}') for i in ids])
                )
            for update_id in ids:
                chat = update_id % CHATS
                context = contexts[update_id // CHATS % 2]
                await _value(store.load(chat))
                if durable and outbox:
                    message = module.Outgoing(chat, REPLY, "HTML", None, None, MARKUP)
                    (pending,) = await _value(
                        store.commit_reply(update_id, chat, context, [message])
                    )
                    await _value(store.delivered(pending.row))
                elif durable:
                    await _value(store.commit_reply(update_id, chat, context, ()))
                else:
                    await _value(store.save(chat, context))
                if update_id % 20 == 0:
                    await _value(
                        store.record_unanswered(
                            module.UnansweredQuestion("how many calories", time.time(), False, 0.0)
                        )
                    )
        elapsed = time.process_time() - started
        await _value(store.close())
    return elapsed / replies


def run(
    quick: bool = False,
    replies: int = 20_000,
    source: Path | None = None,
    outbox: bool = False,
) -> list[Result]:
    """One row: CPU microseconds per reply (in the notes) and replies per CPU second."""
    module = _store_module(source)
    count = 2_000 if quick else replies
    seconds = statistics.median(asyncio.run(_replay(module, count, outbox)) for _ in range(RUNS))
    if not hasattr(module, "Outgoing"):
        label = "context only"
    else:
        label = "inbox + outbox + context" if outbox else "inbox + context, sent at once"
    return [
        Result(
            benchmark="state",
            scenario=f"{label} ({source or 'this checkout'})",
            per_second=1 / seconds,
            notes=f"{seconds * 1e6:.1f} us CPU per reply, median of {RUNS} x {count} replies",
        )
    ]


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replies", type=int, default=20_000)
    parser.add_argument("--bot-src", type=Path, help="measure another checkout's store")
    parser.add_argument("--outbox", action="store_true", help="every reply through the outbox")
    args = parser.parse_args(argv)
    print(format_table(run(replies=args.replies, source=args.bot_src, outbox=args.outbox)))


if __name__ == "__main__":
    main()
