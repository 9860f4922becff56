"""A sweep of 200 and 1,000 takes, run headless (nbclient) against the emulator, then shown
in a ``Gallery``: what it costs in the kernel, on disk and in the saved notebook.

    python bench/bench_sweep.py [--sizes 200,1000] [--json PATH]

Per size, one notebook in a real kernel (the emulator in its own process, 0.5 s tasks, the
sample video): a first 100 takes, then the rest, each batch waited for; the kernel's RSS is
read after each has been saved and measured (after a full collection), so the cost of a
further settled take is
(RSS after all - RSS after 100) / (N - 100). Then a ``Gallery`` of every take is the last
output, and the executed notebook is saved: its size and its ``metadata.widgets``. A second,
fresh kernel on the same history times ``%load_ext hailuo_nb`` and ``history()``.
At 200 the same sweep runs twice, with the analysis lane on and off, side by side: the first
video saved must not wait for the analysis. Growth from 200 to 1,000 is a ratio.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

sys.path.insert(0, str(bc.TESTS_DIR))
from emulator_process import EmulatorProcess

FIRST = 100
TASK_SECONDS = 0.5

SETUP = """\
import gc, json, time
import hailuo_nb
from hailuo_nb.settings import settings
settings.max_in_flight = 64
settings.auto_analyse = {analyse}
def rss_kb():
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
T0 = time.time()
"""
BATCH = """\
{name} = hailuo_nb.generate_many(
    [f"take {{i}} of the sweep: a paper boat on a pond [{command}]"
     for i in range({start}, {stop})])
hailuo_nb.wait_all({name}, timeout=3600)
saved_s = time.time() - T0
for task in {name}:  # settled means measured too: the lane's work is in the figure
    task.wait_analysed(timeout=3600)
gc.collect()
print(json.dumps({{"{name}_rss_kb": rss_kb(), "{name}_s": saved_s,
                  "{name}_analysed_s": time.time() - T0}}))
"""
SHOW = """\
from hailuo_nb.widgets import Gallery
Gallery(first + rest)
"""
REOPEN = """\
import json, time
t = time.perf_counter()
get_ipython().run_line_magic("load_ext", "hailuo_nb")
load_ext_s = time.perf_counter() - t
import hailuo_nb
t = time.perf_counter()
rows = hailuo_nb.history()
history_s = time.perf_counter() - t
print(json.dumps({"load_ext_s": load_ext_s, "history_s": history_s, "rows": len(rows)}))
"""


def _notebook(cells: list[str]):
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    return nb


def _execute(nb, folder: Path, env: dict[str, str]) -> dict:
    """Run ``nb`` in a fresh kernel in ``folder``; the JSON its cells printed, merged."""
    from nbclient import NotebookClient

    saved = dict(os.environ)
    os.environ.update(env)
    try:
        NotebookClient(nb, timeout=3600, kernel_name="python3",
                       resources={"metadata": {"path": str(folder)}}).execute()
    finally:
        os.environ.clear()
        os.environ.update(saved)
    found: dict = {}
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                for line in out.get("text", "").splitlines():
                    if line.startswith("{"):
                        found.update(json.loads(line))
    return found


def sweep(n: int, *, analyse: bool = True) -> dict:
    """One sweep of ``n`` takes; its figures."""
    import nbformat

    folder = Path(tempfile.mkdtemp(prefix=f"hailuo-sweep-{n}-"))
    emulator = EmulatorProcess("--no-render", task_seconds=TASK_SECONDS, max_tasks=n + 100)
    try:
        emulator.start()
        env = {"EVOLINK_API_KEY": bc.API_KEY, "HAILUO_BASE_URL": emulator.base_url,
               "HAILUO_FILES_URL": emulator.base_url,
               "HAILUO_HOME": str(folder / "home"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(bc.ROOT),
                                                           os.environ.get("PYTHONPATH")]))}
        nb = _notebook([
            SETUP.format(analyse=analyse),
            BATCH.format(name="first", start=0, stop=FIRST, command="Pan left"),
            BATCH.format(name="rest", start=FIRST, stop=n, command="Zoom in"),
            SHOW,
        ])
        t0 = time.time()
        figures = _execute(nb, folder, env)
        path = folder / "sweep.ipynb"
        nbformat.write(nb, path)
        videos = sorted((folder / "hailuo_videos").glob("*.mp4"), key=lambda p: p.stat().st_mtime)
        figures.update({
            "n": n,
            "analyse": analyse,
            "videos": len(videos),
            "first_saved_s": (videos[0].stat().st_mtime - t0) if videos else None,
            "notebook_bytes": path.stat().st_size,
            "widget_state_bytes": len(json.dumps(nb.metadata.get("widgets", {}))),
            "rss_per_take_kb": (figures["rest_rss_kb"] - figures["first_rss_kb"]) / (n - FIRST),
            "sent": emulator.stats.get("tasks_created"),
        })
        if analyse:
            figures.update(_execute(_notebook([REOPEN]), folder, env))
    finally:
        emulator.stop()
        shutil.rmtree(folder, ignore_errors=True)
    return figures


def run(sizes: tuple[int, ...] = (200, 1000)) -> dict:
    results = {n: sweep(n) for n in sizes}
    quiet = sweep(sizes[0], analyse=False)
    rows = []

    def add(what: str, key: str, unit: str = "", scale: float = 1.0, target: str = "-",
            met=None) -> None:
        values = [results[n].get(key) for n in sizes]
        shown = [bc.fmt(None if v is None else round(v * scale, 3), unit) for v in values]
        growth = (values[-1] / values[0]) if values[0] and values[-1] else None
        rows.append(bc.row(what, shown[0], " / ".join(shown[1:]) or "-", growth, target,
                           None if met is None or None in values else met(values)))

    add("submit → all saved (the first 100 were measured before the rest went out)",
        "rest_s", "s")
    add("submit → all measured (camera check, quality)", "rest_analysed_s", "s")
    add("kernel RSS per further settled take", "rss_per_take_kb", "KB", target="≤ 40 KB",
        met=lambda v: max(v) <= 40)
    add("saved notebook (Gallery shown)", "notebook_bytes", "MB", 1e-6,
        target="≤ 1.5 MB at 200, ≤ 5x that at 1,000",
        met=lambda v: v[0] <= 1.5e6 and v[-1] <= 5 * v[0])
    add("widget state in the file", "widget_state_bytes", "KB", 1e-3)
    add("%load_ext in a new kernel", "load_ext_s", "s")
    add("history() in a new kernel", "history_s", "s")
    add("rows in the history", "rows")
    add("videos saved", "videos", target="every take", met=lambda v: v == list(sizes))
    add("tasks the emulator created", "sent", target="none twice",
        met=lambda v: v == list(sizes))
    on, off = results[sizes[0]], quiet
    rows.append(bc.row(f"first video saved at {sizes[0]}: analysis off → on",
                       bc.fmt(off["first_saved_s"], "s"), bc.fmt(on["first_saved_s"], "s"),
                       bc.ratio(on["first_saved_s"] or 0, off["first_saved_s"] or 0),
                       "as soon as without", None))
    return bc.section(
        f"Sweep of {' and '.join(map(str, sizes))} takes, headless, shown in a Gallery",
        rows,
        [f"Columns: baseline = {sizes[0]} takes, subject = {', '.join(map(str, sizes[1:]))}; "
         "the ratio is the growth from the first size to the last.",
         f"Emulator in its own process, {TASK_SECONDS} s tasks, the sample video; RSS per "
         f"take = (RSS after all - RSS after the first {FIRST}) / (N - {FIRST})."])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="200,1000")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    sec = run(tuple(int(s) for s in args.sizes.split(",")))
    print(bc.markdown(sec))
    if args.json:
        Path(args.json).write_text(json.dumps(sec, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
