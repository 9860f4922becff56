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
from .._pure.describe import refused_url_note, safe_http_url  # noqa: F401 - used via render.
from .facts import STATUS_COLOURS, clip, relative_path, relative_src  # noqa: F401 - the same
from .records import record_html

if TYPE_CHECKING:
    from ..task import Task

def task_html(task: Task) -> str:
    """A task as static HTML at this moment: its record (a running task's shows how far it
    had got and how to pick it up)."""
    return record_html(task)


class HistoryTable:
    """Rows of the task history, as a text table and an HTML table (every cell escaped)."""

    COLUMNS = ("created", "task id", "status", "prompt", "quality", "credits", "file")
    PROMPT_KEEPS = 40  # characters of a prompt kept before other columns give way

    def __init__(self, rows: Iterable[Mapping[str, Any]], *, prompt_width: int = 100):
        self.rows = [dict(row) for row in rows]
        self.prompt_width = prompt_width

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @staticmethod
    def _file(row: Mapping[str, Any]) -> str:
        path = row.get("local_path")
        return (relative_path(path) or str(path)) if path else ""

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
            "prompt": clip(prompt, self.prompt_width) if prompt else "",
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
        """A plain table that fits ``width`` columns (the terminal's). Ids are never cut;
        the prompt keeps at least PROMPT_KEEPS characters while the file, credits and
        quality columns leave and the dates get shorter, and only then gives way further."""
        if not self.rows:
            return "No tasks in the history yet."
        width = width or _text_width()
        table = [{c: c for c in self.COLUMNS}] + [self._cells(row) for row in self.rows]
        columns = list(self.COLUMNS)

        def size() -> int:
            return sum(max(len(r[c]) for r in table) for c in columns) + 2 * (len(columns) - 1)

        def fit_prompt(floor: int) -> None:
            longest = max(len(r["prompt"]) for r in table)
            limit = max(floor, longest - (size() - width))
            for r in table[1:]:
                r["prompt"] = clip(r["full prompt"], limit) if r["prompt"] else ""

        fit_prompt(self.PROMPT_KEEPS)
        for column in ("file", "credits", "quality"):
            if size() > width:
                columns.remove(column)
                fit_prompt(self.PROMPT_KEEPS)
        if size() > width:  # "2026-12-01 18:40" → "12-01 18:40"
            for r in table[1:]:
                r["created"] = r["created"][5:]
        fit_prompt(12)
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
        head = "".join(f"<th style='text-align:left;white-space:nowrap'>{esc(c)}</th>"
                       for c in self.COLUMNS)
        body = []
        for row in self.rows:
            cells = self._cells(row)
            out = []
            for column in self.COLUMNS:
                value = cells[column]
                if column == "prompt":  # room to read it: it wraps, the rest do not
                    out.append(f'<td title="{esc(cells["full prompt"], quote=True)}" '
                               f'style="min-width:18em;max-width:36em">{esc(value)}</td>')
                elif column == "file" and value and not os.path.isabs(value):
                    href = esc(quote(value.replace(os.sep, "/")), quote=True)
                    out.append(f'<td style="white-space:nowrap"><a href="{href}" '
                               f'target="_blank">{esc(value)}</a></td>')
                elif column in ("task id", "file"):
                    out.append(f'<td style="white-space:nowrap"><code>{esc(value)}</code></td>')
                else:
                    out.append(f'<td style="white-space:nowrap">{esc(value)}</td>')
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
