"""Notebooks run with no page to draw them: ``nbconvert --execute``, papermill, nbclient.

There a live view would only be saved as widget state (nbclient keeps every widget it
ever saw, with its whole front-end module) and would freeze at "pending". So a task shows
as its record of the moment, in an output with a display id, and that output is updated
to the final record from the kernel's main thread after each cell (nbclient applies an
update only while a cell of the run is executing). After the notebook's last code cell,
the run waits for what it started, so the saved file ends with every record; what is still
running then is named, with how to pick it up.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from IPython.display import display

from .._pure.takes import candidate_notebooks, is_last_cell
from .facts import status_summary

LAST_CELL_WAIT = 30 * 60  # seconds the last cell waits for unfinished tasks, at most
MEASURE_WAIT = 120  # seconds a cell waits for the measuring of videos already saved
LIVE_VIEWS_ENV = "HAILUO_LIVE_VIEWS"  # "0": never live views, "1": always (else: detected)

_lock = threading.Lock()
_pending: list[tuple[list, Any, Callable[[], Any]]] = []  # (tasks, handle, record)
_hooked: set[int] = set()


def headless() -> bool:
    """True in a kernel that no front end draws live: started by nbclient (so nbconvert
    and papermill), not by a Jupyter server, VS Code, Colab or marimo."""
    choice = os.environ.get(LIVE_VIEWS_ENV, "")
    if choice in ("0", "1"):
        return choice == "0"
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if getattr(shell, "kernel", None) is None:
        return False
    if any(name in sys.modules for name in ("marimo", "google.colab")):
        return False
    if "__vsc_ipynb_file__" in shell.user_ns or os.environ.get("VSCODE_PID"):
        return False
    if os.environ.get("JPY_SESSION_NAME"):  # a Jupyter server started this kernel
        return False
    from ..widgets.served import jupyter_server  # presentation, the same layer

    return jupyter_server(os.environ.get("JPY_PARENT_PID", "")) is None


def show_static(tasks: list, bundle: Callable[[], dict]) -> None:
    """Show ``bundle()`` now and replace it by the final one once ``tasks`` settle."""
    handle = display(bundle(), raw=True, display_id=True)
    if all(_final(task) for task in tasks):
        return
    with _lock:
        _pending.append((list(tasks), handle, bundle))
    _hook()


def _hook() -> None:
    ipython = sys.modules["IPython"].get_ipython()
    if ipython is None or id(ipython) in _hooked:
        return
    _hooked.add(id(ipython))
    ipython.events.register("post_run_cell", _after_cell)


def _after_cell(result: Any = None) -> None:
    """After each cell: settled outputs become records; after the last, wait for the rest."""
    code = getattr(getattr(result, "info", None), "raw_cell", "") or ""
    with contextlib.suppress(Exception):  # never break a user's cell
        shell = sys.modules["IPython"].get_ipython()
        if _unsettled() and is_last_cell(code, candidate_notebooks(shell)):
            _wait_for_the_rest()
        _wait_for_measures()
    _update_settled()


def _wait_for_measures() -> None:
    """Settled tasks whose videos are still being measured (camera check, quality: a few
    seconds a clip) are waited for here, so their records are final even when the run's
    last cell cannot be told (a notebook run from another folder)."""
    deadline = time.monotonic() + MEASURE_WAIT
    for task in _unsettled():
        left = deadline - time.monotonic()
        if left <= 0:
            return
        if task.is_settled:
            with contextlib.suppress(Exception):
                task.wait_analysed(timeout=left)


def _final(task: Any) -> bool:
    """Settled, and its video measured when the analysis lane has it queued (the record's
    camera check and quality line come a little after the download)."""
    return task.is_settled and getattr(task, "analysis_state", "") not in ("waiting", "running")


def _unsettled() -> list:
    with _lock:
        return [t for tasks, _h, _b in _pending for t in tasks if not _final(t)]


def _update_settled() -> None:
    with _lock:
        done = [entry for entry in _pending if all(t.is_settled for t in entry[0])]
        for entry in done:  # drawn now; drawn again after a later cell until measured
            if all(_final(t) for t in entry[0]):
                _pending.remove(entry)
    for _tasks, handle, bundle in done:
        with contextlib.suppress(Exception):
            handle.update(bundle(), raw=True)


def _wait_for_the_rest() -> None:
    deadline = time.monotonic() + LAST_CELL_WAIT
    for task in _unsettled():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        with contextlib.suppress(Exception):  # a failure is a record like any other
            task.wait(timeout=left)
            task.wait_analysed(timeout=max(0.0, deadline - time.monotonic()))
    _update_settled()
    still = _unsettled()
    if still:
        ids = ", ".join(t.id or "(not sent)" for t in still)
        print(f"hailuo_nb: still running when this run ended "
              f"({status_summary(t.status for t in still)}): {ids}. Run the notebook "
              "again (nothing is sent again: each cell picks up its own task) or "
              "`hailuo_nb.resume()`.")
