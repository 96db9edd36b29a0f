"""Receiving updates so that none is lost: long polling or a webhook, through the inbox.

Either way an update is written to the state store's inbox before Telegram is told it arrived,
and handed to the application only if its ``update_id`` is new, so a crash at any point loses
nothing Telegram did not lose, and nothing is answered twice:

* Polling (:class:`Poller`): the updates of a batch are stored before the next getUpdates,
  whose offset confirms them, is sent.
* Webhook (:func:`webhook_handler`): the update is stored before the 200.

On start, :func:`unhandled_updates` hands back what was stored but not handled.

An update whose JSON python-telegram-bot cannot read is skipped (logged with its id only,
counted in ``fitbot_updates_skipped_total``) and confirmed, instead of stopping the bot.

:class:`ReceiveStatus` is what ``/healthz`` asks: is the receiving task alive, and has it
received (or at least heard from Telegram) recently.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from aiohttp import web
from telegram import Bot, Update
from telegram.error import Conflict, InvalidToken, RetryAfter, TelegramError, TimedOut
from telegram.request import BaseRequest

from bot.clock import Clock
from bot.state.store import Store
from bot.telegram.request import retry_after_seconds

logger = logging.getLogger(__name__)

POLL_TIMEOUT_SECONDS = 10
# getUpdates' answer may come this long after its long-poll timeout before it counts as lost.
POLL_READ_MARGIN_SECONDS = 5.0
POLL_RETRY_FIRST_SECONDS = 1.0
POLL_RETRY_CAP_SECONDS = 30.0  # as PTB's Updater
# /healthz turns 503 when no getUpdates has succeeded for this long: about four failed
# attempts after the backoff reached its cap.
RECEIVE_STALE_SECONDS = 120.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"

# With a shared store, the webhook answers once the update is handled, but no later than this
# (the update is stored, so a replica that starts would handle it).
WEBHOOK_HANDLING_SECONDS = 50.0

Enqueue = Callable[[Update], None]


@dataclass(frozen=True)
class Accepted:
    """What :meth:`Inbox.accept` did: the highest update id seen (None if none), and the ids
    handed on to be handled."""

    newest: int | None
    queued: list[int]


class ReceivingFatal(Exception):
    """Receiving cannot go on (the token was refused): the bot must stop."""


@dataclass
class ReceiveStatus:
    """Whether updates are being received, for ``/healthz`` and ``/metrics``.

    ``stale_after`` seconds without a successful getUpdates make polling unhealthy; a webhook
    has nothing to poll, so only its server being up counts (``polling`` False).
    """

    clock: Clock
    stale_after: float = RECEIVE_STALE_SECONDS
    polling: bool = True
    running: bool = False
    last_ok: float = 0.0
    failing_since: float | None = None

    def started(self) -> None:
        """Receiving has begun; it counts as fresh until ``stale_after`` passes."""
        self.running, self.last_ok = True, self.clock.monotonic()

    def stopped(self) -> None:
        """The receiving task is gone."""
        self.running = False

    def succeeded(self) -> bool:
        """Telegram answered; True if it had been failing (it is back)."""
        self.last_ok = self.clock.monotonic()
        recovered, self.failing_since = self.failing_since is not None, None
        return recovered

    def failed(self) -> None:
        """A getUpdates failed."""
        if self.failing_since is None:
            self.failing_since = self.clock.monotonic()

    @property
    def healthy(self) -> bool:
        """Running, and (polling) Telegram answered within ``stale_after`` seconds."""
        if not self.running:
            return False
        return not self.polling or self.clock.monotonic() - self.last_ok < self.stale_after

    @property
    def state(self) -> str:
        """``ok``, ``stalled`` (polling keeps failing) or ``stopped``."""
        if not self.running:
            return "stopped"
        return "ok" if self.healthy else "stalled"


class Inbox:
    """Reads and keeps updates: the part polling and the webhook share.

    ``on_skipped(reason)`` hears of every update skipped; ``enqueue`` takes the new ones.
    """

    def __init__(
        self, store: Store, bot: Bot, enqueue: Enqueue, on_skipped: Callable[[str], None]
    ) -> None:
        self._store = store
        self._bot = bot
        self._enqueue = enqueue
        self._on_skipped = on_skipped

    async def accept(self, raw: Sequence[object], bodies: Sequence[str] | None = None) -> Accepted:
        """Read, keep and hand on the updates in ``raw`` (their JSON in ``bodies`` if known);
        return the highest update id seen, readable or not, and the ids handed on."""
        newest: int | None = None
        readable: list[tuple[int, str, Update]] = []
        for index, item in enumerate(raw):
            update_id = item.get("update_id") if isinstance(item, dict) else None
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                self._skip(None, "no update_id")
                continue
            newest = update_id if newest is None else max(newest, update_id)
            try:
                update = Update.de_json(item, self._bot)  # type: ignore[arg-type]
            except Exception as exc:  # whatever PTB cannot read, it must not stop receiving
                self._skip(update_id, f"{type(exc).__name__}")
                continue
            body = bodies[index] if bodies is not None else _dump(item)
            readable.append((update_id, body, update))
        fresh = await self._store.receive([(update_id, body) for update_id, body, _ in readable])
        queued = []
        for update_id, _, update in readable:
            if update_id in fresh:
                self._enqueue(update)
                queued.append(update_id)
            else:
                self._on_skipped("duplicate")
        return Accepted(newest, queued)

    def _skip(self, update_id: int | None, why: str) -> None:
        logger.warning("update %s could not be read (%s); skipped", update_id, why)
        self._on_skipped("unreadable")


async def unhandled_updates(
    store: Store, bot: Bot, on_skipped: Callable[[str], None]
) -> list[Update]:
    """The updates stored but not handled before the last stop or crash, oldest first; any
    that cannot be read is marked handled and skipped."""
    updates = []
    for update_id, body in await store.unhandled():
        try:
            updates.append(Update.de_json(json.loads(body), bot))
        except Exception as exc:  # the stored JSON is what Telegram sent; PTB may have changed
            logger.warning("stored update %s could not be read (%s); skipped", update_id, exc)
            on_skipped("unreadable")
            await store.handled(update_id)
    return updates


class Poller:
    """Long polling that owns its fetch loop.

    PTB's :class:`~telegram.ext.Updater` lacks two properties the durable inbox needs: it has
    no step between receiving a batch and confirming it (the next getUpdates' offset) where
    the batch can be written down, and an update it cannot parse makes it fetch the same batch
    again forever (it logs and retries without ever skipping it). It also waits for each batch
    to be queued update by update before polling again; here the next request goes out as soon
    as the batch is stored, which is what lets a busy bot keep up at high Bot API latency.

    From the Updater it keeps: backoff on errors (1 s growing to 30 s, with jitter), an
    immediate retry after a timed-out long poll, ``retry_after`` honoured,
    :class:`~telegram.error.InvalidToken` stopping the bot with a clear message (raised as
    :class:`ReceivingFatal`), and :class:`~telegram.error.Conflict` (another instance polling
    with the token) reported. Every failure is one warning line, never a traceback.
    """

    def __init__(
        self,
        bot: Bot,
        request: BaseRequest,
        inbox: Inbox,
        status: ReceiveStatus,
        clock: Clock,
        *,
        allowed_updates: Iterable[str],
        on_recovered: Callable[[], None],
        offset: int = 0,
        rng: random.Random | None = None,
    ) -> None:
        self._bot = bot
        self._request = request
        self._inbox = inbox
        self._status = status
        self._clock = clock
        self._allowed = json.dumps(list(allowed_updates))
        self._on_recovered = on_recovered
        self._rng = rng or random.Random()
        self.offset = offset
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Drop any webhook (Telegram refuses getUpdates while one is set) and start polling."""
        await self._bot.delete_webhook()
        self._status.polling = True
        self._status.started()
        self.task = asyncio.create_task(self._poll(), name="fitbot:polling")
        self.task.add_done_callback(lambda _: self._status.stopped())

    async def stop(self) -> None:
        """Stop polling. What was received is stored, so nothing needs confirming now: the
        next start polls from the newest stored update id on (during an outage a last
        getUpdates would only hold up the shutdown)."""
        if self.task is None:
            return
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task

    async def _fetch(self, timeout: int) -> list[object]:
        query = urlencode(
            {"offset": self.offset, "timeout": timeout, "allowed_updates": self._allowed}
        )
        result = await self._request.post(
            f"{self._bot.base_url}/getUpdates?{query}",
            read_timeout=timeout + POLL_READ_MARGIN_SECONDS,
        )
        return list(result) if isinstance(result, list) else []

    async def _poll(self) -> None:
        failures = 0
        while True:
            try:
                raw = await self._fetch(POLL_TIMEOUT_SECONDS)
            except InvalidToken as exc:
                logger.error(
                    "Telegram refused the bot token (%s): check TELEGRAM_BOT_TOKEN; stopping",
                    exc,
                )
                raise ReceivingFatal("the bot token was refused") from None
            except TelegramError as exc:
                failures += 1
                self._status.failed()
                await self._back_off(exc, failures)
                continue
            failures = 0
            if self._status.succeeded():
                logger.info("receiving updates again")
                self._on_recovered()
            newest = (await self._inbox.accept(raw)).newest
            if newest is not None:
                self.offset = max(self.offset, newest + 1)

    async def _back_off(self, exc: TelegramError, failures: int) -> None:
        if isinstance(exc, RetryAfter):
            delay = retry_after_seconds(exc)
        elif isinstance(exc, TimedOut) and failures == 1:
            delay = 0.0  # a long poll that timed out once: just ask again
        else:
            base = min(POLL_RETRY_CAP_SECONDS, POLL_RETRY_FIRST_SECONDS * 2.0 ** (failures - 1))
            delay = base * (1 - 0.25 * self._rng.random())
        if isinstance(exc, Conflict):
            logger.warning(
                "getUpdates conflicts with another instance polling with this token, or a "
                "webhook (%s); retrying in %.1f s",
                exc,
                delay,
            )
        else:
            logger.warning("getUpdates failed (%s); retrying in %.1f s", exc, delay)
        if delay:
            await self._clock.sleep(delay)


def webhook_handler(
    inbox: Inbox, secret: str, status: ReceiveStatus, finished: Finished | None = None
) -> Callable[[web.Request], Awaitable[web.Response]]:
    """The webhook's request handler: check the secret, store the update, then answer 200.

    With ``finished`` (a store shared by replicas) the 200 waits until the update has been
    handled (at most :data:`WEBHOOK_HANDLING_SECONDS`): Telegram sends a chat's next update
    only after that, so each chat stays in order whichever replica the balancer picks, and an
    update whose replica dies first is sent again to another one. The update is stored first
    either way, so one acknowledged after the wait is still handled by a replica that starts.

    A request that is not an update from Telegram gets 403 (wrong secret) or 400 (not an
    update); an update that cannot be read is acknowledged (Telegram would only send it again)
    and skipped.
    """
    expected = secret.encode()

    async def receive(request: web.Request) -> web.Response:
        given = request.headers.get(SECRET_HEADER, "").encode(errors="replace")
        if not hmac.compare_digest(given, expected):
            return web.Response(status=403)
        body = await request.read()
        try:
            text = body.decode()
            data: Any = json.loads(text)
        except (ValueError, RecursionError):
            return web.Response(status=400)
        if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
            return web.Response(status=400)
        accepted = await inbox.accept([data], [text])
        status.succeeded()
        if finished is not None and accepted.queued:
            # Registered before anything else runs: the update cannot be handled before.
            waiting = finished.expect(data["update_id"])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(waiting), WEBHOOK_HANDLING_SECONDS)
        return web.Response()

    return receive


class Finished:
    """Who waits for which update to be handled: the webhook's requests, with a shared store."""

    def __init__(self) -> None:
        self._waiting: dict[int, asyncio.Future[None]] = {}

    def expect(self, update_id: int) -> asyncio.Future[None]:
        """A future done when ``update_id`` has been handled (one per id: a redelivery of an
        update under way waits for the same)."""
        future = self._waiting.get(update_id)
        if future is None:
            future = self._waiting[update_id] = asyncio.get_running_loop().create_future()
        return future

    def done(self, update_id: int) -> None:
        """``update_id`` has been handled (or skipped): answer whoever waits for it."""
        future = self._waiting.pop(update_id, None)
        if future is not None and not future.done():
            future.set_result(None)


def _dump(item: object) -> str:
    return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
