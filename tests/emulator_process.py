"""The emulator in a subprocess (its CPU is not the caller's), driven over HTTP: used by
the benches (bench/bench_common.py) and the browser measurements (tests/gallery_load.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


class EmulatorProcess:
    """The emulator in a subprocess (its CPU is not ours), driven over HTTP.

    The same surface as the in-process ``Emulator`` where the benches need it:
    ``base_url``, ``configure(**)``, ``stats``, ``reset_stats()``, ``task(id)``.
    """

    def __init__(self, *args: str, env: dict[str, str] | None = None, **config: Any):
        self.args = list(args)
        self.env = env or {}  # extra environment (the clips' cache, say)
        self.config = config
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def start(self) -> EmulatorProcess:
        cmd = [sys.executable, "-m", "hailuo_nb.emulator", "--port", "0", *self.args]
        for name, value in self.config.items():
            cmd += [f"--{name.replace('_', '-')}", str(value)]
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join(
            [str(REPO), *filter(None, [os.environ.get("PYTHONPATH")])])}
        self.proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
            cwd=str(REPO),
        )
        deadline = time.monotonic() + 30
        assert self.proc.stdout is not None
        while time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if "listening on" in line:
                self.base_url = line.rsplit(" ", 1)[1].strip()
                return self
        self.stop()
        raise RuntimeError("the emulator subprocess did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> EmulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _call(self, method: str, path: str, data: Any = None) -> Any:
        body = None if data is None else json.dumps(data).encode()
        req = urllib.request.Request(  # noqa: S310 - our emulator's http:// URL
            f"{self.base_url}{path}", data=body, method=method,
            headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - localhost
            return json.loads(resp.read())

    def configure(self, **changes: Any) -> None:
        self._call("POST", "/_emulator/config", changes)

    @property
    def stats(self) -> dict:
        return self._call("GET", "/_emulator/stats")

    def reset_stats(self) -> None:
        self._call("POST", "/_emulator/reset_stats", {})

    def task(self, task_id: str) -> dict:
        return self._call("GET", f"/_emulator/tasks/{task_id}")

    def advance_clock(self, seconds: float) -> float:
        """Move the emulator's clock (not ours) by ``seconds``; returns its whole offset."""
        return self._call("POST", "/_emulator/clock", {"advance": seconds})["offset"]
