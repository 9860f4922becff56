"""JupyterLab on 127.0.0.1 with a temporary root, and headless Debian Chromium to drive it.

Used by tests/test_browser.py; usable by hand too:

    python3 tests/browser_harness.py            # throwaway notebook, screenshot, exit

Nothing here reads the user's Jupyter settings: config, data, runtime, settings,
workspaces, IPython and HOME all live in a temporary folder. Only the data folders that
hold the installed labextensions (JupyterLab's own and @jupyter-widgets/jupyterlab-manager)
are put back on JUPYTER_PATH, so widgets render.

Never `playwright install`: it downloads browsers. Debian's /usr/bin/chromium is used.
"""

from __future__ import annotations

import base64
import contextlib
import itertools
import json
import os
import re
import secrets
import shutil
import site
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SCREENS = REPO / "tests" / "_screens"
DOCS = REPO / "docs"
CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = [
    "--no-sandbox", "--headless=new", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-dev-shm-usage",
]
# Environment variables that would let the caller's Jupyter/IPython setup leak in.
LEAKY = (
    "JUPYTER_TOKEN", "JUPYTER_CONFIG_PATH", "JUPYTER_PREFER_ENV_PATH", "JPY_SESSION_NAME",
    "JPY_PARENT_PID", "PYTHONSTARTUP", "JUPYTERLAB_SETTINGS_DIR", "JUPYTERLAB_WORKSPACES_DIR",
    "EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL", "HAILUO_HOME", "MPLBACKEND",
)
# What a failing widget looks like in JupyterLab's console / page.
# Also what an output whose widget model is gone shows instead of the widget (a notebook
# reopened without the kernel that made it): the placeholder, then the error.
WIDGET_ERRORS = ("Error displaying widget", "Failed to load model class",
                 "Could not create a view", "Error creating widget",
                 "Loading widget", "model not found")
WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json"


# -- prerequisites ---------------------------------------------------------------------------

def chromium_path() -> str | None:
    for path in CHROMIUM_CANDIDATES:
        if os.path.exists(path):
            return path
    return None


def missing_prerequisites() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if chromium_path() is None:
        return "Debian chromium is not installed (apt-get install chromium)"
    for module in ("jupyterlab", "playwright"):
        try:
            __import__(module)
        except ImportError:
            return f"Python package {module!r} is missing (pip install -e .[test])"
    return None


# -- JupyterLab --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def widget_extension_dirs() -> list[str]:
    """Jupyter data folders holding the ipywidgets labextension (with JupyterLab's own)."""
    from jupyter_core.paths import jupyter_path

    found = []
    for folder in jupyter_path():
        if (Path(folder) / "labextensions" / "@jupyter-widgets" / "jupyterlab-manager").is_dir():
            found.append(folder)
    return found


# User settings written into the temporary settings folder: no news toast over the
# outputs, no update check, and every cell rendered (no virtual scrolling) so the
# checks see the same DOM whatever the viewport.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        {"windowingMode": "none"},
}


def lab_environment(state_dir: Path, extra: dict[str, str]) -> dict[str, str]:
    """The server's (and so the kernel's) environment: isolated dirs + ``extra``."""
    dirs = {name: state_dir / name for name in (
        "home", "config", "data", "runtime", "settings", "workspaces", "ipython")}
    for path in dirs.values():
        path.mkdir(parents=True, exist_ok=True)
    for rel, values in LAB_SETTINGS.items():
        target = dirs["settings"] / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if k not in LEAKY}
    source_root = str(REPO)
    pythonpath = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env.update({
        "HOME": str(dirs["home"]),
        "JUPYTER_CONFIG_DIR": str(dirs["config"]),
        "JUPYTER_DATA_DIR": str(dirs["data"]),
        "JUPYTER_RUNTIME_DIR": str(dirs["runtime"]),
        "JUPYTER_PATH": os.pathsep.join(widget_extension_dirs()),
        "JUPYTERLAB_SETTINGS_DIR": str(dirs["settings"]),
        "JUPYTERLAB_WORKSPACES_DIR": str(dirs["workspaces"]),
        "IPYTHONDIR": str(dirs["ipython"]),
        "XDG_CONFIG_HOME": str(dirs["home"] / ".config"),
        "XDG_DATA_HOME": str(dirs["home"] / ".local" / "share"),
        "XDG_CACHE_HOME": str(dirs["home"] / ".cache"),
        # Packages installed with --user stay importable although HOME moved.
        "PYTHONUSERBASE": site.getuserbase(),
        # The kernel imports this checkout's hailuo_nb even if another one is installed.
        "PYTHONPATH": os.pathsep.join([source_root, *[p for p in pythonpath
                                                      if p != source_root]]),
        "PYDEVD_DISABLE_FILE_VALIDATION": "1",
    })
    env.update(extra)
    return env


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    process: subprocess.Popen
    log: Path

    def page_url(self, name: str) -> str:
        return f"{self.url}/lab/tree/{name}?token={self.token}"

    def api(self, path: str, method: str = "GET", body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}{path}", data=data,  # noqa: S310 - 127.0.0.1
                                     method=method,
                                     headers={"Authorization": f"token {self.token}",
                                              "Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - 127.0.0.1
            return json.loads(resp.read() or b"null")

    def kernel_ids(self) -> set[str]:
        return {k["id"] for k in self.api("/api/kernels")}

    def shut_down_all_kernels(self, timeout_s: float = 60) -> None:
        """REST: DELETE every session and kernel, and wait until none is left."""
        for session in self.api("/api/sessions"):
            with contextlib.suppress(OSError):
                self.api(f"/api/sessions/{session['id']}", method="DELETE")
        for kernel_id in self.kernel_ids():
            with contextlib.suppress(OSError):
                self.api(f"/api/kernels/{kernel_id}", method="DELETE")
        deadline = time.monotonic() + timeout_s
        while self.kernel_ids():
            if time.monotonic() > deadline:
                raise RuntimeError(f"kernels still running: {self.kernel_ids()}")
            time.sleep(0.3)

    def files_url(self, name: str) -> str:
        """The Jupyter server's own URL for a file of its root (what /files/ serves)."""
        return f"{self.url}/files/{name}?token={self.token}"

    def notebook7_url(self, name: str) -> str:
        return f"{self.url}/notebooks/{name}?token={self.token}"

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=30)


def start_lab(root: Path, state_dir: Path, env_extra: dict[str, str],
              *, startup_seconds: float = 180) -> Lab:
    """Start JupyterLab on a free 127.0.0.1 port with a random token; wait until it answers."""
    port, token = free_port(), secrets.token_hex(24)
    env = lab_environment(state_dir, env_extra)
    log = state_dir / "lab.log"
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1",
        f"--port={port}", "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={root}", f"--IdentityProvider.token={token}",
        "--ServerApp.open_browser=False", "--ServerApp.terminals_enabled=False",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        *(["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []),
    ]
    with open(log, "wb") as out:
        process = subprocess.Popen(cmd, cwd=root, env=env, stdout=out,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lab = Lab(f"http://127.0.0.1:{port}", token, root, process, log)
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"JupyterLab exited ({process.returncode}):\n"
                               f"{lab.log_text()[-3000:]}")
        try:
            lab.api("/api/status")
            return lab
        except OSError:
            time.sleep(0.3)
    lab.stop()
    raise RuntimeError(f"JupyterLab did not answer in {startup_seconds:.0f} s:\n"
                       f"{lab.log_text()[-3000:]}")


def notebook(cells: list[str]) -> dict:
    """A minimal nbformat-4 notebook of code cells, python3 kernel."""
    return {
        "cells": [{"cell_type": "code", "execution_count": None, "id": f"cell-{i}",
                   "metadata": {}, "outputs": [], "source": src}
                  for i, src in enumerate(cells)],
        "metadata": {"kernelspec": {"display_name": "Python 3 (ipykernel)",
                                    "language": "python", "name": "python3"}},
        "nbformat": 4, "nbformat_minor": 5,
    }


def write_notebook(root: Path, name: str, cells: list[str]) -> Path:
    path = root / name
    path.write_text(json.dumps(notebook(cells), indent=1))
    return path


def copy_notebook(src: Path, root: Path) -> Path:
    target = root / src.name
    shutil.copyfile(src, target)
    return target


# -- Chromium and the page ----------------------------------------------------------------------

@dataclass
class Console:
    """Every console message and page error of the pages it watches."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Any, label: str) -> None:
        page.on("console", lambda m: self.messages.append(f"[{label}] {m.type}: {m.text}"))
        page.on("pageerror", lambda e: self.messages.append(f"[{label}] pageerror: {e}"))

    def widget_errors(self) -> list[str]:
        return [m for m in self.messages if any(e in m for e in WIDGET_ERRORS)]


def launch_chromium(playwright: Any) -> Any:
    return playwright.chromium.launch(executable_path=chromium_path(), headless=True,
                                      args=CHROMIUM_ARGS)


def open_notebook(page: Any, lab: Lab, name: str, *, timeout_ms: int = 180_000) -> None:
    """Open ``name`` and wait until its kernel is idle (started and ready)."""
    page.goto(lab.page_url(name), wait_until="domcontentloaded", timeout=timeout_ms)
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=timeout_ms)
    wait_kernel_idle(page, timeout_ms=timeout_ms)


def wait_kernel_idle(page: Any, *, timeout_ms: int = 180_000) -> None:
    """The toolbar's kernel status says idle (JupyterLab 4: data-status on the indicator)."""
    page.wait_for_function(
        """() => {
            const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
            const el = (panel || document).querySelector(
                '.jp-Notebook-ExecutionIndicator');
            return el && el.getAttribute('data-status') === 'idle';
        }""",
        timeout=timeout_ms,
    )


STARTED_JS = """() => [...document.querySelectorAll(
    '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')]
    .some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))"""


def run_all_cells(page: Any, *, attempts: int = 4) -> None:
    """Menu Run → Run All Cells, as a person would.

    Right after the page loads, JupyterLab may not yet treat the notebook as the current
    widget and the menu item then does nothing: click into the notebook first, wait for
    the item to be enabled, and try again if no cell starts.
    """
    for attempt in range(attempts):
        dialog = page.locator(".jp-Dialog")
        if dialog.count() and "Select Kernel" in dialog.first.inner_text():
            # Under load JupyterLab sometimes asks although the notebook names its kernel:
            # a person takes the preferred one (Python 3) and goes on.
            accept_dialog(page, timeout_ms=15_000)
            wait_kernel_idle(page)
        if dialog.count():
            with contextlib.suppress(Exception):
                shoot(page, "dialog.png", docs=False, settle_s=0)
            raise RuntimeError(f"JupyterLab shows a dialog: {dialog.first.inner_text()!r} "
                               "(screenshot: tests/_screens/dialog.png)")
        # The input prompt selects the cell (the blue bar left of it would collapse it).
        page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt").first.click()
        page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(r"^Run$")).click()
        item = page.locator(".lm-Menu-item:not(.lm-mod-disabled)",
                            has=page.locator(".lm-Menu-itemLabel",
                                             has_text=re.compile(r"^Run All Cells$")))
        try:
            item.wait_for(timeout=15_000)
            item.click()
            page.wait_for_function(STARTED_JS, timeout=15_000)
            return
        except Exception:
            if attempt == attempts - 1:
                raise
            page.keyboard.press("Escape")
            time.sleep(1)


def wait_all_executed(page: Any, *, timeout_ms: int = 180_000) -> None:
    """Every code cell has an execution count (no '[*]', no '[ ]') and the kernel is idle."""
    page.wait_for_function(
        """() => {
            const prompts = [...document.querySelectorAll(
                '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell .jp-InputArea-prompt')];
            return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
        }""",
        timeout=timeout_ms,
    )
    wait_kernel_idle(page, timeout_ms=timeout_ms)


def click_menu(page: Any, top: str, item: str | re.Pattern, *,
               timeout_ms: int = 15_000) -> None:
    """A menu bar entry, as a person would pick it (the notebook focused first, so the
    notebook commands apply to it). ``item``: the entry's label, or a pattern."""
    pattern = item if isinstance(item, re.Pattern) else re.compile(rf"^{re.escape(item)}$")
    page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-InputArea-prompt").first.click()
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile(rf"^{re.escape(top)}$")).click()
    entry = page.locator(".lm-Menu-item:not(.lm-mod-disabled)",
                         has=page.locator(".lm-Menu-itemLabel", has_text=pattern)).first
    entry.wait_for(timeout=timeout_ms)
    entry.click()


def accept_dialog(page: Any, *, timeout_ms: int = 10_000) -> str | None:
    """Click the accept button of the dialog JupyterLab shows, if one shows; its text."""
    dialog = page.locator(".jp-Dialog")
    try:
        dialog.first.wait_for(timeout=timeout_ms)
    except Exception:
        return None
    text = dialog.first.inner_text()
    # Under load a click can land before the dialog takes input, and closing can take
    # seconds: click again until it is gone (a person clicks twice too).
    for attempt in range(3):
        with contextlib.suppress(Exception):
            dialog.locator(".jp-Dialog-button.jp-mod-accept").first.click(timeout=timeout_ms)
        try:
            dialog.first.wait_for(state="detached", timeout=timeout_ms)
            return text
        except Exception:
            if attempt == 2:
                raise
    return text


def cell_outputs(page: Any) -> Any:
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Cell-outputArea")


SAMPLER_JS = """(selector) => {
    // Records every distinct width (%) the first matching progress bar shows, with a
    // timestamp, from now on: the test reads the history instead of racing the poller.
    window.__bars = window.__bars || {};
    const seen = window.__bars[selector] = [];
    const tick = () => {
        const bar = document.querySelector(selector);
        if (bar) {
            const w = parseFloat(bar.style.width);
            const last = seen.length ? seen[seen.length - 1].w : null;
            if (!Number.isNaN(w) && w !== last) seen.push({t: performance.now(), w});
        }
    };
    tick();
    window.setInterval(tick, 50);
}"""


TICK_SAMPLER_JS = """([view, bar, status]) => {
    // Every 100 ms: the first live view's status text and its bar's width. The clock
    // ticks in the page; the bar only moves when the kernel sends something.
    window.__ticks = [];
    window.setInterval(() => {
        const v = document.querySelector(view);
        const b = v && v.querySelector(bar);
        const s = v && v.querySelector(status);
        if (b && s) window.__ticks.push({t: performance.now(), w: b.style.width,
                                         text: s.textContent});
    }, 100);
}"""

# Two samples, the bar the same and the elapsed time different (nothing was sent).
TICKED_JS = """() => {
    const xs = window.__ticks || [];
    const elapsed = (x) => (/elapsed (\\S+)/.exec(x.text) || [])[1];
    return xs.some((x, i) => i && /processing|pending/.test(x.text)
        && x.w === xs[i - 1].w && elapsed(x) && elapsed(x) !== elapsed(xs[i - 1]));
}"""


def start_tick_sampler(page: Any, view: str, bar: str, status: str) -> None:
    page.evaluate(TICK_SAMPLER_JS, [view, bar, status])


def ticks_without_messages(samples: list[dict]) -> list[tuple[str, str]]:
    """(before, after) status texts of consecutive samples whose elapsed time changed while
    the bar stood still."""
    out = []
    for before, after in itertools.pairwise(samples):
        a = re.search(r"elapsed (\S+)", before["text"])
        b = re.search(r"elapsed (\S+)", after["text"])
        if a and b and a.group(1) != b.group(1) and before["w"] == after["w"] and re.search(
                r"processing|pending", after["text"]):
            out.append((before["text"], after["text"]))
    return out


def start_progress_sampler(page: Any, selector: str) -> None:
    page.evaluate(SAMPLER_JS, selector)


def progress_history(page: Any, selector: str) -> list[float]:
    return [entry["w"] for entry in page.evaluate("(s) => window.__bars[s] || []", selector)]


VIDEO_PROBE_JS = """async (video) => {
    // What a person's click on play needs: the file is served, and the element has
    // loaded its metadata (Debian Chromium decodes H.264).
    const src = video.currentSrc || video.src;
    let status = null, type = null, length = null, fetchError = null;
    try {
        const r = await fetch(src);
        status = r.status; type = r.headers.get('content-type');
        length = (await r.arrayBuffer()).byteLength;
    } catch (e) { fetchError = String(e); }
    if (video.readyState < 1 && !video.error) {
        await new Promise((resolve) => {
            const done = () => resolve();
            video.addEventListener('loadedmetadata', done, {once: true});
            video.addEventListener('error', done, {once: true});
            if (video.networkState === HTMLMediaElement.NETWORK_EMPTY ||
                video.networkState === HTMLMediaElement.NETWORK_IDLE) video.load();
            setTimeout(done, 30000);
        });
    }
    return {
        attr: video.getAttribute('src'), src, status, type, length, fetchError,
        readyState: video.readyState, duration: video.duration,
        error: video.error ? video.error.code + ' ' + video.error.message : null,
        autoplay: video.autoplay, loop: video.loop, controls: video.controls,
        width: video.getBoundingClientRect().width,
        height: video.getBoundingClientRect().height,
        videoWidth: video.videoWidth, videoHeight: video.videoHeight,
    };
}"""


def probe_video(locator: Any) -> dict:
    return locator.evaluate(VIDEO_PROBE_JS)


RECORDS_JS = """async (root) => {
    // What a person reads off each static record: its status badge, its text, the player
    // (src as written and as resolved), whether the poster and the strip's frames decode.
    const load = (src) => new Promise((resolve) => {
        if (!src) { resolve({w: 0, h: 0, err: 'no poster attribute'}); return; }
        const im = new Image();
        const t = setTimeout(() => resolve({w: 0, h: 0, err: 'timeout'}), 15000);
        im.onload = () => { clearTimeout(t); resolve({w: im.naturalWidth, h: im.naturalHeight,
                                                     err: null}); };
        im.onerror = () => { clearTimeout(t); resolve({w: 0, h: 0, err: 'did not decode'}); };
        im.src = src;
    });
    const out = [];
    const scope = root || document;
    const found = [...scope.querySelectorAll('.hailuo-record')];
    if (root && root.matches('.hailuo-record')) found.unshift(root);
    for (const rec of found) {
        // Scrolled to, as a reader would: JupyterLab's default windowing (content-visibility)
        // leaves off-screen outputs unrendered, with no innerText.
        rec.scrollIntoView({block: 'center'});
        await new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)));
        const imgs = [...rec.querySelectorAll('img')];
        await Promise.all(imgs.map((i) => i.decode().catch(() => null)));
        const video = rec.querySelector('video');
        const poster = video ? video.getAttribute('poster') : null;
        const badge = rec.querySelector('span');
        out.push({
            status: badge ? badge.textContent.trim() : null,
            text: rec.innerText,
            visible: rec.getBoundingClientRect().height > 0,
            video: video ? {attr: video.getAttribute('src'), src: video.currentSrc || video.src,
                            controls: video.controls, preload: video.getAttribute('preload'),
                            autoplay: video.autoplay} : null,
            posterScheme: poster ? poster.slice(0, 23) : null,
            poster: await load(poster),
            strip: imgs.map((i) => ({w: i.naturalWidth, src: (i.getAttribute('src') || '')
                                     .slice(0, 23)})),
        });
    }
    return out;
}"""


def records(page: Any, root: Any = None) -> list[dict]:
    """Every ``div.hailuo-record`` of the page (or under/at the element ``root``), each
    scrolled into view and read."""
    handle = root.element_handle() if root is not None else None
    return page.evaluate(RECORDS_JS, handle)


LIT_JS = """async (b64) => {
    // Share of clearly non-black pixels in the top 60 % of a screenshot (the player's
    // controls sit at the bottom): a poster painted in the player, or a black box.
    const im = new Image();
    im.src = 'data:image/png;base64,' + b64;
    await im.decode();
    const c = document.createElement('canvas');
    c.width = im.naturalWidth; c.height = Math.max(1, Math.floor(im.naturalHeight * 0.6));
    const ctx = c.getContext('2d');
    ctx.drawImage(im, 0, 0);
    const d = ctx.getImageData(0, 0, c.width, c.height).data;
    let lit = 0;
    for (let i = 0; i < d.length; i += 4) if (d[i] + d[i + 1] + d[i + 2] > 90) lit++;
    return lit / (d.length / 4);
}"""


def lit_fraction(locator: Any, page: Any | None = None) -> float:
    """How much of an element (a player) is visibly painted, not black: screenshot it and
    count in ``page`` (default: its own; pass another when its CSP forbids the canvas)."""
    locator.scroll_into_view_if_needed(timeout=10_000)
    png = locator.screenshot(timeout=60_000)
    return (page or locator.page).evaluate(LIT_JS, base64.b64encode(png).decode())


def shoot_clip(page: Any, first: Any, last: Any, name: str, *, docs: bool | None = None,
               pad: int = 8) -> Path:
    """Screenshot the part of the viewport from element ``first`` down to element ``last``
    (``first`` scrolled to the top of its scroller), like ``shoot``."""
    first.evaluate("(el) => el.scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    top = first.bounding_box()
    bottom = last.bounding_box()
    if top is None or bottom is None:
        raise RuntimeError("shoot_clip: an element is not visible")
    x = max(0, min(top["x"], bottom["x"]) - pad)
    y = max(0, top["y"] - pad)
    right = max(top["x"] + top["width"], bottom["x"] + bottom["width"]) + pad
    clip = {"x": x, "y": y, "width": right - x,
            "height": bottom["y"] + bottom["height"] + pad - y}
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / name
    path.write_bytes(page.screenshot(clip=clip, timeout=60_000))
    if docs is None:
        docs = os.environ.get("HAILUO_UPDATE_DOCS") == "1"
    if docs:
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
    return path


CLIPPED_JS = """(box, within) => {
    // Descendants that stick out past the right border of the box (cut off, when it hides
    // overflow) or of its ancestor ``within`` (spilling out of, e.g., the output area).
    // scrollWidth alone is no use: Chrome counts a flex child's margin plus the box's
    // padding in it even when nothing is cut.
    const frame = within ? box.closest(within) : box;
    const edge = frame.getBoundingClientRect().right - frame.clientLeft;
    const out = [];
    for (const el of box.querySelectorAll('*')) {
        const r = el.getBoundingClientRect();
        if (r.width > 0 && r.height > 0 && r.right > edge + 1) {
            out.push(`${el.tagName.toLowerCase()}.${String(el.className).trim().split(/\\s+/)
                .slice(0, 3).join('.')} right=${Math.round(r.right)} > ${Math.round(edge)}`);
        }
    }
    return out;
}"""


def clipped_descendants(locator: Any, within: str | None = None) -> list[str]:
    return locator.evaluate(CLIPPED_JS, within)


def wait_video_settled(locator: Any, timeout_ms: int = 30_000) -> None:
    """Metadata loaded and no fetch in flight: Chromium's player stops showing its spinner."""
    locator.page.wait_for_function(
        """(v) => v.readyState >= 1 && v.networkState !== HTMLMediaElement.NETWORK_LOADING""",
        arg=locator.element_handle(), timeout=timeout_ms)


def output_area(locator: Any) -> Any:
    """The cell's output area holding ``locator`` (what a screenshot for the docs shows):
    the outermost one, not that of an ``ipywidgets.Output`` inside the widget."""
    return locator.locator(
        "xpath=ancestor::div[contains(concat(' ', @class, ' '), ' jp-OutputArea-output ')]"
        "[last()]")


def page_contains(page: Any, secret: str) -> bool:
    return bool(page.evaluate("(s) => document.documentElement.outerHTML.includes(s)", secret))


def shoot(target: Any, name: str, *, docs: bool | None = None, settle_s: float = 8) -> Path:
    """Screenshot an element (or a page) into tests/_screens/; with HAILUO_UPDATE_DOCS=1
    (or ``docs=True``) also copy it to docs/ for the README.

    Waits (up to ``settle_s``) for two identical frames in a row, so a fading spinner or
    a layout still settling does not end up in the picture.
    """
    SCREENS.mkdir(parents=True, exist_ok=True)
    path = SCREENS / name
    with contextlib.suppress(Exception):
        target.scroll_into_view_if_needed(timeout=10_000)
    shot = target.screenshot(timeout=60_000)
    deadline = time.monotonic() + settle_s
    while time.monotonic() < deadline:
        time.sleep(0.4)
        again = target.screenshot(timeout=60_000)
        if again == shot:
            break
        shot = again
    path.write_bytes(shot)
    if docs is None:
        docs = os.environ.get("HAILUO_UPDATE_DOCS") == "1"
    if docs:
        DOCS.mkdir(exist_ok=True)
        shutil.copyfile(path, DOCS / name)
    return path


# -- by hand ------------------------------------------------------------------------------------

def _selfcheck() -> int:
    """Prove the harness: an IntSlider and an HTML display render in JupyterLab."""
    import tempfile

    from playwright.sync_api import sync_playwright

    why = missing_prerequisites()
    if why:
        print("cannot run:", why)
        return 2
    with tempfile.TemporaryDirectory(prefix="lab-selfcheck-") as tmp:
        root, state = Path(tmp, "root"), Path(tmp, "state")
        root.mkdir()
        write_notebook(root, "throwaway.ipynb", [
            "import ipywidgets as W\nfrom IPython.display import HTML, display\n"
            "s = W.IntSlider(value=42, description='answer')\ns",
            "display(HTML('<b id=\"hello\">hello from the kernel</b>'))",
        ])
        started = time.monotonic()
        lab = start_lab(root, state, {})
        print(f"lab up in {time.monotonic() - started:.1f} s at {lab.url}")
        console = Console()
        try:
            with sync_playwright() as pw:
                browser = launch_chromium(pw)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                console.watch(page, "throwaway")
                open_notebook(page, lab, "throwaway.ipynb")
                run_all_cells(page)
                wait_all_executed(page)
                page.wait_for_selector(".widget-slider", timeout=60_000)
                page.wait_for_selector("#hello", timeout=60_000)
                print("slider readout:", page.locator(".widget-readout").first.inner_text())
                shoot(page, "selfcheck.png", docs=False)
                browser.close()
        finally:
            lab.stop()
        print(f"ok in {time.monotonic() - started:.1f} s; widget errors: "
              f"{console.widget_errors()}")
    return 0


if __name__ == "__main__":
    sys.exit(_selfcheck())
