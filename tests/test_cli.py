"""The ``fitbot`` command line: ``ask``, ``ask --json`` (a contract) and ``chat``."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest

from bot.cli import main

JSON_KEYS = {
    "chat",
    "question",
    "answered",
    "exercise",
    "intent",
    "confidence",
    "reply",
    "suggestions",
}


def run_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], stdin: str
) -> list[dict[str, object]]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    assert main(["ask", "--json"]) == 0
    return [json.loads(line) for line in capsys.readouterr().out.splitlines()]


def test_ask_prints_a_plain_answer(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "what", "muscles", "does", "the", "reverse", "squat", "work"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Reverse squat: muscles")
    assert "psoas" in out and "Source: " in out


def test_ask_json_one_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask", "--json", "reverse squat muscles"]) == 0
    obj = json.loads(capsys.readouterr().out)
    assert set(obj) == JSON_KEYS
    assert obj["answered"] is True
    assert (obj["exercise"], obj["intent"]) == ("reverse-squat", "muscles")
    assert 0.0 <= obj["confidence"] <= 1.0
    assert "psoas" in obj["reply"]


def test_ask_json_lines_share_context_per_chat(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    lines = [
        {"chat": "a", "text": "how do I do a reverse squat?"},
        {"chat": "b", "text": "what are negative squats?"},
        {"chat": "a", "text": "what muscles does it work?"},
        {"chat": "b", "text": "and the mistakes?"},
    ]
    out = run_json(monkeypatch, capsys, "".join(json.dumps(x) + "\n" for x in lines))
    assert [o["chat"] for o in out] == ["a", "b", "a", "b"]
    assert (out[2]["exercise"], out[2]["intent"]) == ("reverse-squat", "muscles")
    assert (out[3]["exercise"], out[3]["intent"]) == ("negative-squat", "mistakes")
    assert all(set(o) == JSON_KEYS for o in out)


def test_plain_lines_are_separate_conversations(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_json(
        monkeypatch, capsys, "how do I do a reverse squat?\nwhat muscles does it work?\n"
    )
    assert out[0]["chat"] != out[1]["chat"]
    assert out[1]["answered"] is False  # "it" refers to nothing in its own conversation


def test_declines_are_marked(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    out = run_json(monkeypatch, capsys, "bench press form\n{not json\n")
    assert out[0]["answered"] is False and out[0]["exercise"] is None
    assert out[1]["question"] == "{not json"  # answered as text, nothing lost


def test_ask_without_a_question(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["ask"]) == 2
    assert "give a question" in capsys.readouterr().err


def test_chat_in_a_terminal() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli", "chat"],
        input="how do i do a negative squat\nand the mistakes?\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "Hi, I'm fitbot" in proc.stdout
    assert "Negative squat: mistakes" in proc.stdout


def test_no_token_falls_back_to_the_terminal_chat(monkeypatch: pytest.MonkeyPatch) -> None:
    env = {"PATH": "/usr/bin:/bin", "TELEGRAM_BOT_TOKEN": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "bot.cli"],
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=True,
    )
    assert "Hi, I'm fitbot" in proc.stdout


@pytest.mark.parametrize(
    "token", ["garbage", "123:short", "no-colon-at-all-abcdefghijklmnopqrstuvwxyz"]
)
def test_a_malformed_token_gets_a_clear_message(
    token: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TELEGRAM_BOT_TOKEN", token)
    assert main(["run"]) == 2
    err = capsys.readouterr().err
    assert "TELEGRAM_BOT_TOKEN is malformed" in err
    assert token not in err and "Traceback" not in err
