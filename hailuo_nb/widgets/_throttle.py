"""A message budget for views redrawn from another thread.

Every changed widget trait is one comm message to the frontend. ``Throttle`` runs a
redraw at once when the budget allows it, else once later (a single trailing redraw
that picks up whatever changed meanwhile). A *forced* redraw (a terminal state) always
runs at once. Redraws never overlap: a stale one cannot land after a newer one.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import threading
import time
from collections.abc import Callable

MESSAGES_PER_SECOND = 10.0


class _Call:
    def __init__(self, due: float, fn: Callable[[], None]):
        self.due, self.fn, self.cancelled = due, fn, False

    def cancel(self) -> None:
        self.cancelled = True


class _Scheduler:
    """ONE thread runs every view's delayed redraw (a Timer each would be a thread each:
    100 views meant 100 threads)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Call]] = []
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    def call_later(self, delay: float, fn: Callable[[], None]) -> _Call:
        call = _Call(time.monotonic() + max(0.0, delay), fn)
        with self._cond:
            heapq.heappush(self._heap, (call.due, next(self._seq), call))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hailuo-redraw",
                                                daemon=True)
                self._thread.start()
            self._cond.notify()
        return call

    def _run(self) -> None:
        while True:
            with self._cond:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cond.wait(timeout)
                _, _, call = heapq.heappop(self._heap)
            if not call.cancelled:
                with contextlib.suppress(Exception):  # Throttle reports its own errors
                    call.fn()


_scheduler = _Scheduler()


class Throttle:
    """``Throttle(draw)``; ``draw()`` returns how many messages it sent.

    After a redraw that sent *n* messages the next unforced one waits ``n / rate``
    seconds, so the sustained rate stays at ``rate`` messages per second whatever a
    redraw costs. ``on_error(exc)`` receives what ``draw`` raised (nothing escapes:
    callers are traitlets observers running in the poller thread).
    """

    def __init__(
        self,
        draw: Callable[[], int],
        *,
        rate: float = MESSAGES_PER_SECOND,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        if rate <= 0:
            raise ValueError(f"rate must be > 0 messages per second, got {rate}")
        self._draw = draw
        self._rate = float(rate)
        self._on_error = on_error
        self._clock = clock
        self._draw_lock = threading.RLock()  # one redraw at a time
        self._lock = threading.Lock()  # guards _next and _timer
        self._next = 0.0
        self._timer: _Call | None = None
        self._closed = False
        self.redraws = 0
        self.messages = 0

    def __call__(self, *, force: bool = False) -> bool:
        """Redraw now (True) or schedule one trailing redraw (False)."""
        with self._lock:
            if self._closed:
                return False
            wait = self._next - self._clock()
            if not force and wait > 0:
                if self._timer is None:
                    self._timer = _scheduler.call_later(wait, self._trailing)
                return False
        self._run()
        return True

    def flush(self) -> None:
        """Run a pending trailing redraw now (tests, closing)."""
        with self._lock:
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
            self._run()

    @property
    def pending(self) -> bool:
        with self._lock:
            return self._timer is not None

    def close(self) -> None:
        with self._lock:
            self._closed = True
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _trailing(self) -> None:
        with self._lock:
            self._timer = None
            if self._closed:
                return
        self._run()

    def _run(self) -> None:
        with self._draw_lock:
            try:
                sent = int(self._draw() or 0)
            except Exception as exc:  # shown in the view, never raised into the poller
                sent = 1
                if self._on_error is not None:
                    with contextlib.suppress(Exception):  # nothing more can be done
                        self._on_error(exc)
            with self._lock:
                self.redraws += 1
                self.messages += sent
                self._next = self._clock() + sent / self._rate
