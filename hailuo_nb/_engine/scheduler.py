"""Following every live task of the process: one scheduling thread and POLL_WORKERS (4)
polling workers (downloads have their own workers, see ``downloads``).

The scheduling thread (``hailuo-poller``) keeps each task's next poll time, sends queued
submissions and runs small timed jobs (the views' coalesced redraws); the polls
themselves run on ``hailuo-poll_N`` workers, so one slow answer holds one worker, not
the others. The poller only sets traits and writes the store: it never prints or displays
(output from a thread lands in whatever cell runs at that moment). It also sends
queued submissions (batches, and requests that met a 429), one at a time, so that a
rate limit pauses everything at once and nothing is sent twice.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from .._client.endpoints import is_local
from .._pure.describe import shorten
from ..errors import (
    APIError,
    AuthenticationError,
    BadRequestError,
    ContentError,
    HailuoError,
    InsufficientQuotaError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
)
from ..settings import settings
from .downloads import Downloader
from .journal import record_task
from .key_state import Accounts
from .policy import (
    RATE_LIMIT_PAUSE,
    Budget,
    after_submit_error,
    next_poll_interval,
    session_budget,
)
from .uploads import image_url_for
from .workers import OnePerProcess, Workers

if TYPE_CHECKING:
    from .._client.client import Client
    from ..request import GenerationRequest
    from ..task import Task
    from .policy import SubmitOutcome

log = logging.getLogger(__name__)

# A server on this machine (the emulator) that refuses connections this long is gone, and
# its tasks (kept in its memory) with it. A remote one may come back.
LOCAL_SERVER_GONE_AFTER = 30.0
POLL_WORKERS = 4  # polls in flight at once: a slow answer holds one worker, not the others
NOT_FOUND_TOLERANCE = 3  # a task id the server forgot this many times in a row is lost


@dataclass(eq=False)
class Batch:
    max_in_flight: int
    budget: Budget | None = None  # a batch's own credit budget
    in_flight: set = field(default_factory=set)


@dataclass(eq=False)
class _Submission:
    task: Task
    request: GenerationRequest
    client: Client
    batch: Batch | None
    attempts: int = 0


@dataclass(eq=False)
class _Watch:
    task: Task
    client: Client
    failures: int = 0
    not_found: int = 0
    unreachable_since: float | None = None


def _sooner(a: float | None, b: float | None) -> float | None:
    """The shorter of two waits, None meaning 'until woken'."""
    return b if a is None else a if b is None else min(a, b)


def _gone(base_url: str, seconds: float) -> str:
    # Whether it ran in a kernel or on its own, a local emulator keeps its tasks in memory:
    # once it stops they are gone with it. One reason, one next step.
    return (f"the local emulator at {base_url} stopped (no answer for {seconds:.0f} s) and "
            "its tasks went with it — run the cell again with --new for a new take")


class Poller:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, _Watch]] = []
        self._watching: dict[int, _Watch] = {}
        self._submissions: deque[_Submission] = deque()
        self._paused_until = 0.0
        self._seq = itertools.count()
        # Small jobs run on this thread at a time (views' coalesced redraws): they need
        # no thread of their own, and neither pauses nor stop_following_all hold them.
        self._timers: list[tuple[float, int, Callable[[], None]]] = []
        self._thread: threading.Thread | None = None
        self._random = random.Random()
        self.downloader = Downloader()
        self.accounts = Accounts()
        # Daemon workers (not a ThreadPoolExecutor: its threads hold the interpreter's exit
        # until a slow poll ends, and it refuses work once exit has begun).
        self._workers = Workers(POLL_WORKERS, self._poll_safely, "hailuo-poll")
        self.polls = 0

    # -- public ------------------------------------------------------------------------

    @property
    def thread(self) -> threading.Thread | None:
        return self._thread

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def watch(self, task: Task, client: Client, *, delay: float | None = None) -> None:
        """Poll ``task`` until it is terminal."""
        with self._cond:
            if id(task) in self._watching:
                return
            watch = _Watch(task, client)
            self._watching[id(task)] = watch
            first = settings.first_poll_delay if delay is None else delay
            self._schedule(watch, time.time() + min(first, settings.poll_interval))
            self._ensure_thread()
            self._cond.notify_all()

    def submit_later(
        self, task: Task, request: GenerationRequest, client: Client, batch: Batch | None = None
    ) -> None:
        """Queue a request; the poller sends it when the batch has room and no pause holds."""
        with self._cond:
            self._submissions.append(_Submission(task, request, client, batch))
            self._ensure_thread()
            self._cond.notify_all()

    def unwatch(self, task: Task) -> None:
        """Stop following ``task`` (``%hailuo forget``); a queued request is not sent."""
        with self._cond:
            self._watching.pop(id(task), None)
            self._heap = [entry for entry in self._heap if entry[2].task is not task]
            heapq.heapify(self._heap)
            self._submissions = deque(s for s in self._submissions if s.task is not task)
            self._cond.notify_all()

    def pause(self, seconds: float) -> None:
        """Hold every request of this process for ``seconds`` (what a 429 does; benches
        use it to measure with polling held off)."""
        with self._cond:
            self._paused_until = max(self._paused_until, time.time() + seconds)
            self._cond.notify_all()

    def stop_following_all(self) -> None:
        """Stop following every task (tests, and `%hailuo emulator stop`)."""
        with self._cond:
            self._heap.clear()
            self._watching.clear()
            self._submissions.clear()
            self._paused_until = 0.0
            self._cond.notify_all()

    def call_later(self, delay: float, job: Callable[[], None]) -> None:
        """Run ``job()`` on the scheduler thread in ``delay`` seconds (it must be quick and
        never raise: it shares the thread with every poll's scheduling)."""
        with self._cond:
            due = time.monotonic() + max(0.0, delay)  # a wall clock set back delays nothing
            heapq.heappush(self._timers, (due, next(self._seq), job))
            self._ensure_thread()
            self._cond.notify_all()

    def live_count(self) -> int:
        with self._cond:
            return len(self._watching) + len(self._submissions)

    # -- thread ------------------------------------------------------------------------

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="hailuo-poller", daemon=True)
            self._thread.start()

    def _schedule(self, watch: _Watch, due: float) -> None:
        """Under the lock: poll ``watch`` at ``due`` (and wake the scheduler: a worker may
        schedule while it sleeps with nothing due)."""
        heapq.heappush(self._heap, (due, next(self._seq), watch))
        self._cond.notify_all()

    def _take_work(self) -> _Submission | _Watch | Callable[[], None] | None:
        """Under the lock: the next thing to do now, or None after waiting a while."""
        now, mono = time.time(), time.monotonic()
        if self._timers and self._timers[0][0] <= mono:
            return heapq.heappop(self._timers)[2]
        next_timer = self._timers[0][0] - mono if self._timers else None
        if now < self._paused_until:
            self._cond.wait(_sooner(self._paused_until - now, next_timer))
            return None
        for sub in self._submissions:
            if sub.batch is None or len(sub.batch.in_flight) < sub.batch.max_in_flight:
                self._submissions.remove(sub)
                return sub
        if self._heap and self._heap[0][0] <= now:
            return heapq.heappop(self._heap)[2]
        timeout = self._heap[0][0] - now if self._heap else None  # idle: sleep until woken
        self._cond.wait(_sooner(timeout, next_timer))
        return None

    def _run(self) -> None:
        while True:
            with self._cond:
                work = self._take_work()
            if work is None:
                continue
            if isinstance(work, _Watch):
                try:
                    self._dispatch(work)
                except Exception:  # no worker thread to be had: try this one again soon
                    log.exception("hailuo poller: could not hand a poll to a worker")
                    with self._cond:
                        self._schedule(work, time.time() + settings.max_poll_interval)
                continue
            if not isinstance(work, _Submission):  # a timer's job
                try:
                    work()
                except Exception:  # a view's redraw must never stop the polls
                    log.exception("hailuo poller: a timed job failed")
                continue
            try:  # submissions stay on this thread: one at a time keeps batches and pauses
                self._submit(work)
            except Exception as exc:  # never let one task kill the thread for all
                log.exception("hailuo poller: unexpected error")
                self._fail(work.task, HailuoError(f"{type(exc).__name__}: {exc}"),
                           "internal_error")

    def _dispatch(self, watch: _Watch) -> None:
        """Poll ``watch`` on the pool, unless its key is rejected (then wait for the probe)."""
        probe = self.accounts.rejected_until(watch.client)
        if probe is not None and time.time() < probe:
            with self._cond:
                self._schedule(watch, probe + 0.5)  # the probe goes first
            return
        self._workers.put(watch)

    def _poll_safely(self, watch: _Watch) -> None:
        try:
            self._poll(watch)
        except Exception:  # never let one task kill a worker for all
            log.exception("hailuo poller: unexpected error")
            with self._cond:
                watch.failures += 1
                self._schedule(watch, time.time() + settings.max_poll_interval)

    # -- submissions ---------------------------------------------------------------------

    def defer(self, task: Task, request: GenerationRequest, client: Client,
              outcome: SubmitOutcome, attempts: int = 1) -> None:
        """Send ``request`` later, as ``outcome`` (of ``after_submit_error``) says."""
        self._requeue(_Submission(task, request, client, None, attempts), outcome)
        with self._cond:
            self._ensure_thread()

    def _requeue(self, sub: _Submission, outcome: SubmitOutcome) -> None:
        sub.task.status = "queued"
        sub.task.note = outcome.note
        with self._cond:
            self._submissions.appendleft(sub)
            self._paused_until = max(self._paused_until, time.time() + outcome.pause)
            self._cond.notify_all()

    def _over_budget(self, sub: _Submission) -> str:
        """Why this queued request must not be sent ('' when it may)."""
        store = sub.task.store
        if store is None:
            return ""
        for budget in (session_budget(), sub.batch.budget if sub.batch else None):
            if budget is not None and budget.limit > 0:
                why = budget.refusal(store.credits_since(budget.since))
                if why:
                    return why
        return ""

    def _submit(self, sub: _Submission) -> None:
        why = self._over_budget(sub)
        if why:
            self._fail(sub.task, ValidationError(why), "not_sent_budget")
            if sub.batch is not None:
                self._stop_batch(sub.batch, sub.task, why)
            return
        task = sub.task
        task.status = "submitting"
        sub.attempts += 1
        try:
            snapshot = sub.client.submit(sub.request, retry=False,
                                         image_url=image_url_for(task, sub.client))
        except HailuoError as exc:
            outcome = after_submit_error(exc, sub.attempts, queued=True)
            if outcome.action == "retry":
                self._requeue(sub, outcome)
            else:
                self._fail(task, exc, outcome.code)
                if isinstance(exc, InsufficientQuotaError) and sub.batch is not None:
                    self._stop_batch(sub.batch, task, (
                        f"not sent: the account is out of credits (task {task.local_id[:8]} of "
                        "this batch got 402); top up, then hailuo_nb.resume(unsent=True) "
                        "sends it"))
            return
        with task.settling():
            task.note = ""
            task.apply(snapshot)
            record_task(task)
        if sub.batch is not None:
            with self._cond:
                sub.batch.in_flight.add(id(task))
            task._batch = sub.batch
        self.watch(task, sub.client)

    def _stop_batch(self, batch: Batch, first: Task, why: str) -> None:
        """Out of credits or over budget: the batch's other requests are not sent."""
        with self._cond:
            rest = [sub for sub in self._submissions if sub.batch is batch]
            self._submissions = deque(s for s in self._submissions if s.batch is not batch)
        code = "not_sent_budget" if why.startswith("Budget") else "not_sent_quota"
        for sub in rest:
            self._fail(sub.task, TransportError(why), code)

    def _fail(self, task: Task, exc: BaseException, code: str) -> None:
        with task.settling():
            task.fail_locally(code, str(exc))
            record_task(task)
        self._release(task)

    def _release(self, task: Task) -> None:
        batch = getattr(task, "_batch", None)
        if batch is not None:
            with self._cond:
                batch.in_flight.discard(id(task))
                self._cond.notify_all()

    # -- polling ---------------------------------------------------------------------------

    def _poll(self, watch: _Watch) -> None:
        # One poll and every answer it can get, side by side: each branch is a few lines.
        task = watch.task
        self.polls += 1
        try:
            snapshot = watch.client.get_task(task.id, retry=False)
        except RateLimitError as exc:
            wait = exc.retry_after or RATE_LIMIT_PAUSE
            task.note = f"rate-limited: polling paused {wait:g} s"
            with self._cond:
                self._paused_until = max(self._paused_until, time.time() + wait)
                self._schedule(watch, self._paused_until)
            return
        except NotFoundError as exc:
            watch.not_found += 1
            if watch.not_found >= NOT_FOUND_TOLERANCE:
                self._finish(watch, failure=("not_found", str(exc)))
                return
            self._retry_later(watch, "task not found yet: retrying")
            return
        except (AuthenticationError, PermissionDeniedError):  # the key, not the task
            probe = self.accounts.reject(watch.client, self._tasks_of(watch.client))
            with self._cond:
                self._schedule(watch, probe)
            return
        except (BadRequestError, ValidationError) as exc:  # e.g. an id no server answers for
            code = f"http_{exc.status}" if isinstance(exc, APIError) else "invalid_task_id"
            self._finish(watch, failure=(code, str(exc)))
            return
        except TransportError:
            now = time.time()
            watch.unreachable_since = watch.unreachable_since or now
            if is_local(watch.client.base_url) and now - watch.unreachable_since > (
                    LOCAL_SERVER_GONE_AFTER):
                self._finish(watch, failure=("server_gone", _gone(
                    watch.client.base_url, now - watch.unreachable_since)))
                return
            self._retry_later(watch, "network error: retrying")
            return
        except (ServerError, APIError, ContentError) as exc:
            self._retry_later(watch, f"odd answer ({shorten(str(exc), 70)}): asking again")
            return
        watch.failures = 0
        watch.not_found = 0
        watch.unreachable_since = None
        self.accounts.accepted(watch.client, self._tasks_of(watch.client))
        status_before = task.status
        with task.settling():
            fetch = self.downloader.claim(task, snapshot.status)  # before status: see claim
            # The history keeps state changes; a mere progress tick is not worth a write.
            if task.apply(snapshot) and task.status != status_before:
                record_task(task)
        if snapshot.is_terminal:
            self._finish(watch)
            if fetch:
                self.downloader.enqueue(task, watch.client)
            return
        now = time.time()
        interval = next_poll_interval(
            task, now, lo=settings.poll_interval, hi=settings.max_poll_interval
        )
        with self._cond:
            self._schedule(watch, now + interval)

    def _tasks_of(self, client: Client) -> list[Task]:
        with self._cond:
            return [w.task for w in self._watching.values() if w.client is client]

    def _retry_later(self, watch: _Watch, note: str) -> None:
        watch.failures += 1
        watch.task.note = note
        delay = min(
            settings.max_poll_interval, settings.poll_interval * (2 ** min(watch.failures, 8))
        )
        delay *= 0.5 + self._random.random() / 2
        with self._cond:
            self._schedule(watch, time.time() + delay)

    def _finish(self, watch: _Watch, failure: tuple[str, str] | None = None) -> None:
        task = watch.task
        if failure is not None:
            with task.settling():
                task.fail_locally(*failure)
                record_task(task)
        with self._cond:
            self._watching.pop(id(task), None)
        self._release(task)



_the_poller: OnePerProcess[Poller] = OnePerProcess(lambda: Poller())


def get_poller() -> Poller:
    """The one poller of this process (started on first use)."""
    return _the_poller.get()


def stop_following_all() -> None:
    """Stop following every task, if anything was followed (a dead emulator, tests)."""
    poller = _the_poller.if_made()
    if poller is not None:
        poller.stop_following_all()


def fetch_if_needed(task: Task, client: Client) -> bool:
    """Queue ``task``'s download when the one rule (``policy.needs_download``) says so;
    a video saved earlier (a task from the history) gets its stills read instead."""
    poller = get_poller()
    if poller.downloader.claim(task):
        poller.downloader.enqueue(task, client)
        return True
    if task.status == "completed" and not task.is_settled:
        poller.downloader.enqueue(task, None)
    return False
