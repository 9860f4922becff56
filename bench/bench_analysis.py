"""Item 24 — analysis out of the download path: does measuring clips slow the downloads?

A batch of BATCH 6 s 768p tasks with bracketed prompts on an in-process emulator that
renders clips (rendered once before timing: the cache serves them, so rendering is not on
the clock). Each task's moment is when its video is saved (``download_state`` "done",
the sidecar written and the stills read); the clock starts at submission. Subject: the
analysis lane on (``settings.auto_analyse``, the default: camera check and clip quality on
one thread at nice 19 after each download); baseline: the lane off; and "inline", the
path before this change (the checks on the download worker before the video counts as
saved; re-enacted here by running them inside the stills step). Rounds interleaved,
medians. Context: how long after the last saved video the lane has measured them all.
Target: the first saved video no later with the lane on than off (within 10 %, the noise).
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

BATCH = 6
ROUNDS = 4
PROMPTS = [f"a harbour at dusk [{c}]" for c in ("Pan left", "Zoom in", "Tilt up", "Shake",
                                               "Truck right", "Static shot")][:BATCH]


def run() -> dict:
    import hailuo_nb
    from hailuo_nb.emulator import Emulator
    from hailuo_nb.emulator.clips import clip_for

    cache = tempfile.mkdtemp(prefix="hailuo-bench-analysis-")
    os.environ["HAILUO_EMULATOR_CACHE"] = cache
    for prompt in PROMPTS:
        clip_for(prompt, 6, "768p")
    from hailuo_nb._engine import analysis, downloads

    read_stills = downloads.stills_or_reason

    def stills_then_checks(path):  # the old order: measured before the video counts as saved
        result = read_stills(path)
        analysis.check_camera(path, "a harbour [Pan left]")
        analysis.measure_quality(path)
        return result

    first: dict[str, list[float]] = {"on": [], "off": [], "inline": []}
    last: dict[str, list[float]] = {"on": [], "off": [], "inline": []}
    analysed_after: list[float] = []
    with bc.isolated_home() as folder, Emulator(task_seconds=0.5, render=True) as emu:
        bc.point_at(emu.base_url)
        bc.set_polling(0.05, 0.2, 0.05)
        client = hailuo_nb.Client(api_key=bc.API_KEY, base_url=emu.base_url)

        def batch(lane: str) -> float:
            hailuo_nb.settings.auto_analyse = lane == "on"
            downloads.stills_or_reason = stills_then_checks if lane == "inline" else read_stills
            saved: dict[int, float] = {}
            start = time.perf_counter()
            tasks = []
            for i, prompt in enumerate(PROMPTS):
                task = hailuo_nb.generate(prompt, client=client,
                                          download_dir=str(folder / lane))

                def seen(change, i=i):
                    if change["new"] == "done":
                        saved.setdefault(i, time.perf_counter() - start)

                task.observe(seen, names="download_state")
                tasks.append(task)
            hailuo_nb.wait_all(tasks)
            first[lane].append(min(saved.values()))
            last[lane].append(max(saved.values()))
            if lane == "on":  # untimed for the next round: the lane drains before it starts
                for task in tasks:
                    task.wait_analysed()
                analysed_after.append(time.perf_counter() - start - max(saved.values()))
            return 0.0

        bc.interleave({lane: (lambda lane=lane: batch(lane)) for lane in first}, ROUNDS)
        downloads.stills_or_reason = read_stills
    on, off, inline = (bc.median(first[lane]) for lane in ("on", "off", "inline"))
    rows = [
        bc.row(f"time to the first saved video (batch of {BATCH}, median of {ROUNDS})",
               bc.fmt(off, "s"), bc.fmt(on, "s"), bc.ratio(on, off), "<= 1.1x off",
               on <= 1.1 * off),
        bc.row("  the same, checks inline before the video counts as saved (the old path)",
               bc.fmt(off, "s"), bc.fmt(inline, "s"), bc.ratio(inline, off), "(report)", None),
        bc.row(f"time to the last saved video of {BATCH}", bc.fmt(bc.median(last["off"]), "s"),
               bc.fmt(bc.median(last["on"]), "s"),
               bc.ratio(bc.median(last["on"]), bc.median(last["off"])), "(report)", None),
        bc.row("  (context) the lane done, after the last saved video", "-",
               bc.fmt(bc.median(analysed_after), "s"), "-", "(report)", None),
    ]
    notes = ["Baseline: settings.auto_analyse = False (no camera check, no quality). Before "
             "this change the camera check ran on the download worker before the video counted "
             "as saved: every video waited for its own check (the 'inline' row).",
             bc.machine_line()]
    return bc.section("24. Downloads with and without the analysis lane", rows, notes,
                      data={"first": first, "last": last, "analysed_after": analysed_after})


if __name__ == "__main__":
    bc.main(run)
