"""The handlers: free text, commands, buttons, inline queries, and the flood gate before them.

Each handler reads top to bottom: read the chat's context, ask the engine once, hand the reply
to the outbox (:class:`~bot.telegram.delivery.Outbox`), which keeps it with the chat's new
context and sends it. Calls that are only cosmetic (the typing indicator, acknowledging a
button, answering an inline query) are best effort: a failure is one warning line.
"""

from __future__ import annotations

import asyncio
import enum
import functools
import logging
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias

from telegram import (
    Bot,
    BotCommand,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    Update,
)
from telegram.constants import (
    ChatAction,
    ChatType,
    InlineQueryLimit,
    InlineQueryResultLimit,
    ParseMode,
)
from telegram.error import TelegramError
from telegram.ext import (
    Application,
    ApplicationHandlerStop,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.answers import Answer
from bot.context import Context
from bot.engine import Engine
from bot.operations import note_answer, note_delivery
from bot.state.store import Outgoing, Store
from bot.telegram.delivery import Delivery, Outbox
from bot.telegram.feedback import ASK_COMMENT, THANKS_HELPFUL, THANKS_UNHELPFUL, Feedback
from bot.telegram_render import (
    RATE,
    SEPARATOR,
    keyboard_json,
    parse_callback_data,
    parse_rating_data,
    render_html,
)
from bot.text import tidy

logger = logging.getLogger(__name__)

# The bot's type parameter depends on whether a rate limiter is configured.
FitbotApp: TypeAlias = Application[
    Any, ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]

INLINE_CACHE_SECONDS = 300
INLINE_DESCRIPTION_CHARS = 120
MAX_TRACKED_USERS = 10_000
ANSWER_CACHE_SIZE = 1024
TYPING_AFTER_SECONDS = 0.5
COMMANDS = (
    BotCommand("start", "What I can do, with examples"),
    BotCommand("help", "How to ask me things"),
    BotCommand("exercises", "The exercises and topics I cover"),
    BotCommand("checklist", "Form checklist: /checklist reverse squat"),
    BotCommand("alternatives", "Alternatives: /alternatives reverse squat at home"),
    BotCommand("reset", "Forget our conversation and what you told me"),
)
TEXT_ONLY = "Send me a question as text, for example: how do I do a reverse squat?"
SLOW_DOWN = (
    "You are sending messages faster than I can answer, so I am skipping some. "
    "Wait a few seconds, then ask again."
)
SORRY = "Sorry, something went wrong while answering that. Please try again."
STALE_BUTTON = "This button no longer works; ask me again."


class Verdict(enum.Enum):
    """What the flood gate says about one message."""

    PASS = "pass"
    WARN = "warn"  # over the limit: drop it, and tell the user once
    DROP = "drop"


@dataclass
class _Bucket:
    tokens: float
    stamp: float
    warned: bool = False


class FloodGate:
    """A token bucket per user: ``rate`` messages a second sustained, bursts up to ``burst``.

    One user's flood then cannot eat the bot's send budget (Telegram's ~30 messages a second
    overall) that every other chat shares.
    """

    __slots__ = ("_buckets", "_burst", "_clock", "_rate")

    def __init__(
        self, rate: float, burst: int, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._rate = rate
        self._burst = burst
        self._clock = clock
        self._buckets: dict[int, _Bucket] = {}

    async def admit(self, user_id: int) -> Verdict:
        """Take a token for ``user_id``: PASS, or WARN the first time over the limit, then DROP."""
        now = self._clock()
        bucket = self._buckets.get(user_id)
        if bucket is None:
            if len(self._buckets) >= MAX_TRACKED_USERS:
                self._forget_idle(now)
            bucket = self._buckets[user_id] = _Bucket(float(self._burst), now)
        bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.stamp) * self._rate)
        bucket.stamp = now
        if bucket.tokens >= 1:
            bucket.tokens -= 1
            bucket.warned = False
            return Verdict.PASS
        if bucket.warned:
            return Verdict.DROP
        bucket.warned = True
        return Verdict.WARN

    def _forget_idle(self, now: float) -> None:
        """Drop buckets that have refilled: those users are as good as new."""
        full = [
            user
            for user, bucket in self._buckets.items()
            if bucket.tokens + (now - bucket.stamp) * self._rate >= self._burst
        ]
        for user in full:
            del self._buckets[user]


class Gate(Protocol):
    """Flood control: :class:`FloodGate` in memory, or
    :class:`~bot.telegram.replicas.RedisFloodGate` shared by replicas."""

    async def admit(self, user_id: int) -> Verdict:
        """PASS, WARN (the first message over the limit) or DROP."""


class _Addressed(filters.MessageFilter):
    """Messages meant for the bot: every private message; in groups only commands for it,
    mentions of it and replies to it."""

    __slots__ = ()

    def filter(self, message: Message) -> bool:
        if message.chat.type == ChatType.PRIVATE:
            return True
        bot = message.get_bot()
        reply = message.reply_to_message
        # In a forum topic every message "replies" to the topic's first message.
        genuine_reply = not message.is_topic_message or (
            reply is not None and reply.message_id != message.message_thread_id
        )
        if reply and reply.from_user and reply.from_user.id == bot.id and genuine_reply:
            return True
        entities = {**message.parse_entities(), **message.parse_caption_entities()}
        for entity, text in entities.items():
            if entity.type == MessageEntity.MENTION and _is_us(text[1:], bot.username):
                return True
            if (
                entity.type == MessageEntity.TEXT_MENTION
                and entity.user
                and entity.user.id == bot.id
            ):
                return True
            if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
                _, _, target = text.partition("@")
                return not target or _is_us(target, bot.username)
        return False


def _is_us(name: str, username: str) -> bool:
    return name.lower() == username.lower()


ADDRESSED = _Addressed(name="Addressed")


class Coach:
    """The handlers: each reads the chat's context, asks the engine once and replies."""

    def __init__(
        self,
        engine: Engine,
        store: Store,
        gate: Gate | None,
        outbox: Outbox,
        feedback: Feedback,
    ) -> None:
        self._render = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(_render)
        self._store = store
        self._gate = gate
        self._outbox = outbox
        self._feedback = feedback
        self._typing: set[asyncio.Task[None]] = set()
        self.use(engine)

    def use(self, engine: Engine) -> None:
        """Answer from ``engine`` from now on (a knowledge reload). Each answer reads the
        engine once and without awaiting, so one under way finishes on the old engine."""
        # The engine is a pure function of (question, context), and commands, buttons and
        # popular questions recur: remembering recent replies, and how they render, saves
        # about a fifth of an answer's CPU. A new engine starts with empty memories.
        self._ask = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(engine.ask)
        self._show = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(engine.show)
        self._catalogue = engine.catalogue

    def register(self, application: FitbotApp) -> None:
        """Add every handler, grouped by what it serves, and the error handler."""
        messages = filters.UpdateType.MESSAGES
        if self._gate is not None:
            application.add_handler(MessageHandler(messages & ADDRESSED, self.gate), group=-1)
            application.add_handler(CallbackQueryHandler(self.gate), group=-1)
        application.add_handlers(
            [
                CommandHandler([c.command for c in COMMANDS], self.text),
                MessageHandler(messages & filters.COMMAND & filters.ChatType.PRIVATE, self.text),
                MessageHandler(messages & filters.TEXT & ~filters.COMMAND & ADDRESSED, self.text),
                MessageHandler(
                    filters.UpdateType.MESSAGE
                    & ~filters.TEXT
                    & ~filters.StatusUpdate.ALL
                    & ADDRESSED,
                    self.not_text,
                ),
                CallbackQueryHandler(self.rate, pattern=f"^{re.escape(RATE + SEPARATOR)}"),
                CallbackQueryHandler(self.button),
                InlineQueryHandler(self.inline),
            ]
        )
        application.add_error_handler(self.error)

    async def gate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Let a user's message through the flood gate, or drop it (telling them once)."""
        user = update.effective_user
        if self._gate is None or user is None:
            return
        verdict = await self._gate.admit(user.id)
        if verdict is Verdict.PASS:
            return
        logger.debug("flood control: %s", verdict.value)
        if update.callback_query is not None:
            text = SLOW_DOWN if verdict is Verdict.WARN else None
            await best_effort(update.callback_query.answer(text), "answerCallbackQuery")
        elif verdict is Verdict.WARN:
            await self.reply(update, [SLOW_DOWN])
        raise ApplicationHandlerStop

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a question or command (the engine reads both), minus any mention of the bot."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        question = tidy(_without_mention(message.text, context.bot.username)).strip()
        await self._answer(update, context.bot, message, question or "/start")

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice: ask for text instead."""
        await self.reply(update, [TEXT_ONLY])

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the section a button names, after acknowledging the press."""
        query, chat = update.callback_query, update.effective_chat
        if query is None:
            return
        target = parse_callback_data(query.data)
        if target is None or chat is None:
            await best_effort(query.answer(STALE_BUTTON), "answerCallbackQuery")
            return
        await best_effort(query.answer(), "answerCallbackQuery")
        reply = self._show(*target, await self._store.load(chat.id))
        note_answer(reply.answer)
        thread = query.message.message_thread_id if isinstance(query.message, Message) else None
        await self._deliver(update, chat.id, reply.answer, reply.context, thread=thread)

    async def rate(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Keep a 👍/👎, thank for it with a toast, and after a first 👎 ask what was missing."""
        query, chat = update.callback_query, update.effective_chat
        if query is None:
            return
        target = parse_rating_data(query.data)
        if target is None or chat is None or query.message is None:
            await best_effort(query.answer(STALE_BUTTON), "answerCallbackQuery")
            return
        ask = await self._feedback.rate(chat.id, query.message.message_id, target)
        thanks = THANKS_HELPFUL if target.helpful else THANKS_UNHELPFUL
        await best_effort(query.answer(thanks), "answerCallbackQuery")
        if ask:
            await self.reply(update, [ASK_COMMENT])

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the exercise cards matching an inline query (``@bot reverse squat``)."""
        query = update.inline_query
        if query is None:
            return
        results = [_card(answer) for answer in self._cards(query.query)]
        await best_effort(
            query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=False),
            "answerInlineQuery",
        )

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A handler failed, which is a bug: log it with its traceback, and apologise."""
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update %s failed", update_id, exc_info=context.error)
        if isinstance(update, Update) and update.effective_chat is not None:
            await self.reply(update, [SORRY])

    async def reply(self, update: Update, texts: Sequence[str]) -> Delivery:
        """Plain-text messages to the update's chat, quoting its message in groups."""
        chat, message = update.effective_chat, update.effective_message
        if chat is None:
            return Delivery.DROPPED
        quote = message is not None and chat.type != ChatType.PRIVATE
        reply_to = message.message_id if quote and message is not None else None
        thread = _thread(message)
        outgoing = [Outgoing(chat.id, text, None, reply_to, thread) for text in texts]
        delivery = await self._outbox.deliver(update.update_id, chat.id, None, outgoing)
        note_delivery(delivery)
        return delivery

    async def _answer(self, update: Update, bot: Bot, message: Message, question: str) -> None:
        """Ask the engine with the chat's context and hand over the answer; show typing only
        if the answer is not out within :data:`TYPING_AFTER_SECONDS`."""
        chat_id = message.chat_id
        thread = _thread(message)
        # An answer takes a millisecond to compose; the indicator before a reply that follows
        # at once is never seen, and would cost a third of the bot's Bot API calls.
        typing = asyncio.get_running_loop().call_later(
            TYPING_AFTER_SECONDS, self._show_typing, bot, chat_id, thread
        )
        try:
            reply = self._ask(question, await self._store.load(chat_id))
            note_answer(reply.answer, question)
            if message.edit_date is None:  # an edit is not the chat's next message
                await self._feedback.message(chat_id, question, reply.answer)
            self._feedback.answered(chat_id, reply.answer, question)
            # Quote in groups, and when answering an edit, so it is clear what is answered.
            quote = message.chat.type != ChatType.PRIVATE or message.edit_date is not None
            await self._deliver(
                update,
                chat_id,
                reply.answer,
                reply.context,
                reply_to=message.message_id if quote else None,
                thread=thread,
            )
        finally:
            typing.cancel()

    def _show_typing(self, bot: Bot, chat_id: int, thread: int | None) -> None:
        task = asyncio.create_task(
            best_effort(bot.send_chat_action(chat_id, ChatAction.TYPING, thread), "typing")
        )
        self._typing.add(task)
        task.add_done_callback(self._typing.discard)

    async def _deliver(
        self,
        update: Update,
        chat_id: int,
        answer: Answer,
        context: Context,
        *,
        reply_to: int | None = None,
        thread: int | None = None,
    ) -> None:
        """The answer's messages in order, the buttons under the last one, with the chat's new
        context, to the outbox."""
        pieces, markup = self._render(answer)
        last = len(pieces) - 1
        messages = [
            Outgoing(
                chat_id,
                piece,
                ParseMode.HTML,
                reply_to if index == 0 else None,
                thread,
                markup if index == last else None,
            )
            for index, piece in enumerate(pieces)
        ]
        note_delivery(await self._outbox.deliver(update.update_id, chat_id, context, messages))

    def _cards(self, query: str) -> list[Answer]:
        """Answers to offer as inline results: the match and its suggestions, or everything."""
        fresh = Context()
        if not query.strip():
            shown = (self._show(record, "overview", fresh) for record, _ in self._catalogue())
            return _unique(reply.answer for reply in shown)
        answer = self._ask(query, fresh).answer
        candidates = [answer] if answer.answered and answer.exercise else []
        candidates += [
            self._show(choice.exercise, choice.intent, fresh).answer
            for choice in answer.suggestions
        ]
        return _unique(candidates)


async def best_effort(call: Awaitable[object], what: str) -> None:
    """Await a cosmetic Bot API call; if it fails, one warning line (it is counted already)."""
    try:
        await call
    except TelegramError as exc:
        logger.warning("%s failed: %s", what, exc)


def _thread(message: Message | None) -> int | None:
    """The forum topic to answer in, if the message is in one."""
    return message.message_thread_id if message is not None and message.is_topic_message else None


def _render(answer: Answer) -> tuple[tuple[str, ...], str | None]:
    return tuple(render_html(answer)), keyboard_json(answer)


def _unique(answers: Iterable[Answer]) -> list[Answer]:
    """Answered answers, first of each (exercise, intent), at most Telegram's result count."""
    seen: set[tuple[str | None, str | None]] = set()
    kept: list[Answer] = []
    for answer in answers:
        key = (answer.exercise, answer.intent)
        if answer.answered and key not in seen and len(kept) < InlineQueryLimit.RESULTS:
            seen.add(key)
            kept.append(answer)
    return kept


def _card(answer: Answer) -> InlineQueryResultArticle:
    """One inline result: the answer's first message, titled and described for the picker."""
    first_items = answer.blocks[0].items if answer.blocks else ()
    description = first_items[0] if first_items else ""
    if len(description) > INLINE_DESCRIPTION_CHARS:
        description = description[: INLINE_DESCRIPTION_CHARS - 1].rstrip() + "\u2026"
    return InlineQueryResultArticle(
        id=f"{answer.exercise}|{answer.intent}"[: InlineQueryResultLimit.MAX_ID_LENGTH],
        title=answer.title,
        description=description or None,
        input_message_content=InputTextMessageContent(
            render_html(answer)[0], parse_mode=ParseMode.HTML
        ),
    )


def _without_mention(text: str, username: str) -> str:
    return re.sub(rf"@{re.escape(username)}\b", " ", text, flags=re.IGNORECASE)
