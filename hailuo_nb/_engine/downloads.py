"""Saving finished videos to disk with a JSON sidecar (provenance for papers), on
DOWNLOAD_WORKERS (3) download workers of their own (``hailuo-downloader_N``), so that
big files never stall the polling and one slow link holds one worker, not all. The camera
check and clip quality are not measured here: the analysis lane (analysis.py) does that."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .._pure.paths import inside, safe_stem, sha256_of, write_json_atomically
from .._version import __version__
from ..errors import HailuoError, NotFoundError
from ..settings import settings
from .analysis import check_camera, get_analyst
from .journal import record_task
from .policy import needs_download
from .workers import Workers

log = logging.getLogger(__name__)
# Poster + strip as JPEG bytes: inlined as base64 (4/3 larger) they stay under 27 KB a result,
# so a notebook of three results stays near 100 KB.
STILLS_BUDGET = 20_000

if TYPE_CHECKING:
    from .._client.client import Client
    from ..task import Task


def target_path(task: Task) -> Path:
    """``<download_dir>/<task id>.mp4``; the id is sanitised, the path cannot escape."""
    directory = Path(task.download_dir or ".").expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return inside(directory, safe_stem(task.id, fallback=task.local_id or "video") + ".mp4")


def sidecar_for(task: Task, path: Path) -> dict:
    return {
        "task_id": task.id,
        "status": task.status,
        "model": task.request.model if task.request else None,
        "request": task.request.to_record() if task.request else None,
        "source_url": task.url,
        "parent_task_id": task.parent_id or None,  # the clip whose last frame it continues
        "created": task.created,
        "finished": task.finished,
        "downloaded": time.time(),
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "hailuo_nb": __version__,
    }


def _download_failed(task: Task, reason: str) -> None:
    with task.settling():
        task.download_error = reason
        record_task(task)
        task.download_state = "failed"


def save_result(task: Task, client: Client) -> Path | None:
    """Download ``task``'s video; sets ``local_path`` or ``download_error``."""
    url = task.url
    if not url:
        task.download_error = "the completed task has no result URL"
        task.download_state = "failed"
        return None
    task.download_state = "downloading"
    try:
        path = target_path(task)
        client.download(url, path)
        write_json_atomically(path.with_suffix(".json"), sidecar_for(task, path))
    except NotFoundError:
        _download_failed(task, "the result link has expired (links live 24 h): it cannot be saved")
        return None
    except (HailuoError, OSError, ValueError) as exc:
        _download_failed(task, str(exc))
        return None
    stills, why = stills_or_reason(path)  # here, on the engine's thread: never in a user's cell
    with task.settling():  # on record before waiters see "done"
        task.download_error = ""
        task.local_path = str(path)
        task.stills, task.stills_error = stills, why
        record_task(task)
        task.download_state = "done"
    if stills is not None and settings.auto_analyse:  # measured later, never in its way
        get_analyst().enqueue(task)
    return path


def stills_or_reason(path: str | os.PathLike) -> tuple[object | None, str]:
    """(Stills, '') of a saved video, or (None, why) when it cannot be decoded."""
    from .._media import frames  # PyAV loads with the first video, not with the package
    from .._media.stills_cache import stills_on_disk

    try:  # kept on disk: a settled task holds a handle, not ~25 KB of JPEGs
        return stills_on_disk(
            path, lambda: frames.read_stills(path, max_total_bytes=STILLS_BUDGET)), ""
    except (frames.FrameError, ValueError, OSError) as exc:
        return None, f"no preview: {exc}"


def add_stills(task: Task, *, measure_now: bool = True) -> None:
    """Read the stills (and check the camera) of a video saved earlier (a task from the
    history): a reused record is the same record as the first. ``measure_now=False`` (the
    download workers) leaves the camera check and quality to the analysis lane."""
    if task.stills is None and task.local_path and os.path.exists(task.local_path):
        stills, why = stills_or_reason(task.local_path)
        camera = task.camera
        if camera is None and stills is not None and measure_now:
            camera = check_camera(task.local_path, task.prompt)
        with task.settling():
            task.stills, task.stills_error = stills, why
            task.camera = camera
        if stills is not None and not measure_now and settings.auto_analyse and (
                task.camera is None or task.clip_quality is None):
            get_analyst().enqueue(task)


DOWNLOAD_WORKERS = 3  # videos saved at once: a dripping link holds one worker, not all


class Downloader:
    """A few threads that save finished videos (and read their stills)."""

    def __init__(self, workers: int = DOWNLOAD_WORKERS) -> None:
        self._workers = Workers(workers, self._save, "hailuo-downloader")
        self._lock = threading.Lock()

    @property
    def thread(self) -> threading.Thread | None:
        threads = self._workers.threads
        return threads[0] if threads else None

    def claim(self, task: Task, status: str | None = None) -> bool:
        """Mark ``task`` as waiting for its download when ``needs_download`` says so.

        Called before a new ``completed`` status is applied, so ``task.wait()`` never sees
        completed-and-nothing-to-wait-for; the caller then ``enqueue``s it."""
        with self._lock:
            if not needs_download(task, status):
                return False
            task.download_error = ""
            task.download_state = "waiting"
            return True

    def enqueue(self, task: Task, client: Client | None) -> None:
        """Save ``task``'s video; with ``client=None`` only read the stills of its file."""
        if client is not None:
            task.download_state = "waiting"
        self._workers.put((task, client))

    @staticmethod
    def _save(work: tuple) -> None:
        task, client = work
        try:
            if client is None:
                add_stills(task, measure_now=False)  # a worker: measured in the lane
            else:
                save_result(task, client)
        except Exception as exc:  # save_result reports its own errors; this is a bug net
            log.exception("hailuo downloader: unexpected error")
            task.download_error = f"{type(exc).__name__}: {exc}"
            task.download_state = "failed"
