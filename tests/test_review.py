"""Review marks: values still to be written or rewritten load, and ``kb check --strict``
refuses them, naming file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.knowledge import default_knowledge_dir
from bot.review import REWRITE, TODO, is_marked, unreviewed


@pytest.fixture
def kb(tmp_path: Path) -> Path:
    copy = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir(), copy)
    path = copy / "exercises" / "wall-squat.yaml"
    data = yaml.safe_load(path.read_text())
    data["summary"] = f"{REWRITE} {data['summary']}"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def test_marks_are_found_with_file_and_field(kb: Path) -> None:
    (problem,) = unreviewed(kb)

    assert (problem.file, problem.field) == ("exercises/wall-squat.yaml", "summary")
    assert "rewrite it in your own words" in problem.message


@pytest.mark.parametrize(
    ("text", "marked"),
    [(f"{REWRITE} x", True), (f"  {TODO} x", True), ("Rewrite: x", False), ("x TODO: y", False)],
)
def test_only_a_leading_mark_counts(text: str, marked: bool) -> None:
    assert is_marked(text) is marked


def test_kb_check_passes_a_draft_and_says_what_is_unreviewed(
    kb: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["kb", "check", str(kb)]) == 0
    out = capsys.readouterr().out
    assert ": ok (" in out and "1 value(s) in 1 file(s) still marked" in out


def test_kb_check_strict_refuses_a_draft(kb: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kb", "check", str(kb), "--strict"]) == 1
    assert "exercises/wall-squat.yaml: summary: not reviewed" in capsys.readouterr().err


def test_kb_check_strict_passes_the_shipped_knowledge() -> None:
    assert main(["kb", "check", "--strict"]) == 0
