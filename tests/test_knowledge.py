"""Loading and validating the knowledge directory: every problem names its file and field."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from bot.cli import main
from bot.engine import Engine
from bot.errors import KnowledgeError
from bot.knowledge import check_knowledge, default_knowledge_dir, load_knowledge

SHIPPED = default_knowledge_dir({})


@pytest.fixture
def kb_dir(tmp_path: Path) -> Path:
    """A writable copy of the shipped knowledge base."""
    target = tmp_path / "knowledge"
    shutil.copytree(SHIPPED, target)
    return target


def edit(path: Path, change: object) -> None:
    """Apply ``change(data)`` to a YAML file in place."""
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


def problems(directory: Path) -> list[str]:
    return [str(p) for p in check_knowledge(directory)]


def test_shipped_knowledge_is_valid() -> None:
    kb = load_knowledge(SHIPPED)
    assert {"reverse-squat", "negative-squat", "standing-hip-extension", "hip-hinge"} <= set(
        kb.records
    )
    assert all(r.source in kb.articles for r in kb.records.values())


def test_every_record_cites_a_known_article_for_every_item() -> None:
    kb = load_knowledge(SHIPPED)
    for record in kb.records.values():
        for field in ("mistakes", "alternatives", "variations", "benefits", "programming", "faq"):
            for item in getattr(record, field):
                assert (item.source or record.source) in kb.articles


def test_env_var_chooses_the_directory(tmp_path: Path) -> None:
    assert default_knowledge_dir({"FITBOT_KNOWLEDGE": str(tmp_path)}) == tmp_path
    assert default_knowledge_dir({}) == SHIPPED


@pytest.mark.parametrize(
    ("file", "change", "expected"),
    [
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["methods"][0].update(stepz=["x"]),
            "exercises/reverse-squat.yaml: methods[0].stepz: unknown field",
            id="unknown-field",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d.pop("summary"),
            "exercises/reverse-squat.yaml: summary: required field is missing",
            id="missing-field",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d.update(aliases="reverse squats"),
            "exercises/reverse-squat.yaml: aliases:",
            id="wrong-type",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["alternatives"][0].update(exercise="psoas-marching"),
            "alternatives[0].exercise: no record with id 'psoas-marching'",
            id="dangling-reference",
        ),
        pytest.param(
            "exercises/negative-squat.yaml",
            lambda d: d["aliases"].append("reverse squats"),
            "'reverse squats' is already claimed by exercises/negative-squat.yaml",
            id="alias-claimed-twice",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d.update(source="some-blog"),
            "exercises/reverse-squat.yaml: source: unknown article 'some-blog'",
            id="unknown-article",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["mistakes"][0].update(source="some-blog"),
            "exercises/reverse-squat.yaml: mistakes[0].source: unknown article 'some-blog'",
            id="unknown-item-article",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["alternatives"][0]["situations"].append("rainy-day"),
            "alternatives[0].situations[4]: unknown situation 'rainy-day'",
            id="unknown-situation",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d.update(id="reverse-squats"),
            "exercises/reverse-squat.yaml: id: 'reverse-squats' does not match the file name",
            id="id-not-file-name",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["faq"][0].update(intent="gossip"),
            "exercises/reverse-squat.yaml: faq[0].intent:",
            id="unknown-intent",
        ),
        pytest.param(
            "exercises/reverse-squat.yaml",
            lambda d: d["alternatives"][0].update(name="Something"),
            "alternatives[0]: Value error, give exactly one of 'exercise'",
            id="alternative-with-two-targets",
        ),
        pytest.param(
            "language.yaml",
            lambda d: d.update(stopwords=["a", True]),
            "language.yaml: stopwords[1]: Input should be a valid string (got True)",
            id="yaml-boolean-trap",
        ),
    ],
)
def test_problem_names_file_and_field(
    kb_dir: Path, file: str, change: object, expected: str
) -> None:
    edit(kb_dir / file, change)
    found = problems(kb_dir)
    assert any(expected in p for p in found), found


def test_malformed_yaml_names_the_line(kb_dir: Path) -> None:
    (kb_dir / "exercises" / "wall-squat.yaml").write_text("id: wall-squat\nname: [unclosed\n")
    found = problems(kb_dir)
    assert any(p.startswith("exercises/wall-squat.yaml: invalid YAML at line") for p in found), (
        found
    )


def test_all_problems_are_reported_together(kb_dir: Path) -> None:
    edit(kb_dir / "exercises" / "reverse-squat.yaml", lambda d: d.update(colour="red"))
    edit(kb_dir / "exercises" / "wall-squat.yaml", lambda d: d.pop("name"))
    (kb_dir / "sources.yaml").unlink()
    found = problems(kb_dir)
    assert "sources.yaml: file is missing" in found
    assert any("reverse-squat.yaml: colour: unknown field" in p for p in found)
    assert any("wall-squat.yaml: name: required field is missing" in p for p in found)


def test_not_a_mapping(kb_dir: Path) -> None:
    (kb_dir / "exercises" / "wall-squat.yaml").write_text("- just\n- a list\n")
    assert "exercises/wall-squat.yaml: must be a mapping of fields" in problems(kb_dir)


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(KnowledgeError, match="not a directory"):
        load_knowledge(tmp_path / "nowhere")


def test_adding_an_exercise_is_only_yaml(kb_dir: Path) -> None:
    (kb_dir / "exercises" / "glute-squeeze.yaml").write_text(
        "id: glute-squeeze\nkind: exercise\nname: Glute squeeze\nsource: backwards-leg-hold\n"
        "summary: Squeeze the glute of the working leg before lifting it.\n"
        "checklist: [Squeeze before you lift.]\n"
    )
    kb = load_knowledge(kb_dir)
    assert [n.text for n in kb.records["glute-squeeze"].checklist] == ["Squeeze before you lift."]
    assert Engine(kb).ask("glute squeeze checklist").answer.exercise == "glute-squeeze"


def test_kb_check_command(
    kb_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert main(["kb", "check", str(kb_dir)]) == 0
    assert "ok (" in capsys.readouterr().out
    edit(kb_dir / "exercises" / "reverse-squat.yaml", lambda d: d.update(colour="red"))
    assert main(["kb", "check", str(kb_dir)]) == 1
    assert "reverse-squat.yaml: colour: unknown field" in capsys.readouterr().err
    monkeypatch.setenv("FITBOT_KNOWLEDGE", str(kb_dir))
    assert main(["kb", "check"]) == 1


def test_commands_refuse_a_broken_knowledge_base(
    kb_dir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    edit(kb_dir / "exercises" / "reverse-squat.yaml", lambda d: d.update(colour="red"))
    monkeypatch.setenv("FITBOT_KNOWLEDGE", str(kb_dir))
    assert main(["ask", "reverse squat muscles"]) == 2
    assert "refusing to start" in capsys.readouterr().err
