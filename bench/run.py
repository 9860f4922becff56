"""Run every benchmark, print the tables, write bench/RESULTS.md.

    python bench/run.py                  # all of them (a few minutes)
    python bench/run.py --only submit poller
    python bench/run.py --no-write       # print only

Each ``bench_*.py`` runs in its own fresh interpreter, one after the other (threads,
RSS and settings of one never leak into another). ``bench/emulator_throughput.py``
(another engineer's) is run too when present, and its output kept verbatim.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

# (name, module, timeout in s), in the order of the items.
BENCHES = (
    ("submit", "bench_submit.py", 300),
    ("poller", "bench_poller.py", 400),
    ("completion", "bench_completion.py", 200),
    ("download", "bench_download.py", 400),
    ("import", "bench_import.py", 300),
    ("notebook", "bench_notebook.py", 600),
    ("comm", "bench_comm.py", 300),
    ("drip", "bench_drip.py", 400),
    ("camera", "bench_camera.py", 900),  # renders its clips with a known camera first
    ("analysis", "bench_analysis.py", 400),  # downloads with and without the analysis lane
    # 200 live tasks in JupyterLab + headless Chromium: one Gallery vs 200 TaskViews
    ("gallery_browser", "bench_gallery_browser.py", 600),
    # one call per fault (503 forever, drips, no answer) against Client(deadline=8)
    ("deadlines", "bench_deadlines.py", 200),
    # 200 and 1,000 takes headless, shown in a Gallery: memory, notebook weight, history
    ("sweep", "bench_sweep.py", 3600),
)
OTHERS = (("emulator_throughput", "emulator_throughput.py", 300),
          ("soak", "soak.py", 900))  # 300 tasks through every fault, slow links included


def _run_one(module: str, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="hailuo-bench-run-") as tmp:
        out = Path(tmp) / "section.json"
        t0 = time.perf_counter()
        try:
            done = subprocess.run(
                [sys.executable, str(bc.BENCH_DIR / module), "--json", str(out)],
                capture_output=True, text=True, timeout=timeout, cwd=str(bc.ROOT),
                check=False,
            )
        except subprocess.TimeoutExpired:
            return bc.section(module, [], [], data={}) | {
                "error": f"timed out after {timeout:g} s", "seconds": timeout}
        took = time.perf_counter() - t0
        if done.returncode != 0 or not out.exists():
            tail = (done.stderr or done.stdout).strip().splitlines()[-8:]
            return bc.section(module, [], [], data={}) | {
                "error": f"exit {done.returncode}: " + " / ".join(tail), "seconds": took}
        sec = json.loads(out.read_text())
        sec["seconds"] = took
        return sec


def _run_other(module: str, timeout: float) -> str | None:
    path = bc.BENCH_DIR / module
    if not path.exists():
        return None
    try:
        done = subprocess.run(
            [sys.executable, str(path)], capture_output=True, text=True, timeout=timeout,
            cwd=str(bc.ROOT), check=False)
    except subprocess.TimeoutExpired:
        return f"(timed out after {timeout:g} s)"
    text = done.stdout.strip() or done.stderr.strip()
    return text if done.returncode == 0 else f"(exit {done.returncode})\n{text[-3000:]}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=[b[0] for b in BENCHES], default=None)
    parser.add_argument("--no-write", action="store_true", help="do not write RESULTS.md")
    parser.add_argument("--no-others", action="store_true",
                        help="skip benchmarks of other engineers (emulator_throughput.py)")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    machine = bc.machine_line()
    print(f"Machine: {machine}\n", flush=True)
    sections = []
    for name, module, timeout in BENCHES:
        if args.only and name not in args.only:
            continue
        print(f"[{name}] running {module} …", file=sys.stderr, flush=True)
        sec = _run_one(module, timeout)
        sections.append(sec)
        print(bc.markdown(sec), flush=True)
        print(f"[{name}] {sec.get('seconds', 0):.0f} s", file=sys.stderr, flush=True)
    others = []
    if not args.no_others and not args.only:
        for name, module, timeout in OTHERS:
            print(f"[{name}] running {module} …", file=sys.stderr, flush=True)
            text = _run_other(module, timeout)
            if text is not None:
                others.append((module, text))
                print(f"## {module} (output kept verbatim)\n\n```text\n{text}\n```\n",
                      flush=True)
    total = time.perf_counter() - started

    missed = [(s["title"], r["what"]) for s in sections for r in s["rows"]
              if r["met"] == "**NO**"]
    errors = [s["title"] for s in sections if s.get("error")]
    summary = [f"Targets missed: {len(missed)}" + (
        "".join(f"\n- {t}: {w}" for t, w in missed) if missed else "."),
        f"Benchmarks that did not finish: {', '.join(errors) or 'none'}."]
    print("\n".join(summary))
    print(f"\nTotal: {total:.0f} s", flush=True)

    if not args.no_write and not args.only:
        lines = [
            "# Benchmark results",
            "",
            f"Machine: {machine}.",
            "",
            "Every figure is a ratio against a baseline measured in the same run on this "
            "machine, interleaved with it (random order each round), against the built-in "
            "emulator; medians. How each is measured: bench/README.md. Regenerate with "
            "`python bench/run.py`" + f" (this run took {total:.0f} s).",
            "",
            *summary,
            "",
        ]
        for sec in sections:
            lines.append(bc.markdown(sec))
        for module, text in others:
            title = ("the soak: nothing lost, nothing sent twice" if module == "soak.py"
                     else "another engineer's benchmark")
            lines += [f"## {module} ({title}; output kept verbatim)", "",
                      "```text", text, "```", ""]
        (bc.BENCH_DIR / "RESULTS.md").write_text("\n".join(lines).rstrip() + "\n")
        print(f"Wrote {bc.BENCH_DIR / 'RESULTS.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
