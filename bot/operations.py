"""Running fitbot unattended: readiness, metrics, a log line per update, unanswered questions,
knowledge reloads.

:func:`~bot.telegram.app.build_application` creates one :class:`Operations` per application
and keeps it in ``application.bot_data`` (:func:`operations_of`). Around every update,
:class:`ObservedProcessor` opens a :class:`Trace` in a context variable; the handlers say what
they answered with :func:`note_answer` and what became of the reply with :func:`note_delivery`;
the Bot API client reports every failed call to :meth:`Operations.api_error`, and the outbox
every retry and drop (:class:`Operations` is its listener). When the update is done it is
counted, logged as one logfmt line (chat id hashed, message text only at DEBUG), and a declined
or doubtful question is written to the store.

Reloads (``/reload``, SIGHUP) build the new engine in a worker thread and swap it in only if
the knowledge base validates; an answer under way finishes on the engine it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import inspect
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from http import HTTPStatus
from pathlib import Path
from typing import Any

from aiohttp import web
from telegram import Update
from telegram.ext import Application, BaseUpdateProcessor

from bot.answers import Answer
from bot.engine import Engine
from bot.errors import KnowledgeError, Problem
from bot.knowledge import load_knowledge
from bot.logs import STRUCTURED, chat_hasher, logfmt
from bot.metrics import Metrics
from bot.settings import Settings
from bot.state.store import VIA_BUTTON, VIA_QUESTION, PendingReply, Store, UnansweredQuestion
from bot.telegram.delivery import Attempt, Delivery, Outbox, OutboxListener
from bot.telegram.ordering import ordering_key
from bot.telegram.receiving import ReceiveStatus, http_runner

logger = logging.getLogger(__name__)

AnyApplication = Application[Any, Any, Any, Any, Any, Any]

OPERATIONS_KEY = "fitbot.operations"
# Answers less sure than this are recorded as unanswered too: the engine found something, but
# a coach should check whether the knowledge base really covers the question.
LOW_CONFIDENCE = 0.5
# Telegram's update fields, in the order they are looked for.
UPDATE_TYPES = (
    "message",
    "edited_message",
    "callback_query",
    "inline_query",
    "channel_post",
    "edited_channel_post",
    "my_chat_member",
    "chat_member",
    "chosen_inline_result",
)
OTHER_UPDATE = "other"
FLOOD_CODE = "429"
BLOCKED = "blocked"
MS_PER_SECOND = 1000
MAX_TRACKED_CHATS = 10_000
LOGGED_PROBLEMS = 5  # of a failed reload, in its log line
# A reload reads at most a few MiB (bot.knowledge_files): seconds. This bounds the wait on a
# file system that hangs (a lost network mount); the reload lock is never held longer.
RELOAD_TIMEOUT_SECONDS = 60.0


@dataclass
class Trace:
    """What happened while one update was handled; the handlers fill it in."""

    question: str | None = None
    answer: Answer | None = None
    delivery: Delivery | None = None
    api_errors: list[str] = field(default_factory=list)


_trace: ContextVar[Trace | None] = ContextVar("fitbot_trace", default=None)


def note_answer(answer: Answer, question: str | None = None) -> None:
    """Tell the update being handled what the engine answered, and the question if one was
    typed (a button press has none)."""
    trace = _trace.get()
    if trace is not None:
        trace.answer, trace.question = answer, question


def note_delivery(delivery: Delivery) -> None:
    """Tell the update being handled what became of its reply (committed with the update)."""
    trace = _trace.get()
    if trace is not None:
        trace.delivery = delivery


@dataclass(frozen=True)
class KnowledgeSummary:
    """The knowledge base in service: where it was read from and what it holds."""

    directory: Path
    exercises: int
    topics: int
    loaded_at: float

    @property
    def records(self) -> int:
        """Exercises and topics together."""
        return self.exercises + self.topics


@dataclass(frozen=True)
class ReloadResult:
    """The outcome of a reload: the knowledge in service after it, and the problems found
    (``problems`` lists the first of them, ``total`` counts them all)."""

    knowledge: KnowledgeSummary
    problems: tuple[Problem, ...] = ()
    total: int = 0

    @property
    def ok(self) -> bool:
        """Whether the new knowledge base is now in service."""
        return not self.problems

    @property
    def problem_count(self) -> int:
        """How many problems were found, listed or not."""
        return max(self.total, len(self.problems))


class Operations(OutboxListener):
    """The bot's operational state and duties, shared by handlers, the Bot API client, the
    outbox and HTTP."""

    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        store: Store,
        receiving: ReceiveStatus,
        *,
        on_engine: Callable[[Engine], None],
        clock: Callable[[], float] = time.time,
        announce: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self.metrics = Metrics()
        self.receiving = receiving
        self.started = clock()
        salt = settings.log_salt
        hasher = chat_hasher(salt.reveal().encode() if salt else None)
        # One chat's updates come in runs: hash each chat once, not on every log line.
        self.hash_chat = functools.lru_cache(maxsize=MAX_TRACKED_CHATS)(hasher)
        self._clock = clock
        self._directory = settings.knowledge
        self._store = store
        self._on_engine = on_engine
        self._announce = announce
        self._reloading = asyncio.Lock()
        self._loader: threading.Thread | None = None
        self._background: set[asyncio.Task[ReloadResult]] = set()
        self._blocked: set[int] = set()
        self._outbox: Outbox | None = None
        self.knowledge = self._summary(engine)
        self.metrics.knowledge_records.set(self.knowledge.records)
        self.metrics.watch_state(lambda: store.errors, lambda: float(receiving.healthy))

    # -- updates ------------------------------------------------------------------------

    async def observe(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Handle one update inside a fresh :class:`Trace`, then account for it; an update
        that left no reply is marked handled here (a reply marks it in its own commit).

        With a shared store the update is handled in its chat's turn (no other replica handles
        one of the chat's updates meanwhile), and skipped if a replica handled it already.
        """
        key = ordering_key(update) if isinstance(update, Update) else None
        if key is None or not isinstance(update, Update):
            await self._observe(update, coroutine)
            return
        async with self._store.turn(key, update.update_id, self.hash_chat(key)) as fresh:
            if not fresh:
                _close(coroutine)
                self.skipped("duplicate")
                return
            await self._observe(update, coroutine)

    async def _observe(self, update: object, coroutine: Awaitable[Any]) -> None:
        trace = Trace()
        token = _trace.set(trace)
        started = time.perf_counter()
        try:
            await coroutine
        finally:
            _trace.reset(token)
            if trace.delivery is None and isinstance(update, Update):
                await self._store.handled(update.update_id)
            await self._account(update, trace, time.perf_counter() - started)

    def api_error(self, method: str, code: str) -> None:
        """Count a Bot API call that failed, and note it in the update being handled. A 429
        is a flood wait, not an error: whoever made the call waits and tries again."""
        if code == FLOOD_CODE:
            self.metrics.flood_waits.labels(method).inc()
        else:
            self.metrics.api_errors.labels(method, code).inc()
        trace = _trace.get()
        if trace is not None:
            trace.api_errors.append(code)

    def skipped(self, reason: str) -> None:
        """Count an update received but not handled (unreadable, or a duplicate)."""
        self.metrics.skipped.labels(reason).inc()

    def watch_outbox(self, outbox: Outbox) -> None:
        """Show ``outbox``'s undelivered replies in /metrics and /healthz."""
        self.metrics.outbox_pending.set_function(lambda: outbox.pending)
        self._outbox = outbox

    @property
    def outbox_pending(self) -> int:
        """Replies not delivered yet."""
        return self._outbox.pending if self._outbox is not None else 0

    # -- the outbox's reports -------------------------------------------------------------

    def sent(self, reply: PendingReply) -> None:
        """Count a delivered reply."""
        self.metrics.replies.labels("sent").inc()
        if self._blocked:
            self._blocked.discard(reply.message.chat_id)

    def retrying(self, chat_id: int, attempt: Attempt, delay: float, failures: int) -> None:
        """One warning line per failed send, with what happens next."""
        self.metrics.reply_retries.labels(attempt.reason).inc()
        logger.warning(
            "reply to chat %s not delivered (%s: %s); retry %d in %.1f s",
            self.hash_chat(chat_id),
            attempt.reason,
            attempt.detail,
            failures,
            delay,
        )

    def dropped(self, chat_id: int, attempt: Attempt, count: int) -> None:
        """Count replies given up; a blocked chat is reported once until it works again."""
        self.metrics.replies.labels(attempt.reason).inc(count)
        if attempt.reason == BLOCKED:
            if chat_id in self._blocked:
                return
            if len(self._blocked) >= MAX_TRACKED_CHATS:
                self._blocked.clear()  # at worst, a chat is reported once more
            self._blocked.add(chat_id)
        logger.warning(
            "dropped %d reply(s) to chat %s (%s: %s)",
            count,
            self.hash_chat(chat_id),
            attempt.reason,
            attempt.detail,
        )

    async def _account(self, update: object, trace: Trace, seconds: float) -> None:
        kind = update_type(update)
        self.metrics.updates.labels(kind).inc()
        answer = trace.answer
        if answer is not None and trace.question is not None:
            self.metrics.question(answer, seconds)
            if is_unanswered(trace.question, answer):
                await self._record(trace.question, answer)
        if answer is not None and (trace.question is None or is_question(trace.question)):
            via = VIA_QUESTION if trace.question is not None else VIA_BUTTON
            await self._store.count_answer(
                self._clock(), answer.exercise, answer.intent, answer.answered, via
            )
        if logger.isEnabledFor(logging.INFO):
            fields = self._log_fields(update, kind, trace, seconds)
            logger.info("update %s", fields, extra={STRUCTURED: True})

    async def _record(self, question: str, answer: Answer) -> None:
        guess = answer.suggestions[0].exercise if answer.suggestions else None
        entry = UnansweredQuestion(
            text=question,
            asked_at=self._clock(),
            answered=answer.answered,
            confidence=answer.confidence,
            exercise=answer.exercise or guess,
            intent=answer.intent,
        )
        if await self._store.record_unanswered(entry):
            self.metrics.unanswered.inc()

    def _log_fields(self, update: object, kind: str, trace: Trace, seconds: float) -> str:
        answer = trace.answer
        fields: dict[str, object] = {"type": kind, "chat": self._chat_hash(update)}
        if answer is not None:
            fields |= {
                "exercise": answer.exercise,
                "intent": answer.intent,
                "confidence": answer.confidence,
                "answered": answer.answered,
            }
        if trace.delivery is not None:
            fields["delivery"] = trace.delivery.value
        fields["api_error"] = ",".join(trace.api_errors) or None
        fields["latency_ms"] = round(seconds * MS_PER_SECOND, 1)
        if logger.isEnabledFor(logging.DEBUG):
            fields["text"] = update_text(update)
        return logfmt(fields)

    def _chat_hash(self, update: object) -> str | None:
        if not isinstance(update, Update):
            return None
        if update.effective_chat is not None:
            return self.hash_chat(update.effective_chat.id)
        return self.hash_chat(update.effective_user.id) if update.effective_user else None

    # -- knowledge ----------------------------------------------------------------------

    async def reload(self, *, announce: bool = True) -> ReloadResult:
        """Re-read and validate the knowledge base off the event loop; swap the engine in only
        if it loads. One reload at a time, and none waits for longer than
        :data:`RELOAD_TIMEOUT_SECONDS` (nor holds up another, nor a shutdown, longer). With
        ``announce`` (and replicas), ask every other replica to do the same: each validates the
        files itself."""
        if announce and self._announce is not None:
            await self._announce()
        async with self._reloading:
            where = str(self._directory)
            if self._loader is not None and self._loader.is_alive():
                return self._reload_failed(
                    (Problem(where, "", "the reload before is still reading it; try later"),)
                )
            try:
                async with asyncio.timeout(RELOAD_TIMEOUT_SECONDS):
                    engine = await self._load_in_daemon_thread()
            except TimeoutError:
                return self._reload_failed(
                    (Problem(where, "", f"reading it took over {RELOAD_TIMEOUT_SECONDS:g} s"),)
                )
            except KnowledgeError as exc:
                return self._reload_failed(exc.problems, exc.total)
            except Exception as exc:  # whatever went wrong, the old knowledge stays in service
                logger.exception("knowledge reload failed unexpectedly")
                return self._reload_failed(
                    (Problem(str(self._directory), "", f"unexpected error: {exc}"),)
                )
            self._on_engine(engine)
            if gc.get_freeze_count():
                # run() keeps the start-up knowledge out of the collector's full passes (they
                # stall replies); keep the new one out too.
                gc.freeze()
            self.knowledge = self._summary(engine)
            self.metrics.knowledge_records.set(self.knowledge.records)
            self.metrics.reloads.labels("ok").inc()
            logger.info(
                "knowledge reloaded from %s: %d exercises, %d topics",
                self._directory,
                self.knowledge.exercises,
                self.knowledge.topics,
            )
            return ReloadResult(self.knowledge)

    async def _load_in_daemon_thread(self) -> Engine:
        """:func:`_load_engine` in a daemon thread of its own: unlike the default executor's
        threads, which the interpreter joins at exit, it never keeps a SIGTERM waiting."""
        loop = asyncio.get_running_loop()
        outcome: asyncio.Future[Engine] = loop.create_future()

        def settle(engine: Engine | None, error: BaseException | None) -> None:
            if outcome.done():
                return  # the reload gave up waiting
            if error is not None:
                outcome.set_exception(error)
            else:
                outcome.set_result(engine)  # type: ignore[arg-type]

        def work() -> None:
            engine, error = None, None
            try:
                engine = _load_engine(self._directory)
            except BaseException as exc:  # handed to the waiting coroutine
                error = exc
            with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits
                loop.call_soon_threadsafe(settle, engine, error)

        self._loader = threading.Thread(target=work, name="fitbot:reload", daemon=True)
        self._loader.start()
        return await outcome

    def reload_soon(self, *, announce: bool = True) -> None:
        """Start a reload in the background (the SIGHUP handler, or another replica's
        announcement); its result is logged."""
        task = asyncio.get_running_loop().create_task(
            self.reload(announce=announce), name="fitbot:reload"
        )
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def uptime(self) -> float:
        """Seconds since the application was built."""
        return self._clock() - self.started

    @property
    def state_errors(self) -> int:
        """Failed reads and writes of the state file since start."""
        return self._store.errors

    async def unanswered_count(self) -> int:
        """Unanswered questions kept in the store."""
        return await self._store.count_unanswered()

    async def store_reachable(self) -> bool:
        """Whether the state store answers (a shared one can be unreachable)."""
        return await self._store.ping()

    def _reload_failed(self, problems: tuple[Problem, ...], total: int = 0) -> ReloadResult:
        self.metrics.reloads.labels("failed").inc()
        result = ReloadResult(self.knowledge, problems, total)
        shown = problems[:LOGGED_PROBLEMS]
        more = result.problem_count - len(shown)
        logger.warning(
            "knowledge reload from %s failed, the previous knowledge base stays in service: "
            "%d problem(s): %s%s",
            self._directory,
            result.problem_count,
            "; ".join(map(str, shown)),
            f"; ... and {more} more (run fitbot kb check)" if more else "",
        )
        return result

    def _summary(self, engine: Engine) -> KnowledgeSummary:
        kinds = [record.kind for record in engine.kb.records.values()]
        return KnowledgeSummary(
            self._directory, kinds.count("exercise"), kinds.count("topic"), self._clock()
        )


def _close(coroutine: Awaitable[Any]) -> None:
    """Close a coroutine that will not run (so Python does not warn it was never awaited)."""
    if inspect.iscoroutine(coroutine):
        coroutine.close()


def _load_engine(directory: Path) -> Engine:
    return Engine(load_knowledge(directory))


def operations_of(application: AnyApplication) -> Operations:
    """The :class:`Operations` that ``build_application`` attached to ``application``."""
    ops = application.bot_data[OPERATIONS_KEY]
    assert isinstance(ops, Operations)
    return ops


def update_type(update: object) -> str:
    """The Telegram update field that is set (``message``, ``callback_query``...)."""
    if isinstance(update, Update):
        for name in UPDATE_TYPES:
            if getattr(update, name) is not None:
                return name
    return OTHER_UPDATE


def update_text(update: object) -> str | None:
    """What the user typed or pressed: message text or caption, button data, inline query."""
    if not isinstance(update, Update):
        return None
    message = update.effective_message
    if message is not None and (message.text or message.caption):
        return message.text or message.caption
    if update.callback_query is not None:
        return update.callback_query.data
    return update.inline_query.query if update.inline_query is not None else None


def is_question(text: str) -> bool:
    """Whether ``text`` asks something: anything but a bare command (``/start``, an unknown
    ``/dance``), which asks nothing the knowledge base could answer."""
    return not text.startswith("/") or len(text.split(maxsplit=1)) >= 2


def is_unanswered(question: str, answer: Answer) -> bool:
    """Whether a coach should see ``question``: declined or doubtful, and a question."""
    return is_question(question) and (not answer.answered or answer.confidence < LOW_CONFIDENCE)


class ObservedProcessor(BaseUpdateProcessor):
    """Runs every update through ``inner`` (which decides order and concurrency) inside
    :meth:`Operations.observe`."""

    __slots__ = ("_done", "_inner", "_ops")

    def __init__(
        self,
        inner: BaseUpdateProcessor,
        ops: Operations,
        done: Callable[[int], None] | None = None,
    ) -> None:
        super().__init__(inner.max_concurrent_updates)
        self._inner = inner
        self._ops = ops
        self._done = done

    async def do_process_update(self, update: object, coroutine: Awaitable[Any]) -> None:
        """Process ``update`` as ``inner`` does, observed; then tell ``done`` its id."""
        try:
            await self._inner.do_process_update(update, self._ops.observe(update, coroutine))
        finally:
            if self._done is not None and isinstance(update, Update):
                self._done(update.update_id)

    async def initialize(self) -> None:
        """Initialise ``inner``."""
        await self._inner.initialize()

    async def shutdown(self) -> None:
        """Shut ``inner`` down."""
        await self._inner.shutdown()


# -- HTTP: /healthz and /metrics ----------------------------------------------------------


def add_health_routes(web_app: web.Application, application: AnyApplication) -> None:
    """Serve ``GET /healthz`` and ``GET /metrics`` for ``application`` from ``web_app``.

    ``/healthz`` is 200 once the bot is initialised and receiving (its knowledge base was
    loaded before it could be built); 503 before that, after it stops, while updates cannot
    be received (the receiving task died, or getUpdates has failed for a while), and while a
    shared state store (Redis) does not answer.
    """
    ops = operations_of(application)

    async def healthz(request: web.Request) -> web.Response:
        reachable = await ops.store_reachable()
        ready = application.running and ops.receiving.healthy and reachable
        body = {
            "status": "ok" if ready else "unavailable",
            "receiving": ops.receiving.state,
            "state": "ok" if reachable else "unreachable",
            "undelivered_replies": ops.outbox_pending,
            "state_errors": ops.state_errors,
            "knowledge_records": ops.knowledge.records,
            "uptime_seconds": round(ops.uptime()),
        }
        status = HTTPStatus.OK if ready else HTTPStatus.SERVICE_UNAVAILABLE
        return web.json_response(body, status=status)

    async def metrics(request: web.Request) -> web.Response:
        body, content_type = ops.metrics.exposition(request.headers.get("Accept", ""))
        return web.Response(body=body, headers={"Content-Type": content_type})

    web_app.router.add_get("/healthz", healthz)
    web_app.router.add_get("/metrics", metrics)


async def start_metrics_server(
    application: AnyApplication, settings: Settings
) -> Callable[[], Awaitable[None]]:
    """Serve ``/healthz`` and ``/metrics`` on the metrics port, if one is set (in webhook mode
    on the webhook port anyway); return the coroutine function that stops it."""
    webhook_port = settings.port if settings.webhook_url is not None else None
    if settings.metrics_port is None or settings.metrics_port == webhook_port:
        return _nothing
    web_app = web.Application()
    add_health_routes(web_app, application)
    runner = http_runner(web_app)
    await runner.setup()
    try:
        await web.TCPSite(runner, settings.metrics_listen, settings.metrics_port).start()
    except OSError:
        await runner.cleanup()
        raise
    logger.info(
        "health and metrics on http://%s:%s/", settings.metrics_listen, settings.metrics_port
    )
    return runner.cleanup


async def _nothing() -> None:
    """Nothing to stop."""
