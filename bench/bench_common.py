"""Shared helpers of the benchmarks (not a benchmark itself).

Every figure is a ratio against a baseline measured in the same run, on the same
machine, interleaved with it (baseline, subject, baseline, subject, …) so whatever
else the machine is doing hits both alike; the tables report medians.

Each ``bench_*.py`` module has ``run() -> dict`` (a *section*: title, rows, notes) and
is runnable alone (``python bench/bench_submit.py``: prints its table; ``--json PATH``
also writes the section as JSON, which is how ``run.py`` collects them).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
TESTS_DIR = ROOT / "tests"
API_KEY = "sk-bench-0000"  # the emulator accepts any non-empty key

if str(ROOT) not in sys.path:  # run from anywhere: the checkout's hailuo_nb first
    sys.path.insert(0, str(ROOT))


# ---------------------------------------------------------------------------- numbers


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values)) if values else float("nan")


def ratio(subject: float, baseline: float) -> float:
    return subject / baseline if baseline else float("inf")


def interleave(runs: dict[str, Callable[[], float]], rounds: int, warmup: int = 1,
               *, collect: bool = False, seed: int = 0) -> dict[str, list[float]]:
    """Call each function once per round, in a fresh random (seeded) order every round,
    so none always runs first, last, or right after the same neighbour; returns the
    values. ``warmup`` rounds are run first and dropped. ``collect`` runs a full
    ``gc.collect()`` before each call (untimed), so one function's garbage is not
    collected on the next one's clock."""
    import gc
    import random

    order = random.Random(seed)
    names = list(runs)
    out: dict[str, list[float]] = {name: [] for name in names}
    for i in range(warmup + rounds):
        this_round = names[:]
        order.shuffle(this_round)
        for name in this_round:
            if collect:
                gc.collect()
            value = runs[name]()
            if i >= warmup:
                out[name].append(value)
    return out


def fmt(value: Any, unit: str = "", digits: int = 3) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, float):
        if value != value:  # nan
            return "-"
        text = f"{value:.{digits}g}" if abs(value) < 10 ** digits else f"{value:.0f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def row(what: str, baseline: str, subject: str, ratio_value: float | str | None,
        target: str, met: bool | None) -> dict:
    if isinstance(ratio_value, float):
        ratio_text = f"{ratio_value:.2f}x" if ratio_value == ratio_value else "-"
    else:
        ratio_text = ratio_value or "-"
    return {"what": what, "baseline": baseline, "subject": subject, "ratio": ratio_text,
            "target": target, "met": {True: "yes", False: "**NO**", None: "-"}[met]}


def section(title: str, rows: list[dict], notes: Sequence[str] = (),
            data: dict | None = None) -> dict:
    return {"title": title, "rows": rows, "notes": list(notes), "data": data or {}}


COLUMNS = ("what", "baseline", "subject", "ratio", "target", "met")


def markdown(sec: dict) -> str:
    lines = [f"## {sec['title']}", ""]
    if sec.get("error"):
        lines += [f"**The benchmark did not finish:** {sec['error']}", ""]
    if sec["rows"]:
        lines.append("| " + " | ".join(COLUMNS) + " |")
        lines.append("|" + "|".join("---" for _ in COLUMNS) + "|")
        for r in sec["rows"]:
            cells = [str(r[c]).replace("|", "\\|").replace("\n", " ") for c in COLUMNS]
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
    for note in sec.get("notes", ()):
        lines.append(f"- {note}")
    if sec.get("notes"):
        lines.append("")
    return "\n".join(lines)


def machine_line() -> str:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ""
    with contextlib.suppress(OSError):
        load = " load avg " + " ".join(Path("/proc/loadavg").read_text().split()[:3]) + ";"
    return (f"{os.cpu_count()} CPUs ({cpu or platform.machine()}); Python "
            f"{platform.python_version()} on {platform.system()} {platform.release()};{load} "
            f"{datetime.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")


def main(run: Callable[[], dict]) -> None:
    """The ``__main__`` of a bench module: run, print the table, optionally write JSON."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", default=None, help="also write the section here")
    args = parser.parse_args()
    sec = run()
    print(markdown(sec), flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps(sec, indent=1, default=str))


# ---------------------------------------------------------------------------- memory / threads


def rss_kb() -> int:
    """Current resident set size of this process, in KiB (VmRSS)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def maxrss_kb() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux


def os_threads() -> int:
    """Threads of this process as the OS sees them (Python's and native ones)."""
    return len(os.listdir("/proc/self/task"))


class RssSampler:
    """Samples VmRSS every ``period`` s in a thread: ``.peak`` KiB."""

    def __init__(self, period: float = 0.005):
        self.period = period
        self.peak = rss_kb()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="rss-sampler")

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_kb())
            self._stop.wait(self.period)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_kb())


# ---------------------------------------------------------------------------- environment


@contextlib.contextmanager
def isolated_home() -> Iterator[Path]:
    """A throwaway HAILUO_HOME and working directory (history, downloads), restored after."""
    folder = Path(tempfile.mkdtemp(prefix="hailuo-bench-"))
    saved_env = {k: os.environ.get(k) for k in ("HAILUO_HOME", "EVOLINK_API_KEY",
                                               "HAILUO_BASE_URL", "HAILUO_FILES_URL")}
    saved_cwd = os.getcwd()
    os.environ["HAILUO_HOME"] = str(folder / "home")
    os.environ["EVOLINK_API_KEY"] = API_KEY
    os.chdir(folder)
    try:
        yield folder
    finally:
        os.chdir(saved_cwd)
        for k, v in saved_env.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        shutil.rmtree(folder, ignore_errors=True)


def point_at(base_url: str) -> None:
    """Send this process's hailuo_nb (env and settings) to ``base_url``."""
    os.environ["HAILUO_BASE_URL"] = base_url
    os.environ["HAILUO_FILES_URL"] = base_url
    from hailuo_nb.settings import settings

    settings.base_url = base_url
    settings.files_url = base_url


def set_polling(poll_interval: float, max_poll_interval: float,
                first_poll_delay: float) -> None:
    from hailuo_nb.settings import settings

    # The validator needs each > 0; order does not matter (no cross-field checks).
    settings.poll_interval = poll_interval
    settings.max_poll_interval = max_poll_interval
    settings.first_poll_delay = first_poll_delay


# ---------------------------------------------------------------------------- emulator


# The emulator in a subprocess: one class for the benches and the tests' measurements.
sys.path.insert(0, str(TESTS_DIR))
from emulator_process import EmulatorProcess  # noqa: E402, F401 - re-exported for the benches


def run_python(code: str, *, env: dict | None = None, timeout: float = 300) -> str:
    """Run ``code`` in a fresh interpreter; returns its stdout (raises on failure)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT), *filter(None, [full_env.get("PYTHONPATH")])])
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env,
        timeout=timeout, cwd=str(ROOT), check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"subprocess failed ({done.returncode}): {done.stderr[-2000:]}")
    return done.stdout


def new_shell():
    """A real ``InteractiveShell`` with no history database (like tests/shell.py)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryAccessor.enabled = False
    config.InteractiveShell.colors = "NoColor"
    if InteractiveShell.initialized():
        InteractiveShell.clear_instance()
    return InteractiveShell.instance(config=config)


class KernelStandIn:
    """Enough of ipykernel for the cell to show its live view. It names no running cell
    (no execute_request), so every run is a new take: each one really sends its POST."""

    def get_parent(self, channel: str = "shell") -> dict:
        return {}


def run_cell(shell, code: str):
    """Run one cell with its output captured (as a notebook would keep it, not printed)."""
    from IPython.utils.capture import capture_output

    with capture_output(stdout=True, stderr=True, display=True) as captured:
        result = shell.run_cell(code, store_history=False)
    error = result.error_before_exec or result.error_in_exec
    if error is not None:
        raise RuntimeError(f"cell failed: {error!r}\n{captured.stderr}")
    return captured
