"""Waiting for something another thread does, in tests."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(predicate: Callable[[], object], what: str, guard: float = 30.0) -> None:
    """Wait until ``predicate()``; ``guard`` only stops a hang, it is not a budget."""
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)
