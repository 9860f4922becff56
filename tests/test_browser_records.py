"""Notebooks run headless (``jupyter nbconvert --execute``), then opened in JupyterLab:
what a colleague sees of a run nobody watched (marker: browser).

Three notebooks of notebooks/ are executed with nbconvert against an emulator that renders
real clips, into the server's root; JupyterLab then opens each one. No output is a widget
(so nothing can say "Error displaying widget"), every generation is its record, an
image-to-video record shows the image it started from, a gallery's strips fit its cards,
and the history table keeps ids whole. Screenshots go to tests/_screens/ and, with
``HAILUO_UPDATE_DOCS=1``, to docs/ (record_image.png, grid_headless.png, history.png).
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys

import browser_harness as bh
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NAMES = ("quickstart.ipynb", "batch_sweep.ipynb", "image_to_video.ipynb")
VIEWPORT = {"width": 1220, "height": 1000}


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
    for name in NAMES:
        shutil.copyfile(bh.REPO / "notebooks" / name, root / name)
        subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "notebook",
                        "--execute", "--inplace", "--ExecutePreprocessor.timeout=600", name],
                       cwd=root, env=run_env, check=True, capture_output=True, timeout=900)
    server = bh.start_lab(root, state, env)
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
    bh.open_notebook(page, lab, name)
    page.wait_for_selector(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-record")
    page.wait_for_timeout(1500)  # every output rendered (images decode)


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


def test_gallery_strips_fit_their_cards(headless_lab):
    lab, page, _key = headless_lab
    open_saved(page, lab, "batch_sweep.ipynb")
    grid = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .hailuo-records").first
    strips = grid.locator(".hailuo-strip")
    assert strips.count() >= 2
    for i in range(strips.count()):
        tops = strips.nth(i).evaluate(
            "s => [...s.querySelectorAll('img')].map(img => Math.round(img.offsetTop))")
        assert len(tops) == 5 and len(set(tops)) == 1, tops  # one row: 5, not 4 + 1
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
