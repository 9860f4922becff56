"""The static record of a settled task: what the notebook keeps once the kernel is gone.

Plain HTML plus a text twin, with no widget behind it: final status, parameters, the
prompt (escaped), id, when it was made and how long it took, the provider's reason when it
failed, a poster and a strip of frames inlined as small JPEGs, a player whose ``src`` is the
downloaded file relative to the notebook, and the sidecar's path. Nothing in it is true
only today: times are absolute, paths relative, and no video is ever inlined.
"""

from __future__ import annotations

import html
import json
import os
import time
from collections.abc import Iterable
from typing import Any

from .._client.endpoints import is_local
from .._engine.policy import ENDED_HERE
from .._pure.describe import LINK_LIFETIME, failure_line, format_seconds, safe_http_url, shorten
from .render import STATUS_COLOURS, relative_src

GRID_MIN_CARD = 340  # px: the grid fits as many columns as the width allows


def when(timestamp: float | None) -> str:
    """An absolute local time with its zone, e.g. '2026-12-01 18:40 UTC'."""
    if not timestamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(timestamp))


def shown_path(path: str | None) -> str:
    """A path relative to the working directory (the notebook's), never an absolute one."""
    if not path:
        return ""
    try:
        rel = os.path.relpath(path, os.getcwd())
    except ValueError:  # another drive (Windows)
        return os.path.basename(path)
    return os.path.basename(path) if rel.startswith("..") else rel.replace(os.sep, "/")


def sidecar_of(task: Any) -> dict:
    """The JSON sidecar saved beside the video ({} when there is none or it is unreadable)."""
    if not task.local_path:
        return {}
    try:
        with open(os.path.splitext(task.local_path)[0] + ".json", encoding="utf-8") as handle:
            data = json.load(handle)
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def facts(task: Any, *, checksum: bool = False,
          shown: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of the record, in reading order, as plain text (``checksum``:
    also the video's sha256 from its sidecar; ``shown``: (video, sidecar) paths to show
    instead, as a report does for its copies)."""
    req = task.request
    started = task.created if task.created is not None else getattr(task, "submitted_at", None)
    rows = [("status", task.status)]
    if req is not None:
        rows += [("mode", req.mode), ("model", req.model),
                 ("quality", f"{req.quality}, {req.duration} s")]
    rows += [("task id", task.id or "(not sent)"), ("made", when(started))]
    if getattr(task, "parent_id", ""):
        rows.append(("continues", f"the last frame of {task.parent_id}"))
    server = getattr(task.client, "base_url", None)
    if server and is_local(server):
        rows.append(("server", f"local emulator at {server} (not the real service)"))
    if task.finished is not None and started:
        rows.append(("took", format_seconds(task.finished - started)))
    if getattr(task, "credits", None) is not None:
        provider_failed = task.status == "failed" and not (server and is_local(server)) and (
            (task.error or {}).get("code") not in ENDED_HERE)
        rows.append(("credits", f"{task.credits:g} reserved" + (
            " before it failed (see your account for a refund)" if provider_failed else "")))
    if task.status == "failed":
        err = task.error or {}
        rows.append(("provider says", f"{err.get('code') or '?'}: {err.get('message') or '—'}"))
        rows.append(("what it means", failure_line(task)))
    if task.local_path:
        sidecar = sidecar_of(task)
        video_shown, sidecar_shown = shown or (
            shown_path(task.local_path), shown_path(os.path.splitext(task.local_path)[0] + ".json"))
        rows.append(("video", video_shown))
        if sidecar:
            rows.append(("sidecar", sidecar_shown))
        if checksum and isinstance(sidecar.get("sha256"), str):
            rows.append(("sha256", sidecar["sha256"]))
    elif task.status == "completed":
        if task.download_error:
            rows.append(("download", f"failed: {task.download_error}"))
        if task.url and task.finished:
            rows.append(("link expires", when(task.finished + LINK_LIFETIME)))
    if task.stills_error:
        rows.append(("preview", task.stills_error))
    report = getattr(task, "camera", None)
    if report is not None and report.rows:
        rows.append(("camera", report.summary))
    quality = getattr(task, "clip_quality", None)
    if quality is not None:
        rows.append(("quality", quality.summary))
    elif getattr(task, "analysis_state", "") in ("waiting", "running"):
        rows.append(("quality", "being measured (a low-priority thread; shown when ready)"))
    if getattr(task, "reused_from", None):
        rows.append(("reused", f"made {when(task.reused_from)} by an earlier run of this cell; "
                               "nothing was sent again (--new / new=True for a new take)"))
    return rows


def camera_html(report: Any) -> str:
    """A camera check as a small timeline: one cell per command, coloured by its verdict."""
    colours = {"match": "#1a7f37", "mismatch": "#cf222e", "unsure": "#9a6700"}
    esc = html.escape
    total = max((r.end for r in report.rows), default=1.0) or 1.0
    cells = "".join(
        f'<div title="{esc(f"[{r.command}] seen {r.seen} ({r.confidence:.2f}) {r.reason}")}" '
        f'style="flex:{max(0.05, (r.end - r.start) / total):.3f};background:'
        f'{colours[r.verdict]};color:#fff;padding:1px 4px;overflow:hidden;'
        f'white-space:nowrap;font-size:11px">{esc(r.command)}: {esc(r.verdict)}</div>'
        for r in report.rows)
    return (f'<div class="hailuo-camera" style="margin-top:4px"><div style="font-size:12px">'
            f"camera check: {esc(report.summary)} ({esc(report.note)})</div>"
            f'<div style="display:flex;gap:2px;max-width:520px">{cells}</div></div>')


def camera_bundle(report: Any) -> dict:
    return {"text/plain": repr(report), "text/html": camera_html(report)}


def camera_table_bundle(table: Any) -> dict:
    """Commands by clips: expected, seen, verdict, confidence, and the overall score."""
    esc = html.escape
    colours = {"match": "#1a7f37", "mismatch": "#cf222e", "unsure": "#9a6700"}
    body = "".join(
        f"<tr><td><code>{esc(label)}</code></td><td>[{esc(r.command)}]</td>"
        f"<td>{esc(r.expected)}</td><td>{esc(r.seen)}</td>"
        f'<td style="color:{colours[r.verdict]}">{esc(r.verdict)}</td>'
        f"<td>{r.confidence:.2f}</td><td>{_measured(r)}</td><td>{esc(r.reason)}</td></tr>"
        for label, r in table.rows)
    page = ('<table class="hailuo-camera-table" style="font-family:sans-serif;font-size:12px">'
            "<thead><tr><th>task</th><th>command</th><th>expected</th><th>seen</th>"
            "<th>verdict</th><th>confidence</th><th>pan, tilt /s · zoom /s</th><th>why</th>"
            f"</tr></thead><tbody>{body}</tbody></table>"
            f"<p style=\"font-family:sans-serif;font-size:12px\">score: {esc(table.summary)}</p>")
    return {"text/plain": repr(table), "text/html": page}


def _measured(r: Any) -> str:
    """The camera's measured motion of a row (pan + right, tilt + up; zoom >1 in)."""
    if getattr(r, "pan", None) is None:
        return "—"
    return f"{r.pan:+.1%}, {r.tilt:+.1%} · x{r.zoom:.3f}"


def record_text(task: Any) -> str:
    lines = [f"Hailuo {task.status}: {shorten(task.prompt or '(no prompt)', 100)}"]
    lines += [f"  {label + ':':<15}{value}" for label, value in facts(task)]
    return "\n".join(lines)


def _stills_html(task: Any) -> tuple[str, str]:
    """(poster data URI or '', the strip's HTML or '')."""
    stills = task.stills
    if stills is None:
        return "", ""
    from .._media.frames import data_uri  # pure, but PyAV loads with it: only when there are stills

    poster = data_uri(stills.poster)
    duration = stills.duration or 0.0
    cells = []
    for i, jpeg in enumerate(stills.strip):
        at = duration * i / max(1, len(stills.strip))
        cells.append(f'<img src="{data_uri(jpeg)}" alt="frame at {at:.1f} s" '
                     f'title="{at:.1f} s" style="height:48px;margin-right:2px">')
    strip = f'<div class="hailuo-strip" style="margin-top:4px">{"".join(cells)}</div>'
    return poster, strip


def _media_html(task: Any, video_src: str | None = None) -> str:
    esc = html.escape
    poster, strip = _stills_html(task)
    src = video_src or relative_src(task.local_path)
    if src is None and task.status == "completed" and not task.local_path:
        src = safe_http_url(task.url)  # download off: the link, while it lives
    parts = []
    if src:
        poster_attr = f' poster="{poster}"' if poster else ""
        parts.append(f'<video src="{esc(src, quote=True)}"{poster_attr} controls '
                     'preload="none" playsinline style="width:320px;max-width:100%;'
                     'display:block;background:#000"></video>')
    elif poster:
        parts.append(f'<img src="{poster}" alt="poster" style="width:320px;max-width:100%">')
    if strip:
        parts.append(strip)
    return "".join(parts)


def record_html(task: Any, *, video_src: str | None = None, checksum: bool = False,
                shown: tuple[str, str] | None = None) -> str:
    """The record as HTML; ``video_src`` and ``shown`` point the player and the paths at
    a report's copies."""
    esc = html.escape
    colour = STATUS_COLOURS.get(task.status, "#6e7781")
    prompt = task.prompt or "(no prompt)"
    cell = "text-align:left;vertical-align:top;padding:2px 8px 2px 0"
    rows = "".join(
        f'<tr><th style="{cell};font-weight:normal;color:#57606a">{esc(label)}</th>'
        f'<td style="{cell}">'
        + (f"<code>{esc(value)}</code>" if label in ("task id", "video", "sidecar", "sha256")
           else esc(value)) + "</td></tr>"
        for label, value in facts(task, checksum=checksum, shown=shown) if label != "status"
    )
    return (
        '<div class="hailuo-record" style="font-family:sans-serif;font-size:13px;'
        'border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;max-width:760px">'
        f'<div><span style="background:{colour};color:#fff;border-radius:10px;'
        f'padding:1px 8px">{esc(task.status)}</span> <b>Hailuo</b></div>'
        f'<div style="margin:6px 0;white-space:pre-wrap">{esc(prompt)}</div>'
        '<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">'
        f"<div>{_media_html(task, video_src)}{_camera_part(task)}</div>"
        f'<table style="border-collapse:collapse;font-size:12px">{rows}</table>'
        "</div></div>"
    )


def _camera_part(task: Any) -> str:
    report = getattr(task, "camera", None)
    return camera_html(report) if report is not None and report.rows else ""


def record_bundle(task: Any) -> dict:
    return {"text/plain": record_text(task), "text/html": record_html(task)}


def grid_html(tasks: Iterable[Any]) -> str:
    cards = "".join(f"<div>{record_html(task)}</div>" for task in tasks)
    return ('<div class="hailuo-records" style="display:grid;gap:8px;grid-template-columns:'
            f'repeat(auto-fill,minmax({GRID_MIN_CARD}px,1fr))">{cards}</div>')


def status_summary(tasks: list) -> str:
    """'1 completed, 1 failed': how many tasks end in each status, in name order."""
    counts: dict[str, int] = {}
    for task in tasks:
        counts[task.status] = counts.get(task.status, 0) + 1
    return ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))


def grid_bundle(tasks: Iterable[Any], title: str = "") -> dict:
    tasks = list(tasks)
    head = f"{title or 'Hailuo tasks'}: {len(tasks)} ({status_summary(tasks) or 'none'})"
    if tasks and all(task.is_settled for task in tasks):
        head += " · all done"  # the words the live gallery ended on
    text = "\n\n".join([head, *(record_text(t) for t in tasks)])
    page = (f'<div style="font-family:sans-serif;margin-bottom:4px"><b>'
            f"{html.escape(head)}</b></div>{grid_html(tasks)}")
    return {"text/plain": text, "text/html": page}


class Record:
    """A settled task as its record (what ``display`` shows where a live view was)."""

    def __init__(self, task: Any):
        self.task = task

    def __repr__(self) -> str:
        return record_text(self.task)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return record_bundle(self.task)
