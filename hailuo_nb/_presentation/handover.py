"""A live output hands its place to a static record once its tasks settle.

The output is updated in place (same display id), then the widgets behind it are closed:
the notebook is left with plain HTML and text, and no widget state to save or to miss.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()


def hand_over_when_settled(tasks: list, widget: Any, handle: Any,
                           record: Callable[[], Any], *, raw: bool = False,
                           stand_in: Any = None) -> None:
    """When every task in ``tasks`` is settled, empty ``stand_in`` (if any), then
    ``handle.update(record())`` and close ``widget`` (the record is never shown twice).
    Runs on whichever thread settles the last task (an engine thread)."""
    done = threading.Event()

    def hand_over(_change: Any = None) -> None:
        with _lock:
            if done.is_set() or not all(task.is_settled for task in tasks):
                return
            done.set()
        for task in tasks:
            with contextlib.suppress(Exception):  # an observer must never break the engine
                task.unobserve(hand_over)
        if stand_in is not None:
            stand_in.end()
        with contextlib.suppress(Exception):
            handle.update(record(), raw=raw)
        if widget is not None:
            with contextlib.suppress(Exception):
                widget.close()
        if any(_measuring(task) for task in tasks):
            redraw_when_analysed(tasks, handle, record, raw=raw)

    for task in tasks:
        task.observe(hand_over)
    hand_over()  # they may have settled while the widget was being built


def _measuring(task: Any) -> bool:
    return getattr(task, "analysis_state", "") in ("waiting", "running")


def redraw_when_analysed(tasks: list, handle: Any, record: Callable[[], Any], *,
                         raw: bool = False) -> None:
    """Draw the record again, in place, once the analysis lane has measured the videos
    (camera check, clip quality): it runs after the downloads, never before them."""
    done = threading.Event()

    def redraw(_change: Any = None) -> None:
        with _lock:
            if done.is_set() or any(_measuring(task) for task in tasks):
                return
            done.set()
        for task in tasks:
            with contextlib.suppress(Exception):
                task.unobserve(redraw, names="analysis_state")
        with contextlib.suppress(Exception):
            handle.update(record(), raw=raw)

    for task in tasks:
        task.observe(redraw, names="analysis_state")
    redraw()
