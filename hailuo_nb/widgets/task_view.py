"""``TaskView``: a live view of one Task (progress, status, errors, player).

It only observes the task. Observers run in the poller thread: they set widget
traits (one comm message per changed widget per redraw, thanks to ``hold_sync``),
never call ``display()`` or ``print``, and never let an exception escape into the
poller: a failure is shown in the view instead.

The player is display data inside an ``ipywidgets.Output`` (its ``outputs`` trait
set directly, which is safe from a thread): JupyterLab rewrites a relative ``src``
in rendered outputs, not inside an ``HTML`` widget's value.
"""

from __future__ import annotations

import contextlib
import html
import os
import threading
from collections.abc import Iterable
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_string import HTMLStyle, TextStyle

from .. import render
from ..endpoints import is_local
from ..task import Task
from ._throttle import MESSAGES_PER_SECOND, Throttle

# An Image widget's bytes are saved (base64) with the notebook's widget state: only
# small images get one; bigger ones are described in words.
THUMBNAIL_MAX_BYTES = 96 * 1024
WATCHED = (
    "id", "status", "progress", "error", "results", "local_path", "download_state",
    "download_error", "note", "elapsed", "estimated_time", "finished", "credits",
)
# Changes that settle something: drawn at once, whatever the budget says.
SETTLING = frozenset({"status", "error", "local_path", "download_state", "download_error"})
BAR_STYLES = {"completed": "success", "failed": "danger"}
RED = "#cf222e"
GREY = "#57606a"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


class TaskView(W.VBox):
    """``TaskView(task)``: what a researcher looks at while a video is being made.

    ``compact=True`` (used by ``Gallery``) leaves out the copy / save controls and
    shows the link in the status line.
    """

    def __init__(self, task: Task, *, compact: bool = False,
                 messages_per_second: float = MESSAGES_PER_SECOND, **kwargs: Any):
        # Long on purpose: every child widget is made here once, in display order, and
        # only their values change afterwards (one comm message per change).
        self.task = task
        self.compact = compact
        self._internal_error = ""
        self._throttle = Throttle(lambda: self._draw(), rate=messages_per_second,
                                  on_error=self._show_internal_error)

        # Every widget here is saved with the notebook (nbclient, "save widget state"):
        # few widgets, shared styles and static layouts, no bytes but a small thumbnail.
        text = HTMLStyle()
        full = W.Layout(width="100%", min_width="0")
        auto = W.Layout(width="auto", min_width="0")
        self.header = W.HTML(layout=full, style=text)  # mode, quality, id + the prompt
        self.thumbnail = self._thumbnail()
        # tqdm.notebook's shape: HBox(HTML, progress, HTML).
        self.label = W.HTML(layout=W.Layout(width="52px", min_width="52px"), style=text)
        self.bar = W.IntProgress(
            min=0, max=100, value=0, bar_style="info",
            layout=W.Layout(flex="1 1 auto", width="auto", min_width="80px"),
        )
        self.status_html = W.HTML(layout=W.Layout(
            width="auto", min_width="0", max_width="100%" if compact else "55%",
            margin="0" if compact else "0 0 0 8px"), style=text)
        bar_row = [self.label, self.bar] if compact else [self.label, self.bar,
                                                          self.status_html]
        self.progress_row = W.HBox(bar_row, layout=W.Layout(width="100%",
                                                            align_items="center"))
        self.error_html = W.HTML(layout=W.Layout(display="none", width="100%"), style=text)
        # An Output with no outputs takes no room: no display toggling, a shared layout.
        self.player = W.Output(layout=full)
        # Compact views (Gallery) show the link in the status line, and have no
        # copy / save controls: those are None there.
        self.link_html: W.HTML | None = None
        self.copy_button: W.Button | None = None
        self.id_text: W.Text | None = None
        self.save_path: W.Text | None = None
        self.save_button: W.Button | None = None
        self.save_box: W.HBox | None = None
        self.save_note: W.HTML | None = None
        self.actions: W.HBox | None = None

        children: list[W.Widget] = [self._top(), self.progress_row]
        if compact:
            children += [self.status_html, self.error_html, self.player]
        else:
            buttons, boxes = W.ButtonStyle(), TextStyle()
            self.link_html = W.HTML(layout=auto, style=text)
            self.copy_button = W.Button(
                description="Copy id", icon="copy", layout=auto, style=buttons,
                tooltip="Show the task id in a box, ready to select and copy",
            )
            self.id_text = W.Text(layout=W.Layout(display="none", width="300px"),
                                  style=boxes, tooltip="The task id (read-only)")
            self.save_path = W.Text(placeholder="save as… e.g. results/fox.mp4",
                                    layout=W.Layout(width="220px"), style=boxes)
            self.save_button = W.Button(description="Save as", icon="save",
                                        layout=auto, style=buttons,
                                        tooltip="Copy the video to this path (task.save)")
            self.save_note = W.HTML(layout=full, style=text)
            # Saving means something once there is a video: hidden until then.
            self.save_box = W.HBox([self.save_path, self.save_button],
                                   layout=W.Layout(display="none", align_items="center"))
            self.copy_button.on_click(self._show_id)
            self.save_button.on_click(self._save_as)
            self.id_text.observe(self._keep_id, names="value")
            self.actions = W.HBox(
                [self.copy_button, self.id_text, self.save_box, self.link_html],
                layout=W.Layout(flex_flow="row wrap", align_items="center", width="100%"),
            )
            children += [self.error_html, self.player, self.actions, self.save_note]
        layout = kwargs.pop("layout", None) or W.Layout(
            width="100%", max_width="780px", min_width="0", border="1px solid #d0d7de",
            padding="6px 10px", margin="4px 0", overflow="hidden",
        )
        super().__init__(children=children, layout=layout, **kwargs)
        self.add_class("hailuo-task-view")
        # Observe first, then draw: a change in between is drawn either way.
        task.observe(self._on_change, names=list(WATCHED))
        self._throttle(force=True)

    # -- pieces -------------------------------------------------------------------------------

    def _top(self) -> W.Widget:
        if self.thumbnail is None:
            return self.header
        return W.HBox([self.thumbnail, self.header],
                      layout=W.Layout(width="100%", align_items="flex-start"))

    def _thumbnail(self) -> W.Widget | None:
        """The user's own image (never the video), as cheaply as the notebook allows.

        A local file under the working directory: an ``<img>`` with a relative ``src``
        as display data in an ``Output`` (JupyterLab serves it; nothing is embedded).
        Bytes, or a file elsewhere: an ``Image`` widget, only when small.
        """
        req = self.task.request
        if req is None or req.image_kind not in ("bytes", "path"):
            return None
        box = W.Layout(width="96px", min_width="96px", height="auto", margin="0 10px 0 0")
        if req.image_kind == "path":
            src = render.relative_src(req.image_path)
            if src:
                tag = (f'<img src="{_esc(src)}" alt="input image" '
                       f'style="max-width:96px;max-height:96px;display:block">')
                out = W.Output(layout=box)
                out.outputs = ({"output_type": "display_data",
                                "data": {"text/html": tag}, "metadata": {}},)
                return out
        info = req.image_info
        if info is None or info.size > THUMBNAIL_MAX_BYTES:
            return None
        try:
            data = req.image_bytes()
        except Exception:  # the file moved since: no thumbnail, the rest still works
            return None
        if not data:
            return None
        return W.Image(value=data, format=info.format, layout=box)

    def _header_html(self) -> str:
        task = self.task
        req = task.request
        parts = [f"<b>{_esc(task.mode)}</b>"]
        if req is not None:
            parts.append(f"{_esc(req.quality)} · {_esc(req.duration)} s")
            if req.image_kind == "url" and req.image_url:
                url = render.shorten(req.image_url, 48)
                parts.append(f'image <code title="{_esc(req.image_url)}">{_esc(url)}</code>')
            elif req.image_kind == "path" and req.image_path:
                name = os.path.basename(str(req.image_path))
                parts.append(f'image <code title="{_esc(req.image_path)}">'
                             f"{_esc(render.shorten(name, 40))}</code>")
            elif req.image_kind == "bytes" and req.image_info is not None:
                parts.append(f"image {_esc(req.image_info.describe())}")
        ident = f"<code>{_esc(task.id or 'not yet submitted')}</code>"
        parts.append(f'<small style="color:{GREY}">{ident}</small>' if self.compact else ident)
        if task.credits is not None:
            parts.append(f"{task.credits:g} credits")
        if task.client is not None and is_local(task.client.base_url):
            parts.append(f'<small style="color:{GREY}" title="{_esc(task.client.base_url)}">'
                         "emulator</small>")
        return ('<div style="line-height:1.5;white-space:normal;overflow-wrap:anywhere">'
                + " · ".join(parts) + "</div>" + self._prompt_html())

    def _prompt_html(self) -> str:
        prompt = self.task.prompt or "(no prompt)"
        return (
            f'<div title="{_esc(prompt)}" style="white-space:nowrap;overflow:hidden;'
            f'text-overflow:ellipsis;max-width:100%;line-height:1.5">'
            f"{_esc(render.shorten(prompt, 160))}</div>"
        )

    def _status_html(self) -> str:
        task = self.task
        colour = render.STATUS_COLOURS.get(task.status, GREY)
        text = render.status_line(task)
        extra = render.download_note(task)
        if extra:
            text += f" · {extra}"
        return (f'<div style="color:{colour};white-space:normal;line-height:1.35;'
                f'overflow-wrap:anywhere">{_esc(text)}</div>')

    def _error_block(self) -> str:
        task = self.task
        lines = []
        if task.status == "failed":
            # failure_line: the provider's code and message, then what to do.
            line = render.failure_line(task) or "The task failed with no message."
            lines.append(_esc(line))
        if task.download_error:
            lines.append(f"<b>Download failed:</b> {_esc(task.download_error)}")
        refused = render.refused_url_note(task)
        if refused:
            lines.append(f"<b>No player:</b> {_esc(refused)}")
        if self._internal_error:
            lines.append(self._internal_error)
        if not lines:
            return ""
        return (f'<div style="color:{RED};white-space:normal;line-height:1.4;'
                f'overflow-wrap:anywhere">' + "<br>".join(lines) + "</div>")

    def _link_html(self) -> str:
        task = self.task
        parts = []
        url = render.safe_http_url(task.url) if task.status == "completed" else None
        if url:
            life = render.link_life_text(task)
            parts.append(f'<a href="{_esc(url)}" target="_blank" rel="noopener noreferrer">'
                         f"Open in a new tab ↗</a>" + (f" · link {_esc(life)}" if life else ""))
        if task.local_path and task.download_state == "done":
            shown = render.shorten(_display_path(task.local_path), 60)
            parts.append(f'saved as <code title="{_esc(task.local_path)}">{_esc(shown)}</code>')
        if not parts:
            return ""
        return ('<div style="line-height:1.5;white-space:normal;overflow-wrap:anywhere">'
                + " · ".join(parts) + "</div>")

    def _player_outputs(self) -> tuple:
        html_ = render.player_html(self.task)
        if not html_:
            return ()
        return ({"output_type": "display_data", "data": {"text/html": html_},
                 "metadata": {}},)

    def _plan(self) -> list[tuple[W.Widget, dict[str, Any]]]:
        """Every synced value the view should show now, per widget."""
        task = self.task
        if task.status == "completed":
            value, label = 100, "100%"
        elif task.status == "failed":
            value, label = 100, "✖"  # a full red bar reads as "ended", not "stuck at 0"
        else:
            value, label = max(0, min(100, int(task.progress))), f"{task.progress}%"
        colour = render.STATUS_COLOURS.get(task.status, GREY)
        error = self._error_block()
        player = self._player_outputs()
        link = self._link_html()
        plan: list[tuple[W.Widget, dict[str, Any]]] = [
            (self.header, {"value": self._header_html()}),
            (self.label, {"value": f'<b style="color:{colour}">{_esc(label)}</b>'}),
            (self.bar, {"value": value, "bar_style": BAR_STYLES.get(task.status, "info")}),
            (self.status_html,
             {"value": self._status_html() + (link if self.compact else "")}),
            (self.error_html, {"value": error}),
            (self.error_html.layout, {"display": None if error else "none"}),
            (self.player, {"outputs": player}),
        ]
        if not self.compact:
            plan += [
                (self.link_html, {"value": link}),
                (self.save_box.layout,
                 {"display": None if task.status == "completed" else "none"}),
            ]
        return plan

    # -- drawing --------------------------------------------------------------------------------

    def _on_change(self, change: dict) -> None:
        try:
            force = change.get("name") in SETTLING or self.task.is_terminal
            self._throttle(force=force)
        except Exception as exc:  # an observer must never break the poller
            self._show_internal_error(exc)

    def _draw(self) -> int:
        """Apply the plan; returns the number of comm messages sent (one per changed
        widget: its changed traits go out together under ``hold_sync``)."""
        return _apply(self._plan())

    def _show_internal_error(self, exc: Exception) -> None:
        try:
            self._internal_error = (f"hailuo_nb view error: {_esc(type(exc).__name__)}: "
                                    f"{_esc(exc)}")
            block = (f'<div style="color:{RED};white-space:normal">'
                     f"{self._internal_error}</div>")
            with self.error_html.hold_sync():
                self.error_html.value = block
            self.error_html.layout.display = None
        except Exception:  # noqa: S110 - nothing more can be shown
            pass

    def redraw(self) -> None:
        """Draw now (skipping the message budget)."""
        self._throttle(force=True)

    # -- actions (main thread: button clicks) ---------------------------------------------------

    def _show_id(self, _button: W.Button | None = None) -> None:
        with self.id_text.hold_sync():
            self.id_text.value = self.task.id or "(not yet submitted)"
            self.id_text.layout.display = None
        with contextlib.suppress(Exception):  # older ipywidgets: no focus(); still shown
            self.id_text.focus()

    def _keep_id(self, change: dict) -> None:
        """Read-only without JavaScript: an edit is put back at once."""
        if self.id_text.layout.display == "none":
            return
        wanted = self.task.id or "(not yet submitted)"
        if change["new"] != wanted:
            self.id_text.value = wanted

    def _save_as(self, _button: W.Button | None = None) -> None:
        path = self.save_path.value.strip()
        if not path:
            self.save_note.value = "Type a path first, e.g. <code>results/fox.mp4</code>."
            return
        task = self.task
        if task.local_path and os.path.exists(task.local_path):
            self._do_save(path)  # a local copy: quick, no network
            return
        # A download: never block the kernel in a click handler.
        self.save_note.value = f"Saving to <code>{_esc(path)}</code>…"
        threading.Thread(target=self._do_save, args=(path,), daemon=True,
                         name="hailuo-save-as").start()

    def _do_save(self, path: str) -> None:
        try:
            saved = self.task.save(path)
        except Exception as exc:
            self.save_note.value = f'<span style="color:{RED}">{_esc(exc)}</span>'
        else:
            self.save_note.value = f"Saved to <code>{_esc(saved)}</code>"

    def close(self) -> None:
        # Also runs from Widget.__del__, possibly at interpreter exit: never raise.
        with contextlib.suppress(Exception):
            self.task.unobserve(self._on_change, names=list(WATCHED))
            self._throttle.close()
        super().close()

    # -- static fallback -------------------------------------------------------------------------

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget view, plus text and HTML that stand alone (terminal, nbconvert)."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = render.task_text(self.task)
        data["text/html"] = render.task_html(self.task)
        return data


def _display_path(path: str) -> str:
    """A path relative to the working directory when it is under it, else as is."""
    try:
        rel = os.path.relpath(path, os.getcwd())
    except ValueError:
        return path
    return path if rel.startswith("..") else rel


def _apply(plan: Iterable[tuple[W.Widget, dict[str, Any]]]) -> int:
    sent = 0
    for widget, values in plan:
        changed = {k: v for k, v in values.items() if getattr(widget, k) != v}
        if not changed:
            continue
        with widget.hold_sync():
            for name, value in changed.items():
                setattr(widget, name, value)
        sent += 1
    return sent
