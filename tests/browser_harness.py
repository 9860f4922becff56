"""JupyterLab on 127.0.0.1 with a temporary root, and headless Debian Chromium to drive it.

Never `playwright install`: it downloads browsers. Debian's /usr/bin/chromium is used.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage", "--autoplay-policy=user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def notebook(cells: list[str]) -> dict:
    """A minimal nbformat-4 notebook of code cells, python3 kernel."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"c{i}",
                   "metadata": {}, "outputs": [], "source": src}
                  for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python",
                                    "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def page_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_lab(root: Path, env_extra: dict[str, str], state_dir: Path) -> Lab:
    """Start JupyterLab; user settings and runtime files live in ``state_dir``."""
    port, token = free_port(), secrets.token_hex(16)
    for sub in ("config", "runtime", "settings", "workspaces"):
        (state_dir / sub).mkdir(parents=True, exist_ok=True)
    env = {
        **os.environ,
        **env_extra,
        "JUPYTER_CONFIG_DIR": str(state_dir / "config"),
        "JUPYTER_RUNTIME_DIR": str(state_dir / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(state_dir / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(state_dir / "workspaces"),
    }
    log = state_dir / "lab.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
         "--ip=127.0.0.1", f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
         "--ServerApp.open_browser=False", "--LabApp.news_url=",
         *(["--allow-root"] if os.geteuid() == 0 else []),
         "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate"],
        cwd=root, env=env, stdout=open(log, "wb"), stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    for _ in range(240):
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as resp:
                if resp.status == 200:
                    return Lab(url, token, root, process, log)
        except OSError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"JupyterLab did not answer: {log.read_text()[-2000:]}")


def write_notebook(root: Path, name: str, cells: list[str]) -> Path:
    path = root / name
    path.write_text(json.dumps(notebook(cells), indent=1))
    return path


def copy_notebook(src: Path, root: Path) -> Path:
    target = root / src.name
    shutil.copyfile(src, target)
    return target
