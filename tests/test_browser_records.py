"""Notebooks run headless (``jupyter nbconvert --execute``), then opened in JupyterLab:
what a colleague sees of a run nobody watched (marker: browser).

Three notebooks of notebooks/ are executed with nbconvert against an emulator that renders
real clips, into the server's root; JupyterLab then opens each one. No output is a widget
(so nothing can say "Error displaying widget"), every generation is its record, an
image-to-video record shows the image it started from, strips of frames fit in one row,
and the history table keeps ids whole. Screenshots go to tests/_screens/ and, with
``HAILUO_UPDATE_DOCS=1``, to docs/ (record_image.png, grid_headless.png, history.png).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys

import browser_harness as bh
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAMES = ("quickstart.ipynb", "batch_sweep.ipynb", "image_to_video.ipynb")
VIEWPORT = {"width": 1600, "height": 1000}  # an output area of about 1150 px


@pytest.fixture(scope="module")
def headless_lab(tmp_path_factory, pw):
    why = bh.missing_prerequisites()
    if why:
        pytest.skip(why)
    from hailuo_nb.emulator import Emulator

    root = tmp_path_factory.mktemp("headless_root")
    state = tmp_path_factory.mktemp("headless_state")
    key = f"sk-browser-{secrets.token_hex(16)}"
    emu = Emulator(task_seconds=1.0, seed=7, api_keys=(key,), render=True).start()
    env = {"EVOLINK_API_KEY": key, "HAILUO_BASE_URL": emu.base_url,
           "HAILUO_FILES_URL": emu.files_url, "HAILUO_HOME": str(state / "hailuo_home")}
    run_env = {**os.environ, **env,
               "PYTHONPATH": os.pathsep.join(filter(None, [str(bh.REPO),
                                                           os.environ.get("PYTHONPATH")]))}
    # The three headless runs go at once, while JupyterLab starts (they mostly wait on the
    # emulator and on kernels starting). Each has its own history (HAILUO_HOME), as three
    # separate runs would: a shared one would let one kernel's `%load_ext` re-attach (show)
    # another's unfinished tasks.
    runs = []
    for name in NAMES:
        shutil.copyfile(bh.REPO / "notebooks" / name, root / name)
        log = state / f"nbconvert_{name}.log"
        with open(log, "wb") as out:
            runs.append((name, log, subprocess.Popen(
                [sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                 "--execute", "--inplace", "--ExecutePreprocessor.timeout=600", name],
                cwd=root, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                env={**run_env, "HAILUO_HOME": str(state / f"hailuo_home_{name}")})))
    server = None
    try:
        server = bh.start_lab(root, state, env)
        for name, log, run in runs:
            code = run.wait(timeout=900)
            assert code == 0, (f"nbconvert --execute {name} exited {code}:\n"
                               f"{log.read_text(errors='replace')[-3000:]}")
    except BaseException:
        for _name, _log, run in runs:
            run.kill()
            run.wait()
        if server is not None:
            server.stop()
        emu.stop()
        raise
    chromium = bh.launch_chromium(pw)
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        yield server, page, key
    finally:
        context.close()
        chromium.close()
        server.stop()
        emu.stop()


def open_saved(page, lab, name: str) -> None:
    """``name`` alone in the workspace (``reset``: no tab of an earlier test comes back)."""
    page.goto(lab.page_url(name) + "&reset", wait_until="domcontentloaded", timeout=180_000)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell", timeout=180_000)
    bh.wait_kernel_idle(page)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-record")
    # Every output rendered: as many records as the saved file holds, every image decoded.
    page.wait_for_function(RENDERED_JS, arg=saved_records(lab.root / name), timeout=60_000)


RENDERED_JS = """(n) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel || panel.querySelectorAll('.hailuo-record').length < n) return false;
    return [...panel.querySelectorAll('.jp-OutputArea img')].every(
        (img) => img.complete);
}"""


def saved_records(path) -> int:
    """How many records (``.hailuo-record`` elements) the saved notebook's outputs hold."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    html = ["".join(out.get("data", {}).get("text/html", ""))
            for cell in nb["cells"] for out in cell.get("outputs", [])]
    return sum(len(re.findall(r'class="(?:[\w-]+ )*hailuo-record[" ]', h)) for h in html)


def visible_text(page) -> str:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").inner_text()


@pytest.mark.parametrize("name", NAMES)
def test_a_headless_run_reads_as_records_in_lab(headless_lab, name):
    lab, page, key = headless_lab
    open_saved(page, lab, name)
    text = visible_text(page)
    assert "Error displaying widget" not in text and "Loading widget" not in text
    assert page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jupyter-widgets").count() == 0
    assert page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-record").count() >= 1
    assert not bh.page_contains(page, key)


def test_an_image_to_video_record_shows_its_image(headless_lab):
    lab, page, _key = headless_lab
    open_saved(page, lab, "image_to_video.ipynb")
    record = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-record").first
    image = record.locator('img[alt="input image"]')
    assert image.count() == 1
    assert image.evaluate("img => img.naturalWidth") > 0
    words = record.inner_text()
    assert "image sha256" in words and ".png" in words
    bh.shoot(record, "record_image.png", docs=os.environ.get("HAILUO_UPDATE_DOCS") == "1")


def test_strips_fit_in_one_row_and_a_sweep_reads_as_cards(headless_lab):
    lab, page, _key = headless_lab
    open_saved(page, lab, "quickstart.ipynb")
    strips = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-strip")
    assert strips.count() >= 3
    for i in range(strips.count()):
        tops = strips.nth(i).evaluate(
            "s => [...s.querySelectorAll('img')].map(img => Math.round(img.offsetTop))")
        assert len(tops) == 5 and len(set(tops)) == 1, tops  # one row: 5, not 4 + 1
    open_saved(page, lab, "batch_sweep.ipynb")
    grid = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-records").first
    overflowing = grid.evaluate(
        "g => [...g.children].filter(c => c.scrollWidth > c.clientWidth + 1).length")
    assert grid.locator(":scope > *").count() == 4 and overflowing == 0
    bh.shoot(grid, "grid_headless.png", docs=os.environ.get("HAILUO_UPDATE_DOCS") == "1")


def test_history_keeps_ids_whole(headless_lab):
    lab, page, _key = headless_lab
    open_saved(page, lab, "quickstart.ipynb")
    table = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) table.hailuo-history").first
    table.scroll_into_view_if_needed()
    ids = table.locator("tbody tr td:nth-child(2) code")
    assert ids.count() >= 3
    for i in range(ids.count()):
        height, line = ids.nth(i).evaluate(
            "c => [c.getBoundingClientRect().height, parseFloat(getComputedStyle(c).lineHeight)"
            " || 16]")
        assert height < 1.6 * line, (height, line)  # one line
    prompts = table.locator("tbody tr td:nth-child(4)")
    assert min(len(prompts.nth(i).inner_text()) for i in range(prompts.count())) >= 40
    bh.shoot(table, "history.png", docs=os.environ.get("HAILUO_UPDATE_DOCS") == "1")
