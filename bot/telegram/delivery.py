"""Sending replies so that none is lost: the outbox, per-chat lanes, retries with backoff.

A handler hands its reply to :meth:`Outbox.deliver`, which first commits it to the state store
(with the chat's new context and "this update is handled", in one transaction), then sends it
at once when the chat has nothing waiting. A reply Telegram does not take now stays in the
store and in its chat's lane, and the lane retries it in the background:

* 5xx, a connection refused or reset, Telegram unreachable: exponential backoff with jitter
  (:class:`RetryPolicy`: 1 s doubling to 60 s), for up to :attr:`RetryPolicy.max_age` (24 hours,
  as long as Telegram keeps an update the bot has not fetched). Any successful send ends every
  lane's network backoff at once: Telegram is back.
* 429: wait ``retry_after``, then send again.
* A timeout after the request was written: the outcome is unknown. The reply is sent again, so
  it may arrive twice; a person who gets an answer twice is better off than one who gets none
  (Telegram has no idempotency key for ``sendMessage``).
* 403 (the bot was blocked or removed): every pending reply of that chat is dropped, logged once.
* 400 (Telegram refuses the message itself): that reply is dropped and logged; the chat's next
  replies go on. A group that became a supergroup gets the reply at its new id.

A chat's replies leave in the order its messages arrived: a lane sends its oldest reply first
and nothing behind it overtakes, across retries and restarts (:meth:`Outbox.start` loads what
the store still holds, oldest first). Every failure is one warning line, never a traceback.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
from collections import OrderedDict, deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from telegram import Bot, ReplyParameters
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)

from bot.clock import Clock
from bot.context import Context
from bot.state.store import Outgoing, PendingReply, Store
from bot.telegram.request import retry_after_seconds

logger = logging.getLogger(__name__)

# A shared store's lanes (see :mod:`bot.state.redis_store`) are renewed and those of dead
# replicas taken over this often.
SWEEP_SECONDS = 5.0
MAX_KNOWN_ROWS = 10_000


@dataclass(frozen=True)
class RetryPolicy:
    """How undelivered replies are retried: backoff ``first`` seconds doubling up to ``cap``,
    each delay shortened by up to ``jitter`` of itself at random, until ``max_age`` seconds
    after the reply was composed."""

    first: float = 1.0
    cap: float = 60.0
    jitter: float = 0.25
    max_age: float = 24 * 60 * 60

    def delay(self, failures: int, rng: random.Random) -> float:
        """The wait after the ``failures``-th failure in a row."""
        base = min(self.cap, self.first * 2.0 ** (failures - 1))
        return base * (1 - self.jitter * rng.random())


class Delivery(enum.Enum):
    """What became of a reply handed to :meth:`Outbox.deliver`, as the update's log says."""

    SENT = "sent"  # Telegram has it
    QUEUED = "queued"  # kept, and retried in the background
    DROPPED = "dropped"  # given up: blocked, refused or expired


class Outcome(enum.Enum):
    """What Telegram said to one send."""

    SENT = "sent"
    RETRY = "retry"  # try again later
    DROP = "drop"  # this reply is given up
    DROP_CHAT = "drop_chat"  # every reply of the chat is given up


@dataclass(frozen=True)
class Attempt:
    """One send's outcome; ``delay`` is the wait before the next try (RETRY), ``reason`` a
    short word for metrics and ``detail`` what Telegram or the network said."""

    outcome: Outcome
    reason: str = ""
    detail: str = ""
    delay: float | None = None  # fixed wait (429); None: the policy's backoff
    moved_to: int | None = None  # the chat's new id (a group became a supergroup)


@dataclass(eq=False)
class _Lane:
    """One chat's replies waiting to go, oldest first, and who is sending them."""

    chat_id: int
    replies: deque[PendingReply] = field(default_factory=deque)
    sending: bool = False
    failures: int = 0
    wakeup: asyncio.Future[None] | None = None  # set while waiting out a network backoff
    owned: bool = False  # holds the lane in a shared store: release it when empty


class OutboxListener:
    """What the outbox reports; :class:`~bot.operations.Operations` counts and logs it."""

    def sent(self, reply: PendingReply) -> None:
        """Telegram took ``reply``."""

    def retrying(self, chat_id: int, attempt: Attempt, delay: float, failures: int) -> None:
        """A send failed and will be tried again after ``delay`` seconds."""

    def dropped(self, chat_id: int, attempt: Attempt, count: int) -> None:
        """``count`` replies to ``chat_id`` were given up."""


class Outbox:
    """Per-chat lanes of replies, fed by handlers and by the state store after a restart."""

    def __init__(
        self,
        store: Store,
        clock: Clock,
        policy: RetryPolicy,
        listener: OutboxListener,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._clock = clock
        self._policy = policy
        self._listener = listener
        self._rng = rng or random.Random()
        self._lanes: dict[int, _Lane] = {}
        self._tasks: set[asyncio.Task[Delivery]] = set()
        self._waiting: set[_Lane] = set()  # lanes in a network backoff
        self._bot: Bot | None = None
        self._known: OrderedDict[int, None] = OrderedDict()  # rows queued lately
        self._sweeper: asyncio.Task[None] | None = None

    @property
    def pending(self) -> int:
        """Replies not delivered yet."""
        return sum(len(lane.replies) for lane in self._lanes.values())

    async def start(self, bot: Bot) -> int:
        """Send through ``bot`` from now on, starting with what the store still holds (with a
        shared store: what no live replica is sending); return how many replies that is. A
        shared store is swept every :data:`SWEEP_SECONDS` for lanes a dead replica held."""
        self._bot = bot
        kept = await self._store.undelivered()
        self._adopt(kept)
        if self._store.shared:
            self._sweeper = asyncio.create_task(self._sweep(), name="fitbot:outbox-sweep")
        return len(kept)

    async def stop(self) -> None:
        """Stop retrying; what is left stays in the store for the next start."""
        tasks = list(self._tasks)
        if self._sweeper is not None:
            tasks.append(self._sweeper)  # type: ignore[arg-type]
            self._sweeper = None
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._bot = None

    async def deliver(
        self,
        update_id: int | None,
        chat_id: int,
        context: Context | None,
        messages: Sequence[Outgoing],
    ) -> Delivery:
        """Send ``messages`` now if nothing of the chat's is waiting, else behind what is; keep
        in the store what is not delivered at once, with the chat's ``context`` and
        ``update_id`` handled.

        A single message to a chat with nothing waiting is sent first and committed after
        (its context and "handled", no outbox row, unless it failed): that saves a commit and
        the message's bytes per reply, and loses nothing, since until the commit the update
        is still unhandled in the inbox and would be answered again after a crash. So its
        window for a repeat is the same as any send's: from the request being written to its
        outcome being recorded.
        """
        lane = self._lanes.get(chat_id)
        if lane is None and len(messages) == 1 and self._store.quiet(chat_id):
            lane = self._lanes[chat_id] = _Lane(chat_id, sending=True)
            first = await self._attempt(PendingReply(None, self._clock.time(), messages[0]))
            keep = messages if first.outcome is Outcome.RETRY else ()
            kept = await self._store.commit_reply(update_id, chat_id, context, keep)
            if keep and not kept:  # another replica sends the chat's replies: it has this one
                lane.sending = False
                del self._lanes[chat_id]
                return Delivery.QUEUED
            self._remember(kept)
            lane.owned = self._store.shared and bool(kept)
            lane.replies.appendleft(
                kept[0] if kept else PendingReply(None, self._clock.time(), messages[0])
            )
            return await self._drain(lane, inline=True, first=first)
        replies = await self._store.commit_reply(update_id, chat_id, context, messages)
        lane = self._lanes.get(chat_id)  # again: the lane may have emptied meanwhile
        if lane is not None:
            self._extend(lane, replies)
            if not lane.sending:
                self._run(lane)
            return Delivery.QUEUED
        if messages and not replies:  # another replica sends the chat's replies
            return Delivery.QUEUED
        lane = self._lanes[chat_id] = _Lane(chat_id)
        self._extend(lane, replies)
        return await self._drain(lane, inline=True)

    def _extend(self, lane: _Lane, replies: Sequence[PendingReply]) -> bool:
        """Queue ``replies`` in ``lane``, leaving out rows it has (or has had) already: a
        shared store may hand the same row to a commit and to the lane's release. True if any
        was queued."""
        added = False
        for reply in replies:
            if reply.row is not None:
                if reply.row in self._known:
                    continue
                self._remember((reply,))
                lane.owned = lane.owned or self._store.shared
            lane.replies.append(reply)
            added = True
        return added

    def _remember(self, replies: Sequence[PendingReply]) -> None:
        for reply in replies:
            if reply.row is not None:
                self._known[reply.row] = None
        while len(self._known) > MAX_KNOWN_ROWS:
            self._known.popitem(last=False)

    def _adopt(self, replies: Sequence[PendingReply]) -> None:
        """Take ``replies`` (undelivered, oldest first) into their chats' lanes and send."""
        touched: dict[int, _Lane] = {}
        for reply in replies:
            chat_id = reply.message.chat_id
            lane = self._lanes.get(chat_id)
            if lane is None:
                lane = self._lanes[chat_id] = _Lane(chat_id)
            self._extend(lane, (reply,))
            touched[chat_id] = lane
        for lane in touched.values():
            if not lane.sending and lane.replies:
                self._run(lane)

    async def _sweep(self) -> None:
        """Every :data:`SWEEP_SECONDS`: keep this replica's lanes, take over a dead one's."""
        while True:
            await asyncio.sleep(SWEEP_SECONDS)
            try:
                self._adopt(await self._store.sweep(list(self._lanes)))
            except Exception:  # a bug must not end the sweeping
                logger.exception("sweeping the outbox failed unexpectedly")

    def wake(self) -> None:
        """Telegram answers again: end every network backoff now."""
        for lane in list(self._waiting):
            if lane.wakeup is not None and not lane.wakeup.done():
                lane.wakeup.set_result(None)

    # -- lanes ------------------------------------------------------------------------------

    def _run(self, lane: _Lane, pause: float = 0.0, *, interruptible: bool = True) -> None:
        """Drain ``lane`` in the background, after ``pause`` seconds."""
        lane.sending = True
        task = asyncio.create_task(
            self._drain(lane, inline=False, pause=pause, interruptible=interruptible),
            name="fitbot:outbox",
        )
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drain(
        self,
        lane: _Lane,
        *,
        inline: bool,
        pause: float = 0.0,
        interruptible: bool = True,
        first: Attempt | None = None,
    ) -> Delivery:
        """Send the lane's replies in order until it is empty, after ``pause`` seconds.
        ``inline`` (a handler waiting): hand the lane to a background task at the first
        failure instead of waiting. ``first``: the outcome of a send of the first reply
        already made."""
        lane.sending = True
        handed_over = False
        result = Delivery.SENT
        try:
            if pause:
                await self._wait(lane, pause, interruptible=interruptible)
            while lane.replies or (
                lane.owned and self._extend(lane, await self._store.release_lane(lane.chat_id))
            ):
                reply = lane.replies[0]
                attempt, first = first or await self._attempt(reply), None
                if attempt.outcome is Outcome.SENT:
                    lane.replies.popleft()
                    lane.failures = 0
                    await self._store.delivered(reply.row)
                    self._listener.sent(reply)
                    if self._waiting:
                        self.wake()
                elif attempt.outcome is Outcome.RETRY:
                    if attempt.moved_to is not None:
                        message = replace(reply.message, chat_id=attempt.moved_to)
                        lane.replies[0] = replace(reply, message=message)
                        continue
                    lane.failures += 1
                    delay = attempt.delay
                    if delay is None:
                        delay = self._policy.delay(lane.failures, self._rng)
                    self._listener.retrying(lane.chat_id, attempt, delay, lane.failures)
                    interruptible = attempt.delay is None
                    if inline:
                        handed_over = True
                        self._run(lane, delay, interruptible=interruptible)
                        return Delivery.QUEUED
                    await self._wait(lane, delay, interruptible=interruptible)
                else:
                    result = Delivery.DROPPED
                    await self._drop(
                        lane, attempt, whole_chat=attempt.outcome is Outcome.DROP_CHAT
                    )
        except Exception:  # a bug must not strand the chat's other replies
            logger.exception("sending a reply failed unexpectedly; it is dropped")
            if lane.replies:
                await self._store.delivered(lane.replies.popleft().row)
            if lane.replies:
                handed_over = True
                self._run(lane)
                return Delivery.QUEUED
            result = Delivery.DROPPED
        finally:
            if not handed_over:
                lane.sending = False
                if not lane.replies and self._lanes.get(lane.chat_id) is lane:
                    del self._lanes[lane.chat_id]
        return result

    async def _attempt(self, reply: PendingReply) -> Attempt:
        """Send one reply (or give it up if it is too old) and classify what happened."""
        age = self._clock.time() - reply.created_at
        if age > self._policy.max_age:
            return Attempt(Outcome.DROP, "expired", f"undelivered for {age:.0f} s")
        bot = self._bot
        if bot is None:
            return Attempt(Outcome.RETRY, "stopped")
        message = reply.message
        try:
            await bot.send_message(
                message.chat_id,
                message.text,
                parse_mode=message.parse_mode,
                message_thread_id=message.thread,
                reply_parameters=(
                    ReplyParameters(message.reply_to, allow_sending_without_reply=True)
                    if message.reply_to is not None
                    else None
                ),
                # The keyboard as the JSON it is kept as: Telegram reads reply_markup as a
                # JSON-serialized object, and PTB would rebuild it from objects on every send.
                api_kwargs={"reply_markup": message.markup} if message.markup else None,
            )
        except RetryAfter as exc:
            return Attempt(Outcome.RETRY, "flood", str(exc), retry_after_seconds(exc))
        except Forbidden as exc:
            return Attempt(Outcome.DROP_CHAT, "blocked", str(exc))
        except ChatMigrated as exc:
            return Attempt(Outcome.RETRY, "migrated", str(exc), 0.0, moved_to=exc.new_chat_id)
        except TimedOut as exc:
            return Attempt(Outcome.RETRY, "timeout", str(exc))
        except BadRequest as exc:
            return Attempt(Outcome.DROP, "rejected", str(exc))
        except NetworkError as exc:
            return Attempt(Outcome.RETRY, "network", str(exc))
        except TelegramError as exc:
            return Attempt(Outcome.RETRY, "api", str(exc))
        return Attempt(Outcome.SENT)

    async def _wait(self, lane: _Lane, delay: float, *, interruptible: bool) -> None:
        """Sleep ``delay`` seconds; a network backoff ends early when Telegram is back."""
        if not interruptible:
            await self._clock.sleep(delay)
            return
        lane.wakeup = asyncio.get_running_loop().create_future()
        self._waiting.add(lane)
        sleeper = asyncio.ensure_future(self._clock.sleep(delay))
        try:
            await asyncio.wait((sleeper, lane.wakeup), return_when=asyncio.FIRST_COMPLETED)
        finally:
            sleeper.cancel()
            self._waiting.discard(lane)
            lane.wakeup = None

    async def _drop(self, lane: _Lane, attempt: Attempt, *, whole_chat: bool) -> None:
        count = len(lane.replies) if whole_chat else 1
        for _ in range(count):
            await self._store.delivered(lane.replies.popleft().row)
        lane.failures = 0
        self._listener.dropped(lane.chat_id, attempt, count)
