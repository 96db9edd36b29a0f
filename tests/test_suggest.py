"""``fitbot report unanswered --suggest``: declined questions point to the right knowledge, and
the snippets are ready to paste (valid once their TODOs are written) while nothing changes."""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.engine import Engine
from bot.knowledge import default_knowledge_dir, load_knowledge
from bot.review import TODO, unreviewed
from bot.state.store import SqliteStore, UnansweredQuestion
from bot.suggest import Suggester, Suggestion
from bot.unanswered import group_questions

NOW = time.time()

# Questions people asked that the bot declined or answered unsure, with where the coach should
# add knowledge: (record, kind of suggestion), or (stub id, "record") for a new topic.
DECLINED = [
    ("how many calories does a squat burn", ("squat", "faq")),
    ("calories burned doing squats?", ("squat", "faq")),
    ("what shoes should i wear for deadlifts", ("deadlift", "faq")),
    ("how often should i do kettlebell swings", ("kettlebell-swing", "faq")),
    ("how long should i hold a wall sit for", ("wall-squat", "faq")),
    ("how many reps per set on negative squats", ("negative-squat", "questions")),
    ("what about pilates", ("pilates", "record")),
    ("does a goblet squat work glutes", ("goblet-squat", "record")),
    ("hip thrust or glute bridge, which is better?", ("hip-thrust", "record")),
]


@pytest.fixture(scope="module")
def suggester(engine: Engine) -> Suggester:
    return Suggester(engine)


def suggest(suggester: Suggester, *texts: str) -> Suggestion:
    questions = [UnansweredQuestion(t, NOW, False, 0.0) for t in texts]
    (group,) = group_questions(questions, cutoff=0)  # one group, whatever the texts
    return suggester.suggest(group)


@pytest.mark.parametrize(("text", "expected"), DECLINED, ids=[q for q, _ in DECLINED])
def test_a_declined_question_points_to_the_right_record(
    engine: Engine, suggester: Suggester, text: str, expected: tuple[str, str]
) -> None:
    answer = engine.ask(text).answer
    assert not answer.answered or answer.confidence < 0.5  # it would be in the report

    found = suggest(suggester, text)

    assert (found.record, found.kind) == expected
    if found.kind == "record":
        assert found.nearest == "new topic"
    else:
        assert found.nearest.startswith(f"{expected[0]} / ")


def test_a_group_follows_most_of_its_questions(suggester: Suggester) -> None:
    found = suggest(
        suggester,
        "how many calories does a squat burn",
        "how many calories do squats burn",
        "what about pilates",
    )

    assert (found.record, found.kind) == ("squat", "faq")
    faq = yaml.safe_load(found.snippet)["faq"][0]
    assert faq["q"] == "how many calories does a squat burn"
    assert faq["a"].startswith(TODO)


def test_more_questions_repeat_the_item_with_the_new_phrasing(suggester: Suggester) -> None:
    found = suggest(suggester, "How many reps per set on negative squats?")

    (item,) = yaml.safe_load(found.snippet)
    record = load_knowledge(default_knowledge_dir()).records["negative-squat"]
    index = int((found.field or "").split("[")[1].rstrip("]"))
    assert found.field == f"programming[{index}]"
    assert item["text"] == record.programming[index].text
    assert item["questions"][-1] == "how many reps per set on negative squats"


def test_pasted_snippets_validate_once_their_todos_are_written(
    suggester: Suggester, tmp_path: Path
) -> None:
    kb = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), kb)
    more = suggest(suggester, "how many reps per set on negative squats")
    faq = suggest(suggester, "how many calories does a squat burn")
    stub = suggest(suggester, "what about pilates")

    path = kb / more.file
    data = yaml.safe_load(path.read_text())
    data["programming"][int((more.field or "")[len("programming[") : -1])] = yaml.safe_load(
        more.snippet
    )[0]
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    path = kb / faq.file
    data = yaml.safe_load(path.read_text())
    data.setdefault("faq", []).extend(yaml.safe_load(faq.snippet)["faq"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    stub_data = yaml.safe_load(stub.snippet)
    stub_data["source"] = "squat-vs-hip-hinge"  # the coach names the article
    (kb / stub.file).write_text(yaml.safe_dump(stub_data, sort_keys=False))

    assert load_knowledge(kb)  # loads: a draft can be tried out
    assert len(unreviewed(kb)) == 3  # the faq's answer, the stub's summary and answer
    assert main(["kb", "check", str(kb), "--strict"]) == 1

    for file in (faq.file, stub.file):
        text = (kb / file).read_text().replace(TODO, "Written by the coach:")
        (kb / file).write_text(text)
    assert main(["kb", "check", str(kb), "--strict"]) == 0
    assert "how many reps per set on negative squats" in str(load_knowledge(kb).records)


def _digest(directory: Path) -> str:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return hashlib.sha256(b"".join(p.read_bytes() for p in files)).hexdigest()


async def test_the_command_suggests_and_changes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    kb = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), kb)
    before = _digest(kb)
    state = tmp_path / "state.sqlite3"
    store = SqliteStore(state)
    for text, _ in DECLINED:
        await store.record_unanswered(UnansweredQuestion(text, NOW, False, 0.0))
    await store.close()

    flags = ["--knowledge", str(kb), "report", "unanswered", "--state", str(state), "--suggest"]
    assert main([*flags, "--json"]) == 0
    groups = json.loads(capsys.readouterr().out)["groups"]
    assert main(flags) == 0
    text = capsys.readouterr().out

    pointed = {g["example"]: g["suggestion"]["record"] for g in groups}
    assert pointed["what about pilates"] == "pilates"
    assert pointed["what shoes should i wear for deadlifts"] == "deadlift"
    assert all(yaml.safe_load(g["suggestion"]["yaml"]) for g in groups)
    assert "nearest: new topic" in text and "nearest: deadlift / " in text
    assert _digest(kb) == before


async def test_without_suggest_the_report_is_unchanged(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state.sqlite3"
    store = SqliteStore(state)
    await store.record_unanswered(UnansweredQuestion("what about pilates", NOW, False, 0.0))
    await store.close()

    assert main(["report", "unanswered", "--state", str(state), "--json"]) == 0
    (group,) = json.loads(capsys.readouterr().out)["groups"]
    assert "suggestion" not in group
