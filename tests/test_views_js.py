"""The live views' front end (static/views.js), its pure parts run in Node: which URLs may
become a player's or a link's source, the clock's words, the status line.

The module is evaluated in a fresh V8 context with a stand-in ``window`` (the page's
address); no browser is needed for these rules (the browser tests see the rest).
"""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from hailuo_nb._pure.describe import format_seconds
from hailuo_nb.widgets.task_view import STATIC

NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="node is not installed (run_tests.sh "
                                                     "installs Debian's nodejs)")
PAGE = "http://127.0.0.1:8888/lab/tree/work/x.ipynb"
HARNESS = """
const fs = require("fs");
const vm = require("vm");
const code = fs.readFileSync(process.argv[1], "utf8").replace("export default", "const _view =");
const page = new URL(process.argv[2]);
const context = { window: { location: { href: page.href, origin: page.origin } }, URL };
vm.createContext(context);
const api = vm.runInContext(code + "\\n;({ safeUrl, fmt, statusText, makeClock })", context);
const cases = JSON.parse(process.argv[3]);
const out = cases.map(([fn, args]) => fn === "statusText"
  ? api.statusText(args[0], { now: () => args[1] })
  : api[fn](...args));
process.stdout.write(JSON.stringify(out));
"""


def run_js(cases: list) -> list:
    done = subprocess.run([NODE, "-e", HARNESS, str(STATIC / "views.js"), PAGE,
                           json.dumps(cases)], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


ALLOWED = [
    "https://cdn.example.com/v/1.mp4?sig=a&b=<c>",
    "http://127.0.0.1:44425/media/results/task-1.mp4",
    "/files/hailuo_videos/task-1.mp4",
    "/lab-base/files/sub%20dir/hailuo_videos/task-1.mp4",
]
REFUSED = [
    "javascript:alert(1)", "JaVaScRiPt:alert(1)", "data:text/html,<script>alert(1)</script>",
    "//evil.example.com/x.mp4", "/\\evil.example.com/x.mp4", "/\t/evil.example.com/x.mp4",
    "/\n/evil.example.com/x.mp4", " https://evil.example.com", "hailuo_videos/x.mp4",
    "vbscript:x", "file:///etc/passwd", "blob:http://evil/1", "", None, 42,
]


def test_only_http_urls_and_paths_of_the_page_s_own_server_become_sources():
    got = run_js([["safeUrl", [u]] for u in ALLOWED + REFUSED])
    assert got[: len(ALLOWED)] == ALLOWED
    assert got[len(ALLOWED):] == [None] * len(REFUSED), list(zip(REFUSED, got[len(ALLOWED):],
                                                                 strict=True))


def test_only_inline_jpeg_png_and_webp_images():
    images = ["data:image/jpeg;base64,/9j/4AAQ", "data:image/png;base64,iVBORw0KGgo=",
              "data:image/webp;base64,UklGRg=="]
    refused = ["data:image/svg+xml;base64,PHN2Zz4=", "data:image/png;base64,iVB<script>",
               "data:text/html;base64,PHNjcmlwdD4="]
    got = run_js([["safeUrl", [u, True]] for u in images + refused])
    assert got == images + [None] * len(refused)


def test_the_clock_says_what_python_says():
    seconds = [0, 0.4, 1, 59.4, 59.6, 60, 61, 3599, 3600, 3661, 86399, None]
    assert run_js([["fmt", [s]] for s in seconds]) == [format_seconds(s) for s in seconds]


def test_the_status_line_ticks_from_timestamps():
    now = 1_000_000.0
    running = {"status": "processing", "started": now - 12, "elapsed": 3, "estimated": 60,
               "note": "", "download": ""}
    late = dict(running, estimated=10)
    done = dict(running, status="completed", elapsed=42, download="saved")
    queued = dict(running, status="queued", started=None)
    got = run_js([["statusText", [running, now]], ["statusText", [running, now + 5]],
                  ["statusText", [late, now]], ["statusText", [done, now + 999]],
                  ["statusText", [queued, now]]])
    assert got == [
        "processing · elapsed 12s · ETA ~48s",
        "processing · elapsed 17s · ETA ~43s",  # five seconds on, nothing received
        "processing · elapsed 12s · past the ~10s estimate",
        "completed · elapsed 42s · saved",  # a settled task's time stands still
        "queued · elapsed —",
    ]
