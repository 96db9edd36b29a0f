"""Every number in :class:`~bot.engine.tuning.Tuning` is pinned: moving it by the step given
here changes the verdict on at least one labelled message of ``tests/data``, whose pass rates
``tests/test_evaluation.py`` holds to floors. A number that no step moves is dead weight and
should go."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

import pytest

from bot.engine import Engine
from bot.engine.tuning import DEFAULT, Tuning
from bot.evaluation import Case, Fitbot, load_cases, run_system
from bot.knowledge import KnowledgeBase

DATA = Path(__file__).resolve().parent.parent / "data"

# field -> what to move it to (a factor for floats, a step for integers).
STEPS: dict[str, float] = {
    "alias": 0.75,
    "one_word_alias": 0.5,
    "generic_name": 1.25,
    "partial": 1.25,
    "partial_share": 2.0,
    "distinctive_df": -1,
    "description_terms": -1,
    "hint": 0.5,
    "context": 0.75,
    "later_name": 0.75,
    "described_fit": 0.75,
    "described_margin": 0.5,
    "ask_prior": 0.5,
    "phrasing": 0.5,
    "method": 0.5,
    "situation": 2.0,
    "stance": 2.0,
    "record_prior": 0.5,
    "cue_weight": 0.5,
    "foreign_weight": 0.5,
    "everyday": 0.75,
    "specific": 0.5,
    "global_evidence": 0.5,
    "answers": 0.5,
    "global_answers": 0.5,
}


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load_cases(sorted(DATA.glob("*.yaml")))


@pytest.fixture(scope="module")
def verdicts(engine: Engine, cases: list[Case]) -> list[bool]:
    return [o.passed for o in run_system(Fitbot(engine), cases, 1500)]


def moved(field: str) -> Tuning:
    value = getattr(DEFAULT, field)
    step = STEPS[field]
    new = value + int(step) if isinstance(value, int) else value * step
    return replace(DEFAULT, **{field: new})


def test_every_field_has_a_step() -> None:
    assert set(STEPS) == {f.name for f in fields(Tuning)}


@pytest.mark.parametrize("field", sorted(STEPS))
def test_moving_a_number_changes_a_labelled_answer(
    field: str, knowledge: KnowledgeBase, cases: list[Case], verdicts: list[bool]
) -> None:
    engine = Engine(knowledge, moved(field))
    after = [o.passed for o in run_system(Fitbot(engine), cases, 1500)]
    changed = sum(a != b for a, b in zip(verdicts, after, strict=True))
    assert changed, f"moving {field} to {getattr(moved(field), field)} changes no answer"
