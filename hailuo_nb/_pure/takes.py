"""Which generation a call is, inside a notebook: its take key.

A generation is identified by the notebook cell it was made in, its request, the server it
goes to, and the how-many-th such request in that run of the cell. Re-running the cell gives
the same keys, in this kernel or in a new one (the keys live in the history), so what the
cell made before is reused instead of paid for again.

The same notebook file must give the same keys however it runs, so a cell is named by what
the FILE stores, not by how the runner names the notebook (JupyterLab's session path, the
working directory of ``nbconvert --execute`` or papermill, VS Code's file): the cell id that
nbformat ≥ 4.5 stores with every cell. JupyterLab, Notebook 7 and VS Code send it with each
execute request (``metadata.cellId``); nbclient (nbconvert, papermill) sends none, so the
kernel finds the running code among the cells of the notebook file (VS Code's file, the
session's path, else the ``.ipynb`` files of the working directory, which headless runners
set to the notebook's folder). marimo names its cells itself (stable for the same file). The
in-kernel emulator is named as such, not by its URL (a new port in every kernel). Where the
cell cannot be known, a note says so once, and the cell's code stands in for it.
Outside a notebook cell (a script, a plain shell) there is no key: every call is a new take.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import sys
import threading
from typing import Any

IN_KERNEL_EMULATOR_ENV = "HAILUO_IN_KERNEL_EMULATOR"  # its URL, while it runs in this kernel
MAX_NOTEBOOK_BYTES = 50 * 1024 * 1024  # larger files are not read to find a cell

_lock = threading.Lock()
_counts: dict[tuple[str, str], int] = {}  # (cell run, request key) → takes so far
_run_of_counts = ""  # the cell run the counts belong to
_said_unknown = False
# path → (its stamp, source → ids of its code cells, the last code cell's source)
_notebooks: dict[str, tuple[tuple[int, int], dict[str, list[str]], str]] = {}


def current_cell() -> tuple[str, str] | None:
    """(this cell run's id, the cell's identity) inside a notebook cell, else None."""
    marimo = _marimo_cell()
    if marimo is not None:
        return marimo
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
    code = str(content.get("code", ""))
    cell = metadata.get("cellId") or cell_id_in_files(code, candidate_notebooks(shell))
    if cell:
        return str(header.get("msg_id", "")), f"cell:{cell}"
    _say_unknown_once()
    where = shell.user_ns.get("__session__") or os.environ.get("JPY_SESSION_NAME") or os.getcwd()
    return str(header.get("msg_id", "")), f"{where}|{hashlib.sha256(code.encode()).hexdigest()}"


def _marimo_cell() -> tuple[str, str] | None:
    """marimo's cell (its ids are the same for the same file in every session)."""
    if "marimo" not in sys.modules:
        return None
    try:
        from marimo._runtime.context import safe_get_context  # only inside marimo
    except ImportError:
        return None
    ctx = safe_get_context()
    run = getattr(ctx, "execution_context", None) if ctx is not None else None
    if run is None or not getattr(run, "cell_id", None):
        return None
    name = os.path.abspath(getattr(ctx, "filename", "") or "") if getattr(
        ctx, "filename", None) else ""
    return f"marimo:{id(run)}", f"marimo:{name}|{run.cell_id}"


def candidate_notebooks(shell: Any) -> list[str]:
    """Notebook files that may hold the running cell, the likeliest first."""
    named = [shell.user_ns.get("__vsc_ipynb_file__"), shell.user_ns.get("__session__"),
             os.environ.get("JPY_SESSION_NAME")]
    found = [str(p) for p in named if isinstance(p, str) and p.endswith(".ipynb")
             and os.path.isfile(p)]
    return found + sorted(glob.glob(os.path.join(os.getcwd(), "*.ipynb")))


def cell_id_in_files(code: str, paths: list[str]) -> str:
    """The stored id of the one cell whose source is ``code``, in the first of ``paths``
    that holds it ('' when none does, or when two cells of a file have that source)."""
    wanted = _normal(code)
    for path in paths:
        ids = _cells_of(path).get(wanted, [])
        if len(ids) == 1 and ids[0]:
            return ids[0]
    return ""


def is_last_cell(code: str, paths: list[str]) -> bool:
    """True when ``code`` is the last code cell of the first of ``paths`` that holds it."""
    wanted = _normal(code)
    for path in paths:
        if wanted in _cells_of(path):
            return _notebooks[path][2] == wanted
    return False


def _normal(code: str) -> str:
    return "\n".join(line.rstrip() for line in code.strip().splitlines())


def _cells_of(path: str) -> dict[str, list[str]]:
    """source → ids of a notebook file's code cells (read again only when it changed)."""
    try:
        stat = os.stat(path)
        if stat.st_size > MAX_NOTEBOOK_BYTES:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size)
        cached = _notebooks.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        with open(path, encoding="utf-8") as handle:
            notebook = json.load(handle)
    except (OSError, ValueError):
        return {}
    cells: dict[str, list[str]] = {}
    last = ""
    for cell in notebook.get("cells", []) if isinstance(notebook, dict) else []:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        source = cell.get("source", "")
        code = _normal("".join(source) if isinstance(source, list) else str(source))
        cells.setdefault(code, []).append(str(cell.get("id") or ""))
        last = code or last  # runners skip empty cells: the last one that runs
    _notebooks[path] = (stamp, cells, last)
    return cells


def _say_unknown_once() -> None:
    global _said_unknown
    if _said_unknown:
        return
    _said_unknown = True
    print("hailuo_nb: this front end names no cell and no notebook file here holds this "
          "cell's code, so a run of this notebook elsewhere (another front end, another "
          "folder) may generate again; run it from its own folder to reuse what it made.",
          file=sys.stderr)


def server_name(base_url: str) -> str:
    """The server as a take knows it: the in-kernel emulator by that name (its port is new
    in every kernel), any other by its URL."""
    if base_url and base_url.rstrip("/") == os.environ.get(IN_KERNEL_EMULATOR_ENV, "").rstrip("/"):
        return "the in-kernel emulator"
    return base_url


def form_origin(base_url: str) -> str | None:
    """The prefix of the take keys of a generation form shown by the running cell (None
    outside a cell): the same cell run again shows the form's earlier tasks once more."""
    cell = current_cell()
    if cell is None:
        return None
    what = json.dumps([cell[1], server_name(base_url)], sort_keys=True)
    return f"form:{hashlib.sha256(what.encode()).hexdigest()[:32]}:"


def take_key(request_record: dict[str, Any], base_url: str) -> str | None:
    """The key of the next take of this request in the running cell, or None outside one."""
    global _run_of_counts
    cell = current_cell()
    if cell is None:
        return None
    run, identity = cell
    what = json.dumps([identity, server_name(base_url), request_record], sort_keys=True,
                      default=str)
    with _lock:
        if run != _run_of_counts:  # a new cell run: counting starts again
            _counts.clear()
            _run_of_counts = run
        ordinal = _counts.get((run, what), 0)
        _counts[(run, what)] = ordinal + 1
    return hashlib.sha256(f"{what}|{ordinal}".encode()).hexdigest()
