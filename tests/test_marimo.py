"""hailuo_nb in a marimo notebook, driven in headless Debian Chromium (marker: browser).

marimo has no IPython display hooks and no magics: the Python API is used, and a Task
that is a cell's last expression shows as its live view (``Task._display_``). marimo
serves no notebook folder, so the view's player gets the saved file's bytes from the
kernel. The app runs with ``marimo run`` (every cell runs when the page connects) against
the project's emulator on 127.0.0.1; marimo's own config and caches go to a temp folder.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
import time
import urllib.request

import browser_harness as bh
import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

NOTEBOOK = '''
import marimo

app = marimo.App()


@app.cell
def _():
    import hailuo_nb

    kite = hailuo_nb.generate("A red kite climbs over a windy beach [Tilt up]", duration=6)
    kite
    return (hailuo_nb,)


@app.cell
def _(hailuo_nb):
    from hailuo_nb.widgets import Gallery

    sweep = hailuo_nb.generate_many(
        [f"A paper lantern drifts upward, take {i} [Push in]" for i in range(4)])
    Gallery(sweep)
    return


if __name__ == "__main__":
    app.run()
'''
VIEW = ".hl-view"  # inside marimo's shadow root: playwright's CSS engine pierces it


@pytest.fixture(scope="module")
def marimo_page(tmp_path_factory, pw):
    why = bh.missing_prerequisites()
    if why:
        pytest.skip(why)
    if importlib.util.find_spec("marimo") is None:  # not imported here: hailuo_nb acts
        pytest.skip("marimo is not installed (in the test extra)")  # on an imported marimo
    from hailuo_nb.emulator import Emulator

    root = tmp_path_factory.mktemp("marimo_app")
    (root / "app.py").write_text(textwrap.dedent(NOTEBOOK), encoding="utf-8")
    key = "sk-marimo-test-key"
    emu = Emulator(task_seconds=14, seed=3, api_keys=(key,)).start()
    env = dict(os.environ, EVOLINK_API_KEY=key, HAILUO_BASE_URL=emu.base_url,
               HAILUO_FILES_URL=emu.files_url, HAILUO_HOME=str(root / "hailuo_home"))
    env.pop("JPY_PARENT_PID", None)
    for var in ("XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_CACHE_HOME"):
        env[var] = str(root / var.lower())
    port = bh.free_port()
    log = open(root / "marimo.log", "w")  # noqa: SIM115 - closed below
    server = subprocess.Popen(
        [sys.executable, "-m", "marimo", "-y", "run", "--headless", "--no-token",
         "--port", str(port), "app.py"],
        cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, server, root)
        chromium = bh.launch_chromium(pw)
        context = chromium.new_context(viewport={"width": 1220, "height": 1000})
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
        context.set_default_timeout(60_000)
        page = context.new_page()
        page.goto(url, wait_until="domcontentloaded")
        page.root = root  # type: ignore[attr-defined]
        try:
            yield page
        finally:
            context.close()
            chromium.close()
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        emu.stop()


def _wait_healthy(url: str, server: subprocess.Popen, root) -> None:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise AssertionError("marimo stopped: " + (root / "marimo.log").read_text()[-2000:])
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:  # noqa: S310
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise AssertionError("marimo never answered /health")


def test_a_task_shows_live_and_its_clock_ticks_between_polls(marimo_page):
    page = marimo_page
    view = page.locator(VIEW).first
    view.locator(".hl-status").wait_for(timeout=120_000)
    samples = []
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not bh.ticks_without_messages(samples):
        text = view.locator(".hl-status").inner_text()
        width = view.locator(".hl-fill").evaluate("e => e.style.width")
        samples.append({"text": text, "w": width})
        time.sleep(0.15)
    ticked = bh.ticks_without_messages(samples)
    print(f"marimo ticks: {ticked[:3]}")
    assert ticked, samples[-20:]


def test_copy_puts_the_id_on_the_clipboard(marimo_page):
    page = marimo_page
    view = page.locator(VIEW).first
    ident = view.locator(".hl-id")
    deadline = time.monotonic() + 60
    while not ident.inner_text().startswith("task-") and time.monotonic() < deadline:
        time.sleep(0.2)
    shown = ident.inner_text().strip()
    view.get_by_role("button", name="Copy id").click()
    page.wait_for_function("(id) => navigator.clipboard.readText().then(t => t === id)",
                           arg=shown, timeout=10_000)
    bh.shoot(view, "marimo_view.png", docs=False, settle_s=0)


def test_the_task_ends_with_a_player_marimo_can_play(marimo_page):
    page = marimo_page
    view = page.locator(VIEW).first
    view.locator(".hl-status", has_text="completed").wait_for(timeout=120_000)
    video = view.locator("video")
    video.wait_for(timeout=60_000)
    info = bh.probe_video(video)
    print(f"marimo player: {info}")
    assert info["attr"].startswith("blob:"), info  # the bytes came from the kernel
    assert info["error"] is None and info["readyState"] >= 1 and info["duration"] > 0, info
    saved = list((page.root / "hailuo_videos").glob("*.mp4"))
    assert saved, "no video saved beside the app"
    assert "Details" in view.inner_text()
    view.locator("summary", has_text="Details").click()
    assert "task id" in view.inner_text()
    bh.shoot(view, "marimo.png", settle_s=2)


def test_the_gallery_bar_reaches_100_percent(marimo_page):
    page = marimo_page
    gallery = page.locator(".hl-gallery").first
    gallery.wait_for(timeout=120_000)
    assert gallery.locator(".hl-card").count() == 4
    bar = gallery.locator(".hl-bar-total")
    deadline = time.monotonic() + 120
    while bar.get_attribute("aria-valuenow") != "100" and time.monotonic() < deadline:
        time.sleep(0.3)
    assert bar.get_attribute("aria-valuenow") == "100"
    gallery.locator(".hl-summary", has_text="all done").wait_for(timeout=60_000)
    assert gallery.locator(".hl-card[data-status=completed]").count() == 4
    bh.shoot(gallery, "marimo_gallery.png", docs=False, settle_s=1)
