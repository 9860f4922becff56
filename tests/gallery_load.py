"""A live Gallery of many tasks in JupyterLab + headless Chromium, measured from the page.

Used by tests/test_browser_gallery.py and bench/bench_gallery_browser.py:

    with gallery_lab(tmp_dir, task_seconds=25) as lab:      # emulator + JupyterLab
        with sync_playwright() as pw:
            chromium = bh.launch_chromium(pw)
            context = chromium.new_context(viewport=VIEWPORT)
            numbers = measure_gallery(lab, context, n_tasks=200)

``measure_gallery`` writes a notebook into the lab's root (a scratch cell first, then
``import hailuo_nb, time`` / ``tasks = hailuo_nb.generate_many(...)`` / ``Gallery(tasks)``
/ ``hailuo_nb.wait_all(tasks)`` + ``print("KERNEL_DONE", time.time())``), runs it with
the menu (Run → Run All Cells) and measures, in the page:

- every kernel websocket frame, timestamped (``Date.now()``) by a wrapper around the
  page's ``WebSocket`` installed before JupyterLab loads; its message type is read from
  the frame's header (JupyterLab speaks the binary ``v1.kernel.websocket.jupyter.org``
  protocol when the server offers it; the legacy JSON and binary forms are read too).
  Playwright's own ``websocket`` / ``framereceived`` events count the same frames again,
  as a cross-check of the totals (their Python-side arrival times are not reliable: the
  sync API only dispatches events while it is waiting on the page);
- the page time at which "all done" first shows: the live summary (``.hl-summary``) says
  it, or the static grid of records (header "Hailuo tasks: N tasks: …") replaced the widget;
  compared with the kernel's ``KERNEL_DONE`` time (same machine clock) → the lag;
- the combined bar's ``aria-valuenow`` history (``.hl-bar-total``);
- typing latency in the scratch cell (CodeMirror 6), letters at a steady pace, while the
  tasks' progress comes in and again from the first completion until the page shows all
  done (at least 40 keys each; ``_type_keys`` says why the page is asked nothing between
  keys): from the
  keydown event's own timestamp (when the browser received the key, so time spent
  queued behind a busy main thread counts) to the character in ``.cm-content``'s DOM
  (a MutationObserver), and to the next frame after it (requestAnimationFrame, then a
  message-channel hop: about when it is painted);
- long tasks (PerformanceObserver ``longtask``) as a hint of what held the page up.

``view="taskviews"`` runs the same notebook with ``for t in tasks: display(t)`` instead of
one Gallery (one TaskView per task, each handing over to its own record): the baseline of
the benchmark.
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import secrets
import shutil
import struct
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import browser_harness as bh
from emulator_process import EmulatorProcess

VIEWPORT = {"width": 1220, "height": 1000}  # → an output area of about 800 px
# Long enough to type 40 keys while the tasks run AND their progress comes in: the poller
# polls once after ~1 s, then about half-way (~15 s), then more and more often.
TASK_SECONDS = 30.0
TASK_JITTER = 0.1  # ± 10 %: completions come as a burst of a few seconds, not one instant
PROMPT = "A paper lantern drifts over a night river, take"
GALLERY = ".jp-NotebookPanel .hailuo-gallery"
TRACKER_SETTINGS = "@jupyterlab/notebook-extension/tracker.jupyterlab-settings"

# -- JavaScript put in the page -----------------------------------------------------------------

# Runs before JupyterLab's own scripts (page.add_init_script): every websocket to a
# kernel's channels logs its frames, in and out, with Date.now() and the message type.
WS_LOG_JS = r"""(() => {
  if (window.__hlWs) return;
  const log = window.__hlWs = [];
  const Native = window.WebSocket;
  const dec = new TextDecoder();
  function typeOf(data) {
    try {
      if (typeof data === 'string') {
        const m = JSON.parse(data);
        return [m.channel || '', (m.header || {}).msg_type || m.msg_type || '?'];
      }
      let buf = data;
      if (ArrayBuffer.isView(buf)) {
        buf = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
      }
      if (!(buf instanceof ArrayBuffer)) return ['', '?blob'];
      const view = new DataView(buf);
      const n = buf.byteLength >= 8 ? Number(view.getBigUint64(0, true)) : 0;
      if (n >= 3 && n < 4096 && 8 * (n + 1) <= buf.byteLength) {
        // v1.kernel.websocket.jupyter.org: n, n offsets (u64 LE), channel, header, ...
        const off = (i) => Number(view.getBigUint64(8 * (i + 1), true));
        const channel = dec.decode(new Uint8Array(buf, off(0), off(1) - off(0)));
        const header = JSON.parse(dec.decode(new Uint8Array(buf, off(1), off(2) - off(1))));
        return [channel, header.msg_type || '?'];
      }
      // The legacy binary form: u32 BE count, u32 BE offsets, the JSON message first.
      const count = view.getUint32(0);
      const start = view.getUint32(4);
      const end = count > 1 ? view.getUint32(8) : buf.byteLength;
      const m = JSON.parse(dec.decode(new Uint8Array(buf, start, end - start)));
      return [m.channel || '', (m.header || {}).msg_type || '?'];
    } catch (err) {
      return ['', '?'];
    }
  }
  const size = (d) => (typeof d === 'string' ? d.length : (d && d.byteLength) || 0);
  class LoggedWebSocket extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      this.__hlKernel = /\/api\/kernels\/[^/]+\/channels/.test(String(url));
      if (!this.__hlKernel) return;
      this.addEventListener('message', (ev) => {
        const [channel, type] = typeOf(ev.data);
        log.push({t: Date.now(), dir: 'in', channel, type, bytes: size(ev.data)});
      });
    }
    send(data) {
      if (this.__hlKernel) {
        const [channel, type] = typeOf(data);
        log.push({t: Date.now(), dir: 'out', channel, type, bytes: size(data)});
      }
      return super.send(data);
    }
  }
  window.WebSocket = LoggedWebSocket;
})();"""

# Every 100 ms: the bar, the summary, the records, and the first "all done" (page time).
SAMPLER_JS = r"""([n, mode]) => {
  const S = window.__hlGallery = {
    n, mode, started: Date.now(), bar: [], summaries: [], galleryAt: null, cardsAt: null,
    progressAt: null,
    firstCompletedAt: null, allDoneAt: null, allDoneBy: null, gridAt: null, gridRecords: 0,
    gridHead: null, liveGoneAt: null, maxCards: 0, records: 0, liveViews: 0, longTasks: [],
  };
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        S.longTasks.push({t: performance.timeOrigin + e.startTime, d: e.duration});
      }
    }).observe({type: 'longtask', buffered: false});
  } catch (err) { S.longTasks = null; }
  const scope = () => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)') || document;
  const tick = () => {
    const now = Date.now();
    const root = scope();
    const gallery = root.querySelector('.hailuo-gallery');
    if (gallery) {
      if (S.galleryAt === null) S.galleryAt = now;
      const cards = gallery.querySelectorAll('.hl-card').length;
      S.maxCards = Math.max(S.maxCards, cards);
      if (cards >= n && S.cardsAt === null) S.cardsAt = now;
      const bar = gallery.querySelector('.hl-bar-total');
      if (bar) {
        const v = Number(bar.getAttribute('aria-valuenow'));
        if (!S.bar.length || S.bar[S.bar.length - 1].v !== v) S.bar.push({t: now, v});
      }
      const summary = gallery.querySelector('.hl-summary');
      const text = summary ? summary.textContent : '';
      const counts = text.replace(/ETA ~\S+/, 'ETA').replace(/^\d+%/, '');
      const last = S.summaries.length ? S.summaries[S.summaries.length - 1] : null;
      if (!last || last.key !== counts) S.summaries.push({t: now, key: counts, text});
      if (S.allDoneAt === null && /all done/.test(text)) {
        S.allDoneAt = now; S.allDoneBy = 'summary';
      }
      if (S.firstCompletedAt === null
          && gallery.querySelector('.hl-card[data-status="completed"]')) S.firstCompletedAt = now;
    } else if (S.galleryAt !== null && S.liveGoneAt === null) {
      S.liveGoneAt = now;
    }
    const views = root.querySelectorAll('.hailuo-task-view');
    S.liveViews = views.length;
    if (mode === 'taskviews') {
      if (S.galleryAt === null && views.length) S.galleryAt = now;
      S.maxCards = Math.max(S.maxCards, views.length);
      if (views.length >= n && S.cardsAt === null) S.cardsAt = now;
      if (S.firstCompletedAt === null && root.querySelector('.hailuo-record')) {
        S.firstCompletedAt = now;
      }
    }
    if (S.progressAt === null && S.cardsAt !== null &&
        [...root.querySelectorAll('.hailuo-live .hl-pct')].some((e) => e.textContent !== '0%')) {
      S.progressAt = now;  // the first progress came in (a poll after the first one)
    }
    S.records = root.querySelectorAll('.hailuo-record').length;
    const grid = root.querySelector('.hailuo-records');
    if (grid && S.gridAt === null) {
      S.gridAt = now;
      S.gridRecords = grid.querySelectorAll('.hailuo-record').length;
      const head = grid.previousElementSibling;
      S.gridHead = head ? head.textContent.trim() : null;
      if (S.allDoneAt === null && /^Hailuo tasks: \d+ tasks?: /.test(S.gridHead || '')) {
        S.allDoneAt = now; S.allDoneBy = 'static grid';
      }
    }
    if (mode === 'taskviews' && S.allDoneAt === null && S.records >= n && !views.length) {
      S.allDoneAt = now; S.allDoneBy = 'records';
    }
  };
  tick();
  S.timer = setInterval(tick, 100);
}"""

# Typing probe on the scratch cell's editor: keydown (its own timestamp, the moment the
# browser received the key) → the character in the DOM → the next frame after it.
TYPING_JS = r"""() => {
  // JupyterLab may swap the editor's elements after the page loads: find the scratch
  // cell's .cm-content at each key, and watch that element. Keys wait in a queue until
  // their character is in the DOM (each key adds one).
  const cell = () => document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell');
  const T = window.__hlType = {pending: [], results: [], phase: '', other: 0, inflight: 0};
  let watched = null;
  const observer = new MutationObserver(() => {
    if (!watched) return;
    const length = watched.textContent.length;
    const now = performance.now();
    while (T.pending.length && length > T.pending[0].len0) {
      const p = T.pending.shift();
      T.inflight += 1;
      p.dom = now;
      requestAnimationFrame(() => {
        p.raf = performance.now();
        const hop = new MessageChannel();
        hop.port1.onmessage = () => {
          p.frame = performance.now(); T.results.push(p); T.inflight -= 1;
        };
        hop.port2.postMessage(0);
      });
    }
  });
  window.addEventListener('keydown', (e) => {
    if (e.key.length !== 1) return;
    const content = e.target && e.target.closest ? e.target.closest('.cm-content') : null;
    const scratch = cell();
    if (!content || !scratch || !scratch.contains(content)) { T.other += 1; return; }
    if (content !== watched) {
      observer.disconnect();
      observer.observe(content, {childList: true, subtree: true, characterData: true});
      watched = content;
      T.pending = [];
    }
    T.pending.push({key: e.key, t0: e.timeStamp, handled: performance.now(),
                    len0: content.textContent.length, phase: T.phase, wall: Date.now()});
  }, true);
}"""


# -- the notebook ---------------------------------------------------------------------------------

def gallery_cells(n_tasks: int, view: str = "gallery") -> list[str]:
    """Cell 0 is the scratch cell (typed into); the gallery's cells follow it."""
    show = ("from hailuo_nb.widgets import Gallery\n\ngallery = Gallery(tasks)\ngallery"
            if view == "gallery" else
            "from IPython.display import display\n\nfor t in tasks:\n    display(t)")
    draws = "gallery.draws" if view == "gallery" else "-1"
    return [
        "",
        "import hailuo_nb, time\nprint(\"IMPORTED\", time.time())",
        f"tasks = hailuo_nb.generate_many([f\"{PROMPT} {{i}}\" for i in range({n_tasks})],\n"
        f"                                max_in_flight={n_tasks}, new=True)\n"
        "print(\"QUEUED\", time.time())",
        show,
        "hailuo_nb.wait_all(tasks)\nkernel_done = time.time()\n"
        "from hailuo_nb.widgets.redraws import redraws\n"
        "print(\"KERNEL_DONE\", kernel_done)\n"
        f"print(\"REDRAWS\", redraws.flushes, redraws.messages, {draws})\n"
        "print(\"STATUS\", dict(__import__('collections').Counter(t.status for t in tasks)))",
    ]


# -- emulator + JupyterLab ----------------------------------------------------------------------



@contextlib.contextmanager
def gallery_lab(folder: Path | None = None, *, task_seconds: float = TASK_SECONDS,
                task_jitter: float = TASK_JITTER) -> Iterator[bh.Lab]:
    """An emulator (subprocess, tasks of ``task_seconds`` ± ``task_jitter``) and a
    JupyterLab whose kernels use it; both stopped after. ``folder``: where root and state
    go (a temporary folder, removed after, when None)."""
    own = folder is None
    folder = Path(tempfile.mkdtemp(prefix="hailuo-gallery-lab-")) if own else Path(folder)
    root, state = folder / "lab_root", folder / "lab_state"
    root.mkdir(parents=True, exist_ok=True)
    state.mkdir(parents=True, exist_ok=True)
    key = f"sk-gallery-{secrets.token_hex(16)}"
    emu = EmulatorProcess(task_seconds=task_seconds, task_jitter=task_jitter, seed=7,
                          api_key=key,
                          env={"HAILUO_EMULATOR_CACHE": str(state / "clips")}).start()
    try:
        lab = bh.start_lab(root, state, {
            "EVOLINK_API_KEY": key, "HAILUO_BASE_URL": emu.base_url,
            "HAILUO_FILES_URL": emu.base_url, "HAILUO_HOME": str(state / "hailuo_home"),
        })
        # JupyterLab renders the first 50 outputs of a cell and hides the rest behind
        # "show more" (and 0, said to mean "no limit", hides them all in JupyterLab 4.6):
        # the TaskView baseline (one output per task) must show all 200.
        tracker = state / "settings" / TRACKER_SETTINGS
        tracker.write_text(json.dumps({**bh.LAB_SETTINGS[TRACKER_SETTINGS],
                                       "maxNumberOutputs": 10_000}))
        lab.emulator = emu  # type: ignore[attr-defined]
        lab.task_seconds = task_seconds  # type: ignore[attr-defined]
        try:
            yield lab
        finally:
            lab.stop()
    finally:
        emu.stop()
        if own:
            shutil.rmtree(folder, ignore_errors=True)


# -- numbers --------------------------------------------------------------------------------------

def percentile(values: list[float], q: float) -> float | None:
    """Linear interpolation between closest ranks (q in 0..100); None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (pos - low))


def max_in_window(times_ms: list[float], window_ms: float = 1000) -> int:
    """The most events in any window of ``window_ms`` (sliding, starting at an event)."""
    ordered = sorted(times_ms)
    best, j = 0, 0
    for i, t in enumerate(ordered):
        while ordered[j] <= t - window_ms:
            j += 1
        best = max(best, i - j + 1)
    return best


def per_second(times_ms: list[float], start_ms: float) -> list[int]:
    """Counts per whole second since ``start_ms`` (fixed bins)."""
    if not times_ms:
        return []
    bins = Counter(int((t - start_ms) // 1000) for t in times_ms)
    return [bins.get(i, 0) for i in range(max(bins) + 1)]


def frame_type(payload: Any) -> tuple[str, str]:
    """(channel, msg_type) of one kernel websocket frame as Playwright gives it."""
    try:
        if isinstance(payload, str):
            msg = json.loads(payload)
            return msg.get("channel", ""), (msg.get("header") or {}).get("msg_type", "?")
        data = bytes(payload)
        n = struct.unpack_from("<Q", data, 0)[0] if len(data) >= 8 else 0
        if 3 <= n < 4096 and 8 * (n + 1) <= len(data):
            offs = struct.unpack_from(f"<{n}Q", data, 8)
            channel = data[offs[0]:offs[1]].decode()
            header = json.loads(data[offs[1]:offs[2]])
            return channel, header.get("msg_type", "?")
        count, start = struct.unpack_from(">II", data, 0)
        end = struct.unpack_from(">I", data, 8)[0] if count > 1 else len(data)
        msg = json.loads(data[start:end])
        return msg.get("channel", ""), (msg.get("header") or {}).get("msg_type", "?")
    except Exception:
        text = payload if isinstance(payload, str) else bytes(payload).decode("latin-1")
        found = re.search(r'"msg_type":\s*"(\w+)"', text)
        return "", found.group(1) if found else "?"


def _typing_numbers(results: list[dict], phase: str) -> dict:
    rows = [r for r in results if r.get("phase") == phase]
    dom = [r["dom"] - r["t0"] for r in rows]
    frame = [r["frame"] - r["t0"] for r in rows]
    queued = [r["handled"] - r["t0"] for r in rows]
    return {
        "keys": len(rows),
        "dom_p50_ms": percentile(dom, 50), "dom_p95_ms": percentile(dom, 95),
        "p50_ms": percentile(frame, 50), "p95_ms": percentile(frame, 95),
        "max_ms": max(frame) if frame else None,
        "queued_p95_ms": percentile(queued, 95),
        "first_wall": min((r["wall"] for r in rows), default=None),
        "last_wall": max((r["wall"] for r in rows), default=None),
    }


# -- the page -------------------------------------------------------------------------------------

def _type_keys(page: Any, phase: str, *, at_least: int, until_js: str | None = None,
               at_most: int = 400, gap_ms: tuple[int, int] = (80, 160),
               rng: random.Random, timeout_s: float = 120, pause_js: str | None = None,
               on_pause: Any = None, check_every: int = 8) -> int:
    """Press single letters in the scratch editor at a steady pace, like a person typing:
    a key, then a pause of ``gap_ms`` (random; a driver-side timer, not the page's). No
    question is put to the page between keys but every ``check_every`` keys (a question
    is answered only when the page's main thread is free, which would steer keys into
    its quiet moments). After ``at_least`` keys, go on while ``until_js`` is false (up to
    ``at_most``); once ``pause_js`` is true, ``on_pause()`` runs once between two keys.

    A key is pressed through the DevTools protocol, which waits for the page to take it:
    during a long task the key waits (its latency counts the wait, from the event's own
    timestamp), and the next key follows it. Returns the keys pressed."""
    page.evaluate("(p) => { window.__hlType.phase = p; }", phase)
    letters = "abcdefghijklmnopqrstuvwxyz"
    deadline = time.monotonic() + timeout_s
    pressed = 0
    while pressed < at_most and time.monotonic() < deadline:
        if pressed % check_every == 0 or pressed == at_least:
            if pressed >= at_least and (until_js is None or page.evaluate(until_js)):
                break
            if on_pause is not None and pause_js and page.evaluate(pause_js):
                on_pause()
                on_pause = None
        page.keyboard.press(letters[pressed % len(letters)])
        pressed += 1
        page.wait_for_timeout(rng.randint(*gap_ms))
    with contextlib.suppress(Exception):  # every key measured (a key lost is counted)
        page.wait_for_function("() => !window.__hlType.pending.length"
                               " && !window.__hlType.inflight", timeout=15_000, polling=50)
    return pressed


def _scratch(page: Any) -> Any:
    """The first cell's editor (CodeMirror 6), the one typed into."""
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-CodeCell").first.locator(
        ".cm-content")


def _focus_scratch(page: Any) -> None:
    _scratch(page).click()
    page.keyboard.press("End")


def _forget_workspaces(lab: bh.Lab) -> None:
    """Delete JupyterLab's saved workspaces (REST): a page opened after another one would
    restore its notebook too, two panels where the harness expects one."""
    with contextlib.suppress(Exception):
        listed = lab.api("/lab/api/workspaces") or {}
        ids = listed.get("workspaces", {}).get("ids", []) if isinstance(listed, dict) else []
        for space in {*ids, "default"}:
            with contextlib.suppress(Exception):
                lab.api(f"/lab/api/workspaces/{space}", method="DELETE")


def _close_session(lab: bh.Lab, name: str) -> None:
    """Shut down the kernel of ``name`` (REST), so the next run starts clean."""
    with contextlib.suppress(Exception):
        for session in lab.api("/api/sessions"):
            if session.get("path", "").endswith(name):
                lab.api(f"/api/sessions/{session['id']}", method="DELETE")


def measure_gallery(lab: bh.Lab, browser_context: Any, n_tasks: int = 200, *,
                    view: str = "gallery", keys: int = 40, screenshot: str | None = "gallery.png",
                    docs: bool | None = None, timeout_s: float = 240, seed: int = 1,
                    completing_shots: bool = True, log: Any = None) -> dict:
    """Run the gallery notebook of ``n_tasks`` in a new page of ``browser_context`` and
    return what the page saw (see the module's docstring). ``view``: "gallery" (one
    Gallery) or "taskviews" (one TaskView per task). ``screenshot``: the viewport with the
    gallery mid-run, saved by ``browser_harness.shoot`` (None: none); then, unless
    ``completing_shots`` is False, the page as it is when a quarter of the tasks are done
    (typing pauses for it) and the static grid at the end, as ``*_completing.png`` and
    ``*_records.png`` in tests/_screens only."""
    if view not in ("gallery", "taskviews"):
        raise ValueError(f"view must be 'gallery' or 'taskviews', not {view!r}")
    say = log or (lambda *_a: None)
    rng = random.Random(seed)
    name = f"gallery_load_{view}_{n_tasks}_{secrets.token_hex(3)}.ipynb"
    bh.write_notebook(lab.root, name, gallery_cells(n_tasks, view))
    _forget_workspaces(lab)
    page = browser_context.new_page()
    console = bh.Console()
    console.watch(page, name)
    page.add_init_script(WS_LOG_JS)
    frames: Counter = Counter()

    def on_ws(ws: Any) -> None:
        if "/api/kernels/" not in ws.url:
            return
        ws.on("framereceived", lambda payload: frames.update([("in", *frame_type(payload))]))
        ws.on("framesent", lambda payload: frames.update([("out", *frame_type(payload))]))

    page.on("websocket", on_ws)
    out: dict[str, Any] = {"view": view, "n_tasks": n_tasks,
                           "task_seconds": getattr(lab, "task_seconds", None)}
    deadline = time.monotonic() + timeout_s
    try:
        t_open = time.monotonic()
        bh.open_notebook(page, lab, name)
        out["open_s"] = time.monotonic() - t_open
        _scratch(page).wait_for(timeout=60_000)
        page.evaluate(TYPING_JS)
        page.evaluate(SAMPLER_JS, [n_tasks, view])
        out["run_at"] = page.evaluate("() => Date.now()") / 1000
        bh.run_all_cells(page)
        say("cells started")
        page.wait_for_function("() => window.__hlGallery.cardsAt !== null",
                               timeout=120_000, polling=100)
        say("all cards shown")
        # The tasks are under way and their progress comes in (updates every flush); a
        # view that shows none by half-way (starved of updates) is typed at from there.
        halfway_ms = 0.55 * (getattr(lab, "task_seconds", None) or TASK_SECONDS) * 1000
        page.wait_for_function(
            """(ms) => window.__hlGallery.progressAt !== null
                       || Date.now() - window.__hlGallery.started > ms""",
            arg=halfway_ms, timeout=max(1_000, int((deadline - time.monotonic()) * 1000)),
            polling=100)
        say("progress shown")

        # 1. Typing while the tasks run.
        _focus_scratch(page)
        out["keys_running"] = _type_keys(page, "running", at_least=keys, rng=rng)
        state = page.evaluate("() => window.__hlGallery")
        out["completed_before_running_keys_ended"] = state["firstCompletedAt"] is not None
        say(f"typed {out['keys_running']} keys while running")

        # A look at the gallery mid-run (the viewport, the gallery's head at the top),
        # once the bar has moved.
        if screenshot and view == "gallery" and not state["allDoneAt"]:
            try:
                page.wait_for_function(
                    """() => { const S = window.__hlGallery;
                               const b = S.bar.length ? S.bar[S.bar.length - 1].v : 0;
                               return b >= 10 || S.firstCompletedAt !== null; }""",
                    timeout=max(1_000, int((deadline - time.monotonic()) * 1000)),
                    polling=100)
                head = page.locator(f"{GALLERY} .hl-gallery-head").first
                head.evaluate("""(el) => {
                    el.scrollIntoView({block: 'start'});
                    const scroller = el.closest('.jp-WindowedPanel-outer');
                    if (scroller) scroller.scrollTop -= 48;  // the cell's top edge shows too
                }""")
                page.wait_for_timeout(300)
                out["screenshot"] = str(bh.shoot(page, screenshot, docs=docs, settle_s=0))
                out["layout"] = page.evaluate(LAYOUT_JS)
            except Exception as exc:  # a picture missed is said, not fatal
                out["screenshot_error"] = f"{type(exc).__name__}: {exc}"[:300]

        # 2. Typing from the first completion until the page shows all done.
        left_ms = max(1_000, int((deadline - time.monotonic()) * 1000))
        page.wait_for_function("() => window.__hlGallery.firstCompletedAt !== null",
                               timeout=left_ms, polling=50)
        say("first completion shown")
        _focus_scratch(page)

        def completing_shot() -> None:  # the page as it is: the scratch cell, the gallery
            try:
                out["screenshot_completing"] = str(bh.shoot(
                    page, screenshot.replace(".png", "_completing.png"), docs=False,
                    settle_s=0))
            except Exception as exc:
                out["screenshot_error"] = f"{type(exc).__name__}: {exc}"[:300]

        quarter = f"""() => {{ const s = document.querySelector('{GALLERY} .hl-summary');
                              const m = s && /(\\d+) done/.exec(s.textContent);
                              return !!m && Number(m[1]) >= {max(1, n_tasks // 4)}; }}"""
        out["keys_completing"] = _type_keys(
            page, "completing", at_least=keys,
            until_js="() => window.__hlGallery.allDoneAt !== null",
            timeout_s=max(10.0, deadline - time.monotonic()), rng=rng,
            pause_js=quarter if screenshot and view == "gallery" and completing_shots else None,
            on_pause=completing_shot)
        say(f"typed {out['keys_completing']} keys while completing")
        left_ms = max(1_000, int((deadline - time.monotonic()) * 1000))
        page.wait_for_function("() => window.__hlGallery.allDoneAt !== null",
                               timeout=left_ms, polling=100)
        # The last cell printed (the scratch cell, empty when Run All sent it, gets no
        # execution count: wait_all_executed would wait for ever).
        page.wait_for_function(PRINTED_JS, timeout=max(1_000, int(
            (deadline - time.monotonic()) * 1000)), polling=200)
        bh.wait_kernel_idle(page, timeout_ms=60_000)
        page.wait_for_timeout(2_000)  # trailing messages (the handover, comm_close)
        if view == "gallery":
            with contextlib.suppress(Exception):
                page.wait_for_function("() => window.__hlGallery.gridAt !== null",
                                       timeout=30_000, polling=100)
        say("all done")
        # Everything the page saw.
        state = page.evaluate("() => { const S = window.__hlGallery; clearInterval(S.timer);"
                              " return S; }")
        ws_log = page.evaluate("() => window.__hlWs")
        typing = page.evaluate("() => window.__hlType")
        printed = page.evaluate(PRINTED_JS)
        if screenshot and view == "gallery" and state["gridAt"] and completing_shots:
            try:
                grid = page.locator(".jp-NotebookPanel .hailuo-records").first
                grid.evaluate("(el) => el.parentElement.scrollIntoView({block: 'start'})")
                page.wait_for_timeout(500)
                out["screenshot_records"] = str(bh.shoot(
                    page, screenshot.replace(".png", "_records.png"), docs=False, settle_s=2))
            except Exception as exc:
                out["screenshot_error"] = f"{type(exc).__name__}: {exc}"[:300]
    finally:
        if not page.is_closed():
            page.close()
        _close_session(lab, name)

    out.update(_summarise(state, ws_log, typing, printed, frames, out["run_at"]))
    out["console_errors"] = [m for m in console.messages
                             if "error" in m.split(":", 1)[0] or "pageerror" in m][:20]
    out["widget_errors"] = console.widget_errors()
    return out


PRINTED_JS = """() => {
    const texts = [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-OutputArea-output')].map((e) => e.textContent);
    return texts.some((t) => /STATUS/.test(t)) ? texts.join('\\n') : '';
}"""

LAYOUT_JS = """() => {
    // The gallery's grid as laid out: columns, card width, and whether anything sticks
    // out of the output area.
    const g = document.querySelector('.jp-NotebookPanel .hailuo-gallery .hl-grid');
    if (!g) return null;
    const area = g.closest('.jp-OutputArea-output') || g;
    const cards = [...g.querySelectorAll('.hl-card')];
    const tops = new Set(cards.slice(0, 40).map((c) => Math.round(c.getBoundingClientRect().top)));
    const first = cards[0] ? cards[0].getBoundingClientRect() : null;
    const columns = getComputedStyle(g).gridTemplateColumns.split(' ').length;
    const edge = area.getBoundingClientRect().right;
    const over = cards.filter((c) => c.getBoundingClientRect().right > edge + 1).length;
    return {columns, cardWidth: first && Math.round(first.width), cardHeight: first &&
            Math.round(first.height), areaWidth: Math.round(area.getBoundingClientRect().width),
            rowsIn40: tops.size, cardsOverflowing: over};
}"""


def _summarise(state: dict, ws_log: list[dict], typing: dict, printed: str,
               frames: Counter, run_at: float) -> dict:
    start_ms = run_at * 1000
    comm_in = [f["t"] for f in ws_log if f["dir"] == "in" and f["type"] == "comm_msg"]
    comm_out = [f["t"] for f in ws_log if f["dir"] == "out" and f["type"] == "comm_msg"]
    opens_in = [f for f in ws_log if f["dir"] == "in" and f["type"] == "comm_open"]
    types_in = Counter(f["type"] for f in ws_log if f["dir"] == "in")
    kernel_done = redraws = status = None
    found = re.search(r"KERNEL_DONE ([\d.]+)", printed or "")
    if found:
        kernel_done = float(found.group(1))
    found = re.search(r"REDRAWS (\d+) (\d+) (-?\d+)", printed or "")
    if found:
        redraws = {"flushes": int(found.group(1)), "messages": int(found.group(2)),
                   "gallery_draws": int(found.group(3))}
    stamps = {word: float(m.group(1)) - run_at for word in ("IMPORTED", "QUEUED")
              if (m := re.search(rf"{word} ([\d.]+)", printed or ""))}
    found = re.search(r"STATUS (\{.*\})", printed or "")
    if found:
        status = found.group(1)
    all_done = state["allDoneAt"] / 1000 if state["allDoneAt"] else None
    bar_values = [b["v"] for b in state["bar"]]
    rel = lambda ms: None if ms is None else ms / 1000 - run_at  # noqa: E731
    long_tasks = state.get("longTasks") or []
    results = typing.get("results", [])
    return {
        "comm_msgs_in": len(comm_in),
        "comm_msgs_out": len(comm_out),
        "comm_msgs_max_per_s": max_in_window(comm_in + comm_out),
        "comm_msgs_in_max_per_s": max_in_window(comm_in),
        "comm_msgs_per_s_bins": per_second(comm_in + comm_out, start_ms),
        "comm_opens": len(opens_in),
        "comm_opens_max_per_s": max_in_window([f["t"] for f in opens_in]),
        "frames_in": sum(1 for f in ws_log if f["dir"] == "in"),
        "frames_in_max_per_s": max_in_window([f["t"] for f in ws_log if f["dir"] == "in"]),
        "frame_types_in": dict(types_in.most_common()),
        "biggest_frames_in": [
            (f["type"], round(f["bytes"] / 1024), round(f["t"] / 1000 - run_at, 1))
            for f in sorted((f for f in ws_log if f["dir"] == "in"),
                            key=lambda f: -f["bytes"])[:3]],
        "playwright_comm_msgs_in": sum(v for k, v in frames.items()
                                       if k[0] == "in" and k[2] == "comm_msg"),
        "playwright_comm_opens_in": sum(v for k, v in frames.items()
                                        if k[0] == "in" and k[2] == "comm_open"),
        "kernel_done": kernel_done,
        "kernel_done_s": None if kernel_done is None else kernel_done - run_at,
        "all_done_at_s": rel(state["allDoneAt"]),
        "all_done_by": state["allDoneBy"],
        "lag_s": None if all_done is None or kernel_done is None else all_done - kernel_done,
        "imported_s": stamps.get("IMPORTED"),
        "queued_s": stamps.get("QUEUED"),
        "gallery_shown_s": rel(state["galleryAt"]),
        "cards_shown_s": rel(state["cardsAt"]),
        "progress_shown_s": rel(state["progressAt"]),
        "first_completed_s": rel(state["firstCompletedAt"]),
        "grid_shown_s": rel(state["gridAt"]),
        "live_gone_s": rel(state["liveGoneAt"]),
        "max_cards": state["maxCards"],
        "grid_records": state["gridRecords"],
        "grid_head": state["gridHead"],
        "records": state["records"],
        "live_views_left": state["liveViews"],
        "bar_history": bar_values,
        "bar_max": max(bar_values) if bar_values else None,
        "summaries": [s["text"] for s in state["summaries"]][-6:],
        "saw_all_done_text": any("all done" in s["text"] for s in state["summaries"]),
        "typing_running": _typing_numbers(results, "running"),
        "typing_completing": _typing_numbers(results, "completing"),
        "keys_lost": len(typing.get("pending", [])),
        "keys_elsewhere": typing.get("other", 0),
        "long_tasks": None if state.get("longTasks") is None else len(long_tasks),
        "long_task_ms": sum(t["d"] for t in long_tasks),
        "long_task_max_ms": max((t["d"] for t in long_tasks), default=0),
        # The hand-over: the long tasks that overlap the 2 s around the grid's arrival.
        "handover_long_task_ms": max((t["d"] for t in long_tasks if state["gridAt"] and
                                      t["t"] - 2000 <= state["gridAt"] <= t["t"] + t["d"] + 2000),
                                     default=0) if state["gridAt"] else None,
        "long_tasks_at_s": [(round(t["t"] / 1000 - run_at, 1), round(t["d"]))
                            for t in long_tasks if t["d"] >= 150],
        "redraws": redraws,
        "kernel_status": status,
    }


def report_lines(m: dict) -> list[str]:
    """The numbers, as lines to print."""
    def ms(v: Any) -> str:
        return "-" if v is None else f"{v:.0f} ms"

    def s(v: Any) -> str:
        return "-" if v is None else f"{v:.1f} s"

    tr, tc = m["typing_running"], m["typing_completing"]
    return [
        f"{m['view']} of {m['n_tasks']} tasks ({m['task_seconds']} s each)",
        f"  comm_msg frames: {m['comm_msgs_in']} in + {m['comm_msgs_out']} out; max "
        f"{m['comm_msgs_max_per_s']} in any 1 s (in only: {m['comm_msgs_in_max_per_s']}); "
        f"per second: {m['comm_msgs_per_s_bins']}",
        f"  comm_open frames (models): {m['comm_opens']} (Playwright saw "
        f"{m['playwright_comm_opens_in']}; comm_msg {m['playwright_comm_msgs_in']})",
        f"  all frames in: {m['frames_in']} (max {m['frames_in_max_per_s']}/s) "
        f"{m['frame_types_in']}; biggest (type, KiB, s): {m['biggest_frames_in']}",
        f"  kernel: imported {s(m['imported_s'])}, queued {s(m['queued_s'])}; page: "
        f"gallery {s(m['gallery_shown_s'])}, all cards {s(m['cards_shown_s'])}, "
        f"progress {s(m['progress_shown_s'])}, "
        f"first completed {s(m['first_completed_s'])}, kernel done "
        f"{s(m['kernel_done_s'])}, page all done {s(m['all_done_at_s'])} "
        f"(by {m['all_done_by']}), static grid {s(m['grid_shown_s'])} "
        f"({m['grid_records']} records; {m['grid_head']!r})",
        f"  lag page all done - kernel done: {s(m['lag_s'])}",
        f"  bar: max {m['bar_max']}, {len(m['bar_history'])} values {m['bar_history'][:12]}…",
        f"  typing while running: {tr['keys']} keys, p50 {ms(tr['p50_ms'])}, p95 "
        f"{ms(tr['p95_ms'])}, max {ms(tr['max_ms'])} (to the DOM: p50 "
        f"{ms(tr['dom_p50_ms'])}, p95 {ms(tr['dom_p95_ms'])})",
        f"  typing while completing: {tc['keys']} keys, p50 {ms(tc['p50_ms'])}, p95 "
        f"{ms(tc['p95_ms'])}, max {ms(tc['max_ms'])} (to the DOM: p50 "
        f"{ms(tc['dom_p50_ms'])}, p95 {ms(tc['dom_p95_ms'])})",
        f"  long tasks: {m['long_tasks']} ({m['long_task_ms']:.0f} ms in all, longest "
        f"{m['long_task_max_ms']:.0f} ms; >= 150 ms at (s, ms): {m['long_tasks_at_s']}); "
        f"keys lost {m['keys_lost']}",
        f"  kernel: redraws {m['redraws']}, status {m['kernel_status']}",
        f"  layout mid-run: {m.get('layout')}",
    ]


if __name__ == "__main__":  # by hand: python tests/gallery_load.py [N] [gallery|taskviews]
    from playwright.sync_api import sync_playwright

    why = bh.missing_prerequisites()
    if why:
        sys.exit(f"cannot run: {why}")
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    kind = sys.argv[2] if len(sys.argv) > 2 else "gallery"
    with gallery_lab() as the_lab, sync_playwright() as pw:
        chromium = bh.launch_chromium(pw)
        ctx = chromium.new_context(viewport=VIEWPORT)
        ctx.set_default_timeout(60_000)
        t0 = time.monotonic()
        numbers = measure_gallery(the_lab, ctx, count, view=kind,
                                  log=lambda *a: print(f"[{time.monotonic() - t0:5.1f} s]", *a,
                                                       flush=True))
        print("\n".join(report_lines(numbers)))
        print(json.dumps({k: v for k, v in numbers.items() if k != "bar_history"},
                         indent=1, default=str)[:6000])
        ctx.close()
        chromium.close()
