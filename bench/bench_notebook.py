"""Item 6 — the weight of the saved quick-start notebook.

``hailuo_nb._presentation.demo.run_demo`` (nbclient, a real kernel, the emulator in the same
process) executes ``notebooks/quickstart.ipynb`` and saves it; its size on disk is the subject.
Baseline: the same notebook as committed (outputs cleared). Target: <= 200 KB saved.
The breakdown says where the bytes are: the saved widget state
(``metadata.widgets``, written by nbclient's ``store_widget_state``), each cell's
outputs, and what is left.
"""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

TARGET_KB = 120.0  # with posters and frame strips, 3 videos (issue: the notebook is the record)
TASK_SECONDS = 2.0
WANTED_VIDEOS = 3
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def _size(obj) -> int:
    return len(json.dumps(obj, indent=1, ensure_ascii=False).encode())


def _execute(notebook: Path | None) -> tuple[dict, int, int, float]:
    """Run the demo on ``notebook`` (None: the quick start); (saved nb, bytes, videos, s)."""
    from hailuo_nb._presentation.demo import find_notebook, run_demo

    source = find_notebook(notebook)
    out = Path(tempfile.mkdtemp(prefix="hailuo-bench-nb-"))
    try:
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            run_demo(out, notebook=source, task_seconds=TASK_SECONDS, timeout=300)
        took = time.perf_counter() - t0
        saved = out / source.name
        nb = json.loads(saved.read_text(encoding="utf-8"))
        size = saved.stat().st_size
        videos = len(list((out / "hailuo_videos").glob("*.mp4")))
    finally:
        shutil.rmtree(out, ignore_errors=True)
    return nb, size, videos, took


def _with_more_videos(source: Path, folder: Path, extra: int) -> Path:
    """A copy of the notebook with ``extra`` more copies of its first %%hailuo cell."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    cells = nb["cells"]
    index = next(i for i, c in enumerate(cells)
                 if "".join(c.get("source", "")).startswith("%%hailuo"))
    for k in range(extra):
        cell = json.loads(json.dumps(cells[index]))
        text = "".join(cell["source"]).replace("-o first", f"-o more{k}")
        cell["source"] = text.replace("A paper boat", f"Another paper boat ({k + 2})")
        cell.pop("id", None)
        cells.insert(index + 1 + k, cell)
    target = folder / source.name
    target.write_text(json.dumps(nb, indent=1), encoding="utf-8")
    return target


def run() -> dict:
    try:
        from hailuo_nb._presentation.demo import find_notebook
    except ImportError as exc:
        return bc.section("6. Notebook weight", [],
                          [f"hailuo_nb._presentation.demo is missing: {exc}"])
    source = find_notebook(None)
    base = source.stat().st_size
    nb, size, videos, took = _execute(None)
    kb = lambda n: f"{n / 1024:.1f} KB"  # noqa: E731
    rows = [bc.row(f"saved quickstart.ipynb, executed ({videos} videos) vs as committed",
                   kb(base), kb(size), bc.ratio(size, base), f"<= {TARGET_KB:g} KB saved",
                   size / 1024 <= TARGET_KB)]
    more_note = ""
    if videos < WANTED_VIDEOS:
        with tempfile.TemporaryDirectory(prefix="hailuo-bench-nbsrc-") as folder:
            variant = _with_more_videos(source, Path(folder), WANTED_VIDEOS - videos)
            _, size3, videos3, _ = _execute(variant)
        rows.append(bc.row(
            f"the same plus {WANTED_VIDEOS - videos} more copy of its %%hailuo --wait cell "
            f"({videos3} videos)", kb(base), kb(size3), bc.ratio(size3, base),
            f"<= {TARGET_KB:g} KB saved", size3 / 1024 <= TARGET_KB))
        more_note = (f"The quick start makes {videos} videos; the issue asks about 3, so a "
                     "copy with its first %%hailuo cell repeated was executed too.")

    widget_state = nb.get("metadata", {}).get("widgets", {})
    state = widget_state.get(WIDGET_STATE, {}).get("state", {})
    n_models = len(state)
    views = sum(1 for cell in nb.get("cells", []) for out in cell.get("outputs") or []
                if WIDGET_VIEW in out.get("data", {}))
    records = sum(1 for cell in nb.get("cells", []) for out in cell.get("outputs") or []
                  if "hailuo-record" in "".join(out.get("data", {}).get("text/html", "")))
    rows += [
        bc.row("widget models saved in the notebook once everything settled", "0",
               str(n_models), "-", "0", n_models == 0),
        bc.row("widget-view outputs saved once everything settled", "0", str(views), "-", "0",
               views == 0),
        bc.row("static records (poster, strip, player) in the saved notebook", "-",
               str(records), "-", "(report)", None),
    ]
    by_model: dict[str, int] = {}
    for model in state.values():
        name = model.get("model_name", "?")
        by_model[name] = by_model.get(name, 0) + _size(model)
    top_models = sorted(by_model.items(), key=lambda kv: -kv[1])[:4]
    cells = []
    for i, cell in enumerate(nb.get("cells", [])):
        outs = cell.get("outputs") or []
        if outs:
            src = "".join(cell.get("source", ""))
            cells.append((i, src.splitlines()[0][:40] if src else "", _size(outs)))
    cells.sort(key=lambda c: -c[2])
    rows += [
        bc.row("  quick start, of which: saved widget state (metadata.widgets)", "-",
               f"{kb(_size(widget_state))}, {n_models} models", "-", "(breakdown)", None),
        bc.row("  quick start, of which: cell outputs", "-", kb(sum(c[2] for c in cells)),
               "-", "(breakdown)", None),
    ]
    notes = [
        f"Executed by hailuo_nb._presentation.demo.run_demo (nbclient, emulator tasks of "
        f"{TASK_SECONDS:g} s) in {took:.1f} s.",
        "Heaviest widget models by kind: " + ", ".join(
            f"{name} {kb(n)}" for name, n in top_models) + ".",
        "Heaviest outputs: " + "; ".join(
            f"cell {i} `{first}` {kb(n)}" for i, first, n in cells[:3]) + ".",
    ]
    if more_note:
        notes.insert(0, more_note)
    return bc.section("6. Notebook weight", rows, notes, data={
        "saved_bytes": size, "committed_bytes": base, "videos": videos,
        "widget_models": n_models, "by_model_bytes": by_model})


if __name__ == "__main__":
    bc.main(run)
