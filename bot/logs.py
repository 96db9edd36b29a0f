"""Log lines in logfmt, and chat ids as keyed hashes.

Every record becomes one line, ``time=... level=... logger=... msg=...``: plain messages are
quoted into ``msg``, structured ones (``extra={STRUCTURED: True}``, see :func:`logfmt`) carry
their own ``key=value`` pairs, and a traceback is escaped into one ``exc`` field, so a log
shipper parses every line the same way. Chat ids are never logged raw: :class:`ChatHasher`
turns them into an HMAC that ties one chat's lines together without saying whose chat it is.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

# LogRecord attribute marking a message that is already logfmt: "<event> key=value ...".
STRUCTURED = "fitbot_structured"
HASH_HEX_CHARS = 12  # 48 bits: no collisions among a bot's chats in practice
SALT_BYTES = 32
# Values made of these characters are written bare; anything else is quoted and escaped.
_BARE = re.compile(r"[A-Za-z0-9_.:/@+-]+")


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
        extra = {"exc": record.exc_text or None, "stack": record.stack_info or None}
        tail = logfmt(extra)
        return f"{line} {tail}" if tail else line

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """``2024-05-01T12:00:00.123Z``."""
        stamp = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        return stamp.replace("+00:00", "Z")


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
