"""A SIGHUP that arrives while the bot starts: remembered, instead of ending the process.

SIGHUP asks a running bot to reload its knowledge base, but its default action ends a process,
and the event loop's handler only exists once the bot runs (about a second after ``fitbot run``
starts: imports, the knowledge base, the application). ``fitbot run`` calls :func:`defer_hangup`
first thing; the loop asks :func:`hangup_pending` once its own handler is in place, and
reloads if one came, so an operator's ``docker kill --signal HUP`` is never lost or fatal.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

_pending = threading.Event()


def defer_hangup() -> None:
    """From now until the event loop takes SIGHUP over, remember a SIGHUP instead of dying."""
    signal.signal(signal.SIGHUP, _remember)


def hangup_pending() -> bool:
    """Whether a SIGHUP came while deferred (and forget it)."""
    came = _pending.is_set()
    _pending.clear()
    return came


def _remember(signum: int, frame: FrameType | None) -> None:
    _pending.set()
