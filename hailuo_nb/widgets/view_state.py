"""What a live view sends to its front end: a task as a small JSON-able dict.

Plain values only, never HTML: the front end puts them in the page as text, so nothing
from the user or the server can become markup there. The record's facts ride along, so
a live view says what the record will say. Times are absolute (Unix seconds) and the
front end ticks elapsed time and ETA from them: the clock costs no comm messages.
"""

from __future__ import annotations

import os
import time
from typing import Any

from .._presentation.facts import (
    THUMBNAIL_MAX_BYTES,
    clip,
    status_counts,
    status_summary,
    task_facts,
)
from .served import page_src

__all__ = ["THUMBNAIL_MAX_BYTES", "gallery_summary", "same_state", "task_state"]

LABEL_CHARS = 90  # a gallery card's label; the view's image name
IMAGE_CHARS = 48


def task_state(task: Any, *, compact: bool = False) -> dict[str, Any]:
    """Everything a view shows of ``task`` now, from its facts (``compact``: a gallery
    card, without the thumbnail and the record's rows)."""
    f = task_facts(task)
    image = f.image
    state: dict[str, Any] = {
        "id": f.id,
        "status": f.status,
        "progress": f.progress,
        "colour": f.colour,
        "mode": f.mode,
        "model": f.model,
        "quality": f.quality,
        "duration": f.duration,
        "image": image.name if image is not None else "",
        "image_short": clip(image.name, IMAGE_CHARS) if image is not None else "",
        "prompt": f.prompt,
        "prompt_short": clip(f.prompt or "(no prompt)", LABEL_CHARS),
        "credits": f.credits,
        "emulator": f.emulator,
        "note": f.note,
        "download": f.download,
        "errors": list(f.errors),
        "started": f.started,
        "finished": f.finished,
        "estimated": f.estimated,
        "elapsed": f.elapsed,
        "sent_at": time.time(),  # the front end's clock is checked against this
        "url": f.url,
        "link_expires": f.link_expires,
        "video": "",
        "poster": f.poster,
        "saved": f.saved,
        "missing": f.missing,
        "reused": f.reused,
        "settled": f.settled,
        "bytes_video": False,
        "saved_size": 0,
    }
    if f.url and (f.link_expires is None or f.link_expires > time.time()):  # a dead link: none
        state["video"] = f.url
    if task.download_state in ("waiting", "downloading"):
        state["video"] = ""  # a player comes with the file: it never switches mid-play
    elif f.saved:  # the saved file, where the page's server has it (outlives links)
        served = page_src(task.local_path)
        state["video"] = served or ""
        # No server has it (marimo, VS Code): the page asks the kernel for its bytes —
        # the saved file, not the result link, which dies in 24 h.
        state["bytes_video"] = served is None
        state["saved_size"] = os.path.getsize(task.local_path)
    if not compact:
        state["thumbnail"] = image.thumbnail if image is not None else ""
        state["facts"] = [[label, value] for label, value in f.rows if label != "status"]
    return state


def gallery_summary(cards: list[dict], now: float | None = None) -> dict[str, Any]:
    """Counts for the gallery's combined bar and an overall ETA (the latest of the running
    tasks' own estimates: they run side by side), from the cards themselves."""
    now = time.time() if now is None else now
    counts = status_counts(c["status"] for c in cards)
    saving = sum(c["status"] == "completed" and not c["settled"] for c in cards)
    ends = [c["started"] + c["estimated"] for c in cards
            if c["status"] in ("pending", "processing") and c["estimated"] and c["started"]]
    return {**counts, "saving": saving,
            "words": status_summary((c["status"] for c in cards), saving),
            "eta_at": max(ends) if ends and counts["running"] else None, "sent_at": now}


def same_state(new: dict, old: dict) -> bool:
    """Equal but for when they were made (nothing to send)."""
    return {k: v for k, v in new.items() if k != "sent_at"} == {
        k: v for k, v in old.items() if k != "sent_at"}
