"""``TaskView``: a live view of one Task, as ONE widget model (anywidget).

Its synced state is a small dict (``view_state.task_state``); the front end
(``static/views.js``) draws it as text, ticks elapsed time and ETA on its own, copies
the id to the clipboard and asks for "save as". Task changes only mark the view dirty:
``redraws`` draws dirty views together on the engine's scheduler thread, so a burst of
changes is one message and views never block or break the poller.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from pathlib import Path
from typing import Any

import anywidget
import ipywidgets as W
import traitlets as T

from .._presentation.facts import css_variables
from .._presentation.headless import headless
from .._presentation.records import record_bundle
from ..task import Task
from .redraws import redraws
from .view_state import THUMBNAIL_MAX_BYTES, same_state, task_state

__all__ = ["THUMBNAIL_MAX_BYTES", "LiveView", "TaskView", "shared_layout"]

STATIC = Path(__file__).parent / "static"
WATCHED = (
    "id", "status", "progress", "error", "results", "local_path", "download_state",
    "download_error", "note", "estimated_time", "finished", "credits", "stills",
    "stills_error", "created",
)

_layout: W.Layout | None = None
_colab_ready = False


def _colab_widgets_once() -> None:
    """Colab renders third-party widgets only with its custom widget manager (what
    ``AnyWidget.__init__`` would switch on)."""
    global _colab_ready
    if _colab_ready or "google.colab" not in sys.modules:
        return
    _colab_ready = True
    with contextlib.suppress(Exception):  # an older Colab: the view still has its fallback
        from google.colab import output

        output.enable_custom_widget_manager()


def shared_layout() -> W.Layout:
    """One Layout model for every live view (each DOMWidget would bring its own)."""
    global _layout
    if _layout is None or getattr(_layout, "comm", None) is None:
        _layout = W.Layout()
    return _layout


class LiveView(anywidget.AnyWidget):
    """What TaskView and Gallery share: the front end, one layout, coalesced redraws.

    The front end's code is a class trait, read once. ``AnyWidget.__init__`` is skipped:
    it adds its traits per instance, which makes a new class for every view (most of a
    view's cost, measured in bench_submit); these three traits are what it would add.
    """

    _esm = T.Unicode((STATIC / "views.js").read_text(encoding="utf-8")).tag(sync=True)
    # The status colours come from the one Python table, as CSS variables.
    _css = T.Unicode(css_variables() + (STATIC / "views.css").read_text(encoding="utf-8")
                     ).tag(sync=True)
    _anywidget_id = T.Unicode("hailuo_nb.widgets.LiveView").tag(sync=True)
    kind = T.Unicode("task").tag(sync=True)

    def __init__(self, **kwargs: Any):
        self._headless = headless()
        if "layout" not in kwargs:  # no page: no model at all (nbclient would save it)
            kwargs["layout"] = _PageLessLayout() if self._headless else shared_layout()
        self._closed = False
        _colab_widgets_once()
        W.DOMWidget.__init__(self, **kwargs)
        self.on_msg(self._on_front_end)

    def open(self) -> None:
        """No comm where no page will ever draw the view (nbconvert, papermill): nbclient
        keeps the state of every model it sees, front-end module included, in the saved
        file. The view's text and HTML (its record) are what such a run shows."""
        if getattr(self, "_headless", False):
            return
        super().open()

    def live_bundle(self, text: str, html_: str) -> Any:
        """The widget's mime bundle with ``text`` and ``html_`` beside it (just those two
        where there is no model)."""
        if self.comm is None:
            return {"text/plain": text, "text/html": html_}
        return with_fallback(super()._repr_mimebundle_(), text, html_)

    def draw(self) -> int:  # pragma: no cover - each view says what it draws
        raise NotImplementedError

    def _mark(self, _change: Any = None) -> None:
        if not self._closed:
            redraws.mark(self)

    def redraw(self) -> None:
        """Draw now, outside the message budget (tests, and what must show at once)."""
        redraws.drop(self)
        self.draw()

    def _on_front_end(self, _widget: Any, content: Any, _buffers: Any) -> None:
        if isinstance(content, dict):
            with contextlib.suppress(Exception):  # a message from a page must not raise here
                self.handle(content)

    def handle(self, content: dict) -> None:
        """A message from the front end (``{"type": ...}``)."""

    def close(self) -> None:
        # Also runs from Widget.__del__, possibly at interpreter exit: never raise.
        self._closed = True
        with contextlib.suppress(Exception):
            redraws.drop(self)
        super().close()


class _PageLessLayout(W.Layout):
    """A layout that opens no comm (for views in a run with no page)."""

    def open(self) -> None:
        return


def save_in_background(task: Task, path: str, done: Any) -> None:
    """``task.save(path)``, then ``done(text, error)``: a copy of a local file is quick;
    a download must never block the kernel in a click handler."""
    path = path.strip()
    if not path:
        done("Type a path first, e.g. results/fox.mp4.", True)
        return

    def run() -> None:
        try:
            saved = task.save(path)
        except Exception as exc:
            done(str(exc), True)
        else:
            done(f"Saved to {saved}", False)

    if task.local_path and os.path.exists(task.local_path):
        run()
        return
    done(f"Saving to {path}…", False)
    threading.Thread(target=run, daemon=True, name="hailuo-save-as").start()


# The saved file goes to a page that cannot fetch it (marimo) up to this size.
VIDEO_BYTES_MAX = 512 * 1024 * 1024


def send_video(view: LiveView, task: Task, **extra: Any) -> None:
    """The saved video's bytes to the page that asked (it plays them from a Blob URL)."""
    path = task.local_path
    if (not path or task.download_state in ("waiting", "downloading")
            or not os.path.isfile(path) or os.path.getsize(path) > VIDEO_BYTES_MAX):
        return
    with open(path, "rb") as handle:
        data = handle.read()
    view.send({"type": "video", "name": os.path.basename(path), **extra}, buffers=[data])


class TaskView(LiveView):
    """``TaskView(task)``: what a researcher looks at while a video is being made —
    progress, status, elapsed time and ETA, the reason if it fails, copy id, save as, a
    player, and the record's facts."""

    state = T.Dict().tag(sync=True)
    notice = T.Dict().tag(sync=True)  # {"text", "error"}: what "save as" did

    def __init__(self, task: Task, *, compact: bool = False, **kwargs: Any):
        self.task = task
        self.compact = compact
        self.draws = 0
        kwargs.setdefault("_dom_classes", ("hailuo-task-view",))
        self._sent = task_state(task, compact=compact)  # what the page has
        super().__init__(kind="task", state=self._sent, **kwargs)
        # Observe after the first state: a change in between is drawn by the next flush.
        task.observe(self._mark, names=list(WATCHED))
        self._mark()

    def draw(self) -> int:
        if self._closed:
            return 0
        try:
            state = task_state(self.task, compact=self.compact)
        except Exception as exc:  # shown in the view, never raised into the engine
            why = f"hailuo_nb view error: {type(exc).__name__}: {exc}"
            errors = self.state.get("errors", [])
            state = dict(self.state, errors=errors if why in errors else [*errors, why])
        if same_state(state, self._sent):
            return 0
        self.state = state  # if sending raises, _sent stays: the next change sends again
        self._sent = state
        self.draws += 1
        return 1

    def handle(self, content: dict) -> None:
        kind = content.get("type")
        if kind == "save":
            save_in_background(self.task, str(content.get("path") or ""), self._notify)
        elif kind == "video":
            send_video(self, self.task)
        elif kind == "hello":  # a page (re)rendered the view: the kernel's clock, now
            self.send({"type": "now", "t": time.time()})

    def _notify(self, text: str, error: bool) -> None:
        self.notice = {"text": text, "error": error}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.task.unobserve(self._mark, names=list(WATCHED))
        super().close()

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus text and HTML that stand alone (terminal, nbconvert)."""
        record = record_bundle(self.task)  # what was known then, should no kernel draw it
        return self.live_bundle(record["text/plain"], record["text/html"])


def with_fallback(bundle: Any, text: str, html_: str) -> Any:
    """A widget's mime bundle with text and HTML added (anywidget returns (data, metadata))."""
    if isinstance(bundle, tuple):
        data, metadata = bundle
        return {**data, "text/plain": text, "text/html": html_}, metadata
    return {**(bundle or {}), "text/plain": text, "text/html": html_}
