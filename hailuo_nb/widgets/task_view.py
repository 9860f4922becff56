"""``TaskView``: a live view of one Task (progress, status, errors, player).

It only observes the task. Observers run in the poller thread: they set widget
traits (one comm message per widget per batch, thanks to ``hold_sync``), never call
``display()`` or ``print``, and never let an exception escape into the poller.
"""

from __future__ import annotations

import html
import threading
import time
from typing import Any

import ipywidgets as W

from .. import render
from ..task import Task

# At most this many redraws a second; the terminal state is always drawn.
MAX_UPDATES_PER_SECOND = 10
THUMBNAIL_MAX_BYTES = 300 * 1024  # bigger images are named, not embedded in widget state
WATCHED = (
    "id", "status", "progress", "error", "results", "local_path", "download_state",
    "download_error", "note", "elapsed", "estimated_time",
)
BAR_STYLES = {"completed": "success", "failed": "danger"}


class TaskView(W.VBox):
    """``TaskView(task)``: what a researcher looks at while a video is being made."""

    def __init__(self, task: Task, *, compact: bool = False, **kwargs: Any):
        self.task = task
        self.compact = compact
        self._lock = threading.Lock()
        self._last_draw = 0.0
        self._pending: threading.Timer | None = None
        self._drawn_player: str | None = None

        self.header = W.HTML()
        self.prompt_html = W.HTML(layout=W.Layout(width="100%"))
        self.thumbnail = self._thumbnail()
        self.label = W.HTML(layout=W.Layout(width="90px"))
        self.bar = W.IntProgress(
            min=0, max=100, value=0, bar_style="info", layout=W.Layout(flex="1 1 auto")
        )
        self.status_html = W.HTML(layout=W.Layout(min_width="220px"))
        self.progress_row = W.HBox(
            [self.label, self.bar, self.status_html],
            layout=W.Layout(width="100%", align_items="center"),
        )
        self.error_html = W.HTML(layout=W.Layout(display="none", width="100%"))
        self.player = W.Output(layout=W.Layout(display="none", width="100%"))
        self.link_html = W.HTML()
        self.copy_button = W.Button(description="Copy id", icon="copy",
                                    layout=W.Layout(width="auto"),
                                    tooltip="Show the task id, selected, ready to copy")
        self.id_text = W.Text(layout=W.Layout(display="none", width="330px"))
        self.save_path = W.Text(placeholder="save as… e.g. results/fox.mp4",
                                layout=W.Layout(width="240px"))
        self.save_button = W.Button(description="Save", icon="save",
                                    layout=W.Layout(width="auto"))
        self.save_note = W.HTML()
        self.copy_button.on_click(self._show_id)
        self.save_button.on_click(self._save_as)
        self.actions = W.HBox(
            [self.copy_button, self.id_text, self.save_path, self.save_button, self.link_html],
            layout=W.Layout(flex_flow="row wrap", align_items="center", width="100%"),
        )
        top = [self.header, self.prompt_html]
        if self.thumbnail is not None:
            top = [W.HBox([self.thumbnail, W.VBox([self.header, self.prompt_html],
                                                  layout=W.Layout(flex="1 1 auto"))])]
        children = [*top, self.progress_row, self.error_html, self.player]
        if not compact:
            children += [self.actions, self.save_note]
        layout = kwargs.pop("layout", None) or W.Layout(
            width="100%", max_width="780px", border="1px solid #d0d7de",
            padding="6px 10px", margin="4px 0",
        )
        super().__init__(children=children, layout=layout, **kwargs)
        self.add_class("hailuo-task-view")
        self._draw()
        task.observe(self._on_change, names=list(WATCHED))

    # -- pieces -------------------------------------------------------------------------------

    def _thumbnail(self) -> W.Image | None:
        req = self.task.request
        if req is None or req.image_kind not in ("bytes", "path"):
            return None
        info = req.image_info
        if info is None or info.size > THUMBNAIL_MAX_BYTES:
            return None
        try:
            data = req.image_bytes()
        except Exception:  # the file moved since: no thumbnail, the rest still works
            return None
        return W.Image(value=data, format=info.format,
                       layout=W.Layout(width="96px", height="auto", margin="0 8px 0 0"))

    def _header_html(self) -> str:
        task, esc = self.task, html.escape
        req = task.request
        parts = [f"<b>{esc(task.mode)}</b>"]
        if req is not None:
            parts.append(f"{esc(req.quality)} · {req.duration} s")
            if req.image_kind == "url" and req.image_url:
                parts.append(f"image: <code>{esc(render.shorten(req.image_url, 60))}</code>")
            elif req.image_kind == "path":
                parts.append(f"image: <code>{esc(render.shorten(str(req.image), 60))}</code>")
        parts.append(f"<code>{esc(task.id or 'not yet submitted')}</code>")
        return " · ".join(parts)

    def _prompt_html(self) -> str:
        prompt = self.task.prompt or "(no prompt)"
        return (
            f'<div title="{html.escape(prompt, quote=True)}" style="white-space:nowrap;'
            f'overflow:hidden;text-overflow:ellipsis;max-width:740px">'
            f"{html.escape(render.shorten(prompt, 110))}</div>"
        )

    def _status_html(self) -> str:
        task = self.task
        colour = render.STATUS_COLOURS.get(task.status, "#57606a")
        text = html.escape(render.status_line(task))
        if task.download_state == "downloading":
            text += " · downloading…"
        return f'<span style="color:{colour}">{text}</span>'

    def _error_block(self) -> str:
        task = self.task
        lines = []
        if task.status == "failed":
            err = task.error or {}
            provider = err.get("message") or "no message from the provider"
            lines.append(f"<b>Failed ({html.escape(str(err.get('code', 'unknown')))}):</b> "
                         f"{html.escape(provider)}")
            lines.append(html.escape(render.failure_line(task)))
        if task.download_error:
            lines.append(f"<b>Download failed:</b> {html.escape(task.download_error)}")
        if task.status == "completed" and task.url and not render.safe_http_url(task.url):
            lines.append("<b>Refused to play:</b> the result link is not an http(s) URL.")
        if not lines:
            return ""
        return ('<div style="color:#cf222e;white-space:normal">' + "<br>".join(lines)
                + "</div>")

    def _link_html(self) -> str:
        task = self.task
        url = render.safe_http_url(task.url)
        if task.status != "completed" or not url:
            return ""
        left = render.link_time_left(task)
        life = f" · link valid ~{render.format_seconds(left)}" if left is not None else ""
        return (f'<a href="{html.escape(url, quote=True)}" target="_blank" '
                f'rel="noopener noreferrer">Open in a new tab</a>{html.escape(life)}')

    def _player_outputs(self) -> tuple:
        src = render.video_src(self.task) if self.task.status == "completed" else None
        if not src:
            return ()
        video = (
            f'<video src="{html.escape(src, quote=True)}" controls preload="metadata" '
            f'playsinline style="max-width:100%;max-height:400px;display:block"></video>'
        )
        return ({"output_type": "display_data", "data": {"text/html": video},
                 "metadata": {}},)

    # -- drawing --------------------------------------------------------------------------------

    def _on_change(self, change: dict) -> None:
        try:
            task = self.task
            settled = change["name"] in ("status", "local_path", "download_state", "error")
            now = time.monotonic()
            with self._lock:
                wait = self._last_draw + 1.0 / MAX_UPDATES_PER_SECOND - now
                if wait > 0 and not settled and not task.is_terminal:
                    if self._pending is None:  # a trailing redraw, so nothing stays stale
                        self._pending = threading.Timer(wait, self._flush)
                        self._pending.daemon = True
                        self._pending.start()
                    return
            self._draw()
        except Exception as exc:  # an observer must never break the poller
            self._show_internal_error(exc)

    def _flush(self) -> None:
        with self._lock:
            self._pending = None
        try:
            self._draw()
        except Exception as exc:
            self._show_internal_error(exc)

    def _draw(self) -> None:
        task = self.task
        with self._lock:
            self._last_draw = time.monotonic()
        value = 100 if task.status == "completed" else task.progress
        player = self._player_outputs()
        error = self._error_block()
        # Set only what changed: each changed trait is part of one message per widget.
        with self.hold_sync(), self.bar.hold_sync(), self.player.hold_sync():
            _set(self.header, "value", self._header_html())
            _set(self.prompt_html, "value", self._prompt_html())
            _set(self.label, "value", f"<b>{value}%</b>")
            _set(self.bar, "value", value)
            _set(self.bar, "bar_style", BAR_STYLES.get(task.status, "info"))
            _set(self.status_html, "value", self._status_html())
            _set(self.error_html, "value", error)
            _set(self.error_html.layout, "display", None if error else "none")
            _set(self.link_html, "value", self._link_html())
            src = player[0]["data"]["text/html"] if player else None
            if src != self._drawn_player:
                self.player.outputs = player
                self._drawn_player = src
            _set(self.player.layout, "display", None if player else "none")

    def _show_internal_error(self, exc: Exception) -> None:
        try:
            self.error_html.value = (
                '<div style="color:#cf222e">hailuo_nb view error: '
                f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</div>"
            )
            self.error_html.layout.display = None
        except Exception:  # noqa: S110 - nothing more can be shown
            pass

    # -- actions --------------------------------------------------------------------------------

    def _show_id(self, _button: W.Button) -> None:
        self.id_text.value = self.task.id or "(not yet submitted)"
        self.id_text.layout.display = None

    def _save_as(self, _button: W.Button) -> None:
        path = self.save_path.value.strip()
        if not path:
            self.save_note.value = "Type a path first, e.g. <code>results/fox.mp4</code>."
            return
        try:
            saved = self.task.save(path)
        except Exception as exc:
            self.save_note.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'
            return
        self.save_note.value = f"Saved to <code>{html.escape(str(saved))}</code>"

    def close(self) -> None:
        self.task.unobserve(self._on_change, names=list(WATCHED))
        super().close()

    # -- static fallback -------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = render.task_text(self.task)
        data["text/html"] = render.task_html(self.task)
        return data


def _set(obj: Any, name: str, value: Any) -> None:
    if getattr(obj, name) != value:
        setattr(obj, name, value)
