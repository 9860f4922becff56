"""Item 8 — one slow answer costs only its own task.

50 tasks against the chaos server (tests/chaos_server.py, not the emulator): once all
well-behaved, once with one task whose status answer drips a byte a second and one whose
video drips a byte a second. Subject: when the 49 others are seen completed and saved,
measured from the first submission (median and worst). Baseline: the same 49 in the run
without drips, in the same process, interleaved. Target: no later than without (+1 s).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
import bench_common as bc
from chaos_server import ChaosServer

TASKS = 50
ROUNDS = 2


def _one_run(drip: bool) -> tuple[list[float], list[float]]:
    import hailuo_nb

    with ChaosServer(task_seconds=2.0, drip_s=1.0) as server:
        client = hailuo_nb.Client(api_key="sk-bench-drip", base_url=server.base_url,
                                  call_deadline=10.0, download_deadline=20.0)
        prompts = [f"calm {i} [Pan left]" for i in range(TASKS)]
        if drip:
            prompts[0], prompts[1] = "drip-poll [Pan left]", "drip-video [Pan right]"
        t0 = time.time()
        tasks = [hailuo_nb.generate(p, client=client) for p in prompts]
        others = tasks[2:]
        seen, saved = {}, {}
        while len(saved) < len(others) and time.time() - t0 < 120:
            for task in others:
                if task.status == "completed":
                    seen.setdefault(task.id, time.time() - t0)
                if task.local_path:
                    saved.setdefault(task.id, time.time() - t0)
            time.sleep(0.02)
        hailuo_nb._engine.scheduler.stop_following_all()
        client.close()
    return sorted(seen.values()), sorted(saved.values())


def run() -> dict:
    with bc.isolated_home():
        bc.set_polling(0.5, 2.0, 0.2)
        results: dict[str, list] = {"calm": [], "drip": []}
        for _ in range(ROUNDS):
            for name in ("calm", "drip"):
                results[name].append(_one_run(name == "drip"))
    rows = []
    for label, index in (("seen completed", 0), ("saved to disk", 1)):
        calm = [statistics.median(r[index]) for r in results["calm"]]
        drip = [statistics.median(r[index]) for r in results["drip"]]
        calm_worst = statistics.median([max(r[index]) for r in results["calm"]])
        drip_worst = statistics.median([max(r[index]) for r in results["drip"]])
        n = min(len(r[index]) for r in results["calm"] + results["drip"])
        rows.append(bc.row(f"the 48 other tasks {label}: median, no drip vs one dripping poll "
                           f"+ one dripping download (n = {n})",
                           f"{statistics.median(calm):.2f} s", f"{statistics.median(drip):.2f} s",
                           f"{statistics.median(drip) - statistics.median(calm):+.2f} s",
                           "<= +1 s", statistics.median(drip) <= statistics.median(calm) + 1))
        rows.append(bc.row(f"  worst of them {label}", f"{calm_worst:.2f} s",
                           f"{drip_worst:.2f} s", f"{drip_worst - calm_worst:+.2f} s",
                           "<= +1 s", drip_worst <= calm_worst + 1))
    notes = [f"{TASKS} tasks of 2 s each, {ROUNDS} rounds of each run, interleaved; the chaos "
             "server drips one byte a second; polls run on 4 workers and downloads on 3, "
             "every call within a total deadline (10 s here)."]
    return bc.section("8. One slow answer among 50 tasks", rows, notes, data=results)


if __name__ == "__main__":
    bc.main(run)
