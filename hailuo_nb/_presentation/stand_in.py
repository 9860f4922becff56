"""What a live output leaves in a notebook saved while it runs: a stand-in.

JupyterLab and Notebook 7 draw a saved widget output with the widget manager whatever else
the output holds (its HTML twin is used only where the notebook is untrusted), and once the
kernel is gone the widget's model is too: "Error displaying widget: model not found". So
where a page draws live views, each live widget output gets a stand-in right below it: an
output of plain HTML, redrawn when its task changes (progress at most every ``EVERY`` s),
saying what was known then (status, parameters, when). A style inside it (applied in
trusted notebooks: your own) hides the widget output above it while no live view is drawn
there, and hides the stand-in while one is. When the tasks settle, the stand-in empties
(no data: no output drawn) and the widget output becomes the record: a finished cell shows
its record once.
"""

from __future__ import annotations

import contextlib
import html
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from IPython.display import display

from .facts import clip, status_summary
from .headless import headless
from .records import take_labels

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVERY = 2.0  # seconds: progress is redrawn at most this often (a status change at once)
LIVE_ROOTS = ".hailuo-task-view,.hailuo-gallery,.hailuo-form"  # what a drawn live view is
WATCHED = ("id", "status", "progress", "error", "download_state", "local_path", "note")
THROTTLED = ("progress", "note")

_OUTPUT = ".jp-OutputArea-child"
# A widget output as JupyterLab and Notebook 7 draw it (the widget renderer is the only
# output that is a Panel; loading, dead or alive), or as an HTML export keeps it.
_WIDGET = (f":is(:has(> .jp-OutputArea-output.lm-Panel),:has([data-mime-type=\"{WIDGET_MIME}\"]),"
           f":has(script[type=\"{WIDGET_MIME}\"]))")
STYLE = (
    # The widget output just above a stand-in, while it holds no live view (no kernel, or
    # still loading): hidden, the stand-in says what it showed.
    f"{_OUTPUT}{_WIDGET}:not(:has({LIVE_ROOTS})):has(+ {_OUTPUT} .hailuo-stand-in)"
    "{display:none}"
    # A stand-in whose live view is drawn just above it: hidden (the view says it all).
    f"{_OUTPUT}:has({LIVE_ROOTS}) + {_OUTPUT}:has(.hailuo-while-away){{display:none}}"
    # What is said only where the live view is not drawn (a form reopened without it).
    f"{_OUTPUT}:has({LIVE_ROOTS}) + {_OUTPUT} .hailuo-away-note{{display:none}}"
)
LINE = "a live view, which needs the kernel that drew it; what it showed is in the output below."
# Emptied: no data at all, which JupyterLab and Notebook 7 draw as no output (a bare,
# empty element), so a settled task's cell has one output: its record.
EMPTY: dict = {}


def wanted() -> bool:
    """True where a Jupyter server's page (JupyterLab, Notebook 7) draws the live views:
    the pages that save widget outputs they cannot draw again. VS Code, Colab and marimo
    keep their own outputs; nbconvert and papermill get records, never live views."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None or headless():
        return False
    if any(name in sys.modules for name in ("marimo", "google.colab")):
        return False
    return not ("__vsc_ipynb_file__" in shell.user_ns or os.environ.get("VSCODE_PID"))


def widget_only(bundle: Any, what: str) -> tuple[dict, dict]:
    """A widget's mime bundle with one plain line (``what`` it is) and no HTML twin: the
    stand-in below holds the HTML, once (an untrusted page shows the line, then it)."""
    data, metadata = bundle if isinstance(bundle, tuple) else (bundle or {}, {})
    data = {k: v for k, v in data.items() if k != "text/html"}
    return {**data, "text/plain": f"{what}: {LINE}"}, metadata or {}


def wrap(bundle: dict, *, while_away: bool = True, away_note: str = "") -> dict:
    """``bundle`` (text and HTML) as a stand-in: the style, the time it was drawn, and a
    marker class (``while_away``: hidden while the live view above it is drawn; else
    ``away_note`` is said only while it is not)."""
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    classes = "hailuo-stand-in" + (" hailuo-while-away" if while_away else "")
    grey = 'style="font-size:11px;color:#57606a;margin:0 0 2px"'
    if while_away:
        note = (f"<div {grey}>What the live view showed at {stamp} (it needs the kernel "
                "that drew it)</div>")
    else:
        note = (f'<div class="hailuo-away-note" {grey}>{html.escape(away_note)}</div>'
                if away_note else "")
    return {"text/plain": bundle.get("text/plain", ""),
            "text/html": f"<style>{STYLE}</style><div class=\"{html.escape(classes)}\">"
                         f"{note}{bundle.get('text/html', '')}</div>"}


SWEEP_LINES = 50  # a big sweep's stand-in names this many takes, then counts the rest


def sweep_bundle(tasks: list, title: str = "Hailuo tasks") -> dict:
    """A gallery's stand-in: the counts and a line per take (label, status), not the grid
    of records (a sweep of 1,000 would resend megabytes at every update)."""
    saving = sum(t.status == "completed" and not t.is_settled for t in tasks)
    head = f"{title}: {status_summary((t.status for t in tasks), saving)}"
    rows = [(label, t.status) for t, label in zip(tasks, take_labels(tasks), strict=True)]
    more = len(rows) - SWEEP_LINES
    lines = [f"  {clip(label, 90)}: {status}" for label, status in rows[:SWEEP_LINES]]
    if more > 0:
        lines.append(f"  … and {more} more")
    after = ("Still running when this was drawn: re-run the cell (nothing is sent again) or "
             "hailuo_nb.resume() to follow them to their records.")
    items = "".join(f"<li>{html.escape(line.strip())}</li>" for line in lines)
    return {"text/plain": "\n".join([head, *lines, after]),
            "text/html": f'<div style="font-family:sans-serif;font-size:13px"><b>'
                         f"{html.escape(head)}</b><ul style=\"margin:4px 0;font-size:12px\">"
                         f'{items}</ul><div style="font-size:12px;color:#57606a">'
                         f"{html.escape(after)}</div></div>"}


class StandIn:
    """One stand-in output, kept up to date from the tasks it follows."""

    def __init__(self, bundle: Callable[[], dict], *, while_away: bool = True,
                 away_note: str = ""):
        self._bundle = bundle
        self._while_away = while_away
        self._away_note = away_note
        self._handle: Any = None
        self._lock = threading.Lock()
        self._drawn_at = 0.0  # time.monotonic() of the last drawing
        self._followed: list = []
        self._ended = False

    def _drawn(self) -> dict:
        return wrap(self._bundle(), while_away=self._while_away, away_note=self._away_note)

    def show(self) -> StandIn:
        self._handle = display(self._drawn(), raw=True,
                               display_id=True)
        return self

    def follow(self, tasks: list) -> StandIn:
        """Redraw when a task's state changes (progress at most every ``EVERY`` s), until
        ``end``."""
        for task in tasks:
            task.observe(self._changed, names=list(WATCHED))
            self._followed.append(task)
        return self

    def _changed(self, change: Any = None) -> None:
        """On the engine's thread that changed the task: a new status (or id, error,
        file) is drawn at once; progress at most every ``EVERY`` s (the next one catches
        up). No thread of its own: a sweep of 200 views adds none."""
        name = change.get("name") if isinstance(change, dict) else None
        with self._lock:
            if self._ended or (name in THROTTLED and time.monotonic() - self._drawn_at < EVERY):
                return
        self.refresh()

    def refresh(self) -> None:
        with self._lock:
            if self._ended or self._handle is None:
                return
            self._drawn_at = time.monotonic()
        with contextlib.suppress(Exception):  # a closed page must not break the engine
            self._handle.update(self._drawn(), raw=True)

    def end(self) -> None:
        """Empty it (its live view is becoming the record) and stop following."""
        with self._lock:
            self._ended = True
        for task in self._followed:
            with contextlib.suppress(Exception):
                task.unobserve(self._changed, names=list(WATCHED))
        if self._handle is not None:
            with contextlib.suppress(Exception):
                self._handle.update(EMPTY, raw=True)

