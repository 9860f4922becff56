"""The journal: the history as Tasks: Task ↔ row of the store, and the registry of live tasks.

``record_task`` is the only writer of a task's row; ``task_from_row`` the only reader
that builds a Task back. The registry keeps ONE Task object per task id in a process,
so a resume during a download never downloads twice.
"""

from __future__ import annotations

import json
import os
import threading
import time
import weakref

from .._history.store import Store, default_store, this_process
from ..errors import RETRYABLE_TASK_CODES
from ..request import GenerationRequest
from ..task import Task

_lock = threading.Lock()
_live: dict[str, Task] = {}  # task id → the one Task object of this process
_claimed: weakref.WeakSet[Task] = weakref.WeakSet()  # tasks whose request is on record


def record_task(task: Task) -> None:
    """Write the task's current state to its store (never the key)."""
    store = task.store
    if store is None:
        return
    err = task.error or {}
    fields = {}
    if task not in _claimed:  # the request never changes: written once per process
        fields["request"] = task.request.to_record() if task.request else None
        fields["base_url"] = task.client.base_url if task.client else None
        fields["owner"] = this_process()  # this process follows it now
        fields["take_key"] = task.take_key or None
        fields["parent_id"] = task.parent_id or None
    store.write_task(
        task.local_id,
        **fields,
        task_id=task.id or None,
        status=task.status,
        progress=task.progress,
        results=list(task.results) or None,
        error_code=err.get("code"),
        error_message=err.get("message"),
        local_path=task.local_path,
        download_dir=task.download_dir,
        finished_at=task.finished,
        credits=task.credits,
        upload_id=task.upload_id or None,
    )
    _claimed.add(task)
    if task.id:
        remember(task)


def task_from_row(row: dict, *, client=None, store: Store | None = None) -> Task:
    """A Task object for a history row (not followed: ``api.resume`` does that)."""
    request = None
    if row.get("request"):
        try:
            request = GenerationRequest.from_record(row["request"])
        except Exception:  # bytes images cannot be rebuilt; the task still resumes
            request = None
    task = Task(
        request=request,
        client=client,
        store=store or default_store(),
        local_id=row["local_id"],
        id=row.get("task_id") or "",
        status=row.get("status") or "pending",
        progress=int(row.get("progress") or 0),
        results=list(row.get("results") or []),
        download_dir=row.get("download_dir"),
        local_path=row.get("local_path"),
        take_key=row.get("take_key") or "",
        credits=row.get("credits"),
        parent_id=row.get("parent_id") or "",
        upload_id=row.get("upload_id") or "",
    )
    if row.get("error_code"):
        task.error = {"code": row["error_code"], "message": row.get("error_message") or "",
                      "retryable": row["error_code"] in RETRYABLE_TASK_CODES}
    if row.get("created_at"):
        task.submitted_at = row["created_at"]  # recorded on our clock before it was sent
    else:  # a task known only by its id: when it started is the server's word
        task.start_known = False
    created = _server_created(row.get("local_path"))
    if created is not None:  # the service's own start, as the first record had it
        task.created = created
    if row.get("finished_at"):
        task.finished = row["finished_at"]
    task.elapsed = task._elapsed(time.time())
    return task


def _server_created(path: str | None) -> float | None:
    """When the service says it created the task, from the video's sidecar (or None)."""
    if not path:
        return None
    try:
        with open(os.path.splitext(path)[0] + ".json", encoding="utf-8") as handle:
            created = json.load(handle).get("created")
    except (OSError, ValueError, AttributeError):
        return None
    return float(created) if isinstance(created, (int, float)) else None


# -- the registry of live tasks ----------------------------------------------------------


def remember(task: Task) -> Task:
    """Register ``task`` under its id; returns the one Task object for that id."""
    with _lock:
        return _live.setdefault(task.id, task)


def live_task(task_id: str) -> Task | None:
    with _lock:
        return _live.get(task_id)


def live_tasks() -> list[Task]:
    with _lock:
        return list(_live.values())


def unregister(task_id: str | None = None) -> None:
    """Drop one id (or every id) from the registry (a kernel restart, in tests)."""
    with _lock:
        if task_id is None:
            _live.clear()
        else:
            _live.pop(task_id, None)
