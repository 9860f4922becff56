"""Plain-text descriptions of a task's state: status lines, durations, the text repr.

Pure functions over anything shaped like a ``Task`` (duck-typed: no import of it), so
the model, the views and the records all say the same thing in the same words.
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

from ..errors import TaskFailedError

LINK_LIFETIME = 24 * 3600
def shorten(text: str, limit: int = 80) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, sec = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{sec:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def safe_http_url(url: str | None) -> str | None:
    """The URL when it is plain http(s) with a host; anything else (javascript:, data:) → None."""
    if not url or not isinstance(url, str):
        return None
    parts = urlsplit(url.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return None
    return url.strip()


def link_time_left(task: Any, now: float | None = None) -> float | None:
    if task.status != "completed" or task.finished is None:
        return None
    return max(0.0, task.finished + LINK_LIFETIME - (now or time.time()))


def status_line(task: Any) -> str:
    parts = [task.status]
    if task.status not in ("completed", "failed"):
        parts.append(f"{task.progress}%")
    parts.append(f"elapsed {format_seconds(task.elapsed)}")
    if task.estimated_time and task.status in ("pending", "processing"):
        eta = task.estimated_time - task.elapsed
        parts.append(f"ETA ~{format_seconds(eta)}" if eta >= 1
                     else f"past the ~{format_seconds(task.estimated_time)} estimate")
    if task.note:
        parts.append(task.note)
    return " · ".join(parts)


DOWNLOAD_NOTES = {
    "waiting": "download queued",
    "downloading": "downloading the video…",
    "failed": "download failed",
}


def download_note(task: Any) -> str:
    """A few words on the download, for a status line ('' when there is nothing to say)."""
    if task.download_state == "done" and task.local_path:
        return "saved"
    return DOWNLOAD_NOTES.get(task.download_state, "")


def refused_url_note(task: Any) -> str:
    """Why a completed task's result link is neither played nor linked ('' if it is fine)."""
    if task.status != "completed" or not task.url or safe_http_url(task.url):
        return ""
    return ("the result link is not an http(s) URL, so it is not played or linked — "
            "report the task id to the provider.")

def link_life_text(task: Any, now: float | None = None) -> str:
    """'valid ~23h59m more' / 'expired' for a completed task's result link, else ''."""
    left = link_time_left(task, now)
    if left is None:
        return ""
    return "expired" if left <= 0 else f"valid ~{format_seconds(left)} more"


def failure_line(task: Any) -> str:
    err = task.error or {}
    if not err:
        return ""
    return str(TaskFailedError(task.id or None, err.get("code"), err.get("message"),
                               retryable=err.get("retryable")))


def task_text(task: Any) -> str:
    lines = [f"Hailuo task {task.id or '(not yet submitted)'} — {task.mode}"]
    if task.request is not None:
        req = task.request
        lines.append(f"  prompt:  {shorten(req.prompt or '(none)', 100)}")
        lines.append(f"  quality: {req.quality}, {req.duration} s · {req.model}")
    if getattr(task, "credits", None) is not None:
        lines.append(f"  credits: {task.credits:g} reserved")
    lines.append(f"  status:  {status_line(task)}")
    if task.status == "failed":
        lines.append(f"  error:   {failure_line(task)}")
    if task.local_path:
        lines.append(f"  file:    {task.local_path}")
    elif task.download_error:
        lines.append(f"  download failed: {task.download_error}")
    if task.url:
        life = link_life_text(task)
        lines.append(f"  url:     {task.url}" + (f" (link {life})" if life else ""))
    refused = refused_url_note(task)
    if refused:
        lines.append(f"  note:    {refused}")
    return "\n".join(lines)
