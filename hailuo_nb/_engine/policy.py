"""The engine's two decisions, each in one place: what a failed submission means, and
whether a task's video still has to be fetched. Every caller asks these functions."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

from ..errors import RateLimitError, ServerError, TransportError
from ..settings import settings

RATE_LIMIT_PAUSE = 10.0  # a 429 without Retry-After or advice
UNAVAILABLE_PAUSE = 5.0  # a 503 without Retry-After
NETWORK_PAUSE = 2.0  # between two refused connects
MAX_UNREACHABLE_ATTEMPTS = 10  # a request that never reached the service gives up after this
# Ended here, not by the server: its state there is unknown, so resume() asks again.
LOCAL_FAILURES = ("http_401", "http_403", "internal_error", "not_found", "no_result")
# Never reached the service: resume(unsent=True) may send these (never submission_uncertain).
NEVER_SENT = ("not_sent", "not_sent_quota", "not_sent_budget", "http_402")
# Every ending decided here rather than by the service's "failed": no credits were lost to
# those on the service's side (a refund is a question only for the service's own failures).
ENDED_HERE = (*LOCAL_FAILURES, *NEVER_SENT, "server_gone", "emulator_stopped",
              "submission_uncertain", "invalid_task_id")


@dataclass(frozen=True)
class SubmitOutcome:
    """``retry`` after ``pause`` seconds (nothing was created), or ``fail`` with ``code``."""

    action: str  # "retry" | "fail"
    code: str = ""
    pause: float = 0.0
    note: str = ""


def after_submit_error(exc: BaseException, attempts: int, *, queued: bool) -> SubmitOutcome:
    """What to do after the ``attempts``-th sending of a request raised ``exc``.

    Retried: 429 and 503 (the service created nothing), and for a ``queued`` request (a
    batch, a form click) a connection that never reached the service, up to
    ``MAX_UNREACHABLE_ATTEMPTS``; a direct call is told at once instead (a wrong URL or no
    network: nothing was sent, the user is looking). Everything else ends the task: a
    request that may have reached the service is never sent twice (it would be paid twice).
    """
    if isinstance(exc, RateLimitError):
        pause = exc.retry_after or RATE_LIMIT_PAUSE
        return SubmitOutcome("retry", pause=pause, note=f"rate-limited: sending in {pause:g} s")
    if isinstance(exc, ServerError) and exc.status == 503:
        pause = exc.retry_after or UNAVAILABLE_PAUSE
        return SubmitOutcome("retry", pause=pause,
                             note=f"service unavailable: sending in {pause:g} s")
    if isinstance(exc, TransportError):
        if exc.may_have_been_created:
            return SubmitOutcome("fail", code="submission_uncertain")
        if queued and attempts < MAX_UNREACHABLE_ATTEMPTS:
            return SubmitOutcome("retry", pause=NETWORK_PAUSE,
                                 note=f"network error: retrying ({attempts}/"
                                      f"{MAX_UNREACHABLE_ATTEMPTS})")
        return SubmitOutcome("fail", code="not_sent")
    status = getattr(exc, "status", None)
    return SubmitOutcome("fail", code=f"http_{status}" if status else "not_sent")


def next_poll_interval(task: Any, now: float, *, lo: float, hi: float) -> float:
    """Seconds until the next poll: long while the end is far, short as it nears.

    Uses the server's ``estimated_time`` when given, else the progress rate.
    """
    started = task.created if task.created is not None else task.submitted_at
    elapsed = max(0.0, now - started)
    estimate = task.estimated_time
    if not estimate and task.progress > 0 and elapsed > 0:
        estimate = elapsed * 100.0 / task.progress
    if estimate:
        remaining = estimate - elapsed
        interval = remaining / 2.0 if remaining > 0 else lo
    else:
        interval = lo + elapsed / 4.0  # no clue: slow down gently
    return min(hi, max(lo, interval))


def needs_download(task: Any, status: str | None = None) -> bool:
    """True when ``task`` (about to be, or already) ``completed`` should be fetched now:
    downloads are on for it, its file is not on disk, and no download is queued or running.
    ``status`` is the server's new status when it is not applied to the task yet."""
    return (
        (status or task.status) == "completed"
        and task.download_dir is not None
        and not (task.local_path and os.path.exists(task.local_path))
        and task.download_state not in ("waiting", "downloading")
    )


class Budget:
    """A credit budget: counts what the service reserved for tasks made since it was set.

    ``hailuo_nb.settings.max_credits`` sets the session's; ``budget=`` a batch's own. Once
    the total reaches the budget the next submission is refused before anything is sent."""

    def __init__(self, limit: float, since: float):
        self.limit, self.since = float(limit), since

    def refusal(self, spent: float) -> str:
        """'' while there is room; else why nothing is sent (one line, what to do)."""
        if self.limit <= 0 or spent < self.limit:
            return ""
        return (f"Budget reached: {spent:g} credits reserved since "
                f"{time.strftime('%H:%M', time.localtime(self.since))} against a budget of "
                f"{self.limit:g} — raise it (%config HailuoMagics.max_credits = …, or budget=) "
                "or set 0 for none; nothing was sent.")


_budget_since = time.time()  # max_credits counts the credits reserved since it was set


def _budget_set(_change: dict) -> None:
    global _budget_since
    _budget_since = time.time()


settings.observe(_budget_set, names="max_credits")


def session_budget() -> Budget:
    """The session's budget (``max_credits``; 0: none), counted from when it was set."""
    return Budget(settings.max_credits, _budget_since)
