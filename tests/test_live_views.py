"""Live views (TaskView, Gallery) against real tasks, with a recording comm (no browser).

Each view is ONE widget model (anywidget). ``widget_comm.FrontEnd`` replays what a page
would hold for it — the comm_open's state, every update, every custom message — so the
tests read what the user would see, and count what the page would receive.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
import warnings
from pathlib import Path

import ipywidgets as W
import pytest
import widget_comm
from imagefactory import png
from waiting import eventually
from widget_comm import FrontEnd, from_front_end

import hailuo_nb
from hailuo_nb import GenerationRequest, Task
from hailuo_nb._presentation.display import register_task_display
from hailuo_nb.widgets import Gallery, GenerationForm, TaskView
from hailuo_nb.widgets.redraws import FLUSHES_PER_SECOND, Redraws, redraws
from hailuo_nb.widgets.task_view import STATIC, THUMBNAIL_MAX_BYTES

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVIL = 'Cat <script>alert(1)</script> and <img src=x onerror="alert(2)"> [Pan left]'


@pytest.fixture
def comm_log():
    return _log["log"]


def data_of(bundle):
    return bundle[0] if isinstance(bundle, tuple) else bundle


def models_opened(log, since: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for m in log.since(since):
        if m.kind == "open":
            name = m.data["state"]["_model_name"]
            counts[name] = counts.get(name, 0) + 1
    return counts


_log = {}


@pytest.fixture(autouse=True)
def _remember_log(monkeypatch):
    _log["log"] = widget_comm.install(monkeypatch)


def drawn(view) -> dict | None:
    """A TaskView's state as its page holds it (replayed from the comm log), once every
    pending redraw went out."""
    eventually(lambda: not redraws.pending, "pending redraws go out")
    return FrontEnd(_log["log"], view).state.get("state")


# -- one view = one model; a task's life = a few messages --------------------------------------


@pytest.mark.slow
def test_a_task_view_is_one_model_and_its_whole_life_a_few_messages(comm_log, client, emulator,
                                                                   monkeypatch):
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)  # no Jupyter server serves this
    emulator.configure(task_seconds=1.0)
    W.Layout()  # the shared layout may exist already: count the view alone
    mark = comm_log.mark()
    start = time.monotonic()
    task = hailuo_nb.generate("A heron lands on a post [Static shot]", client=client)
    view = TaskView(task)
    opened = models_opened(comm_log, mark)
    assert opened.get("AnyModel") == 1 and sum(opened.values()) <= 2, opened
    task.wait(60)
    eventually(lambda: FrontEnd(comm_log, view).state["state"]["status"] == "completed"
               and FrontEnd(comm_log, view).state["state"]["saved"], "the page shows the end")
    life = time.monotonic() - start
    page = FrontEnd(comm_log, view)
    # At most FLUSHES_PER_SECOND redraws a second, each one message, plus the first.
    assert page.updates <= FLUSHES_PER_SECOND * life + 2, (page.updates, life)
    print(f"\none view: {sum(opened.values())} model(s), {page.updates} updates in {life:.2f} s")

    shown = page.state["state"]
    assert shown["status"] == "completed" and shown["progress"] == 100
    assert shown["id"] == task.id and shown["errors"] == []
    # No Jupyter server serves this folder here: the page asks for the saved file's bytes.
    assert shown["video"] == "" and shown["bytes_video"] is True
    assert shown["saved"] == f"hailuo_videos/{task.id}.mp4"
    assert shown["poster"].startswith("data:image/jpeg;base64,")
    facts = dict(shown["facts"])  # what the record will say
    assert facts["task id"] == task.id and facts["video"] == shown["saved"]
    assert "quality" in facts and "made" in facts and "took" in facts
    # Never a video in widget state: no base64 video, no binary buffers.
    sent = comm_log.text()
    assert "data:video" not in sent and "ftyp" not in sent and comm_log.buffer_bytes() == 0


@pytest.mark.slow
def test_a_burst_of_changes_is_coalesced_and_the_last_state_always_drawn(comm_log):
    task = Task(request=GenerationRequest(prompt="burst"), id="task-unified-1-burst",
                status="processing", created=time.time(), estimated_time=60.0)
    view = TaskView(task)
    mark = comm_log.mark()

    def poller():  # changes come from other threads, as from the engine's workers
        for i in range(1, 300):
            task.progress = i % 100
            time.sleep(0.003)

    start = time.monotonic()
    threads = [threading.Thread(target=poller) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = time.monotonic() - start
    shown = drawn(view)
    updates = [m for m in comm_log.since(mark) if m.kind == "send"]
    assert len(updates) <= FLUSHES_PER_SECOND * spent + 2, (len(updates), spent)
    assert len(updates) < 598 / 20  # far fewer than one message per change
    assert shown["progress"] == 299 % 100  # the trailing flush shows the last value

    task.results = ["https://cdn.example.com/v.mp4"]
    task.finished = time.time()
    task.status = "completed"
    eventually(lambda: FrontEnd(comm_log, view).state["state"]["status"] == "completed",
               "the terminal state reaches the page")
    assert FrontEnd(comm_log, view).state["state"]["progress"] == 100


@pytest.mark.slow
def test_the_clock_costs_no_messages(comm_log):
    """Elapsed time and ETA tick in the page from timestamps: nothing is sent for them."""
    task = Task(request=GenerationRequest(prompt="clock"), id="task-unified-1-clock",
                status="processing", progress=10, created=time.time() - 5,
                estimated_time=60.0)
    view = TaskView(task)
    shown = drawn(view)
    mark = comm_log.mark()
    time.sleep(1.2)
    task.elapsed = 6.3  # the engine refreshes elapsed on every poll: not a reason to send
    time.sleep(0.3)
    assert [m for m in comm_log.since(mark) if m.kind == "send"] == []
    assert shown["started"] == task.created and shown["estimated"] == 60.0
    assert abs(shown["sent_at"] - time.time()) < 60
    js = (STATIC / "views.js").read_text()
    assert "setInterval(tick, 1000)" in js and "ETA ~" in js


def test_redraws_share_one_budget_and_run_on_the_engine_thread():
    delays = []
    budget = Redraws(rate=10, flushes=5, call_later=lambda d, job: delays.append(d))

    class View:
        def __init__(self, sent):
            self.sent, self.draws = sent, 0

        def draw(self):
            self.draws += 1
            return self.sent

    views = [View(1) for _ in range(30)]
    for v in views:
        budget.mark(v)
        budget.mark(v)
    assert len(delays) == 1  # one flush scheduled for all sixty marks
    assert budget.flush() == 30 and all(v.draws == 1 for v in views)
    budget.mark(views[0])
    assert delays[-1] == pytest.approx(3.0, abs=0.05)  # 30 messages at 10/s: wait 3 s
    assert budget.flush() == 1
    budget.mark(views[1])
    assert delays[-1] == pytest.approx(0.2, abs=0.05)  # at most 5 flushes a second


def test_the_default_redraws_add_no_thread(comm_log, client, emulator):
    tasks = hailuo_nb.generate_many([f"thread {i}" for i in range(4)], client=client)
    before = {t.name for t in threading.enumerate()}
    views = [TaskView(t) for t in tasks]
    gallery = Gallery(tasks)
    hailuo_nb.wait_all(tasks, timeout=60)
    drawn(views[0])
    # The package's threads are all named hailuo-…; the emulator's request threads are not.
    names = {t.name for t in threading.enumerate()} - before
    ours = {n for n in names if n.startswith("hailuo")}
    engine = ("hailuo-poller", "hailuo-poll_", "hailuo-downloader_", "hailuo-analysis")
    assert all(n.startswith(engine) for n in ours), ours  # (earlier tests may have started them)
    assert all(v.state["status"] == "completed" for v in views) and gallery.draws >= 1


# -- what the page shows, and what it never gets ------------------------------------------------


def test_html_from_users_and_servers_is_text_in_the_view(comm_log):
    task = Task(request=GenerationRequest(prompt=EVIL), id="task-unified-1-evil",
                status="processing", progress=40)
    view = TaskView(task)
    task.error = {"code": "content_policy_violation",
                  "message": "Blocked <img src=x onerror=alert(3)>", "retryable": False}
    task.finished = time.time()
    task.status = "failed"
    shown = drawn(view)
    assert shown["prompt"] == EVIL  # the words as they are: the page sets them as text
    [error] = shown["errors"]
    assert "content_policy_violation" in error and "<img src=x onerror=alert(3)>" in error
    assert "rephrase" in error.lower()  # what to do, in our words
    # The page never parses what it is given as HTML.
    js = (STATIC / "views.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in js, sink
    html_ = data_of(view._repr_mimebundle_())["text/html"]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_ and "<script>" not in html_


def test_a_javascript_result_url_is_neither_played_nor_linked(comm_log):
    task = Task(request=GenerationRequest(prompt="bad link"), id="task-unified-1-js",
                download_state="off")
    view = TaskView(task)
    task.results = ["javascript:alert(1)"]
    task.finished = time.time()
    task.status = "completed"
    shown = drawn(view)
    assert shown["video"] == "" and shown["url"] == ""
    assert any("not an http(s) URL" in line for line in shown["errors"])
    assert "javascript:" not in json.dumps(FrontEnd(comm_log, view).state["state"]["video"])


def test_the_live_player_plays_the_result_link_while_it_lives(comm_log):
    task = Task(request=GenerationRequest(prompt="remote"), id="task-unified-1-remote")
    view = TaskView(task)
    task.results = ["https://cdn.example.com/v/1.mp4?sig=a&b=<c>"]
    task.finished = time.time()
    task.status = "completed"
    shown = drawn(view)
    assert shown["video"] == shown["url"] == "https://cdn.example.com/v/1.mp4?sig=a&b=<c>"
    assert shown["link_expires"] == pytest.approx(task.finished + 24 * 3600)
    task.finished = time.time() - 25 * 3600  # a day later: the link is dead, nothing plays
    assert drawn(view)["video"] == ""


def test_save_as_from_the_page(comm_log, client, emulator):
    task = hailuo_nb.generate("keep a copy", client=client, wait=True)
    view = TaskView(task)
    from_front_end(view, {"type": "save", "path": ""})
    assert "Type a path first" in view.notice["text"] and view.notice["error"]
    from_front_end(view, {"type": "save", "path": "results/heron.mp4"})  # a local copy
    assert os.path.getsize("results/heron.mp4") == os.path.getsize(task.local_path)
    assert view.notice == {"text": "Saved to results/heron.mp4", "error": False}
    from_front_end(view, {"type": "nonsense"})  # ignored, never raised into the kernel
    from_front_end(view, "not even a dict")


def test_save_as_downloads_in_the_background_when_nothing_is_on_disk(comm_log, client, emulator):
    task = hailuo_nb.generate("not downloaded", client=client, wait=True, download=False)
    view = TaskView(task)
    from_front_end(view, {"type": "save", "path": "later.mp4"})  # returns at once
    eventually(lambda: "Saved to" in view.notice.get("text", ""), "the background save")
    assert os.path.getsize("later.mp4") > 0


def test_thumbnails_are_small_or_absent(comm_log, tmp_path):
    image = tmp_path / "cat.png"
    image.write_bytes(png(512, 320))
    view = TaskView(Task(request=GenerationRequest(prompt="p", image=str(image)),
                         id="task-unified-1-thumb"))
    assert view.state["thumbnail"].startswith("data:image/png;base64,")
    assert view.state["image"] == "cat.png" and view.state["mode"] == "image-to-video"
    big = png(640, 640, size=THUMBNAIL_MAX_BYTES + 1)  # shown by a JPEG made from it
    shown = TaskView(Task(request=GenerationRequest(prompt="p", image=big))).state["thumbnail"]
    assert shown.startswith("data:image/jpeg;base64,") and len(shown) < THUMBNAIL_MAX_BYTES / 4
    url = "https://img.example.com/a.png?x=1&y=<2>"
    remote = TaskView(Task(request=GenerationRequest(prompt="p", image=url)))
    assert remote.state["thumbnail"] == "" and remote.state["image"] == url


def test_a_view_is_light(comm_log):
    task = Task(request=GenerationRequest(prompt="A fox " * 50), id="task-unified-1-light")
    TaskView(task)  # the shared layout and the front end's code, once
    mark = comm_log.mark()
    TaskView(task)
    opens = [m for m in comm_log.since(mark) if m.kind == "open"]
    state = opens[0].data["state"]
    code = len(state["_esm"]) + len(state["_css"])
    size = len(json.dumps(state["state"]))
    print(f"\none view: {len(opens)} model, state {size} B, front-end code {code} B")
    assert len(opens) == 1 and size <= 4_000


# -- the gallery ---------------------------------------------------------------------------------


def test_a_gallery_of_200_is_one_model_and_a_few_messages(comm_log):
    tasks = [Task(request=GenerationRequest(prompt=f"sweep {i}", duration=6 + 4 * (i % 2)),
                  id=f"task-unified-1-g{i}", status="processing", created=time.time(),
                  estimated_time=30.0) for i in range(200)]
    mark = comm_log.mark()
    gallery = Gallery(tasks)
    assert sum(models_opened(comm_log, mark).values()) <= 2  # itself (+ a shared layout)

    start = time.monotonic()

    def engine(part):  # four engine threads, each moving fifty tasks, many times
        for step in range(1, 21):
            for task in tasks[part::4]:
                task.progress = step * 5
            time.sleep(0.01)

    threads = [threading.Thread(target=engine, args=(p,)) for p in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for task in tasks[:150]:
        task.results = ["https://cdn.example.com/v.mp4"]
        task.finished = time.time()
        task.status = "completed"
    for task in tasks[150:]:
        task.error = {"code": "generation_failed", "message": "no", "retryable": True}
        task.finished = time.time()
        task.status = "failed"
    eventually(lambda: not redraws.pending, "the last flush")
    spent = time.monotonic() - start
    page = FrontEnd(comm_log, gallery)
    # One message per flush, for all two hundred cards.
    assert page.updates == len(page.deltas()) <= FLUSHES_PER_SECOND * spent + 2, (
        page.updates, spent)
    cards = page.cards()
    # Every message's counts agree with the cards the page holds after it (the overall
    # percent never runs ahead of them).
    replay = list(gallery.cards)
    for delta in page.deltas():
        for key, card in delta.get("changed", {}).items():
            replay[int(key)] = card
        done = sum(c["status"] == "completed" for c in replay)
        failed = sum(c["status"] == "failed" for c in replay)
        assert (delta["summary"]["done"], delta["summary"]["failed"]) == (done, failed)
    assert len(cards) == 200
    assert [c["status"] for c in cards] == ["completed"] * 150 + ["failed"] * 50
    assert page.summary()["done"] == 150 and page.summary()["failed"] == 50
    assert page.summary()["running"] == 0
    assert cards[0]["label"] == "sweep 0 · 6 s" and cards[1]["label"] == "sweep 1 · 10 s"
    print(f"\n200 cards: 1 model, {page.updates} messages in {spent:.2f} s")


def test_a_reopened_page_gets_everything_once(comm_log):
    tasks = [Task(request=GenerationRequest(prompt=f"p{i}"), id=f"task-unified-1-s{i}",
                  status="processing") for i in range(3)]
    gallery = Gallery(tasks)
    tasks[1].progress = 50
    drawn(gallery)
    from_front_end(gallery, {"type": "sync"})
    last = FrontEnd(comm_log, gallery).deltas()[-1]
    assert [c["progress"] for c in last["all"]] == [0, 50, 0]
    assert last["summary"]["running"] == 3


def test_gallery_summary_and_fallback_follow_the_tasks(comm_log, client, emulator):
    emulator.configure(task_seconds=0.6)
    tasks = hailuo_nb.generate_many(["one", "two", "an nsfw three"], client=client)
    gallery = Gallery(tasks)
    assert "3 tasks" in gallery.summary_text() and "running" in gallery.summary_text()
    hailuo_nb.wait_all(tasks, timeout=60)
    eventually(lambda: FrontEnd(comm_log, gallery).summary().get("done") == 2
               and FrontEnd(comm_log, gallery).summary().get("failed") == 1, "the summary")
    bundle = data_of(gallery._repr_mimebundle_())
    assert WIDGET_MIME in bundle
    assert "2 done · 0 running · 1 failed · all done" in bundle["text/plain"]
    assert bundle["text/html"].count('class="hailuo-card hailuo-record"') == 3
    failed = next(c for c in FrontEnd(comm_log, gallery).cards() if c["status"] == "failed")
    assert failed["errors"] and "content" in failed["errors"][0].lower()


def test_gallery_from_history_shows_finished_videos_without_polling(comm_log, client, emulator):
    done = hailuo_nb.generate("kept for later", client=client, wait=True)
    hailuo_nb._engine.scheduler.stop_following_all()
    hailuo_nb._engine.journal.unregister()  # as after a kernel restart
    gets_before = emulator.stats["by_route"].get("GET /v1/tasks", 0)
    gallery = Gallery.from_history(limit=5)
    [card] = gallery.cards
    assert card["id"] == done.id and card["status"] == "completed"
    assert card["saved"] == f"hailuo_videos/{done.id}.mp4"
    time.sleep(0.3)  # several poll intervals: nothing asks the server about it
    assert emulator.stats["by_route"].get("GET /v1/tasks", 0) == gets_before


def test_gallery_save_as_from_a_card(comm_log, client, emulator):
    tasks = hailuo_nb.generate_many(["left", "right"], client=client)
    hailuo_nb.wait_all(tasks, timeout=60)
    gallery = Gallery(tasks)
    from_front_end(gallery, {"type": "save", "index": 1, "path": "picked/right.mp4"})
    assert Path("picked/right.mp4").stat().st_size == os.path.getsize(tasks[1].local_path)
    notices = FrontEnd(comm_log, gallery).state["notices"]
    assert notices == {"1": {"text": "Saved to picked/right.mp4", "error": False}}
    from_front_end(gallery, {"type": "save", "index": 7, "path": "x.mp4"})  # no such card
    assert not Path("x.mp4").exists()


# -- in a kernel: live, then the record --------------------------------------------------------


def test_a_task_displayed_in_a_kernel_is_a_live_view_then_its_record(comm_log, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as under ipykernel
    register_task_display(shell)
    published = []
    monkeypatch.setattr(shell.display_pub, "publish",
                        lambda data, metadata=None, **kw: published.append((data, kw)))
    task = Task(request=GenerationRequest(prompt="A lighthouse [Zoom in]"),
                id="task-unified-1-repr", status="processing", progress=30)
    assert shell.display_formatter.format(task) == ({}, {})
    # The live view, and below it its stand-in: what a page reopened without the kernel
    # shows in its place (the record of the moment), hidden while the view is drawn.
    [(data, kw), (kept, kept_kw)] = published
    display_id = kw["transient"]["display_id"]
    view = next(m for m in comm_log.opens() if m.comm_id == data[WIDGET_MIME]["model_id"])
    assert view.data["state"]["_model_name"] == "AnyModel"
    assert "text/html" not in data and "task-unified-1-repr" in data["text/plain"]
    assert 'class="hailuo-stand-in' in kept["text/html"] and "<style>" in kept["text/html"]
    assert "A lighthouse" in kept["text/plain"] and "processing" in kept["text/html"]
    task.set_trait("finished", time.time())
    task.status = "failed"
    [(emptied, emptied_kw), (data, kw)] = published[-2:]  # emptied before the record shows
    assert emptied_kw["transient"]["display_id"] == kept_kw["transient"]["display_id"]
    assert emptied_kw.get("update") and emptied == {}
    assert kw.get("update") and kw["transient"]["display_id"] == display_id
    assert WIDGET_MIME not in data
    for fact in ("task-unified-1-repr", "failed", "text-to-video", "A lighthouse [Zoom in]"):
        assert fact in data["text/plain"] and fact in data["text/html"]
    closed = {m.comm_id for m in comm_log.messages if m.kind == "close"}
    assert view.comm_id in closed


def test_no_widget_state_ever_holds_the_api_key(comm_log, emulator, env_for, api_key, tmp_path):
    env_for(emulator)
    form = GenerationForm()
    form.prompt.value = "keyless [Push in]"
    image = tmp_path / "still.png"
    image.write_bytes(png(512, 512))
    form.image_url.value = str(image)  # a local file: uploaded with the key
    form.submit_button.click()
    [task] = form.tasks
    task.wait(60)
    gallery = Gallery(form.tasks)
    drawn(gallery)
    from_front_end(gallery, {"type": "sync"})
    assert api_key not in comm_log.text()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        registry = W.Widget.widgets
    for widget in list(registry.values()):
        assert api_key not in repr(widget.get_state()), widget


def test_views_fit_the_column(comm_log):
    """No fixed width wider than the 780 px content column in the views' style sheet."""
    css = (STATIC / "views.css").read_text()
    widths = [int(w) for w in re.findall(r"(?:^|[^-])width:\s*(\d+)px", css)]
    assert widths and max(widths) <= 800
    assert "repeat(auto-fill, minmax(240px, 1fr))" in css  # as many columns as fit


# -- the player's source: the page's own server, else the bytes from the kernel ----------------


def test_a_saved_video_plays_from_thejupyter_server_that_serves_the_notebook(
        comm_log, client, emulator, tmp_path, monkeypatch):
    from hailuo_nb.widgets import served

    task = hailuo_nb.generate("served", client=client, wait=True)
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    # What jupyter_server writes for itself, and what its kernels get in their environment.
    (runtime / "jpserver-4242.json").write_text(json.dumps(
        {"root_dir": str(Path.cwd().parent), "base_url": "/lab-base/", "pid": 4242}))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(runtime))
    monkeypatch.setenv("JPY_PARENT_PID", "4242")
    served.jupyter_server.cache_clear()
    try:
        shown = TaskView(task).state
        assert shown["video"] == (f"/lab-base/files/{Path.cwd().name}/hailuo_videos/"
                                  f"{task.id}.mp4")
        assert shown["bytes_video"] is False
    finally:
        served.jupyter_server.cache_clear()


def test_where_no_server_has_the_file_the_page_gets_its_bytes(comm_log, client, emulator,
                                                               monkeypatch):
    monkeypatch.delenv("JPY_PARENT_PID", raising=False)
    task = hailuo_nb.generate("bytes", client=client, wait=True)
    view = TaskView(task)
    assert view.state["bytes_video"] is True and view.state["saved"]
    from_front_end(view, {"type": "video"})
    [message] = [m for m in comm_log.for_comm(view.comm.comm_id)
                 if m.kind == "send" and m.data.get("method") == "custom"]
    assert message.data["content"] == {"type": "video", "name": f"{task.id}.mp4"}
    assert bytes(message.buffers[0]) == Path(task.local_path).read_bytes()
    gallery = Gallery([task])
    from_front_end(gallery, {"type": "video", "index": 0})
    from_front_end(gallery, {"type": "video", "index": 3})  # no such card: nothing
    sent = [m for m in comm_log.for_comm(gallery.comm.comm_id)
            if m.kind == "send" and m.data.get("method") == "custom"]
    assert len(sent) == 1 and sent[0].data["content"]["index"] == 0


def test_a_failing_redraw_is_shown_and_never_breaks_the_engine(comm_log, client, emulator,
                                                               monkeypatch):
    from hailuo_nb.widgets import task_view

    task = hailuo_nb.generate("fragile view", client=client)
    view = TaskView(task)

    def boom(*_args, **_kwargs):
        raise RuntimeError("draw failed <b>bold</b>")

    monkeypatch.setattr(task_view, "task_state", boom)  # every redraw now fails
    task.wait(timeout=60)  # the engine went on: the task completed and downloaded
    assert task.status == "completed" and task.local_path
    eventually(lambda: any("draw failed" in e for e in view.state["errors"]),
               "the error in the view")
    assert "hailuo_nb view error: RuntimeError: draw failed <b>bold</b>" in view.state["errors"]


def test_a_change_while_the_gallery_is_being_made_is_drawn():
    tasks = [Task(request=GenerationRequest(prompt=f"race {i}"), id=f"task-unified-1-r{i}",
                  status="processing") for i in range(3)]

    class Racing(Gallery):
        def _card(self, i):
            state = super()._card(i)
            if i == 2 and tasks[0].status == "processing":  # after card 0 was read, before
                tasks[0].error = {"code": "x", "message": "stopped", "retryable": False}
                tasks[0].status = "failed"  # any observer is attached
            return state

    gallery = Racing(tasks)
    drawn(gallery)
    assert FrontEnd(_log["log"], gallery).cards()[0]["status"] == "failed"
    assert FrontEnd(_log["log"], gallery).summary()["failed"] == 1


def test_marks_during_a_flush_wait_for_the_budget():
    delays = []
    budget = Redraws(rate=10, flushes=5, call_later=lambda d, job: delays.append(d))

    class Chatty:
        def __init__(self):
            self.draws = 0

        def draw(self):  # each draw sends, and a change comes in meanwhile
            self.draws += 1
            budget.mark(self)
            return 20

    view = Chatty()
    budget.mark(view)
    assert budget.flush() == 20
    # The mark made during the flush waited for it: one flush scheduled, 20 / 10 s later.
    assert delays == [0.0, pytest.approx(2.0, abs=0.05)]


def test_a_gallery_in_a_kernel_has_a_light_stand_in_emptied_when_it_settles(comm_log,
                                                                            monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as under ipykernel
    published = []
    monkeypatch.setattr(shell.display_pub, "publish",
                        lambda data, metadata=None, **kw: published.append((data, kw)))
    tasks = [Task(request=GenerationRequest(prompt=f"A kite number {i} [Pan left]"),
                  id=f"task-unified-{i}-sweep", status="processing", progress=10)
             for i in range(60)]
    Gallery(tasks)._ipython_display_()
    [(data, _kw), (kept, kept_kw)] = published
    assert WIDGET_MIME in data and "text/html" not in data
    assert "Hailuo gallery of 60 tasks" in data["text/plain"]
    html_ = kept["text/html"]
    assert "60 tasks: 0 done · 60 running" in html_ and "… and 10 more" in html_
    assert len(html_) < 12_000  # counts and a line per take, not 60 records
    for task in tasks:
        task.set_trait("finished", time.time())
        task.status = "failed"
    [(emptied, emptied_kw), (grid, _grid_kw)] = published[-2:]
    assert emptied_kw["transient"]["display_id"] == kept_kw["transient"]["display_id"]
    assert emptied == {}  # drawn as no output at all
    assert "60 tasks: 0 done · 0 running · 60 failed" in grid["text/html"]


def test_a_form_shown_again_by_its_cell_shows_what_it_sent(comm_log, emulator, env_for,
                                                            monkeypatch):
    """The form's tasks carry its cell's name: the same cell run again (a new kernel, a
    reopened notebook) lists them again, followed to their records, and sends nothing."""
    from hailuo_nb._pure import takes

    env_for(emulator)
    monkeypatch.setattr(takes, "current_cell", lambda: ("run-1", "cell:form-cell"))
    form = GenerationForm()
    for prompt in ("A lantern drifts [Pan left]", "A snail climbs [Push in]"):
        form.prompt.value = prompt
        assert form.submit() is not None
    hailuo_nb.wait_all(form.tasks, timeout=60)
    created = emulator.tasks_created
    again = GenerationForm()  # the cell run again
    assert [t.id for t in again.tasks] == [t.id for t in form.tasks]
    assert all("sent earlier from this cell" in line for line in again.sent)
    assert emulator.tasks_created == created
    monkeypatch.setattr(takes, "current_cell", lambda: ("run-2", "cell:another-cell"))
    assert GenerationForm().tasks == []  # another cell's form starts empty
