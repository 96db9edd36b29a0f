"""Operating the bot: health, metrics, a log line per update, admin commands, knowledge reloads,
unanswered questions kept across a SIGTERM.

The real application (build_application + serve) runs against the fake Bot API on 127.0.0.1;
one test runs ``fitbot run`` as a process to send it real signals. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import shutil
import signal
import socket
import sys
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.admin import NOT_ALLOWED, reload_report, split_message
from bot.answers import Answer
from bot.cli import main
from bot.engine import Engine
from bot.errors import ConfigError, KnowledgeError, Problem
from bot.knowledge import default_knowledge_dir, load_knowledge
from bot.logs import STRUCTURED, ChatHasher, LogfmtFormatter, logfmt
from bot.metrics import replica_name
from bot.operations import (
    KnowledgeSummary,
    ReloadResult,
    is_unanswered,
    operations_of,
)
from bot.settings import Secret, Settings
from bot.state.store import SqliteStore
from bot.telegram.app import RedactingFilter, build_application, run, serve
from bot.telegram.handlers import COMMANDS
from tests import harness
from tests.fake_bot_api import FakeBotApi, parse_html
from tests.harness import free_port, running
from tests.test_dockerfile import DOCKERFILE, final_stage_env, parse_dockerfile

TIMEOUT = 10.0
ADMIN = 10
SOMEONE = 11
HOW = "how do I do a reverse squat?"
CALORIES = "how many calories does a squat burn"
CALORIES_AGAIN = "how many calories do squats burn"
MOONWALK = "teach me the moonwalk"
LAST_STEP = "Repeat for your reps and sets."
RELOADED_STEP = "Repeat for your reps and sets, then rest two minutes."
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def knowledge_copy(tmp_path: Path) -> Path:
    """A knowledge directory the test may edit."""
    copy = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir({}), copy)
    return copy


def settings_for(api: FakeBotApi, tmp_path: Path, **changes: Any) -> Settings:
    return harness.settings_for(
        api, tmp_path / "state.sqlite3", **{"admins": frozenset({ADMIN}), **changes}
    )


async def get(port: int, path: str) -> tuple[int, str]:
    timeout = aiohttp.ClientTimeout(total=TIMEOUT)
    async with (
        aiohttp.ClientSession(timeout=timeout) as http,
        http.get(f"http://127.0.0.1:{port}{path}") as response,
    ):
        return response.status, await response.text()


async def scrape(port: int) -> Samples:
    status, text = await get(port, "/metrics")
    assert status == 200
    families = list(text_string_to_metric_families(text))
    assert all(s.labels.get("replica") == replica_name() for f in families for s in f.samples)
    return {
        (s.name, frozenset((k, v) for k, v in s.labels.items() if k != "replica")): s.value
        for family in families
        for s in family.samples
    }


def sample(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def plain(message: dict[str, Any]) -> str:
    return parse_html(message["text"]) if message.get("parse_mode") else str(message["text"])


async def settle(api: FakeBotApi, chat_id: int, expected: int) -> list[dict[str, Any]]:
    """Messages to ``chat_id`` once ``expected`` arrived, with no extra one close behind."""
    sent = await api.wait_sent(chat_id, expected, TIMEOUT)
    await asyncio.sleep(0.05)
    assert len(api.sent(chat_id)) == expected, [plain(m) for m in api.sent(chat_id)]
    return sent


# -- health ----------------------------------------------------------------------------------


async def test_healthz_is_503_until_the_bot_is_initialised_then_200_until_it_stops(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    settings = settings_for(fake_api, tmp_path, metrics_port=port)
    application = build_application(settings, engine, SqliteStore(settings.state))
    fake_api.stall_next("getMe", 0.5)  # initialisation waits on getMe
    stop = asyncio.Event()
    task = asyncio.create_task(serve(application, settings, stop))
    try:
        first = None
        while first is None:
            try:
                first = await get(port, "/healthz")
            except aiohttp.ClientConnectionError:
                await asyncio.sleep(0.01)
        await fake_api.wait_for(lambda: application.running, TIMEOUT)
        ready = await get(port, "/healthz")
    finally:
        stop.set()
        await asyncio.wait_for(task, TIMEOUT)

    assert first[0] == 503
    assert json.loads(first[1])["status"] == "unavailable"
    assert ready[0] == 200
    assert json.loads(ready[1])["knowledge_records"] == len(engine.kb.records)
    with pytest.raises(aiohttp.ClientConnectionError):
        await get(port, "/healthz")


async def test_webhook_mode_serves_health_and_metrics_on_the_webhook_and_metrics_ports(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    hook, metrics = free_port(), free_port()
    settings = settings_for(
        fake_api,
        tmp_path,
        webhook_url=f"http://127.0.0.1:{hook}/telegram",
        port=hook,
        metrics_port=metrics,
    )
    async with running(fake_api, engine, settings):
        for port in (hook, metrics):
            assert (await get(port, "/healthz"))[0] == 200
            assert "fitbot_questions_total" in (await get(port, "/metrics"))[1]


def test_a_broken_knowledge_base_at_start_never_becomes_healthy(
    tmp_path: Path, knowledge_copy: Path
) -> None:
    """The bot refuses to start, so the container's health check finds nothing listening."""
    (knowledge_copy / "sources.yaml").write_text("articles: [\n", encoding="utf-8")
    port = free_port()
    settings = Settings(
        token=Secret("123:" + "a" * 35),
        knowledge=knowledge_copy,
        state=tmp_path / "s.sqlite3",
        metrics_port=port,
    )
    root = logging.getLogger()
    level, filters = root.level, {h: list(h.filters) for h in root.handlers}
    try:
        assert run(settings) == 1
    finally:
        root.setLevel(level)
        for handler, kept in filters.items():
            handler.filters[:] = kept
    with socket.socket() as probe:
        assert probe.connect_ex(("127.0.0.1", port)) != 0


# -- metrics ---------------------------------------------------------------------------------


async def test_metrics_count_questions_by_outcome_and_intent_latency_and_api_errors(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    port = free_port()
    async with running(fake_api, engine, settings_for(fake_api, tmp_path, metrics_port=port)):
        fake_api.push_text(1, HOW)
        fake_api.push_text(1, "what are the common mistakes?")
        fake_api.push_text(1, CALORIES)
        fake_api.push_sticker(1)
        await settle(fake_api, 1, 4)
        fake_api.block_chat(2)
        fake_api.push_text(2, HOW)
        await fake_api.wait_for(lambda: sum(c.status == 403 for c in fake_api.calls) == 1, TIMEOUT)
        fake_api.fail_next("sendMessage", 500, times=3)  # retried by the outbox, then delivered
        fake_api.fail_next("sendMessage", 429, retry_after=1)  # waited out, not an error
        fake_api.push_text(3, HOW)
        await settle(fake_api, 3, 1)
        await asyncio.sleep(0.05)
        samples = await scrape(port)

    questions = "fitbot_questions_total"
    assert sample(samples, questions, outcome="answered", intent="steps") == 3
    assert sample(samples, questions, outcome="answered", intent="mistakes") == 1
    assert sample(samples, questions, outcome="declined", intent="none") == 1
    assert sample(samples, "fitbot_answer_latency_seconds_count") == 5
    buckets = {
        dict(labels)["le"]: value
        for (name, labels), value in samples.items()
        if name == "fitbot_answer_latency_seconds_bucket"
    }
    assert buckets["+Inf"] == 5
    assert {"0.01", "0.1", "1.0", "10.0"} <= set(buckets)
    assert list(buckets.values()) == sorted(buckets.values())  # cumulative
    assert sample(samples, "fitbot_updates_total", type="message") == 6
    errors = "fitbot_telegram_api_errors_total"
    assert sample(samples, errors, method="sendMessage", code="403") == 1
    assert sample(samples, errors, method="sendChatAction", code="403") == 0  # no typing: fast
    assert sample(samples, errors, method="sendMessage", code="500") == 3  # one per attempt
    assert sample(samples, errors, method="sendMessage", code="429") == 0
    assert sample(samples, "fitbot_telegram_flood_waits_total", method="sendMessage") == 1
    assert sample(samples, "fitbot_replies_total", outcome="sent") == 5
    assert sample(samples, "fitbot_replies_total", outcome="blocked") == 1
    assert sample(samples, "fitbot_reply_retries_total", reason="network") == 3
    assert sample(samples, "fitbot_reply_retries_total", reason="flood") == 1
    assert sample(samples, "fitbot_outbox_pending") == 0
    assert sample(samples, "fitbot_receiving") == 1
    assert sample(samples, "fitbot_state_errors_total") == 0
    assert sample(samples, "fitbot_unanswered_recorded_total") == 1
    assert sample(samples, "fitbot_knowledge_records") == len(engine.kb.records)
    assert sample(samples, "process_resident_memory_bytes") > 0


async def test_each_application_has_its_own_registry(engine: Engine, tmp_path: Path) -> None:
    api = FakeBotApi()  # not started: nothing is sent
    stores = [SqliteStore(tmp_path / f"{n}.sqlite3") for n in range(2)]
    first, second = (build_application(settings_for(api, tmp_path), engine, s) for s in stores)
    for store in stores:
        await store.close()

    assert operations_of(first).metrics.registry is not operations_of(second).metrics.registry


# -- admin commands --------------------------------------------------------------------------


async def test_non_admins_are_told_not_allowed_and_nothing_else_happens(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path)) as application:
        ops = operations_of(application)
        knowledge = ops.knowledge
        fake_api.push_command(SOMEONE, "reload")
        fake_api.push_command(SOMEONE, "stats")
        replies = await settle(fake_api, SOMEONE, 2)
        counts = ops.metrics.counts()

        assert [m["text"] for m in replies] == [NOT_ALLOWED, NOT_ALLOWED]
        assert ops.knowledge is knowledge
        assert (counts.answered, counts.declined) == (0, 0)
        assert await ops.unanswered_count() == 0
    assert not [c for c in fake_api.calls if c.method == "sendChatAction"]
    assert not {"reload", "stats"} & {c.command for c in COMMANDS}
    assert not {"reload", "stats"} & {c["command"] for c in fake_api.commands}


async def test_stats_show_the_counts_to_an_admin(
    fake_api: FakeBotApi, engine: Engine, tmp_path: Path
) -> None:
    async with running(fake_api, engine, settings_for(fake_api, tmp_path)):
        fake_api.push_text(1, HOW)
        fake_api.push_text(1, CALORIES)
        fake_api.push_text(1, MOONWALK)
        await settle(fake_api, 1, 3)
        fake_api.push_command(ADMIN, "stats")
        (reply,) = await settle(fake_api, ADMIN, 1)

    text = reply["text"]
    assert "Questions since start: 1 answered, 2 declined" in text
    assert "Answered by intent: steps 1" in text
    assert "Unanswered questions kept: 2" in text
    assert f"Knowledge: {len(engine.kb.records)} records" in text
    assert re.search(r"Uptime: 0h 0\dm", text)


async def test_reload_serves_the_edited_knowledge_and_a_broken_edit_keeps_the_old_one(
    fake_api: FakeBotApi, tmp_path: Path, knowledge_copy: Path
) -> None:
    engine = Engine(load_knowledge(knowledge_copy))
    steps = knowledge_copy / "exercises" / "reverse-squat.yaml"
    settings = settings_for(fake_api, tmp_path, knowledge=knowledge_copy)
    async with running(fake_api, engine, settings):
        fake_api.push_text(1, HOW)
        (before,) = await settle(fake_api, 1, 1)
        steps.write_text(steps.read_text().replace(LAST_STEP, RELOADED_STEP), encoding="utf-8")

        fake_api.push_command(ADMIN, "reload")
        (reloaded,) = await settle(fake_api, ADMIN, 1)
        fake_api.push_text(1, HOW)  # the same question: no answer remembered from before
        _, after = await settle(fake_api, 1, 2)

        broken = knowledge_copy / "exercises" / "deadlift.yaml"
        broken.write_text(re.sub(r"(?m)^name: .*$", "name:", broken.read_text()))
        steps.write_text(steps.read_text().replace("kind: exercise", "kind: exercize"))
        with pytest.raises(KnowledgeError) as expected:
            load_knowledge(knowledge_copy)
        fake_api.push_command(ADMIN, "reload")
        await fake_api.wait_sent(ADMIN, 2, TIMEOUT)
        await asyncio.sleep(0.05)
        failed = fake_api.sent(ADMIN)[1:]
        fake_api.push_text(1, HOW)
        *_, still = await settle(fake_api, 1, 3)

    assert LAST_STEP in plain(before)
    assert reloaded["text"].startswith("Reloaded the knowledge base")
    assert RELOADED_STEP in plain(after)
    report = "\n".join(m["text"] for m in failed)
    assert report.startswith(f"Reload failed: {len(expected.value.problems)} problem(s)")
    assert "previous knowledge base" in report
    for problem in expected.value.problems:
        assert str(problem) in report
    assert "exercises/deadlift.yaml: name:" in report
    assert "exercises/reverse-squat.yaml: kind:" in report
    assert RELOADED_STEP in plain(still)


def test_a_long_problem_list_is_split_to_fit_telegram_messages(tmp_path: Path) -> None:
    problems = tuple(
        Problem(f"exercises/e{n}.yaml", f"steps[{n}]", "Input should be a valid string " * 3)
        for n in range(200)
    )
    summary = KnowledgeSummary(tmp_path, 14, 4, 0.0)
    text = reload_report(ReloadResult(summary, problems))

    pieces = split_message(text)

    assert len(pieces) > 1
    assert all(len(piece.encode("utf-16-le")) // 2 <= 4096 for piece in pieces)
    assert "\n".join(pieces) == text


@pytest.mark.parametrize(
    ("text", "limit", "expected"),
    [
        pytest.param("a\nb\nc", 3, ["a\nb", "c"], id="between-lines"),
        pytest.param("abcdefg", 3, ["abc", "def", "g"], id="long-line"),
        pytest.param("\U0001f600" * 3, 4, ["\U0001f600" * 2, "\U0001f600"], id="utf-16"),
        pytest.param("\n\n", 3, [], id="blank"),
    ],
)
def test_split_message(text: str, limit: int, expected: list[str]) -> None:
    assert split_message(text, limit) == expected


# -- a running process: SIGHUP, SIGTERM, logs, the report -------------------------------------


async def test_running_process_reloads_on_sighup_keeps_questions_across_sigterm_and_logs_safely(
    fake_api: FakeBotApi, tmp_path: Path, knowledge_copy: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state, port, chat = tmp_path / "state.sqlite3", free_port(), 987_654_321
    env = {
        **os.environ,
        "TELEGRAM_BOT_TOKEN": fake_api.token,
        "TELEGRAM_BASE_URL": fake_api.base_url,
        "FITBOT_STATE": str(state),
        "FITBOT_KNOWLEDGE": str(knowledge_copy),
        "FITBOT_RATE_LIMIT": "0",
        "FITBOT_LOG_LEVEL": "INFO",
        "FITBOT_METRICS_PORT": str(port),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot.cli", "run", env=env, stderr=asyncio.subprocess.PIPE
    )
    try:
        await wait_healthy(port, process)
        healthcheck = await asyncio.create_subprocess_exec(
            *dockerfile_healthcheck(), env=healthcheck_env(port)
        )
        assert await asyncio.wait_for(healthcheck.wait(), TIMEOUT) == 0

        for text in (HOW, CALORIES, CALORIES_AGAIN, MOONWALK):
            fake_api.push_text(chat, text)
        await fake_api.wait_sent(chat, 4, TIMEOUT)

        steps = knowledge_copy / "exercises" / "reverse-squat.yaml"
        steps.write_text(steps.read_text().replace(LAST_STEP, RELOADED_STEP), encoding="utf-8")
        process.send_signal(signal.SIGHUP)
        await wait_until_reloaded(port)
        fake_api.push_text(chat, HOW)
        *_, after = await fake_api.wait_sent(chat, 5, TIMEOUT)

        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), TIMEOUT)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()

    log = stderr.decode()
    assert process.returncode == 0, log
    assert RELOADED_STEP in plain(after)

    assert main(["report", "unanswered", "--state", str(state), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["total"] == 3
    assert [(g["count"], g["example"]) for g in report["groups"]] == [
        (2, CALORIES),
        (1, MOONWALK),
    ]

    lines = log.splitlines()
    assert all(line.startswith("time=") for line in lines), lines
    updates = [line for line in lines if " msg=update " in line]
    assert len(updates) == 5
    assert all(re.search(r" chat=[0-9a-f]{12} ", line) for line in updates)
    assert all(re.search(r" latency_ms=[0-9.]+", line) for line in updates)
    assert "exercise=reverse-squat intent=steps confidence=1.0 answered=true" in updates[0]
    assert "answered=false" in updates[1]
    assert any("knowledge reloaded" in line for line in lines)
    secret = fake_api.token.partition(":")[2]
    for never in (secret, str(chat), HOW, CALORIES, "calories", "moonwalk"):
        assert never not in log


async def wait_healthy(port: int, process: asyncio.subprocess.Process) -> None:
    deadline = asyncio.get_running_loop().time() + 20
    while asyncio.get_running_loop().time() < deadline:
        assert process.returncode is None, "the bot exited"
        try:
            if (await get(port, "/healthz"))[0] == 200:
                return
        except aiohttp.ClientConnectionError:
            pass
        await asyncio.sleep(0.05)
    raise AssertionError("the bot did not become healthy within 20 s")


async def wait_until_reloaded(port: int) -> None:
    for _ in range(int(TIMEOUT / 0.05)):
        samples = await scrape(port)
        if sample(samples, "fitbot_knowledge_reloads_total", result="ok"):
            return
        assert not sample(samples, "fitbot_knowledge_reloads_total", result="failed")
        await asyncio.sleep(0.05)
    raise AssertionError("no reload within the timeout")


def dockerfile_healthcheck() -> list[str]:
    """The Dockerfile's HEALTHCHECK command, run with this test's Python."""
    args = parse_dockerfile(DOCKERFILE.read_text())[-1].of("HEALTHCHECK")[-1].args
    argv = json.loads(args[args.index("CMD") + 3 :])
    assert argv[0] == "python"
    return [sys.executable, *argv[1:]]


def healthcheck_env(port: int) -> dict[str, str]:
    stages = parse_dockerfile(DOCKERFILE.read_text())
    env = {**os.environ, **final_stage_env(stages), "FITBOT_METRICS_PORT": str(port)}
    env.pop("FITBOT_HEALTHCHECK_URL", None)
    return env


# -- the log line of an update ---------------------------------------------------------------


@pytest.mark.parametrize(("level", "shows_text"), [(logging.INFO, False), (logging.DEBUG, True)])
async def test_update_log_line_has_the_text_only_at_debug(
    fake_api: FakeBotApi,
    engine: Engine,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    level: int,
    shows_text: bool,
) -> None:
    caplog.set_level(level)
    async with running(fake_api, engine, settings_for(fake_api, tmp_path)):
        fake_api.push_text(5, CALORIES)
        await settle(fake_api, 5, 1)
        await asyncio.sleep(0.05)

    (line,) = [r.getMessage() for r in caplog.records if r.getMessage().startswith("update ")]
    assert line.startswith("update type=message chat=")
    assert "answered=false" in line
    assert (f"text={json.dumps(CALORIES)}" in line) is shows_text
    assert " chat=5 " not in line
    if not shows_text:  # nothing logged at INFO carries the message text, or the token
        formatter, secret = LogfmtFormatter(), fake_api.token.partition(":")[2]
        for record in caplog.records:
            shown = formatter.format(record)
            assert "calories" not in shown and secret not in shown


def test_logfmt_quotes_what_needs_quoting_and_leaves_out_none() -> None:
    fields = {"a": "plain-1.0", "b": 'say "hi"\nthere', "c": None, "d": True, "e": 0.5}

    assert logfmt(fields) == 'a=plain-1.0 b="say \\"hi\\"\\nthere" d=true e=0.5'


def test_formatter_writes_one_line_per_record_and_redaction_still_applies() -> None:
    token = "123:secret-value_0123456789012345678901234"
    try:
        raise ValueError(f"boom {token}")
    except ValueError:
        error = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed %s", ("here",), None)
        error.exc_info = sys.exc_info()
    structured = logging.LogRecord("y", logging.INFO, __file__, 1, "update %s", ("a=1",), None)
    setattr(structured, STRUCTURED, True)
    formatter, redact = LogfmtFormatter(), RedactingFilter([token])

    lines = []
    for record in (error, structured):
        redact.filter(record)
        lines.append(formatter.format(record))

    assert all("\n" not in line for line in lines)
    assert re.match(r'time=\S+Z level=error logger=x msg="failed here" exc="Traceback', lines[0])
    assert "secret-value" not in lines[0]
    assert lines[1].endswith("level=info logger=y msg=update a=1")


def test_chat_hashes_are_keyed() -> None:
    salted = ChatHasher(b"salt")

    assert salted(42) == ChatHasher(b"salt")(42) != ChatHasher(b"pepper")(42)
    assert salted(42) != salted(43)
    assert re.fullmatch(r"[0-9a-f]{12}", salted(42))
    assert "42" not in repr(salted) and "salt" not in repr(salted)


# -- what counts as unanswered, and the settings ---------------------------------------------


@pytest.mark.parametrize(
    ("question", "answer", "recorded"),
    [
        pytest.param(CALORIES, Answer(False, "Not covered", ()), True, id="declined"),
        pytest.param("x", Answer(True, "t", (), confidence=0.4), True, id="low-confidence"),
        pytest.param("x", Answer(True, "t", (), confidence=0.5), False, id="confident"),
        pytest.param("/dance", Answer(False, "Unknown command", ()), False, id="bare-command"),
        pytest.param("/checklist moon", Answer(False, "?", ()), True, id="command-with-arg"),
    ],
)
def test_what_is_recorded_as_unanswered(question: str, answer: Answer, recorded: bool) -> None:
    assert is_unanswered(question, answer) is recorded


def test_metrics_settings_come_from_flags_and_environment() -> None:
    env = {"FITBOT_METRICS_PORT": "9090", "FITBOT_METRICS_LISTEN": "0.0.0.0"}

    settings = Settings.from_env(env=env)

    assert (settings.metrics_port, settings.metrics_listen) == (9090, "0.0.0.0")
    assert Settings.from_env(env={}).metrics_port is None
    with pytest.raises(ConfigError, match="FITBOT_METRICS_PORT"):
        Settings.from_env(env={"FITBOT_METRICS_PORT": "http"})
    assert "s4lt-value" not in repr(Settings.from_env(env={"FITBOT_LOG_SALT": "s4lt-value"}))
