"""How a ``Task`` shows in IPython: attached from above, since the model never draws.

``register_task_display`` tells IPython's mime-bundle formatter to draw a Task with
``task_bundle``: a live view in a kernel with widgets, else static text and HTML that
stand on their own. The package registers it on import inside IPython, and
``%load_ext`` again.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Any

from .render import task_html, task_text


def task_bundle(task: Any) -> dict:
    """The mime bundle of a task: a live TaskView in a kernel, else text + HTML."""
    if _in_kernel():
        # No ipywidgets, no comm: the static bundle below still says it all.
        with contextlib.suppress(Exception):
            from .widgets import TaskView  # ipywidgets loads on first view: import stays light

            return TaskView(task)._repr_mimebundle_()
    return {"text/plain": task_text(task), "text/html": task_html(task)}


def register_task_display(ipython: Any) -> None:
    """Draw every ``hailuo_nb.task.Task`` with ``task_bundle`` in this shell (by name, so
    registering does not import the model)."""
    formatter = getattr(getattr(ipython, "display_formatter", None), "mimebundle_formatter",
                        None)
    if formatter is not None:
        formatter.for_type_by_name("hailuo_nb.task", "Task", task_bundle)


def _in_kernel() -> bool:
    shell_module = sys.modules.get("IPython")
    if shell_module is None:
        return False
    shell = shell_module.get_ipython()
    return getattr(shell, "kernel", None) is not None
