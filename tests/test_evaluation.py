"""``fitbot eval`` as a specification: score.py's rules, conversations, the command, peers."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.cli import main
from bot.engine import Engine
from bot.evaluation import (
    PEER_DECLINE,
    Bm25Peer,
    Case,
    EvalFileError,
    Fitbot,
    FuzzyFaqPeer,
    Got,
    load_cases,
    preview,
    problems,
    run_system,
)
from bot.knowledge import KnowledgeBase, default_knowledge_dir, load_knowledge

SHIPPED = default_knowledge_dir({})
DATA = Path(__file__).parent / "data"
# Three sets written from the articles by testers who never saw the engine: the first while it
# was built, the other two as held-out checks before they joined the suite.
PROJECT_SET = tuple(sorted(DATA.glob("*.yaml")))
# Each labelled set with fitbot's floors on it: a point or two under the pass rates measured
# when the set joined (or last rose), so a knowledge or engine edit that loses answers fails.
# The sets were written from the articles by testers who never saw the engine; questions-4/
# dialogs-4 (D), questions-5/dialogs-5 (F), questions-6/dialogs-6 (G) and questions-7/dialogs-7
# (E2, the final set) record their first-look scores in their headers.
SETS = {
    "first three": (
        ("questions.yaml", "questions-2.yaml", "questions-3.yaml"),
        ("dialogs.yaml", "dialogs-2.yaml", "dialogs-3.yaml"),
        {"in": 95.0, "out": 98.0, "safety": 97.0, "turn": 96.0},
    ),
    "D": (
        ("questions-4.yaml",),
        ("dialogs-4.yaml",),
        {"in": 95.0, "out": 97.0, "safety": 98.0, "turn": 90.0},
    ),
    "F": (
        ("questions-5.yaml",),
        ("dialogs-5.yaml",),
        {"in": 91.0, "out": 95.0, "safety": 98.0, "turn": 95.0},
    ),
    "G": (
        ("questions-6.yaml",),
        ("dialogs-6.yaml",),
        {"in": 90.0, "out": 95.0, "safety": 98.0, "turn": 89.0},
    ),
    "E2 (final)": (
        ("questions-7.yaml",),
        ("dialogs-7.yaml",),
        {"in": 89.0, "out": 92.0, "safety": 98.0, "turn": 94.0},
    ),
}


@pytest.fixture(scope="module")
def shipped() -> KnowledgeBase:
    return load_knowledge(SHIPPED)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> KnowledgeBase:
    """Two exercises with FAQs, beside the shipped language and sources files."""
    root = tmp_path_factory.mktemp("kb")
    for name in ("language.yaml", "sources.yaml"):
        shutil.copy(SHIPPED / name, root / name)
    source = yaml.safe_load((SHIPPED / "sources.yaml").read_text())["articles"][0]["id"]
    records = {
        "zercher-carry": {
            "name": "Zercher carry",
            "summary": "Walking while holding a barbell in the crook of your elbows.",
            "faq": [
                {
                    "q": "How far should I walk with a zercher carry?",
                    "also": ["zercher carry distance"],
                    "a": "Walk 20 to 40 metres per set.",
                    "intent": "programming",
                }
            ],
        },
        "copenhagen-plank": {
            "name": "Copenhagen plank",
            "summary": "A side plank with the top leg on a bench, for the adductors.",
            "faq": [
                {
                    "q": "Which muscles does the copenhagen plank train?",
                    "a": "Mostly the adductors of the top leg, and the obliques.",
                    "intent": "muscles",
                }
            ],
        },
    }
    (root / "exercises").mkdir()
    for rid, body in records.items():
        record = {"id": rid, "kind": "exercise", "source": source, **body}
        (root / "exercises" / f"{rid}.yaml").write_text(yaml.safe_dump(record))
    return load_knowledge(root)


def case(kind: str = "in", **fields: Any) -> Case:
    return Case(id="t#1", chat="t#1", kind=kind, text="question", **fields)


def write(tmp_path: Path, name: str, items: list[dict[str, Any]]) -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(items, sort_keys=False))
    return path


def eval_json(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, dict[str, Any]]:
    code = main(["eval", "--json", *argv])
    return code, json.loads(capsys.readouterr().out)


# -- score.py's rules ----------------------------------------------------------------------

ANSWER = Got(True, "Reverse squat: exhale as your KNEES come in.")
DECLINE = Got(False, "I don't cover the goblet squat, so I won't guess.")


@pytest.mark.parametrize(
    ("item", "got", "passes"),
    [
        pytest.param(case(), ANSWER, True, id="in-answered"),
        pytest.param(case(), Got(False, ANSWER.reply), False, id="in-declined"),
        pytest.param(case(must=(("exhale",), ("knees",))), ANSWER, True, id="in-every-group"),
        pytest.param(case(must=(("exhale",), ("ankles",))), ANSWER, False, id="in-group-missing"),
        pytest.param(case(must=(("inhale", "exhale"),)), ANSWER, True, id="in-any-of-group"),
        pytest.param(case(must=(("REVERSE SQUAT",),)), ANSWER, True, id="case-insensitive"),
        pytest.param(case(must_not=("knees",)), ANSWER, False, id="in-must-not"),
        pytest.param(case("out"), DECLINE, True, id="out-declined"),
        pytest.param(case("out"), ANSWER, False, id="out-answered"),
        pytest.param(case("out", must_not=("Goblet",)), DECLINE, False, id="out-must-not"),
        pytest.param(case("out", must=(("absent",),)), DECLINE, True, id="out-ignores-must"),
        pytest.param(
            case("safety", must=(("doctor",),)),
            Got(False, "See a doctor."),
            True,
            id="safety-declined-ok",
        ),
        pytest.param(case("safety", must=(("doctor",),)), ANSWER, False, id="safety-must"),
        pytest.param(case("turn"), Got(False, ""), True, id="turn-empty-allowed"),
        pytest.param(case("turn", must_reply=True), Got(False, " "), False, id="turn-must-reply"),
        pytest.param(case("turn", must_reply=True), DECLINE, True, id="turn-replied"),
        pytest.param(case("turn", must_not=("squat",)), DECLINE, False, id="turn-must-not"),
    ],
)
def test_scoring_rules(item: Case, got: Got, passes: bool) -> None:
    assert (not problems(item, got)) is passes


@pytest.mark.parametrize("kind", ["in", "out", "safety", "turn"])
@pytest.mark.parametrize(("length", "passes"), [(1500, True), (1501, False)])
def test_replies_longer_than_max_chars_fail(kind: str, length: int, passes: bool) -> None:
    got = Got(kind != "out", "x" * length)
    assert (not problems(case(kind), got)) is passes
    assert not problems(case(kind), got, max_chars=length)


def test_problems_say_why() -> None:
    found = problems(case(must=(("ankles", "feet"),), must_not=("knees",)), DECLINE)
    assert found == ("declined", "missing one of ['ankles', 'feet']")


# -- reading the files ---------------------------------------------------------------------


def test_files_become_cases(tmp_path: Path) -> None:
    questions = write(
        tmp_path,
        "q.yaml",
        [
            {"q": "first", "exercise": "squat", "intent": "steps", "must": [["a", "b"], "c"]},
            {"q": "second", "kind": "out", "must_not": None},
        ],
    )
    dialogs = write(tmp_path, "d.yaml", [{"name": "talk", "turns": [{"say": "hi"}, {"say": "x"}]}])
    first, second, hi, x = load_cases([questions, dialogs])
    assert (first.kind, first.exercise, first.intent) == ("in", "squat", "steps")
    assert first.must == (("a", "b"), ("c",))  # a bare string is a one-string group
    assert (second.kind, second.must_not) == ("out", ())
    assert (hi.kind, x.kind) == ("turn", "turn")
    assert hi.chat == x.chat != first.chat != second.chat
    assert "talk" in hi.id


@pytest.mark.parametrize(
    ("items", "message"),
    [
        pytest.param({"q": "x"}, "list", id="not-a-list"),
        pytest.param([{"q": "x"}, {"kind": "in"}], "item 2: q", id="no-question"),
        pytest.param([{"q": "x", "kind": "maybe"}], "item 1: kind", id="unknown-kind"),
        pytest.param([{"turns": []}], "item 1: turns", id="empty-dialog"),
    ],
)
def test_malformed_files_name_the_item(tmp_path: Path, items: Any, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(items))
    with pytest.raises(EvalFileError, match=message):
        load_cases([path])


def test_the_same_file_twice_keeps_dialogs_apart(tmp_path: Path) -> None:
    path = write(tmp_path, "d.yaml", [{"turns": [{"say": "hi"}]}])
    one, two = load_cases([path, path])
    assert one.chat != two.chat


# -- conversations -------------------------------------------------------------------------


class Counting:
    """A system that replies with how many messages its conversation has seen."""

    name = "counting"

    def conversation(self) -> Callable[[str], Got]:
        seen: list[str] = []

        def ask(text: str) -> Got:
            seen.append(text)
            return Got(True, str(len(seen)))

        return ask


def test_dialog_turns_share_a_conversation_and_questions_do_not(tmp_path: Path) -> None:
    questions = write(tmp_path, "q.yaml", [{"q": "a"}, {"q": "b"}])
    dialogs = write(
        tmp_path, "d.yaml", [{"turns": [{"say": "c"}, {"say": "d"}]}, {"turns": [{"say": "e"}]}]
    )
    outcomes = run_system(Counting(), load_cases([questions, dialogs]), 1500)
    assert [o.got.reply for o in outcomes] == ["1", "1", "1", "2", "1"]


def test_fitbot_keeps_context_within_a_dialog(shipped: KnowledgeBase) -> None:
    turns = [
        Case("d#1.1", "d#1", "turn", "what muscles does the reverse squat work?"),
        Case("d#1.2", "d#1", "turn", "how do I do it?"),
        Case("q#1", "q#1", "in", "how do I do it?"),
    ]
    first, follow_up, alone = run_system(Fitbot(Engine(shipped)), turns, 1500)
    assert first.got.exercise == follow_up.got.exercise == "reverse-squat"
    assert alone.got.exercise != "reverse-squat"


# -- the peers -----------------------------------------------------------------------------


def test_bm25_answers_with_the_best_unit_and_its_record(tiny: KnowledgeBase) -> None:
    got = Bm25Peer(tiny, min_score=0.0).conversation()("how far to walk with a zercher carry")
    assert got.answered
    assert got.exercise == "zercher-carry"
    assert got.reply.startswith("Zercher carry: ")


def test_bm25_declines_below_its_threshold(tiny: KnowledgeBase) -> None:
    peer = Bm25Peer(tiny, min_score=1000.0)
    assert peer.conversation()("zercher carry") == Got(False, PEER_DECLINE)
    assert Bm25Peer(tiny).conversation()("the capital of France") == Got(False, PEER_DECLINE)


def test_bm25_searches_a_follow_up_with_the_previous_message(tiny: KnowledgeBase) -> None:
    ask = Bm25Peer(tiny, min_score=0.0).conversation()
    ask("tell me about the copenhagen plank")
    assert ask("which muscles?").exercise == "copenhagen-plank"


def test_fuzzy_faq_answers_a_close_phrasing(tiny: KnowledgeBase) -> None:
    got = FuzzyFaqPeer(tiny).conversation()("how far should i walk, zercher carry?")
    assert got == Got(
        True, "Zercher carry: Walk 20 to 40 metres per set.", "zercher-carry", "programming"
    )


@pytest.mark.parametrize(
    "question",
    [pytest.param("what is the capital of france", id="unrelated"), pytest.param("", id="empty")],
)
def test_fuzzy_faq_declines_below_its_cutoff(tiny: KnowledgeBase, question: str) -> None:
    assert FuzzyFaqPeer(tiny).conversation()(question) == Got(False, PEER_DECLINE)


# -- the command ---------------------------------------------------------------------------


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """One question fitbot answers and one no reply can pass: 50%."""
    return write(
        tmp_path,
        "mixed.yaml",
        [
            {
                "q": "how do I do a reverse squat?",
                "exercise": "reverse-squat",
                "must": [["reverse squat"]],
            },
            {"q": "what is a reverse squat?", "must": [["no reply says this"]]},
        ],
    )


@pytest.mark.parametrize(("min_pass", "code"), [("40", 0), ("50", 0), ("60", 1)])
def test_min_pass_sets_the_exit_code(
    mixed: Path, capsys: pytest.CaptureFixture[str], min_pass: str, code: int
) -> None:
    assert main(["eval", str(mixed), "--no-peers", "--min-pass", min_pass]) == code
    err = capsys.readouterr().err
    assert ("below --min-pass" in err and "in   1/2" in err) is bool(code)


def test_json_document(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = eval_json(capsys, str(mixed), "--min-pass", "60")
    assert code == 1
    assert list(doc["kinds"]) == ["fitbot", "BM25", "fuzzy-FAQ"]
    assert doc["kinds"]["fitbot"]["in"] == {"passed": 1, "total": 2, "percent": 50.0}
    assert doc["exercises"]["fitbot"] == {
        "reverse-squat": {"passed": 1, "total": 1, "percent": 100.0}
    }
    assert doc["min_pass"] == {"percent": 60.0, "ok": False, "below": ["in   1/2    50.0%"]}
    (failure,) = doc["failures"]
    assert failure["question"] == "what is a reverse squat?"
    assert failure["problems"] == ["missing one of ['no reply says this']"]
    assert failure["stage"] == "compose"  # the right record and ask; the text lacks it
    stages = doc["stages"]
    assert stages["exercise_recognition"] == {"passed": 1, "total": 1, "percent": 100.0}
    assert stages["failures_by_stage"] == {
        "recognise": 0,
        "interpret": 0,
        "retrieve": 0,
        "compose": 1,
    }
    assert [c["passed"]["fitbot"] for c in doc["cases"]] == [True, False]
    assert set(doc["confusions"]) == {"exercise", "intent"}


def test_table_shows_peers_and_failures(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(mixed)]) == 0
    out = capsys.readouterr().out
    assert "fitbot" in out and "BM25" in out and "fuzzy-FAQ" in out
    assert "FAIL [in] mixed.yaml#2 (compose): 'what is a reverse squat?'" in out
    assert "stages (fitbot)" in out and "failures by stage:" in out


def test_no_peers(mixed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = eval_json(capsys, str(mixed), "--no-peers")
    assert list(doc["kinds"]) == ["fitbot"]


def test_knowledge_from_the_environment(
    mixed: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    copy = shutil.copytree(SHIPPED, tmp_path / "kb")
    monkeypatch.setenv("FITBOT_KNOWLEDGE", str(copy))
    _, doc = eval_json(capsys, str(mixed), "--no-peers")
    assert doc["knowledge"] == str(copy)


def test_unreadable_inputs_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", str(tmp_path / "missing.yaml")]) == 2
    assert "missing.yaml" in capsys.readouterr().err
    good = write(tmp_path, "q.yaml", [{"q": "x"}])
    assert main(["--knowledge", str(tmp_path / "nowhere"), "eval", str(good)]) == 2


def test_preview_flattens_and_cuts_at_a_word() -> None:
    assert preview("Title\n\n- one\n- two") == "Title | - one | - two"
    assert preview("aaa bbb ccc ddd", limit=10) == "aaa bbb … (15 chars)"


# -- the project's own labelled set --------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SETS))
def test_each_labelled_set_stays_above_its_floors(
    name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    questions, dialogs, floors = SETS[name]
    _, doc = eval_json(capsys, *(str(DATA / f) for f in (*questions, *dialogs)), "--no-peers")
    kinds = doc["kinds"]["fitbot"]
    for kind, floor in floors.items():
        assert kinds[kind]["percent"] >= floor, (name, kind, kinds[kind], doc["failures"])


def test_every_file_is_in_a_set() -> None:
    named = {f for questions, dialogs, _ in SETS.values() for f in (*questions, *dialogs)}
    assert named == {p.name for p in PROJECT_SET}


def test_project_set_beats_both_peers(capsys: pytest.CaptureFixture[str]) -> None:
    _, doc = eval_json(capsys, *map(str, PROJECT_SET))
    kinds = doc["kinds"]
    for kind, rate in kinds["fitbot"].items():
        for peer in ("BM25", "fuzzy-FAQ"):
            assert rate["percent"] > kinds[peer][kind]["percent"], (kind, peer)
