"""Where a page can fetch a video this project saved: a URL path on the server that
serves the notebook, or None.

A live view is a widget: its ``src`` is not rewritten the way JupyterLab rewrites a
relative ``src`` in rendered output, so it needs the server's own path. A kernel started
by a Jupyter server knows that server's pid (``JPY_PARENT_PID``); the server's runtime
file (``jpserver-<pid>.json``) gives its root folder and base URL, and the server
serves any file under that root at ``<base_url>files/<path>``. marimo serves no folder
(and a kernel started from a Jupyter terminal may still carry that server's pid): there
is no URL, and the view asks its kernel for the file's bytes instead.
"""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from urllib.parse import quote

from .._presentation.facts import relative_path


def page_src(path: str | None) -> str | None:
    """A URL (path) the page can load ``path`` from, or None."""
    if not path or not os.path.isfile(path):
        return None
    return None if "marimo" in sys.modules else _jupyter_files_url(path)


def _jupyter_files_url(path: str) -> str | None:
    server = jupyter_server(os.environ.get("JPY_PARENT_PID", ""))
    if server is None:
        return None
    root, base_url = server
    rel = relative_path(os.path.realpath(path), root)
    if rel is None or any(part.startswith(".") for part in rel.split("/")):
        return None  # outside the root, or hidden (Jupyter refuses to serve hidden files)
    return base_url.rstrip("/") + "/files/" + quote(rel)


@functools.lru_cache(maxsize=4)
def jupyter_server(pid: str) -> tuple[str, str] | None:
    """(root folder, base URL) of the Jupyter server with this pid, or None."""
    if not pid.isdigit():
        return None
    try:
        from jupyter_core.paths import jupyter_runtime_dir  # present wherever a server runs
    except ImportError:
        return None
    try:
        info = json.loads((Path(jupyter_runtime_dir()) / f"jpserver-{pid}.json").read_text())
        root = os.path.realpath(os.path.expanduser(info["root_dir"]))
        return root, str(info.get("base_url") or "/")
    except (OSError, ValueError, KeyError, TypeError):
        return None

