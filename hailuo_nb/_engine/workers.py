"""A small bounded pool of daemon threads, started as work comes: the engine's polls and
downloads run on these, so the number of threads never depends on the number of tasks.

Daemon threads rather than ``concurrent.futures``: a ThreadPoolExecutor holds the
interpreter's exit until a slow request ends, and refuses work once exit has begun."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Workers:
    """``size`` daemon threads named ``<name>_<n>`` that run ``job`` on each item put in."""

    def __init__(self, size: int, job: Callable[[Any], None], name: str) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._size, self._job, self._name = size, job, name
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    @property
    def threads(self) -> list[threading.Thread]:
        with self._lock:
            return [t for t in self._threads if t.is_alive()]

    def put(self, item: Any) -> None:
        self._queue.put(item)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            if len(self._threads) < self._size:  # grows with the work, up to the bound
                thread = threading.Thread(target=self._run, daemon=True,
                                          name=f"{self._name}_{len(self._threads)}")
                thread.start()
                self._threads.append(thread)

    def _run(self) -> None:
        while True:
            self._job(self._queue.get())


class OnePerProcess(Generic[T]):
    """The one ``make()`` of this process, made on first use (the poller, the analysis lane)."""

    def __init__(self, make: Callable[[], T]) -> None:
        self._make = make
        self._value: T | None = None
        self._lock = threading.Lock()

    def get(self) -> T:
        with self._lock:
            if self._value is None:
                self._value = self._make()
            return self._value

    def if_made(self) -> T | None:
        """The one made so far, without making it."""
        with self._lock:
            return self._value
