"""A deliberately faulty video service for the chaos tests: not the project's emulator.

It speaks the same contract (POST /v1/videos/generations, GET /v1/tasks/{id}, result links
under /media/) but misbehaves on purpose, per task (a word in the prompt) or for the whole
account (switches on the server):

    prompt word      what goes wrong
    drip-poll        every GET of this task drips its JSON one byte every ``drip_s``
    drip-video       its video drips one byte every ``drip_s``
    html-video       its result link answers 200 text/html (an error page)
    empty-video      its result link answers 200 with an empty body
    cut-video        the first download sends half the file and closes; Range works after
    short-video      Content-Length promises more than is sent, every time
    null-body        GET answers the JSON ``null``;  list-body: ``[]``;  empty-body: nothing
    huge-body        GET answers 8 MB of JSON
    skew-clock       ``created`` is a year in the future
    late-clock       ``created`` is 3 hours in the past (a service clock behind ours)
    always-503       every GET of this task answers 503 (no Retry-After)
    no-answer        every GET of this task is accepted and never answered
    drip-or-503      its GETs drip and answer 503, in turn
    no-result        completes without any result link
    big-video        its video is 3 MB (the sample, padded)

    server switch    effect
    reject_until     401 on every API call until that time (a revoked, then restored key)
    out_of_credits   402 on every POST
"""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SAMPLE = (Path(__file__).resolve().parents[1] / "hailuo_nb" / "emulator" / "assets"
          / "sample.mp4").read_bytes()
BIG = SAMPLE + b"\0" * (3_000_000 - len(SAMPLE))  # an MP4 with trailing padding: 3 MB


class ChaosTask:
    def __init__(self, task_id: str, prompt: str, created: float, seconds: float):
        self.id, self.prompt, self.created, self.seconds = task_id, prompt, created, seconds

    def has(self, word: str) -> bool:
        return word in self.prompt

    def json(self, base: str) -> dict:
        age = time.time() - self.created
        done = age >= self.seconds
        created = self.created + (365 * 86400 if self.has("skew-clock") else 0) - (
            3 * 3600 if self.has("late-clock") else 0)
        body = {"id": self.id, "object": "video.generation.task", "created": int(created),
                "model": "MiniMax-Hailuo-2.3",
                "status": "completed" if done else ("processing" if age > 0.1 else "pending"),
                "progress": 100 if done else min(99, int(100 * age / self.seconds)),
                "task_info": {"can_cancel": not done, "estimated_time": int(self.seconds)},
                "type": "video"}
        if done and not self.has("no-result"):
            body["results"] = [f"{base}/media/{self.id}.mp4"]
        return body


class ChaosServer:
    def __init__(self, *, task_seconds: float = 0.5, drip_s: float = 1.0):
        self.tag = secrets.token_hex(3)  # ids unique across servers sharing one history
        self.task_seconds = task_seconds
        self.drip_s = drip_s
        self.reject_until = 0.0
        self.out_of_credits = False
        self.tasks: dict[str, ChaosTask] = {}
        self.hits: Counter = Counter()  # ("POST"|"GET"|"MEDIA"|"RANGE"|"401"|"402", id) → n
        self.completed_seen: dict[str, float] = {}  # task id → first GET that said completed
        self.media_done: dict[str, float] = {}  # task id → when its video was fully sent
        self._lock = threading.Lock()
        self._cut_once: set[str] = set()
        self._http = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._http.daemon_threads = True
        self.base_url = f"http://127.0.0.1:{self._http.server_address[1]}"
        self._thread = threading.Thread(target=self._http.serve_forever, daemon=True)

    def __enter__(self) -> ChaosServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.shutdown()
        self._http.server_close()

    def count(self, kind: str) -> int:
        with self._lock:
            return sum(n for (k, _), n in self.hits.items() if k == kind)

    def new_task(self, prompt: str) -> ChaosTask:
        with self._lock:
            n = len(self.tasks) + 1
            task = ChaosTask(f"task-unified-{1757000000 + n}-{self.tag}{n:03d}", prompt,
                             time.time(), self.task_seconds)
            self.tasks[task.id] = task
        return task


def _handler(server: ChaosServer):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def _hit(self, kind: str, task_id: str = "") -> None:
            with server._lock:
                server.hits[(kind, task_id)] += 1

        def _send(self, status: int, body: bytes, kind: str = "application/json",
                  length: int | None = None, headers: dict | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body) if length is None else length))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

        def _drip(self, status: int, body: bytes, kind: str) -> None:
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            try:
                for byte in body:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                    time.sleep(server.drip_s)
            except OSError:
                return

        def _refused(self) -> bool:
            if time.time() < server.reject_until:
                self._hit("401")
                self._send(401, json.dumps({"error": {"code": 401, "type": "authentication_error",
                                                      "message": "Invalid API key"}}).encode())
                return True
            return False

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            if self.path == "/_chaos/tasks":  # a task made directly, ``age`` seconds ago
                task = server.new_task(str(body.get("prompt", "")))
                task.created -= float(body.get("age", 0))
                return self._send(200, json.dumps({"id": task.id}).encode())
            if self._refused():
                return
            if server.out_of_credits:
                self._hit("402")
                self._send(402, json.dumps({"error": {
                    "code": 402, "type": "insufficient_quota_error",
                    "message": "Insufficient credits"}}).encode())
                return
            task = server.new_task(str(body.get("prompt", "")))
            self._hit("POST", task.id)
            self._send(200, json.dumps(task.json(server.base_url)).encode())

        def do_GET(self):
            if self.path == "/_chaos/hits":  # what it saw, for a test in another process
                with server._lock:
                    counts = Counter()
                    for (kind, _), n in server.hits.items():
                        counts[kind] += n
                return self._send(200, json.dumps(counts).encode())
            media = re.fullmatch(r"/media/([\w-]+)\.mp4", self.path)
            if media:
                return self._media(media.group(1))
            found = re.fullmatch(r"/v1/tasks/([\w-]+)", self.path)
            if not found or found.group(1) not in server.tasks:
                return self._send(404, b'{"error": {"code": 404, "message": "not found"}}')
            if self._refused():
                return None
            task = server.tasks[found.group(1)]
            self._hit("GET", task.id)
            turn = server.hits[("GET", task.id)]
            if task.has("always-503") or (task.has("drip-or-503") and turn % 2 == 0):
                return self._send(503, json.dumps({"error": {
                    "code": 503, "type": "service_unavailable_error",
                    "message": "Service unavailable"}}).encode())
            if task.has("no-answer"):
                time.sleep(120)  # accepted, never answered
                return None
            data = task.json(server.base_url)
            if data["status"] == "completed":
                server.completed_seen.setdefault(task.id, time.time())
            body = json.dumps(data).encode()
            if task.has("null-body"):
                body = b"null"
            elif task.has("list-body"):
                body = b"[]"
            elif task.has("empty-body"):
                body = b""
            elif task.has("huge-body"):
                body = b'{"pad": "' + b"x" * (8 * 1024 * 1024) + b'"}'
            if task.has("drip-poll") or task.has("drip-or-503"):
                return self._drip(200, body, "application/json")
            return self._send(200, body)

        def _media(self, task_id: str) -> None:
            task = server.tasks.get(task_id)
            if task is None:
                return self._send(404, b"gone", "text/plain")
            rng = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range", ""))
            self._hit("RANGE" if rng else "MEDIA", task_id)
            if task.has("html-video"):
                return self._send(200, b"<html><body>502 Bad Gateway</body></html>",
                                  "text/html")
            if task.has("empty-video"):
                return self._send(200, b"", "video/mp4")
            if task.has("short-video"):  # promises the whole file, sends 1000 bytes, hangs up
                self.close_connection = True
                return self._send(200, SAMPLE[:1000], "video/mp4", length=len(SAMPLE))
            if task.has("drip-video"):
                self._drip(200, SAMPLE, "video/mp4")
                return None
            if task.has("big-video"):
                return self._send(200, BIG, "video/mp4")
            if rng:
                start = int(rng.group(1))
                part = SAMPLE[start:]
                self._send(206, part, "video/mp4", headers={
                    "Content-Range": f"bytes {start}-{len(SAMPLE) - 1}/{len(SAMPLE)}"})
                server.media_done.setdefault(task_id, time.time())
                return None
            if task.has("cut-video") and task_id not in server._cut_once:
                server._cut_once.add(task_id)
                half = len(SAMPLE) // 2
                self.send_response(200)
                self.send_header("Content-Type", "video/mp4")
                self.send_header("Content-Length", str(len(SAMPLE)))
                self.send_header("Accept-Ranges", "bytes")
                self.end_headers()
                self.wfile.write(SAMPLE[:half])
                self.wfile.flush()
                self.close_connection = True
                return None
            self._send(200, SAMPLE, "video/mp4", headers={"Accept-Ranges": "bytes"})
            server.media_done.setdefault(task_id, time.time())
            return None

    return Handler


class ChaosProcess:
    """A ChaosServer in its own process (tests of deadlines wait on real time: the server
    must not share the test's interpreter), driven over HTTP."""

    def __init__(self, *, task_seconds: float = 0.4, drip_s: float = 1.0):
        self.args = ["--task-seconds", str(task_seconds), "--drip", str(drip_s)]
        self.proc: subprocess.Popen | None = None
        self.base_url = ""

    def __enter__(self) -> ChaosProcess:
        self.proc = subprocess.Popen([sys.executable, __file__, *self.args],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.base_url = self.proc.stdout.readline().strip()
        if not self.base_url.startswith("http://"):
            self.__exit__()
            raise RuntimeError("the chaos server process did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.stdin.close()  # it serves until its stdin closes
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None

    def _call(self, path: str, data: dict | None = None) -> dict:
        request = urllib.request.Request(  # noqa: S310 - our server's http:// URL
            self.base_url + path, method="GET" if data is None else "POST",
            data=None if data is None else json.dumps(data).encode())
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - localhost
            return json.loads(answer.read())

    def count(self, kind: str) -> int:
        return int(self._call("/_chaos/hits").get(kind, 0))

    def done_task(self, prompt: str) -> str:
        """The id of a task that finished on the server some seconds ago."""
        return self._call("/_chaos/tasks", {"prompt": prompt, "age": 10})["id"]


def main() -> None:
    """Run one in its own process: prints its base URL, serves until stdin closes."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--task-seconds", type=float, default=0.2)
    parser.add_argument("--drip", type=float, default=1.0)
    args = parser.parse_args()
    with ChaosServer(task_seconds=args.task_seconds, drip_s=args.drip) as server:
        print(server.base_url, flush=True)
        sys.stdin.read()


if __name__ == "__main__":
    main()
