"""``Gallery``: a grid of compact TaskViews with a live summary line."""

from __future__ import annotations

import html
from collections import Counter
from collections.abc import Iterable
from typing import Any

import ipywidgets as W

from .. import render
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
    """``Gallery(tasks)``: batches and history at a glance."""

    def __init__(self, tasks: Iterable[Task], **kwargs: Any):
        self.tasks = list(tasks)
        self.summary = W.HTML()
        self.views = [TaskView(task, compact=True,
                               layout=W.Layout(border="1px solid #d0d7de", padding="4px 8px",
                                               width="auto"))
                      for task in self.tasks]
        self.grid = W.GridBox(
            self.views,
            layout=W.Layout(grid_template_columns="repeat(auto-fill, minmax(360px, 1fr))",
                            grid_gap="8px", width="100%"),
        )
        layout = kwargs.pop("layout", None) or W.Layout(width="100%", max_width="800px")
        super().__init__(children=[self.summary, self.grid], layout=layout, **kwargs)
        for task in self.tasks:
            task.observe(self._update, names="status")
        self._update()

    @classmethod
    def from_history(cls, limit: int = 20) -> Gallery:
        """The last ``limit`` tasks of the history (unfinished ones are re-attached)."""
        from ..api import _task_from_row, resume
        from ..store import default_store

        live = {t.id: t for t in resume()}
        tasks = [live.get(row["task_id"]) or _task_from_row(row)
                 for row in default_store().all(limit) if row.get("task_id")]
        return cls(tasks)

    def summary_text(self) -> str:
        counts = summary_counts(self.tasks)
        return (f"{len(self.tasks)} tasks: {counts['done']} done · "
                f"{counts['running']} running · {counts['failed']} failed")

    def _update(self, _change: Any = None) -> None:
        try:
            self.summary.value = f"<b>{html.escape(self.summary_text())}</b>"
        except Exception:  # noqa: S110 - never break the poller from an observer
            pass

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = "\n\n".join(
            [self.summary_text(), *(render.task_text(t) for t in self.tasks)])
        data["text/html"] = (f"<p><b>{html.escape(self.summary_text())}</b></p>"
                             + "".join(render.task_html(t) for t in self.tasks))
        return data
