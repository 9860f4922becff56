"""``Gallery``: a grid of compact TaskViews with a live summary line."""

from __future__ import annotations

import contextlib
import html
from collections import Counter
from collections.abc import Iterable
from typing import Any

import ipywidgets as W
from IPython.display import display

from .. import render
from ..api import recent_tasks
from ..handover import hand_over_when_settled
from ..records import grid_bundle
from ..task import Task
from .task_view import TaskView


def summary_counts(tasks: Iterable[Task]) -> Counter:
    counts: Counter = Counter()
    for task in tasks:
        if task.status == "completed":
            counts["done"] += 1
        elif task.status == "failed":
            counts["failed"] += 1
        else:
            counts["running"] += 1
    return counts


class Gallery(W.VBox):
    """``Gallery(tasks)``: batches and history at a glance.

    Two columns at 800 px (``auto-fill`` of ``minmax(360px, 1fr)``), one compact
    ``TaskView`` per task, and a summary line — "N done · N running · N failed" —
    kept current from the poller thread.
    """

    def __init__(self, tasks: Iterable[Task], **kwargs: Any):
        self.tasks = list(tasks)
        self.summary = W.HTML(layout=W.Layout(width="100%"))
        self.views = [
            TaskView(task, compact=True,
                     layout=W.Layout(border="1px solid #d0d7de", padding="6px 8px",
                                     width="auto", min_width="0", overflow="hidden"))
            for task in self.tasks
        ]
        self.grid = W.GridBox(
            self.views,
            layout=W.Layout(grid_template_columns="repeat(auto-fill, minmax(360px, 1fr))",
                            grid_gap="8px", width="100%"),
        )
        layout = kwargs.pop("layout", None) or W.Layout(width="100%", max_width="800px")
        super().__init__(children=[self.summary, self.grid], layout=layout, **kwargs)
        self.add_class("hailuo-gallery")
        for task in self.tasks:
            task.observe(self._update, names="status")
        self._update()

    @classmethod
    def from_history(cls, limit: int = 20, **kwargs: Any) -> Gallery:
        """The last ``limit`` tasks of the history, newest first.

        Unfinished ones are re-attached (``hailuo_nb.api.resume``) so they go on live;
        finished ones are shown as recorded — a completed row with its video on disk
        gets a player at once, with no request to the server.
        """
        return cls([t for t in recent_tasks(limit) if t.id], **kwargs)

    def summary_text(self) -> str:
        counts = summary_counts(self.tasks)
        noun = "task" if len(self.tasks) == 1 else "tasks"
        return (f"{len(self.tasks)} {noun}: {counts['done']} done · "
                f"{counts['running']} running · {counts['failed']} failed")

    def _update(self, _change: Any = None) -> None:
        # Runs in the poller thread: never raise into it.
        try:
            counts = summary_counts(self.tasks)
            colour = "#cf222e" if counts["failed"] else (
                "#1a7f37" if not counts["running"] else "#0969da")
            value = (f'<b style="color:{colour};line-height:1.6">'
                     f"{html.escape(self.summary_text())}</b>")
            if self.summary.value != value:
                self.summary.value = value
        except Exception as exc:
            with contextlib.suppress(Exception):  # nothing more can be shown
                self.summary.value = (f'<span style="color:#cf222e">hailuo_nb gallery error: '
                                      f"{html.escape(repr(exc))}</span>")

    def close(self) -> None:
        # Also runs from Widget.__del__, possibly at interpreter exit: never raise.
        with contextlib.suppress(Exception):
            for task in self.tasks:
                task.unobserve(self._update, names="status")
            for view in self.views:
                view.close()
        super().close()

    def _ipython_display_(self) -> None:
        """Live while tasks run; a static labelled grid of records once all have settled."""
        if all(task.is_settled for task in self.tasks):
            display(grid_bundle(self.tasks), raw=True)
            self.close()
            return
        handle = display(self._repr_mimebundle_(), raw=True, display_id=True)
        hand_over_when_settled(self.tasks, self, handle, lambda: grid_bundle(self.tasks),
                               raw=True)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        """The widget view, plus text and HTML that stand alone (terminal, nbconvert)."""
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = "\n\n".join(
            [self.summary_text(), *(render.task_text(t) for t in self.tasks)])
        data["text/html"] = (f"<p><b>{html.escape(self.summary_text())}</b></p>"
                             + "".join(render.task_html(t) for t in self.tasks))
        return data
