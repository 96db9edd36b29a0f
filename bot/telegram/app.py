"""The Telegram front end: the answer engine served through python-telegram-bot.

:func:`build_application` wires the handlers, the Bot API client (:mod:`bot.telegram.request`),
the rate limiter, the per-chat update processor and the outbox into an
:class:`~telegram.ext.Application`; :func:`serve` runs it (long polling, or a webhook when a URL
is configured) until an event is set; :func:`run` is the synchronous entry point ``fitbot run``
calls, shutting down cleanly on SIGTERM/SIGINT.

Nothing is lost on the way (see :mod:`bot.telegram.receiving` and :mod:`bot.telegram.delivery`):
every update is stored before Telegram is told it arrived, and every reply before it is sent;
a restart handles what was stored but not handled and sends what was not delivered.

Concurrency: updates of different chats are answered in parallel (up to
:data:`MAX_CONCURRENT_ANSWERS`), updates of one chat strictly in arrival order
(:class:`~bot.telegram.ordering.ChatOrderedProcessor`), and a chat's replies leave in that
order too (the outbox's lanes).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import resource
import secrets
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from aiohttp import web
from telegram.error import TelegramError
from telegram.ext import AIORateLimiter, ApplicationBuilder, BaseRateLimiter

from bot.admin import AdminCommands
from bot.clock import SYSTEM_CLOCK, Clock
from bot.engine import Engine
from bot.errors import ConfigError, KnowledgeError
from bot.knowledge import load_knowledge
from bot.logs import LogfmtFormatter, chat_hasher, guard, redact_everywhere
from bot.logs import RedactingFilter as RedactingFilter  # where it used to live
from bot.operations import (
    OPERATIONS_KEY,
    ObservedProcessor,
    Operations,
    add_health_routes,
    operations_of,
    start_metrics_server,
)
from bot.settings import Settings
from bot.signals import defer_hangup, hangup_pending
from bot.state import open_store
from bot.state.redis_store import RedisStore
from bot.state.store import Store
from bot.telegram.delivery import Outbox, RetryPolicy
from bot.telegram.feedback import Feedback
from bot.telegram.handlers import COMMANDS, Coach, FitbotApp, FloodGate, Gate
from bot.telegram.ordering import ChatOrderedProcessor
from bot.telegram.receiving import (
    RECEIVE_STALE_SECONDS,
    Finished,
    Inbox,
    Poller,
    ReceiveStatus,
    ReceivingFatal,
    http_runner,
    unhandled_updates,
    webhook_handler,
    webhook_path,
)
from bot.telegram.replicas import RedisFloodGate, RedisRateLimiter, ReloadChannel
from bot.telegram.request import AiohttpRequest, proxy_from_environment

logger = logging.getLogger(__name__)

PTB_TIMEDELTA = "PTB_TIMEDELTA"
PTB_BOT_LOGGERS = ("telegram.Bot", "telegram.ext.ExtBot")
MAX_CONCURRENT_ANSWERS = 256
RATE_LIMIT_RETRIES = 3
WEBHOOK_SECRET_BYTES = 32
WEBHOOK_MAX_CONNECTIONS = 100
WEBHOOK_SHUTDOWN_SECONDS = 5.0
MAX_OPEN_FILES = 65536
ALLOWED_UPDATES = ("message", "edited_message", "callback_query", "inline_query")
PARTS_KEY = "fitbot.parts"


@dataclass(frozen=True)
class Parts:
    """What :func:`serve` needs besides the application: the state, the outbox, the clock,
    the request object getUpdates goes through, and with a shared store who waits for which
    update (the webhook) and the channel reloads travel on."""

    store: Store
    outbox: Outbox
    clock: Clock
    updates_request: AiohttpRequest
    finished: Finished | None = None
    reloads: ReloadChannel | None = None


@dataclass(frozen=True)
class _Receiver:
    """A started way of receiving updates: its task (polling) and how to stop it."""

    task: asyncio.Task[None] | None
    stop: Callable[[], Awaitable[None]]


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


def build_application(
    settings: Settings,
    engine: Engine,
    store: Store,
    *,
    clock: Clock = SYSTEM_CLOCK,
    retry: RetryPolicy | None = None,
    receive_stale_after: float = RECEIVE_STALE_SECONDS,
) -> FitbotApp:
    """The application for ``settings``: handlers, Bot API client, rate limiter, chat ordering,
    outbox. ``clock``, ``retry`` and ``receive_stale_after`` are seams for tests.

    The application takes over ``store``: it is closed in ``post_shutdown``.
    """
    # Opt in to PTB 23's timedelta ``retry_after`` now: under PTB 22, RetryAfter's own
    # constructor reads the deprecated int form and warns on every 429.
    os.environ.setdefault(PTB_TIMEDELTA, "1")
    token = settings.require_token().reveal()
    # PTB's Bot logs its URL (token included) at DEBUG from its constructor.
    redact_everywhere([token, *secrets_of(settings)], PTB_BOT_LOGGERS)
    proxy = proxy_from_environment(settings.base_url)
    shared = isinstance(store, RedisStore)
    gate: Gate | None = None
    if settings.flood_rate and isinstance(store, RedisStore):
        gate = RedisFloodGate(
            store.client, store.prefix, settings.flood_rate, settings.flood_burst
        )
    elif settings.flood_rate:
        gate = FloodGate(settings.flood_rate, settings.flood_burst)
    receiving = ReceiveStatus(clock, receive_stale_after)
    reloads = (
        ReloadChannel(store.client, store.prefix, store.replica)
        if isinstance(store, RedisStore)
        else None
    )
    ops = Operations(
        settings,
        engine,
        store,
        receiving,
        on_engine=lambda new: coach.use(new),
        announce=reloads.announce if reloads is not None else None,
    )
    outbox = Outbox(store, clock, retry or RetryPolicy(), ops)
    ops.watch_outbox(outbox)
    coach = Coach(engine, store, gate, outbox, Feedback(store, ops.hash_chat, clock=clock.time))
    updates_request = AiohttpRequest(1, proxy=proxy, observer=ops.api_error)
    finished = Finished() if shared else None
    processor = ObservedProcessor(
        ChatOrderedProcessor(MAX_CONCURRENT_ANSWERS),
        ops,
        finished.done if finished is not None else None,
    )
    builder: ApplicationBuilder[Any, Any, Any, Any, Any, Any] = (
        ApplicationBuilder()
        .token(token)
        .base_url(settings.base_url)
        .request(AiohttpRequest(MAX_CONCURRENT_ANSWERS, proxy=proxy, observer=ops.api_error))
        .get_updates_request(updates_request)
        .updater(None)  # serve() receives updates itself: Poller or the webhook server
        .concurrent_updates(processor)
        .post_init(_post_init)
        .post_shutdown(lambda _: _close(store))
    )
    if settings.rate_limit and isinstance(store, RedisStore):
        limiter: BaseRateLimiter[Any] = RedisRateLimiter(
            store.client, store.prefix, max_retries=RATE_LIMIT_RETRIES
        )
        builder = builder.rate_limiter(limiter)
    elif settings.rate_limit:
        builder = builder.rate_limiter(_RateLimiter(max_retries=RATE_LIMIT_RETRIES))
    application = builder.build()
    application.bot_data[OPERATIONS_KEY] = ops
    application.bot_data[PARTS_KEY] = Parts(
        store, outbox, clock, updates_request, finished, reloads
    )
    # Admin commands ahead of the coach's, so they are never answered as questions.
    AdminCommands(ops, settings.admins, coach.reply).register(application)
    coach.register(application)
    return application


def parts_of(application: FitbotApp) -> Parts:
    """The :class:`Parts` that :func:`build_application` attached to ``application``."""
    parts = application.bot_data[PARTS_KEY]
    assert isinstance(parts, Parts)
    return parts


async def _post_init(application: FitbotApp) -> None:
    """Register the command menu, so clients offer the commands (best effort)."""
    try:
        await application.bot.set_my_commands(COMMANDS)
    except TelegramError as exc:
        logger.warning("could not register the command menu: %s", exc)
    logger.info("fitbot is up as @%s", application.bot.username)


async def _close(store: Store) -> None:
    await store.close()
    logger.info("state saved to %s", store.location)


async def serve(application: FitbotApp, settings: Settings, stop: asyncio.Event) -> None:
    """Receive and answer updates until ``stop`` is set, then shut down cleanly.

    Polling, or a webhook server when ``settings.webhook_url`` is set. First the replies the
    state store still holds are sent and the updates it holds unhandled are queued. On stop,
    receiving ends first, then every update already received is answered, then state is
    flushed. The metrics port (if set) serves from before initialisation (``/healthz`` 503) to
    after the flush. If receiving dies (a refused token, a bug), the bot shuts down the same
    way and :class:`ReceivingFatal` is raised, so the process exits non-zero.
    """
    parts, ops = parts_of(application), operations_of(application)
    stop_metrics = await start_metrics_server(application, settings)
    try:
        async with application:
            if application.post_init is not None:
                await application.post_init(application)
            kept = await parts.outbox.start(application.bot)
            backlog = await unhandled_updates(parts.store, application.bot, ops.skipped)
            if kept or backlog:
                logger.info(
                    "resuming: %d undelivered replies, %d unhandled updates", kept, len(backlog)
                )
            for update in backlog:
                application.update_queue.put_nowait(update)
            receiver = await _start_receiving(application, settings, parts, ops)
            await application.start()
            if parts.reloads is not None:
                parts.reloads.start(lambda: ops.reload_soon(announce=False))
            try:
                failure = await _until_stopped(stop, receiver.task)
            finally:
                if parts.reloads is not None:
                    await parts.reloads.stop()
                await receiver.stop()
                await application.stop()
                await parts.outbox.stop()
            if failure is not None:
                raise failure
    finally:
        if application.post_shutdown is not None:
            await application.post_shutdown(application)
        await stop_metrics()
        # When initialising failed (Telegram unreachable), PTB never shut its clients down.
        for request in (parts.updates_request, application.bot.request):
            await request.shutdown()  # idempotent


async def _until_stopped(
    stop: asyncio.Event, task: asyncio.Task[None] | None
) -> ReceivingFatal | None:
    """Wait for ``stop``, or for the receiving ``task`` to die; return why it died."""
    stopping = asyncio.ensure_future(stop.wait())
    waiting: set[asyncio.Future[Any]] = {stopping} if task is None else {stopping, task}
    try:
        await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
    finally:
        stopping.cancel()
    if task is None or not task.done() or task.cancelled():
        return None
    error = task.exception()
    if isinstance(error, ReceivingFatal):
        return error
    logger.critical(
        "receiving updates stopped unexpectedly; fitbot stops so that it is restarted",
        exc_info=error,
    )
    return ReceivingFatal("receiving updates stopped unexpectedly")


async def _start_receiving(
    application: FitbotApp, settings: Settings, parts: Parts, ops: Operations
) -> _Receiver:
    """Start polling or the webhook server."""
    bot = application.bot
    inbox = Inbox(parts.store, bot, application.update_queue.put_nowait, ops.skipped)
    if settings.webhook_url is None:
        last = await parts.store.last_update_id()
        poller = Poller(
            bot,
            parts.updates_request,
            inbox,
            ops.receiving,
            parts.clock,
            allowed_updates=ALLOWED_UPDATES,
            on_recovered=parts.outbox.wake,
            offset=last + 1 if last is not None else 0,
        )
        await poller.start()
        return _Receiver(poller.task, poller.stop)
    secret = (
        settings.webhook_secret.reveal()
        if settings.webhook_secret
        else secrets.token_urlsafe(WEBHOOK_SECRET_BYTES)
    )
    redact_everywhere([secret], PTB_BOT_LOGGERS)  # set_webhook's DEBUG line carries it
    web_app = web.Application()
    add_health_routes(web_app, application)
    web_app.router.add_post(
        webhook_path(settings.webhook_url),
        webhook_handler(inbox, secret, ops.receiving, parts.finished),
    )
    # The path may embed a secret: no access log. A request that waits for its update to be
    # handled is given a few seconds to finish on stop; Telegram sends it again otherwise.
    runner = http_runner(web_app, shutdown_timeout=WEBHOOK_SHUTDOWN_SECONDS)
    await runner.setup()
    await web.TCPSite(runner, settings.listen, settings.port).start()
    ops.receiving.polling = False
    ops.receiving.started()
    await bot.set_webhook(
        settings.webhook_url,
        secret_token=secret,
        allowed_updates=ALLOWED_UPDATES,
        max_connections=WEBHOOK_MAX_CONNECTIONS,
    )
    logger.info("webhook listening on %s:%s", settings.listen, settings.port)

    async def stop() -> None:
        ops.receiving.stopped()
        await runner.cleanup()

    return _Receiver(None, stop)


def configure_logging(settings: Settings) -> None:
    """Log logfmt lines to stderr at the configured level, every logger's records guarded
    (:func:`~bot.logs.guard`: chat ids hashed, texts only at DEBUG, secrets redacted, floods of
    one line held back)."""
    stderr = logging.StreamHandler()
    stderr.setFormatter(LogfmtFormatter())
    logging.basicConfig(level=settings.log_level_number, handlers=[stderr])
    # httpx logs request URLs, which contain the token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    salt = settings.log_salt.reveal().encode() if settings.log_salt else None
    for handler in logging.getLogger().handlers:
        guard(handler, chat_hasher(salt), secrets_of(settings))


# A webhook URL's path segment this long is taken for a secret.
SECRET_PATH_CHARS = 16


def secrets_of(settings: Settings) -> list[str]:
    """What must never be logged: the token, the webhook secret, the log salt, any password
    in the Bot API, webhook or proxy URL, and a secret-length segment of the webhook path."""
    found = [s.reveal() for s in (settings.token, settings.webhook_secret, settings.log_salt) if s]
    found += settings.secrets  # the Redis password among them
    urls = [settings.base_url, settings.webhook_url]
    with contextlib.suppress(ConfigError):  # build_application reports a proxy it cannot use
        urls.append(proxy_from_environment(settings.base_url))
    for url in urls:
        with contextlib.suppress(ValueError):
            password = urlsplit(url).password if url else None
            if password:
                found += [password, unquote(password)]
    if settings.webhook_url:
        # A webhook path often carries a secret of its own ("/hook/3f9a...c1"): a segment long
        # enough to be one is never logged either.
        path = urlsplit(settings.webhook_url).path
        found += [
            form
            for part in path.split("/")
            if len(unquote(part)) >= SECRET_PATH_CHARS
            for form in (part, unquote(part))
        ]
    return found


def run(settings: Settings) -> int:
    """``fitbot run``: serve until SIGTERM/SIGINT. 0 after a clean stop, 1 if it cannot start
    or receiving dies, 2 for bad configuration. A SIGHUP while it starts is a reload once it
    runs, never the end of the process."""
    defer_hangup()
    configure_logging(settings)
    _raise_open_files_limit()
    try:
        settings.require_token()
        knowledge = load_knowledge(settings.knowledge)
        application = build_application(settings, Engine(knowledge), open_store(settings))
    except ConfigError as exc:
        print(f"fitbot: {exc}", file=sys.stderr)
        return 2
    except KnowledgeError as exc:
        print(f"fitbot: refusing to start: {exc}", file=sys.stderr)
        return 1
    # The knowledge base and the application live as long as the process: keep them out of
    # the garbage collector's full passes, which otherwise stall every reply for tens of ms.
    gc.freeze()
    try:
        asyncio.run(_serve_until_signalled(application, settings))
    except ReceivingFatal:
        return 1  # logged where it happened
    except (TelegramError, OSError) as exc:
        logger.error("could not start: %s", exc)
        return 1
    return 0


def _raise_open_files_limit() -> None:
    """Let the process open as many files as it may (up to :data:`MAX_OPEN_FILES`): a
    connection is a file, and at a soft limit of 1,024 a few hundred half-open connections to
    the webhook kept /healthz from being answered at all."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = MAX_OPEN_FILES if hard == resource.RLIM_INFINITY else min(hard, MAX_OPEN_FILES)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


async def _serve_until_signalled(application: FitbotApp, settings: Settings) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    loop.add_signal_handler(signal.SIGHUP, operations_of(application).reload_soon)
    if hangup_pending():
        operations_of(application).reload_soon()
    await serve(application, settings, stop)
