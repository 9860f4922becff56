"""Item 4 — downloading a 200 MB result.

A 200 MiB file of random bytes is made once in a temporary folder and served as every
result by the emulator (a subprocess, ``--video-file``). One task is created; its
result URL is then fetched ROUNDS times by each of, interleaved in a random order:

- baseline: ``curl -s -o FILE URL`` (its own ``%{time_total}``);
- subject: ``Client.download(url, path)`` in a fresh Python process, timed around the
  call; that process samples its VmRSS every 5 ms in a thread and reports the peak
  (and ``ru_maxrss``) over its RSS just before the call (target <= 20 MB growth);
- context: ``downloads.save_result`` (what the downloader thread runs: the download,
  then a sha256 of the file for the JSON sidecar).
Throughput is size / time; ratio = subject throughput / curl throughput (target >= 0.8).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

SIZE = 200 * 1024 * 1024
ROUNDS = 7
THROUGHPUT_TARGET = 0.8
RSS_TARGET_MB = 20.0

CHILD = r"""
import json, os, resource, sys, threading, time
sys.path.insert(0, {bench!r})
import bench_common as bc
from hailuo_nb import Client
mode, url, path = sys.argv[1], sys.argv[2], sys.argv[3]
client = Client(api_key="sk-bench", base_url={base!r})
if mode == "save_result":
    from hailuo_nb._engine.downloads import save_result
    from hailuo_nb.task import Task
    task = Task(client=client, id=os.path.basename(path)[:-4], status="completed",
                results=[url], download_dir=os.path.dirname(path))
before = bc.rss_kb()
with bc.RssSampler(0.005) as sampler:
    t0 = time.perf_counter()
    if mode == "save_result":
        assert save_result(task, client) is not None, task.download_error
    else:
        client.download(url, path)
    elapsed = time.perf_counter() - t0
print(json.dumps({{"seconds": elapsed, "rss_before_kb": before, "rss_peak_kb": sampler.peak,
                  "maxrss_kb": bc.maxrss_kb(), "bytes": os.path.getsize(path)}}))
"""


def _make_file(folder: Path) -> Path:
    path = folder / "big.mp4"
    with open(path, "wb") as handle:
        block = os.urandom(4 * 1024 * 1024)
        # An MP4 'ftyp' box first: downloads are verified to be a video container.
        block = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + block[24:]
        for i in range(SIZE // len(block)):  # distinct blocks: nothing compressible
            handle.write(block if i == 0 else block[i:] + block[:i])
    return path


def run(rounds: int = ROUNDS) -> dict:
    import requests

    curl = shutil.which("curl")
    if curl is None:
        return bc.section("4. Download of a 200 MiB result", [], [
            "curl is not installed (apt-get install -y curl): no baseline, nothing measured."])
    folder = Path(tempfile.mkdtemp(prefix="hailuo-bench-dl-"))
    try:
        video = _make_file(folder)
        out_dir = folder / "out"
        out_dir.mkdir()
        with bc.EmulatorProcess(task_seconds=0, video_file=str(video)) as emu:
            session = requests.Session()
            session.headers["Authorization"] = f"Bearer {bc.API_KEY}"
            tid = session.post(f"{emu.base_url}/v1/videos/generations", timeout=30, json={
                "model": "MiniMax-Hailuo-2.3", "prompt": "a big one"}).json()["id"]
            url = session.get(f"{emu.base_url}/v1/tasks/{tid}", timeout=30).json()["results"][0]
            child = CHILD.format(bench=str(bc.BENCH_DIR), base=emu.base_url)
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                [str(bc.ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
            reports: dict[str, list[dict]] = {"client": [], "save_result": []}

            def target() -> Path:
                return out_dir / f"{tid}.mp4"

            def clean() -> None:
                for p in out_dir.iterdir():
                    p.unlink()

            def by_curl() -> float:
                clean()
                done = subprocess.run(
                    [curl, "-s", "-f", "-o", str(target()), "-w", "%{time_total}", url],
                    capture_output=True, text=True, check=True)
                assert target().stat().st_size == SIZE
                return float(done.stdout.strip().replace(",", "."))

            def by_python(mode: str):
                def call() -> float:
                    clean()
                    done = subprocess.run(
                        [sys.executable, "-c", child, mode, url, str(target())],
                        capture_output=True, text=True, check=True, env=env)
                    report = json.loads(done.stdout.strip().splitlines()[-1])
                    assert report["bytes"] == SIZE
                    reports[mode].append(report)
                    return report["seconds"]
                return call

            times = bc.interleave({"curl": by_curl, "client": by_python("client"),
                                   "save_result": by_python("save_result")},
                                  rounds, warmup=1)
            # The warm-up round's reports are dropped like its times.
            for mode in reports:
                reports[mode] = reports[mode][-rounds:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)

    mb = SIZE / 2**20
    med = {k: bc.median(v) for k, v in times.items()}
    thr = {k: mb / v for k, v in med.items()}
    r_client = thr["client"] / thr["curl"]
    r_save = thr["save_result"] / thr["curl"]
    growth = [max(r["rss_peak_kb"], r["maxrss_kb"]) - r["rss_before_kb"]
              for r in reports["client"]]
    growth_save = [max(r["rss_peak_kb"], r["maxrss_kb"]) - r["rss_before_kb"]
                   for r in reports["save_result"]]
    g_med, g_max = bc.median(growth) / 1024, max(growth) / 1024  # MiB, like "MB" below
    rows = [
        bc.row(f"throughput, Client.download vs curl -s -o (median of {rounds})",
               f"{thr['curl']:.0f} MiB/s", f"{thr['client']:.0f} MiB/s", r_client,
               f">= {THROUGHPUT_TARGET}x", r_client >= THROUGHPUT_TARGET),
        bc.row("  (context) save_result: download + sha256 for the sidecar, vs curl",
               f"{thr['curl']:.0f} MiB/s", f"{thr['save_result']:.0f} MiB/s", r_save,
               "(report)", None),
        bc.row("peak RSS growth during Client.download (VmRSS every 5 ms, ru_maxrss)",
               f"{bc.median([r['rss_before_kb'] for r in reports['client']]) / 1024:.1f} MB "
               "before", f"+{g_med:.1f} MB median, +{g_max:.1f} MB worst", "-",
               f"<= {RSS_TARGET_MB:g} MB", g_max <= RSS_TARGET_MB),
        bc.row("  (context) peak RSS growth during save_result", "-",
               f"+{bc.median(growth_save) / 1024:.1f} MB median", "-", "(report)", None),
    ]
    notes = [
        f"{mb:.0f} MiB of random bytes served by the emulator (Python, 256 KB writes) on "
        "127.0.0.1; both clients write to the same folder; times exclude process start "
        f"(curl's time_total; perf_counter around the call). Medians: curl "
        f"{med['curl']:.2f} s, Client.download {med['client']:.2f} s, save_result "
        f"{med['save_result']:.2f} s.",
    ]
    return bc.section("4. Download of a 200 MiB result", rows, notes, data={
        "times_s": times, "reports": reports})


if __name__ == "__main__":
    bc.main(run)
