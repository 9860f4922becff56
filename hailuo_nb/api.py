"""The Python API: ``generate``, ``generate_many``, ``resume``, ``history``.

Every way in (magic, form, Python) ends here: a validated ``GenerationRequest``,
one ``Client.submit``, a ``Task`` recorded in the store and handed to the poller.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ._client.client import Client, check_task_id, default_client
from ._client.endpoints import resolve_urls
from ._engine import journal
from ._engine.downloads import add_stills
from ._engine.journal import live_tasks, record_task, task_from_row
from ._engine.policy import (
    LOCAL_FAILURES,
    NEVER_SENT,
    Budget,
    after_submit_error,
    session_budget,
)
from ._engine.scheduler import Batch, fetch_if_needed, get_poller
from ._engine.uploads import image_url_for
from ._history.store import Store, default_store, owner_alive
from ._pure.describe import LINK_LIFETIME
from ._pure.takes import form_origin, take_key
from .errors import MissingAPIKeyError, NotFoundError, TaskFailedError, ValidationError
from .request import GenerationRequest, dry_run_body
from .settings import settings
from .task import DownloadError, Task


def _refuse_over_budget(store: Store, *budgets: Budget | None) -> None:
    for budget in budgets:
        if budget is not None and budget.limit > 0:
            why = budget.refusal(store.credits_since(budget.since))
            if why:
                raise ValidationError(why, field="budget")


# The public names (hailuo_nb re-exports most) and what the presentation layer asks of the API;
# engine internals are imported from their own modules, not through here.
__all__ = [
    "check_now", "clean_uploads", "fill_stills", "forget", "generate", "generate_many",
    "history", "live_tasks", "queue_generation", "recent_tasks", "resume", "stop_following",
    "wait_all",
]


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
    new: bool = False,
    model: str | None = None,
    dry_run: bool = False,
    parent: Task | None = None,
) -> Task | dict:
    """Submit one generation and return its ``Task`` at once (or when done, ``wait=True``).

    Input is validated before anything is sent. If the service is rate-limiting, the
    request is queued and sent by the background poller when allowed. In a notebook cell,
    re-running the cell reuses what it made for the same request (nothing is sent, nothing
    paid); ``new=True`` asks for a new take. ``dry_run=True`` sends nothing and returns the
    exact JSON body (a local image is checked, not uploaded: its place says so).
    """
    # Long only in its signature: every option a user may pass is spelled out here.
    if request is None:
        request = GenerationRequest(
            prompt=prompt,
            image=image,
            quality=settings.default_quality if quality is None else quality,
            duration=settings.default_duration if duration is None else duration,
            prompt_optimizer=prompt_optimizer,
            fast_pretreatment=fast_pretreatment,
            model=settings.default_model if model is None else model,
        )
    if dry_run:
        return dry_run_body(request)
    client = client or default_client()
    store = store or default_store()
    key = None if new else take_key(request.to_record(), client.base_url)
    made = store.by_take(key) if key else None
    if made is not None:
        task = _reuse(made, client, store)
        if wait:
            task.wait(timeout)
        return task
    _refuse_over_budget(store, session_budget())  # before anything is recorded or sent
    task = _new_task(request, client, store, _download_dir(download_dir, download))
    task.take_key = key or ""
    task.parent_id = parent.id if parent is not None else ""
    record_task(task)  # recorded before sending: nothing the user started is lost
    task.status = "submitting"
    try:
        snapshot = client.submit(request, retry=False, image_url=image_url_for(task, client))
    except Exception as exc:
        outcome = after_submit_error(exc, attempts=1, queued=False)
        if outcome.action != "retry":
            _fail_unsent(task, exc, outcome.code)
            raise
        get_poller().defer(task, request, client, outcome)  # nothing was created: later
    else:
        with task.settling():
            task.apply(snapshot)
            record_task(task)
        get_poller().watch(task, client)
    if wait:
        task.wait(timeout)
    return task


def _reuse(row: dict, client: Client, store: Store) -> Task:
    """The task a re-run cell made before, followed again: re-attached while unfinished,
    its video fetched again while the link lives, else an explanation. Nothing is sent."""
    task = journal.live_task(row["task_id"])
    if task is None:
        task = task_from_row(row, client=client, store=store)
        record_task(task)  # this process follows it now
    task.reused_from = row.get("created_at")
    gone = not (task.local_path and os.path.exists(task.local_path))
    expired = task.finished is not None and time.time() > task.finished + LINK_LIFETIME
    if task.status == "completed" and task.download_dir and gone and expired:
        with task.settling():
            task.download_error = (
                "its video file is gone and the result link has expired (links live 24 h); "
                "nothing was sent — run it again with --new (or new=True) for a new take")
            task.download_state = "failed"
        return task
    _follow(task, client)
    return task


def _fail_unsent(task: Task, exc: BaseException, code: str) -> None:
    with task.settling():
        task.fail_locally(code, str(exc))
        record_task(task)


def queue_generation(
    request: GenerationRequest,
    *,
    client: Client | None = None,
    download_dir: str | os.PathLike | None = None,
    download: bool | None = None,
    store: Store | None = None,
    take_key: str = "",
) -> Task:
    """Return a Task at once and let the poller thread send the request.

    For callers that must never wait on the network (a button's click handler).
    Errors end up on the task (status failed, ``error`` set), not raised. ``take_key``
    names where it was made (a form's cell), so that place can show it again.
    """
    [task] = _queue_all([request], client, store, _download_dir(download_dir, download), None,
                        reuse=False, key=take_key)  # a click is always a new take
    return task


def form_takes(client: Client | None = None,
               store: Store | None = None) -> tuple[str, list[Task]]:
    """(the take-key prefix for a generation form shown by the running cell, the tasks a
    form of that cell sent before, followed again where unfinished); ('', []) outside a
    cell. Nothing is sent."""
    prefix = form_origin(client.base_url if client is not None else resolve_urls()[0])
    if not prefix:
        return "", []
    store = store or default_store()
    try:
        return prefix, [_reuse(row, client or default_client(base_url=row.get("base_url")),
                               store) for row in store.by_take_prefix(prefix)]
    except MissingAPIKeyError:  # no key yet: nothing can be followed, the form says why
        return prefix, []


def _queue_all(requests: list[GenerationRequest], client: Client | None,
               store: Store | None, folder: str | None, batch: Batch | None, *,
               reuse: bool, key: str = "") -> list[Task]:
    """Record every request (so none is lost), then hand them to the poller to send;
    with ``reuse``, what this notebook cell made before for a request is taken instead."""
    client = client or default_client()
    store = store or default_store()
    tasks, fresh = [], []
    for request in requests:
        found = take_key(request.to_record(), client.base_url) if reuse else None
        made = store.by_take(found) if found else None
        if made is not None:
            tasks.append(_reuse(made, client, store))
            continue
        task = _new_task(request, client, store, folder)
        task.take_key = found or key
        record_task(task)
        tasks.append(task)
        fresh.append(task)
    poller = get_poller()
    for task in fresh:
        poller.submit_later(task, task.request, client, batch)
    return tasks


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
    new: bool = False,
    budget: float | None = None,
    **defaults: Any,
) -> list[Task]:
    """Queue many generations; at most ``max_in_flight`` run on the server at once.

    Every request is validated first (a bad one stops the batch before anything is
    sent). A 429 pauses the whole batch; nothing is dropped or sent twice. In a notebook
    cell, a re-run reuses what the cell made (the same prompt twice is two takes);
    ``new=True`` makes new takes of all. ``budget=`` stops the batch once the credits
    reserved since it started reach it (``model=`` and the other fields go to each request).
    """
    defaults.setdefault("model", settings.default_model)
    items = [_as_request(item, **defaults) for item in requests]
    limit = settings.max_in_flight if max_in_flight is None else int(max_in_flight)
    if limit < 1:
        raise ValidationError(f"max_in_flight must be at least 1, got {limit}.")
    if budget is not None and budget < 0:
        raise ValidationError(f"budget must be >= 0 credits, got {budget}.", field="budget")
    batch = Batch(max_in_flight=limit,
                  budget=Budget(budget, time.time()) if budget else None)
    _refuse_over_budget(store or default_store(), session_budget(), batch.budget)
    tasks = _queue_all(items, client, store, _download_dir(download_dir, download), batch,
                       reuse=not new)
    if wait:
        wait_all(tasks, timeout=timeout)
    return tasks


def wait_all(tasks: Iterable[Task], timeout: float | None = None) -> list[Task]:
    """Wait for every task to settle; failures stay on the tasks (no exception)."""

    deadline = None if timeout is None else time.monotonic() + timeout
    tasks = list(tasks)
    for task in tasks:
        left = None if deadline is None else max(0.0, deadline - time.monotonic())
        # A timeout propagates; a failure (TaskFailedError, DownloadError) stays on its task.
        with contextlib.suppress(TaskFailedError, DownloadError):
            task.wait(left)
    return tasks


def resume(
    task_id: str | None = None,
    *,
    client: Client | None = None,
    store: Store | None = None,
    unsent: bool = False,
) -> list[Task]:
    """Re-attach to tasks from the history that are not known to be finished AND saved
    (all, or one id): unfinished ones, finished ones whose video is not on disk, and ones
    that ended here for a reason the server never gave (a rejected key, a crash).

    An id the history never saw is followed too (typed by hand). ``unsent=True`` also
    sends the requests that were never sent (a batch stopped by a 402, a network that
    was down); never one that may have reached the service. Returns the tasks.
    """
    store = store or default_store()
    if task_id is not None:
        task_id = check_task_id(task_id)  # refused before anything is written or sent
        row = store.by_task_id(task_id)
        rows = [row] if row else [{"task_id": task_id, "status": "pending",
                                   "local_id": store.new_local_id(),
                                   "download_dir": _download_dir(None, None)}]
    else:  # tasks another live kernel is following are left to it
        rows = [row for row in store.unfinished(LOCAL_FAILURES) if not owner_alive(
            row.get("owner"))]
    attached = []
    for row in rows:
        task = journal.live_task(row["task_id"])
        if task is None:  # one Task object per id in a process, whatever happens
            task_client = client or default_client(base_url=row.get("base_url"))
            task = task_from_row(row, client=task_client, store=store)
            if task.status == "failed" and (task.error or {}).get("code") in LOCAL_FAILURES:
                task.reopen()  # the server never said it failed: ask it
            record_task(task)  # the first write of this process: it claims the task
        _follow(task, client)
        attached.append(task)
    if unsent and task_id is None:
        attached += _send_unsent(store, client)
    return attached


def _send_unsent(store: Store, client: Client | None) -> list[Task]:
    """Queue again the requests of this history that were never sent."""
    tasks = []
    for row in store.never_sent(NEVER_SENT):
        task_client = client or default_client(base_url=row.get("base_url"))
        task = task_from_row(row, client=task_client, store=store)
        if task.request is None:  # an image given as bytes cannot be rebuilt
            continue
        task.reopen(status="queued")
        record_task(task)
        get_poller().submit_later(task, task.request, task_client)
        tasks.append(task)
    return tasks


def _follow(task: Task, client: Client | None = None) -> None:
    """Make sure a task is followed: polled while unfinished, its video fetched once done."""
    task_client = task.client or client or default_client()
    if not task.is_terminal:
        get_poller().watch(task, task_client, delay=0.0)  # idempotent
    else:
        fetch_if_needed(task, task_client)


def check_now(task: Task) -> Task:
    """Ask the service for ``task`` now (from the calling thread) and record the answer;
    a video that is ready is fetched by the engine, as for a followed task."""
    if not task.id:
        return task
    client = task.client or default_client()
    snapshot = client.get_task(task.id)
    with task.settling():
        task.apply(snapshot)
        record_task(task)
    _follow(task, client)
    return task


def recent_tasks(limit: int = 20, *, store: Store | None = None) -> list[Task]:
    """The latest ``limit`` tasks of the history as Task objects (live ones as they are);
    unfinished ones are re-attached so they go on live."""
    store = store or default_store()
    rows = store.all(limit)
    tasks = [journal.live_task(row.get("task_id") or "") or task_from_row(row, store=store)
             for row in rows]
    unfinished = [t.id for t in tasks if t.id and not t.is_terminal]
    for tid in unfinished:
        resume(tid, store=store)
    return [journal.live_task(t.id) or t if t.id else t for t in tasks]


def stop_following(base_url: str, code: str, message: str) -> int:
    """End every unfinished task sent to ``base_url`` (a server that is gone) with
    ``code``; returns how many. Polling stops when nothing else is followed."""
    ours = [t for t in live_tasks()
            if t.client is not None and t.client.base_url == base_url and not t.is_terminal]
    for task in ours:  # nobody waits forever on a server that is gone
        with task.settling():
            task.fail_locally(code, message)
            record_task(task)
    others = [t for t in live_tasks() if not t.is_terminal]
    poller = get_poller()
    if not others and poller.live_count() == len(ours):
        poller.stop_following_all()  # only those tasks were followed: stop polling a dead port
    return len(ours)


def forget(task_id: str | None = None, *, unfinished: bool = False,
           store: Store | None = None) -> list[str]:
    """Stop following one task (or every unfinished one) and mark it forgotten in the
    history: not resumed, not reused by a re-run cell. Returns the ids forgotten."""
    store = store or default_store()
    if (task_id is None) == (not unfinished):
        raise ValidationError("forget: give one task id, or unfinished=True (not both).")
    if task_id is not None:
        task_id = check_task_id(task_id)  # refused before anything is written
        row = store.by_task_id(task_id)
        if row is None:
            raise ValidationError(f"Unknown task id {task_id!r}: it is not in the history "
                                  "(see %hailuo history).")
        rows = [row]
    else:
        rows = store.unfinished()
    for row in rows:
        task = journal.live_task(row["task_id"])
        if task is not None:
            get_poller().unwatch(task)
            journal.unregister(row["task_id"])
        store.write_task(row["local_id"], forgotten=1)
    return [row["task_id"] for row in rows]


def clean_uploads(*, client: Client | None = None, store: Store | None = None) -> list[str]:
    """Delete this project's uploads whose tasks have all settled (or that no task used),
    to free the account's file quota; returns the file ids deleted."""
    client = client or default_client()
    store = store or default_store()
    deleted = []
    for row in store.uploads(client.files_url):
        statuses = (row.get("statuses") or "").split(",") if row.get("statuses") else []
        if any(status not in ("completed", "failed") for status in statuses):
            continue  # a task still needs it (the provider fetches the image late)
        with contextlib.suppress(NotFoundError):  # already gone (expired): forget it too
            client.delete_file(row["file_id"])
        store.upload_deleted(row["file_id"])
        deleted.append(row["file_id"])
    return deleted


def fill_stills(tasks: Iterable[Task]) -> None:
    """Read the poster and strip of saved videos that have none yet (tasks from the
    history, for a report); a video that cannot be decoded gets the reason instead."""
    for task in tasks:
        add_stills(task)


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

