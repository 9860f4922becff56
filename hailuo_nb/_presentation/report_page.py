"""``hailuo_nb.report()`` / ``%hailuo report``: one self-contained HTML page of results.

The page carries every record (status, parameters, prompt, poster, strip, sha256) inline;
the videos are copied into a folder beside it, which the players point at relatively, so
the page and its folder can be zipped into a paper's supplement or sent to a colleague.
"""

from __future__ import annotations

import html
import os
import shutil
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import quote

from .. import api
from .._pure.paths import safe_stem
from .._version import __version__
from ..errors import ValidationError
from .facts import relative_path, status_summary
from .records import GRID_MIN_CARD, record_html, record_text

DEFAULT_REPORT = "hailuo_report.html"
DEFAULT_HISTORY_TASKS = 20


def report(tasks: Iterable[Any] | None = None, path: str | os.PathLike = DEFAULT_REPORT, *,
           limit: int = DEFAULT_HISTORY_TASKS, title: str = "Hailuo results") -> Path:
    """Write the report of ``tasks`` (default: this session's, else the last ``limit`` of
    the history) to ``path``, videos copied to ``<name>_files/``; returns the page's path."""
    target = Path(path).expanduser()
    if target.suffix.lower() not in (".html", ".htm"):
        raise ValidationError(f"A report is an .html file, got {str(path)!r}: "
                              "pass a path such as results/report.html.")
    chosen = list(tasks) if tasks is not None else _default_tasks(limit)
    if not chosen:
        raise ValidationError("Nothing to report: no tasks in this session or the history "
                              "(make one with %%hailuo or hailuo_nb.generate).")
    target.parent.mkdir(parents=True, exist_ok=True)
    folder = target.with_name(f"{target.stem}_files")
    api.fill_stills(chosen)
    cards = [_card(task, folder, target.parent) for task in chosen]
    target.write_text(_page(title, chosen, cards), encoding="utf-8")
    return target


def _default_tasks(limit: int) -> list[Any]:
    session = [t for t in api.live_tasks() if t.id]
    return session[-limit:] if session else [t for t in api.recent_tasks(limit) if t.id]


def _card(task: Any, folder: Path, page_dir: Path) -> str:
    """One record whose player and paths point at copies beside the page (video, sidecar)."""
    src = shown = None
    if task.local_path and os.path.exists(task.local_path):
        folder.mkdir(parents=True, exist_ok=True)
        stem = safe_stem(task.id, fallback=task.local_id or "video")
        copies = []
        for source, suffix in ((Path(task.local_path), ".mp4"),
                               (Path(task.local_path).with_suffix(".json"), ".json")):
            copy = folder / f"{stem}{suffix}"
            if source.exists() and (not copy.exists()
                                    or copy.stat().st_size != source.stat().st_size):
                shutil.copyfile(source, copy)
            copies.append(relative_path(copy, page_dir) or copy.name)
        src, shown = quote(copies[0]), (copies[0], copies[1])
    return record_html(task, video_src=src, checksum=True, shown=shown)


def _page(title: str, tasks: list[Any], cards: list[str]) -> str:
    esc = html.escape
    made = time.strftime("%Y-%m-%d %H:%M %Z")
    summary = status_summary(t.status for t in tasks)
    text = "\n\n".join(record_text(t) for t in tasks)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(title)}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        '<body style="font-family:sans-serif;margin:24px;max-width:1400px">'
        f"<h1 style=\"font-size:20px\">{esc(title)}</h1>"
        f"<p>{esc(summary)} · written {esc(made)} by hailuo_nb "
        f"{esc(__version__)}</p>"
        '<div style="display:grid;gap:12px;grid-template-columns:'
        f'repeat(auto-fill,minmax({GRID_MIN_CARD + 160}px,1fr))">'
        + "".join(f"<div>{card}</div>" for card in cards)
        + "</div>"
        # The same records as text, for search engines, screen readers and `grep`.
        + f'<details style="margin-top:16px"><summary>As text</summary><pre>{esc(text)}'
        "</pre></details></body></html>\n"
    )
