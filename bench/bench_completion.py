"""Item 3 — completion detection: how soon a finished task is seen, and at what cost.

Real tasks take 30-180 s; here everything is scaled down by SCALE (16): tasks of
32, 48, …, 176 s become 2…11 s, and the poller's settings are scaled the same way
(``poll_interval`` 2 s → 0.125, ``max_poll_interval`` 15 s → 0.94, ``first_poll_delay``
1 s → 0.0625). The baseline is a fixed 5 s loop (scaled: 0.3125 s) of GETs until
completed, one thread per task, started at its submission (drift-free: it wakes at
submission + k x 5 s).

Subject and baseline tasks run at the same time, on two in-process emulators (one
each, so each side's GETs are counted apart: ``stats["by_route"]["GET /v1/tasks"]``),
submitted alternately. The server-side completion moment is ``created + duration``
of the emulator's own record; the subject's moment is an observer on ``Task.status``
recording ``time.time()`` when it becomes "completed"; the baseline's is the time its
loop read "completed". Medians over all tasks.

Scaling honestly: the API (and the emulator) report ``created`` and ``estimated_time`` in
whole seconds. Scaled by 16, a one-second rounding would be 16 s of error, so the scaled
durations are whole seconds and every submission is made in the first ~60 ms of a second.
Why 16 and not 20: with /20 a whole scaled second is exactly four 0.25 s loop periods, so
every baseline poll would land in the same phase as the completions (a flattering
baseline); with /16 (0.3125 s loop) the completions fall evenly on five phases of the loop.
The emulator's estimate is exact (the real service's is only an estimate).
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

SCALE = 16.0
REAL_DURATIONS = tuple(16 * d for d in range(2, 12))  # 32…176 s; /16 → 2…11 s, whole
REPEATS = 2
FIXED_LOOP = 5.0 / SCALE


def _baseline_loop(url: str, started: float, seen: dict, key: str) -> None:
    import requests

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {bc.API_KEY}"
    due = started
    while True:
        due += FIXED_LOOP
        time.sleep(max(0.0, due - time.time()))
        resp = session.get(url, timeout=30)
        resp.raise_for_status()
        if resp.json().get("status") in ("completed", "failed"):
            seen[key] = time.time()
            return


def run() -> dict:
    import requests

    import hailuo_nb
    from hailuo_nb.api import get_poller
    from hailuo_nb.emulator import Emulator

    with bc.isolated_home(), Emulator(seed=1) as emu_s, Emulator(seed=2) as emu_b:
        bc.set_polling(2.0 / SCALE, 15.0 / SCALE, 1.0 / SCALE)
        client = hailuo_nb.Client(base_url=emu_s.base_url)
        post = requests.Session()
        post.headers["Authorization"] = f"Bearer {bc.API_KEY}"
        body = hailuo_nb.GenerationRequest(prompt="A heron lands [Static shot]").to_json()
        # Warm both paths (imports, connections) with a task that ends at once.
        for emu in (emu_s, emu_b):
            emu.configure(task_seconds=0.0)
        hailuo_nb.generate("warm-up", client=client, wait=True, timeout=30)
        post.post(f"{emu_b.base_url}/v1/videos/generations", json=body, timeout=30).json()
        emu_s.reset_stats()
        emu_b.reset_stats()

        durations = [d / SCALE for d in REAL_DURATIONS for _ in range(REPEATS)]
        observed: dict[str, float] = {}
        seen: dict[str, float] = {}
        subject_ids: list[str] = []
        baseline_ids: list[str] = []
        threads = []

        def observer(task):
            def on_status(change):
                if change["new"] == "completed" and task.id not in observed:
                    observed[task.id] = time.time()
            return on_status

        time.sleep(1.0 - time.time() % 1.0 + 0.002)  # the start of a second (see above)
        t_first = time.time()
        for i, d in enumerate(durations):
            order = ("s", "b") if i % 2 == 0 else ("b", "s")
            for side in order:
                if side == "s":
                    emu_s.configure(task_seconds=d)
                    task = hailuo_nb.generate("A heron lands [Static shot]", client=client)
                    task.observe(observer(task), names="status")
                    if task.status == "completed":  # cannot happen in ≥ 2 s; never missed
                        observed.setdefault(task.id, time.time())
                    subject_ids.append(task.id)
                else:
                    emu_b.configure(task_seconds=d)
                    sent = time.time()
                    tid = post.post(f"{emu_b.base_url}/v1/videos/generations", json=body,
                                    timeout=30).json()["id"]
                    baseline_ids.append(tid)
                    th = threading.Thread(target=_baseline_loop, daemon=True, args=(
                        f"{emu_b.base_url}/v1/tasks/{tid}", sent, seen, tid))
                    th.start()
                    threads.append(th)
        spread = time.time() - t_first
        deadline = time.monotonic() + max(durations) + 30
        while (len(observed) < len(subject_ids) or len(seen) < len(baseline_ids)) and (
                time.monotonic() < deadline):
            time.sleep(0.05)
        for th in threads:
            th.join(1)

        def delays(emu, ids, when):
            out = []
            for tid in ids:
                rec = emu._state.tasks[tid]
                assert abs(emu.task(tid)["duration"] - rec.duration) < 1e-9
                if tid in when:
                    out.append(when[tid] - (rec.created + rec.duration))
            return out

        d_sub = delays(emu_s, subject_ids, observed)
        d_base = delays(emu_b, baseline_ids, seen)
        gets_s = emu_s.stats["by_route"].get("GET /v1/tasks", 0)
        gets_b = emu_b.stats["by_route"].get("GET /v1/tasks", 0)
        get_poller().stop_following_all()

    n_s, n_b = len(subject_ids), len(baseline_ids)
    med_s, med_b = bc.median(d_sub), bc.median(d_base)
    req_s, req_b = gets_s / n_s, gets_b / n_b
    real = lambda s: f"{s * 1e3:.0f} ms (= {s * SCALE:.1f} s real)"  # noqa: E731
    delay_ok = med_s <= med_b
    rows = [
        bc.row(f"median delay, server completion → seen (n = {n_s} + {n_b})",
               real(med_b), real(med_s), bc.ratio(med_s, med_b), "<= 1x (no worse)",
               delay_ok),
        bc.row("  worst delay", real(max(d_base)), real(max(d_sub)),
               bc.ratio(max(d_sub), max(d_base)), "(report)", None),
        bc.row("GET /v1/tasks per task", f"{req_b:.1f}", f"{req_s:.1f}", bc.ratio(req_s, req_b),
               "< 1x (fewer)", req_s < req_b),
    ]
    notes = [
        f"Durations {', '.join(str(d) for d in REAL_DURATIONS)} s (real), {REPEATS} tasks of "
        f"each per side, scaled /{SCALE:g} (to {REAL_DURATIONS[0] / SCALE:g}-"
        f"{REAL_DURATIONS[-1] / SCALE:g} s); all {n_s + n_b} submitted within {spread * 1e3:.0f} "
        "ms, alternately subject and baseline.",
        "Subject: hailuo_nb.generate + the poller (estimate-driven: it waits half the "
        "remaining time, between poll_interval and max_poll_interval). Baseline: sleep 5 s, "
        "GET, until completed.",
        f"Missed: {n_s - len(d_sub)} subject, {n_b - len(d_base)} baseline task(s) never "
        "seen completed within the guard time.",
        "The emulator's estimated_time is the exact duration: the real service's estimate "
        "is rougher, so the poller's real-world delay leans on max_poll_interval more.",
    ]
    return bc.section(f"3. Completion detection (scaled /{SCALE:g})", rows, notes, data={
        "delays_subject_s": d_sub, "delays_baseline_s": d_base,
        "gets_subject": gets_s, "gets_baseline": gets_b})


if __name__ == "__main__":
    bc.main(run)
