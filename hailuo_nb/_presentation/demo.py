"""``hailuo-nb demo``: the quick-start notebook, executed end to end against the emulator.

    hailuo-nb demo [--out DIR] [--lab] [--timeout S]

It starts the emulator in a thread (accepting only a fresh random key), runs
``notebooks/quickstart.ipynb`` in a real kernel with nbclient — the kernel gets the key,
the emulator's URLs and a throwaway ``HAILUO_HOME`` through its environment, and runs
in ``DIR`` so the videos land in ``DIR/hailuo_videos`` — then writes the executed
notebook and an HTML export to ``DIR``, and checks that the key appears in no file
written there. ``--lab`` opens JupyterLab on ``DIR`` with the same environment instead.

Only this module's functions touch nbclient/nbconvert/jupyterlab, and only when called:
importing it (the CLI does) stays cheap.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = [
    "DEFAULT_NOTEBOOK",
    "NOTEBOOKS_DIR",
    "DemoError",
    "add_subparser",
    "demo_environment",
    "find_notebook",
    "run_demo",
    "start_lab",
]

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # hailuo_nb/
SOURCE_ROOT = PACKAGE_DIR.parent  # the clone: notebooks/ sits beside the package
NOTEBOOKS_DIR = SOURCE_ROOT / "notebooks"
DEFAULT_NOTEBOOK = "quickstart.ipynb"
DEMO_TASK_SECONDS = 3.0
DEFAULT_TIMEOUT = 600.0


class DemoError(Exception):
    """The demo could not run; the message is one line saying why and what to do."""


# ------------------------------------------------------------------------------ pieces


def find_notebook(notebook: str | os.PathLike | None = None) -> Path:
    """The notebook to run: a path, a name in ``notebooks/``, or the quick start."""
    candidates = []
    if notebook is not None:
        candidates.append(Path(notebook).expanduser())
    name = Path(notebook).name if notebook is not None else DEFAULT_NOTEBOOK
    candidates += [NOTEBOOKS_DIR / name, PACKAGE_DIR / "notebooks" / name]
    for path in candidates:
        if path.is_file():
            return path.resolve()
    raise DemoError(
        f"Demo notebook not found: {candidates[0]} — run the demo from a clone of the "
        "repository (notebooks/ ships with the source, not with the wheel)."
    )


def demo_environment(base_url: str, files_url: str, api_key: str, home: str | os.PathLike,
                     base: dict | None = None) -> dict:
    """The environment of a kernel (or JupyterLab) pointed at an emulator."""
    env = dict(os.environ if base is None else base)
    env.update({
        "EVOLINK_API_KEY": api_key,
        "HAILUO_BASE_URL": base_url,
        "HAILUO_FILES_URL": files_url,
        "HAILUO_HOME": str(home),
    })
    # The kernel must import this very hailuo_nb, even from a source tree not installed.
    source_root = str(SOURCE_ROOT)
    paths = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if source_root not in paths:
        env["PYTHONPATH"] = os.pathsep.join([source_root, *paths])
    env.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # a quiet kernel under debugpy
    return env


@contextlib.contextmanager
def _emulator_session(task_seconds: float) -> Iterator[tuple[object, str, Path]]:
    """An emulator accepting only a fresh key, and a throwaway HAILUO_HOME."""
    from ..emulator import Emulator

    key = f"sk-demo-{secrets.token_hex(16)}"
    home = Path(tempfile.mkdtemp(prefix="hailuo-demo-home-"))
    emu = Emulator(task_seconds=task_seconds, seed=secrets.randbelow(2**31), api_keys=(key,))
    emu.start()
    try:
        yield emu, key, home
    finally:
        emu.stop()
        shutil.rmtree(home, ignore_errors=True)


def _files_containing(folder: Path, secret: str) -> list[Path]:
    needle = secret.encode()
    found = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            try:
                if needle in path.read_bytes():
                    found.append(path)
            except OSError:
                continue
    return found


def _first_line(text: str) -> str:
    for line in str(text).splitlines():
        if line.strip():
            return " ".join(line.split())
    return str(text).strip()


def _cell_error(exc: Exception) -> str:
    """The error a failed cell showed: ``ename: evalue`` when nbclient tells us."""
    ename = getattr(exc, "ename", None)
    evalue = getattr(exc, "evalue", None)
    if ename:
        return f"{ename}: {_first_line(evalue or '')}"
    return _first_line(str(exc))


def _execute(source: Path, out_dir: Path, env: dict, timeout: float) -> tuple[Path, Path]:
    try:
        import nbformat
        from nbclient import NotebookClient
        from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError
        from nbconvert import HTMLExporter
    except ImportError as exc:
        raise DemoError(
            f"The demo needs the 'notebook' extra ({exc.name} is missing): "
            "pip install 'hailuo_nb[notebook]'."
        ) from None
    nb = nbformat.read(source, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(out_dir)}},  # the kernel's working directory
    )
    failure = None
    try:
        client.execute(env=env)
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as exc:
        failure = exc
    prune_widget_state(nb)
    executed = out_dir / source.name
    nbformat.write(nb, executed)
    page = out_dir / f"{source.stem}.html"
    body, _ = HTMLExporter().from_notebook_node(nb)
    page.write_text(body, encoding="utf-8")
    if failure is not None:
        raise DemoError(
            f"A cell of {source.name} failed ({_cell_error(failure)}); the notebook as far as "
            f"it ran is in {executed}."
        )
    return executed, page


WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"


def prune_widget_state(nb) -> int:
    """Drop saved widget models that no output shows any more; returns how many are left.

    nbclient saves the state of every widget ever opened, even those whose output has since
    turned into a record and whose comm was closed: state no reader can see, only weight."""
    state = nb.metadata.get("widgets", {}).get(WIDGET_STATE, {}).get("state", {})
    wanted = [out["data"][WIDGET_VIEW]["model_id"] for cell in nb.cells
              for out in cell.get("outputs", []) if WIDGET_VIEW in out.get("data", {})]
    keep: set[str] = set()
    while wanted:  # a shown model and every model it names (IPY_MODEL_<id>)
        model_id = wanted.pop()
        if model_id in keep or model_id not in state:
            continue
        keep.add(model_id)
        wanted += re.findall(r"IPY_MODEL_([0-9a-f]+)", json.dumps(state[model_id]))
    for model_id in set(state) - keep:
        del state[model_id]
    if not state:
        nb.metadata.pop("widgets", None)
    return len(keep)


# ------------------------------------------------------------------------------ JupyterLab


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_lab(folder: str | os.PathLike, env: dict, *, open_path: str = "",
              startup_timeout: float = 90.0) -> tuple[subprocess.Popen, str]:
    """Start JupyterLab on ``folder`` with ``env``; returns (process, URL with token).

    The process is terminated if it does not answer within ``startup_timeout`` s.
    """
    import importlib.util

    if importlib.util.find_spec("jupyterlab") is None:
        raise DemoError("JupyterLab is not installed: pip install 'hailuo_nb[lab]' "
                        "(or run the demo without --lab).")
    port = _free_port()
    token = secrets.token_urlsafe(24)
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser",
        "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={Path(folder).resolve()}",
        f"--IdentityProvider.token={token}",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        cmd.append("--allow-root")
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
        cmd, env=env, cwd=str(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + startup_timeout
    while True:
        if proc.poll() is not None:
            raise DemoError(f"JupyterLab exited at start (code {proc.returncode}); run "
                            f"`{sys.executable} -m jupyterlab` to see why.")
        try:
            with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2):  # noqa: S310
                break
        except (urllib.error.URLError, OSError):
            if time.monotonic() > deadline:
                proc.terminate()
                raise DemoError(
                    f"JupyterLab did not answer within {startup_timeout:g} s."
                ) from None
            time.sleep(0.3)
    target = f"/lab/tree/{open_path}" if open_path else "/lab"
    return proc, f"{base}{target}?token={token}"


def _stop_on_signals():
    """Ctrl-C and SIGTERM both end the wait (so JupyterLab is never left orphaned)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    saved = {}
    for name in ("SIGINT", "SIGTERM"):
        number = getattr(signal, name, None)
        if number is not None:
            saved[number] = signal.signal(number, interrupt)

    def restore() -> None:
        for number, handler in saved.items():
            signal.signal(number, handler)

    return restore


def _run_lab(out_dir: Path, env: dict, source: Path) -> Path:
    for notebook in sorted(source.parent.glob("*.ipynb")):  # the user's edits are kept
        target = out_dir / notebook.name
        if not target.exists():
            shutil.copyfile(notebook, target)
    proc, url = start_lab(out_dir, env, open_path=source.name)
    print(f"JupyterLab is running on {out_dir} against the emulator:\n  {url}\n"
          "Press Ctrl-C to stop it (and the emulator).", flush=True)
    restore = _stop_on_signals()
    try:
        proc.wait()
    except KeyboardInterrupt:
        print("Stopping JupyterLab…", flush=True)
    finally:
        restore()
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    return out_dir


# ------------------------------------------------------------------------------ the demo


def run_demo(
    out_dir: str | os.PathLike = "demo_output",
    lab: bool = False,
    notebook: str | os.PathLike | None = None,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    task_seconds: float = DEMO_TASK_SECONDS,
) -> Path:
    """Run the quick start against a fresh emulator; returns the output folder.

    ``out_dir`` receives the executed notebook, its HTML export and ``hailuo_videos/``.
    ``timeout`` bounds each cell, in seconds. With ``lab=True`` JupyterLab is started on
    ``out_dir`` (with copies of the notebooks) until Ctrl-C, instead of executing.
    Raises :class:`DemoError` (one line) when something is missing or a cell fails.
    """
    source = find_notebook(notebook)
    out = Path(out_dir).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    with _emulator_session(task_seconds) as (emu, key, home):
        env = demo_environment(emu.base_url, emu.files_url, key, home)
        if lab:
            return _run_lab(out, env, source)
        print(f"Running {source.name} against the emulator at {emu.base_url} …", flush=True)
        executed, page = _execute(source, out, env, timeout)
        leaks = _files_containing(out, key)
        if leaks:
            raise DemoError("The API key was written to " + ", ".join(map(str, leaks))
                            + " — this is a bug: please report it.")
    videos = sorted((out / "hailuo_videos").glob("*.mp4"))
    print(f"Executed notebook: {executed}")
    print(f"HTML export:       {page}")
    print(f"Videos:            {out / 'hailuo_videos'} ({len(videos)} file(s))")
    for video in videos:
        print(f"  {video.name}")
    print("The demo's API key appears in none of these files.")
    return out


# ------------------------------------------------------------------------------ the CLI


def add_subparser(subparsers) -> argparse.ArgumentParser:
    """Register ``hailuo-nb demo`` on the CLI's subparsers."""
    p = subparsers.add_parser(
        "demo",
        help="run the quick-start notebook against the built-in emulator",
        description="Start the emulator, execute notebooks/quickstart.ipynb against it, and "
                    "write the executed notebook, an HTML export and the videos to DIR.",
    )
    p.add_argument("--out", default="demo_output", metavar="DIR",
                   help="output folder (default: demo_output)")
    p.add_argument("--lab", action="store_true",
                   help="open JupyterLab on DIR against the emulator instead (Ctrl-C stops)")
    p.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="S",
                   help=f"seconds each cell may take (default {DEFAULT_TIMEOUT:g})")
    p.add_argument("--notebook", default=None, metavar="NAME",
                   help="another notebook of notebooks/ (default: quickstart.ipynb)")
    p.add_argument("--task-seconds", type=float, default=DEMO_TASK_SECONDS, metavar="S",
                   help=f"how long the emulator takes per video (default {DEMO_TASK_SECONDS:g})")
    p.set_defaults(handler=_handle)
    return p


def _handle(args: argparse.Namespace) -> int:
    if args.timeout <= 0 or args.task_seconds <= 0:
        print("hailuo-nb demo: --timeout and --task-seconds must be > 0.", file=sys.stderr)
        return 2
    try:
        run_demo(args.out, lab=args.lab, notebook=args.notebook, timeout=args.timeout,
                 task_seconds=args.task_seconds)
    except DemoError as exc:
        print(f"hailuo-nb demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("hailuo-nb demo: interrupted.", file=sys.stderr)
        return 130
    return 0
