"""``fitbot kb draft``: knowledge drafted from articles.

The shipped articles (copies in tests/data/articles) must each give records that validate once
reviewed and recover most of the shipped records' muscles, steps, mistakes with fixes and
cautions. Two articles written for these tests, in the same styles but about exercises the
drafter was never tuned on (glute-bridge.txt, push-up-vs-bench-press.txt), check that it reads
article structure in general: their expected records are spelled out below.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.drafting import draft_text
from bot.drafting.article import Item, ItemList, Paragraph, parse
from bot.drafting.model import DraftRecord, Value
from bot.drafting.recovery import measure
from bot.engine import Engine
from bot.knowledge import default_knowledge_dir, load_knowledge
from bot.review import REWRITE, TODO, unreviewed
from bot.schema import Record
from bot.text import words

ARTICLES = Path(__file__).parent / "data" / "articles"
SHIPPED = ("reverse-squat", "negative-squat", "backwards-leg-hold", "squat-vs-hip-hinge")
WRITTEN_FOR_TESTS = ("glute-bridge", "push-up-vs-bench-press")


def draft(name: str) -> list[DraftRecord]:
    path = ARTICLES / f"{name}.txt"
    return list(draft_text(path.read_text(encoding="utf-8"), path.name).records)


def reviewed(name: str) -> dict[str, Record]:
    return {r.id: Record.model_validate(r.reviewed()) for r in draft(name)}


def review(directory: Path) -> None:
    """What the coach does, as far as a test can: every mark written away."""
    for path in directory.rglob("*.yaml"):
        text = path.read_text(encoding="utf-8")
        text = text.replace(f"{REWRITE} ", "").replace(f"{TODO} ", "Written by the coach: ")
        path.write_text(text, encoding="utf-8")


def values(data: Any, field: str = "") -> Iterator[tuple[str, Value]]:
    if isinstance(data, Value):
        yield field, data
    elif isinstance(data, dict):
        for key, item in data.items():
            yield from values(item, f"{field}.{key}" if field else key)
    elif isinstance(data, list):
        for index, item in enumerate(data):
            yield from values(item, f"{field}[{index}]")


# -- reading the article's structure ----------------------------------------------------------

BULLETED = """Title Of The Piece: Something

Muscles Worked

The intro line introduces the list:

  • Primary Movers:
    • Gluteus Maximus: the main mover.
    • Hamstrings: help it.
  • Stabilizers:
    • Core: keeps you steady.

full squat side view

Step-by-Step

  1. Starting Position:

    • Stand tall.
  2. The Lift:

    • Lift the leg.
    continued on a second line.
"""


def test_headings_lists_and_captions_are_told_apart() -> None:
    article = parse(BULLETED)

    assert article.title == "Title Of The Piece: Something"
    assert [s.heading for s in article.sections] == ["Muscles Worked", "Step-by-Step"]
    muscles = article.sections[0].blocks
    assert isinstance(muscles[0], Paragraph) and muscles[0].text.endswith(":")
    assert isinstance(muscles[1], ItemList)
    primary, stabilisers = muscles[1].items
    assert [c.label for c in primary.children] == ["Gluteus Maximus", "Hamstrings"]
    assert stabilisers.children[0].body == "keeps you steady."
    assert len(muscles) == 2  # the caption is dropped
    (steps,) = article.sections[1].blocks
    assert isinstance(steps, ItemList) and steps.numbered
    lift: Item = steps.items[1]
    assert (
        lift.label == "The Lift"
        and lift.children[0].text == "Lift the leg. continued on a second line."
    )


def test_every_drafted_sentence_is_marked_and_says_where_it_came_from() -> None:
    text = (ARTICLES / "glute-bridge.txt").read_text(encoding="utf-8").splitlines()
    (record,) = draft("glute-bridge")

    checked = 0
    for field, value in values(record.fields):
        if value.todo:
            assert value.where is None, field
            continue
        assert value.where is not None, field
        lines = " ".join(text[value.where.first - 1 : value.where.last])
        said = set(words(lines)) | set(words(value.where.heading))
        if value.rewrite:
            # The article's own words, every one of them on the lines it names.
            assert set(words(value.text)) <= said, (field, value)
            assert record.data() and value.marked().startswith(REWRITE)
            checked += 1
    assert checked > 30


# -- the shipped articles --------------------------------------------------------------------


@pytest.mark.parametrize("name", SHIPPED)
def test_a_shipped_article_drafts_records_that_validate_once_reviewed(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "drafts"

    assert main(["kb", "draft", str(ARTICLES / f"{name}.txt"), "--out", str(out)]) == 0
    assert main(["kb", "check", str(out)]) == 0  # a draft loads, so it can be tried out
    assert main(["kb", "check", str(out), "--strict"]) == 1  # but is not published
    assert unreviewed(out)

    review(out)

    assert main(["kb", "check", str(out), "--strict"]) == 0
    kb = load_knowledge(out)
    assert any(r.kind == "exercise" for r in kb.records.values())


def test_drafts_recover_most_of_the_shipped_records() -> None:
    rows = measure(ARTICLES, load_knowledge(default_knowledge_dir()))

    assert {row.shipped for row in rows} == {
        "reverse-squat",
        "negative-squat",
        "standing-hip-extension",
        "squat",
        "hip-hinge",
    }
    for row in rows:
        found = sum(c.found for c in (row.muscles, row.steps, row.mistakes, row.cautions))
        total = sum(c.total for c in (row.muscles, row.steps, row.mistakes, row.cautions))
        assert found / total > 0.5, row
        assert (row.muscles.share or 0) >= 0.8, row
        assert (row.cautions.share or 0) >= 0.6, row
    # Where the article lists its mistakes with corrections, they come with their fixes.
    listed = {r.shipped: r for r in rows}
    assert listed["standing-hip-extension"].mistakes.found == 4
    assert listed["negative-squat"].mistakes.found >= 2


def test_a_comparison_article_gives_a_topic_and_an_exercise_per_side() -> None:
    records = {r.id: r for r in draft("squat-vs-hip-hinge")}

    assert set(records) == {"squat-vs-hip-hinge", "squat", "hip-hinge"}
    assert records["squat-vs-hip-hinge"].kind == "topic"
    hinge = Record.model_validate(records["hip-hinge"].reviewed())
    assert "hinge" in hinge.aliases
    assert [len(m.steps) for m in hinge.methods] == [3]


# -- articles written for these tests ---------------------------------------------------------


def test_a_new_article_in_the_same_style_is_read_as_a_coach_would() -> None:
    (record,) = reviewed("glute-bridge").values()

    assert (record.id, record.name) == ("glute-bridge", "Glute bridge")
    assert {"glute bridges", "hip raise", "floor bridge"} <= set(record.aliases)
    assert record.summary.startswith("The glute bridge is a bodyweight exercise")
    assert record.muscles is not None
    assert [m.name for m in record.muscles.primary] == ["gluteus maximus", "hamstrings"]
    assert (record.muscles.primary[1].detail or "").startswith("biceps femoris")
    assert [m.name for m in record.muscles.stabilisers] == ["core", "adductors"]
    assert [(m.name, len(m.steps), len(m.tips)) for m in record.methods] == [
        ("Floor", 5, 1),
        ("Single-leg (harder)", 3, 1),
    ]
    assert record.methods[0].steps[0].text.startswith("Lie on your back")
    mistakes = [(m.mistake.split(":")[0], m.fix.split()[0]) for m in record.mistakes]
    assert mistakes == [
        ("Pushing Through the Toes", "To"),
        ("Overarching the Lower Back", "Stop"),
        ("Rushing the Reps", "Slow"),
    ]
    assert [a.who for a in record.avoid_if] == ["People With Acute Back Pain", "Late Pregnancy"]
    assert any("strain the lower back" in c.text for c in record.cautions)
    assert [s.text.split(":")[0] for s in record.suits] == ["Desk Workers"]
    assert [a.name for a in record.alternatives] == ["hip thrusts"]
    assert [b.name for b in record.benefits] == [
        "Stronger Glutes",
        "Kinder to the Back",
        "No Equipment",
    ]
    assert record.programming[0].text.startswith("Beginners can start with 2 to 3 sets")
    assert [(f.intent, f.stance) for f in record.faq] == [
        ("benefits", "yes"),
        ("programming", None),
    ]


def test_what_the_article_lacks_is_listed_not_invented() -> None:
    (record,) = draft("glute-bridge")

    assert "checklist" in record.unfilled and "equipment" in record.unfilled
    assert "checklist" not in record.fields or not record.fields["checklist"]
    assert any("distinct_from" in hint for hint in record.hints)  # the wrestler's bridge


def test_a_new_comparison_article_is_split_by_side() -> None:
    records = reviewed("push-up-vs-bench-press")

    push, bench = records["push-up"], records["bench-press"]
    assert records["push-up-vs-bench-press"].kind == "topic"
    assert [len(m.steps) for m in push.methods] == [3]
    assert [len(m.steps) for m in bench.methods] == [4]
    assert bench.methods[0].tips[0].text.startswith("Set the bar")
    assert push.muscles is not None and bench.muscles is not None
    assert {"chest", "triceps", "shoulders"} <= {m.name for m in push.muscles.primary}
    assert {"pectorals", "triceps"} <= {m.name for m in bench.muscles.primary}
    assert [m.mistake.split()[:3] for m in push.mistakes] == [["Many", "people", "let"]]
    assert bench.mistakes == ()
    assert any("irritate your shoulders" in c.text for c in bench.cautions)
    assert "press" not in bench.aliases  # "press the bar" is a verb, not a name


def test_a_reviewed_draft_answers_questions(tmp_path: Path) -> None:
    out = tmp_path / "drafts"
    assert main(["kb", "draft", str(ARTICLES / "glute-bridge.txt"), "--out", str(out)]) == 0
    review(out)

    engine = Engine(load_knowledge(out))
    answer = engine.ask("what muscles does a hip raise work?").answer

    assert (answer.answered, answer.exercise, answer.intent) == (True, "glute-bridge", "muscles")
    shown = " ".join(item for block in answer.blocks for item in block.items).lower()
    assert "gluteus maximus" in shown and "adductors" in shown


# -- the command -----------------------------------------------------------------------------


def test_drafting_twice_needs_force_and_adds_the_source_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "drafts"
    article = str(ARTICLES / "glute-bridge.txt")

    assert main(["kb", "draft", article, "--out", str(out)]) == 0
    assert main(["kb", "draft", article, "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert main(["kb", "draft", article, "--out", str(out), "--force"]) == 0

    sources = yaml.safe_load((out / "sources.yaml").read_text())["articles"]
    assert [a["id"] for a in sources] == ["glute-bridge"]
    assert (out / "language.yaml").read_text() == (
        default_knowledge_dir() / "language.yaml"
    ).read_text()


def test_an_unreadable_article_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "draft", str(tmp_path / "missing.txt"), "--out", str(tmp_path)]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("name", [*SHIPPED, *WRITTEN_FOR_TESTS])
def test_a_draft_file_is_yaml_whatever_the_article_says(name: str) -> None:
    from bot.drafting.emit import record_yaml

    for record in draft(name):
        assert yaml.safe_load(record_yaml(record, name)) == record.data()
