"""``fitbot ask --json`` over 10,240 stdin lines, start-up included: answers per second.

Two mixes: the project's labelled questions cycled (a batch that asks the same things many
times, as an evaluation run or a log replay does), and every line distinct (a question with a
number appended, which the engine reads past but the answer cache cannot reuse). Each figure
is the median of several runs of the real command in a subprocess.

    python -m benchmarks.bench_cli [--quick]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks import Result, format_table

LINES = 10_240
DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def questions() -> list[str]:
    """Every labelled question of the project's question files, in file order."""
    found: list[str] = []
    for path in sorted(DATA.glob("questions*.yaml")):
        found += [str(item["q"]) for item in yaml.safe_load(path.read_text()) or []]
    return found


def seconds_for(lines: list[str]) -> float:
    """Wall time of one ``fitbot ask --json`` run over ``lines``."""
    with tempfile.TemporaryFile("w+") as stdin:
        stdin.write("\n".join(lines) + "\n")
        stdin.seek(0)
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "bot.cli", "ask", "--json"],
            stdin=stdin,
            stdout=subprocess.PIPE,
            check=True,
        )
        elapsed = time.perf_counter() - start
    answers = done.stdout.count(b"\n")
    if answers != len(lines):
        raise RuntimeError(f"sent {len(lines)} lines, got {answers} answers")
    return elapsed


def run(quick: bool = False) -> list[Result]:
    """Rows for the cycled and the all-distinct mix."""
    asked = questions()
    mixes = {
        "cycled labelled questions": [asked[i % len(asked)] for i in range(LINES)],
        "every line distinct": [f"{asked[i % len(asked)]} {i}" for i in range(LINES)],
    }
    runs = 1 if quick else 3
    results = []
    for name, lines in mixes.items():
        times = [seconds_for(lines) for _ in range(runs)]
        median = statistics.median(times)
        results.append(
            Result(
                "ask --json",
                f"{LINES:,} lines, {name}",
                per_second=LINES / median,
                notes=f"{len(set(lines))} distinct; start-up included; median of {runs}",
            )
        )
    return results


def main() -> None:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one run instead of three")
    print(format_table(run(parser.parse_args().quick)))


if __name__ == "__main__":
    main()
