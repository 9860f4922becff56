"""Saving a finished video to disk with a JSON sidecar (provenance for papers)."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

from ._version import __version__
from .errors import HailuoError, NotFoundError
from .paths import inside, safe_stem

if TYPE_CHECKING:
    from .client import Client
    from .task import Task


def target_path(task: Task) -> Path:
    """``<download_dir>/<task id>.mp4``; the id is sanitised, the path cannot escape."""
    directory = Path(task.download_dir or ".").expanduser()
    directory.mkdir(parents=True, exist_ok=True)
    return inside(directory, safe_stem(task.id, fallback=task.local_id or "video") + ".mp4")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def sidecar_for(task: Task, path: Path) -> dict:
    return {
        "task_id": task.id,
        "status": task.status,
        "model": task.request.model if task.request else None,
        "request": task.request.to_record() if task.request else None,
        "source_url": task.url,
        "created": task.created,
        "finished": task.finished,
        "downloaded": time.time(),
        "file": path.name,
        "sha256": sha256_of(path),
        "bytes": path.stat().st_size,
        "hailuo_nb": __version__,
    }


def _write_json_atomically(path: Path, data: dict) -> None:
    fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".json", dir=path.parent)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, sort_keys=True)
    os.replace(tmp, path)


def _download_failed(task: Task, reason: str) -> None:
    from .api import record_task

    with task.settling():
        task.download_error = reason
        record_task(task)
        task.download_state = "failed"


def save_result(task: Task, client: Client) -> Path | None:
    """Download ``task``'s video; sets ``local_path`` or ``download_error``."""
    from .api import record_task

    url = task.url
    if not url:
        task.download_error = "the completed task has no result URL"
        task.download_state = "failed"
        return None
    task.download_state = "downloading"
    try:
        path = target_path(task)
        client.download(url, path)
        _write_json_atomically(path.with_suffix(".json"), sidecar_for(task, path))
    except NotFoundError:
        _download_failed(task, "the result link has expired (links live 24 h): it cannot be saved")
        return None
    except (HailuoError, OSError, ValueError) as exc:
        _download_failed(task, str(exc))
        return None
    with task.settling():  # on record before waiters see "done"
        task.download_error = ""
        task.local_path = str(path)
        record_task(task)
        task.download_state = "done"
    return path
