"""How a ``Task`` shows in IPython: attached from above, since the model never draws.

A task is shown live (a TaskView) while it runs, in an output with a display id; the
moment it settles, that same output is updated to the task's static record and the view's
widgets are closed, so a saved notebook holds records, not widget state. A task that is
already settled is shown as its record at once. ``register_task_display`` makes IPython
do this for any Task that is displayed (the package face calls it at first use inside IPython,
``%load_ext`` again).
"""

from __future__ import annotations

import shutil
import sys
import time
from typing import Any

from IPython.display import display

from .._pure.describe import failure_line, status_line
from . import stand_in
from .handover import hand_over_when_settled, redraw_when_analysed
from .headless import headless, show_static
from .records import Record, camera_bundle, camera_table_bundle, record_bundle, shown_path


def show_task(task: Any) -> Any:
    """Display ``task`` (live view, then its record); returns the live view or None."""
    if task.is_settled:
        handle = display(Record(task), display_id=True)
        if getattr(task, "analysis_state", "") in ("waiting", "running") and handle is not None:
            redraw_when_analysed([task], handle, lambda: Record(task))  # its quality line
        return None
    if in_terminal():  # no outputs to update in place: one line now, one when it ends
        announce_in_terminal(task)
        return None
    if headless():  # nbconvert, papermill: the record of the moment, then the final one
        show_static([task], lambda: record_bundle(task))
        return None
    view = _live_view(task)
    companion = None
    if view is None:  # no widgets (a terminal): text and HTML of the moment, then the record
        handle = display(record_bundle(task), raw=True, display_id=True)
    elif stand_in.wanted():  # a page that saves what it cannot draw again: a stand-in below
        data, metadata = stand_in.widget_only(
            view._repr_mimebundle_(), f"Hailuo task {task.id or '(being sent)'}, {task.status}")
        handle = display(data, metadata=metadata, raw=True, display_id=True)
        companion = stand_in.StandIn(lambda: record_bundle(task)).show().follow([task])
    else:
        handle = display(view, display_id=True)
    hand_over_when_settled([task], view, handle, lambda: Record(task), stand_in=companion)
    return view


def _live_view(task: Any) -> Any:
    if not _in_kernel():
        return None
    try:
        from ..widgets.task_view import TaskView  # ipywidgets loads on the first view

        return TaskView(task)
    except Exception:  # no ipywidgets or no comm: the record still says it all later
        return None


def task_bundle(task: Any) -> dict:
    """A task as a mime bundle without displaying it: its record once settled, else the
    text and HTML of the moment (a live view needs ``show_task``)."""
    return record_bundle(task)


def register_task_display(ipython: Any) -> None:
    """Show every ``hailuo_nb.task.Task`` with ``show_task`` in this shell (by name, so
    registering does not import the model)."""
    formatter = getattr(getattr(ipython, "display_formatter", None),
                        "ipython_display_formatter", None)
    if formatter is not None:
        formatter.for_type_by_name("hailuo_nb.task", "Task", show_task)
    bundles = getattr(getattr(ipython, "display_formatter", None), "mimebundle_formatter", None)
    if bundles is not None:  # a camera check shows as its timeline
        motion = "hailuo_nb._media.camera_motion"
        bundles.for_type_by_name(motion, "CameraReport", camera_bundle)
        bundles.for_type_by_name(motion, "CameraTable", camera_table_bundle)


def marimo_view(task: Any) -> Any:
    """What marimo shows for a Task (marimo asks ``_display_``; IPython never does): its
    live view, settled or not — marimo cannot replace an output from another thread, and
    the view has everything the record has (its player gets the file from the kernel)."""
    from ..widgets.task_view import TaskView

    return TaskView(task)



def in_terminal() -> bool:
    """True in terminal IPython (a console, not a notebook kernel)."""
    shell_module = sys.modules.get("IPython")
    terminal = sys.modules.get("IPython.terminal.interactiveshell")
    if shell_module is None or terminal is None:
        return False
    return isinstance(shell_module.get_ipython(), terminal.TerminalInteractiveShell)


def _one_line(task: Any) -> str:
    what = f"Hailuo task {task.id or '(queued)'}"
    if task.status == "completed" and task.download_state in ("waiting", "downloading"):
        return f"{what} completed: saving the video…"
    if task.status == "completed":
        where = shown_path(task.local_path) if task.local_path else (task.url or "")
        return f"{what} completed → {where}" + (
            f" (download failed: {task.download_error})" if task.download_error else "")
    if task.status == "failed":
        return f"{what} failed: {failure_line(task)}"
    return f"{what}: {status_line(task)}"


def announce_in_terminal(task: Any) -> None:
    """A line now, and one line when the task ends (a terminal has nothing to update)."""
    req = task.request
    size = f" ({req.quality}, {req.duration} s)" if req is not None else ""
    print(f"Hailuo task {task.id or '(queued)'} submitted{size}: it goes on in the background; "
          "a line says when it ends (`%hailuo status ID` any time).")
    say_when_it_ends(task)


def say_when_it_ends(task: Any) -> None:
    """In a terminal (nothing there updates): one line when ``task`` settles."""
    said = []

    def ended(_change: Any = None) -> None:
        if task.is_settled and not said:
            said.append(True)
            task.unobserve(ended)
            print(_one_line(task), flush=True)

    task.observe(ended)
    ended()


def follow_in_terminal(task: Any, stream: Any = None) -> None:
    """``--wait`` in a terminal: one progress line that rewrites itself, then the record."""
    stream = stream or sys.stderr
    width = max(20, shutil.get_terminal_size((100, 20)).columns - 1)
    try:
        while not task.is_settled:
            stream.write("\r" + _one_line(task)[:width].ljust(width))
            stream.flush()
            time.sleep(0.5)
    finally:
        stream.write("\r" + " " * width + "\r")
        stream.flush()
    display(Record(task))


def _in_kernel() -> bool:
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return getattr(shell, "kernel", None) is not None
