"""Log lines in logfmt, chat ids as keyed hashes, and the filters that keep logs safe to read.

Every record becomes one line, ``time=... level=... logger=... msg=...``: plain messages are
quoted into ``msg``, structured ones (``extra={STRUCTURED: True}``, see :func:`logfmt`) carry
their own ``key=value`` pairs, and a traceback is escaped into one ``exc`` field, so a log
shipper parses every line the same way. Chat ids are never logged raw: :class:`ChatHasher`
turns them into an HMAC that ties one chat's lines together without saying whose chat it is.

:func:`guard` puts three :class:`logging.Filter` s on a handler, so they act on the records of
every logger (python-telegram-bot's, aiohttp's, asyncio's as well as fitbot's) at every level:

* :class:`PrivacyFilter`: chat and user ids in a record's arguments (PTB's debug lines log
  whole requests and updates) become hashes, names are withheld, and message texts are kept
  only at DEBUG, as fitbot's own lines do.
* :class:`RedactingFilter`: the bot token, the webhook secret, anything shaped like a token
  and the password of any URL become ``***``, in the message, its arguments and tracebacks.
* :class:`RepeatFilter`: a line repeated many times a minute (a client hammering the webhook,
  asyncio out of file descriptors) is let through a few times, then counted, not written.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import html
import json
import logging
import re
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from telegram import TelegramObject

# LogRecord attribute marking a message that is already logfmt: "<event> key=value ...".
STRUCTURED = "fitbot_structured"
HASH_HEX_CHARS = 12  # 48 bits: no collisions among a bot's chats in practice
SALT_BYTES = 32
# Values made of these characters are written bare; anything else is quoted and escaped.
_BARE = re.compile(r"[A-Za-z0-9_.:/@+-]+")
# LogRecord attribute set by RepeatFilter: identical lines left out before this one.
REPEATED = "fitbot_repeated"


def logfmt(fields: Mapping[str, object]) -> str:
    """``key=value`` pairs in order; None values are left out, booleans written true/false."""
    return " ".join(f"{key}={_value(value)}" for key, value in fields.items() if value is not None)


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


class LogfmtFormatter(logging.Formatter):
    """Formats every record as one logfmt line with an ISO 8601 UTC timestamp."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's line; a structured message is appended as it is, others quoted."""
        message = record.getMessage()
        head = logfmt(
            {
                "time": self.formatTime(record),
                "level": record.levelname.lower(),
                "logger": record.name,
            }
        )
        body = f"msg={message}" if getattr(record, STRUCTURED, False) else logfmt({"msg": message})
        line = f"{head} {body}"
        # The redacting filter may already have rendered (and scrubbed) the traceback.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        extra = {
            "repeated": getattr(record, REPEATED, None),
            "exc": record.exc_text or None,
            "stack": record.stack_info or None,
        }
        tail = logfmt(extra)
        return f"{line} {tail}" if tail else line

    _second: int | None = None
    _second_text = ""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``2024-05-01T12:00:00.123Z``. The date and time up to the second are rendered once
        per second (a busy bot writes hundreds of lines in one)."""
        second, millis = divmod(int(record.created * 1000), 1000)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{millis:03d}Z"


@dataclass(frozen=True)
class ChatHasher:
    """Keyed hashes of chat ids: equal for one chat, meaningless without the key.

    Without a configured salt the key is random, so hashes are stable for the life of the
    process only; a salt (``FITBOT_LOG_SALT``) keeps them stable across restarts.
    """

    key: bytes = field(default_factory=lambda: secrets.token_bytes(SALT_BYTES), repr=False)

    def __call__(self, chat_id: int) -> str:
        """The hash of ``chat_id``, :data:`HASH_HEX_CHARS` hex digits."""
        digest = hmac.new(self.key, str(chat_id).encode(), hashlib.sha256).hexdigest()
        return digest[:HASH_HEX_CHARS]


_hashers: dict[bytes | None, ChatHasher] = {}


def chat_hasher(salt: bytes | None) -> ChatHasher:
    """The process's hasher for ``salt`` (without one, one random key for the process), so
    fitbot's own lines and the filtered lines of libraries hash a chat alike."""
    hasher = _hashers.get(salt)
    if hasher is None:
        hasher = _hashers[salt] = ChatHasher(salt) if salt else ChatHasher()
    return hasher


# -- the filters -----------------------------------------------------------------------------

# Anything shaped like a Bot API token (bot id, colon, 30+ url-safe characters), and the
# password of a URL (scheme://user:PASSWORD@host).
_TOKEN_SHAPED = r"(?<![0-9])[0-9]{3,}:[A-Za-z0-9_-]{30,}"
_URL_PASSWORD = r"(?<=://)(?P<user>[^/@\s:]*):[^/@\s]+@"


MIN_SECRET_CHARS = 4


class RedactingFilter(logging.Filter):
    """Replaces secrets in every log record (message, arguments, traceback) with ``***``: the
    ones given (and :meth:`add`), in plain, URL-quoted and HTML-escaped form, anything shaped
    like a bot token, and the password of any URL."""

    def __init__(self, secrets_: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: frozenset[str] = frozenset()
        self._pattern = re.compile(f"{_URL_PASSWORD}|{_TOKEN_SHAPED}")
        self.add(secrets_)

    def add(self, secrets_: Iterable[str]) -> None:
        """Redact ``secrets_`` too from now on (any of at least :data:`MIN_SECRET_CHARS`: a
        shorter one would turn every line into asterisks, and guards nothing)."""
        self.secrets |= {s for s in secrets_ if len(s) >= MIN_SECRET_CHARS}
        forms = {form for s in self.secrets for form in (s, quote(s, safe=""), html.escape(s))}
        exact = "|".join(map(re.escape, sorted(forms, key=len, reverse=True)))
        self._pattern = re.compile("|".join(p for p in (_URL_PASSWORD, exact, _TOKEN_SHAPED) if p))

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        with contextlib.suppress(Exception):  # a broken record must still be logged
            message = record.getMessage()
            if self._pattern.search(message):
                record.msg, record.args = self.redact(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self.redact(record.exc_text)
            if record.stack_info:
                record.stack_info = self.redact(record.stack_info)
        return True

    def redact(self, text: str) -> str:
        """``text`` with every secret replaced."""
        return self._pattern.sub(_masked, text)


def _masked(match: re.Match[str]) -> str:
    user = match.group("user")
    return f"{user}:***@" if user is not None else "***"


# Keys whose value is a chat or user id, in Bot API requests and answers.
_ID_KEYS = frozenset({"chat_id", "user_id", "from_chat_id", "sender_chat_id", "new_chat_id"})
# Keys that mark a mapping as a chat or a user (its "id" is then a chat or user id).
_PERSON_KEYS = frozenset({"type", "is_bot", "first_name"})
# Secrets by name (set_webhook's secret_token however short it is).
_SECRET_KEYS = frozenset({"secret_token", "token", "password"})
# What a person wrote: kept only at DEBUG.
_TEXT_KEYS = frozenset({"text", "caption", "query", "data", "message_text"})
# What a person is called: never kept (a name is as telling as an id).
_NAME_KEYS = frozenset({"first_name", "last_name", "username", "title", "phone_number", "bio"})
# A chat id in a rendered line: "chat_id=5", "'chat_id': 5", "New chat id: -100..." and the like.
_ID_IN_TEXT = re.compile(
    r"(?P<key>\b(?:chat_id|user_id|from_chat_id|new_chat_id)['\"]?\s*[:=]\s*"
    r"|\bchat id:?\s+)(?P<id>-?[0-9]+)\b",
    re.IGNORECASE,
)
WITHHELD = "***"


class PrivacyFilter(logging.Filter):
    """Keeps chat ids and names (and, above DEBUG, texts) out of every record, as fitbot's own
    lines keep them out: in arguments that are Telegram objects or the dicts and lists of the
    Bot API (PTB's "Calling Bot API endpoint ... with parameters", "Processing update ...",
    "Error while parsing updates! Received data was ..."), ids are hashed, names withheld and,
    above DEBUG, texts too; in the rendered line and any traceback, a number written as a chat
    id is hashed."""

    def __init__(self, hasher: Callable[[int], str]) -> None:
        super().__init__()
        self._hash = hasher

    def filter(self, record: logging.LogRecord) -> bool:
        """Scrub in place; never drops a record."""
        with contextlib.suppress(Exception):  # a broken record must still be logged
            keep_text = record.levelno <= logging.DEBUG
            if isinstance(record.args, Mapping):
                scrubbed: Any = self._scrub(record.args, keep_text)
            else:
                scrubbed = tuple(self._scrub(arg, keep_text) for arg in record.args or ())
            with contextlib.suppress(TypeError, ValueError, KeyError):  # "%d" of a hash: as is
                record.msg, record.args = (
                    str(record.msg) % scrubbed if scrubbed else record.msg,
                    None,
                )
            message = record.getMessage()
            if _ID_IN_TEXT.search(message):
                record.msg, record.args = self._hash_ids(message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._hash_ids(record.exc_text)
        return True

    def _scrub(self, value: Any, keep_text: bool, key: object = None) -> Any:
        if isinstance(value, TelegramObject):
            value = value.to_dict()
        if isinstance(value, Mapping):
            person = "id" in value and not _PERSON_KEYS.isdisjoint(value)
            return {
                k: self._hashed(v)
                if k in _ID_KEYS or (person and k == "id")
                else self._scrub(v, keep_text, k)
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return type(value)(self._scrub(v, keep_text, key) for v in value)
        if isinstance(value, str) and (
            key in _NAME_KEYS or key in _SECRET_KEYS or (key in _TEXT_KEYS and not keep_text)
        ):
            return WITHHELD
        return value

    def _hashed(self, value: object) -> object:
        if isinstance(value, int) and not isinstance(value, bool):
            return self._hash(value)
        if isinstance(value, str) and value.lstrip("-").isdigit():
            return self._hash(int(value))
        return value

    def _hash_ids(self, text: str) -> str:
        return _ID_IN_TEXT.sub(lambda m: m.group("key") + self._hash(int(m.group("id"))), text)


REPEAT_BURST = 5  # identical lines written per window
REPEAT_WINDOW_SECONDS = 60.0
REPEAT_MEMORY = 1024  # distinct lines remembered


@dataclass
class _Seen:
    since: float
    count: int = 1
    left_out: int = 0


class RepeatFilter(logging.Filter):
    """Writes at most ``burst`` identical lines (same logger, level and message) per
    ``window`` seconds; the first one written after lines were left out says how many
    (``repeated=N``). The one line per update (structured) is never held back."""

    def __init__(
        self,
        burst: int = REPEAT_BURST,
        window: float = REPEAT_WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._burst = burst
        self._window = window
        self._clock = clock
        self._seen: OrderedDict[int, _Seen] = OrderedDict()

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a line repeated too often."""
        if getattr(record, STRUCTURED, False):
            return True
        try:
            key = hash((record.name, record.levelno, record.getMessage()))
        except Exception:  # a broken record is written, as ever
            return True
        now = self._clock()
        seen = self._seen.get(key)
        if seen is None or now - seen.since >= self._window:
            if seen is not None and seen.left_out:
                setattr(record, REPEATED, seen.left_out)
            self._seen[key] = _Seen(now)
            self._seen.move_to_end(key)
            if len(self._seen) > REPEAT_MEMORY:
                self._seen.popitem(last=False)
            return True
        seen.count += 1
        if seen.count <= self._burst:
            return True
        seen.left_out += 1
        return False


def guard(handler: logging.Handler, hasher: Callable[[int], str], secrets_: Iterable[str]) -> None:
    """Put the privacy, redacting and repeat filters on ``handler``, in that order."""
    for log_filter in (PrivacyFilter(hasher), RedactingFilter(secrets_), RepeatFilter()):
        handler.addFilter(log_filter)


def redact_everywhere(secrets_: Iterable[str], loggers: Iterable[str] = ()) -> None:
    """Keep ``secrets_`` out of every line from now on: add them to the redacting filter of
    every handler of the root logger, and put one on each of ``loggers`` (a filter on a logger
    acts before any handler, including ones :func:`guard` never saw)."""
    found = [s for s in secrets_ if s]
    if not found:
        return
    for handler in logging.getLogger().handlers:
        for log_filter in handler.filters:
            if isinstance(log_filter, RedactingFilter):
                log_filter.add(found)
    for name in loggers:
        own = logging.getLogger(name)
        existing = [f for f in own.filters if isinstance(f, RedactingFilter)]
        if existing:
            existing[0].add(found)
        else:
            own.addFilter(RedactingFilter(found))
