"""``Gallery``: many tasks in ONE widget model — a combined bar and a labelled grid.

``cards`` holds the cards as they were when it was made; after that, each coalesced
redraw sets ``delta`` to only the cards that changed and the summary (one message), and
a page that (re)opens asks for everything once. A trait rather than a custom message:
marimo carries trait changes made on any thread. Two hundred tasks are one model and a
few messages a second, not 200 models.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterable
from typing import Any

import traitlets as T
from IPython.display import display

from .._presentation import stand_in
from .._presentation.compare import compare
from .._presentation.handover import hand_over_when_settled
from .._presentation.headless import headless, show_static
from .._presentation.records import grid_bundle
from ..api import recent_tasks
from ..task import Task
from .task_view import WATCHED, LiveView, save_in_background, send_video
from .view_state import gallery_summary, same_state, task_state

# What a card is labelled with, when it differs from card to card.
VARIED = ("prompt", "model", "quality", "duration", "image")


def card_labels(tasks: list[Task]) -> list[str]:
    """Each task's values of the parameters that vary across ``tasks`` ('' when none do)."""
    def values(task: Task) -> dict[str, str]:
        req = task.request
        if req is None:
            return {"prompt": task.prompt or ""}
        image = req.image_url or (str(req.image_path) if req.image_path else "")
        return {"prompt": task.prompt or "", "model": req.model, "quality": req.quality,
                "duration": f"{req.duration} s", "image": image.rsplit("/", 1)[-1]}

    rows = [values(t) for t in tasks]
    varied = [k for k in VARIED if len({r.get(k, "") for r in rows}) > 1]
    if not varied:  # nothing varies: the prompt is what tells cards apart
        varied = ["prompt"]
    return [" · ".join(r.get(k, "") for k in varied if r.get(k, "")) for r in rows]


class Gallery(LiveView):
    """``Gallery(tasks)``: batches and history at a glance — one combined bar with done /
    running / failed counts and an overall ETA, then one card per task (its varied
    parameters, progress, status, a player, copy id and save as), as many columns as the
    width allows."""

    cards = T.List().tag(sync=True)
    summary = T.Dict().tag(sync=True)
    delta = T.Dict().tag(sync=True)  # {"seq", "changed" | "all", "summary"}
    notices = T.Dict().tag(sync=True)  # card index → {"text", "error"}: what save-as did

    def __init__(self, tasks: Iterable[Task], **kwargs: Any):
        self.tasks = list(tasks)
        self.labels = card_labels(self.tasks)
        self._states = [self._card(i) for i in range(len(self.tasks))]
        self._changed: set[int] = set()
        # Engine threads add to _changed; the flush and a page's "sync" read and send.
        self._lock = threading.RLock()
        self._seq = 0
        self.draws = 0
        kwargs.setdefault("_dom_classes", ("hailuo-gallery",))
        super().__init__(kind="gallery", cards=list(self._states),
                         summary=gallery_summary(self._states), **kwargs)
        self._observers = []
        for i, task in enumerate(self.tasks):
            observer = self._observer(i)
            task.observe(observer, names=list(WATCHED))
            self._observers.append((task, observer))
        with self._lock:  # a task may have moved while the model was being made
            self._changed = set(range(len(self.tasks)))
        self._mark()

    @classmethod
    def from_history(cls, limit: int = 20, **kwargs: Any) -> Gallery:
        """The last ``limit`` tasks of the history, newest first.

        Unfinished ones are re-attached (``hailuo_nb.api.resume``) so they go on live;
        finished ones are shown as recorded — a completed row with its video on disk
        gets a player at once, with no request to the server.
        """
        return cls([t for t in recent_tasks(limit) if t.id], **kwargs)

    def _card(self, i: int) -> dict:
        state = task_state(self.tasks[i], compact=True)
        state["label"] = self.labels[i]
        return state

    def _observer(self, i: int):
        def changed(_change: Any) -> None:
            with self._lock:
                self._changed.add(i)
            self._mark()
        return changed

    def summary_text(self) -> str:
        """The page's summary line in words (the cards' own counts)."""
        with self._lock:
            return gallery_summary(self._states)["words"]

    def draw(self) -> int:
        """One message: the cards that changed since the last one, and the summary made
        from the very cards sent (the page's counts and percent agree with its cards)."""
        if self._closed:
            return 0
        with self._lock:
            indices, self._changed = sorted(self._changed), set()
            changed: dict[int, dict] = {}
            for i in indices:
                try:
                    state = self._card(i)
                except Exception as exc:  # one bad card shows its error; the rest go on
                    state = dict(self._states[i], errors=[f"hailuo_nb view error: {exc}"])
                if not same_state(state, self._states[i]):
                    changed[i] = state
            if not changed:
                return 0
            states = list(self._states)
            for i, state in changed.items():
                states[i] = state
            try:
                self._send_delta(changed={str(i): st for i, st in changed.items()},
                                 states=states)
            except Exception:  # nothing went out: these cards go again at the next flush
                self._changed |= set(changed)
                raise
            self._states = states
        self.draws += 1
        return 1

    def _send_delta(self, *, states: list[dict], **cards: Any) -> None:
        """Under the lock: one ``delta`` (numbered: the page applies only newer ones)."""
        self._seq += 1
        self.delta = {"seq": self._seq, **cards, "summary": gallery_summary(states)}

    def handle(self, content: dict) -> None:
        kind = content.get("type")
        index = content.get("index")
        card = isinstance(index, int) and 0 <= index < len(self.tasks)
        if kind == "sync":  # a page opened (or reloaded): everything, as it is now
            with self._lock:
                self._send_delta(all=list(self._states), states=self._states)
        elif kind == "video" and card:
            send_video(self, self.tasks[index], index=index)
        elif kind == "save" and card:
            save_in_background(self.tasks[index], str(content.get("path") or ""),
                               lambda text, error: self._notify(index, text, error))

    def _notify(self, index: int, text: str, error: bool) -> None:
        with self._lock, contextlib.suppress(Exception):
            self.notices = {**self.notices, str(index): {"text": text, "error": error}}

    def close(self) -> None:
        with contextlib.suppress(Exception):
            for task, observer in self._observers:
                task.unobserve(observer, names=list(WATCHED))
        super().close()

    def compare(self, **options: Any) -> Any:
        """The gallery's takes side by side (hailuo_nb.compare): one row per take."""
        return compare(self.tasks, **options)

    def _ipython_display_(self) -> None:
        """Live while tasks run; a static labelled grid of records once all have settled."""
        if all(task.is_settled for task in self.tasks) or headless():
            self.close()  # no live grid: the static one, replaced by the final grid
            show_static(self.tasks, lambda: grid_bundle(self.tasks))
            return
        data = self._repr_mimebundle_()
        data, metadata = data if isinstance(data, tuple) else (data, {})
        companion = None
        if stand_in.wanted():  # a page that saves what it cannot draw again: a stand-in
            data, metadata = stand_in.widget_only((data, metadata),
                                                  f"Hailuo gallery of {len(self.tasks)} tasks")
        handle = display(data, metadata=metadata, raw=True, display_id=True)
        if stand_in.wanted():
            companion = stand_in.StandIn(lambda: stand_in.sweep_bundle(self.tasks)).show()
            companion.follow(self.tasks)
        hand_over_when_settled(self.tasks, self, handle, lambda: grid_bundle(self.tasks),
                               raw=True, stand_in=companion)

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        """The widget, plus text and HTML that stand alone (terminal, nbconvert)."""
        grid = grid_bundle(self.tasks)
        return self.live_bundle(grid["text/plain"], grid["text/html"])

