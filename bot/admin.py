"""Admin commands in Telegram: ``/reload`` and ``/stats``, for the user ids in FITBOT_ADMINS.

Anyone else who sends them gets :data:`NOT_ALLOWED` and nothing else happens. The commands are
not in the public command menu.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence

from telegram import Message, Update
from telegram.constants import MessageLimit
from telegram.ext import CommandHandler, ContextTypes, filters

from bot.operations import AnyApplication, Operations, ReloadResult

logger = logging.getLogger(__name__)

NOT_ALLOWED = "Not allowed."
MAX_MESSAGE = MessageLimit.MAX_TEXT_LENGTH
SECONDS_PER_MINUTE = 60
MINUTES_PER_HOUR = 60
HOURS_PER_DAY = 24
TIME_FORMAT = "%Y-%m-%d %H:%M:%S UTC"

# Plain-text messages to an update's chat (through the outbox, as every reply).
Reply = Callable[[Update, Sequence[str]], Awaitable[object]]


class AdminCommands:
    """The handlers of ``/reload`` and ``/stats``."""

    def __init__(self, ops: Operations, admins: frozenset[int], reply: Reply) -> None:
        self._ops = ops
        self._admins = admins
        self._reply = reply

    def register(self, application: AnyApplication) -> None:
        """Add both commands; call before the coach registers, so they come first in group 0
        and are never answered as questions. Edits of old commands are ignored."""
        new_messages = filters.UpdateType.MESSAGE
        application.add_handlers(
            [
                CommandHandler("reload", self.reload, filters=new_messages),
                CommandHandler("stats", self.stats, filters=new_messages),
            ]
        )

    async def reload(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Re-read the knowledge base; report what is in service, or every problem found."""
        message = await self._admin_message(update, "reload")
        if message is None:
            return
        await self._reply(update, split_message(reload_report(await self._ops.reload())))

    async def stats(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Counts since start, unanswered questions kept, uptime, knowledge records."""
        message = await self._admin_message(update, "stats")
        if message is None:
            return
        await self._reply(
            update, split_message(stats_report(self._ops, await self._ops.unanswered_count()))
        )

    async def _admin_message(self, update: Update, command: str) -> Message | None:
        """The command's message if an admin sent it; anyone else is told it is not allowed."""
        message, user = update.effective_message, update.effective_user
        if message is None:
            return None
        who = self._ops.hash_chat(user.id) if user is not None else None
        if user is None or user.id not in self._admins:
            logger.warning("/%s refused for user %s: not an admin", command, who)
            await self._reply(update, [NOT_ALLOWED])
            return None
        logger.info("/%s by admin %s", command, who)
        return message


def reload_report(result: ReloadResult) -> str:
    """What the admin is told after a reload."""
    kb = result.knowledge
    if result.ok:
        return (
            f"Reloaded the knowledge base from {kb.directory}: {kb.exercises} exercises, "
            f"{kb.topics} topics. New questions are answered from it."
        )
    lines = [
        f"Reload failed: {len(result.problems)} problem(s) in {kb.directory}. "
        f"The previous knowledge base ({kb.records} records) is still answering.",
        "",
        *(f"\u2022 {problem}" for problem in result.problems),
    ]
    return "\n".join(lines)


def stats_report(ops: Operations, unanswered: int) -> str:
    """What ``/stats`` shows (``unanswered``: the questions kept in the store)."""
    counts = ops.metrics.counts()
    kb = ops.knowledge
    loaded = time.strftime(TIME_FORMAT, time.gmtime(kb.loaded_at))
    lines = [
        f"Uptime: {_duration(ops.uptime())}",
        f"Knowledge: {kb.records} records ({kb.exercises} exercises, {kb.topics} topics), "
        f"loaded {loaded}",
        f"Questions since start: {counts.answered} answered, {counts.declined} declined",
        f"Answered by intent: {_pairs(counts.by_intent)}",
        f"Unanswered questions kept: {unanswered} (fitbot report unanswered)",
        f"Updates since start: {counts.updates}",
        f"Telegram API errors: {_pairs(counts.api_errors)}",
    ]
    return "\n".join(lines)


def split_message(text: str, limit: int = MAX_MESSAGE) -> list[str]:
    """``text`` in pieces Telegram accepts, split between lines (within a line only if it is
    too long by itself)."""
    pieces: list[str] = []
    current: list[str] = []
    size = 0
    for line in _short_lines(text.split("\n"), limit):
        added = _length(line) + (1 if current else 0)  # the newline joining it
        if current and size + added > limit:
            pieces.append("\n".join(current))
            current, size, added = [], 0, _length(line)
        current.append(line)
        size += added
    pieces.append("\n".join(current))
    return [piece for piece in pieces if piece.strip()]


def _short_lines(lines: Iterable[str], limit: int) -> Iterator[str]:
    for line in lines:
        while _length(line) > limit:
            cut = _prefix_within(line, limit)
            yield line[:cut]
            line = line[cut:]
        yield line


def _length(text: str) -> int:
    """Telegram's length: UTF-16 code units."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_within(text: str, limit: int) -> int:
    """The longest prefix of ``text`` (in characters) no longer than ``limit`` code units."""
    end = min(len(text), limit)
    while _length(text[:end]) > limit:
        end -= 1
    return end


def _pairs(pairs: Iterable[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {count}" for name, count in pairs) or "none"


def _duration(seconds: float) -> str:
    minutes, _ = divmod(int(seconds), SECONDS_PER_MINUTE)
    hours, minutes = divmod(minutes, MINUTES_PER_HOUR)
    days, hours = divmod(hours, HOURS_PER_DAY)
    return f"{days}d {hours}h {minutes:02d}m" if days else f"{hours}h {minutes:02d}m"
