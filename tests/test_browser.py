"""What a researcher sees in JupyterLab, in headless Debian Chromium (marker: browser).

One JupyterLab server and one browser for the module. The kernel talks to an emulator
on 127.0.0.1; screenshots go to tests/_screens/ (copied to docs/ with
HAILUO_UPDATE_DOCS=1).
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path

import pytest

from tests_support_paths import REPO

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
SCREENS = REPO / "tests" / "_screens"
DOCS = REPO / "docs"

CELLS = [
    "import hailuo_nb\nfrom hailuo_nb.widgets import GenerationForm",
    "fox = hailuo_nb.generate('A red fox trots through fresh snow at dawn [Tracking shot]')\nfox",
    "GenerationForm()",
    "storm = hailuo_nb.generate('An nsfw scene of a storm at sea [Shake]')\nstorm",
]


def _need(module: str) -> None:
    try:
        __import__(module)
    except ImportError:
        pytest.skip(f"{module} is not installed (pip install -e .[test])")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    _need("jupyterlab")
    _need("playwright")
    from browser_harness import start_lab, write_notebook

    from hailuo_nb.emulator import Emulator

    root = tmp_path_factory.mktemp("lab_root")
    state = tmp_path_factory.mktemp("lab_state")
    emu = Emulator(task_seconds=8.0, seed=7).start()
    key = f"sk-browser-{os.urandom(8).hex()}"
    env = {
        "EVOLINK_API_KEY": key,
        "HAILUO_BASE_URL": emu.base_url,
        "HAILUO_FILES_URL": emu.files_url,
        "HAILUO_HOME": str(state / "hailuo_home"),
    }
    write_notebook(root, "browser_check.ipynb", CELLS)
    server = start_lab(root, env, state)
    try:
        yield server, emu, key
    finally:
        server.stop()
        emu.stop()


@pytest.fixture(scope="module")
def page(lab):
    from playwright.sync_api import sync_playwright

    server, _emu, _key = lab
    console: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless=new", *__import__(
                                         "browser_harness").CHROMIUM_ARGS])
        context = browser.new_context(viewport={"width": 1100, "height": 1400})
        pg = context.new_page()
        pg.on("console", lambda msg: console.append(f"{msg.type}: {msg.text}"))
        pg.goto(server.page_url("browser_check.ipynb"))
        pg.wait_for_selector(".jp-Notebook .jp-Cell", timeout=120_000)
        _wait_kernel_idle(pg)
        _run_all(pg)
        pg.console = console  # type: ignore[attr-defined]
        yield pg
        SCREENS.mkdir(parents=True, exist_ok=True)
        pg.screenshot(path=str(SCREENS / "notebook_full.png"), full_page=True)
        browser.close()


def _wait_kernel_idle(pg) -> None:
    pg.wait_for_function(
        """() => {
            const el = document.querySelector('.jp-Notebook-ExecutionIndicator');
            return el && el.getAttribute('data-status') === 'idle';
        }""",
        timeout=120_000,
    )


def _run_all(pg) -> None:
    pg.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
    pg.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Run All Cells$")).click()


def _bar_width(view) -> float:
    style = view.locator(".progress-bar").first.get_attribute("style") or ""
    match = re.search(r"width:\s*([\d.]+)%", style)
    return float(match.group(1)) if match else 0.0


def _shoot(locator, name: str) -> Path:
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / name
    locator.screenshot(path=str(path))
    if os.environ.get("HAILUO_UPDATE_DOCS") == "1":
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
    return path


def test_progress_advances_and_a_playable_video_appears(page):
    view = page.locator(".hailuo-task-view").first
    view.wait_for(timeout=120_000)
    page.wait_for_function(
        """() => [...document.querySelectorAll('.hailuo-task-view .progress-bar')]
            .some(b => parseFloat(b.style.width) > 0)""",
        timeout=60_000,
    )
    first = _bar_width(view)
    time.sleep(2.5)
    second = _bar_width(view)
    assert second > first or second == 100, (first, second)
    video = view.locator("video")
    video.wait_for(timeout=120_000)
    assert "completed" in view.inner_text()
    info = page.evaluate(
        """async () => {
            const v = document.querySelector('.hailuo-task-view video');
            const r = await fetch(v.currentSrc || v.src);
            await new Promise(res => { if (v.readyState >= 1) res(); else {
                v.addEventListener('loadedmetadata', res, {once: true});
                v.addEventListener('error', res, {once: true}); v.load(); } });
            return {src: v.currentSrc || v.src, status: r.status,
                    type: r.headers.get('content-type'), ready: v.readyState,
                    autoplay: v.autoplay, loop: v.loop, duration: v.duration};
        }"""
    )
    assert info["status"] == 200, info
    assert info["type"].startswith("video/"), info
    assert "/files/" in info["src"] and "hailuo_videos/" in info["src"], info
    assert info["ready"] >= 1 and info["duration"] > 0, info
    assert not info["autoplay"] and not info["loop"]
    _shoot(view, "task_view.png")


def test_form_renders_and_camera_buttons_insert_commands(page):
    form = page.locator(".hailuo-form").first
    form.wait_for(timeout=120_000)
    textarea = form.locator("textarea").first
    textarea.fill("A lighthouse in a storm")
    form.get_by_role("button", name="Pan left", exact=True).click()
    page.wait_for_function(
        """() => document.querySelector('.hailuo-form textarea').value.includes('[Pan left]')""",
        timeout=30_000,
    )
    assert textarea.input_value() == "A lighthouse in a storm [Pan left]"
    _shoot(form, "form.png")


def test_form_refuses_1080p_with_10_seconds(page):
    form = page.locator(".hailuo-form").first
    form.get_by_role("button", name="10 s", exact=True).click()
    form.get_by_role("button", name="1080p", exact=True).click()
    page.wait_for_function(
        """() => document.querySelector('.hailuo-form').innerText.includes('6 s only')""",
        timeout=30_000,
    )
    assert form.get_by_role("button", name="10 s", exact=True).count() == 0
    assert form.get_by_role("button", name="6 s", exact=True).count() == 1


def test_form_submit_adds_a_live_task(page):
    form = page.locator(".hailuo-form").first
    form.get_by_role("button", name="Generate").click()
    form.locator(".hailuo-task-view").first.wait_for(timeout=30_000)
    form.locator(".hailuo-task-view video").first.wait_for(timeout=120_000)


def test_a_failed_task_shows_its_reason(page):
    views = page.locator(".hailuo-task-view")
    page.wait_for_function(
        """() => document.body.innerText.includes('content_policy_violation')""",
        timeout=120_000,
    )
    failed = views.filter(has_text="content_policy_violation").first
    text = failed.inner_text()
    assert "Content policy violation" in text
    assert "rephrase" in text


def test_no_widget_errors_in_the_console(page):
    bad = [m for m in page.console
           if "Error displaying widget" in m or "Failed to load model class" in m]
    assert not bad, bad
    assert page.locator("text=Error displaying widget").count() == 0
