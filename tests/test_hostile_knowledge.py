"""A careless or hostile knowledge directory (issue 12, items 1, 3 and 4, and the YAML and
duplicate-id items of its smaller list): checked within seconds and a few hundred MB, every
problem one bounded line, and a /reload of it one message to the admin.

``fitbot kb check`` runs as a process with a time limit and a cap on its address space, so a
regression shows as a failed test, not a hung or swapping machine.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.errors import MAX_MESSAGE_CHARS, MAX_WHERE_CHARS, KnowledgeError
from bot.knowledge import MAX_PROBLEMS, check_knowledge, default_knowledge_dir, load_knowledge
from bot.knowledge_files import MAX_FILE_BYTES, MAX_FILE_VALUES, MAX_TOTAL_VALUES, Limits
from bot.schema import MAX_NAME_CHARS, MAX_QUESTION_CHARS
from tests.fake_bot_api import FakeBotApi
from tests.harness import running, settings_for

TIMEOUT = 10.0
ADMIN = 10
CHECK_SECONDS = 30  # a hostile directory is checked within seconds; this is the hang guard
ADDRESS_SPACE = 1536 << 20  # bytes: a runaway process fails instead of taking the machine
MAX_RSS_MB = 300
MAX_OUTPUT_BYTES = 64 * 1024
REVERSE = "exercises/reverse-squat.yaml"
# The YAML "billion laughs": 462 bytes that expand to 10^9 strings through aliases.
ALIAS_BOMB = """\
lol: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
lol2: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
lol3: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
lol4: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
lol5: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
lol6: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
lol7: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
lol8: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
lol9: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """build_application opts the process in to PTB's timedelta retry_after; undo it after."""
    monkeypatch.setenv("PTB_TIMEDELTA", "1")


@pytest.fixture
def kb_dir(tmp_path: Path) -> Iterator[Path]:
    """A writable copy of the shipped knowledge base. Any FIFO left in it is opened for
    writing at the end, which frees a reader an old build would have left blocked on it."""
    target = tmp_path / "knowledge"
    shutil.copytree(default_knowledge_dir({}), target)
    yield target
    for fifo in target.rglob("*"):
        if fifo.is_fifo():
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))


def edit(path: Path, change: Any) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    change(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")


@dataclass(frozen=True)
class Check:
    """What one ``fitbot kb check`` process did."""

    code: int
    out: str
    seconds: float
    rss_mb: float

    @property
    def problems(self) -> list[str]:
        return [line[2:] for line in self.out.splitlines() if line.startswith("  ")]


CHECK_SCRIPT = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from bot.cli import main
code = main(["kb", "check", sys.argv[1]])
sys.stderr.flush()
# The peak of this program's own memory: VmHWM belongs to the address space exec made, while
# getrusage's ru_maxrss keeps the forking test process's peak from before the exec.
with open("/proc/self/status") as status:
    peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
print("maxrss_kib", peak, file=sys.stderr)
sys.exit(code)
"""


def kb_check(directory: Path) -> Check:
    """``fitbot kb check DIRECTORY`` in a process of its own, bounded in time and memory."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-c", CHECK_SCRIPT.format(limit=ADDRESS_SPACE), str(directory)],
        capture_output=True,
        text=True,
        timeout=CHECK_SECONDS,
        check=False,
    )
    seconds = time.monotonic() - started
    finished = re.search(r"\nmaxrss_kib (\d+)\n\Z", done.stderr)
    assert finished, f"the check did not finish normally: {done.stderr[-2000:]}"
    out = done.stderr[: finished.start()] + done.stdout
    return Check(done.returncode, out, seconds, int(finished.group(1)) / 1024)


def assert_bounded(check: Check) -> None:
    assert check.code == 1, check.out[-2000:]
    assert check.rss_mb < MAX_RSS_MB, check.rss_mb
    assert len(check.out.encode()) < MAX_OUTPUT_BYTES
    assert "Traceback" not in check.out
    for line in check.problems:
        assert len(line) <= 2 * MAX_WHERE_CHARS + MAX_MESSAGE_CHARS + 4


# -- item 1: lengths that no reply holds ------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "limit"),
    [
        pytest.param(lambda d: d.update(name="Reverse squat " * 110), "name", MAX_NAME_CHARS),
        pytest.param(
            lambda d: d["aliases"].insert(0, "r" * 1500), "aliases[0]", MAX_NAME_CHARS, id="alias"
        ),
        pytest.param(
            lambda d: d["faq"][0].update(q="is it safe " * 200), "faq[0].q", MAX_QUESTION_CHARS
        ),
    ],
)
def test_a_name_alias_or_question_longer_than_a_reply_allows_is_a_problem(
    kb_dir: Path, change: Any, field: str, limit: int
) -> None:
    edit(kb_dir / REVERSE, change)

    (problem,) = check_knowledge(kb_dir)

    assert (problem.file, problem.field) == (REVERSE, field)
    assert problem.message.startswith(f"String should have at most {limit} characters (got '")
    assert len(str(problem)) < 200  # the value is quoted in part, not whole


# -- item 3: files that are not files ---------------------------------------------------------


def test_a_fifo_a_device_and_links_out_of_the_directory_are_refused_not_waited_on(
    kb_dir: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "elsewhere.yaml"
    shutil.copy(kb_dir / REVERSE, outside)
    exercises = kb_dir / "exercises"
    os.mkfifo(exercises / "fifo.yaml")
    (exercises / "zero.yaml").symlink_to("/dev/zero")
    (exercises / "outside.yaml").symlink_to(outside)
    (exercises / "folder.yaml").mkdir()
    (exercises / "loop.yaml").symlink_to(exercises / "loop.yaml")
    (kb_dir / "exercise-names.yaml").unlink()
    (kb_dir / "exercise-names.yaml").symlink_to("/dev/zero")
    # A link that stays inside the directory (as a ConfigMap mount makes them) is fine.
    (kb_dir / "data").mkdir()
    shutil.move(kb_dir / "sources.yaml", kb_dir / "data" / "sources.yaml")
    (kb_dir / "sources.yaml").symlink_to(Path("data") / "sources.yaml")

    check = kb_check(kb_dir)

    assert_bounded(check)
    found = "\n".join(check.problems)
    assert "exercises/fifo.yaml: is not a regular file" in found
    assert "exercises/folder.yaml: is not a regular file" in found
    assert "exercises/zero.yaml: is a link to a file outside the knowledge directory" in found
    assert "exercises/outside.yaml: is a link to a file outside the knowledge directory" in found
    assert "exercises/loop.yaml: cannot be read" in found
    assert "exercise-names.yaml: is a link to a file outside" in found
    assert "sources.yaml" not in found
    assert len(check.problems) == 6, found


def test_files_over_the_size_limit_are_refused_before_they_are_read(kb_dir: Path) -> None:
    big = kb_dir / "exercises" / "big.yaml"
    with big.open("wb") as file:  # 50 MB, sparse: nothing but its size costs anything
        file.truncate(50 << 20)
    just_over = kb_dir / "topics" / "just-over.yaml"
    just_over.write_text("id: just-over\n#" + "x" * MAX_FILE_BYTES + "\n")

    check = kb_check(kb_dir)

    assert_bounded(check)
    assert check.problems == [
        f"exercises/big.yaml: is larger than {MAX_FILE_BYTES:,} bytes; refused",
        f"topics/just-over.yaml: is larger than {MAX_FILE_BYTES:,} bytes; refused",
    ]


async def test_a_reload_meeting_a_fifo_answers_and_the_next_reload_does_too(
    fake_api: FakeBotApi, engine: Any, tmp_path: Path, kb_dir: Path
) -> None:
    settings = settings_for(
        fake_api, tmp_path / "state.sqlite3", knowledge=kb_dir, admins=frozenset({ADMIN})
    )
    async with running(fake_api, engine, settings):
        os.mkfifo(kb_dir / "exercises" / "fifo.yaml")
        fake_api.push_command(ADMIN, "reload")
        (first,) = await fake_api.wait_sent(ADMIN, 1, TIMEOUT)
        (kb_dir / "exercises" / "fifo.yaml").unlink()
        fake_api.push_command(ADMIN, "reload")
        _, second = await fake_api.wait_sent(ADMIN, 2, TIMEOUT)

    assert first["text"].startswith("Reload failed: 1 problem(s)")
    assert "exercises/fifo.yaml: is not a regular file" in first["text"]
    assert second["text"].startswith("Reloaded the knowledge base")


# -- item 4: floods -----------------------------------------------------------------------


def test_an_alias_bomb_is_refused_at_once(kb_dir: Path) -> None:
    (kb_dir / REVERSE).write_text(
        (kb_dir / REVERSE).read_text() + ALIAS_BOMB.replace("lol", "bomb")
    )

    check = kb_check(kb_dir)

    assert_bounded(check)
    (problem,) = check.problems
    assert re.fullmatch(
        rf"{REVERSE}: invalid YAML at line \d+, column \d+: aliases \(\*name\) are not allowed "
        r"in knowledge files; write the value out",
        problem,
    )


def test_thousands_of_problems_are_cut_to_a_bounded_list_with_a_count(kb_dir: Path) -> None:
    junk = "\n".join(f"  - {{bad: {n}, worse: [{'x' * 100!r}]}}" for n in range(4000))
    text = (kb_dir / REVERSE).read_text().replace("\nfacts:\n", f"\nfacts:\n{junk}\n", 1)
    (kb_dir / REVERSE).write_text(text)

    check = kb_check(kb_dir)

    assert_bounded(check)
    total = int(re.search(r"knowledge base has (\d+) problem", check.out).group(1))  # type: ignore[union-attr]
    assert total > MAX_PROBLEMS
    assert len(check.problems) == MAX_PROBLEMS + 1
    assert check.problems[-1] == f"... and {total - MAX_PROBLEMS} more"


def test_files_of_very_many_small_values_are_refused_within_seconds(kb_dir: Path) -> None:
    # Each about 0.5 MB: within the byte limits, but a quarter of a million values to build
    # and validate (the whole shipped base has 6,000).
    base = (kb_dir / REVERSE).read_text()
    for n in range(7):
        junk = "[" + ",".join(["1"] * 240_000) + "]"
        (kb_dir / "exercises" / f"junk-{n}.yaml").write_text(
            base.replace("\nfacts:\n", f"\nfacts: {junk}\nfoo:\n", 1)
        )

    check = kb_check(kb_dir)

    assert_bounded(check)
    assert check.seconds < CHECK_SECONDS / 2
    assert f"exercises/junk-0.yaml: has more than {MAX_FILE_VALUES:,} YAML values" in check.out
    assert f"would take the knowledge directory over {MAX_TOTAL_VALUES:,} YAML values" in check.out


async def test_a_reload_of_a_broken_base_sends_the_admin_one_message(
    fake_api: FakeBotApi, engine: Any, tmp_path: Path, kb_dir: Path
) -> None:
    settings = settings_for(
        fake_api, tmp_path / "state.sqlite3", knowledge=kb_dir, admins=frozenset({ADMIN})
    )
    junk = "\n".join(f"  - {{bad: {n}}}" for n in range(3000))
    text = (kb_dir / REVERSE).read_text().replace("\nfacts:\n", f"\nfacts:\n{junk}\n", 1)
    async with running(fake_api, engine, settings):
        (kb_dir / REVERSE).write_text(text)
        fake_api.push_command(ADMIN, "reload")
        (report,) = await fake_api.wait_sent(ADMIN, 1, TIMEOUT)
        fake_api.push_command(ADMIN, "stats")  # anything more from the reload would come first
        _, stats = await fake_api.wait_sent(ADMIN, 2, TIMEOUT)

    assert report["text"].startswith("Reload failed: ")
    assert re.search(r"\u2026 and \d+ more \(run fitbot kb check\)$", report["text"])
    assert stats["text"].startswith("Uptime")


# -- smaller: YAML that says one thing twice, a duplicate id -------------------------------


def test_a_key_given_twice_is_a_problem_not_the_last_one_winning(kb_dir: Path) -> None:
    path = kb_dir / REVERSE
    path.write_text(path.read_text() + "name: Something else\n")

    (problem,) = check_knowledge(kb_dir)

    assert problem.file == REVERSE
    assert re.fullmatch(
        r"invalid YAML at line \d+, column 1: duplicate key 'name' \(first given at line 3\)",
        problem.message,
    ), problem


@pytest.mark.parametrize("copy", ["a-copy.yaml", "z-copy.yaml"])
def test_a_duplicate_id_is_blamed_on_the_new_file(kb_dir: Path, copy: str) -> None:
    shutil.copy(kb_dir / REVERSE, kb_dir / "exercises" / copy)

    found = [str(p) for p in check_knowledge(kb_dir)]

    assert sorted(found) == [
        f"exercises/{copy}: id: 'reverse-squat' does not match the file name",
        f"exercises/{copy}: id: 'reverse-squat' is already used by {REVERSE}",
    ]


def test_a_folder_of_too_many_files_is_a_problem_within_the_limits_given(kb_dir: Path) -> None:
    load_knowledge(kb_dir)  # the bot's limits hold the shipped base
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(kb_dir, Limits(record_files=5))
    assert "exercises/: more than 5 files; the rest skipped" in str(raised.value)
    with pytest.raises(KnowledgeError) as raised:
        load_knowledge(kb_dir, Limits(total_bytes=50_000))
    assert "would take the knowledge directory over 50,000 bytes" in str(raised.value)
