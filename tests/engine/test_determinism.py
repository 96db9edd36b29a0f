"""The same message in the same conversation gets the same answer in every process.

Python salts the hashes of strings per process, so iterating a set of words or records gives a
different order each run; an engine that breaks a tie by such an order answers a question one
way today and another way after a restart (and flips labelled verdicts in CI). Every labelled
message of ``tests/data`` is answered under two hash seeds and the replies compared.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from bot.evaluation import load_cases

DATA = Path(__file__).resolve().parent.parent / "data"


# Answers every labelled message of tests/data through the engine (as ``fitbot eval`` does)
# and prints the replies as JSON.
_RUN = """
import json, sys
from pathlib import Path
from bot.engine import Engine
from bot.evaluation import Fitbot, load_cases, run_system
from bot.knowledge import default_knowledge_dir, load_knowledge
cases = load_cases(sorted(Path(sys.argv[1]).glob("*.yaml")))
engine = Engine(load_knowledge(default_knowledge_dir({})))
print(json.dumps([o.got.reply for o in run_system(Fitbot(engine), cases, 1500)]))
"""


def _replies(seed: str) -> list[str]:
    env = {**os.environ, "PYTHONHASHSEED": seed}
    out = subprocess.run(
        [sys.executable, "-c", _RUN, str(DATA)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    ).stdout
    return list(json.loads(out))


def test_answers_do_not_depend_on_the_hash_seed() -> None:
    cases = load_cases(sorted(DATA.glob("*.yaml")))
    first, second = _replies("0"), _replies("1")
    assert len(first) == len(cases)
    differ = [
        (c.id, a[:80], b[:80]) for c, a, b in zip(cases, first, second, strict=True) if a != b
    ]
    assert not differ, differ[:5]
