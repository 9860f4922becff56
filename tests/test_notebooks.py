"""Every notebook in notebooks/ executed in a real kernel (nbclient) against the emulator.

The kernel gets the emulator's URLs, a unique key and its own HAILUO_HOME through its
environment, and runs in a temporary directory. Each executed notebook is saved and
checked the way a user would share it: a finished task and a video in the outputs, the
key nowhere, no base64 video, a sane size. Then the demo, in Python and from the CLI.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")

from hailuo_nb._presentation.demo import prune_widget_state  # noqa: E402 - after the importorskips

pytestmark = pytest.mark.kernel

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
MAX_NOTEBOOK_BYTES = 200_000
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
CELL_TIMEOUT = 600


def kernel_env(home: Path, emulator=None, key: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL")}
    env["HAILUO_HOME"] = str(home)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    if emulator is not None:
        env["HAILUO_BASE_URL"] = emulator.base_url
        env["HAILUO_FILES_URL"] = emulator.files_url
    if key is not None:
        env["EVOLINK_API_KEY"] = key
    return env


def execute(path: Path, cwd: Path, env: dict[str, str], spec_root: Path):
    """Run ``path`` in a fresh kernel on this interpreter; returns the executed notebook."""
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    spec = spec_root / "hailuo-test-python"
    spec.mkdir(parents=True, exist_ok=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python",
    }))
    km = KernelManager(kernel_name="hailuo-test-python",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(spec_root)]))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, km=km, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(cwd)}})
    try:
        client.execute(env=env)
    finally:  # nbclient leaves alone a kernel whose manager it was given: shut it down
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    return nb


def output_text(nb) -> str:
    parts = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            parts.append(out.get("text", ""))
            for mime, value in out.get("data", {}).items():
                if mime.startswith("text/"):
                    parts.append(value if isinstance(value, str) else "".join(value))
    return "\n".join(parts)


def check_saved(saved: Path, key: str) -> str:
    raw = saved.read_text(encoding="utf-8")
    assert key not in raw
    assert "data:video" not in raw
    size = saved.stat().st_size
    assert size < MAX_NOTEBOOK_BYTES, f"{saved.name} is {size} bytes"
    nb = nbformat.read(saved, as_version=4)
    errors = [out for cell in nb.cells for out in cell.get("outputs", [])
              if out.get("output_type") == "error"]
    assert not errors, errors
    text = output_text(nb)
    assert "completed" in text, text[-2000:]
    assert re.search(r"<video\b[^>]*\bsrc=|hailuo_videos/[\w.-]+\.mp4", text), text[-2000:]
    # The notebook is the record: every result settled into static HTML, no widget left.
    views = [out for cell in nb.cells for out in cell.get("outputs", [])
             if WIDGET_VIEW in out.get("data", {})]
    assert views == [] and "widgets" not in nb.metadata
    assert "hailuo-record" in text
    assert not re.search(r"\b(pending|processing|queued)\b ·", text), "a result never settled"
    assert str(saved.parent) not in raw, "an absolute path of the kernel's folder was saved"
    return text


def assert_key_absent(key: str, *roots: Path) -> None:
    needle = key.encode()
    for root in roots:
        for path in root.rglob("*"):
            if path.is_file():
                assert needle not in path.read_bytes(), path


def test_committed_notebooks_have_no_outputs():
    assert {p.name for p in NOTEBOOKS} >= {
        "quickstart.ipynb", "image_to_video.ipynb", "batch_sweep.ipynb"}
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path.name
        assert "widgets" not in nb.metadata, path.name


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_against_the_emulator(path, emulator_factory, api_key, tmp_path):
    emu = emulator_factory(task_seconds=1.0, api_keys=(api_key,), render=True)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    nb = execute(path, work, kernel_env(home, emu, api_key), tmp_path / "specs")
    prune_widget_state(nb)  # as the demo saves it (nbclient keeps closed widgets' state)
    saved = work / path.name
    nbformat.write(nb, saved)
    check_saved(saved, api_key)
    assert emu.tasks_created >= 1
    videos = list((work / "hailuo_videos").glob("*.mp4"))
    assert len(videos) >= 1
    assert all(v.read_bytes()[4:8] == b"ftyp" for v in videos)  # rendered clips, whole
    assert_key_absent(api_key, work, home)
    if path.stem == "camera_sweep":  # compare() waited for the analysis: records are whole
        text = output_text(nbformat.read(saved, as_version=4))
        assert "being measured" not in text and "quality:" in text


def test_quickstart_standalone_starts_its_own_emulator(tmp_path):
    """No key anywhere: the first cell starts the in-process emulator and all still works."""
    path = ROOT / "notebooks" / "quickstart.ipynb"
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    nb = execute(path, work, kernel_env(home), tmp_path / "specs")
    prune_widget_state(nb)
    saved = work / path.name
    nbformat.write(nb, saved)
    text = check_saved(saved, "emulator-key-that-does-not-exist")
    assert "Hailuo emulator running at http://127.0.0.1:" in text
    assert list((work / "hailuo_videos").glob("*.mp4"))


def _check_demo_folder(out: Path) -> None:
    executed = out / "quickstart.ipynb"
    page = out / "quickstart.html"
    assert executed.is_file() and page.is_file()
    assert list((out / "hailuo_videos").glob("*.mp4"))
    nb = nbformat.read(executed, as_version=4)
    assert "completed" in output_text(nb)
    for path in out.rglob("*"):
        if path.is_file() and path.suffix in (".ipynb", ".html", ".json"):
            data = path.read_text(encoding="utf-8", errors="replace")
            assert "data:video" not in data, path
            assert not re.search(r"\bdemo-[0-9a-f]{32,}", data), path  # the demo's key shape


def test_run_demo_end_to_end(tmp_path, capsys):
    from hailuo_nb._presentation.demo import run_demo

    out = run_demo(tmp_path / "demo")
    assert Path(out).resolve() == (tmp_path / "demo").resolve()
    _check_demo_folder(Path(out))
    printed = capsys.readouterr().out
    assert "quickstart.ipynb" in printed and "quickstart.html" in printed
    assert "hailuo_videos" in printed


def test_cli_demo(tmp_path):
    out = tmp_path / "cli_demo"
    script = shutil.which("hailuo-nb")
    cmd = [script] if script else [sys.executable, "-m", "hailuo_nb.cli"]
    proc = subprocess.run(
        [*cmd, "demo", "--out", str(out)], capture_output=True, text=True,
        timeout=CELL_TIMEOUT, cwd=tmp_path, check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert str(out / "quickstart.ipynb") in proc.stdout
    _check_demo_folder(out)


def test_cli_demo_without_the_notebook_is_one_line(tmp_path):
    from hailuo_nb._presentation.demo import DemoError, run_demo

    with pytest.raises(DemoError) as info:
        run_demo(tmp_path / "x", notebook=tmp_path / "missing.ipynb")
    assert "\n" not in str(info.value) and "missing.ipynb" in str(info.value)


def test_start_lab_serves_the_folder_with_the_emulator_environment(tmp_path, emulator, api_key):
    """`hailuo-nb demo --lab`: JupyterLab answers on 127.0.0.1 with a token, on our folder."""
    pytest.importorskip("jupyterlab")
    import urllib.error
    import urllib.request

    from hailuo_nb._presentation.demo import demo_environment, start_lab

    (tmp_path / "marker.ipynb").write_text(
        nbformat.writes(nbformat.v4.new_notebook()), encoding="utf-8")
    env = demo_environment(emulator.base_url, emulator.files_url, api_key, tmp_path / "home")
    assert env["EVOLINK_API_KEY"] == api_key and env["HAILUO_BASE_URL"] == emulator.base_url
    proc, url = start_lab(tmp_path, env, open_path="marker.ipynb")
    try:
        assert url.startswith("http://127.0.0.1:") and "/lab/tree/marker.ipynb?token=" in url
        base, token = url.split("/lab/")[0], url.rsplit("token=", 1)[1]
        with urllib.request.urlopen(f"{base}/api/contents?token={token}", timeout=10) as r:  # noqa: S310
            names = {item["name"] for item in json.load(r)["content"]}
        assert "marker.ipynb" in names
        with pytest.raises(urllib.error.HTTPError):  # no token, no entry
            urllib.request.urlopen(f"{base}/api/contents", timeout=10)  # noqa: S310
    finally:
        proc.terminate()
        proc.wait(30)


def write_cells(path: Path, cells: list[str]) -> Path:
    """A notebook of these code cells at ``path`` (its folder made)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nbformat.write(nb, path)
    return path


TAKES_CELLS = [
    "%load_ext hailuo_nb\nimport hailuo_nb",
    "%%hailuo -o a --wait\nA fox runs through snow [Pan left]",
    "%%hailuo -o b\nA cat on a windowsill [Pan right]",
    'c = hailuo_nb.generate("A dog catches a frisbee [Zoom in]", wait=True)\nc',
    'kites = hailuo_nb.generate_many(["A red kite [Tilt up]", "A red kite [Tilt up]"])',
    "%%hailuo -o n --new\nA lantern in fog [Static shot]",
    "hailuo_nb.wait_all([a, b, c, *kites, n])\n"
    "print(sorted(t.id for t in [a, b, c, *kites, n]))",
]


def test_run_all_twice_in_new_kernels_pays_once_per_take(emulator_factory, api_key, tmp_path):
    """6 generations (one with --new); Run All again in a NEW kernel: 7 submissions in all,
    and the second run's records say they were reused."""
    emu = emulator_factory(task_seconds=0.5, api_keys=(api_key,))
    work, home = tmp_path / "work", tmp_path / "home"
    path = write_cells(work / "takes.ipynb", TAKES_CELLS)
    env = kernel_env(home, emu, api_key)
    first = execute(path, work, env, tmp_path / "specs")
    assert emu.tasks_created == 6
    second = execute(path, work, env, tmp_path / "specs")  # a new kernel, same notebook
    assert emu.tasks_created == 7, "a re-run paid again for what it had made"
    ids = [output_text(run).strip().splitlines()[-1] for run in (first, second)]
    old, new = (set(re.findall(r"task-unified-[\w-]+", line)) for line in ids)
    assert len(old) == len(new) == 6 and len(old & new) == 5  # the same 5, one new take
    text = output_text(second)
    assert text.count("nothing was sent again") >= 4, text[-3000:]
    assert "hailuo-record" in text and "failed" not in text


RESTART_CELLS = [
    "%load_ext hailuo_nb\nimport os, hailuo_nb",
    "%%hailuo -o a\nA slow pan over dunes [Pan left]",
    "b = hailuo_nb.generate('A slow tilt up a tower [Tilt up]')",
    "if os.environ.get('WAIT_HERE'):\n    hailuo_nb.wait_all([a, b])\n"
    "print(a.status, b.status, a.reused_from is not None, b.reused_from is not None)",
]


def test_a_restart_mid_run_re_attaches_the_cells_tasks(emulator_factory, api_key, tmp_path):
    """The kernel goes away while both tasks run; re-running the cells in a new kernel
    re-attaches them (nothing sent again), binds the variables, and saves both videos."""
    emu = emulator_factory(task_seconds=6.0, api_keys=(api_key,))
    work, home = tmp_path / "work", tmp_path / "home"
    path = write_cells(work / "restart.ipynb", RESTART_CELLS)
    env = kernel_env(home, emu, api_key)
    execute(path, work, env, tmp_path / "specs")  # returns at once; the kernel then stops
    assert emu.tasks_created == 2
    again = execute(path, work, {**env, "WAIT_HERE": "1"}, tmp_path / "specs")
    assert emu.tasks_created == 2, "the re-run sent its requests again"
    assert output_text(again).strip().splitlines()[-1] == "completed completed True True"
    assert len(list((work / "hailuo_videos").glob("*.mp4"))) == 2


def test_the_sequence_notebook_chains_stitches_and_checks(emulator_factory, api_key, tmp_path):
    """notebooks/sequence.ipynb in a kernel: 3 shots chained with --from, stitched into one
    file as long as the three together, its sidecar listing them, the history linking
    parent → child, and a camera table."""
    ffprobe = shutil.which("ffprobe")
    if ffprobe is None:
        pytest.skip("needs ffprobe (Debian's ffmpeg)")
    emu = emulator_factory(task_seconds=0.5, api_keys=(api_key,), render=True)
    work, home = tmp_path / "work", tmp_path / "home"
    work.mkdir()
    nb = execute(ROOT / "notebooks" / "sequence.ipynb", work, kernel_env(home, emu, api_key),
                 tmp_path / "specs")
    joined = work / "harbour.mp4"
    parts = json.loads(joined.with_suffix(".json").read_text())["parts"]
    assert len(parts) == 3

    def seconds(path) -> float:
        out = subprocess.run([ffprobe, "-v", "error", "-show_entries", "format=duration",
                              "-of", "csv=p=0", str(path)], capture_output=True, text=True,
                             check=True).stdout
        return float(out)

    # The sidecar's paths are relative to the sidecar, so the folder can move.
    assert not any(Path(p["file"]).is_absolute() for p in parts)
    assert seconds(joined) == pytest.approx(
        sum(seconds(joined.parent / p["file"]) for p in parts), abs=0.2)
    ids = [p["task_id"] for p in parts]
    import sqlite3

    with sqlite3.connect(home / "history.sqlite3") as db:
        parent = dict(db.execute("SELECT task_id, parent_id FROM tasks").fetchall())
    assert parent[ids[1]] == ids[0] and parent[ids[2]] == ids[1]
    text = output_text(nb)
    assert "hailuo-camera-table" in text and "score:" in text
