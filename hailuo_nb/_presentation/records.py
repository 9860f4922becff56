"""The static record of a settled task: what the notebook keeps once the kernel is gone.

Plain HTML plus a text twin, with no widget behind it: final status, parameters, the
prompt (escaped), id, when it was made and how long it took, the provider's reason when it
failed, a poster and a strip of frames inlined as small JPEGs, a player whose ``src`` is the
downloaded file relative to the notebook, and the sidecar's path. Nothing in it is true
only today: times are absolute, paths relative, and no video is ever inlined.
"""

from __future__ import annotations

import html
from collections.abc import Iterable
from typing import Any

from .compare import labels_for, parameters_of
from .facts import (
    VERDICT_COLOURS,
    TaskFacts,
    camera_rows,
    clip,
    colour_of,
    shown_path,
    sidecar_of,
    status_summary,
    task_facts,
    video_tag,
    when,
)

__all__ = ["Record", "camera_bundle", "camera_html", "camera_table_bundle", "facts",
           "grid_bundle", "grid_html", "record_bundle", "record_html", "record_text",
           "shown_path", "sidecar_of", "status_summary", "when"]

GRID_MIN_CARD = 340  # px: a full record's width where records sit side by side
CARD_WIDTH = 170  # px: a compact card of a sweep's grid; as many columns as the width allows
STRIP_HEIGHT = 40  # px: five frames of a 16:9 clip fit a card of GRID_MIN_CARD


def facts(task: Any, *, checksum: bool = False,
          shown: tuple[str, str] | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs of the record, in reading order, as plain text."""
    return list(task_facts(task, checksum=checksum, shown=shown).rows)


def camera_html(report: Any) -> str:
    """A camera check as a small timeline: one cell per command, coloured by its verdict."""
    return _camera_timeline(camera_rows(report), str(report.summary), str(report.note))


def _camera_timeline(rows: tuple, summary: str, note: str) -> str:
    esc = html.escape
    cells = "".join(
        f'<div title="{esc(f"[{r.command}] seen {r.seen} ({r.confidence:.2f}) {r.reason}")}" '
        f'style="flex:{r.share:.3f};background:{VERDICT_COLOURS[r.verdict]};color:#fff;'
        'padding:1px 4px;overflow:hidden;white-space:nowrap;font-size:11px">'
        f"{esc(r.command)}: {esc(r.verdict)}</div>" for r in rows)
    return (f'<div class="hailuo-camera" style="margin-top:4px"><div style="font-size:12px">'
            f"camera check: {esc(summary or '—')} ({esc(note)})</div>"
            f'<div style="display:flex;gap:2px;max-width:520px">{cells}</div></div>')


def camera_bundle(report: Any) -> dict:
    return {"text/plain": repr(report), "text/html": camera_html(report)}


def camera_table_bundle(table: Any) -> dict:
    """Commands by clips: expected, seen, verdict, confidence, and the overall score."""
    esc = html.escape
    colours = VERDICT_COLOURS
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
    return facts_text(task_facts(task))


def facts_text(f: TaskFacts) -> str:
    lines = [f"Hailuo task {f.status}: {clip(f.prompt or '(no prompt)', 100)}"]
    lines += [f"  {label + ':':<15}{value}" for label, value in f.rows]
    if not f.settled:
        lines.append(f"  {'progress:':<15}{f.status_words}")
    if f.missing:
        lines.append(f"  {'missing:':<15}{f.missing}")
    return "\n".join(lines)


def _media_html(f: TaskFacts) -> str:
    esc = html.escape
    parts = []
    if f.video:
        parts.append(video_tag(f.video, poster=f.poster, preload="none"))
        # Where the file cannot be fetched (an HTML export without its folder), say so.
        parts.append(f'<div style="font-size:11px;color:#57606a">plays from '
                     f"<code>{esc(f.saved or f.video)}</code> beside the notebook</div>"
                     if f.saved else "")
    elif f.poster:
        parts.append(f'<img src="{f.poster}" alt="poster" style="width:320px;max-width:100%">')
    if f.missing:
        parts.append(f'<div style="color:#9a6700;max-width:320px">{esc(f.missing)}</div>')
    if f.strip:
        cells = "".join(
            f'<img src="{uri}" alt="frame at {at:.1f} s" title="{at:.1f} s" '
            f'style="height:{STRIP_HEIGHT}px;max-width:20%;object-fit:cover;flex:0 1 auto">'
            for uri, at in f.strip)
        parts.append('<div class="hailuo-strip" style="margin-top:4px;display:flex;gap:2px;'
                     f'flex-wrap:nowrap;max-width:320px;overflow:hidden">{cells}</div>')
    return "".join(parts)


def _image_html(f: TaskFacts) -> str:
    if f.image is None or not f.image.thumbnail:
        return ""
    return (f'<img src="{f.image.thumbnail}" alt="input image" title="{html.escape(f.image.name)}"'
            ' style="width:72px;max-height:72px;object-fit:cover;border-radius:4px">')


def record_html(task: Any, *, video_src: str | None = None, checksum: bool = False,
                shown: tuple[str, str] | None = None) -> str:
    """The record as HTML; ``video_src`` and ``shown`` point the player and the paths at
    a report's copies."""
    return facts_html(task_facts(task, checksum=checksum, shown=shown, video_src=video_src))


CODE_LABELS = ("task id", "video", "sidecar", "sha256", "image sha256")


def facts_html(f: TaskFacts) -> str:
    esc = html.escape
    cell = "text-align:left;vertical-align:top;padding:2px 8px 2px 0"
    rows = "".join(
        f'<tr><th style="{cell};font-weight:normal;color:#57606a">{esc(label)}</th>'
        f'<td style="{cell};overflow-wrap:anywhere">'
        + (f"<code>{esc(value)}</code>" if label in CODE_LABELS else esc(value)) + "</td></tr>"
        for label, value in f.rows if label != "status")
    progress = ""
    if not f.settled:  # a task still running when this was drawn: how far it had got
        progress = (f'<div style="background:#eaeef2;height:8px;border-radius:4px;margin:6px 0">'
                    f'<div style="width:{f.progress}%;height:8px;border-radius:4px;'
                    f'background:{f.colour}"></div></div>'
                    f'<div style="color:{f.colour}">{esc(f.status_words)}</div>'
                    '<div style="font-size:12px;color:#57606a">Still running when this was '
                    "drawn: re-run the cell (nothing is sent again) or "
                    "<code>hailuo_nb.resume()</code> to follow it to its record.</div>")
    red = colour_of("failed")
    errors = "".join(f'<div style="color:{red}">{esc(line)}</div>' for line in f.errors)
    link = ""
    if f.url and not f.saved:
        link = (f'<div><a href="{esc(f.url, quote=True)}" target="_blank" '
                'rel="noopener noreferrer">Open in a new tab</a></div>')
    return (
        '<div class="hailuo-record" style="font-family:sans-serif;font-size:13px;'
        'border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;max-width:760px;'
        'box-sizing:border-box">'
        f'<div><span style="background:{f.colour};color:#fff;border-radius:10px;'
        f'padding:1px 8px">{esc(f.status)}</span> <b>Hailuo</b></div>'
        '<div style="display:flex;gap:10px;align-items:flex-start;margin:6px 0">'
        f'{_image_html(f)}<div style="white-space:pre-wrap;min-width:0">'
        f"{esc(f.prompt or '(no prompt)')}</div></div>{progress}{errors}"
        '<div style="display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start">'
        f"<div style=\"max-width:100%\">{_media_html(f)}{_camera_part(f)}{link}</div>"
        f'<table style="border-collapse:collapse;font-size:12px;min-width:0">{rows}</table>'
        "</div></div>"
    )


def _camera_part(f: TaskFacts) -> str:
    return _camera_timeline(f.camera, f.camera_score, f.camera_note) if f.camera else ""


def record_bundle(task: Any) -> dict:
    f = task_facts(task)
    return {"text/plain": facts_text(f), "text/html": facts_html(f)}


def grid_html(tasks: Iterable[Any], labels: list[str] | None = None) -> str:
    """A compact grid to scan a sweep side by side: per take a small frame that plays the
    video on a click, what varies across the takes, the status and the camera verdicts; the
    whole record (as text) one click away. No strips, no big posters: 200 cards stay well
    under a megabyte in the saved notebook and draw in one go."""
    tasks = list(tasks)
    labels = labels if labels is not None else take_labels(tasks)
    cards = "".join(_card_html(task_facts(task), label) for task, label in zip(
        tasks, labels, strict=True))
    return ('<div class="hailuo-records" style="display:grid;gap:6px;grid-template-columns:'
            f'repeat(auto-fill,minmax({CARD_WIDTH}px,1fr));font-family:sans-serif">{cards}</div>')


def take_labels(tasks: list[Any]) -> list[str]:
    """Each take named by the parameters that vary across ``tasks`` (not by its id)."""
    return labels_for([parameters_of(task) for task in tasks])


def _card_html(f: TaskFacts, label: str) -> str:
    esc = html.escape
    frame = f.strip[len(f.strip) // 2][0] if f.strip else f.poster  # a small JPEG, not the poster
    if f.video:
        media = video_tag(f.video, poster=frame, preload="none", width="100%")
    elif frame:
        media = f'<img src="{frame}" alt="a frame" style="width:100%;display:block">'
    else:
        media = ""
    chips = "".join(
        f'<span title="{esc(f"[{r.command}] seen {r.seen}. {r.reason}", quote=True)}" '
        f'style="background:{VERDICT_COLOURS[r.verdict]};color:#fff;border-radius:8px;'
        f'padding:0 5px;margin:1px 2px 0 0;display:inline-block">{esc(r.command)}: '
        f"{esc(r.verdict)}</span>" for r in f.camera)
    why = "".join(f'<div style="color:{colour_of("failed")}">{esc(clip(line, 120))}</div>'
                  for line in f.errors[:1])
    return (
        # content-visibility: cards out of sight skip layout and paint until scrolled to,
        # so handing a big sweep over to its grid does not hold the page up.
        '<div class="hailuo-card hailuo-record" style="content-visibility:auto;'
        'contain-intrinsic-size:auto 170px;border:1px solid #d0d7de;border-radius:6px;'
        'padding:4px;font-size:11px;min-width:0;overflow:hidden">'
        f"{media}<div style=\"margin-top:3px\"><span style=\"background:{f.colour};color:#fff;"
        f'border-radius:8px;padding:0 6px">{esc(f.status)}</span> '
        f'<span title="{esc(f.prompt, quote=True)}">{esc(clip(label, 80))}</span></div>'
        f"<div>{chips}</div>{why}"
        '<details><summary style="cursor:pointer;color:#57606a">record</summary>'
        f'<div style="margin:2px 0;overflow-wrap:anywhere">{esc(f.prompt)}</div>'
        + "".join(f'<div style="overflow-wrap:anywhere"><span style="color:#57606a">'
                  f"{esc(label)}</span> {esc(value)}</div>" for label, value in f.rows)
        + "</details></div>"
    )


def grid_bundle(tasks: Iterable[Any], title: str = "") -> dict:
    tasks = list(tasks)
    labels = take_labels(tasks)
    saving = sum(t.status == "completed" and not t.is_settled for t in tasks)
    head = f"{title or 'Hailuo tasks'}: {status_summary((t.status for t in tasks), saving)}"
    lines = [f"  {label}: {t.status}" + (f", {t.camera.summary}" if getattr(
        t, "camera", None) is not None and t.camera.rows else "") + (
        f", {shown_path(t.local_path)}" if t.local_path else "")
        for t, label in zip(tasks, labels, strict=True)]
    page = (f'<div style="font-family:sans-serif;margin-bottom:4px"><b>'
            f"{html.escape(head)}</b></div>{grid_html(tasks, labels)}")
    return {"text/plain": "\n".join([head, *lines]), "text/html": page}


class Record:
    """A settled task as its record (what ``display`` shows where a live view was)."""

    def __init__(self, task: Any):
        self.task = task

    def __repr__(self) -> str:
        return record_text(self.task)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return record_bundle(self.task)
