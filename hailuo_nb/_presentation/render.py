"""Static HTML of a task: what shows where widgets cannot render.

Everything from the user or the server is escaped; a ``<video>`` gets only an
http(s) URL or a file this project downloaded. The words come from ``describe``.
"""

from __future__ import annotations

import html
import os
import shutil
import sys
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from .._client.endpoints import is_local
from .._pure.describe import (
    failure_line,
    link_life_text,
    refused_url_note,
    safe_http_url,
    shorten,
    status_line,
)

if TYPE_CHECKING:
    from ..task import Task

STATUS_COLOURS = {
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "processing": "#0969da",
    "pending": "#6e7781",
    "queued": "#6e7781",
    "submitting": "#6e7781",
}


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


class HistoryTable:
    """Rows of the task history, as a text table and an HTML table (every cell escaped)."""

    COLUMNS = ("created", "task id", "status", "prompt", "quality", "credits", "file")

    def __init__(self, rows: Iterable[Mapping[str, Any]], *, prompt_width: int = 48):
        self.rows = [dict(row) for row in rows]
        self.prompt_width = prompt_width

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @staticmethod
    def _file(row: Mapping[str, Any]) -> str:
        path = row.get("local_path")
        if not path:
            return ""
        try:
            rel = os.path.relpath(path, os.getcwd())
        except ValueError:
            return str(path)
        return str(path) if rel.startswith("..") else rel

    def _cells(self, row: Mapping[str, Any]) -> dict[str, str]:
        request = row.get("request") if isinstance(row.get("request"), Mapping) else {}
        created = row.get("created_at")
        status = str(row.get("status") or "")
        if status == "failed" and row.get("error_code"):
            status = f"failed ({row['error_code']})"
        if row.get("base_url") and is_local(row["base_url"]):
            status += " [emu]"  # made against the local emulator, not the service
        prompt = str(request.get("prompt") or "")
        if request.get("mode") == "image-to-video":
            prompt = f"[image] {prompt}".strip()
        quality = ""
        if request.get("quality"):
            quality = f"{request['quality']}, {request.get('duration')} s"
        return {
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
            if isinstance(created, (int, float)) else "",
            "task id": str(row.get("task_id") or "(not sent)"),
            "status": status,
            "prompt": shorten(prompt, self.prompt_width) if prompt else "",
            "full prompt": prompt,
            "quality": quality,
            "credits": f"{row['credits']:g}" if isinstance(row.get("credits"), (int, float))
            else "",
            "file": self._file(row),
        }

    def total_line(self) -> str:
        """'N tasks; X credits reserved (by the M that say)': what the service reported."""
        known = [row["credits"] for row in self.rows
                 if isinstance(row.get("credits"), (int, float))]
        line = f"{len(self.rows)} task(s)"
        if known:
            line += f"; {sum(known):g} credits reserved by the {len(known)} the service priced"
        return line

    def text(self, width: int | None = None) -> str:
        """A plain table that fits ``width`` columns (the terminal's): the prompt gives way
        first, then the file, credits and quality columns leave, then dates get shorter."""
        if not self.rows:
            return "No tasks in the history yet."
        width = width or _text_width()
        table = [{c: c for c in self.COLUMNS}] + [self._cells(row) for row in self.rows]
        columns = list(self.COLUMNS)

        def size() -> int:
            return sum(max(len(r[c]) for r in table) for c in columns) + 2 * (len(columns) - 1)

        floor = max(12, max(len(r["prompt"]) for r in table) - (size() - width))
        for r in table[1:]:
            r["prompt"] = shorten(r["prompt"], floor) if r["prompt"] else ""
        for column in ("file", "credits", "quality"):
            if size() > width:
                columns.remove(column)
        if size() > width:  # "2026-12-01 18:40" → "12-01 18:40"
            for r in table[1:]:
                r["created"] = r["created"][5:]
        widths = {c: max(len(r[c]) for r in table) for c in columns}
        lines = []
        for i, r in enumerate(table):
            lines.append("  ".join(r[c].ljust(widths[c]) for c in columns).rstrip())
            if i == 0:
                lines.append("  ".join("-" * widths[c] for c in columns))
        return "\n".join([*lines, self.total_line()])

    def html(self) -> str:
        esc = html.escape
        if not self.rows:
            return "<p>No tasks in the history yet.</p>"
        head = "".join(f"<th style='text-align:left'>{esc(c)}</th>" for c in self.COLUMNS)
        body = []
        for row in self.rows:
            cells = self._cells(row)
            out = []
            for column in self.COLUMNS:
                value = cells[column]
                if column == "prompt":
                    out.append(f'<td title="{esc(cells["full prompt"], quote=True)}">'
                               f"{esc(value)}</td>")
                elif column == "file" and value and not os.path.isabs(value):
                    href = esc(quote(value.replace(os.sep, "/")), quote=True)
                    out.append(f'<td><a href="{href}" target="_blank">{esc(value)}</a></td>')
                elif column in ("task id", "file"):
                    out.append(f"<td><code>{esc(value)}</code></td>")
                else:
                    out.append(f"<td>{esc(value)}</td>")
            body.append("<tr>" + "".join(out) + "</tr>")
        return (
            '<table class="hailuo-history" style="font-family:sans-serif;font-size:13px">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
            f"<p style=\"font-family:sans-serif;font-size:12px\">{esc(self.total_line())}</p>"
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/plain": self.text(), "text/html": self.html()}


def _text_width() -> int:
    """The terminal's width when there is one (or $COLUMNS); wide in a notebook."""
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return shutil.get_terminal_size((200, 20)).columns
    return 200
