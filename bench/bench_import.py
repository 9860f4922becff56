"""Item 5 — import time.

Fresh interpreters (``python -c …``), hyperfine-style: every command run ROUNDS times,
interleaved in a random order each round, wall time per process, medians.

- ``import hailuo_nb`` vs ``import ipywidgets, requests, traitlets`` (target <= 1.2x);
- ``import hailuo_nb; hailuo_nb.Client`` (forces the client) vs the same baseline;
- ``%load_ext hailuo_nb`` in an ``InteractiveShell`` vs a cell ``import ipywidgets,
  requests, traitlets`` in the same kind of shell (both timed inside the process, after
  the shell exists; a throwaway HAILUO_HOME with an empty history).
``python -c pass`` is timed too: the interpreter's own start, for reading the figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_common as bc

ROUNDS = 17
TARGET = 1.2
DEPS = "import ipywidgets, requests, traitlets"

SHELL_CODE = """
import sys, time
sys.path.insert(0, {bench!r})
import bench_common as bc
shell = bc.new_shell()
t0 = time.perf_counter()
bc.run_cell(shell, {cell!r})
print(time.perf_counter() - t0)
"""


def _env(home: str) -> dict:
    env = {**os.environ, "HAILUO_HOME": home}
    env["PYTHONPATH"] = os.pathsep.join([str(bc.ROOT), *filter(None, [env.get("PYTHONPATH")])])
    for name in ("EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL"):
        env.pop(name, None)  # no key: %load_ext has nothing to resume, as on a first visit
    return env


def _wall(code: str, env: dict) -> float:
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], env=env, check=True,
                   stdout=subprocess.DEVNULL, cwd=env["HAILUO_HOME"])
    return time.perf_counter() - t0


def _inside(cell: str, env: dict) -> float:
    code = SHELL_CODE.format(bench=str(bc.BENCH_DIR), cell=cell)
    out = subprocess.run([sys.executable, "-c", code], env=env, check=True,
                         capture_output=True, text=True, cwd=env["HAILUO_HOME"])
    return float(out.stdout.strip().splitlines()[-1])


def run(rounds: int = ROUNDS) -> dict:
    with tempfile.TemporaryDirectory(prefix="hailuo-bench-import-") as home:
        env = _env(home)
        commands = {
            "pass": "pass",
            "deps": DEPS,
            "hailuo_nb": "import hailuo_nb",
            "hailuo_nb.Client": "import hailuo_nb; hailuo_nb.Client",
        }
        runs = {name: (lambda code=code: _wall(code, env)) for name, code in commands.items()}
        runs["shell: deps cell"] = lambda: _inside(DEPS, env)
        runs["shell: %load_ext"] = lambda: _inside("%load_ext hailuo_nb", env)
        times = bc.interleave(runs, rounds, warmup=1)
    med = {k: bc.median(v) for k, v in times.items()}
    base, start = med["deps"], med["pass"]
    def ms(seconds: float) -> str:
        text = f"{seconds * 1e3:.1f} ms"
        return text if seconds >= 0 else f"≈ 0 ({text}: below the noise)"

    r_pkg = bc.ratio(med["hailuo_nb"], base)
    r_cli = bc.ratio(med["hailuo_nb.Client"], base)
    r_ext = bc.ratio(med["shell: %load_ext"], med["shell: deps cell"])
    rows = [
        bc.row(f'`python -c "import hailuo_nb"` vs `python -c "{DEPS}"`', ms(base),
               ms(med["hailuo_nb"]), r_pkg, f"<= {TARGET}x", r_pkg <= TARGET),
        bc.row('`python -c "import hailuo_nb; hailuo_nb.Client"` vs the same', ms(base),
               ms(med["hailuo_nb.Client"]), r_cli, f"<= {TARGET}x (same bar)", r_cli <= TARGET),
        bc.row(f"`%load_ext hailuo_nb` in an InteractiveShell vs a cell `{DEPS}`",
               ms(med["shell: deps cell"]), ms(med["shell: %load_ext"]), r_ext,
               "(no target)", None),
    ]
    net = {k: med[k] - start for k in ("deps", "hailuo_nb", "hailuo_nb.Client")}
    notes = [
        f"Medians of {rounds} runs each, interleaved. `python -c pass` takes {ms(start)}; "
        f"net of it: deps {ms(net['deps'])}, `import hailuo_nb` {ms(net['hailuo_nb'])}, "
        f"with the client {ms(net['hailuo_nb.Client'])} "
        f"({bc.ratio(net['hailuo_nb.Client'], net['deps']):.2f}x the deps).",
        "`import hailuo_nb` is lazy (PEP 562): it loads only the version until a name is "
        "used; `%load_ext` imports the magics, settings and the API (requests, SQLite store) "
        "and opens the history to resume unfinished tasks.",
    ]
    return bc.section("5. Import time", rows, notes, data={"median_s": med, "rounds": rounds})


if __name__ == "__main__":
    bc.main(run)
