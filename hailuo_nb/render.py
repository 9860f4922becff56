"""Static text and HTML of a task: what shows where widgets cannot render.

Everything from the user or the server is escaped; a ``<video>`` gets only an
http(s) URL or a file this project downloaded.
"""

from __future__ import annotations

import html
import os
import time
from typing import TYPE_CHECKING
from urllib.parse import quote, urlsplit

if TYPE_CHECKING:
    from .task import Task

LINK_LIFETIME = 24 * 3600
STATUS_COLOURS = {
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "processing": "#0969da",
    "pending": "#6e7781",
    "queued": "#6e7781",
    "submitting": "#6e7781",
}


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


def relative_src(path: str | os.PathLike | None) -> str | None:
    """A URL-quoted path relative to the working directory for an existing file under
    it — what a rendered output's ``src`` may use (JupyterLab serves it from the
    notebook's folder) — else None."""
    if not path or not os.path.exists(path):
        return None
    try:
        rel = os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive (Windows)
        return None
    if rel.startswith(".."):
        return None
    return quote(rel.replace(os.sep, "/"))


def video_src(task: Task) -> str | None:
    """Where a player should point: the downloaded file when it is under the
    working directory (the Jupyter server can serve it, as a relative URL),
    else the result URL when it is http(s). Never base64."""
    return relative_src(task.local_path) or safe_http_url(task.url)


def link_time_left(task: Task, now: float | None = None) -> float | None:
    if task.status != "completed" or task.finished is None:
        return None
    return max(0.0, task.finished + LINK_LIFETIME - (now or time.time()))


def status_line(task: Task) -> str:
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


def download_note(task: Task) -> str:
    """A few words on the download, for a status line ('' when there is nothing to say)."""
    if task.download_state == "done" and task.local_path:
        return "saved"
    return DOWNLOAD_NOTES.get(task.download_state, "")


def refused_url_note(task: Task) -> str:
    """Why a completed task's result link is neither played nor linked ('' if it is fine)."""
    if task.status != "completed" or not task.url or safe_http_url(task.url):
        return ""
    return ("the result link is not an http(s) URL, so it is not played or linked — "
            "report the task id to the provider.")


def player_html(task: Task) -> str:
    """A ``<video>`` for a completed task, or ''.

    ``src`` is only ever ``video_src(task)`` (a relative path the Jupyter server serves,
    or an http(s) URL), escaped; never base64. No autoplay, no loop. While the download
    is in flight there is no player yet, so it does not switch source mid-play.
    """
    if task.status != "completed" or task.download_state in ("waiting", "downloading"):
        return ""
    src = video_src(task)
    if not src:
        return ""
    return (
        f'<video src="{html.escape(src, quote=True)}" controls preload="metadata" '
        f'playsinline style="max-width:100%;max-height:400px;display:block"></video>'
    )


def link_life_text(task: Task, now: float | None = None) -> str:
    """'valid ~23h59m more' / 'expired' for a completed task's result link, else ''."""
    left = link_time_left(task, now)
    if left is None:
        return ""
    return "expired" if left <= 0 else f"valid ~{format_seconds(left)} more"


def failure_line(task: Task) -> str:
    err = task.error or {}
    if not err:
        return ""
    from .errors import TaskFailedError

    return str(TaskFailedError(task.id or None, err.get("code"), err.get("message"),
                               retryable=err.get("retryable")))


def task_text(task: Task) -> str:
    lines = [f"Hailuo task {task.id or '(not yet submitted)'} — {task.mode}"]
    if task.request is not None:
        req = task.request
        lines.append(f"  prompt:  {shorten(req.prompt or '(none)', 100)}")
        lines.append(f"  quality: {req.quality}, {req.duration} s")
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


def task_html(task: Task) -> str:
    esc = html.escape
    colour = STATUS_COLOURS.get(task.status, "#6e7781")
    prompt = task.prompt or "(no prompt)"
    rows = [
        '<div class="hailuo-task" style="font-family:sans-serif;max-width:760px;'
        'border:1px solid #d0d7de;border-radius:6px;padding:8px 12px">',
        f"<div><b>Hailuo task</b> <code>{esc(task.id or '(not yet submitted)')}</code> "
        f"· {esc(task.mode)}</div>",
        f'<div title="{esc(prompt)}">{esc(shorten(prompt, 120))}</div>',
    ]
    if task.request is not None:
        rows.append(f"<div>{esc(task.request.quality)}, {task.request.duration} s</div>")
    width = 100 if task.status == "completed" else task.progress
    rows.append(
        f'<div style="background:#eaeef2;height:8px;border-radius:4px;margin:6px 0">'
        f'<div style="width:{int(width)}%;height:8px;border-radius:4px;'
        f'background:{colour}"></div></div>'
    )
    rows.append(f'<div style="color:{colour}">{esc(status_line(task))}</div>')
    if task.status == "failed":
        rows.append(f'<div style="color:#cf222e">{esc(failure_line(task))}</div>')
    player = player_html(task)
    if player:
        rows.append(player)
    url = safe_http_url(task.url) if task.status == "completed" else None
    if url:
        life = link_life_text(task)
        rows.append(
            f'<div><a href="{esc(url, quote=True)}" target="_blank" rel="noopener noreferrer">'
            f"Open in a new tab</a>{esc(f' · link {life}' if life else '')}</div>"
        )
    refused = refused_url_note(task)
    if refused:
        rows.append(f'<div style="color:#cf222e">{esc(refused)}</div>')
    if task.local_path:
        rows.append(f"<div>Saved to <code>{esc(task.local_path)}</code></div>")
    elif task.download_error:
        rows.append(f'<div style="color:#cf222e">Download failed: {esc(task.download_error)}</div>')
    rows.append("</div>")
    return "\n".join(rows)
