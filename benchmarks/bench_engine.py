"""Engine speed as knowledge grows: load time, memory, answers/s and p50/p99 per message.

Measured on the shipped knowledge base with a fixed mix of questions (named, typos, uncovered
exercises, follow-ups that need context), and on synthetic bases of generated exercises. Timings
are medians over several runs after a warm-up. ``--profile N`` prints where the time goes for a
synthetic base of N exercises instead.

    python -m benchmarks.bench_engine [--quick] [--profile 10000]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import math
import pstats
import statistics
import tempfile
import time
import tracemalloc
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks import Result, format_table
from benchmarks.synthetic import conversations, write_knowledge
from bot.context import Context
from bot.engine import Engine
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge
from bot.knowledge_files import Limits

Conversation = tuple[str, ...]

# A fixed mix for the shipped base: each tuple is one conversation.
SHIPPED_MESSAGES: tuple[Conversation, ...] = (
    ("how do I do a reverse squat?",),
    ("what muscles does the negative squat work",),
    ("form checklist for the hip hinge",),
    ("common mistakes with kettlebell swings",),
    ("is the deadlift safe if my back hurts",),
    ("what can I do instead of back squats at home",),
    ("how many sets of psoas marches",),
    ("what is the samson stretch",),
    ("warrior 3 benefits",),
    ("wall squat vs squat",),
    ("how long should I hold an asian squat",),
    ("do reverse squats work my glutes",),
    ("revers sqaut steps",),
    ("negitive squats muscels",),
    ("kettelbell swing form",),
    ("standing quad strech how to",),
    ("hip hindge mistakes",),
    ("how do I do a bench press",),
    ("best protein powder?",),
    ("goblet squat technique",),
    ("how do I bake sourdough bread",),
    ("what's the weather tomorrow",),
    ("what muscles does the reverse squat work", "how do I do it", "any common mistakes?"),
    ("tell me about the hip hinge", "what can I do instead", "I have back pain"),
    ("negative squats", "how many reps", "how slow should I lower"),
    ("what is a psoas march", "is it easier than reverse squats"),
)
SYNTHETIC_SIZES = (1_000, 10_000)


# Each run asks at least this many messages, so p99 is not just the slowest one.
MIN_SAMPLES = 200
# A slow engine is measured fewer times: no more runs (or loads) start after this many seconds.
BUDGET_S = 60.0


@dataclass(frozen=True)
class Settings:
    """How hard to measure."""

    runs: int  # timed runs at most (the median is reported)
    loads: int  # timed loads at most (the median is reported)
    sizes: tuple[int, ...]


FULL = Settings(runs=5, loads=3, sizes=SYNTHETIC_SIZES)
QUICK = Settings(runs=1, loads=1, sizes=SYNTHETIC_SIZES[:1])


@dataclass(frozen=True)
class Timing:
    """Answers per second and latency per message, medians over the runs."""

    per_second: float
    p50_ms: float
    p99_ms: float
    runs: int
    samples: int


def _budgeted(limit: int, once: Callable[[], float]) -> list[float]:
    """Call ``once`` up to ``limit`` times (at least once) within :data:`BUDGET_S`."""
    results: list[float] = []
    start = time.perf_counter()
    while len(results) < limit and (not results or time.perf_counter() - start < BUDGET_S):
        results.append(once())
    return results


# The bot refuses a knowledge directory over 1,000 files or 8 MiB; the generated bases measure
# how the engine scales far beyond any coach's, so they are read with these limits instead (the
# per-file limits still hold).
SYNTHETIC_LIMITS = Limits(total_bytes=256 << 20, total_values=10_000_000, record_files=100_000)


def load(directory: Path) -> tuple[Engine, float]:
    """An engine on ``directory`` and the seconds it took (load_knowledge + Engine)."""
    gc.collect()
    start = time.perf_counter()
    engine = Engine(load_knowledge(directory, SYNTHETIC_LIMITS))
    return engine, time.perf_counter() - start


def memory_mb(directory: Path) -> tuple[float, float]:
    """(retained, peak) MB allocated by loading ``directory`` into an engine (tracemalloc)."""
    gc.collect()
    tracemalloc.start()
    try:
        engine = Engine(load_knowledge(directory, SYNTHETIC_LIMITS))
        gc.collect()
        retained, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    del engine
    return retained / 2**20, peak / 2**20


def _one_pass(engine: Engine, convos: Sequence[Conversation], latencies: list[float]) -> None:
    for convo in convos:
        context = Context()
        for message in convo:
            start = time.perf_counter()
            context = engine.ask(message, context).context
            latencies.append(time.perf_counter() - start)


def answer_timing(engine: Engine, convos: Sequence[Conversation], settings: Settings) -> Timing:
    """Warm up once, then time runs of enough passes over ``convos`` for :data:`MIN_SAMPLES`."""
    _one_pass(engine, convos, [])
    repeat = math.ceil(MIN_SAMPLES / sum(len(c) for c in convos))
    runs: list[tuple[float, float, float]] = []
    samples = 0

    def once() -> float:
        nonlocal samples
        latencies: list[float] = []
        gc.collect()
        start = time.perf_counter()
        for _ in range(repeat):
            _one_pass(engine, convos, latencies)
        elapsed = time.perf_counter() - start
        cuts = statistics.quantiles(latencies, n=100, method="inclusive")
        runs.append((len(latencies) / elapsed, cuts[49] * 1e3, cuts[98] * 1e3))
        samples = len(latencies)
        return elapsed

    _budgeted(settings.runs, once)
    per_second, p50, p99 = (statistics.median(column) for column in zip(*runs, strict=True))
    return Timing(per_second, p50, p99, len(runs), samples)


def measure(
    scenario: str, directory: Path, convos: Sequence[Conversation] | None, settings: Settings
) -> Result:
    """One table row for the knowledge base in ``directory``."""
    engine, first = load(directory)
    times = [first, *_budgeted(settings.loads - 1, lambda: load(directory)[1])]
    retained, peak = memory_mb(directory)
    messages = convos if convos is not None else conversations(engine.kb, MIN_SAMPLES)
    timing = answer_timing(engine, messages, settings)
    return Result(
        "engine",
        scenario,
        per_second=timing.per_second,
        p50_ms=timing.p50_ms,
        p99_ms=timing.p99_ms,
        load_s=statistics.median(times),
        memory_mb=retained,
        notes=(
            f"{timing.samples} answers x {timing.runs} runs, {len(times)} loads; "
            f"peak {peak:.0f} MB loading"
        ),
    )


def _records(kb: KnowledgeBase) -> str:
    return f"{len(kb.records):,} records"


def run(quick: bool = False) -> list[Result]:
    """Rows for the shipped base and each synthetic size."""
    settings = QUICK if quick else FULL
    shipped = default_knowledge_dir()
    size = _records(load_knowledge(shipped))
    results = [measure(f"shipped kb ({size})", shipped, SHIPPED_MESSAGES, settings)]
    for count in settings.sizes:
        with tempfile.TemporaryDirectory(prefix="fitbot-kb-") as tmp:
            directory = write_knowledge(Path(tmp), count)
            results.append(measure(f"synthetic ({count:,} exercises)", directory, None, settings))
    return results


def profile(count: int, top: int = 25) -> None:
    """Print the functions that dominate loading and answering on ``count`` exercises."""
    with tempfile.TemporaryDirectory(prefix="fitbot-kb-") as tmp:
        directory = write_knowledge(Path(tmp), count)
        profiler = cProfile.Profile()
        profiler.enable()
        engine, _ = load(directory)
        profiler.disable()
        print(f"== loading {count:,} exercises (load_knowledge + Engine)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)
        convos = conversations(engine.kb, MIN_SAMPLES)
        _one_pass(engine, convos, [])
        profiler = cProfile.Profile()
        profiler.enable()
        _one_pass(engine, convos, [])
        profiler.disable()
        print(f"== answering {sum(len(c) for c in convos)} messages")
        pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main(argv: Sequence[str] | None = None) -> None:
    """Print the engine table, or a profile with ``--profile N``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run, 1,000 exercises only")
    parser.add_argument("--profile", type=int, metavar="N", help="profile N synthetic exercises")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.profile)
    else:
        print(format_table(run(args.quick)))


if __name__ == "__main__":
    main()
