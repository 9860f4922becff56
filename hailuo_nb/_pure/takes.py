"""Which generation a call is, inside a notebook: its take key.

A generation is identified by the notebook, the cell it was made in (JupyterLab's cell id,
else the cell's code), its request, the server it goes to, and the how-many-th such request
in that run of the cell. Re-running the cell gives the same keys, in this kernel or in a new
one (the keys live in the history), so what the cell made before is reused instead of paid
for again. Outside a notebook cell (a script, a plain shell) there is no key: every call
is a new take.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from typing import Any

_lock = threading.Lock()
_counts: dict[tuple[str, str], int] = {}  # (cell run, request key) → takes so far
_run_of_counts = ""  # the cell run the counts belong to


def current_cell() -> tuple[str, str] | None:
    """(this cell run's message id, the cell's identity) inside a kernel, else None."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent("shell")
    except TypeError:  # ipykernel < 6.? takes no channel
        parent = kernel.get_parent()
    header = (parent or {}).get("header") or {}
    if header.get("msg_type") != "execute_request":
        return None  # a comm message (a button click): not a cell
    content = parent.get("content") or {}
    metadata = parent.get("metadata") or {}
    notebook = (shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME")
                or os.getcwd())
    cell = metadata.get("cellId") or hashlib.sha256(
        str(content.get("code", "")).encode()).hexdigest()
    return str(header.get("msg_id", "")), f"{notebook}|{cell}"


def take_key(request_record: dict[str, Any], base_url: str) -> str | None:
    """The key of the next take of this request in the running cell, or None outside one."""
    global _run_of_counts
    cell = current_cell()
    if cell is None:
        return None
    run, identity = cell
    what = json.dumps([identity, base_url, request_record], sort_keys=True, default=str)
    with _lock:
        if run != _run_of_counts:  # a new cell run: counting starts again
            _counts.clear()
            _run_of_counts = run
        ordinal = _counts.get((run, what), 0)
        _counts[(run, what)] = ordinal + 1
    return hashlib.sha256(f"{what}|{ordinal}".encode()).hexdigest()
