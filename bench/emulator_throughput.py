#!/usr/bin/env python
"""Emulator throughput: GET /v1/tasks/{id} per second under N concurrent keep-alive clients.

    python bench/emulator_throughput.py                 # 50 clients, 10 s per server
    python bench/emulator_throughput.py --clients 50 --seconds 10 --rounds 2

Both servers run in their own subprocess (the client threads and the server do not share
a GIL): the emulator (``python -m hailuo_nb.cli emulator``), and as a baseline a bare
``http.server.ThreadingHTTPServer`` that answers every GET with a fixed JSON body of the
same size as a task view, with the same transport settings (HTTP/1.1 keep-alive, Nagle
off). The load is the same for both: N threads, each with its own ``requests.Session``
(one keep-alive connection), each asking again as soon as it has an answer, for
``--seconds`` after a short warm-up. With ``--rounds`` > 1 the two alternate.

Prints a Markdown table: server, clients, requests, seconds, req/s, p50/p95/p99 latency
(ms), the server process's CPU use over the window, and errors. The client is Python
too, so both rows are bounded by what one client process can send and by the other
load on the machine; the ratio of the two rows is the meaningful number: what the
emulator's own work (auth, routing, lookup, JSON, stats, fault checks) costs.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import platform
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
KEY = "sk-bench-throughput"
URL_RE = re.compile(r"listening on (http://[\d.]+:\d+)")

BASELINE = r"""
import json, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

BODY = json.dumps({"pad": "x" * int(sys.argv[1])}).encode()

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(BODY)))
        self.end_headers()
        self.wfile.write(BODY)

    def log_message(self, *args):
        pass

class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512

server = Server(("127.0.0.1", 0), Handler)
print("baseline listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
server.serve_forever()
"""


class Server:
    """A server subprocess; ``url`` once it has printed its listening line."""

    def __init__(self, name: str, argv: list[str]):
        self.name = name
        self._log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            prefix=f"{name}-", suffix=".log", delete=False)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
        self.proc = subprocess.Popen(argv, stdout=self._log,
                                     stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + 60
        while True:
            text = Path(self._log.name).read_text(errors="replace")
            match = URL_RE.search(text)
            if match:
                self.url = match.group(1)
                return
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"{name} did not start: {text!r}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._log.close()
        Path(self._log.name).unlink(missing_ok=True)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@dataclass
class Result:
    server: str
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, requests in the window
    errors: int = 0
    server_cpu: float = float("nan")  # CPU seconds the server process used in the window

    @property
    def requests(self) -> int:
        return len(self.latencies)

    def percentile(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def client_threads(urls: list[str], first: int, count: int, start: float,
                   end: float) -> tuple[list[float], int]:
    """``count`` threads in this process, each with its own Session (one keep-alive
    connection), GET in a loop until ``end`` (wall clock); latencies of the requests that
    started after ``start`` and ended before ``end``, and the number of errors."""
    per_thread: list[list[float]] = [[] for _ in range(count)]
    errors = [0] * count

    def client(k: int) -> None:
        url = urls[(first + k) % len(urls)]
        headers = {"Authorization": f"Bearer {KEY}"}
        mine = per_thread[k]
        with requests.Session() as session:
            while True:
                w0, t0 = time.time(), time.perf_counter()
                if w0 >= end:
                    break
                try:
                    r = session.get(url, headers=headers, timeout=30)
                    ok = r.status_code == 200
                    r.content  # noqa: B018 - read the whole answer
                except requests.RequestException:
                    ok = False
                t1 = time.perf_counter()
                if not ok:
                    errors[k] += 1
                elif w0 >= start and w0 + (t1 - t0) <= end:
                    mine.append(t1 - t0)

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(end - time.time() + 120)
    return [x for mine in per_thread for x in mine], sum(errors)


def load(name: str, pid: int, urls: list[str], clients: int, seconds: float,
         warmup: float, procs: int = 1) -> Result:
    """``clients`` concurrent clients (threads, spread over ``procs`` client processes)
    against one server for ``warmup`` + ``seconds``; only the last ``seconds`` count."""
    start = time.time() + max(warmup, 1.5 if procs > 1 else 0.0)
    end = start + seconds
    shares = [clients // procs + (1 if i < clients % procs else 0) for i in range(procs)]
    firsts = [sum(shares[:i]) for i in range(procs)]
    result = Result(name, clients, seconds)
    outcome: list = []
    if procs == 1:
        worker = threading.Thread(target=lambda: outcome.append(
            client_threads(urls, 0, clients, start, end)), daemon=True)
        worker.start()
    else:
        pool = ProcessPoolExecutor(procs, mp_context=multiprocessing.get_context("fork"))
        futures = [pool.submit(client_threads, urls, f, n, start, end)
                   for f, n in zip(firsts, shares, strict=True)]
    time.sleep(max(0.0, start - time.time()))
    cpu_start = cpu_seconds(pid)
    time.sleep(max(0.0, end - time.time()))
    result.server_cpu = cpu_seconds(pid) - cpu_start
    if procs == 1:
        worker.join(seconds + 120)
        parts = outcome
    else:
        parts = [f.result() for f in futures]
        pool.shutdown()
    for latencies, errors in parts:
        result.latencies.extend(latencies)
        result.errors += errors
    return result


def table(results: list[Result]) -> str:
    lines = ["| server | clients | requests | seconds | req/s | p50 ms | p95 ms | p99 ms "
             "| server CPU | errors |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        lines.append(
            f"| {r.server} | {r.clients} | {r.requests} | {r.seconds:.1f} | "
            f"{r.requests / r.seconds:.0f} | {r.percentile(0.50):.1f} | "
            f"{r.percentile(0.95):.1f} | {r.percentile(0.99):.1f} | "
            f"{r.server_cpu / r.seconds:.0%} | {r.errors} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10.0, help="measured, per run")
    parser.add_argument("--warmup", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=1, help="baseline/emulator alternations")
    parser.add_argument("--tasks", type=int, default=50, help="distinct tasks the clients read")
    parser.add_argument("--procs", type=int, default=1,
                        help="client processes the clients are spread over (default 1: all "
                             "threads of this process; more takes the client's GIL out of "
                             "the way)")
    args = parser.parse_args(argv)

    emulator = Server("emulator", [sys.executable, "-m", "hailuo_nb.cli", "emulator",
                                   "--port", "0", "--task-seconds", "3600"])
    try:
        ids = []
        with requests.Session() as session:
            for i in range(args.tasks):
                r = session.post(f"{emulator.url}/v1/videos/generations", timeout=30,
                                 headers={"Authorization": f"Bearer {KEY}"},
                                 json={"model": "MiniMax-Hailuo-2.3", "prompt": f"bench {i}"})
                r.raise_for_status()
                ids.append(r.json()["id"])
            sample = session.get(f"{emulator.url}/v1/tasks/{ids[0]}", timeout=30,
                                 headers={"Authorization": f"Bearer {KEY}"})
            body_size = len(sample.content)
            session.post(f"{emulator.url}/_emulator/reset_stats", timeout=30)
        task_urls = [f"{emulator.url}/v1/tasks/{i}" for i in ids]
        baseline = Server("baseline", [sys.executable, "-c", BASELINE,
                                       str(max(1, body_size - 11))])
        try:
            results = []
            for _ in range(args.rounds):
                results.append(load("bare ThreadingHTTPServer (fixed JSON)", baseline.proc.pid,
                                    [baseline.url], args.clients, args.seconds, args.warmup,
                                    args.procs))
                results.append(load("emulator GET /v1/tasks/{id}", emulator.proc.pid,
                                    task_urls, args.clients, args.seconds, args.warmup,
                                    args.procs))
            stats = requests.get(f"{emulator.url}/_emulator/stats", timeout=30).json()
        finally:
            baseline.stop()
    finally:
        emulator.stop()

    print(f"# Emulator throughput ({args.clients} keep-alive clients in {args.procs} client "
          f"process(es), {args.seconds:g} s per run, {args.rounds} round(s))\n")
    print(table(results))
    emu = [r for r in results if r.server.startswith("emulator")]
    base = [r for r in results if not r.server.startswith("emulator")]
    emu_rate = sum(r.requests for r in emu) / sum(r.seconds for r in emu)
    base_rate = sum(r.requests for r in base) / sum(r.seconds for r in base)
    print()
    print(f"- emulator / baseline throughput: {emu_rate / base_rate:.2f}x "
          f"({emu_rate:.0f} vs {base_rate:.0f} req/s)")
    print(f"- answer size: {body_size} bytes (the baseline's body is padded to match)")
    print(f"- the emulator counted {stats['by_route'].get('GET /v1/tasks', 0)} task queries "
          f"(warm-up and window edges included), answered {stats['by_status']}")
    print(f"- machine: {os.cpu_count()} CPUs, Python {platform.python_version()}, "
          f"load avg {' '.join(Path('/proc/loadavg').read_text().split()[:3])}; "
          f"client and servers are separate processes ({args.procs} client process(es))")
    print("- server CPU: the server process's CPU time over the window (100% = one core; "
          "a GIL-bound Python server tops out near there, the rest is the client's)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
