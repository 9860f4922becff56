"""Security: the API key never leaks, injected HTML stays inert, downloads stay in their
folder, private files are 0600.

Each test uses a unique key (the ``api_key`` fixture) so a leak is found by plain
search: in every file written (HAILUO_HOME, the working directory with its videos and
JSON sidecars, an executed notebook), every captured output and log record (DEBUG, all
loggers), every exception's text and traceback, and every widget's state. Real HTTP to
the emulator everywhere; where a hostile server is needed, a tiny stdlib one.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import logging
import os
import re
import stat
import sys
import threading
import time
import traceback
import warnings
from html.parser import HTMLParser
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest
import waiting

import hailuo_nb
from hailuo_nb import Client, GenerationRequest, Task
from hailuo_nb._presentation import render
from hailuo_nb._presentation.display import task_bundle
from hailuo_nb.errors import (
    AuthenticationError,
    HailuoError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)

POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"
ROOT = Path(__file__).resolve().parents[1]

EVIL_PROMPT = ('A cat <script>alert(1)</script> <img src=x onerror=alert(2)> '
               '"\'><svg/onload=alert(3)> &amp; [Pan left]')
EVIL_HTML = ('<script>alert(1)</script><img src=x onerror=alert(2)>'
             '"\'><svg/onload=alert(3)><a href="javascript:alert(4)">x</a>')
EVIL_URLS = [
    "javascript:alert(1)",
    "JaVaScRiPt:alert(1)",
    " javascript:alert(1)",
    "java\tscript:alert(1)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox(1)",
    "//evil.example/x.mp4",
    'https://x.example/a.mp4"onmouseover="alert(1)',
    "https://x.example/a.mp4'><script>alert(1)</script>",
]
EVIL_IDS = [
    "../../x", "../x", "..", ".", "/etc/passwd", "/abs/path", "a/../../b", "..\\..\\win",
    "x/../../y", "%2e%2e%2fx", "....//....//x", "\x00nul", "~/x", "x" * 300, " ../x ",
]


# ----------------------------------------------------------------------------- helpers


class Leaks:
    """Everything a user or a log could see, searched for secrets at the end."""

    def __init__(self, *secrets: str):
        self.secrets = [s for s in secrets if s]
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, text) -> None:
        self.texts.append((where, text if isinstance(text, str) else repr(text)))

    def add_exc(self, where: str, exc: BaseException) -> None:
        self.add(f"{where}: str", str(exc))
        self.add(f"{where}: repr", repr(exc))
        self.add(f"{where}: traceback", "".join(traceback.format_exception(exc)))
        self.add(f"{where}: attributes", repr(vars(exc)))

    def check(self) -> None:
        assert self.texts
        for where, text in self.texts:
            for secret in self.secrets:
                assert secret not in text, f"the key leaks through {where}: {text[:500]}"


def files_containing(needle: str, *roots: Path, skip: tuple[Path, ...] = ()) -> list[Path]:
    raw = needle.encode()
    found = []
    for root in roots:
        for path in Path(root).rglob("*"):
            if path.is_file() and path not in skip and raw in path.read_bytes():
                found.append(path)
    return found


def home() -> Path:
    return Path(os.environ["HAILUO_HOME"])


def record_logs(caplog, leaks: Leaks) -> None:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    for record in caplog.records:
        leaks.add(f"log record {record.name}", formatter.format(record))
    leaks.add("caplog text", caplog.text)


SAFE_TAGS = {"div", "span", "b", "i", "br", "code", "small", "a", "video", "p",
             "table", "thead", "tbody", "tr", "th", "td", "pre", "img", "details", "summary"}
SAFE_ATTRS = {"style", "title", "href", "src", "target", "rel", "class", "controls",
              "preload", "playsinline", "poster", "alt"}
# The only data: URL a record may hold: an inlined JPEG still (poster, strip frame).
INLINE_JPEG = re.compile(r"data:image/jpeg;base64,[A-Za-z0-9+/]+=*")
_SCHEME_JUNK = re.compile(r"[\x00-\x20]+")


class _Audit(HTMLParser):
    """Parses HTML as a browser would and notes anything that could run."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.bad: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.bad.append(f"<{tag}>")
        for name, value in attrs:
            if name not in SAFE_ATTRS:
                self.bad.append(f"{tag}[{name}]")
            if (tag, name) in (("img", "src"), ("video", "poster")) and INLINE_JPEG.fullmatch(
                    value or ""):
                continue
            if name in ("href", "src", "poster"):
                url = _SCHEME_JUNK.sub("", value or "").lower()  # browsers drop these
                scheme = url.split(":", 1)[0] if ":" in url.split("/", 1)[0] else ""
                if scheme not in ("", "http", "https") or url.startswith("//"):
                    self.bad.append(f"{tag}[{name}={value!r}]")
            if name == "style" and re.search(r"expression|url\s*\(|javascript",
                                             value or "", re.I):
                self.bad.append(f"{tag}[style={value!r}]")


def assert_inert(text: str, where: str = "") -> None:
    audit = _Audit()
    audit.feed(text)
    audit.close()
    assert not audit.bad, (where, audit.bad, text[:2000])


@contextlib.contextmanager
def umask(mask: int):
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def eventually(predicate, what: str, guard: float = 60.0) -> None:
    waiting.eventually(predicate, what, guard)  # engine threads here take longer


class _EchoHandler(BaseHTTPRequestHandler):
    """A hostile service: every error field repeats the Authorization header back."""

    def log_message(self, *args):
        pass

    def do_GET(self):
        self._answer()

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self._answer()

    def _answer(self):
        auth = self.headers.get("Authorization", "")
        key = auth.split(" ", 1)[-1]
        last = self.path.rstrip("/").rsplit("/", 1)[-1]
        status = int(last[-3:]) if last[-3:].isdigit() else 401
        body = json.dumps({"error": {
            "code": key, "message": f"bad token {auth}", "type": f"type {key}",
            "param": f"param {key}", "fallback_suggestion": f"retry after 0 seconds {key}",
        }}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Echo", key)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def echo_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _EchoHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


# ----------------------------------------------------------------- the key: Python API


@pytest.mark.slow
def test_a_full_python_api_run_leaks_the_key_nowhere(
    emulator_factory, env_for, api_key, tmp_path, capsys, caplog
):
    caplog.set_level(logging.DEBUG)  # every logger, urllib3's wire log included
    emu = env_for(emulator_factory(api_keys=(api_key,), task_seconds=0.2))
    wrong_key = api_key.replace("sk-test-", "sk-wrong-")
    leaks = Leaks(api_key, wrong_key)
    tasks: list[Task] = []

    def expect(exc_type, where, fn, *args, **kwargs):
        with pytest.raises(exc_type) as info:
            fn(*args, **kwargs)
        leaks.add_exc(where, info.value)
        return info.value

    done = hailuo_nb.generate("A lighthouse at dusk [Push in]", wait=True)
    tasks.append(done)
    many = hailuo_nb.generate_many(["a cat [Pan left]", "a dog [Pan right]",
                                    "an nsfw scene"], max_in_flight=2)
    tasks += many
    hailuo_nb.wait_all(many, timeout=120)
    expect(TaskFailedError, "failed task", many[2].wait, 0)
    assert many[2].error["code"] == "content_policy_violation"

    # 401s: injected on the submit, injected on a poll, and a real wrong key.
    emu.inject(POST, "401")
    expect(AuthenticationError, "401 on submit", hailuo_nb.generate, "refused [Pan left]")
    emu.inject(GET, "401")
    revoked = hailuo_nb.generate("revoked while running")
    tasks.append(revoked)
    revoked.wait(60)  # a 401 while polling pauses the key; the task is not failed for it
    assert revoked.status == "completed" and revoked.note == ""
    wrong = Client(api_key=wrong_key, base_url=emu.base_url)
    expect(AuthenticationError, "wrong key", hailuo_nb.generate, "x", client=wrong)
    expect(AuthenticationError, "wrong key get_task", wrong.get_task, done.id)

    # Bad input, including a key that cannot be sent (its text must not be echoed).
    expect(ValidationError, "bad quality", hailuo_nb.generate, "x", quality="4k")
    expect(ValidationError, "bad image", hailuo_nb.generate, "x", image="javascript:alert(1)")
    expect(ValidationError, "bad batch", hailuo_nb.generate_many, ["ok", "[Pan lft]"])
    expect(ValidationError, "key with a space", Client, api_key=f"{api_key} x",
           base_url=emu.base_url)
    # Arguments swapped by hand (Client(url, key)): the key lands in base_url.
    expect(ValidationError, "swapped arguments", Client, emu.base_url, api_key)
    # Nothing listens there: a transport error names the host, never the key.
    from hailuo_nb.emulator.server import free_port

    dead = Client(api_key=api_key, base_url=f"http://127.0.0.1:{free_port()}")
    expect(HailuoError, "unreachable", hailuo_nb.generate, "x", client=dead)
    emu.configure(task_seconds=30)
    slow = hailuo_nb.generate("a slow one")
    expect(TaskTimeoutError, "wait timeout", slow.wait, 0.05)
    tasks.append(slow)

    # History, resume (same session and "after a restart"), reprs, tables.
    rows = hailuo_nb.history()
    leaks.add("history", rows)
    leaks.add("resume()", [repr(t) for t in hailuo_nb.resume()])
    hailuo_nb._engine.journal.unregister()  # as after a kernel restart
    hailuo_nb._engine.scheduler.stop_following_all()
    resumed = hailuo_nb.resume() + hailuo_nb.resume(done.id)
    tasks += resumed
    from hailuo_nb.magics import HistoryTable

    table = HistoryTable(hailuo_nb.history())
    leaks.add("history text", table.text())
    leaks.add("history html", table.html())
    for task in tasks:
        leaks.add(f"repr {task.id}", repr(task))
        leaks.add(f"bundle {task.id}", task_bundle(task))
        leaks.add(f"traits {task.id}", {n: getattr(task, n) for n in task.trait_names()})
        leaks.add(f"dict {task.id}", {k: repr(v) for k, v in vars(task).items()
                                      if k != "_client"})
    leaks.add("client repr", repr(done._client))

    captured = capsys.readouterr()
    leaks.add("stdout", captured.out)
    leaks.add("stderr", captured.err)
    record_logs(caplog, leaks)
    leaks.check()
    sidecars = list((tmp_path / "hailuo_videos").glob("*.json"))
    assert len(sidecars) >= 3  # they were written, so the walk below read them
    assert files_containing(api_key, home(), tmp_path) == []
    assert files_containing(wrong_key, home(), tmp_path) == []


def test_a_key_echoed_by_a_hostile_server_is_scrubbed_everywhere(echo_server, api_key):
    client = Client(api_key=api_key, base_url=echo_server, max_retries=0)
    leaks = Leaks(api_key)
    for status in (400, 401, 402, 403, 404, 413, 429, 500, 502, 503):
        with pytest.raises(HailuoError) as info:
            client.get_task(f"task-unified-1-{status}", retry=False)
        leaks.add_exc(f"GET answered {status}", info.value)
        assert getattr(info.value, "status", None) == status
    with pytest.raises(HailuoError) as info:
        hailuo_nb.generate("echo", client=client, download=False)
    leaks.add_exc("generate", info.value)
    [row] = hailuo_nb.history()
    leaks.add("history row", row)
    leaks.check()
    assert files_containing(api_key, home()) == []


class _MediaHandler(BaseHTTPRequestHandler):
    """A result-link host that remembers every Authorization header it is sent."""

    seen: ClassVar[list] = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        type(self).seen.append(self.headers.get("Authorization"))
        if self.path.startswith("/hop"):  # a redirect to the same host
            self.send_response(302)
            self.send_header("Location", "/media/final.mp4")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 100
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_the_key_is_never_sent_to_result_links(api_key, tmp_path):
    """Result links (and their redirects) get no Authorization header, even on the API's
    own host."""
    _MediaHandler.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _MediaHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        client = Client(api_key=api_key, base_url=base)  # the same host as the links
        client.download(f"{base}/media/a.mp4", tmp_path / "a.mp4")
        client.download(f"{base}/hop/b.mp4", tmp_path / "b.mp4")
        task = Task(id="task-unified-1-links", status="completed",
                    results=[f"{base}/media/c.mp4"], client=client)
        task.save(tmp_path)
    finally:
        server.shutdown()
        server.server_close()
    assert len(_MediaHandler.seen) == 4
    assert _MediaHandler.seen == [None] * 4
    assert (tmp_path / "task-unified-1-links.mp4").exists()


# ----------------------------------------------------------------- the key: widgets


@pytest.mark.slow
def test_widget_state_and_comm_traffic_never_hold_the_key(
    monkeypatch, emulator_factory, env_for, api_key, tmp_path
):
    import ipywidgets as W
    import widget_comm
    from ipywidgets.widgets.widget import _instances

    from hailuo_nb.widgets import Gallery, GenerationForm, TaskView

    log = widget_comm.install(monkeypatch)
    before = set(_instances)
    emu = env_for(emulator_factory(api_keys=(api_key,), task_seconds=0.2))
    done = hailuo_nb.generate(EVIL_PROMPT, wait=True)
    blocked = hailuo_nb.generate("an nsfw scene <b>bold</b>")
    hailuo_nb.wait_all([blocked], timeout=60)
    emu.inject(GET, "401")  # now nothing else polls: this one is the next task's
    revoked = hailuo_nb.generate("revoked <i>key</i>")
    hailuo_nb.wait_all([revoked], timeout=60)
    # A 401 while polling pauses the key; the task carries on once the key works again.
    assert (blocked.status, revoked.status) == ("failed", "completed")

    views = [TaskView(t) for t in (done, blocked, revoked)]
    form = GenerationForm()
    form.prompt.value = EVIL_PROMPT
    submitted = form.submit()
    assert submitted is not None
    submitted.wait(60)
    gallery = Gallery([done, blocked, revoked, submitted])
    from_history = Gallery.from_history(limit=10)
    widgets = [*views, form, gallery, from_history]
    from hailuo_nb.widgets.redraws import redraws

    for task in [*(v.task for v in views), *form.tasks, *gallery.tasks, *from_history.tasks]:
        eventually(lambda t=task: t.is_done, "the task ends")
    eventually(lambda: not redraws.pending, "the views drew the end")
    bundles = [w._repr_mimebundle_() for w in widgets]

    assert log.messages
    assert api_key not in log.text()
    new = {k: w for k, w in list(_instances.items()) if k not in before}
    assert len(new) > 10
    for widget in new.values():
        state = json.dumps(widget.get_state(), default=repr)
        assert api_key not in state, widget
    with warnings.catch_warnings():  # the brief's "Widget.widgets": the same registry
        warnings.simplefilter("ignore", DeprecationWarning)
        assert W.Widget.widgets is _instances
    for bundle in bundles:
        assert api_key not in json.dumps(bundle, default=repr)
    assert files_containing(api_key, home(), tmp_path) == []


# ------------------------------------------------------------------- the key: magics


@pytest.fixture
def shell():
    from shell import TestingShell

    from hailuo_nb import magics
    from hailuo_nb._client import credentials
    sh = TestingShell.create()
    run = sh.run("%load_ext hailuo_nb")
    assert run.error is None, run.stderr
    yield sh
    if magics._EMULATOR.running:
        magics._EMULATOR.stop()
    magics.unload_ipython_extension(sh)
    sh.close()
    credentials.set_session_key(None)


def test_magics_in_a_real_shell_leak_the_key_nowhere(
    shell, emulator_factory, api_key, monkeypatch, tmp_path, capsys, caplog
):
    from hailuo_nb._client import credentials
    caplog.set_level(logging.DEBUG)
    emu = emulator_factory(api_keys=(api_key,), task_seconds=0.2)
    monkeypatch.setenv("HAILUO_BASE_URL", emu.base_url)
    monkeypatch.setenv("HAILUO_FILES_URL", emu.files_url)
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": api_key)
    leaks = Leaks(api_key)
    runs = {}

    def run(code: str):
        result = shell.run(code)
        runs[code] = result
        leaks.add(f"cell {code!r}", result.text)
        if result.error is not None:
            leaks.add_exc(f"cell {code!r}", result.error)
        return result

    assert run("%hailuo login").error is None
    assert run("%hailuo login --save").error is None
    assert mode(credentials.credentials_file()) == 0o600
    ok = run("%%hailuo -q 768p -d 6 -o fox --wait\nA red fox trots through snow [Tracking shot]")
    assert ok.error is None, ok.stderr
    fox = shell.user_ns["fox"]
    assert fox.status == "completed"
    failed = run(f"%%hailuo --wait\n{EVIL_PROMPT} nsfw")
    assert failed.error is not None and "content_policy_violation" in failed.stderr
    emu.inject(POST, "401")
    refused = run("%%hailuo\nrefused [Pan left]")
    assert refused.error is not None and "401" in refused.stderr
    run("%hailuo -i javascript:alert(1) a bad image")
    assert run(f"%hailuo status {fox.id}").error is None
    run("%hailuo status task-unified-1700000000-nothere1")
    run("%hailuo resume")
    history = run("%hailuo history")
    assert history.error is None
    run("%hailuo emulator status")
    run("%config HailuoMagics")
    run("%hailuo logout")

    for result in runs.values():
        for out in result.outputs:
            html_ = out["data"].get("text/html")
            if html_:
                assert_inert(html_, "a cell's text/html")
    captured = capsys.readouterr()
    leaks.add("stdout", captured.out)
    leaks.add("stderr", captured.err)
    record_logs(caplog, leaks)
    leaks.check()
    assert not credentials.credentials_file().exists()  # logout removed it
    assert files_containing(api_key, home(), tmp_path) == []


# --------------------------------------------------------------- the key: a notebook


@pytest.mark.kernel
def test_an_executed_quickstart_notebook_holds_no_key(emulator_factory, api_key, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    from jupyter_client.kernelspec import KernelSpecManager
    from jupyter_client.manager import KernelManager

    emu = emulator_factory(api_keys=(api_key,), task_seconds=0.5)
    work, kernel_home, specs = tmp_path / "work", tmp_path / "home", tmp_path / "specs"
    work.mkdir()
    spec = specs / "hailuo-security-python"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3", "language": "python",
    }))
    env = {k: v for k, v in os.environ.items()
           if k not in ("EVOLINK_API_KEY", "HAILUO_BASE_URL", "HAILUO_FILES_URL")}
    env.update(EVOLINK_API_KEY=api_key, HAILUO_BASE_URL=emu.base_url,
               HAILUO_FILES_URL=emu.files_url, HAILUO_HOME=str(kernel_home),
               PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")])))
    nb = nbformat.read(ROOT / "notebooks" / "quickstart.ipynb", as_version=4)
    km = KernelManager(kernel_name="hailuo-security-python",
                       kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(specs)]))
    try:
        nbclient.NotebookClient(nb, km=km, timeout=600,
                                resources={"metadata": {"path": str(work)}}).execute(env=env)
    finally:  # nbclient leaves alone a kernel whose manager it was given
        if km.has_kernel:
            km.shutdown_kernel(now=True)
    saved = work / "quickstart.ipynb"
    nbformat.write(nb, saved)

    text = saved.read_text(encoding="utf-8")
    assert api_key not in text  # outputs, and the widget state nbclient stores in metadata
    assert "completed" in text
    assert emu.tasks_created >= 2  # it really ran against the emulator, with the key
    errors = [o for c in nb.cells for o in c.get("outputs", []) if o["output_type"] == "error"]
    assert not errors, errors
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            if "text/html" in data:
                html_ = data["text/html"]
                assert_inert(html_ if isinstance(html_, str) else "".join(html_), "notebook")
    assert list((work / "hailuo_videos").glob("*.json"))
    assert files_containing(api_key, work, kernel_home) == []


# ------------------------------------------------------------------------ inert HTML


def _html_of_view(view) -> list[str]:
    """Every piece of HTML a page renders for this widget tree. A live view (one anywidget
    model) renders no HTML at all: its front end sets text; its links must be http(s) and
    its images inline JPEG/PNG, and its fallback HTML (terminal, nbconvert) is audited."""
    import ipywidgets as W

    from hailuo_nb.widgets.task_view import LiveView

    out, stack = [], [view]
    while stack:
        widget = stack.pop()
        if isinstance(widget, LiveView):
            for state in getattr(widget, "_states", None) or [widget.state]:
                for key in ("video", "url"):  # or a saved file where the page's server has it
                    assert state[key] == "" or render.safe_http_url(state[key]) or (
                        key == "video" and re.fullmatch(r"/(?![/\\])[^\s\"'<>]*", state[key])
                    ), state[key]
                for key in ("poster", "thumbnail"):
                    assert re.fullmatch(r"(data:image/(jpeg|png|webp);base64,[A-Za-z0-9+/=]+)?",
                                        state.get(key, "")), key
            bundle = widget._repr_mimebundle_()
            out.append((bundle[0] if isinstance(bundle, tuple) else bundle)["text/html"])
        if isinstance(widget, W.HTML):
            out.append(widget.value)
        if isinstance(widget, W.Output):
            out += [o["data"].get("text/html", "") for o in widget.outputs]
        stack.extend(getattr(widget, "children", ()))
    return out


def _evil_tasks(tmp_path: Path) -> list[Task]:
    req = GenerationRequest(prompt=EVIL_PROMPT)
    tasks = []
    for url in EVIL_URLS:
        tasks.append(Task(request=req, id=f'task-<b>"{len(tasks)}\'', status="completed",
                          progress=100, results=[url], finished=time.time(),
                          download_error=EVIL_HTML, download_state="failed"))
    tasks.append(Task(request=req, id="<script>alert(1)</script>", status="failed",
                      error={"code": "<img src=x onerror=alert(1)>", "message": EVIL_HTML,
                             "retryable": False}, finished=time.time()))
    tasks.append(Task(request=req, id="task-x", status="processing", progress=42,
                      note=EVIL_HTML, estimated_time=10.0))
    evil_dir = tmp_path / 'v"><img src=x onerror=alert(5)>'
    evil_dir.mkdir()
    video = evil_dir / "javascript:alert(6).mp4"
    video.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    tasks.append(Task(request=req, id="task-y", status="completed", progress=100,
                      results=["javascript:alert(7)"], local_path=str(video),
                      download_state="done", finished=time.time()))
    return tasks


def test_html_from_prompts_errors_ids_paths_and_urls_is_inert_in_static_renders(tmp_path):
    for task in _evil_tasks(tmp_path):
        page = render.task_html(task)
        assert_inert(page, f"task_html {task.id}")
        assert_inert(task_bundle(task)["text/html"], f"bundle {task.id}")
        assert "<script>" not in page and "<img" not in page and "<svg" not in page
        if render.refused_url_note(task) and not task.local_path:
            assert "<video" not in page and "<a " not in page  # nothing to play or open
    assert render.safe_http_url(EVIL_URLS[0]) is None
    assert all(render.safe_http_url(u) is None for u in EVIL_URLS if not u.startswith("https"))


def test_html_is_inert_in_live_task_views_gallery_and_form(monkeypatch, tmp_path):
    import widget_comm

    from hailuo_nb.widgets import Gallery, GenerationForm, TaskView

    widget_comm.install(monkeypatch)
    tasks = _evil_tasks(tmp_path)
    for task in tasks:
        view = TaskView(task)
        view.redraw()
        for value in _html_of_view(view):
            assert_inert(value, f"TaskView {task.id}")
        # The task moves on: what the poller would set is escaped too.
        task.note = EVIL_HTML
        task.download_error = EVIL_HTML + "2"
        view.redraw()
        for value in _html_of_view(view):
            assert_inert(value, f"TaskView {task.id} after changes")
    gallery = Gallery(tasks)
    for value in _html_of_view(gallery):
        assert_inert(value, "gallery")

    form = GenerationForm()
    form.prompt.value = EVIL_PROMPT
    form.image_url.value = EVIL_URLS[0]
    for value in _html_of_view(form):
        assert_inert(value, "form")
    form.image_url.value = ""
    form.tasks.append(tasks[0])
    assert_inert(form._repr_mimebundle_()["text/html"], "form bundle")


def test_a_provider_failure_with_html_is_inert_from_the_history(
    monkeypatch, emulator, env_for, tmp_path
):
    """The provider's words come back from the history (a resumed task) as they were."""
    import widget_comm

    from hailuo_nb._history.store import default_store
    from hailuo_nb.magics import HistoryTable
    from hailuo_nb.widgets import Gallery

    widget_comm.install(monkeypatch)
    env_for(emulator)
    real = hailuo_nb.generate(EVIL_PROMPT + " nsfw")
    with pytest.raises(TaskFailedError):
        real.wait(60)
    store = default_store()
    local = store.new_local_id()
    store.write_task(local, task_id="task-unified-1-evil", status="failed",
                 request=GenerationRequest(prompt=EVIL_PROMPT).to_record(),
                 error_code="<b>content_policy_violation</b>", error_message=EVIL_HTML,
                 local_path='hailuo_videos/"><script>alert(1)</script>.mp4',
                 finished_at=time.time())
    store.write_task(store.new_local_id(), task_id="javascript:alert(1)", status="completed",
                 request=GenerationRequest(prompt="plain").to_record(),
                 local_path="javascript:alert(1)", results=["javascript:alert(1)"])
    gallery = Gallery.from_history(limit=10)
    assert {t.id for t in gallery.tasks} >= {real.id, "task-unified-1-evil"}
    for value in _html_of_view(gallery):
        assert_inert(value, "gallery from history")
    bundle = gallery._repr_mimebundle_()[0]["text/html"]
    assert_inert(bundle, "gallery bundle")
    assert "&lt;script&gt;" in bundle  # the words are shown, as text
    page = HistoryTable(hailuo_nb.history()).html()
    assert_inert(page, "history table")
    assert "javascript:" not in re.sub(r">[^<]*<", "><", page)  # only in text, no attribute


# --------------------------------------------------------------------- download paths


def test_target_path_never_leaves_the_download_folder(tmp_path):
    from hailuo_nb._engine.downloads import target_path

    folder = tmp_path / "videos"
    for evil in EVIL_IDS:
        for local_id in ("", "4f2a", "../../local", "/abs"):
            task = Task(id=evil, download_dir=str(folder))
            task.local_id = local_id
            try:
                path = target_path(task)
            except ValueError:  # refused: fine (save_result reports it as a download error)
                continue
            assert path.parent == folder.resolve(), (evil, local_id, path)
            assert path.name.endswith(".mp4") and not path.name.startswith("."), (evil, path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["videos"]


def test_save_result_with_a_hostile_task_id_stays_in_the_folder(client, emulator, tmp_path):
    from hailuo_nb._engine.downloads import save_result

    real = hailuo_nb.generate("a real video", client=client, download=False)
    real.wait(60)
    folder = tmp_path / "deep" / "er" / "videos"
    for evil in EVIL_IDS:
        task = Task(id=evil, status="completed", results=[real.url],
                    download_dir=str(folder), client=client)
        path = save_result(task, client)
        assert path is not None and path.parent == folder.resolve(), (evil, path)
        assert task.local_path == str(path)
    outside = [p for p in tmp_path.rglob("*") if p.is_file()
               and folder.resolve() not in p.resolve().parents and home() not in p.parents]
    assert outside == []


def test_a_symlink_planted_at_the_target_is_never_written_through(client, emulator, tmp_path):
    from hailuo_nb._engine.downloads import save_result

    task = hailuo_nb.generate("planted", client=client, download=False)
    task.wait(60)
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    for planted in (".mp4", ".json"):  # at the video's name, then at the sidecar's
        folder = tmp_path / f"videos{planted}"
        folder.mkdir()
        (folder / f"{task.id}{planted}").symlink_to(victim)
        copy = Task(id=task.id, status="completed", results=[task.url],
                    download_dir=str(folder), client=client)
        path = save_result(copy, client)
        assert victim.read_text() == "precious", planted
        if path is None:  # refused: said so on the task
            assert "outside" in copy.download_error, copy.download_error
        else:  # replaced: the link itself is gone, the video is in the folder
            assert path.parent == folder.resolve()
            assert not (folder / f"{task.id}{planted}").is_symlink()
            assert path.read_bytes() == emulator.video_bytes


def test_resume_of_hostile_ids_is_refused_or_ends_and_writes_nothing_outside(
    emulator, env_for, tmp_path
):
    env_for(emulator)
    followed = []
    for evil in EVIL_IDS:
        try:
            followed += hailuo_nb.resume(evil)
        except ValidationError:
            continue  # refused up front: fine
    for task in followed:  # each one ends (no task is followed forever)
        with contextlib.suppress(TaskFailedError):
            task.wait(60)
        assert task.status == "failed", (task.id, task.status, task.note)
    poller = hailuo_nb._engine.scheduler.get_poller()
    eventually(lambda: poller.live_count() == 0, "nothing is followed any more")
    stray = [p for p in tmp_path.rglob("*") if p.is_file() and home() not in p.parents]
    assert stray == []
    assert not (tmp_path.parent / "x.mp4").exists()


def test_task_save_into_a_folder_keeps_a_hostile_id_inside_it(client, emulator, tmp_path):
    """``task.save(folder)`` names the file after the task id: that id must not steer it."""
    real = hailuo_nb.generate("to export", client=client, download=False)
    real.wait(60)
    exports = tmp_path / "a" / "b" / "exports"
    exports.mkdir(parents=True)
    written = []
    for evil in ("../../x", "../y", str(tmp_path / "abs" / "z")):
        task = Task(id=evil, status="completed", results=[real.url], client=client)
        try:
            written.append(Path(task.save(exports)).resolve())
        except (ValidationError, ValueError):
            continue  # refusing is fine too
    assert all(p.parent == exports.resolve() for p in written), written
    assert not (tmp_path / "a" / "x.mp4").exists()
    assert not (tmp_path / "a" / "b" / "y.mp4").exists()
    assert not (tmp_path / "abs").exists()


# ------------------------------------------------------------------------ file modes


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask022", "umask000"])
def test_the_history_database_and_its_wal_files_are_owner_only(client, emulator, mask):
    with umask(mask):
        tasks = hailuo_nb.generate_many(["one", "two"], client=client)
        hailuo_nb.wait_all(tasks, timeout=60)
        db = home() / "history.sqlite3"
        assert db.exists()
        files = [db, *(db.with_name(db.name + s) for s in ("-wal", "-shm", "-journal"))]
        present = [p for p in files if p.exists()]
        assert len(present) >= 2  # WAL mode: the -wal file exists while connected
        for path in present:
            assert mode(path) == 0o600, (path.name, oct(mode(path)))


@pytest.mark.parametrize("mask", [0o022, 0o000], ids=["umask022", "umask000"])
def test_the_saved_key_file_is_owner_only(api_key, mask):
    from hailuo_nb._client import credentials
    with umask(mask):
        path = credentials.save_key(api_key)
    assert path == credentials.credentials_file()
    assert mode(path) == 0o600
    assert path.read_text().strip() == api_key
    assert credentials.resolve_api_key() == api_key


def test_saving_over_a_readable_key_file_never_exposes_the_new_key(api_key, monkeypatch):
    """A key file left world-readable (restored from a backup, made by hand) is narrowed
    before the new key is written into it, not after."""
    from hailuo_nb._client import credentials
    path = credentials.credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("old-key\n")
    os.chmod(path, 0o644)
    exposed = []
    real_fdopen = os.fdopen

    class Spy:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return self.handle.__exit__(*exc)

        def write(self, text):
            # the mode of the file that actually receives the key, whatever its name
            exposed.append(oct(stat.S_IMODE(os.fstat(self.handle.fileno()).st_mode)))
            return self.handle.write(text)

    monkeypatch.setattr(credentials.os, "fdopen", lambda *a, **k: Spy(real_fdopen(*a, **k)))
    credentials.save_key(api_key)
    assert exposed and set(exposed) == {oct(0o600)}, exposed
    assert mode(path) == 0o600


def test_login_save_in_a_real_shell_writes_an_owner_only_file(shell, api_key, monkeypatch):
    from hailuo_nb._client import credentials
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": api_key)
    with umask(0o000):
        run = shell.run("%hailuo login --save")
    assert run.error is None, run.stderr
    assert api_key not in run.text
    path = credentials.credentials_file()
    assert mode(path) == 0o600
    assert str(path) in run.stdout
