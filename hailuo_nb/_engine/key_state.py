"""The account's state as the engine sees it: a rejected key pauses polling, it is no task's
failure. A 401/403 while polling says nothing about the task, so every task of that key
waits (with one clear note) while one poll now and then probes; the first answer that
gets through, or a new key after ``%hailuo login``, lets all of them carry on."""

from __future__ import annotations

import threading
import time
from typing import Any

PROBE_EVERY = 5.0  # seconds between two probes of a rejected key
KEY_REJECTED = "key rejected — `%hailuo login` with a valid key; this goes on by itself after"


class Accounts:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rejected: dict[int, float] = {}  # id(client) → next probe time

    def rejected_until(self, client: Any) -> float | None:
        with self._lock:
            return self._rejected.get(id(client))

    def reject(self, client: Any, tasks: list[Any]) -> float:
        """The key of ``client`` was refused: note it on its ``tasks``; returns the time of
        the next probe."""
        probe = time.time() + PROBE_EVERY
        with self._lock:
            self._rejected[id(client)] = probe
        for task in tasks:
            task.note = KEY_REJECTED
        reload = getattr(client, "reload_key", None)
        if reload is not None:
            reload()  # `%hailuo login` since: the probe uses the new key
        return probe

    def accepted(self, client: Any, tasks: list[Any]) -> None:
        """A request with this key got through: its tasks carry on."""
        with self._lock:
            if self._rejected.pop(id(client), None) is None:
                return
        for task in tasks:
            if task.note == KEY_REJECTED:
                task.note = ""
