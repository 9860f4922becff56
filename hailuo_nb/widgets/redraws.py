"""Coalesced redraws: every live view of the process shares one message budget.

A view whose task changed is marked dirty; dirty views are drawn together, at most
``FLUSHES_PER_SECOND`` times a second and never more than ``MESSAGES_PER_SECOND`` comm
messages a second in all (a flush that sent *n* messages pushes the next one back by
*n* / rate). Two hundred tasks changing in the same instant are one flush; a gallery is
one model, so one message. The flush runs on the engine's scheduler thread
(``Poller.call_later``): views add no thread of their own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from .._engine.scheduler import get_poller

MESSAGES_PER_SECOND = 10.0
FLUSHES_PER_SECOND = 5.0


class Drawable(Protocol):
    def draw(self) -> int:
        """Send what changed; return the number of comm messages sent."""


class Redraws:
    """``mark(view)`` now; ``view.draw()`` runs soon, once, with everything that changed."""

    def __init__(self, *, rate: float = MESSAGES_PER_SECOND,
                 flushes: float = FLUSHES_PER_SECOND,
                 call_later: Callable[[float, Callable[[], None]], None] | None = None,
                 clock: Callable[[], float] = time.monotonic):
        if rate <= 0 or flushes <= 0:
            raise ValueError("rate and flushes must be > 0 per second")
        self._rate = rate
        self._gap = 1.0 / flushes
        self._call_later = call_later
        self._clock = clock
        self._lock = threading.Lock()
        self._dirty: dict[int, Drawable] = {}  # by id: views need not be hashable
        self._scheduled = False
        self._flushing = 0
        self._next = 0.0
        self.flushes = 0
        self.messages = 0

    def mark(self, view: Drawable) -> None:
        with self._lock:
            self._dirty[id(view)] = view
            if self._scheduled or self._flushing:  # the running flush schedules the next
                return
            self._scheduled = True
            wait = max(0.0, self._next - self._clock())
        self._schedule(wait)

    def _schedule(self, wait: float) -> None:
        try:
            (self._call_later or get_poller().call_later)(wait, self.flush)
        except Exception:  # no thread to be had (interpreter exit): a later mark tries again
            with self._lock:
                self._scheduled = False

    def drop(self, view: Drawable) -> None:
        with self._lock:
            self._dirty.pop(id(view), None)

    @property
    def pending(self) -> bool:
        """Something marked is not drawn yet (or is being drawn)."""
        with self._lock:
            return bool(self._dirty) or self._scheduled or self._flushing

    def flush(self) -> int:
        """Draw every dirty view now; returns the messages sent (tests call it too)."""
        with self._lock:
            views = list(self._dirty.values())
            self._dirty.clear()
            self._scheduled = False
            self._flushing += 1
        sent = 0
        for view in views:
            try:
                sent += int(view.draw() or 0)
            except Exception:  # noqa: S112 - each view shows its own errors; go on
                continue
        with self._lock:
            self._flushing -= 1
            self.flushes += 1
            self.messages += sent
            # n messages push the next flush back by n / rate; marks made meanwhile wait.
            self._next = self._clock() + max(self._gap, sent / self._rate)
            again = bool(self._dirty) and not self._scheduled
            if again:
                self._scheduled = True
            wait = max(0.0, self._next - self._clock())
        if again:
            self._schedule(wait)
        return sent


redraws = Redraws()
