"""One notebook file, run the ways people run notebooks: as JupyterLab runs it (cell ids
in the execute requests, the session's path), then ``jupyter nbconvert --execute``, then
papermill. A take is the same take whichever way the file runs: after the first run the
emulator sees only the ``--new`` cell's request, with an external emulator and with the
in-kernel one (a new port in every kernel). And a headless run saves records, not widget
state: ``metadata.widgets`` stays under 1 KB per view shown and nothing is left "pending".
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from test_notebooks import (  # noqa: E402 - after the importorskips
    CELL_TIMEOUT,
    NOTEBOOKS,
    TAKES_CELLS,
    kernel_env,
    output_text,
    write_cells,
)

pytestmark = pytest.mark.kernel

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
RUNNER_CELLS = [*TAKES_CELLS[:-1],  # the last cell prints the ids on a line of its own
                "hailuo_nb.wait_all([a, b, c, *kites, n])\n"
                "print('IDS', sorted(t.id for t in [a, b, c, *kites, n]))"]
STILL_RUNNING = r"\b(pending|processing|queued|submitting)\b ·"  # a status line, frozen
IN_KERNEL_FIRST = "%load_ext hailuo_nb\nimport hailuo_nb\n%hailuo emulator start --task-seconds 0.5"
IN_KERNEL_LAST = "%hailuo emulator status"


def _kernel_spec(spec_root: Path) -> str:
    spec = spec_root / "hailuo-test-python"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python",
    }))
    return str(spec_root)


def run_as_lab(path: Path, env: dict[str, str], spec_root: Path):
    """Run ``path`` the way JupyterLab does: each execute request carries the cell's id
    (``metadata.cellId``) and the kernel knows its session's path (``JPY_SESSION_NAME``)."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="hailuo-test-python",
                       kernel_spec_manager=KernelSpecManager(
                           kernel_dirs=[_kernel_spec(spec_root)]))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(path.parent)}})
    running: dict[str, str] = {}

    def remember(cell, **_kw):  # the front end's side: which cell it is about to send
        running["id"] = cell.get("id", "")

    client.on_cell_execute = remember

    async def execute_with_cell_id(code, store_history=True, stop_on_error=True, **_kw):
        kc = client.kc
        msg = kc.session.msg("execute_request", {
            "code": code, "silent": False, "store_history": store_history,
            "user_expressions": {}, "allow_stdin": False, "stop_on_error": stop_on_error,
        }, metadata={"cellId": running.get("id", "")})
        kc.shell_channel.send(msg)
        return msg["header"]["msg_id"]

    try:
        with client.setup_kernel(env={**env, "JPY_SESSION_NAME": str(path)}):
            client.kc.execute = execute_with_cell_id
            for index, cell in enumerate(nb.cells):
                client.execute_cell(cell, index)
    finally:  # nbclient leaves alone a kernel whose manager it was given: shut it down
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def _run(cmd: list[str], cwd: Path, env: dict[str, str]) -> None:
    """``cmd`` must succeed; when it does not, the failure shows the end of what it said."""
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900,
                          check=False)
    assert done.returncode == 0, (f"{cmd[2:4]} exited {done.returncode}:\n"
                                  f"{done.stderr[-4000:]}")


def run_nbconvert(path: Path, env: dict[str, str], out: str):
    _run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
          "--ExecutePreprocessor.timeout=600", str(path), "--output", out], path.parent, env)
    return nbformat.read(path.parent / out, as_version=4)


def run_papermill(path: Path, env: dict[str, str], out: str):
    pytest.importorskip("papermill")
    _run([sys.executable, "-m", "papermill", str(path), str(path.parent / out),
          "--cwd", str(path.parent), "-k", "python3", "--execution-timeout", "600"],
         path.parent, env)
    return nbformat.read(path.parent / out, as_version=4)


def ids_of(nb) -> set[str]:
    line = next(line for line in output_text(nb).splitlines() if line.startswith("IDS"))
    return set(re.findall(r"task-unified-[\w-]+", line))


def test_one_notebook_pays_once_however_it_runs(emulator_factory, api_key, tmp_path):
    """Lab, then nbconvert, then papermill: 6 takes the first time, then only the --new one."""
    emu = emulator_factory(task_seconds=0.5, api_keys=(api_key,))
    work, home = tmp_path / "work", tmp_path / "home"
    path = write_cells(work / "runners.ipynb", RUNNER_CELLS)
    env = kernel_env(home, emu, api_key)
    lab = run_as_lab(path, env, tmp_path / "specs")
    assert emu.tasks_created == 6
    converted = run_nbconvert(path, env, "converted.ipynb")
    assert emu.tasks_created == 7, "nbconvert --execute paid again for what Lab made"
    papered = run_papermill(path, env, "papered.ipynb")
    assert emu.tasks_created == 8, "papermill paid again for what Lab made"
    first, second, third = ids_of(lab), ids_of(converted), ids_of(papered)
    assert len(first) == len(second) == len(third) == 6
    assert len(first & second) == len(first & third) == 5  # the same five, one new take
    text = output_text(converted)
    assert text.count("nothing was sent again") >= 4, text[-3000:]


def test_the_in_kernel_emulator_is_one_server_to_takes(api_key, tmp_path):
    """Each kernel starts its own emulator on a new port; the takes still name it the same,
    so the second and third runs send only the --new cell's request."""
    work, home = tmp_path / "work", tmp_path / "home"
    cells = [IN_KERNEL_FIRST, *RUNNER_CELLS[1:], IN_KERNEL_LAST]
    path = write_cells(work / "in_kernel.ipynb", cells)
    env = kernel_env(home, None, api_key)

    def created(nb) -> int:
        return int(re.findall(r"\((\d+) task\(s\) created\)", output_text(nb))[-1])

    assert created(run_as_lab(path, env, tmp_path / "specs")) == 6
    assert created(run_nbconvert(path, env, "converted.ipynb")) == 1
    assert created(run_papermill(path, env, "papered.ipynb")) == 1


def views_shown(nb) -> int:
    """Task and gallery outputs in the saved notebook (live or static)."""
    count = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            html = data.get("text/html", "")
            html = html if isinstance(html, str) else "".join(html)
            if WIDGET_VIEW in data or "hailuo-record" in html:
                count += 1
    return count


@pytest.mark.parametrize("name", ["quickstart.ipynb", "batch_sweep.ipynb"])
def test_a_headless_run_saves_records_not_widget_state(name, emulator_factory, api_key,
                                                        tmp_path):
    emu = emulator_factory(task_seconds=1.0, api_keys=(api_key,), render=True)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    [source] = [p for p in NOTEBOOKS if p.name == name]
    shutil.copy(source, work / name)
    nb = run_nbconvert(work / name, kernel_env(home, emu, api_key), "out.ipynb")
    raw = (work / "out.ipynb").read_text(encoding="utf-8")
    shown = views_shown(nb)
    widget_bytes = len(json.dumps(nb.metadata.get("widgets", {})))
    print(f"{name}: {shown} views, {widget_bytes} B of widget state")
    assert shown >= 1
    assert widget_bytes <= 1024 * shown, f"{widget_bytes} B of widget state for {shown} views"
    assert not re.search(STILL_RUNNING, output_text(nb)), \
        "a view was saved before its task settled"
    assert "completed" in raw and api_key not in raw


def test_a_headless_run_names_what_it_left_running(emulator_factory, api_key, tmp_path):
    """Tasks nobody waits for still end as records: the last cell waits for them."""
    emu = emulator_factory(task_seconds=3.0, api_keys=(api_key,))
    work, home = tmp_path / "work", tmp_path / "home"
    path = write_cells(work / "nowait.ipynb", [
        "%load_ext hailuo_nb\nimport hailuo_nb",
        "%%hailuo -o a\nA slow pan over dunes [Pan left]",
        "kites = hailuo_nb.generate_many(['A kite [Tilt up]', 'A boat [Pan right]'])",
        "kites[0]",
        "print('the end')",
    ])
    nb = run_nbconvert(path, kernel_env(home, emu, api_key), "out.ipynb")
    text = output_text(nb)
    assert emu.tasks_created == 3
    assert "hailuo-record" in text and "the end" in text
    assert not re.search(STILL_RUNNING, text), text[-2000:]
    assert text.count("Hailuo task completed") >= 2


MARIMO_APP = '''import marimo

app = marimo.App()


@app.cell
def _():
    import hailuo_nb
    return (hailuo_nb,)


@app.cell
def _(hailuo_nb):
    fox = hailuo_nb.generate("A fox in snow [Pan left]", wait=True)
    print("TAKE", fox.id, bool(fox.reused_from))
    return (fox,)


if __name__ == "__main__":
    app.run()
'''


def test_a_marimo_app_pays_once_per_take(emulator_factory, api_key, tmp_path):
    """Every page load of ``marimo run`` runs the app again: the same file reuses its take
    (here two runs of ``marimo export html``, which runs every cell the same way)."""
    pytest.importorskip("marimo")
    emu = emulator_factory(task_seconds=0.3, api_keys=(api_key,))
    work = tmp_path / "work"
    work.mkdir()
    (work / "app.py").write_text(MARIMO_APP)
    env = kernel_env(tmp_path / "home", emu, api_key)
    pages = []
    for i in range(2):
        subprocess.run([sys.executable, "-m", "marimo", "-y", "export", "html", "app.py",
                        "-o", f"out{i}.html"], cwd=work, env=env, check=True,
                       capture_output=True, timeout=600)
        pages.append((work / f"out{i}.html").read_text(encoding="utf-8"))
    assert emu.tasks_created == 1, "the second run of the app paid again"
    first, second = (re.search(r"TAKE (task-unified-[\w-]+) (True|False)", p).groups()
                     for p in pages)
    assert first[0] == second[0] and (first[1], second[1]) == ("False", "True")


def test_a_view_saved_while_its_task_runs_reads_without_a_kernel(emulator_factory, api_key,
                                                                  tmp_path):
    """Saved from JupyterLab (no widget state, as its default settings save) while a task
    runs: the live view's output names the task beside the widget, its stand-in below holds
    what was known then, and the HTML export shows that — status, parameters, when, how to
    pick it up — not a widget."""
    emu = emulator_factory(task_seconds=120.0, api_keys=(api_key,))
    work = tmp_path / "work"
    path = write_cells(work / "running.ipynb", [
        "%load_ext hailuo_nb", "%%hailuo -o slow\nA slow dawn over a harbour [Pan left]"])
    nb = run_as_lab(path, kernel_env(tmp_path / "home", emu, api_key), tmp_path / "specs")
    nb.metadata.pop("widgets", None)  # JupyterLab's default: widget state is not saved
    nbformat.write(nb, path)
    [output, stand_in] = nb.cells[1].outputs
    assert WIDGET_VIEW in output["data"] and "task-unified-" in output["data"]["text/plain"]
    assert "hailuo-stand-in" in stand_in["data"]["text/html"]
    assert "hailuo-record" in stand_in["data"]["text/html"]
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", str(path)],
                   cwd=work, check=True, capture_output=True, timeout=300)
    page = (work / "running.html").read_text(encoding="utf-8")
    assert "Still running when this was drawn" in page and "A slow dawn over a harbour" in page
    assert re.search(r"(pending|processing) ·", page) and "task-unified-" in page
    assert "Error displaying widget" not in page


def test_a_reused_record_is_the_same_record(emulator_factory, api_key, tmp_path):
    """Run again, a cell's record keeps its camera check and its times."""
    emu = emulator_factory(task_seconds=2.0, api_keys=(api_key,), render=True)
    path = write_cells(tmp_path / "work" / "again.ipynb", [
        "%load_ext hailuo_nb", "%%hailuo -o a --wait\nA red kite over a beach [Pan left]"])
    env = kernel_env(tmp_path / "home", emu, api_key)

    def rows(nb) -> dict[str, str]:
        text = output_text(nb)
        return dict(re.findall(r"^  (took|camera|quality|made|task id):\s+(.+)$", text, re.M))

    first = rows(run_nbconvert(path, env, "first.ipynb"))
    second = rows(run_nbconvert(path, env, "second.ipynb"))
    assert emu.tasks_created == 1
    assert {"took", "camera", "quality", "made", "task id"} <= set(first), first
    assert "being measured" not in first["quality"]
    assert second == first
