"""A notebook saved in JupyterLab while its tasks still run, reopened with no kernel, then
run again (marker: browser).

What a researcher does at the end of a day: File → Save while a generation is still
processing, shut the kernel down, come back later. Reopened, no output may say "Error
displaying widget" (the live view's model died with its kernel): the stand-in below it
shows what was known at save time. Run again, the task is followed to its record in its own
cell, shown once, and nothing is paid twice. The same for the generation form after it sent
two requests. Screenshots: tests/_screens/ (and docs/ with ``HAILUO_UPDATE_DOCS=1``):
saved_running_reopened.png, saved_running_rerun.png, saved_form_reopened.png.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import time

import browser_harness as bh
import pytest
from emulator_process import EmulatorProcess

pytestmark = [pytest.mark.browser, pytest.mark.slow]

VIEWPORT = {"width": 1220, "height": 1000}
PANEL = ".jp-NotebookPanel:not(.lm-mod-hidden)"
TASK_VIEW = ".hailuo-task-view"
STAND_IN = ".hailuo-stand-in"
KITE = "A red kite circles over a windy hill"
TASK_CELLS = ["%load_ext hailuo_nb", f"%%hailuo -q 768p -d 6\n{KITE} [Pan left]"]
FORM_PROMPTS = ("A lantern drifts over a dark lake", "A snail climbs a wet fern")
FORM_CELLS = ["%load_ext hailuo_nb", "%hailuo form"]
DOCS = os.environ.get("HAILUO_UPDATE_DOCS") == "1"


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab against an emulator (its own process) whose tasks take an hour, until
    the test moves the emulator's clock."""
    why = bh.missing_prerequisites()
    if why:
        pytest.skip(why)
    root = tmp_path_factory.mktemp("saved_root")
    state = tmp_path_factory.mktemp("saved_state")
    key = f"sk-browser-{secrets.token_hex(16)}"
    emu = EmulatorProcess(api_key=key, task_seconds=3600, seed=11).start()
    bh.write_notebook(root, "running.ipynb", TASK_CELLS)
    bh.write_notebook(root, "form_running.ipynb", FORM_CELLS)
    env = {"EVOLINK_API_KEY": key, "HAILUO_BASE_URL": emu.base_url,
           "HAILUO_FILES_URL": emu.base_url, "HAILUO_HOME": str(state / "hailuo_home")}
    server = bh.start_lab(root, state, env)
    server.key = key  # type: ignore[attr-defined]
    server.emulator = emu  # type: ignore[attr-defined]
    try:
        yield server
    finally:
        server.stop()
        emu.stop()


@pytest.fixture(scope="module")
def page(lab, pw):
    chromium = bh.launch_chromium(pw)
    context = chromium.new_context(viewport=VIEWPORT)
    context.set_default_timeout(60_000)
    page = context.new_page()
    try:
        yield page
    finally:
        context.close()
        chromium.close()


def _open_alone(page, lab, name: str) -> None:
    """``name`` alone in the workspace (no tab of the other test comes back)."""
    page.goto(lab.page_url(name) + "&reset", wait_until="domcontentloaded", timeout=180_000)
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=180_000)
    bh.wait_kernel_idle(page)


def _submissions(lab) -> int:
    return lab.emulator.stats["tasks_created"]


def _save(page, lab, name: str) -> dict:
    before = lab.api(f"/api/contents/{name}?content=0")["last_modified"]
    bh.click_menu(page, "File", re.compile(r"^Save( Notebook)?$"))
    deadline = time.monotonic() + 60
    while lab.api(f"/api/contents/{name}?content=0")["last_modified"] == before:
        assert time.monotonic() < deadline, "File → Save did not save the notebook"
        time.sleep(0.3)
    time.sleep(0.5)
    return json.loads((lab.root / name).read_text(encoding="utf-8"))


def _shut_down_and_reopen(page, lab, name: str) -> None:
    """Kernel → Shut Down Kernel, then the page reloaded: the file as anyone opens it."""
    kernel = next(s["kernel"]["id"] for s in lab.api("/api/sessions") if s["path"] == name)
    bh.click_menu(page, "Kernel", "Shut Down Kernel")
    bh.accept_dialog(page, timeout_ms=3_000)
    deadline = time.monotonic() + 60
    while kernel in lab.kernel_ids():
        assert time.monotonic() < deadline, "the kernel is still running"
        time.sleep(0.3)
    page.reload(wait_until="domcontentloaded")
    page.wait_for_selector(f"{PANEL} .jp-Cell", timeout=180_000)
    page.wait_for_selector(f"{PANEL} {STAND_IN}", timeout=60_000)
    bh.wait_kernel_idle(page)  # JupyterLab starts a new kernel; nothing has run in it
    time.sleep(4)  # the widget manager's turn: a placeholder or error shows within it


def _visible_widget_words(page) -> list[str]:
    text = page.locator(PANEL).inner_text()
    return [words for words in bh.WIDGET_ERRORS if words.lower() in text.lower()]


def _saved_outputs(saved: dict) -> list[dict]:
    return [out for cell in saved["cells"] if cell["cell_type"] == "code"
            for out in cell.get("outputs", [])]


def _assert_export_shows_the_stand_in(page, lab, name: str) -> None:
    """The saved file exported with ``nbconvert --to html`` and opened from disk, as a
    colleague gets it: the task as it was, no widget words."""
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", name],
                   cwd=lab.root, check=True, capture_output=True, timeout=300)
    export = page.context.new_page()
    try:
        export.goto((lab.root / name).with_suffix(".html").as_uri(), wait_until="load")
        text = export.locator("body").inner_text()
        assert KITE in text and re.search("pending|processing", text), text[:2000]
        assert not [w for w in bh.WIDGET_ERRORS if w.lower() in text.lower()], text[:2000]
        assert export.locator(STAND_IN).first.is_visible()
        bh.shoot(export.locator(STAND_IN).first, "saved_while_running.png", docs=DOCS,
                 settle_s=1)
    finally:
        export.close()


def test_a_task_saved_while_running_reopens_as_its_saved_state(lab, page):
    name = "running.ipynb"
    _open_alone(page, lab, name)
    bh.run_all_cells(page)
    view = page.locator(f"{PANEL} {TASK_VIEW}").first
    view.wait_for(timeout=120_000)
    try:
        page.wait_for_function(
            "(sel) => /pending|processing/.test(document.querySelector(sel).innerText)",
            arg=f"{PANEL} {TASK_VIEW}", timeout=60_000)
    except Exception:
        bh.shoot(page, "saved_running_debug.png", docs=False, settle_s=0)
        raise AssertionError(f"not running: {view.inner_text()!r}") from None
    # While the live view is drawn, its stand-in is out of sight.
    assert not page.locator(f"{PANEL} {STAND_IN}").first.is_visible()
    assert _submissions(lab) == 1
    saved = _save(page, lab, name)
    outputs = _saved_outputs(saved)
    stand_ins = [o for o in outputs if "hailuo-stand-in" in "".join(
        o.get("data", {}).get("text/html", ""))]
    assert len(stand_ins) == 1, outputs
    html_ = "".join(stand_ins[0]["data"]["text/html"])
    assert KITE.lower() in html_.lower() and re.search("pending|processing", html_), html_[:600]
    assert lab.key not in (lab.root / name).read_text(encoding="utf-8")
    state = saved["metadata"].get("widgets", {})
    assert not state, f"widget state saved: {list(state)}"

    _assert_export_shows_the_stand_in(page, lab, name)

    _shut_down_and_reopen(page, lab, name)
    assert not _visible_widget_words(page), _visible_widget_words(page)
    shown = page.locator(f"{PANEL} {STAND_IN}").first
    assert shown.is_visible()
    words = shown.inner_text()
    assert KITE in words and re.search("pending|processing", words), words
    assert "re-run the cell" in words, words
    cell = page.locator(f"{PANEL} .jp-CodeCell").filter(has_text=KITE).first
    bh.shoot(cell, "saved_running_reopened.png", docs=DOCS, settle_s=1)

    # Run again: the same task (nothing sent again), in its own cell, becomes its record.
    bh.run_all_cells(page)
    page.locator(f"{PANEL} {TASK_VIEW}").first.wait_for(timeout=120_000)
    lab.emulator.advance_clock(3600)
    page.wait_for_function(
        "(sel) => !document.querySelector(sel + ' .hailuo-task-view') && "
        "[...document.querySelectorAll(sel + ' .hailuo-record')].some("
        "r => /completed/.test(r.innerText))",
        arg=PANEL, timeout=180_000)
    bh.wait_all_executed(page)
    assert _submissions(lab) == 1, "re-running the cell sent the request again"
    records = page.locator(f"{PANEL} .hailuo-record")
    assert records.count() == 1, [records.nth(i).inner_text() for i in range(records.count())]
    assert KITE in cell.inner_text() and "completed" in cell.locator(".hailuo-record").inner_text()
    outputs = cell.locator(".jp-OutputArea-child")  # the emptied stand-in draws no output
    assert outputs.count() == 1, outputs.all_inner_texts()
    first = page.locator(f"{PANEL} .jp-CodeCell").first
    assert first.locator(".hailuo-record").count() == 0  # not under %load_ext
    assert all(not s.is_visible() for s in page.locator(f"{PANEL} {STAND_IN}").all())
    assert not _visible_widget_words(page)
    bh.shoot(cell, "saved_running_rerun.png", docs=DOCS, settle_s=2)


def test_a_form_saved_while_its_two_videos_run_reopens_without_widget_errors(lab, page):
    name = "form_running.ipynb"
    _open_alone(page, lab, name)
    bh.run_all_cells(page)
    form = page.locator(f"{PANEL} .hailuo-form").first
    try:
        form.wait_for(timeout=180_000)
    except Exception:
        bh.shoot(page, "saved_form_debug.png", docs=False, settle_s=0)
        raise AssertionError("no form drawn (tests/_screens/saved_form_debug.png): "
                             f"{page.locator(PANEL).inner_text()[-1500:]!r}") from None
    before = _submissions(lab)
    textarea = form.locator("textarea").first
    generate = form.get_by_role("button", name="Generate")
    for prompt in FORM_PROMPTS:
        textarea.fill(prompt)
        textarea.press("Tab")
        page.wait_for_function(
            """() => { const b = [...document.querySelectorAll('.hailuo-form button')]
                           .find(b => b.textContent.trim() === 'Generate');
                       return b && !b.disabled; }""", timeout=30_000)
        generate.click()
        form.locator(TASK_VIEW).filter(has_text=prompt).first.wait_for(timeout=60_000)
    deadline = time.monotonic() + 60
    while _submissions(lab) < before + 2:
        assert time.monotonic() < deadline, "the form did not send both requests"
        time.sleep(0.3)
    time.sleep(3)  # the log below the form is brought up to date (every 2 s at most)
    assert not page.locator(f"{PANEL} .hailuo-away-note").first.is_visible()  # the form is
    saved = _save(page, lab, name)
    html_ = "".join("".join(o.get("data", {}).get("text/html", ""))
                    for o in _saved_outputs(saved))
    for prompt in FORM_PROMPTS:
        assert prompt in html_, f"{prompt!r} is not in the saved file"

    _shut_down_and_reopen(page, lab, name)
    assert not _visible_widget_words(page), _visible_widget_words(page)
    log = page.locator(f"{PANEL} {STAND_IN}").first
    assert log.is_visible()
    words = log.inner_text()
    for prompt in FORM_PROMPTS:
        assert prompt in words, words
    assert "Sent from the generation form (2)" in words, words
    assert "needs a running kernel: run this cell again" in words, words
    cell = page.locator(f"{PANEL} .jp-CodeCell").nth(1)
    bh.shoot(cell, "saved_form_reopened.png", docs=DOCS, settle_s=1)

    # Run again: the new form shows what the form of this cell sent (nothing is sent
    # again), and each becomes its record below the form, once.
    bh.run_all_cells(page)
    form = page.locator(f"{PANEL} .hailuo-form").first
    form.wait_for(timeout=180_000)
    lab.emulator.advance_clock(3600)
    try:
        page.wait_for_function(
            """(sel) => { const log = document.querySelector(sel + ' .hailuo-stand-in');
                          return log && /2 done · 0 running/.test(log.innerText); }""",
            arg=PANEL, timeout=120_000)
    except Exception:
        bh.shoot(page, "saved_form_debug.png", docs=False, settle_s=0)
        raise AssertionError(page.locator(PANEL).inner_text()[-3000:]) from None
    bh.wait_all_executed(page)
    assert _submissions(lab) == before + 2, "running the form's cell again sent requests"
    words = page.locator(f"{PANEL} {STAND_IN}").first.inner_text()
    for prompt in FORM_PROMPTS:
        assert prompt in words, words
    assert words.count("sent earlier from this cell") == 2, words
    records = page.locator(f"{PANEL} .hailuo-record")
    said = [records.nth(i).text_content() for i in range(records.count())]
    assert len(said) == 2 and all("completed" in r for r in said), said
    for prompt in FORM_PROMPTS:
        assert sum(prompt in r for r in said) == 1, (prompt, said)
    assert not _visible_widget_words(page)
    bh.shoot(page.locator(f"{PANEL} .jp-CodeCell").nth(1), "saved_form_rerun.png", docs=DOCS,
             settle_s=2)
