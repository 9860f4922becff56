"""What a researcher sees in JupyterLab, driven in headless Debian Chromium (marker: browser).

One emulator, one JupyterLab server and one Chromium for the whole session (see
``lab`` below). The server runs on 127.0.0.1 with a random token and temporary
config/data/runtime/settings/HOME folders; its kernels get a unique EVOLINK_API_KEY
(the only key the emulator accepts) and HAILUO_BASE_URL/FILES_URL/HOME pointing at the
emulator and a temp folder. notebooks/quickstart.ipynb is copied into the server's root
and run with the menu (Run → Run All Cells); a small notebook with a blocked word
("nsfw") shows a failed task.

Screenshots go to tests/_screens/ (git-ignored); ``HAILUO_UPDATE_DOCS=1`` also copies
form.png and task_view.png into docs/. The tests share one page and run in file order.
Skipped (with the reason) only when Chromium, jupyterlab or playwright is missing.
"""

from __future__ import annotations

import re
import secrets

import browser_harness as bh
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

QUICKSTART = bh.REPO / "notebooks" / "quickstart.ipynb"
TASK_SECONDS = 6.0  # long enough to watch the bar move (the kernel polls every ~2 s)
VIEWPORT = {"width": 1220, "height": 1000}  # → an output area of about 800 px
FAILURE_CELLS = [
    "%load_ext hailuo_nb",
    "%%hailuo -o storm\nA nsfw storm scene over a harbour at night [Shake]",
]
TASK_VIEW = ".hailuo-task-view"
BAR = ".widget-hprogress .progress-bar"  # ipywidgets 8 IntProgress, horizontal


# -- session: emulator + JupyterLab + Chromium -------------------------------------------------

@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    why = bh.missing_prerequisites()
    if why:
        pytest.skip(why)
    from hailuo_nb.emulator import Emulator

    root = tmp_path_factory.mktemp("lab_root")
    state = tmp_path_factory.mktemp("lab_state")
    key = f"sk-browser-{secrets.token_hex(16)}"
    emu = Emulator(task_seconds=TASK_SECONDS, seed=7, api_keys=(key,)).start()
    bh.copy_notebook(QUICKSTART, root)
    bh.write_notebook(root, "failure.ipynb", FAILURE_CELLS)
    env = {
        "EVOLINK_API_KEY": key,
        "HAILUO_BASE_URL": emu.base_url,
        "HAILUO_FILES_URL": emu.files_url,
        "HAILUO_HOME": str(state / "hailuo_home"),
    }
    server = bh.start_lab(root, state, env)
    server.key = key  # type: ignore[attr-defined]
    server.emulator = emu  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        emu.stop()


@pytest.fixture(scope="session")
def browser(lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = bh.launch_chromium(pw)
        context = chromium.new_context(viewport=VIEWPORT)
        context.set_default_timeout(60_000)
        context.console = bh.Console()  # type: ignore[attr-defined]
        try:
            yield context
        finally:
            context.close()
            chromium.close()


@pytest.fixture(scope="session")
def quickstart(lab, browser):
    """quickstart.ipynb opened and started (Run All): the page, while cells still run."""
    page = browser.new_page()
    browser.console.watch(page, "quickstart")
    bh.open_notebook(page, lab, QUICKSTART.name)
    bh.start_progress_sampler(page, f"{TASK_VIEW} {BAR}")
    bh.run_all_cells(page)
    yield page
    bh.shoot(page, "notebook_full.png", docs=False)


@pytest.fixture(scope="session")
def finished(quickstart):
    """The same page once every cell has run (the --wait cells make that the end)."""
    bh.wait_all_executed(quickstart, timeout_ms=240_000)
    return quickstart


def _view_with_video(page, index: int = 0):
    view = page.locator(TASK_VIEW).nth(index)
    view.locator("video").wait_for(state="attached", timeout=120_000)
    return view


def _width(locator) -> float:
    return locator.evaluate("(el) => el.getBoundingClientRect().width")


# -- the %%hailuo cell: a live view ----------------------------------------------------------

def test_progress_bar_appears_and_advances(quickstart):
    page = quickstart
    view = page.locator(TASK_VIEW).first
    view.wait_for(timeout=120_000)
    view.locator(BAR).wait_for(timeout=60_000)  # children render a moment after the box
    assert view.locator(BAR).count() == 1, "more than one progress bar in the task view"
    # Two moments: a value part-way, then a larger one (the page records every width the
    # bar shows, so a slow test process cannot miss them).
    page.wait_for_function(
        """(sel) => (window.__bars[sel] || []).some(e => e.w > 0 && e.w < 100)""",
        arg=f"{TASK_VIEW} {BAR}", timeout=120_000)
    page.wait_for_function(
        """(sel) => {
            const h = window.__bars[sel] || [];
            const i = h.findIndex(e => e.w > 0 && e.w < 100);
            return i >= 0 && h.slice(i + 1).some(e => e.w > h[i].w);
        }""",
        arg=f"{TASK_VIEW} {BAR}", timeout=120_000)
    history = bh.progress_history(page, f"{TASK_VIEW} {BAR}")
    part_way = [w for w in history if 0 < w < 100]
    assert part_way, history
    assert history == sorted(history), f"the bar went backwards: {history}"
    print(f"progress widths seen: {history}")


def test_status_turns_completed_and_the_video_plays(quickstart):
    page = quickstart
    view = _view_with_video(page, 0)
    page.wait_for_function(
        """(sel) => { const b = document.querySelector(sel);
                      return b && parseFloat(b.style.width) === 100; }""",
        arg=f"{TASK_VIEW} {BAR}", timeout=60_000)
    text = view.inner_text()
    assert "completed" in text, text
    assert "paper boat" in text.lower(), text  # the cell's own prompt, not another task
    history = bh.progress_history(page, f"{TASK_VIEW} {BAR}")
    assert history and history[-1] == 100, history

    video = view.locator("video").first
    info = bh.probe_video(video)
    print(f"video: {info}")
    assert info["fetchError"] is None, info
    assert info["status"] == 200, info
    assert (info["type"] or "").startswith("video/"), info
    assert info["length"] and info["length"] > 1000, info
    # Served by the Jupyter server from the notebook's folder, not a dead /lab/tree/… URL.
    assert "/files/" in info["src"] and "hailuo_videos/" in info["src"], info
    assert info["src"].startswith(quickstart.url.split("/lab/")[0]), info
    assert not info["src"].startswith("data:"), "base64 video in the page"
    assert info["error"] is None, info
    assert info["readyState"] >= 1 and info["duration"] > 0, info
    assert info["videoWidth"] > 0 and info["videoHeight"] > 0, info
    assert not info["autoplay"] and not info["loop"] and info["controls"], info
    assert video.is_visible()
    assert info["width"] > 100 and info["height"] > 50, f"player too small: {info}"

    clipped = bh.clipped_descendants(view)
    assert not clipped, f"parts of the task view stick out or are cut off: {clipped}"
    output = bh.output_area(view)
    print(f"output area {_width(output):.0f} px wide, task view {_width(view):.0f} px")
    bh.wait_video_settled(video)
    shot = bh.shoot(output, "task_view.png")
    assert shot.stat().st_size < 150_000, "task_view.png is too big for docs/"


def test_the_status_cell_says_completed(finished):
    outputs = bh.cell_outputs(finished)
    texts = [outputs.nth(i).inner_text() for i in range(outputs.count())]
    assert any("'completed'" in t and "hailuo_videos" in t for t in texts), texts


# -- %hailuo form ---------------------------------------------------------------------------

def _form(page):
    form = page.locator(".hailuo-form").first
    form.wait_for(timeout=180_000)
    return form


def test_form_renders(quickstart):
    form = _form(quickstart)
    assert form.locator("textarea").count() >= 1
    assert form.get_by_role("button", name="Generate").count() == 1
    for name in ("Pan left", "Push in", "Tracking shot", "Static shot"):
        assert form.get_by_role("button", name=name, exact=True).count() == 1, name
    for name in ("768p", "1080p", "6 s", "10 s"):
        assert form.get_by_role("button", name=name, exact=True).count() == 1, name
    # The form has no frame of its own: nothing may spill out of the output area.
    clipped = bh.clipped_descendants(form, within=".jp-OutputArea-output")
    assert not clipped, f"parts of the form spill out of the output area: {clipped}"


def test_camera_button_puts_the_command_into_the_prompt(quickstart):
    page = quickstart
    form = _form(page)
    textarea = form.locator("textarea").first
    textarea.fill("A lighthouse in a storm")
    textarea.press("Tab")  # let the value reach the kernel before the click uses it
    form.get_by_role("button", name="Pan left", exact=True).click()
    page.wait_for_function(
        """() => document.querySelector('.hailuo-form textarea').value.includes('[Pan left]')""",
        timeout=30_000)
    assert textarea.input_value() == "A lighthouse in a storm [Pan left]"
    form.get_by_role("button", name="Push in", exact=True).click()
    page.wait_for_function(
        """() => document.querySelector('.hailuo-form textarea').value.endsWith('[Push in]')""",
        timeout=30_000)
    assert textarea.input_value() == "A lighthouse in a storm [Pan left] [Push in]"
    form.get_by_role("button", name="Generate").wait_for()
    page.wait_for_function(
        """() => document.querySelector('.hailuo-form').innerText.includes('ready')""",
        timeout=30_000)
    shot = bh.shoot(bh.output_area(form), "form.png")
    assert shot.stat().st_size < 150_000, "form.png is too big for docs/"


def _buttons(form, *names: str) -> dict[str, int]:
    return {n: form.get_by_role("button", name=n, exact=True).count() for n in names}


def test_form_refuses_1080p_with_10_seconds(quickstart):
    page = quickstart
    form = _form(page)
    # 1080p first: 10 s goes away (or is disabled) and the form says why.
    form.get_by_role("button", name="1080p", exact=True).click()
    page.wait_for_function(
        """() => /6 s only/.test(document.querySelector('.hailuo-form').innerText)""",
        timeout=30_000)
    ten = form.get_by_role("button", name="10 s", exact=True)
    assert ten.count() == 0 or ten.is_disabled(), "10 s still offered with 1080p"
    # Back to 768p, then 10 s: 1080p goes away.
    form.get_by_role("button", name="768p", exact=True).click()
    form.get_by_role("button", name="10 s", exact=True).click()
    page.wait_for_function(
        """() => /768p only/.test(document.querySelector('.hailuo-form').innerText)""",
        timeout=30_000)
    hd = form.get_by_role("button", name="1080p", exact=True)
    assert hd.count() == 0 or hd.is_disabled(), "1080p still offered with 10 s"
    assert not form.get_by_role("button", name="Generate").is_disabled()
    # Leave it as a person would find it useful: 768p · 6 s.
    form.get_by_role("button", name="6 s", exact=True).click()
    page.wait_for_function(
        """() => !/only/.test(document.querySelector('.hailuo-form').innerText)""",
        timeout=30_000)
    assert _buttons(form, "768p", "1080p", "6 s", "10 s") == {
        "768p": 1, "1080p": 1, "6 s": 1, "10 s": 1}


def test_form_generate_adds_a_live_task_with_a_player(quickstart):
    page = quickstart
    form = _form(page)
    textarea = form.locator("textarea").first
    if "lighthouse in a storm" not in textarea.input_value():  # this test run alone
        textarea.fill("A lighthouse in a storm [Pan left]")
        textarea.press("Tab")
    generate = form.get_by_role("button", name="Generate")
    page.wait_for_function(
        """() => { const b = [...document.querySelectorAll('.hailuo-form button')]
                       .find(b => b.textContent.trim() === 'Generate');
                   return b && !b.disabled; }""", timeout=30_000)
    generate.click()
    view = form.locator(TASK_VIEW).first
    view.wait_for(timeout=60_000)
    assert "lighthouse in a storm" in view.inner_text().lower()
    view.locator("video").wait_for(state="attached", timeout=120_000)
    info = bh.probe_video(view.locator("video").first)
    assert info["status"] == 200 and info["readyState"] >= 1, info


# -- the Python API cell and history ----------------------------------------------------------

def test_every_task_of_the_notebook_completes_with_a_player(finished):
    page = finished
    views = page.locator(TASK_VIEW)
    n = views.count()
    assert n >= 3, f"expected the magic, form and API task views, found {n}"
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel)].every(v => v.querySelector('video'))""",
        arg=TASK_VIEW, timeout=120_000)
    for i in range(n):
        text = views.nth(i).inner_text()
        assert "completed" in text, text
        info = bh.probe_video(views.nth(i).locator("video").first)
        assert info["status"] == 200 and info["readyState"] >= 1, info


def test_history_lists_the_tasks(finished):
    outputs = bh.cell_outputs(finished)
    last = outputs.nth(outputs.count() - 1).inner_text()
    assert "lighthouse" in last.lower() and "paper boat" in last.lower(), last


# -- a failed task -----------------------------------------------------------------------------

@pytest.fixture(scope="session")
def failure_page(lab, browser, finished):
    """failure.ipynb, run once quickstart is done: both kernels share HAILUO_HOME, and
    `%load_ext hailuo_nb` re-attaches (shows) tasks still unfinished in the history."""
    page = browser.new_page()
    browser.console.watch(page, "failure")
    bh.open_notebook(page, lab, "failure.ipynb")
    bh.run_all_cells(page)
    bh.wait_all_executed(page)
    yield page
    bh.shoot(page, "failure_full.png", docs=False)


def test_a_failed_task_shows_its_reason(failure_page):
    page = failure_page
    view = page.locator(TASK_VIEW).filter(has_text="nsfw storm").first
    view.wait_for(timeout=60_000)
    page.wait_for_function(
        """(sel) => [...document.querySelectorAll(sel)].some(
            v => /nsfw storm/.test(v.innerText) && /content.policy/i.test(v.innerText))""",
        arg=TASK_VIEW, timeout=120_000)
    text = view.inner_text()
    assert "failed" in text, text
    assert re.search(r"content[ _]policy", text, re.I), text
    reason = view.get_by_text(re.compile(r"content[ _]policy", re.I)).first
    assert reason.is_visible(), "the reason is in the DOM but hidden"
    assert view.locator("video").count() == 0
    bar_classes = view.locator(BAR).first.get_attribute("class") or ""
    assert "danger" in bar_classes, bar_classes
    bh.shoot(view, "failed_task.png", docs=False)


# -- what must never be there ------------------------------------------------------------------

def test_no_widget_errors_and_no_key_in_the_page(lab, browser, finished, failure_page):
    for page in (finished, failure_page):
        for text in bh.WIDGET_ERRORS:
            assert page.get_by_text(text).count() == 0, f"{text!r} shown in the page"
        assert not bh.page_contains(page, lab.key), "the API key is in the page"
    bad = browser.console.widget_errors()
    assert not bad, bad
    errors = [m for m in browser.console.messages if " error: " in m or "pageerror" in m]
    print("console errors (not failing):", errors)

