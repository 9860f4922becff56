"""The Python API: ``generate``, ``generate_many``, ``resume``, ``history``.

Every way in (magic, form, Python) ends here: a validated ``GenerationRequest``,
one ``Client.submit``, a ``Task`` recorded in the store and handed to the poller.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .client import Client, check_task_id
from .errors import RETRYABLE_TASK_CODES, RateLimitError, ServerError, ValidationError
from .poller import Batch, Poller
from .request import GenerationRequest
from .settings import settings
from .store import Store, default_store, owner_alive, this_process
from .task import Task

_lock = threading.Lock()
_poller: Poller | None = None
_clients: dict[tuple, Client] = {}
_live: dict[str, Task] = {}  # task id → the one Task object of this process


def get_poller() -> Poller:
    global _poller
    with _lock:
        if _poller is None:
            _poller = Poller()
        return _poller


def default_client(base_url: str | None = None) -> Client:
    """A client from the settings and environment, cached per (key, URLs)."""
    from .credentials import resolve_api_key

    key = resolve_api_key()
    base = base_url or settings.base_url or os.environ.get("HAILUO_BASE_URL") or None
    files = settings.files_url or os.environ.get("HAILUO_FILES_URL") or None
    cache_key = (hash(key), base, files)
    with _lock:
        client = _clients.get(cache_key)
        if client is None:
            client = _clients[cache_key] = Client(api_key=key, base_url=base, files_url=files)
        return client


def record_task(task: Task) -> None:
    """Write the task's current state to its store (never the key)."""
    store = task._store
    if store is None:
        return
    err = task.error or {}
    fields = {}
    if not getattr(task, "_recorded", False):  # the request never changes: write it once
        fields["request"] = task.request.to_record() if task.request else None
        fields["base_url"] = task._client.base_url if task._client else None
        fields["owner"] = this_process()
    store.record(
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
    )
    task._recorded = True
    if task.id:
        with _lock:
            _live.setdefault(task.id, task)


def _as_request(item: Any, **defaults: Any) -> GenerationRequest:
    if isinstance(item, GenerationRequest):
        return item
    if isinstance(item, str):
        return GenerationRequest(prompt=item, **defaults)
    if isinstance(item, dict):
        return GenerationRequest(**{**defaults, **item})
    raise ValidationError(
        f"Cannot make a request from {type(item).__name__}: pass a prompt string, a dict of "
        "GenerationRequest fields, or a GenerationRequest."
    )


def _download_dir(download_dir: str | os.PathLike | None, download: bool | None) -> str | None:
    if download is False or (download is None and not settings.auto_download):
        return None
    return str(Path(download_dir or settings.download_dir).expanduser().resolve())


def _new_task(request, client, store, download_dir) -> Task:
    task = Task(request=request, client=client, store=store, download_dir=download_dir)
    if download_dir is None:
        task.download_state = "off"
    return task


def generate(
    prompt: str = "",
    *,
    image: Any = None,
    quality: str | None = None,
    duration: int | None = None,
    prompt_optimizer: bool = True,
    fast_pretreatment: bool = False,
    wait: bool = False,
    client: Client | None = None,
    request: GenerationRequest | None = None,
    download_dir: str | os.PathLike | None = None,
    download: bool | None = None,
    timeout: float | None = None,
    store: Store | None = None,
) -> Task:
    """Submit one generation and return its ``Task`` at once (or when done, ``wait=True``).

    Input is validated before anything is sent. If the service is rate-limiting, the
    request is queued and sent by the background poller when allowed.
    """
    if request is None:
        request = GenerationRequest(
            prompt=prompt,
            image=image,
            quality=settings.default_quality if quality is None else quality,
            duration=settings.default_duration if duration is None else duration,
            prompt_optimizer=prompt_optimizer,
            fast_pretreatment=fast_pretreatment,
        )
    client = client or default_client()
    store = store or default_store()
    task = _new_task(request, client, store, _download_dir(download_dir, download))
    record_task(task)  # recorded before sending: nothing the user started is lost
    poller = get_poller()
    task.status = "submitting"
    try:
        snapshot = client.submit(request, retry=False)
    except (RateLimitError, ServerError) as exc:
        if isinstance(exc, ServerError) and exc.status != 503:
            task.fail_locally(f"http_{exc.status}", str(exc))
            record_task(task)
            raise
        wait_s = exc.retry_after or 10.0
        task.status = "queued"
        task.note = f"rate-limited: sending in {wait_s:g} s"
        poller.pause(wait_s)
        poller.submit_later(task, request, client)
    except Exception as exc:
        if getattr(exc, "may_have_been_created", False):
            code = "submission_uncertain"
        else:
            code = f"http_{exc.status}" if getattr(exc, "status", None) else "not_sent"
        task.fail_locally(code, str(exc))
        record_task(task)
        raise
    else:
        with task.settling():
            task.apply(snapshot)
            record_task(task)
        poller.watch(task, client)
    if wait:
        task.wait(timeout)
    return task


def queue_generation(
    request: GenerationRequest,
    *,
    client: Client | None = None,
    download_dir: str | os.PathLike | None = None,
    download: bool | None = None,
    store: Store | None = None,
) -> Task:
    """Return a Task at once and let the poller thread send the request.

    For callers that must never wait on the network (a button's click handler).
    Errors end up on the task (status failed, ``error`` set), not raised.
    """
    client = client or default_client()
    store = store or default_store()
    task = _new_task(request, client, store, _download_dir(download_dir, download))
    record_task(task)
    get_poller().submit_later(task, request, client)
    return task


def generate_many(
    requests: Iterable[GenerationRequest | str | dict],
    max_in_flight: int | None = None,
    *,
    client: Client | None = None,
    wait: bool = False,
    timeout: float | None = None,
    download_dir: str | os.PathLike | None = None,
    download: bool | None = None,
    store: Store | None = None,
    **defaults: Any,
) -> list[Task]:
    """Queue many generations; at most ``max_in_flight`` run on the server at once.

    Every request is validated first (a bad one stops the batch before anything is
    sent). A 429 pauses the whole batch; nothing is dropped or sent twice.
    """
    items = [_as_request(item, **defaults) for item in requests]
    limit = settings.max_in_flight if max_in_flight is None else int(max_in_flight)
    if limit < 1:
        raise ValidationError(f"max_in_flight must be at least 1, got {limit}.")
    client = client or default_client()
    store = store or default_store()
    folder = _download_dir(download_dir, download)
    batch = Batch(max_in_flight=limit)
    poller = get_poller()
    tasks = []
    for request in items:
        task = _new_task(request, client, store, folder)
        record_task(task)
        tasks.append(task)
    for task in tasks:
        poller.submit_later(task, task.request, client, batch)
    if wait:
        wait_all(tasks, timeout=timeout)
    return tasks


def wait_all(tasks: Iterable[Task], timeout: float | None = None) -> list[Task]:
    """Wait for every task to settle; failures stay on the tasks (no exception)."""
    import time

    from .errors import HailuoError, TaskTimeoutError

    deadline = None if timeout is None else time.monotonic() + timeout
    tasks = list(tasks)
    for task in tasks:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        try:
            task.wait(left)
        except TaskTimeoutError:
            raise
        except HailuoError:
            pass
    return tasks


def resume(
    task_id: str | None = None,
    *,
    client: Client | None = None,
    store: Store | None = None,
) -> list[Task]:
    """Re-attach to unfinished tasks from the history (all, or one id).

    An id the history never saw is followed too (typed by hand). Completed tasks whose
    video is not on disk yet are downloaded. Returns the tasks re-attached.
    """
    store = store or default_store()
    if task_id is not None:
        task_id = check_task_id(task_id)  # refused before anything is written or sent
        row = store.by_task_id(task_id)
        rows = [row] if row else [{"task_id": task_id, "status": "pending",
                                   "local_id": store.new_local_id(),
                                   "download_dir": _download_dir(None, None)}]
    else:  # tasks another live kernel is following are left to it
        rows = [row for row in store.unfinished() if not owner_alive(row.get("owner"))]
    poller = get_poller()
    attached = []
    for row in rows:
        tid = row["task_id"]
        with _lock:
            existing = _live.get(tid)
        if existing is not None:  # one Task object per id in a process, whatever happens
            _reattach(existing, poller, client)
            attached.append(existing)
            continue
        task_client = client or default_client(base_url=row.get("base_url"))
        task = _task_from_row(row, client=task_client, store=store)
        task._recorded = False  # rewrite request, base URL and owner: this process claims it
        record_task(task)
        with _lock:
            _live[tid] = task
        if task.status == "completed":
            if task.download_dir and not task.local_path:
                poller.downloader.enqueue(task, task_client)
        else:
            poller.watch(task, task_client, delay=0.0)
        attached.append(task)
    return attached


def _reattach(task: Task, poller: Poller, client: Client | None) -> None:
    """Make sure a live Task is followed, and retry its download if that failed."""
    task_client = task._client or client or default_client()
    if not task.is_terminal:
        poller.watch(task, task_client)  # idempotent
    elif (task.status == "completed" and task.download_dir and not task.local_path
          and task.download_state in ("", "failed")):
        task.download_error = ""
        poller.downloader.enqueue(task, task_client)


def _task_from_row(row: dict, *, client: Client | None = None,
                   store: Store | None = None) -> Task:
    """A Task object for a history row (not followed: call resume() for that)."""
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
    )
    if row.get("error_code"):
        task.error = {"code": row["error_code"], "message": row.get("error_message") or "",
                      "retryable": row["error_code"] in RETRYABLE_TASK_CODES}
    if row.get("created_at"):
        task.submitted_at = row["created_at"]
    if row.get("finished_at"):
        task.finished = row["finished_at"]
    task.elapsed = task._elapsed(time.time())
    task._recorded = bool(row.get("created_at"))  # a row the store already holds
    return task


def history(limit: int | None = None, *, as_dataframe: bool = False, store: Store | None = None):
    """Rows of the task history, newest first (a pandas DataFrame if asked and installed)."""
    rows = (store or default_store()).all(limit)
    if as_dataframe:
        try:
            import pandas as pd  # optional: not a dependency
        except ImportError as exc:
            raise ValidationError(
                "history(as_dataframe=True) needs pandas: pip install pandas."
            ) from exc
        return pd.DataFrame(rows)
    return rows


def live_tasks() -> list[Task]:
    with _lock:
        return list(_live.values())
