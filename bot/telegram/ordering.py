"""Per-chat ordering: python-telegram-bot's update processor, keyed by chat."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any

from telegram import Update
from telegram.ext import BaseUpdateProcessor

# Admission into the processor is not where the bound lies (see ChatOrderedProcessor).
MAX_PENDING_UPDATES = 100_000


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
