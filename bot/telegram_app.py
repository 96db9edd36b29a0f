"""The Telegram front end: the answer engine served through python-telegram-bot.

:func:`build_application` wires handlers, the pooled HTTP transport, the rate limiter and the
per-chat update processor into an :class:`~telegram.ext.Application`; :func:`serve` runs it
(long polling, or a webhook when a URL is configured) until an event is set; :func:`run` is the
synchronous entry point ``fitbot run`` calls, shutting down cleanly on SIGTERM/SIGINT.

Concurrency: updates of different chats are answered in parallel (up to
:data:`MAX_CONCURRENT_ANSWERS`), updates of one chat strictly in arrival order
(:class:`ChatOrderedProcessor`), so a conversation's follow-ups always see the context its
previous message left. Bot API latency is hidden rather than waited for: the next getUpdates
is sent before a batch is answered (:class:`Poller`) and the typing action runs alongside the
answer.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import functools
import gc
import hmac
import html
import logging
import os
import re
import secrets
import signal
import sys
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias
from urllib.parse import quote, urlsplit

from aiohttp import web
from telegram import (
    Bot,
    BotCommand,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputTextMessageContent,
    Message,
    MessageEntity,
    ReplyParameters,
    Update,
)
from telegram.constants import (
    ChatAction,
    ChatType,
    InlineQueryLimit,
    InlineQueryResultLimit,
    ParseMode,
)
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    ApplicationHandlerStop,
    BaseUpdateProcessor,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot.admin import AdminCommands
from bot.answers import Answer
from bot.context import Context
from bot.engine import Engine
from bot.errors import ConfigError, KnowledgeError
from bot.knowledge import load_knowledge
from bot.logs import LogfmtFormatter
from bot.operations import (
    OPERATIONS_KEY,
    MeteredRequest,
    ObservedProcessor,
    Operations,
    add_health_routes,
    note_answer,
    operations_of,
    start_metrics_server,
)
from bot.settings import Settings
from bot.store import Store
from bot.telegram_render import keyboard, parse_callback_data, render_html
from bot.transport import discard_sent_messages

logger = logging.getLogger(__name__)

# The bot's type parameter depends on whether a rate limiter is configured.
FitbotApp: TypeAlias = Application[
    Any, ContextTypes.DEFAULT_TYPE, dict[Any, Any], dict[Any, Any], dict[Any, Any], Any
]

PTB_TIMEDELTA = "PTB_TIMEDELTA"
PTB_BOT_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot")
MAX_CONCURRENT_ANSWERS = 256
# Admission into the processor is not where the bound lies (see ChatOrderedProcessor).
MAX_PENDING_UPDATES = 100_000
RATE_LIMIT_RETRIES = 3
POLL_TIMEOUT_SECONDS = 10
POLL_RETRY_MIN_SECONDS = 0.5
POLL_RETRY_MAX_SECONDS = 30.0
INLINE_CACHE_SECONDS = 300
INLINE_DESCRIPTION_CHARS = 120
MAX_TRACKED_USERS = 10_000
ANSWER_CACHE_SIZE = 1024
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_MAX_CONNECTIONS = 100
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "inline_query")
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


class ChatOrderedProcessor(BaseUpdateProcessor):
    """Answers different chats in parallel and each chat's updates strictly in order.

    PTB's own semaphore admits updates generously (:data:`MAX_PENDING_UPDATES`): were it the
    bound, a chat with a backlog would hold most of the slots while waiting for its own turn.
    The real bound, ``max_concurrent``, is taken only by an update whose chat is free, so one busy
    chat occupies at most one slot. Waiters queue first-in first-out at both locks, which keeps
    each chat's arrival order and serves chats fairly.
    """

    __slots__ = ("_lanes", "_slots")

    def __init__(self, max_concurrent: int) -> None:
        super().__init__(MAX_PENDING_UPDATES)
        self._slots = asyncio.BoundedSemaphore(max_concurrent)
        self._lanes: dict[int, _Lane] = {}

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Wait for the chat's earlier updates and a free slot, then process ``update``."""
        key = ordering_key(update)
        if key is None:
            async with self._slots:
                await coroutine
            return
        lane = self._lanes.setdefault(key, _Lane())
        lane.users += 1
        try:
            async with lane.lock, self._slots:
                await coroutine
        finally:
            lane.users -= 1
            if not lane.users:
                del self._lanes[key]

    async def initialize(self) -> None:
        """Nothing to set up."""

    async def shutdown(self) -> None:
        """Nothing to release: lanes vanish with their last update."""


@dataclass
class _Lane:
    """The lock that orders one chat's updates, and how many updates hold or wait for it."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    users: int = 0


def ordering_key(update: object) -> int | None:
    """What updates are ordered by: the chat, else the user (inline queries); None for neither."""
    if not isinstance(update, Update):
        return None
    if update.effective_chat is not None:
        return update.effective_chat.id
    return update.effective_user.id if update.effective_user is not None else None


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

    def admit(self, user_id: int) -> Verdict:
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


class _RateLimiter(AIORateLimiter):
    """:class:`AIORateLimiter` that does not spend the message budget on typing indicators."""

    __slots__ = ()

    async def process_request(
        self,
        callback: Callable[..., Any],
        args: Any,
        kwargs: dict[str, Any],
        endpoint: str,
        data: dict[str, Any],
        rate_limit_args: int | None,
    ) -> Any:
        """Throttle everything but ``sendChatAction``."""
        if endpoint == "sendChatAction":
            return await callback(*args, **kwargs)
        return await super().process_request(
            callback, args, kwargs, endpoint, data, rate_limit_args
        )


class Coach:
    """The handlers: each reads the chat's context, asks the engine once and replies."""

    def __init__(self, engine: Engine, store: Store, gate: FloodGate | None) -> None:
        self._render = functools.lru_cache(maxsize=ANSWER_CACHE_SIZE)(_render)
        self._store = store
        self._gate = gate
        self._blocked: set[int] = set()
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
        verdict = self._gate.admit(user.id)
        if verdict is Verdict.PASS:
            return
        logger.debug("flood control: %s from user %s", verdict.value, user.id)
        if update.callback_query is not None:
            await update.callback_query.answer(SLOW_DOWN if verdict is Verdict.WARN else None)
        elif verdict is Verdict.WARN and update.effective_message is not None:
            await update.effective_message.reply_text(SLOW_DOWN, do_quote=False)
        raise ApplicationHandlerStop

    async def text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Answer a question or command (the engine reads both), minus any mention of the bot."""
        message = update.effective_message
        if message is None or message.text is None:
            return
        question = _without_mention(message.text, context.bot.username).strip()
        await self._answer(context, message, question or "/start")

    async def not_text(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Stickers, photos, voice: ask for text instead."""
        message = update.effective_message
        if message is None:
            return
        await message.reply_text(TEXT_ONLY, do_quote=message.chat.type != ChatType.PRIVATE)

    async def button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Show the section a button names, after acknowledging the press."""
        query, chat = update.callback_query, update.effective_chat
        if query is None:
            return
        target = parse_callback_data(query.data)
        if target is None or chat is None:
            await query.answer(STALE_BUTTON)
            return
        await query.answer()
        reply = self._show(*target, self._store.load(chat.id))
        note_answer(reply.answer)
        self._store.save(chat.id, reply.context)
        thread = query.message.message_thread_id if isinstance(query.message, Message) else None
        await self._deliver(context.bot, chat.id, reply.answer, thread=thread)

    async def inline(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Offer the exercise cards matching an inline query (``@bot reverse squat``)."""
        query = update.inline_query
        if query is None:
            return
        results = [_card(answer) for answer in self._cards(query.query)]
        await query.answer(results, cache_time=INLINE_CACHE_SECONDS, is_personal=False)

    async def error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log the failure; tell the user when that can help; report a blocked chat once."""
        error = context.error
        chat = update.effective_chat if isinstance(update, Update) else None
        chat_id = chat.id if chat is not None else None
        if isinstance(error, Forbidden):
            if chat_id not in self._blocked:
                logger.warning("chat %s: the bot may not write here (%s)", chat_id, error)
            if chat_id is not None:
                if len(self._blocked) >= MAX_TRACKED_USERS:
                    self._blocked.clear()  # at worst, a chat is reported once more
                self._blocked.add(chat_id)
            return
        update_id = update.update_id if isinstance(update, Update) else None
        logger.error("update %s in chat %s failed", update_id, chat_id, exc_info=error)
        # After a timeout the reply may have arrived; after a network failure or a flood
        # limit, an apology would fail the same way.
        unreachable = isinstance(error, NetworkError) and not isinstance(error, BadRequest)
        if chat is None or unreachable or isinstance(error, RetryAfter):
            return
        with contextlib.suppress(TelegramError):
            await context.bot.send_message(chat.id, SORRY)

    async def _answer(
        self, context: ContextTypes.DEFAULT_TYPE, message: Message, question: str
    ) -> None:
        """Show typing, ask the engine with the chat's context, save it, send the answer."""
        bot, chat_id = context.bot, message.chat_id
        thread = message.message_thread_id if message.is_topic_message else None
        # Typing runs alongside the answer instead of before it, which would add a Bot API
        # round trip to every answer; yielding once lets its request go out first.
        typing = asyncio.create_task(_show_typing(bot, chat_id, thread))
        await asyncio.sleep(0)
        try:
            reply = self._ask(question, self._store.load(chat_id))
            note_answer(reply.answer, question)
            self._store.save(chat_id, reply.context)
            # Quote in groups, and when answering an edit, so it is clear what is answered.
            quote = message.chat.type != ChatType.PRIVATE or message.edit_date is not None
            await self._deliver(
                bot,
                chat_id,
                reply.answer,
                reply_to=message.message_id if quote else None,
                thread=thread,
            )
        finally:
            await typing

    async def _deliver(
        self,
        bot: Bot,
        chat_id: int,
        answer: Answer,
        *,
        reply_to: int | None = None,
        thread: int | None = None,
    ) -> None:
        """Send the answer's messages in order; the buttons go under the last one."""
        pieces, markup = self._render(answer)
        # Nothing reads the sent messages PTB would build from Telegram's answers.
        with discard_sent_messages():
            for index, piece in enumerate(pieces):
                first, last = index == 0, index == len(pieces) - 1
                await bot.send_message(
                    chat_id,
                    piece,
                    parse_mode=ParseMode.HTML,
                    message_thread_id=thread,
                    reply_parameters=(
                        ReplyParameters(reply_to, allow_sending_without_reply=True)
                        if first and reply_to is not None
                        else None
                    ),
                    reply_markup=markup if last else None,
                )
        self._blocked.discard(chat_id)

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


def _render(answer: Answer) -> tuple[tuple[str, ...], InlineKeyboardMarkup | None]:
    return tuple(render_html(answer)), keyboard(answer)


async def _show_typing(bot: Bot, chat_id: int, thread: int | None) -> None:
    """Best effort: the indicator is cosmetic, and the answer reports its own failures."""
    with contextlib.suppress(TelegramError):
        await bot.send_chat_action(chat_id, ChatAction.TYPING, thread)


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


def build_application(settings: Settings, engine: Engine, store: Store) -> FitbotApp:
    """The application for ``settings``: handlers, transport, rate limiter, chat ordering.

    The application takes over ``store``: it is closed in ``post_shutdown``.
    """
    # Opt in to PTB 23's timedelta ``retry_after`` now: under PTB 22, RetryAfter's own
    # constructor reads the deprecated int form and warns on every 429.
    os.environ.setdefault(PTB_TIMEDELTA, "1")
    token = settings.require_token().reveal()
    _redact_bot_loggers(token)
    gate = FloodGate(settings.flood_rate, settings.flood_burst) if settings.flood_rate else None
    coach = Coach(engine, store, gate)
    ops = Operations(settings, engine, store, on_engine=coach.use)
    retry_429 = not settings.rate_limit
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.base_url)
        .request(MeteredRequest(ops.api_error, MAX_CONCURRENT_ANSWERS, retry_after_429=retry_429))
        .get_updates_request(MeteredRequest(ops.api_error, 1, retry_after_429=retry_429))
        .updater(None)  # serve() receives updates itself: Poller or the webhook server
        .concurrent_updates(ObservedProcessor(ChatOrderedProcessor(MAX_CONCURRENT_ANSWERS), ops))
        .post_init(_post_init)
        .post_shutdown(lambda _: _close(store))
    )
    if settings.rate_limit:
        builder = builder.rate_limiter(_RateLimiter(max_retries=RATE_LIMIT_RETRIES))
    application = builder.build()
    application.bot_data[OPERATIONS_KEY] = ops
    AdminCommands(ops, settings.admins).register(application)  # ahead of the coach's commands
    coach.register(application)
    return application


async def _post_init(application: FitbotApp) -> None:
    """Register the command menu, so clients offer the commands."""
    await application.bot.set_my_commands(COMMANDS)
    logger.info("fitbot is up as @%s", application.bot.username)


async def _close(store: Store) -> None:
    store.close()
    logger.info("state saved to %s", store.path)


async def serve(application: FitbotApp, settings: Settings, stop: asyncio.Event) -> None:
    """Receive and answer updates until ``stop`` is set, then shut down cleanly.

    Polling, or a webhook server when ``settings.webhook_url`` is set. On stop, receiving ends
    first, then every update already received is answered, then state is flushed. The metrics
    port (if set) serves from before initialisation (``/healthz`` 503) to after the flush.
    """
    stop_metrics = await start_metrics_server(application, settings)
    try:
        async with application:
            if application.post_init is not None:
                await application.post_init(application)
            stop_receiving = await _start_receiving(application, settings)
            await application.start()
            try:
                await stop.wait()
            finally:
                await stop_receiving()
                await application.stop()
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        await stop_metrics()


async def _start_receiving(
    application: FitbotApp, settings: Settings
) -> Callable[[], Awaitable[None]]:
    """Start polling or the webhook server; return the coroutine function that stops it."""
    if settings.webhook_url is None:
        poller = Poller(application)
        await poller.start()
        return poller.stop
    secret = (
        settings.webhook_secret.reveal()
        if settings.webhook_secret
        else secrets.token_urlsafe(WEBHOOK_SECRET_BYTES)
    )
    web_app = web.Application()
    add_health_routes(web_app, application)
    web_app.router.add_post(
        urlsplit(settings.webhook_url).path or "/", _receiver(application, secret)
    )
    runner = web.AppRunner(web_app, access_log=None)  # the path may embed a secret
    await runner.setup()
    await web.TCPSite(runner, settings.listen, settings.port).start()
    await application.bot.set_webhook(
        settings.webhook_url,
        secret_token=secret,
        allowed_updates=ALLOWED_UPDATES,
        max_connections=WEBHOOK_MAX_CONNECTIONS,
    )
    logger.info("webhook listening on %s:%s", settings.listen, settings.port)
    return runner.cleanup


class Poller:
    """Long polling that asks for the next batch as soon as it has the current one.

    PTB's Updater sends its next getUpdates only after every handler started for the previous
    batch has run up to its first wait, so under load each poll cycle costs the Bot API latency
    plus a whole batch's CPU, and at 100 updates a poll that caps throughput (measured: about
    650-800 replies/s at 50 ms latency). Here the next request is written before the batch is
    handed on. Fetched updates are confirmed on stop, so a restart does not get them again.
    """

    def __init__(self, application: FitbotApp) -> None:
        self._application = application
        self._offset = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Drop any webhook (Telegram refuses getUpdates while one is set) and start polling."""
        await self._application.bot.delete_webhook()
        self._task = asyncio.create_task(self._poll(), name="fitbot:polling")

    async def stop(self) -> None:
        """Stop polling and confirm everything fetched; it is all in the update queue."""
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(TelegramError):
            await self._application.bot.get_updates(offset=self._offset, timeout=0)

    async def _poll(self) -> None:
        bot, queue = self._application.bot, self._application.update_queue
        delay = POLL_RETRY_MIN_SECONDS
        while True:
            try:
                updates = await bot.get_updates(
                    offset=self._offset,
                    timeout=POLL_TIMEOUT_SECONDS,
                    allowed_updates=ALLOWED_UPDATES,
                )
            except TelegramError as exc:
                logger.warning("polling failed (%s); retrying in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(2 * delay, POLL_RETRY_MAX_SECONDS)
                continue
            delay = POLL_RETRY_MIN_SECONDS
            for update in updates:
                queue.put_nowait(update)
            if updates:
                self._offset = updates[-1].update_id + 1


def _receiver(
    application: FitbotApp, secret: str
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The webhook request handler: check the secret, queue the update, acknowledge at once."""
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode()
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        try:
            update = Update.de_json(await request.json(), application.bot)
        except (ValueError, KeyError, TypeError, AttributeError):
            return web.Response(status=400)
        await application.update_queue.put(update)
        return web.Response()

    return receive


class RedactingFilter(logging.Filter):
    """Replaces secrets in every log record (message, arguments, traceback) with ``***``."""

    def __init__(self, secrets_: Iterable[str]) -> None:
        super().__init__()
        self.secrets = frozenset(s for s in secrets_ if s)
        forms = {form for s in self.secrets for form in (s, quote(s, safe=""), html.escape(s))}
        longest_first = sorted(forms, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, longest_first))) if forms else None

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact in place; never drops a record."""
        if self._pattern is None:
            return True
        with contextlib.suppress(Exception):  # a broken record must still be logged
            message = record.getMessage()
            if self._pattern.search(message):
                record.msg, record.args = self._pattern.sub("***", message), None
            if record.exc_info and not record.exc_text:
                record.exc_text = logging.Formatter().formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = self._pattern.sub("***", record.exc_text)
            if record.stack_info:
                record.stack_info = self._pattern.sub("***", record.stack_info)
        return True


def _redact_bot_loggers(token: str) -> None:
    """Guard the loggers of PTB's Bot, whose constructor logs its URL (token included) at DEBUG.

    A filter on a logger acts before any handler sees the record, including handlers that
    :func:`configure_logging` never touched.
    """
    for name in PTB_BOT_LOGGERS:
        bot_logger = logging.getLogger(name)
        if not any(
            isinstance(f, RedactingFilter) and token in f.secrets for f in bot_logger.filters
        ):
            bot_logger.addFilter(RedactingFilter([token]))


def configure_logging(settings: Settings) -> None:
    """Log logfmt lines to stderr at the configured level, with every secret redacted."""
    stderr = logging.StreamHandler()
    stderr.setFormatter(LogfmtFormatter())
    logging.basicConfig(level=settings.log_level_number, handlers=[stderr])
    # httpx logs request URLs, which contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    redact = RedactingFilter(
        s.reveal() for s in (settings.token, settings.webhook_secret) if s is not None
    )
    for handler in logging.getLogger().handlers:
        handler.addFilter(redact)


def run(settings: Settings) -> int:
    """``fitbot run``: serve until SIGTERM/SIGINT. 0 after a clean stop, 1 if it cannot start,
    2 for bad configuration."""
    configure_logging(settings)
    try:
        settings.require_token()
        knowledge = load_knowledge(settings.knowledge)
        store = Store(settings.state)
    except ConfigError as exc:
        print(f"fitbot: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print(f"fitbot: refusing to start: {exc}", file=sys.stderr)
        return 1
    application = build_application(settings, Engine(knowledge), store)
    # The knowledge base and the application live as long as the process: keep them out of
    # the garbage collector's full passes, which otherwise stall every reply for tens of ms.
    gc.freeze()
    try:
        asyncio.run(_serve_until_signalled(application, settings))
    except (TelegramError, OSError) as exc:
        logger.error("could not start: %s", exc)
        return 1
    return 0


async def _serve_until_signalled(application: FitbotApp, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, operations_of(application).reload_soon)
    await serve(application, settings, stop)
