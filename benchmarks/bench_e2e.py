"""End to end: the real bot against the tests' fake Bot API on loopback, beside PTB's echo bot.

    python -m benchmarks.bench_e2e [--quick] [--json] [--runs 3]

Each scenario starts the bot as its own process, the way it is deployed: ``fitbot run`` with
``TELEGRAM_BASE_URL`` pointing at a :class:`tests.fake_bot_api.FakeBotApi` on 127.0.0.1, the
rate limiter and the flood gate off (``FITBOT_RATE_LIMIT=0``, ``FITBOT_FLOOD_RATE=0``), a fresh
state file and the default log level. Beside it, in the same run and on the same fake server,
python-telegram-bot's minimal echo bot with default settings (:data:`ECHO_BOT`), which is what a
Telegram bot costs before it does anything.

The fake server and the simulated users share this (harness) process: on a 2-core machine the
bot gets one core and the harness the other, so the harness is not measured with the bot. Its
CPU share is reported; near 100 % it, not the bot, would be the limit.

Load: :data:`CHATS` private chats, closed loop: each chat sends its next turn the moment the
reply to its previous one reaches the server. A turn is one message, or two sent together (a
question and its follow-up), whose replies must come in order. The chats cycle through
:data:`CONVERSATIONS` (questions the knowledge base covers, follow-ups that need context,
stated situations, commands, questions it must decline), each chat from its own starting point.
The bot memoises answers to identical (question, context) pairs, so every fitbot scenario runs
twice: with the mix as written ("repeated") and with every free-text question made unique by
the chat's own capitalisation ("distinct"; the engine answers both alike, the memo never hits).

Per scenario, after a warm-up, during a fixed window:

* replies/s: sendMessage calls that reached the server;
* p50/p99 latency: from the moment a message is available to getUpdates to its reply reaching
  the server (the reply's own Bot API latency comes after);
* peak RSS of the bot process (VmHWM), its CPU share, the harness's and everyone else's;
* after the window no new turns start; replies still missing after a drain period are lost;
* order: every chat's replies are checked against the engine's own answers to that chat's
  messages in the order sent (for the echo bot, the messages themselves): a reply that belongs
  to a later message is an order violation, one that matches nothing is wrong.

Everything runs on loopback; every process started is stopped (SIGTERM, then SIGKILL).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import json
import os
import random
import signal
import statistics
import sys
import tempfile
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from benchmarks import Result, format_table
from bot.context import Context
from bot.engine import Engine
from bot.knowledge import default_knowledge_dir, load_knowledge
from bot.telegram_render import render_html
from tests.fake_bot_api import FakeBotApi

REPO = Path(__file__).resolve().parents[1]
CHATS = 200
LATENCIES_MS = (0, 50)
# Goals (issue 9, with the inbox and outbox writes), checked on every fitbot row, whatever the
# mix: at 0 ms this many times the echo bot's replies/s, at 50 ms an absolute rate and p99.
GOAL_0MS_VS_ECHO = 2.5
GOAL_50MS_PER_S = 800
GOAL_50MS_P99_MS = 500
STARTUP_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 20.0
MAX_CHATS = 2000
MAX_WINDOW_S = 300.0

# A conversation is a sequence of turns; a turn's messages are sent together.
Turn = tuple[str, ...]
CONVERSATIONS: tuple[tuple[Turn, ...], ...] = (
    (("/start",), ("how do I do a reverse squat?",), ("what are the common mistakes?",)),
    (
        ("what muscles does the negative squat work",),
        ("how many reps",),
        ("how slow should I lower",),
    ),
    (("form checklist for the hip hinge",), ("what can I do instead", "I have back pain")),
    (("common mistakes with kettlebell swings",), ("kettelbell swing form",)),
    (("is the deadlift safe if my back hurts",),),
    (("how do I do a bench press",),),
    (("what can I do instead of back squats at home",), ("any cautions?",)),
    (("/checklist negative squat",), ("/alternatives reverse squat at home",)),
    (
        ("I train at home and don't have a cable machine", "how can I do reverse squats then?"),
        ("any other hip flexor strengthener I could do?",),
    ),
    (("best protein powder?",),),
    (
        ("heads up, my core is pretty weak",),
        ("are reverse squats a good idea for me?",),
        ("what could I do instead?",),
        ("/reset",),
    ),
    (
        ("squat vs hip hinge, how are they different?",),
        ("which one is better for my glutes?",),
        ("and which should i learn first?",),
    ),
    (("revers sqaut steps",), ("negitive squats muscels",)),
    (("goblet squat technique",),),
    (("what is the samson stretch",), ("warrior 3 benefits",), ("wall squat vs squat",)),
    (
        ("tell me about the backwards leg hold",),
        ("how long do i hold it for?",),
        ("what muscles does it use?",),
    ),
    (("how do I bake sourdough bread",),),
    (("/exercises",), ("how long should I hold an asian squat",)),
    (("standing quad strech how to",), ("/help",)),
)
MIX = ("repeated", "distinct")
FITBOTS = ("fitbot", "replicas")
BOTS = ("fitbot", "echo", "replicas")
REPLICAS_LABEL = "fitbot x2 (webhook, Redis)"
ECHO_LABEL = "PTB echo (defaults)"
REPLICAS = 2
# Goals of issue 10 for two webhook replicas sharing a Redis, at 50 ms.
GOAL_REPLICAS_PER_S = 600

# python-telegram-bot's echo bot, default settings: what the examples and most bots start from.
ECHO_BOT = """\
import os
from telegram import Update
from telegram.ext import ApplicationBuilder, ContextTypes, MessageHandler, filters

async def echo(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
    await update.message.reply_text(update.message.text)

application = (
    ApplicationBuilder()
    .token(os.environ["TELEGRAM_BOT_TOKEN"])
    .base_url(os.environ["TELEGRAM_BASE_URL"])
    .build()
)
application.add_handler(MessageHandler(filters.TEXT, echo))
application.run_polling()
"""


@dataclass(frozen=True)
class Timing:
    """How long each phase of a scenario lasts, in seconds."""

    warmup: float
    window: float
    drain: float


FULL = Timing(warmup=3.0, window=10.0, drain=5.0)
QUICK = Timing(warmup=1.0, window=3.0, drain=3.0)


@dataclass(frozen=True)
class Scenario:
    """One bot under one Bot API latency with one question mix."""

    bot: str  # "fitbot", "replicas" (two fitbot webhook replicas on Redis) or "echo"
    latency_ms: int
    mix: str  # "repeated" or "distinct"

    @property
    def fitbot(self) -> bool:
        """One of fitbot's rows (checked against the engine's answers and the goals)."""
        return self.bot in FITBOTS

    @property
    def label(self) -> str:
        name = {"fitbot": "fitbot", "replicas": REPLICAS_LABEL}.get(self.bot, ECHO_LABEL)
        mix = f", {self.mix}" if self.fitbot else ""
        return f"{name}, {self.latency_ms} ms{mix}"


@dataclass
class Measurement:
    """The figures of one scenario run."""

    replies_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    peak_rss_mb: float
    bot_cpu_pct: float
    bot_cpu_ms_per_reply: float | None  # robust to a busy machine, unlike replies/s
    harness_cpu_pct: float
    other_cpu_pct: float
    replies: int
    asked: int
    lost: int
    order_violations: int
    wrong: int
    distinct_pct: float
    api_errors: int
    log_errors: int
    exit_code: int | None


# -- the simulated users ------------------------------------------------------------------


def _distinct(text: str, rng: random.Random, seen: set[str]) -> str:
    """``text`` typed with its own capitalisation, unlike any message seen so far.

    The engine folds case, so the answer is the one to ``text``, but the bot's memo of recent
    (question, context) pairs cannot serve it. A bare command (``/start``) stays as it is.
    """
    if text.startswith("/") and " " not in text:
        return text
    head, space, tail = text.partition(" ") if text.startswith("/") else ("", "", text)
    for _ in range(100):
        variant = "".join(ch.upper() if rng.random() < 0.25 else ch for ch in tail)
        candidate = head + space + variant
        if candidate not in seen:
            seen.add(candidate)
            return candidate
    return head + space + tail


def _turns(chat_id: int, mix: str, seen: set[str]) -> Iterator[Turn]:
    """The endless sequence of turns of one chat, starting at its own conversation."""
    rng = random.Random(chat_id)
    start = chat_id % len(CONVERSATIONS)
    index = start
    while True:
        for turn in CONVERSATIONS[index]:
            yield tuple(_distinct(m, rng, seen) for m in turn) if mix == "distinct" else turn
        index = (index + 1) % len(CONVERSATIONS)


@dataclass
class _Chat:
    turns: Iterator[Turn]
    asked: list[str] = field(default_factory=list)
    replies: list[str] = field(default_factory=list)
    waiting: deque[float] = field(default_factory=deque)  # push times of unanswered messages


class _Load:
    """The closed loop: a chat's next turn is pushed when its last reply arrives."""

    def __init__(self, api: FakeBotApi, chats: int, mix: str) -> None:
        seen: set[str] = set()
        self.api = api
        self.push: Callable[[int, str], object] = api.push_text  # getUpdates; or a webhook
        self.chats = {c: _Chat(_turns(c, mix, seen)) for c in range(1, chats + 1)}
        self.running = False
        self.window: tuple[float, float] = (float("inf"), float("inf"))
        self.latencies: list[float] = []
        self.in_window = 0
        self.extra = 0

    def start(self) -> None:
        self.running = True
        for chat_id in self.chats:
            self._push_turn(chat_id)

    def _push_turn(self, chat_id: int) -> None:
        chat = self.chats[chat_id]
        for text in next(chat.turns):
            chat.asked.append(text)
            chat.waiting.append(time.perf_counter())
            self.push(chat_id, text)

    def on_reply(self, chat_id: object, text: object) -> None:
        """A sendMessage reached the server (before its latency is served)."""
        now = time.perf_counter()
        chat = self.chats.get(chat_id) if isinstance(chat_id, int) else None
        if chat is None:
            return
        chat.replies.append(text if isinstance(text, str) else "")
        if not chat.waiting:
            self.extra += 1
            return
        pushed = chat.waiting.popleft()
        if self.window[0] <= now < self.window[1]:
            self.in_window += 1
            self.latencies.append(now - pushed)
        if not chat.waiting and self.running:
            self._push_turn(chat_id)  # type: ignore[arg-type]

    def unanswered(self) -> int:
        return sum(len(chat.waiting) for chat in self.chats.values())


class _LoadBotApi(FakeBotApi):
    """The tests' fake server, telling the load when a reply arrives and when polling starts."""

    def __init__(self, latency: float) -> None:
        super().__init__(latency=latency)
        self.load: _Load | None = None
        self.polling = asyncio.Event()

    async def _params(self, request: web.Request) -> dict[str, Any]:  # type: ignore[override]
        params = await FakeBotApi._params(request)
        method = request.match_info["method"].lower()
        if method == "sendmessage" and self.load is not None:
            self.load.on_reply(params.get("chat_id"), params.get("text"))
        elif method == "getupdates":
            self.polling.set()
        return params


# -- processes and CPU accounting ---------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _busy_seconds() -> float:
    """CPU seconds the whole machine has spent busy (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _command(bot: str) -> list[str]:
    if bot == "echo":
        return [sys.executable, "-c", ECHO_BOT]
    script = Path(sys.executable).with_name("fitbot")
    return [str(script), "run"] if script.exists() else [sys.executable, "-m", "bot.cli", "run"]


async def _stop(process: asyncio.subprocess.Process) -> int | None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            return None
    return process.returncode


async def _py_spy(pid: int, seconds: float, output: Path) -> asyncio.subprocess.Process:
    """Start py-spy (installed for measuring, not a dependency) sampling ``pid``."""
    command = Path(sys.executable).with_name("py-spy")
    return await asyncio.create_subprocess_exec(
        str(command) if command.exists() else "py-spy",
        *("record", "--pid", str(pid), "--duration", str(max(1, round(seconds)))),
        *("--rate", "250", "--format", "raw", "--output", str(output)),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )


# -- checking the replies -----------------------------------------------------------------


@functools.cache
def _expected_fitbot() -> Callable[[list[str]], list[str]]:
    """The replies fitbot owes a chat for its messages in order: the engine's own answers."""
    engine = Engine(load_knowledge(default_knowledge_dir()))
    ask = functools.lru_cache(maxsize=4096)(engine.ask)

    def expected(asked: list[str]) -> list[str]:
        context, replies = Context(), []
        for text in asked:
            reply = ask(text.strip() or "/start", context)
            context = reply.context
            replies += render_html(reply.answer)
        return replies

    return expected


def _check_order(expected: list[str], received: list[str]) -> tuple[int, int]:
    """(order violations, wrong replies): replies that belong later, or to nothing."""
    violations = wrong = 0
    for index, reply in enumerate(received):
        if index < len(expected) and reply == expected[index]:
            continue
        if reply in expected[index + 1 :]:
            violations += 1
        else:
            wrong += 1
    return violations, wrong


# -- one scenario -------------------------------------------------------------------------


async def measure(
    scenario: Scenario,
    timing: Timing,
    chats: int = CHATS,
    profile: Path | None = None,
    source: Path = REPO,
) -> Measurement:
    """Run one scenario: start the fake server and the bot, load, drain, stop, check.

    With ``profile``, py-spy samples the bot during the window into that file (collapsed
    stacks, one per line, as ``py-spy record --format raw`` writes them). ``source`` is the
    checkout whose ``bot`` package runs (another one to compare two versions; the knowledge
    base and the engine that checks the replies stay this checkout's).
    """
    api = _LoadBotApi(latency=scenario.latency_ms / 1000)
    await api.start()
    load = _Load(api, chats, scenario.mix)
    api.load = load
    with tempfile.TemporaryDirectory(prefix="fitbot-e2e-") as tmp:
        env = {
            **os.environ,
            "TELEGRAM_BOT_TOKEN": api.token,
            "TELEGRAM_BASE_URL": api.base_url,
            "FITBOT_RATE_LIMIT": "0",
            "FITBOT_FLOOD_RATE": "0",
            "FITBOT_STATE": str(Path(tmp) / "state.sqlite3"),
            "FITBOT_KNOWLEDGE": str(default_knowledge_dir()),
            "PYTHONPATH": str(source),
        }
        for name in ("FITBOT_METRICS_PORT", "FITBOT_WEBHOOK_URL", "FITBOT_LOG_LEVEL"):
            env.pop(name, None)
        starting = _start_replicas if scenario.bot == "replicas" else _start_process
        bot = await starting(scenario, api, load, env, Path(tmp), source)
        spy: asyncio.subprocess.Process | None = None
        try:
            load.start()
            await asyncio.sleep(timing.warmup)
            start = time.perf_counter()
            load.window = (start, start + timing.window)
            cpu = (_cpu(bot.pids), time.process_time(), _busy_seconds())
            spy = await _py_spy(bot.pids[0], timing.window, profile) if profile else None
            await asyncio.sleep(timing.window)
            elapsed = time.perf_counter() - start
            bot_cpu = _cpu(bot.pids) - cpu[0]
            harness_cpu = time.process_time() - cpu[1]
            busy = _busy_seconds() - cpu[2]
            load.running = False
            drain_end = time.perf_counter() + timing.drain
            while load.unanswered() and time.perf_counter() < drain_end:
                await asyncio.sleep(0.05)
            lost = load.unanswered()
            peak_rss = sum(_peak_rss_mb(pid) for pid in bot.pids)
            api.latency = 0  # what is left is answered on shutdown: no need to wait for it
        finally:
            if spy is not None:
                await _stop(spy)
            exit_code = await bot.stop()
            await api.stop()
        log_errors = sum(
            1
            for log_path in bot.logs
            for line in log_path.read_text(errors="replace").splitlines()
            if "level=error" in line or "Traceback" in line or line.startswith("ERROR")
        )
    api_errors = sum(1 for call in api.calls if call.status != 200)
    expected = _expected_fitbot() if scenario.fitbot else list
    violations = wrong = 0
    for chat in load.chats.values():
        owed = expected(chat.asked)
        v, w = _check_order(owed, chat.replies)
        violations, wrong = violations + v, wrong + w
    asked = sum(len(chat.asked) for chat in load.chats.values())
    distinct = len({text for chat in load.chats.values() for text in chat.asked})
    latencies = sorted(load.latencies)
    return Measurement(
        replies_per_s=load.in_window / elapsed,
        p50_ms=_quantile(latencies, 0.50),
        p99_ms=_quantile(latencies, 0.99),
        peak_rss_mb=peak_rss,
        bot_cpu_pct=100 * bot_cpu / elapsed,
        bot_cpu_ms_per_reply=1000 * bot_cpu / load.in_window if load.in_window else None,
        harness_cpu_pct=100 * harness_cpu / elapsed,
        other_cpu_pct=max(0.0, 100 * (busy - bot_cpu - harness_cpu) / elapsed),
        replies=sum(len(chat.replies) for chat in load.chats.values()),
        asked=asked,
        lost=lost,
        order_violations=violations,
        wrong=wrong + load.extra,
        distinct_pct=100 * distinct / asked if asked else 0.0,
        api_errors=api_errors,
        log_errors=log_errors,
        exit_code=exit_code,
    )


@dataclass
class _Bot:
    """A started bot: its processes (CPU and memory are theirs, summed), their logs, and how to
    stop them (the exit code: the worst one)."""

    pids: list[int]
    logs: list[Path]
    stop: Callable[[], Awaitable[int | None]]


def _cpu(pids: Sequence[int]) -> float:
    return sum(_cpu_seconds(pid) for pid in pids)


async def _start_process(
    scenario: Scenario, api: _LoadBotApi, load: _Load, env: dict[str, str], tmp: Path, source: Path
) -> _Bot:
    """One bot process, long polling (fitbot on its SQLite file, or the echo bot)."""
    log_path = tmp / "bot.log"
    with log_path.open("wb") as log:
        process = await asyncio.create_subprocess_exec(
            *_command(scenario.bot),
            env=env,
            cwd=source,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=log,
            stderr=log,
        )
    try:
        await asyncio.wait_for(api.polling.wait(), STARTUP_TIMEOUT_S)
    except TimeoutError:
        await _stop(process)
        raise RuntimeError(
            f"{scenario.label}: the bot did not poll within {STARTUP_TIMEOUT_S:.0f} s:\n"
            + log_path.read_text(errors="replace")[-2000:]
        ) from None
    return _Bot([process.pid], [log_path], lambda: _stop(process))


async def _start_replicas(
    scenario: Scenario, api: _LoadBotApi, load: _Load, env: dict[str, str], tmp: Path, source: Path
) -> _Bot:
    """:data:`REPLICAS` fitbot processes in webhook mode sharing a redis-server (append-only
    file on, as deployed), behind the tests' round-robin balancer; updates reach them as
    Telegram delivers a webhook's (one in flight per chat). The Redis counts as the bot's:
    its CPU and memory are added to the replicas'."""
    from tests.redis_server import RedisServer
    from tests.replicas import Balancer, TelegramWebhook, replica_env, wait_healthy

    redis = RedisServer(tmp / "redis")
    redis.start()
    ports = [_free_port() for _ in range(REPLICAS)]
    balancer = Balancer(ports)
    await balancer.start()
    hook = TelegramWebhook(balancer.url)
    await hook.start()
    processes, logs = [], []
    for n, port in enumerate(ports):
        log_path = tmp / f"replica-{n}.log"
        logs.append(log_path)
        with log_path.open("wb") as log:
            processes.append(
                await asyncio.create_subprocess_exec(
                    *_command("fitbot"),
                    env={**replica_env(api, redis.url, balancer, port), **env,
                         "FITBOT_STATE": redis.url},
                    cwd=source,
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=log,
                    stderr=log,
                )
            )  # fmt: skip

    async def stop() -> int | None:
        codes = [await _stop(process) for process in processes]
        await hook.stop()
        await balancer.stop()
        redis.stop()
        return next((code for code in codes if code != 0), 0)

    try:
        for port, process in zip(ports, processes, strict=True):
            await asyncio.wait_for(wait_healthy(port, process, tmp), STARTUP_TIMEOUT_S)
    except (AssertionError, TimeoutError):
        await stop()
        raise RuntimeError(
            f"{scenario.label}: the replicas did not start:\n"
            + "\n".join(p.read_text(errors="replace")[-2000:] for p in logs)
        ) from None
    load.push = lambda chat_id, text: hook.send(chat_id, api.text_update(chat_id, text))
    assert redis.process is not None
    return _Bot([*(p.pid for p in processes), redis.process.pid], logs, stop)


def _free_port() -> int:
    from tests.harness import free_port

    return free_port()


def _quantile(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return 1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))]


# -- all scenarios ------------------------------------------------------------------------


def scenarios(
    latencies_ms: Sequence[int] = LATENCIES_MS,
    bots: Sequence[str] = BOTS,
    mixes: Sequence[str] = MIX,
    *,
    replicas_at: Sequence[int] | None = (50,),
) -> list[Scenario]:
    """Per latency: fitbot with each mix, then the echo bot (whose replies ignore the mix), then
    two replicas with each mix (by default only at 50 ms: ``replicas_at``, None for all)."""
    return [
        Scenario(bot, latency, mix)
        for latency in latencies_ms
        for bot in bots
        if bot != "replicas" or replicas_at is None or latency in replicas_at
        for mix in (mixes if bot in FITBOTS else MIX[:1])
    ]


def _median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def summarise(runs: Sequence[Measurement]) -> Measurement:
    """Per figure the median over runs; counts of failures the worst run's."""
    numbers = {
        name: _median([getattr(run, name) for run in runs])
        for name in (
            "replies_per_s", "p50_ms", "p99_ms", "peak_rss_mb", "bot_cpu_pct",
            "bot_cpu_ms_per_reply", "harness_cpu_pct", "other_cpu_pct", "distinct_pct",
        )
    }  # fmt: skip
    worst = {
        name: max(getattr(run, name) for run in runs)
        for name in ("lost", "order_violations", "wrong", "api_errors", "log_errors")
    }
    return Measurement(
        **numbers,  # type: ignore[arg-type]
        **worst,
        replies=sum(run.replies for run in runs),
        asked=sum(run.asked for run in runs),
        exit_code=next((run.exit_code for run in runs if run.exit_code != 0), 0),
    )


async def run_scenarios(
    chosen: Sequence[Scenario],
    timing: Timing,
    runs: int = 1,
    chats: int = CHATS,
    progress: Callable[[str], None] | None = None,
    profile: Path | None = None,
    source: Path = REPO,
) -> dict[Scenario, list[Measurement]]:
    """Every scenario ``runs`` times, interleaved so a passing load spike hits them alike."""
    results: dict[Scenario, list[Measurement]] = {s: [] for s in chosen}
    for attempt in range(runs):
        for scenario in chosen:
            output = None
            if profile is not None:
                name = f"{scenario.bot}-{scenario.latency_ms}ms-{scenario.mix}-{attempt + 1}.txt"
                output = profile / name
            measurement = await measure(scenario, timing, chats, output, source)
            results[scenario].append(measurement)
            if progress is not None:
                progress(
                    f"{scenario.label} (run {attempt + 1}/{runs}): "
                    f"{measurement.replies_per_s:,.0f} replies/s, p99 {measurement.p99_ms} ms, "
                    f"bot CPU {measurement.bot_cpu_pct:.0f}% "
                    f"({measurement.bot_cpu_ms_per_reply or 0:.3f} ms/reply), "
                    f"harness {measurement.harness_cpu_pct:.0f}%, "
                    f"others {measurement.other_cpu_pct:.0f}%"
                )
    return results


def _echo_of(scenario: Scenario, summary: dict[Scenario, Measurement]) -> Measurement | None:
    return summary.get(Scenario("echo", scenario.latency_ms, MIX[0]))


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def goals(scenario: Scenario, m: Measurement, echo: Measurement | None = None) -> list[str]:
    """The goals this fitbot row misses (empty: all met), or [] for other rows. The 0 ms rate
    is judged against ``echo`` (the echo bot's row at the same latency), when there is one."""
    if not scenario.fitbot:
        return []
    missed = []
    if scenario.bot == "replicas":
        if m.replies_per_s < GOAL_REPLICAS_PER_S:
            missed.append(f"< {GOAL_REPLICAS_PER_S:,}/s")
    elif scenario.latency_ms == 0:
        ratio = _ratio(m.replies_per_s, echo.replies_per_s if echo else None)
        if ratio is not None and ratio < GOAL_0MS_VS_ECHO:
            missed.append(f"< x{GOAL_0MS_VS_ECHO} echo's replies/s")
    elif m.replies_per_s < GOAL_50MS_PER_S:
        missed.append(f"< {GOAL_50MS_PER_S:,}/s")
    if scenario.latency_ms >= 50 and (m.p99_ms is None or m.p99_ms >= GOAL_50MS_P99_MS):
        missed.append(f"p99 >= {GOAL_50MS_P99_MS} ms")
    if m.lost or m.order_violations or m.wrong:
        missed.append("lost/out of order")
    return missed


def rows(summary: dict[Scenario, Measurement], chats: int = CHATS) -> list[Result]:
    """Table rows; fitbot's notes carry its ratios to the echo bot and the goals."""
    results = []
    for scenario, m in summary.items():
        notes = [
            f"lost {m.lost}, order {m.order_violations}, wrong {m.wrong}",
            f"CPU bot {m.bot_cpu_pct:.0f}% ({m.bot_cpu_ms_per_reply or 0:.2f} ms/reply) "
            f"harness {m.harness_cpu_pct:.0f}% others {m.other_cpu_pct:.0f}%",
        ]
        echo = _echo_of(scenario, summary)
        if scenario.fitbot and echo is not None:
            speed = _ratio(m.replies_per_s, echo.replies_per_s)
            p99 = _ratio(m.p99_ms, echo.p99_ms)
            notes.append(
                f"vs echo: x{speed:.2f} replies/s" + (f", x{p99:.2g} p99" if p99 else "")
                if speed
                else "vs echo: -"
            )
        if scenario.fitbot:
            missed = goals(scenario, m, echo)
            notes.append("goal met" if not missed else "goal missed: " + ", ".join(missed))
        if m.api_errors or m.log_errors or m.exit_code:
            notes.append(
                f"API errors {m.api_errors}, log errors {m.log_errors}, exit {m.exit_code}"
            )
        results.append(
            Result(
                benchmark=f"e2e ({chats} chats)",
                scenario=scenario.label,
                per_second=m.replies_per_s,
                p50_ms=m.p50_ms,
                p99_ms=m.p99_ms,
                memory_mb=m.peak_rss_mb,
                notes="; ".join(notes),
            )
        )
    return results


def run(quick: bool = False) -> list[Result]:
    """The rows for :mod:`benchmarks.run`: every scenario once."""
    results = asyncio.run(run_scenarios(scenarios(), QUICK if quick else FULL))
    return rows({s: summarise(m) for s, m in results.items()})


def main(argv: Sequence[str] | None = None) -> None:
    """Print the table, or with ``--json`` one JSON document."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 s warm-up, 3 s window")
    parser.add_argument("--json", action="store_true", help="print JSON instead of the table")
    parser.add_argument("--runs", type=int, default=1, help="runs per scenario (medians)")
    parser.add_argument("--chats", type=int, default=CHATS, help=f"chats (default {CHATS})")
    parser.add_argument("--window", type=float, help="seconds measured per run")
    parser.add_argument(
        "--latency", type=int, action="append", metavar="MS", help="Bot API latency (repeatable)"
    )
    parser.add_argument(
        "--bot",
        choices=BOTS,
        action="append",
        help="repeatable; replicas: two webhook replicas on Redis (at 50 ms unless --latency)",
    )
    parser.add_argument("--mix", choices=MIX, action="append", help="fitbot's mix (repeatable)")
    parser.add_argument(
        "--profile", type=Path, metavar="DIR", help="py-spy the bot into DIR (collapsed stacks)"
    )
    parser.add_argument(
        "--bot-src", type=Path, default=REPO, metavar="DIR", help="run the bot from this checkout"
    )
    args = parser.parse_args(argv)
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    timing = QUICK if args.quick else FULL
    if args.window is not None:
        timing = Timing(timing.warmup, args.window, timing.drain)
    if not (1 <= args.chats <= MAX_CHATS and 0 < timing.window <= MAX_WINDOW_S and args.runs >= 1):
        parser.error(f"--chats 1..{MAX_CHATS}, --window up to {MAX_WINDOW_S:.0f} s, --runs >= 1")
    chosen = scenarios(
        tuple(args.latency or LATENCIES_MS), tuple(args.bot or BOTS),
        tuple(args.mix or MIX), replicas_at=None if args.latency else (50,),
    )  # fmt: skip
    load_before = os.getloadavg()
    results = asyncio.run(
        run_scenarios(
            chosen,
            timing,
            args.runs,
            args.chats,
            progress=lambda line: print(line, file=sys.stderr),
            profile=args.profile,
            source=args.bot_src.resolve(),
        )
    )
    summary = {s: summarise(m) for s, m in results.items()}
    if args.json:
        document = {
            "chats": args.chats,
            "timing_s": asdict(timing),
            "runs": args.runs,
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "scenarios": [
                {
                    "bot": s.bot,
                    "latency_ms": s.latency_ms,
                    "mix": s.mix if s.fitbot else None,
                    "median": asdict(summary[s]),
                    "runs": [asdict(m) for m in results[s]],
                    "vs_echo": _vs_echo(s, summary),
                    "goals_missed": (
                        goals(s, summary[s], _echo_of(s, summary)) if s.fitbot else None
                    ),
                }
                for s in chosen
            ],
        }
        print(json.dumps(document, indent=2))
    else:
        print(
            f"{args.chats} chats, closed loop, {timing.window:g} s window after "
            f"{timing.warmup:g} s warm-up, {args.runs} run(s) per row (medians); "
            f"{os.cpu_count()} CPUs, load average before {load_before[0]:.2f}\n"
        )
        print(format_table(rows(summary, args.chats)))


def _vs_echo(scenario: Scenario, summary: dict[Scenario, Measurement]) -> dict[str, Any] | None:
    echo = _echo_of(scenario, summary)
    if not scenario.fitbot or echo is None:
        return None
    m = summary[scenario]
    return {
        "replies_per_s": _ratio(m.replies_per_s, echo.replies_per_s),
        "p50_ms": _ratio(m.p50_ms, echo.p50_ms),
        "p99_ms": _ratio(m.p99_ms, echo.p99_ms),
        "peak_rss_mb": _ratio(m.peak_rss_mb, echo.peak_rss_mb),
    }


if __name__ == "__main__":
    main()
