"""What a live view sends to its front end: a task as a small JSON-able dict.

Plain values only, never HTML: the front end puts them in the page as text, so nothing
from the user or the server can become markup there. The record's facts ride along, so
a live view says what the record will say. Times are absolute (Unix seconds) and the
front end ticks elapsed time and ETA from them: the clock costs no comm messages.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Any

from .._client.endpoints import is_local
from .._presentation.records import facts, shown_path
from .._presentation.render import STATUS_COLOURS
from .._pure.describe import (
    LINK_LIFETIME,
    download_note,
    failure_line,
    link_time_left,
    refused_url_note,
    safe_http_url,
)
from .served import page_src

# The user's own image is inlined only when small (it is saved with the widget's state).
THUMBNAIL_MAX_BYTES = 96 * 1024
GREY = "#57606a"
IMAGE_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png",
               "webp": "image/webp"}


def task_state(task: Any, *, compact: bool = False) -> dict[str, Any]:
    """Everything a view shows of ``task`` now (``compact``: a gallery card, without the
    thumbnail and the record's facts)."""
    req = task.request
    started = task.created if task.created is not None else getattr(task, "submitted_at", None)
    server = getattr(task.client, "base_url", None) or ""
    state: dict[str, Any] = {
        "id": task.id or "",
        "status": task.status,
        "progress": (100 if task.status == "completed"
                     else max(0, min(100, int(task.progress or 0)))),
        "colour": STATUS_COLOURS.get(task.status, GREY),
        "mode": task.mode,
        "model": req.model if req is not None else "",
        "quality": req.quality if req is not None else "",
        "duration": req.duration if req is not None else None,
        "image": _image_words(req),
        "prompt": task.prompt or "",
        "credits": task.credits,
        "emulator": bool(server) and is_local(server),
        "note": task.note or "",
        "download": download_note(task),
        "errors": _errors(task),
        "started": started,
        "finished": task.finished,
        "estimated": task.estimated_time,
        "elapsed": task.elapsed,
        "sent_at": time.time(),  # the front end's clock is checked against this
        "url": "",
        "link_expires": None,
        "video": "",
        "poster": _poster(task),
        "saved": _saved(task),
        "reused": bool(getattr(task, "reused_from", None)),
        "settled": bool(task.is_settled),
    }
    url = safe_http_url(task.url) if task.status == "completed" else None
    if url:
        state["url"] = url
        state["link_expires"] = task.finished + LINK_LIFETIME if task.finished else None
        left = link_time_left(task)
        if left is None or left > 0:  # a dead link plays nothing
            state["video"] = url
    if task.download_state in ("waiting", "downloading"):
        state["video"] = ""  # a player comes with the file: it never switches mid-play
    elif state["saved"]:  # the saved file, where the page's server has it (outlives links)
        served = page_src(task.local_path)
        state["video"] = served or ""
        # No server has it (marimo, VS Code): the page asks the kernel for its bytes —
        # the saved file, not the result link, which dies in 24 h.
        state["bytes_video"] = served is None
        state["saved_size"] = os.path.getsize(task.local_path)
    state.setdefault("bytes_video", False)
    state.setdefault("saved_size", 0)
    if not compact:
        state["thumbnail"] = _thumbnail(req)
        state["facts"] = [[label, value] for label, value in facts(task) if label != "status"]
    return state


def _saved(task: Any) -> str:
    """Where the video is on disk, once it is all there ('' before, or when it is gone)."""
    if (not task.local_path or task.download_state in ("waiting", "downloading")
            or not os.path.exists(task.local_path)):
        return ""
    return shown_path(task.local_path)


def _image_words(req: Any) -> str:
    if req is None:
        return ""
    if req.image_kind == "url" and req.image_url:
        return str(req.image_url)
    if req.image_kind == "path" and req.image_path:
        return str(req.image_path).replace("\\", "/").rsplit("/", 1)[-1]
    if req.image_kind == "bytes" and req.image_info is not None:
        return req.image_info.describe()
    return ""


def _errors(task: Any) -> list[str]:
    lines = []
    if task.status == "failed":  # the provider's code and message, then what to do
        lines.append(failure_line(task) or "The task failed with no message.")
    if task.download_error:
        lines.append(f"Download failed: {task.download_error}")
    refused = refused_url_note(task)
    if refused:
        lines.append(f"No player: {refused}")
    if task.stills_error:
        lines.append(f"No preview: {task.stills_error}")
    return lines


def _poster(task: Any) -> str:
    stills = getattr(task, "stills", None)
    if stills is None or not stills.poster:
        return ""
    return "data:image/jpeg;base64," + base64.b64encode(stills.poster).decode("ascii")


def _thumbnail(req: Any) -> str:
    """The user's own image as a data URI when small (never the video), else ''."""
    if req is None or req.image_kind not in ("bytes", "path"):
        return ""
    info = req.image_info
    if info is None or info.size > THUMBNAIL_MAX_BYTES:
        return ""
    try:
        data = req.image_bytes()
    except Exception:  # the file moved since: no thumbnail, the rest still works
        return ""
    kind = IMAGE_TYPES.get(str(info.format).lower())
    if not data or kind is None:
        return ""
    return f"data:{kind};base64," + base64.b64encode(data).decode("ascii")


def gallery_summary(cards: list[dict], now: float | None = None) -> dict[str, Any]:
    """Counts for the gallery's combined bar and an overall ETA (the latest of the running
    tasks' own estimates: they run side by side), from the cards themselves."""
    now = time.time() if now is None else now
    done = sum(c["status"] == "completed" for c in cards)
    failed = sum(c["status"] == "failed" for c in cards)
    running = len(cards) - done - failed
    ends = [c["started"] + c["estimated"] for c in cards
            if c["status"] in ("pending", "processing") and c["estimated"] and c["started"]]
    return {"total": len(cards), "done": done, "failed": failed, "running": running,
            "saving": sum(c["status"] == "completed" and not c["settled"] for c in cards),
            "eta_at": max(ends) if ends and running else None, "sent_at": now}


def same_state(new: dict, old: dict) -> bool:
    """Equal but for when they were made (nothing to send)."""
    return {k: v for k, v in new.items() if k != "sent_at"} == {
        k: v for k, v in old.items() if k != "sent_at"}
