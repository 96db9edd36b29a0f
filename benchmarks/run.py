"""Run every benchmark and print one table, headed by the machine it ran on.

    python -m benchmarks.run [--quick]

Runs every module of :data:`MODULES` that exists; each exposes
``run(quick: bool) -> list[Result]``.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import os
import platform
from collections.abc import Sequence
from pathlib import Path

from benchmarks import Result, format_table

MODULES = (
    "benchmarks.bench_engine",
    "benchmarks.bench_cli",
    "benchmarks.bench_state",
    "benchmarks.bench_request",
    "benchmarks.bench_e2e",
)


def machine() -> str:
    """CPU model and count, memory, OS and Python: what the figures depend on."""
    cpu, memory = platform.processor() or platform.machine(), ""
    cpuinfo, meminfo = Path("/proc/cpuinfo"), Path("/proc/meminfo")
    if cpuinfo.exists():
        lines = cpuinfo.read_text().splitlines()
        names = [line for line in lines if line.startswith("model name")]
        cpu = names[0].partition(":")[2].strip() if names else cpu
    if meminfo.exists():
        kb = int(meminfo.read_text().split()[1])
        memory = f", {kb / 2**20:.0f} GB RAM"
    return (
        f"{cpu} x {os.cpu_count()}{memory}, {platform.system()} {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def run_all(quick: bool) -> list[Result]:
    """The rows of every benchmark module that is present."""
    results: list[Result] = []
    for name in MODULES:
        if importlib.util.find_spec(name) is None:
            continue
        results += importlib.import_module(name).run(quick=quick)
    return results


def main(argv: Sequence[str] | None = None) -> None:
    """Print the machine and the table."""
    parser = argparse.ArgumentParser(description="Run every fitbot benchmark.")
    parser.add_argument("--quick", action="store_true", help="a short run (fewer repetitions)")
    args = parser.parse_args(argv)
    results = run_all(args.quick)
    print(f"machine: {machine()}{' (quick run)' if args.quick else ''}\n")
    print(format_table(results))


if __name__ == "__main__":
    main()
