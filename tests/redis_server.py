"""A real ``redis-server`` for the tests, on a free port of 127.0.0.1, in a directory of its own.

Debian's ``redis-server`` package provides it (``apt-get install redis-server``; ``.ci/run``
installs it). Without it the Redis tests are skipped locally with that hint, and fail in CI
(``CI=true``), where a skip would hide them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.harness import free_port

START_TIMEOUT = 10.0
HINT = (
    "redis-server not found: the Redis tests need a real one "
    "(Debian/Ubuntu: apt-get install redis-server; macOS: brew install redis)"
)


def require_redis_server() -> str:
    """The path of ``redis-server``; skips the test without it, or fails it in CI."""
    path = shutil.which("redis-server")
    if path is None:
        if os.environ.get("CI", "").lower() in ("true", "1"):
            pytest.fail(HINT + "; in CI .ci/run must install it", pytrace=False)
        pytest.skip(HINT)
    return path


class RedisServer:
    """One redis-server process with append-only persistence in ``directory`` (so a restart
    keeps the data, as in production)."""

    def __init__(self, directory: Path, port: int | None = None, password: str = "") -> None:
        self.executable = require_redis_server()
        self.directory = directory
        self.port = port or free_port()
        self.password = password
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        credentials = f":{self.password}@" if self.password else ""
        return f"redis://{credentials}127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [
                self.executable,
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--dir",
                str(self.directory),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--daemonize",
                "no",
                "--protected-mode",
                "yes",
                "--logfile",
                str(self.directory / "redis.log"),
                *(("--requirepass", self.password) if self.password else ()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.process.poll() is not None or time.monotonic() > deadline:
                log = (self.directory / "redis.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"redis-server did not start:\n{log}")
            time.sleep(0.02)

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (Redis flushes its append-only file) or SIGKILL, and wait."""
        if self.process is None:
            return
        if self.process.poll() is None:
            if kill:
                self.process.kill()
            else:
                self.process.terminate()
            self.process.wait(timeout=START_TIMEOUT)
        self.process = None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                auth = f"AUTH {self.password}\r\n".encode() if self.password else b""
                conn.sendall(auth + b"PING\r\n")
                answer = b""
                while answer.count(b"\r\n") < (2 if auth else 1):
                    chunk = conn.recv(64)
                    if not chunk:
                        break
                    answer += chunk
                return b"+PONG" in answer
        except OSError:
            return False
