"""``hailuo-nb emulator`` / ``python -m hailuo_nb.cli emulator`` / ``python -m
hailuo_nb.emulator`` as a user runs them: a real subprocess, real HTTP, then a signal.

The process's stdout and stderr go to files (no pipe can fill up and block it); every
wait is a bounded polling loop.
"""

from __future__ import annotations

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import requests
from imagefactory import png

ROOT = Path(__file__).resolve().parents[1]
URL_LINE = re.compile(r"Hailuo emulator listening on (http://127\.0\.0\.1:(\d+))")
MODEL = "MiniMax-Hailuo-2.3"
TIMEOUT = 30


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Served:
    """One emulator process; ``url`` once it says it listens."""

    def __init__(self, argv: list[str], tmp_path: Path, name: str = "emu"):
        self.out_path = tmp_path / f"{name}.stdout"
        self.err_path = tmp_path / f"{name}.stderr"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(argv,
                                         stdout=out, stderr=err, stdin=subprocess.DEVNULL,
                                         cwd=tmp_path, env=env)
        self.url = self._wait_for_url()

    def _wait_for_url(self, limit: float = 60.0) -> str:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            match = URL_LINE.search(self.stdout())
            if match:
                return match.group(1)
            if self.proc.poll() is not None:
                raise AssertionError(f"the emulator exited {self.proc.returncode}: "
                                     f"{self.stdout()!r} {self.stderr()!r}")
            time.sleep(0.05)
        self.proc.kill()
        raise AssertionError(f"no URL line: {self.stdout()!r} {self.stderr()!r}")

    def stdout(self) -> str:
        return self.out_path.read_text(encoding="utf-8", errors="replace")

    def stderr(self) -> str:
        return self.err_path.read_text(encoding="utf-8", errors="replace")

    def stop(self, sig=signal.SIGTERM, limit: float = 30.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(limit)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError("the emulator did not stop on a signal") from None

    def wait_for_stderr(self, needle: str, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while needle not in self.stderr():
            if time.monotonic() > deadline:
                raise AssertionError(f"{needle!r} never logged: {self.stderr()!r}")
            time.sleep(0.05)


@pytest.fixture
def serve(tmp_path):
    started: list[Served] = []

    def start(*args: str, argv0=(sys.executable, "-m", "hailuo_nb.cli", "emulator"),
              name: str = "emu") -> Served:
        served = Served([*argv0, *args], tmp_path, name=f"{name}{len(started)}")
        started.append(served)
        return served

    yield start
    for served in started:
        if served.proc.poll() is None:
            served.proc.kill()
            served.proc.wait(10)


def run_cli(*args: str) -> subprocess.CompletedProcess:
    """``python -m hailuo_nb.cli *args`` to the end (for runs that exit by themselves)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    return subprocess.run([sys.executable, "-m", "hailuo_nb.cli", *args],
                          capture_output=True, text=True, timeout=60, env=env)


def auth(key: str) -> dict:
    return {"Authorization": f"Bearer {key}"}


def submit(url, key, **fields):
    return requests.post(f"{url}/v1/videos/generations", headers=auth(key), timeout=TIMEOUT,
                         json={"model": MODEL, "prompt": "A kite over dunes [Pan left]",
                               **fields})


def wait_terminal(url, key, task_id, limit=60.0) -> dict:
    deadline = time.monotonic() + limit
    with requests.Session() as session:
        while time.monotonic() < deadline:
            r = session.get(f"{url}/v1/tasks/{task_id}", headers=auth(key), timeout=TIMEOUT)
            assert r.status_code == 200, r.text
            if r.json()["status"] in ("completed", "failed"):
                return r.json()
            time.sleep(0.05)
    raise AssertionError(f"{task_id} never finished")


# ---------------------------------------------------------------------------- secrecy


def test_verbose_emulator_prints_the_url_and_never_the_key(serve):
    key = f"sk-cli-{uuid.uuid4().hex}"
    port = free_port()
    emu = serve("--port", str(port), "--verbose", "--api-key", key, "--task-seconds", "0.2")
    assert emu.url == f"http://127.0.0.1:{port}"

    # Every kind of request, with the key, a wrong key, and the key where it should not be.
    r = submit(emu.url, key)
    assert r.status_code == 200
    task_id = r.json()["id"]
    done = wait_terminal(emu.url, key, task_id)
    assert done["status"] == "completed"
    video = requests.get(done["results"][0], timeout=TIMEOUT)
    assert video.status_code == 200 and video.content[4:8] == b"ftyp"
    assert requests.get(done["results"][0], headers={"Range": "bytes=0-9"},
                        timeout=TIMEOUT).status_code == 206
    up = requests.post(f"{emu.url}/api/v1/files/upload/base64", headers=auth(key),
                       json={"base64_data": base64.b64encode(png(640, 480)).decode()},
                       timeout=TIMEOUT)
    assert up.status_code == 200
    up2 = requests.post(f"{emu.url}/api/v1/files/upload/stream", headers=auth(key),
                        files={"file": ("x.png", png(640, 480), "image/png")}, timeout=TIMEOUT)
    assert up2.status_code == 200
    assert submit(emu.url, key + "x").status_code == 401
    assert submit(emu.url, key, prompt="").status_code == 400
    assert requests.get(f"{emu.url}/v1/tasks/{task_id}?api_key={key}", headers=auth(key),
                        timeout=TIMEOUT).status_code == 200
    assert requests.get(f"{emu.url}/v1/tasks/{task_id}",
                        headers={"Authorization": key}, timeout=TIMEOUT).status_code == 401
    assert requests.get(f"{emu.url}/nowhere?key={key}", headers=auth(key),
                        timeout=TIMEOUT).status_code == 404
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:  # junk request line
        sock.sendall(f"GARBAGE /?k={key} HTTP/9.9\r\nAuthorization: Bearer {key}\r\n\r\n"
                     .encode())
        sock.recv(4096)
    emu.wait_for_stderr("emulator: GET /nowhere 404")

    assert emu.stop() == 0
    out, err = emu.stdout(), emu.stderr()
    assert f"Hailuo emulator listening on http://127.0.0.1:{port}" in out
    assert f"HAILUO_BASE_URL=http://127.0.0.1:{port}" in out
    assert "Emulator stopped." in out
    # The request log is there (verbose) ...
    assert "emulator: POST /v1/videos/generations 200" in err
    assert f"emulator: GET /v1/tasks/{task_id} 200" in err
    assert "emulator: POST /api/v1/files/upload/stream 200" in err
    assert "emulator: POST /v1/videos/generations 401" in err
    # ... and the key is nowhere, whole or in part.
    secret = key.split("-")[-1]
    for text in (out, err):
        assert key not in text
        assert secret not in text
        assert secret[:16] not in text
    assert "Traceback" not in err


def test_quiet_by_default(serve):
    key = f"sk-cli-{uuid.uuid4().hex}"
    emu = serve("--port", "0", "--task-seconds", "0.1")
    assert submit(emu.url, key).status_code == 200
    assert emu.stop() == 0
    assert emu.stderr() == ""
    assert key not in emu.stdout()


# ---------------------------------------------------------------------------- entry points


def test_the_console_script(serve):
    exe = shutil.which("hailuo-nb")
    if exe is None:
        pytest.skip("the hailuo-nb console script is not installed")
    emu = serve("--port", "0", argv0=(exe, "emulator"))
    assert submit(emu.url, "any-key").status_code == 200
    assert emu.stop(signal.SIGINT) == 0
    assert "Emulator stopped." in emu.stdout()


def test_python_m_hailuo_nb_emulator(serve):
    emu = serve("--port", "0", "--task-seconds", "0.1",
                argv0=(sys.executable, "-m", "hailuo_nb.emulator"))
    task_id = submit(emu.url, "k").json()["id"]
    assert wait_terminal(emu.url, "k", task_id)["status"] == "completed"
    assert emu.stop(signal.SIGINT) == 0


def test_port_zero_prints_the_real_port(serve):
    emu = serve("--port", "0")
    port = int(URL_LINE.search(emu.stdout()).group(2))
    assert port > 0
    assert requests.get(f"{emu.url}/_emulator/stats", timeout=TIMEOUT).status_code == 200


def test_help_and_no_command():
    help_run = run_cli("emulator", "--help")
    assert help_run.returncode == 0
    for option in ("--port", "--api-key", "--quota-key", "--task-seconds", "--seed", "--rpm",
                   "--fail-rate", "--blocked-word", "--error-rate", "--drop-rate",
                   "--link-ttl", "--verbose"):
        assert option in help_run.stdout
    bare = run_cli()
    assert bare.returncode == 2
    assert "emulator" in bare.stdout


@pytest.mark.parametrize(
    "args",
    [["--task-seconds", "-1"], ["--fail-rate", "2"], ["--port", "abc"], ["--rpm", "x"],
     ["--no-such-option"]],
)
def test_bad_options_exit_2_with_a_short_message(args):
    run = run_cli("emulator", "--port", "0", *args)
    assert run.returncode == 2, run
    assert run.stderr.strip()
    assert "Traceback" not in run.stderr
    assert "listening" not in run.stdout


def test_a_port_in_use_exits_1(serve):
    first = serve("--port", "0")
    port = URL_LINE.search(first.stdout()).group(2)
    run = run_cli("emulator", "--port", port)
    assert run.returncode == 1
    assert "cannot listen" in run.stderr
    assert "Traceback" not in run.stderr


# ---------------------------------------------------------------------------- options reach it


def test_options_reach_the_running_emulator(serve, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42" + os.urandom(4000))
    emu = serve("--port", "0", "--quota-key", "poor-key", "--rpm", "2", "--rpm-get", "50",
                "--task-seconds", "0.1", "--blocked-word", "lava", "--blocked-word", "ember",
                "--video-file", str(video), "--link-ttl", "3600", "--upload-ttl", "60",
                "--seed", "5")
    config = requests.get(f"{emu.url}/_emulator/config", timeout=TIMEOUT).json()
    assert config["blocked_words"] == ["lava", "ember"]
    assert (config["rpm"], config["rpm_get"], config["seed"]) == (2, 50, 5)
    assert (config["link_ttl"], config["upload_ttl"]) == (3600, 60)
    assert "poor-key" not in str(config)  # keys are not shown, even by the control API

    quota = submit(emu.url, "poor-key")
    assert quota.status_code == 402
    assert quota.json()["error"]["fallback_suggestion"] == "https://evolink.ai/dashboard/billing"
    blocked = submit(emu.url, "k1", prompt="lava lake")
    ok = submit(emu.url, "k1")
    limited = submit(emu.url, "k1")
    assert (blocked.status_code, ok.status_code, limited.status_code) == (200, 200, 429)
    wait = int(limited.headers["Retry-After"])
    assert limited.json()["error"]["fallback_suggestion"] == f"retry after {wait} seconds"
    failed = wait_terminal(emu.url, "k1", blocked.json()["id"])
    assert failed["error"]["code"] == "content_policy_violation"
    done = wait_terminal(emu.url, "k1", ok.json()["id"])
    assert requests.get(done["results"][0], timeout=TIMEOUT).content == video.read_bytes()


def test_fault_options(serve):
    emu = serve("--port", "0", "--fail-rate", "1", "--task-seconds", "0.1")
    task_id = submit(emu.url, "k").json()["id"]
    assert wait_terminal(emu.url, "k", task_id)["error"]["code"] == "service_error"
    errors = serve("--port", "0", "--error-rate", "1")
    assert submit(errors.url, "k").status_code in (500, 502, 503)
    drops = serve("--port", "0", "--drop-rate", "1")
    with pytest.raises(requests.ConnectionError):
        submit(drops.url, "k")
    stats = requests.get(f"{drops.url}/_emulator/stats", timeout=TIMEOUT).json()
    assert stats["tasks_created"] == 1  # a dropped submission still created its task


def test_the_same_seed_in_two_processes_gives_the_same_ids(serve):
    suffixes = []
    for _ in range(2):
        emu = serve("--port", "0", "--seed", "77")
        ids = [submit(emu.url, "k").json()["id"] for _ in range(5)]
        suffixes.append([i.rsplit("-", 1)[1] for i in ids])
        emu.stop()
    assert suffixes[0] == suffixes[1]
