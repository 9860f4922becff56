"""The engine's two decisions, each in one place: what a failed submission means, and
whether a task's video still has to be fetched. Every caller asks these functions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from .errors import RateLimitError, ServerError, TransportError

RATE_LIMIT_PAUSE = 10.0  # a 429 without Retry-After or advice
UNAVAILABLE_PAUSE = 5.0  # a 503 without Retry-After
NETWORK_PAUSE = 2.0  # between two refused connects
MAX_UNREACHABLE_ATTEMPTS = 10  # a request that never reached the service gives up after this
# Ended here, not by the server: its state there is unknown, so resume() asks again.
LOCAL_FAILURES = ("http_401", "http_403", "internal_error", "not_found")
# Never reached the service: resume(unsent=True) may send these (never submission_uncertain).
NEVER_SENT = ("not_sent", "not_sent_quota", "http_402")


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
