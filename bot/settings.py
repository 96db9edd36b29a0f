"""Run-time settings for the Telegram bot, read once from flags and the environment.

A flag wins over its environment variable, which wins over the default. Every value is checked
here, so a typo fails at start-up with a :class:`~bot.errors.ConfigError` naming the variable,
never later in a handler. Secrets (the bot token, the webhook secret) are wrapped in
:class:`Secret`, whose ``repr`` and ``str`` are ``***``, so they cannot leak through a log line
or a traceback that prints the settings.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from bot.errors import ConfigError
from bot.knowledge import default_knowledge_dir

TOKEN_VAR = "TELEGRAM_BOT_TOKEN"
DEFAULT_BASE_URL = "https://api.telegram.org/bot"
DEFAULT_STATE = Path("fitbot-state.sqlite3")
DEFAULT_LISTEN = "127.0.0.1"
DEFAULT_PORT = 8443
DEFAULT_FLOOD_RATE = 1.0
DEFAULT_FLOOD_BURST = 10

# As issued by @BotFather: the bot's numeric id, a colon, then a long url-safe secret.
TOKEN_PATTERN = re.compile(r"^\d+:[A-Za-z0-9_-]{30,}$")
# Telegram's rule for set_webhook's secret_token.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})
MAX_PORT = 65535
REDIS_SCHEMES = ("redis://", "rediss://")


@dataclass(frozen=True)
class Secret:
    """A string that must not appear in logs: ``repr`` and ``str`` show ``***``."""

    value: str = field(repr=False)

    def __repr__(self) -> str:
        return "'***'"

    def __str__(self) -> str:
        return "***"

    def reveal(self) -> str:
        """The secret itself, for the one call that needs it."""
        return self.value


@dataclass(frozen=True)
class Settings:
    """Everything ``fitbot run`` needs, validated.

    ``token`` may be None so the settings can be built for other commands; :meth:`require_token`
    is what ``run`` calls. ``flood_rate`` is messages per second a user may sustain (0 switches
    flood control off, e.g. for load tests) with bursts of up to ``flood_burst``.
    ``metrics_port`` (None: off) serves ``/healthz`` and ``/metrics`` in either mode;
    ``log_salt`` keys the hash of chat ids in logs (random per process when unset).
    """

    token: Secret | None = None
    base_url: str = DEFAULT_BASE_URL
    admins: frozenset[int] = frozenset()
    knowledge: Path = field(default_factory=default_knowledge_dir)
    state: Path = DEFAULT_STATE
    rate_limit: bool = True
    webhook_url: str | None = None
    listen: str = DEFAULT_LISTEN
    port: int = DEFAULT_PORT
    webhook_secret: Secret | None = None
    log_level: str = "INFO"
    flood_rate: float = DEFAULT_FLOOD_RATE
    flood_burst: int = DEFAULT_FLOOD_BURST
    metrics_port: int | None = None
    metrics_listen: str = DEFAULT_LISTEN
    log_salt: Secret | None = None
    state_url: Secret | None = None  # a Redis shared by replicas, instead of the file ``state``

    @classmethod
    def from_env(
        cls, args: argparse.Namespace | None = None, env: Mapping[str, str] = os.environ
    ) -> Settings:
        """Read flags (from :func:`add_run_arguments`) over environment variables over defaults.

        Raises :class:`ConfigError` for any malformed value; a missing token is allowed here.
        """
        flags = vars(args) if args is not None else {}

        def pick(flag: str, var: str) -> str | None:
            value = flags.get(flag)
            if value is not None:
                return str(value)
            return env.get(var) or None

        rate_limit = pick("rate_limit", "FITBOT_RATE_LIMIT")
        knowledge = pick("knowledge", "FITBOT_KNOWLEDGE")
        state = pick("state", "FITBOT_STATE")
        port = pick("port", "FITBOT_WEBHOOK_PORT")
        secret = pick("secret_token", "FITBOT_WEBHOOK_SECRET")
        flood_rate = pick("flood_rate", "FITBOT_FLOOD_RATE")
        flood_burst = pick("flood_burst", "FITBOT_FLOOD_BURST")
        metrics_port = pick("metrics_port", "FITBOT_METRICS_PORT")
        log_salt = env.get("FITBOT_LOG_SALT")
        return cls(
            token=_token(env.get(TOKEN_VAR)),
            base_url=_base_url(pick("base_url", "TELEGRAM_BASE_URL")),
            admins=_admins(env.get("FITBOT_ADMINS", "")),
            knowledge=Path(knowledge) if knowledge else default_knowledge_dir(env),
            state=Path(state) if state and not _is_redis(state) else DEFAULT_STATE,
            state_url=_redis_url(state) if state and _is_redis(state) else None,
            rate_limit=_switch("FITBOT_RATE_LIMIT", rate_limit, default=True),
            webhook_url=_webhook_url(pick("webhook_url", "FITBOT_WEBHOOK_URL")),
            listen=pick("listen", "FITBOT_WEBHOOK_LISTEN") or DEFAULT_LISTEN,
            port=_port(port) if port else DEFAULT_PORT,
            webhook_secret=_webhook_secret(secret),
            log_level=_log_level(pick("log_level", "FITBOT_LOG_LEVEL")),
            flood_rate=_number("FITBOT_FLOOD_RATE", flood_rate, DEFAULT_FLOOD_RATE),
            flood_burst=_burst(flood_burst),
            metrics_port=_port(metrics_port, "FITBOT_METRICS_PORT") if metrics_port else None,
            metrics_listen=pick("metrics_listen", "FITBOT_METRICS_LISTEN") or DEFAULT_LISTEN,
            log_salt=Secret(log_salt) if log_salt else None,
        )

    def require_token(self) -> Secret:
        """The bot token, or a :class:`ConfigError` saying how to provide one."""
        if self.token is None:
            raise ConfigError(
                f"{TOKEN_VAR} is not set: export the token @BotFather gave you, "
                f"e.g. {TOKEN_VAR}=123456:ABC-your-token"
            )
        return self.token

    @property
    def state_location(self) -> str:
        """Where the state is kept, fit for a log line: the file, or the Redis URL without
        its password."""
        if self.state_url is None:
            return str(self.state)
        return redis_display(self.state_url.reveal())

    @property
    def secrets(self) -> list[str]:
        """Every secret the settings hold (token, webhook secret, the Redis password), for
        redaction from logs."""
        found = [s.reveal() for s in (self.token, self.webhook_secret) if s is not None]
        if self.state_url is not None:
            password = urlsplit(self.state_url.reveal()).password
            if password:
                found.append(password)
        return found

    @property
    def log_level_number(self) -> int:
        """:attr:`log_level` as a :mod:`logging` constant."""
        return logging.getLevelNamesMapping()[self.log_level]


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the flags of ``fitbot run``; each defaults to None so the environment can fill it.

    ``--knowledge`` is not among them: ``fitbot`` takes it before any subcommand, and
    :meth:`Settings.from_env` reads it from the same namespace.
    """
    parser.add_argument("--base-url", help="Bot API base URL (env TELEGRAM_BASE_URL)")
    parser.add_argument(
        "--state",
        help="SQLite state file, or redis://[:password@]host[:port][/db] (rediss:// for TLS) "
        "shared by replicas (env FITBOT_STATE)",
    )
    parser.add_argument(
        "--no-rate-limit",
        dest="rate_limit",
        action="store_const",
        const="0",
        help="switch the Telegram rate limiter off, for a local Bot API server "
        "(env FITBOT_RATE_LIMIT=0)",
    )
    parser.add_argument(
        "--webhook-url",
        help="public HTTPS URL Telegram posts updates to; polling when unset "
        "(env FITBOT_WEBHOOK_URL)",
    )
    parser.add_argument("--listen", help=f"webhook listen address (default {DEFAULT_LISTEN})")
    parser.add_argument("--port", type=int, help=f"webhook listen port (default {DEFAULT_PORT})")
    parser.add_argument(
        "--secret-token",
        help="webhook secret Telegram sends with every update (env FITBOT_WEBHOOK_SECRET); "
        "random when unset",
    )
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, type=str.upper, help="env FITBOT_LOG_LEVEL"
    )
    parser.add_argument(
        "--flood-rate",
        type=float,
        help=f"messages per second one user may sustain, 0 = off (default {DEFAULT_FLOOD_RATE})",
    )
    parser.add_argument(
        "--flood-burst",
        type=int,
        help=f"messages one user may send at once (default {DEFAULT_FLOOD_BURST})",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        help="port serving /healthz and /metrics, off when unset (env FITBOT_METRICS_PORT)",
    )
    parser.add_argument(
        "--metrics-listen",
        help=f"listen address of the metrics port (env FITBOT_METRICS_LISTEN, "
        f"default {DEFAULT_LISTEN})",
    )


def _token(raw: str | None) -> Secret | None:
    if raw is None or not raw.strip():
        return None
    token = raw.strip()
    if not TOKEN_PATTERN.fullmatch(token):
        # Never echo the value: a near-miss token is still a secret.
        raise ConfigError(
            f"{TOKEN_VAR} is malformed: expected '<bot id>:<secret>' as issued by @BotFather "
            "(digits, a colon, then at least 30 letters, digits, '_' or '-')"
        )
    return Secret(token)


def _is_redis(raw: str) -> bool:
    return raw.lower().startswith(REDIS_SCHEMES)


def redis_display(url: str) -> str:
    """``url`` without user name and password: ``redis://host:port/db``."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme}://{netloc}{parts.path}"


def _redis_url(raw: str) -> Secret:
    """A Redis URL, checked; the error names it without its password."""
    parts = urlsplit(raw)
    shown = redis_display(raw)
    try:
        port = parts.port
    except ValueError:
        port = -1
    database = parts.path.lstrip("/")
    if (
        not parts.hostname
        or (port is not None and not 0 < port <= MAX_PORT)
        or (database and not database.isdigit())
        or parts.fragment
    ):
        raise ConfigError(
            "FITBOT_STATE must be a file path or redis://[:password@]host[:port][/db] "
            f"(rediss:// for TLS), got {shown!r}"
        )
    return Secret(raw)


def _base_url(raw: str | None) -> str:
    if raw is None:
        return DEFAULT_BASE_URL
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"TELEGRAM_BASE_URL must be an http(s) URL such as {DEFAULT_BASE_URL}, got {raw!r}"
        )
    return raw


def _admins(raw: str) -> frozenset[int]:
    if not raw.strip():
        return frozenset()
    ids: set[int] = set()
    for item in raw.split(","):
        try:
            ids.add(int(item.strip()))
        except ValueError:
            raise ConfigError(
                f"FITBOT_ADMINS must be comma-separated Telegram user ids, got {item.strip()!r}"
            ) from None
    return frozenset(ids)


def _switch(name: str, raw: str | None, *, default: bool) -> bool:
    if raw is None:
        return default
    word = raw.strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    raise ConfigError(f"{name} must be 1 or 0, got {raw!r}")


def _webhook_url(raw: str | None) -> str | None:
    if raw is None:
        return None
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"FITBOT_WEBHOOK_URL must be a full URL (https://...), got {raw!r}")
    return raw


def _port(raw: str, name: str = "the webhook port") -> int:
    try:
        port = int(raw)
    except ValueError:
        port = -1
    if not 0 < port <= MAX_PORT:
        raise ConfigError(f"{name} must be a number from 1 to {MAX_PORT}, got {raw!r}")
    return port


def _webhook_secret(raw: str | None) -> Secret | None:
    if raw is None:
        return None
    if not WEBHOOK_SECRET_PATTERN.fullmatch(raw):
        raise ConfigError(
            "FITBOT_WEBHOOK_SECRET must be 1-256 letters, digits, '_' or '-' (Telegram's rule)"
        )
    return Secret(raw)


def _log_level(raw: str | None) -> str:
    if raw is None:
        return "INFO"
    level = raw.strip().upper()
    if level not in LOG_LEVELS:
        raise ConfigError(f"FITBOT_LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {raw!r}")
    return level


def _burst(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_FLOOD_BURST
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise ConfigError(f"FITBOT_FLOOD_BURST must be a whole number >= 1, got {raw!r}")
    return value


def _number(name: str, raw: str | None, default: float) -> float:
    if raw is None:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value < math.inf:
        raise ConfigError(f"{name} must be a number >= 0, got {raw!r}")
    return value
