"""The analysis lane: one low-priority thread that measures saved videos (camera check and
clip quality) after their download, so that no download, poll or cell ever waits for it.

Its CPU share is bounded three ways: one thread (at most one core whatever the number of
clips), the lowest scheduling priority for that thread (Linux applies ``setpriority`` to a
thread id: the kernel's and the downloads' threads go first), and a pause between clips.
A task shows the results when they are ready (``task.camera``, ``task.clip_quality``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import sys
import threading
import time
from typing import TYPE_CHECKING

from .workers import OnePerProcess

if TYPE_CHECKING:
    from ..task import Task

log = logging.getLogger(__name__)
NICENESS = 19  # the lowest priority
PAUSE = 0.05  # s between two clips: the lane yields even to threads of its own priority


def check_camera(path: str | os.PathLike, prompt: str) -> object | None:
    """The camera check of a saved video whose prompt has bracketed commands (else None)."""
    if "[" not in (prompt or ""):
        return None
    from .._media import camera_motion  # numpy and PyAV load with the first bracketed prompt

    try:
        return camera_motion.camera_report(path, prompt)
    except Exception:  # a check that cannot run must not cost the video
        log.exception("hailuo_nb: the camera check of %s failed", path)
        return None


def measure_quality(path: str | os.PathLike) -> object | None:
    """The clip's quality report (read back from its sidecar when measured before)."""
    from .._media import quality  # numpy and PyAV load with the first measured clip

    try:
        return quality.quality_report(path)
    except Exception:
        log.exception("hailuo_nb: the quality check of %s failed", path)
        return None


def analyse(task: Task) -> None:
    """Camera check and clip quality of ``task``'s saved video, set on the task when done."""
    path = task.local_path
    if not (path and os.path.exists(path)):
        task.analysis_state = ""
        return
    task.analysis_state = "running"
    camera = check_camera(path, task.prompt) if task.camera is None else task.camera
    quality = measure_quality(path)
    with task.settling():
        task.camera = camera
        task.clip_quality = quality
        task.analysis_state = "done"


def lower_this_threads_priority() -> bool:
    """Give the calling thread the lowest CPU priority (Linux: per thread); False if not."""
    if not sys.platform.startswith("linux"):
        return False  # elsewhere setpriority would lower the whole process: leave it
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICENESS)
    except (OSError, AttributeError):
        return False
    return True


class Analyst:
    """The one analysis thread of the process, started with the first clip."""

    def __init__(self) -> None:
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self.niced = False

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def enqueue(self, task: Task) -> None:
        task.analysis_state = "waiting"
        self._queue.put(task)
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hailuo-analysis",
                                                daemon=True)
                self._thread.start()

    def _run(self) -> None:
        self.niced = lower_this_threads_priority()
        while True:
            task = self._queue.get()
            try:
                analyse(task)
            except Exception:  # a bug net: the lane must outlive one bad clip
                log.exception("hailuo_nb: the analysis of %s failed", task.local_path)
                with contextlib.suppress(Exception):
                    task.analysis_state = "failed"
            time.sleep(PAUSE)


_the_analyst: OnePerProcess[Analyst] = OnePerProcess(lambda: Analyst())


def get_analyst() -> Analyst:
    """The one analysis lane of this process (its thread starts with its first clip)."""
    return _the_analyst.get()
