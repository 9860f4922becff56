"""Item 9 — the camera check on the emulator's clips: is each command's motion named?

For each of the 15 commands (and two combinations and a sequence) the emulator renders a
6 s 768p clip whose camera moves as the command says (hailuo_nb/emulator/clips.py); the
camera check (hailuo_nb/camera_check.py) reads it back. Subject: its verdict per command
and the time per clip. Targets: at least 13 of the 15 single commands named right, none
named wrong (it says "unsure" instead), and at most 1 s per 6 s 768p clip.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

SINGLES = ["Truck left", "Truck right", "Pan left", "Pan right", "Push in", "Pull out",
           "Pedestal up", "Pedestal down", "Tilt up", "Tilt down", "Zoom in", "Zoom out",
           "Shake", "Tracking shot", "Static shot"]
MORE = ["a scene [Pan left,Pedestal up]", "a scene [Zoom in,Truck right]",
        "a scene [Tilt up] then [Pan right] then [Pull out]"]


def run() -> dict:
    from hailuo_nb._media.camera_motion import camera_report
    from hailuo_nb.emulator.clips import clip_for

    rows, times, verdicts = [], [], {}
    with tempfile.TemporaryDirectory(prefix="hailuo-bench-camera-") as cache:
        import os

        os.environ["HAILUO_EMULATOR_CACHE"] = cache
        prompts = [f"a scene [{c}]" for c in SINGLES] + MORE
        for prompt in prompts:
            clip = clip_for(prompt, 6, "768p")
            t0 = time.perf_counter()
            report = camera_report(clip, prompt)
            times.append(time.perf_counter() - t0)
            for r in report.rows:
                if prompt in MORE or r.command in SINGLES:
                    verdicts.setdefault(prompt, []).append(r)
                rows.append(bc.row(f"{prompt}: [{r.command}]", r.expected, r.seen,
                                   f"{r.confidence:.2f}", "named right, or unsure",
                                   None if r.verdict == "unsure" else r.verdict == "match"))
    singles = [verdicts[f"a scene [{c}]"][0].verdict for c in SINGLES]
    right, wrong = singles.count("match"), singles.count("mismatch")
    rows.insert(0, bc.row("single commands named right (of 15)", "13", str(right), "-",
                          ">= 13, 0 wrong", right >= 13 and wrong == 0))
    rows.insert(1, bc.row("time per 6 s 768p clip (median of "
                          f"{len(times)}; worst {max(times):.2f} s)", "1.00 s",
                          f"{statistics.median(times):.2f} s", "-", "<= 1 s",
                          statistics.median(times) <= 1.0))
    notes = ["A 'yes' row is a match, '**NO**' a wrong motion, '-' an honest 'unsure' (a "
             "tracking shot is never judged). Pan and truck look alike on a flat scene, as do "
             "tilt and pedestal and zoom and push: each pair counts as one motion."]
    return bc.section("9. Camera check on the emulator's clips", rows, notes,
                      data={"right": right, "wrong": wrong, "seconds": times})


if __name__ == "__main__":
    bc.main(run)
