"""A task's facts, computed once: everything any drawing of a task shows.

The text record, the HTML record, the live view's state, the gallery's cards and the report
are drawings of ``task_facts(task)``. The small helpers every drawing needs live here too,
once each: the status colours (also as CSS variables for the front end), the one-line
clipper, the status summary, the path relative to the notebook, the data URI and the
``<video>`` tag.
"""

from __future__ import annotations

import hashlib
import html
import json
import os
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .._client.endpoints import is_local
from .._engine.policy import ENDED_HERE
from .._pure.describe import (
    LINK_LIFETIME,
    download_note,
    failure_line,
    format_seconds,
    link_time_left,
    refused_url_note,
    safe_http_url,
    shorten,
    status_line,
)
from .._pure.paths import data_uri

GREY = "#6e7781"
STATUS_COLOURS = {
    "completed": "#1a7f37",
    "failed": "#cf222e",
    "processing": "#0969da",
    "pending": GREY,
    "queued": GREY,
    "submitting": GREY,
}
VERDICT_COLOURS = {"match": "#1a7f37", "mismatch": "#cf222e", "unsure": "#9a6700"}
RUNNING = ("queued", "submitting", "pending", "processing")
IMAGE_TYPES = {"jpeg": "image/jpeg", "jpg": "image/jpeg", "png": "image/png",
               "webp": "image/webp"}
# The user's own image is inlined only when small (it is saved in the notebook); a larger
# one is shown by a JPEG thumbnail made from it when PyAV can, else by its path and sha256.
THUMBNAIL_MAX_BYTES = 96 * 1024
clip = shorten  # the one clipper: one line, at most ``limit`` characters, "…" when cut


def colour_of(status: str) -> str:
    return STATUS_COLOURS.get(status, GREY)


def css_variables() -> str:
    """The colour tables as CSS variables, so the front end's stylesheet uses these very
    colours (``var(--hl-status-failed)``) instead of its own copies."""
    pairs = [*(f"--hl-status-{k}:{v}" for k, v in STATUS_COLOURS.items()),
             *(f"--hl-verdict-{k}:{v}" for k, v in VERDICT_COLOURS.items())]
    return ".hailuo-live{" + ";".join(pairs) + "}\n"


def status_counts(statuses: Iterable[str]) -> dict[str, int]:
    """How many tasks are done, failed and still running."""
    counts = Counter(statuses)
    done, failed = counts["completed"], counts["failed"]
    return {"total": sum(counts.values()), "done": done, "failed": failed,
            "running": sum(counts.values()) - done - failed}


def status_summary(statuses: Iterable[str], saving: int = 0) -> str:
    """The one summary of many tasks, e.g. '3 tasks: 2 done · 0 running · 1 failed · all
    done' (the live gallery's head, the static grid's, the report's)."""
    c = status_counts(statuses)
    words = (f"{c['total']} task{'' if c['total'] == 1 else 's'}: {c['done']} done · "
             f"{c['running']} running · {c['failed']} failed")
    if not c["running"] and c["total"]:
        words += f" · saving {saving}…" if saving else " · all done"
    return words


def relative_path(path: str | os.PathLike | None, start: str | os.PathLike | None = None
                  ) -> str | None:
    """``path`` relative to ``start`` (the working directory: the notebook's folder) with
    '/' separators, or None when it is outside it or on another drive."""
    if not path:
        return None
    try:
        rel = os.path.relpath(path, start if start is not None else os.getcwd())
    except ValueError:  # another drive (Windows)
        return None
    return None if rel.startswith("..") else rel.replace(os.sep, "/")


def shown_path(path: str | os.PathLike | None) -> str:
    """A path as a record shows it: relative to the notebook, else its name (a saved
    notebook never holds an absolute path of the machine it ran on)."""
    if not path:
        return ""
    return relative_path(path) or os.path.basename(os.fspath(path))


def relative_src(path: str | os.PathLike | None) -> str | None:
    """A URL-quoted relative path for an existing file under the notebook's folder — what a
    rendered output's ``src`` may use (JupyterLab serves it from there) — else None."""
    if not path or not os.path.exists(path):
        return None
    rel = relative_path(path)
    return quote(rel) if rel else None


def video_tag(src: str, *, poster: str = "", preload: str = "metadata",
              width: str = "320px") -> str:
    """The one ``<video>``: controls, no autoplay, no loop; ``src`` is a relative path we
    saved or an http(s) URL (the caller's facts made it), escaped here."""
    esc = html.escape
    poster_attr = f' poster="{esc(poster, quote=True)}"' if poster else ""
    return (f'<video src="{esc(src, quote=True)}"{poster_attr} controls preload="{preload}" '
            f'playsinline style="width:{width};max-width:100%;display:block;background:#000">'
            "</video>")


def when(timestamp: float | None) -> str:
    """An absolute local time with its zone, e.g. '2026-12-01 18:40 UTC'."""
    if not timestamp:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M %Z", time.localtime(timestamp))


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


@dataclass(frozen=True)
class CameraRow:
    command: str
    verdict: str
    seen: str
    confidence: float
    share: float  # of the clip's length, for the timeline
    reason: str = ""  # why this verdict (always said for "unsure")


@dataclass(frozen=True)
class InputImage:
    """The conditioning image: what it was, where, and (when small) how it looked."""

    name: str  # a path relative to the notebook, the file name, or the URL
    sha256: str = ""
    thumbnail: str = ""  # a data URI, or ''
    words: str = ""  # 'png 640x480, 12 KB'


@dataclass(frozen=True)
class TaskFacts:
    """What is shown of one task, in plain values (nothing here is markup)."""

    status: str
    colour: str
    settled: bool
    id: str
    mode: str
    model: str
    quality: str
    duration: int | None
    prompt: str
    progress: int
    started: float | None
    finished: float | None
    estimated: float | None
    elapsed: float | None
    credits: float | None
    emulator: bool
    reused: bool
    status_words: str  # 'processing · 40% · elapsed 12s · ETA ~20s'
    note: str
    download: str
    rows: tuple = ()  # (label, value) of the record, in reading order
    errors: tuple = ()
    url: str = ""  # the result link when it is http(s)
    link_expires: float | None = None
    video: str = ""  # what a rendered output's player points at ('' for none)
    saved: str = ""  # the saved video's path as shown, once it is all there
    missing: str = ""  # where the video was and how to get it, when the file is gone
    poster: str = ""  # data URI
    strip: tuple = ()  # ((data URI, seconds), ...)
    camera: tuple = ()  # CameraRow, ...
    camera_score: str = ""  # the report's summary: score over the judged commands
    camera_note: str = ""
    image: InputImage | None = None
    parent: str = ""

    @property
    def running(self) -> bool:
        return self.status in RUNNING


def task_facts(task: Any, *, checksum: bool = False, shown: tuple[str, str] | None = None,
               video_src: str | None = None) -> TaskFacts:
    """``task``'s facts now (``checksum``: the video's sha256 too; ``shown`` and
    ``video_src``: the paths and the player of a report's copies instead)."""
    req = task.request
    started = task.created if task.created is not None else getattr(task, "submitted_at", None)
    server = getattr(task.client, "base_url", None) or ""
    stills = getattr(task, "stills", None)
    report = getattr(task, "camera", None)
    url = safe_http_url(task.url) if task.status == "completed" else None
    # Read once per drawing: settled tasks keep their stills on disk, not in memory.
    poster_jpeg, strip_jpegs = stills.pictures() if stills is not None else (b"", [])
    poster = data_uri(poster_jpeg) if poster_jpeg else ""
    duration = (stills.duration or 0.0) if stills is not None else 0.0
    strip = tuple((data_uri(jpeg), duration * i / max(1, len(strip_jpegs)))
                  for i, jpeg in enumerate(strip_jpegs))
    saved = _saved(task)
    return TaskFacts(
        status=task.status,
        colour=colour_of(task.status),
        settled=bool(task.is_settled),
        id=task.id or "",
        mode=task.mode,
        model=req.model if req is not None else "",
        quality=req.quality if req is not None else "",
        duration=req.duration if req is not None else None,
        prompt=task.prompt or "",
        progress=(100 if task.status == "completed"
                  else max(0, min(100, int(task.progress or 0)))),
        started=started,
        finished=task.finished,
        estimated=task.estimated_time,
        elapsed=task.elapsed,
        credits=task.credits,
        emulator=bool(server) and is_local(server),
        reused=bool(getattr(task, "reused_from", None)),
        status_words=status_line(task),
        note=task.note or "",
        download=download_note(task),
        rows=tuple(_rows(task, started, server, checksum, shown)),
        errors=tuple(_errors(task)),
        url=url or "",
        link_expires=task.finished + LINK_LIFETIME if url and task.finished else None,
        video=video_src or _video(task, url),
        saved=saved,
        missing=_missing(task),
        poster=poster,
        strip=strip,
        camera=camera_rows(report),
        camera_score=(str(report.summary) if report is not None and report.rows else ""),
        camera_note=str(getattr(report, "note", "") or ""),
        image=input_image(req),
        parent=getattr(task, "parent_id", "") or "",
    )


def _saved(task: Any) -> str:
    """Where the video is on disk, once it is all there ('' before, or when it is gone)."""
    if (not task.local_path or task.download_state in ("waiting", "downloading")
            or not os.path.exists(task.local_path)):
        return ""
    return shown_path(task.local_path)


def _video(task: Any, url: str | None) -> str:
    """A rendered output's player source: the saved file relative to the notebook, else
    (no download asked for) the live result link; '' while the download runs."""
    if task.status != "completed" or task.download_state in ("waiting", "downloading"):
        return ""
    src = relative_src(task.local_path)
    if src:
        return src
    if not task.local_path and url and (link_time_left(task) or 0) > 0:
        return url
    return ""


def _missing(task: Any) -> str:
    """Where the video was and how to get it again, when its file is gone."""
    if task.status != "completed" or not task.local_path or os.path.exists(task.local_path):
        return ""
    again = ("the result link still works: hailuo_nb.resume() or re-running the cell fetches "
             "it again" if (link_time_left(task) or 0) > 0 else
             "the result link has expired (links live 24 h): run the cell with --new for a "
             "new take")
    return f"The video was saved as {shown_path(task.local_path)}, which is not there now; {again}."


def camera_rows(report: Any) -> tuple:
    """A camera report's rows as drawn: command, verdict, what was seen, share of the clip."""
    if report is None or not report.rows:
        return ()
    total = max((r.end for r in report.rows), default=1.0) or 1.0
    return tuple(CameraRow(r.command, r.verdict, str(r.seen), float(r.confidence),
                           max(0.05, (r.end - r.start) / total), str(getattr(r, "reason", "")))
                 for r in report.rows)


def input_image(req: Any) -> InputImage | None:
    """The request's conditioning image, or None for text-to-video."""
    if req is None or not getattr(req, "image_kind", None):
        return None
    info = req.image_info
    words = info.describe() if info is not None else ""
    if req.image_kind == "url":
        return InputImage(name=str(req.image_url or ""), words=words)
    data = _image_data(req)
    if req.image_kind == "path" and req.image_path:
        name = shown_path(req.image_path)
    else:
        name = "image bytes"
    kind = IMAGE_TYPES.get(str(getattr(info, "format", "")).lower())
    thumbnail = image_preview(data, kind) if data and kind is not None else ""
    return InputImage(name=name, sha256=hashlib.sha256(data).hexdigest() if data else "",
                      thumbnail=thumbnail, words=words)


_previews: dict[str, str] = {}  # sha256 of an image → its preview's data URI


def image_preview(data: bytes, mime: str) -> str:
    """A data URI to show an input image by: itself when small, else a JPEG thumbnail made
    from it (once per image), else '' (it cannot be decoded here)."""
    if len(data) <= THUMBNAIL_MAX_BYTES:
        return data_uri(data, mime)
    digest = hashlib.sha256(data).hexdigest()
    if digest not in _previews:
        try:
            from .._media.frames import image_thumbnail_jpeg  # PyAV loads only for this

            _previews[digest] = data_uri(image_thumbnail_jpeg(data))
        except Exception:  # no preview; the name and sha256 still say which image
            _previews[digest] = ""
    return _previews[digest]


_image_cache: dict[tuple, bytes] = {}


def _image_data(req: Any) -> bytes:
    """The image's bytes (read once per file version: views redraw often), or b''."""
    if req.image_kind != "path" or not req.image_path:
        try:
            return req.image_bytes() or b""
        except Exception:  # bytes that no longer pass the checks: no thumbnail
            return b""
    try:
        stat = os.stat(req.image_path)
    except OSError:  # the file moved since: its name and what was known still show
        return b""
    key = (req.image_path, stat.st_mtime_ns, stat.st_size)
    if key not in _image_cache:
        try:
            data = req.image_bytes()
        except Exception:  # unreadable now: no thumbnail, the rest still shows
            data = b""
        if len(_image_cache) > 64:
            _image_cache.clear()
        _image_cache[key] = data
    return _image_cache[key]


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


def _rows(task: Any, started: float | None, server: str, checksum: bool,
          shown: tuple[str, str] | None) -> list[tuple[str, str]]:
    req = task.request
    rows = [("status", task.status)]
    if req is not None:
        rows += [("mode", req.mode), ("model", req.model),
                 ("quality", f"{req.quality}, {req.duration} s")]
    image = input_image(req)
    if image is not None:
        rows.append(("image", image.name + (f" ({image.words})" if image.words else "")))
        if image.sha256:
            rows.append(("image sha256", image.sha256))
    rows += [("task id", task.id or "(not sent)"), ("made", when(started))]
    if getattr(task, "parent_id", ""):
        rows.append(("continues", f"the last frame of {task.parent_id}"))
    if server and is_local(server):
        rows.append(("server", "a local emulator (not the real service)"))
    if task.finished is not None and started:
        rows.append(("took", format_seconds(task.finished - started)))
    elif not task.is_settled:
        rows.append(("as of", f"{task.status} at {when(time.time())}"))
    if getattr(task, "credits", None) is not None:
        provider_failed = task.status == "failed" and not (server and is_local(server)) and (
            (task.error or {}).get("code") not in ENDED_HERE)  # a refund is the provider's
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


__all__ = ["CameraRow", "InputImage", "TaskFacts", "clip", "colour_of", "css_variables",
           "data_uri", "relative_path", "relative_src", "shown_path", "status_counts",
           "status_summary", "task_facts", "video_tag", "when"]
