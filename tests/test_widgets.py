"""Widgets against real tasks on the emulator, with a recording comm (no browser).

``widget_comm.install`` stands in for the kernel's comm the way ipywidgets' own tests
do, and keeps every message (the comm_open with a widget's initial state, and each
update) so the tests can count what a frontend would receive and read what it would
show. Every task here is real: HTTP to the emulator on 127.0.0.1, the real poller.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import threading
import time
import warnings
from datetime import datetime, timezone
from html.parser import HTMLParser

import ipywidgets as W
import pytest
import traitlets
import widget_comm
from imagefactory import png

import hailuo_nb
from hailuo_nb import GenerationRequest, Task, render
from hailuo_nb.display import register_task_display, task_bundle
from hailuo_nb.widgets import Gallery, GenerationForm, TaskView
from hailuo_nb.widgets import form as form_module
from hailuo_nb.widgets.task_view import THUMBNAIL_MAX_BYTES

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVIL_PROMPT = 'Cat <script>alert(1)</script> and <img src=x onerror="alert(2)"> [Pan left]'
EVIL_FAILURE = "Blocked <img src=x onerror=alert(3)> <script>steal()</script> & more"


@pytest.fixture
def comm_log(monkeypatch):
    return widget_comm.install(monkeypatch)


def eventually(predicate, what: str, guard: float = 30.0):
    """Wait until ``predicate()``; ``guard`` only stops a hang, it is not a budget."""
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


def settled(view: TaskView) -> bool:
    """The task is done and the view has drawn its last state."""
    return view.task.is_done and not view._throttle.pending and (
        view.bar.bar_style in ("success", "danger"))


def descendants(widget: W.Widget) -> list[W.Widget]:
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        out.append(w)
        stack.extend(getattr(w, "children", ()))
    return out


def html_values(widget: W.Widget) -> list[str]:
    """Every piece of HTML a frontend renders for this widget tree."""
    out = []
    for w in descendants(widget):
        if isinstance(w, W.HTML):
            out.append(w.value)
        if isinstance(w, W.Output):
            out.extend(o["data"].get("text/html", "") for o in w.outputs)
    return out


def video_tags(view: TaskView) -> list[str]:
    return [o["data"]["text/html"] for o in view.player.outputs]


SAFE_TAGS = {"div", "span", "b", "i", "br", "code", "small", "a", "video", "p", "img",
             "table", "tr", "th", "td"}
INLINE_JPEG = re.compile(r"data:image/jpeg;base64,[A-Za-z0-9+/]+=*")  # a record's stills


class _TagAudit(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if (tag, name) in (("img", "src"), ("video", "poster")) and INLINE_JPEG.fullmatch(
                    value or ""):
                continue
            value = (value or "").strip().lower()
            if name.startswith("on") or value.startswith(("javascript:", "data:")):
                self.bad.append(f"{tag}[{name}]")
            if tag == "video" and name in ("autoplay", "loop"):
                self.bad.append(f"video[{name}]")


def assert_inert(text: str) -> None:
    """Parsed as a browser would: only our own harmless tags, no handlers, no js: links."""
    audit = _TagAudit()
    audit.feed(text)
    audit.close()
    assert not audit.bad, (audit.bad, text)


# -- one task's whole life ---------------------------------------------------------------------


# Measured: a task of ~1 s polled every 0.05-0.5 s sends about 25-40 updates over its
# life through the form (most redraws change three widgets: label, bar, status line).
# The bound below is what the design guarantees, not what we measured:
#  - the throttle spends at most 10 messages per second on progress, so a life of T
#    seconds costs at most 10*T + 10 (one redraw may overshoot by its own size);
#  - each settling change (queued → submitting → pending → processing → completed,
#    download waiting → downloading → done, local_path) is drawn at once: at most
#    8 of them, at most 10 widgets each.
# So updates ≤ 10*T + 10 + 80. The comm_opens are the view's widgets (fixed, ~30).
MAX_WIDGETS_PER_REDRAW = 10
SETTLING_CHANGES = 8


def test_one_task_life_through_the_form_sends_a_bounded_number_of_messages(
    comm_log, client, emulator
):
    emulator.configure(task_seconds=1.0)
    form = GenerationForm(client=client)
    form.prompt.value = "A heron lands on a post [Static shot]"
    mark = comm_log.mark()
    start = time.monotonic()
    form.submit_button.click()
    [task], [view] = form.tasks, form.views
    eventually(lambda: settled(view), "the view shows the finished task")
    life = time.monotonic() - start
    messages = comm_log.since(mark)
    opens = [m for m in messages if m.kind == "open"]
    updates = [m for m in messages if m.kind == "send"]

    n_view_widgets = len({m.comm_id for m in opens})
    # The new TaskView: 16 widgets, each with its Layout, some with a style model.
    assert n_view_widgets == len(opens) <= 50
    bound = 10 * life + MAX_WIDGETS_PER_REDRAW + SETTLING_CHANGES * MAX_WIDGETS_PER_REDRAW
    assert len(updates) <= bound, (len(updates), life)
    # The bound is loose; the real count is much lower. Keep it visible in -s runs.
    print(f"\nwhole life: {len(opens)} comm_open + {len(updates)} updates in {life:.2f} s "
          f"({hailuo_nb.api.get_poller().polls} polls), bound {bound:.0f}")

    # The final state, as the user sees it.
    assert task.status == "completed" and task.download_state == "done"
    assert view.bar.value == 100 and view.bar.bar_style == "success"
    assert "100%" in view.label.value
    rel = f"hailuo_videos/{task.id}.mp4"
    assert os.path.isfile(rel)  # relative to the kernel's working dir (the notebook's)
    assert render.video_src(task) == rel
    [tag] = video_tags(view)
    assert f'<video src="{rel}" controls preload="metadata"' in tag
    assert "autoplay" not in tag and "loop" not in tag and "max-width:100%" in tag
    assert "completed" in view.status_html.value
    assert "Open in a new tab" in view.link_html.value
    assert 'target="_blank" rel="noopener noreferrer"' in view.link_html.value
    assert "link valid ~23h" in view.link_html.value or "link valid ~24h" in view.link_html.value
    assert view.error_html.layout.display == "none"
    # Never a video in widget state: no base64, no binary buffers beyond tiny ones.
    sent = comm_log.text()
    assert "data:video" not in sent and "ftyp" not in sent
    assert comm_log.buffer_bytes() == 0
    # The player went out once, pointing at the file (never first at the URL, then swapped).
    player_updates = [m for m in updates
                      if m.comm_id == view.player.comm.comm_id and "outputs" in m.data["state"]]
    assert len(player_updates) == 1


def test_progress_is_throttled_and_the_terminal_state_always_drawn(comm_log):
    task = Task(request=GenerationRequest(prompt="throttle"), id="task-unified-1-throttle",
                status="processing")
    view = TaskView(task)
    mark = comm_log.mark()

    def poller():  # changes come from another thread, as from the real poller
        for i in range(1, 300):
            task.progress = i % 100
            task.elapsed = i * 0.01
            time.sleep(0.004)

    start = time.monotonic()
    thread = threading.Thread(target=poller)
    thread.start()
    thread.join()
    spent = time.monotonic() - start
    eventually(lambda: not view._throttle.pending, "the trailing redraw")
    updates = [m for m in comm_log.since(mark) if m.kind == "send"]
    # ≤ 10 messages a second, plus the overshoot of one redraw and the trailing one.
    assert len(updates) <= 10 * (spent + 0.5) + 2 * MAX_WIDGETS_PER_REDRAW, (len(updates), spent)
    assert len(updates) < 598 / 4  # far fewer than one message per trait change
    assert view.bar.value == 299 % 100  # the trailing redraw shows the last value

    # Right after a burst the budget is spent, yet the terminal state is drawn at once,
    # in the thread that set it.
    for i in range(5):
        task.progress = 90 + i
    task.results = ["https://cdn.example.com/v.mp4"]
    task.finished = time.time()
    task.status = "completed"
    assert view.bar.bar_style == "success" and view.bar.value == 100
    assert "completed" in view.status_html.value


def test_a_failing_redraw_is_shown_and_never_breaks_the_poller(comm_log, client, emulator):
    task = hailuo_nb.generate("fragile view", client=client)
    view = TaskView(task)

    def boom():
        raise RuntimeError("draw failed <b>bold</b>")

    view._header_html = boom  # every redraw now fails inside the poller's thread
    task.wait(timeout=60)  # the poller went on: the task completed and downloaded
    assert task.status == "completed" and task.local_path
    eventually(lambda: "draw failed" in view.error_html.value, "the error in the view")
    assert "draw failed &lt;b&gt;bold&lt;/b&gt;" in view.error_html.value
    assert view.error_html.layout.display is None


# -- HTML from users and servers stays text ---------------------------------------------------


def test_html_in_prompt_and_failure_message_is_inert_everywhere(comm_log):
    task = Task(request=GenerationRequest(prompt=EVIL_PROMPT), id="task-unified-1-evil",
                status="processing", progress=40)
    view = TaskView(task)
    # The emulator's messages are fixed text; a provider message with markup is set
    # directly, as the poller would from a response.
    task.error = {"code": "content_policy_violation", "message": EVIL_FAILURE,
                  "retryable": False}
    task.finished = time.time()
    task.status = "failed"

    for value in html_values(view):
        assert_inert(value)
    bundle = view._repr_mimebundle_()
    assert_inert(bundle["text/html"])
    assert_inert(task_bundle(task)["text/html"])
    for html_ in (view.header.value, bundle["text/html"]):
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html_
        assert "&lt;img src=x onerror=&quot;alert(2)&quot;&gt;" in html_
    assert "&lt;img src=x onerror=alert(3)&gt;" in view.error_html.value
    assert "&lt;script&gt;steal()&lt;/script&gt; &amp; more" in view.error_html.value
    # Nothing the frontend receives carries the raw markup.
    sent = comm_log.text()
    assert "<script>" not in sent and "<img" not in sent
    # The user still learns what happened and what to do.
    assert view.bar.bar_style == "danger"
    assert "content_policy_violation" in view.error_html.value
    assert "rephrase" in view.error_html.value.lower()
    assert "rephrase" in bundle["text/plain"].lower()
    # The full prompt is there on hover, escaped inside the attribute.
    assert 'title="Cat &lt;script&gt;' in view.header.value


def test_a_javascript_result_url_is_refused(comm_log):
    task = Task(request=GenerationRequest(prompt="bad link"), id="task-unified-1-js",
                download_state="off")
    view = TaskView(task)
    task.results = ["javascript:alert(1)"]
    task.finished = time.time()
    task.status = "completed"
    assert view.player.outputs == ()
    assert view.link_html.value == ""
    assert "not an http(s) URL" in view.error_html.value
    assert "javascript:" not in comm_log.text()
    assert "javascript:" not in task_bundle(task)["text/html"]
    assert "javascript:" not in view._repr_mimebundle_()["text/html"]
    assert "not an http(s) URL" in render.task_text(task)
    for value in html_values(view):
        assert_inert(value)


def test_the_player_uses_the_result_url_when_the_file_is_not_served(comm_log, tmp_path):
    outside = tmp_path.parent / f"{tmp_path.name}-elsewhere.mp4"
    outside.write_bytes(b"\x00\x00\x00\x18ftypmp42")
    try:
        task = Task(request=GenerationRequest(prompt="remote"), id="task-unified-1-remote",
                    local_path=str(outside), download_state="done")
        view = TaskView(task)
        task.results = ["https://cdn.example.com/v/1.mp4?sig=a&b=<c>"]
        task.finished = time.time()
        task.status = "completed"
        [tag] = video_tags(view)
        assert 'src="https://cdn.example.com/v/1.mp4?sig=a&amp;b=&lt;c&gt;"' in tag
        assert_inert(tag)
    finally:
        outside.unlink()


def test_copy_id_and_save_as(comm_log, client, emulator):
    task = hailuo_nb.generate("keep a copy", client=client, wait=True)
    view = TaskView(task)
    assert view.id_text.layout.display == "none"
    view.copy_button.click()
    assert view.id_text.value == task.id and view.id_text.layout.display is None
    view.id_text.value = "edited"  # read-only: put back at once
    assert view.id_text.value == task.id

    view.save_button.click()
    assert "Type a path first" in view.save_note.value
    view.save_path.value = "results/heron.mp4"
    view.save_button.click()  # the video is on disk: a quick local copy
    assert os.path.getsize("results/heron.mp4") == os.path.getsize(task.local_path)
    assert "Saved to <code>results/heron.mp4</code>" in view.save_note.value


def test_save_as_downloads_in_the_background_when_nothing_is_on_disk(comm_log, client, emulator):
    task = hailuo_nb.generate("not downloaded", client=client, wait=True, download=False)
    assert task.local_path is None
    view = TaskView(task)
    view.save_path.value = "later.mp4"
    view.save_button.click()  # returns at once; the note follows the download
    eventually(lambda: "Saved to" in view.save_note.value, "the background save")
    assert os.path.getsize("later.mp4") > 0


def test_thumbnails_never_cost_more_than_a_small_image(comm_log, tmp_path):
    image = tmp_path / "cat.png"  # under the working dir (tmp_path): served by Jupyter
    image.write_bytes(png(640, 400))
    view = TaskView(Task(request=GenerationRequest(prompt="p", image=str(image)),
                         id="task-unified-1-thumb"))
    # A local file: a relative <img> in rendered output, no bytes in widget state.
    [out] = view.thumbnail.outputs
    assert '<img src="cat.png"' in out["data"]["text/html"]
    assert_inert(out["data"]["text/html"].replace("<img", "<p"))
    assert "image-to-video" in view.header.value and "cat.png" in view.header.value

    small = png(512, 512)
    assert len(small) <= THUMBNAIL_MAX_BYTES
    from_bytes = TaskView(Task(request=GenerationRequest(prompt="p", image=small)))
    assert isinstance(from_bytes.thumbnail, W.Image) and from_bytes.thumbnail.value == small
    big = png(640, 640, size=THUMBNAIL_MAX_BYTES + 1)
    assert TaskView(Task(request=GenerationRequest(prompt="p", image=big))).thumbnail is None

    url = "https://img.example.com/a.png?x=1&y=<2>"
    remote = TaskView(Task(request=GenerationRequest(prompt="p", image=url),
                           id="task-unified-1-url"))
    assert remote.thumbnail is None
    assert "x=1&amp;y=&lt;2&gt;" in remote.header.value
    assert_inert(remote.header.value)


def test_a_view_is_light_in_the_saved_notebook(comm_log):
    """nbclient saves every widget's full state with the notebook: keep it small."""
    task = Task(request=GenerationRequest(prompt="A fox " * 50), id="task-unified-1-light")

    def cost(make):
        mark = comm_log.mark()
        make()
        opens = [m for m in comm_log.since(mark) if m.kind == "open"]
        return len(opens), sum(len(json.dumps(m.data)) for m in opens)

    n_full, bytes_full = cost(lambda: TaskView(task))
    n_compact, bytes_compact = cost(lambda: TaskView(task, compact=True))
    print(f"\nfull view: {n_full} models, {bytes_full} B; compact: {n_compact}, {bytes_compact} B")
    # Measured: 43 models / ~28 KB full, 21 models / ~14 KB compact (Gallery tiles).
    assert n_full <= 45 and bytes_full <= 32_000
    assert n_compact <= 22 and bytes_compact <= 16_000


# -- the form --------------------------------------------------------------------------------


def test_the_form_cannot_express_1080p_with_10_seconds(comm_log, monkeypatch):
    built = []

    class Recording(GenerationRequest):
        def __post_init__(self):
            built.append((self.quality, self.duration))
            super().__post_init__()

    monkeypatch.setattr(form_module, "GenerationRequest", Recording)
    form = GenerationForm()
    form.prompt.value = "A sunrise over the sea"

    # 1080p chosen: 10 s is not offered, and says why.
    form.quality.value = "1080p"
    assert [v for _, v in form.duration.options] == [6]
    assert "1080p is 6 s only" in form.duration_note.value
    with pytest.raises(traitlets.TraitError):
        form.duration.value = 10
    with pytest.raises(traitlets.TraitError):
        form.duration.index = 1  # what a frontend click would send
    # … and vice versa: 10 s chosen, 1080p is not offered.
    form.quality.value = "768p"
    assert [v for _, v in form.duration.options] == [6, 10]
    form.duration.value = 10
    assert list(form.quality.options) == ["768p"]
    assert "10 s is 768p only" in form.duration_note.value
    with pytest.raises(traitlets.TraitError):
        form.quality.value = "1080p"
    form.duration.value = 6
    assert list(form.quality.options) == ["768p", "1080p"]
    assert form.duration_note.value == ""

    # Every path through the pickers, in every order: the pair is never even built.
    for q1 in ("768p", "1080p"):
        for d in (6, 10):
            for q2 in ("1080p", "768p"):
                for value, widget in ((q1, form.quality), (d, form.duration),
                                      (q2, form.quality)):
                    with contextlib.suppress(traitlets.TraitError):
                        widget.value = value
                    assert (form.quality.value, form.duration.value) != ("1080p", 10)
    assert built and ("1080p", 10) not in built
    assert ("1080p", 6) in built and ("768p", 10) in built


def test_the_form_refuses_a_mistyped_camera_command(comm_log, emulator):
    form = GenerationForm()
    form.prompt.value = "A fox runs through snow [Pan lft]"
    assert form.submit_button.disabled
    assert "did you mean [Pan left]" in form.reason.value
    assert "did you mean [Pan left]" in form.lint_output.value
    assert form.request is None
    assert form.submit() is None and form.tasks == []
    assert emulator.requests_seen == 0
    form.prompt.value = "A fox runs through snow [Pan left]"
    assert not form.submit_button.disabled
    assert form.lint_output.value == ""


def test_form_counter_camera_toolbar_combine_and_warnings(comm_log):
    form = GenerationForm()
    assert len(form.camera_buttons) == 15
    assert set(form.camera_buttons) == set(hailuo_nb.camera.CAMERA_COMMANDS)
    form.prompt.value = "A city at night"
    form.camera_buttons["Pan left"].click()
    assert form.prompt.value == "A city at night [Pan left]"
    form.combine.value = True
    form.camera_buttons["Pedestal up"].click()
    assert form.prompt.value == "A city at night [Pan left,Pedestal up]"
    form.combine.value = False
    form.camera_buttons["Zoom out"].click()
    assert form.prompt.value == "A city at night [Pan left,Pedestal up] [Zoom out]"
    assert f"{len(form.prompt.value)}/2000" in form.counter.value
    assert not form.submit_button.disabled

    form.prompt.value = "x" * 2001
    assert "2001/2000" in form.counter.value and "#cf222e" in form.counter.value
    assert form.submit_button.disabled and "2000" in form.reason.value

    form.prompt.value = "Busy [Pan left,Pedestal up,Zoom in,Tilt up] street"
    assert not form.submit_button.disabled  # a warning, not an error
    assert "⚠" in form.lint_output.value and "3" in form.lint_output.value


def test_form_image_checks_run_at_once(comm_log, emulator):
    def upload(name, data):
        form.upload.value = ({"name": name, "type": "image/png", "size": len(data),
                              "content": memoryview(data),
                              "last_modified": datetime.now(timezone.utc)},)

    form = GenerationForm()
    form.prompt.value = "The cat turns its head [Static shot]"
    upload("tiny.png", png(200, 200))
    assert "300" in form.image_note.value and "✖" in form.image_note.value
    assert form.submit_button.disabled  # an image was meant: no silent text-to-video
    assert form.upload.value == ()  # the bytes never stay in the upload's synced state
    form.clear_image.click()
    assert not form.submit_button.disabled and form.image_note.value == ""

    good = png(640, 360)
    upload("ok.png", good)
    assert form.request is not None and form.request.mode == "image-to-video"
    assert form.thumbnail.value == good and form.thumbnail.layout.display is None
    assert "640x360" in form.image_note.value
    form.image_url.value = "https://example.com/a.png"
    assert form.submit_button.disabled and "not both" in form.reason.value
    form.clear_image.click()
    assert form.thumbnail.value == b"" and form.thumbnail.layout.display == "none"
    assert form.request.image_url == "https://example.com/a.png"
    assert "https://example.com/a.png" in form.image_note.value

    form.image_url.value = "https://example.com/a.png?q=<b>&x=1"
    assert "?q=&lt;b&gt;&amp;x=1" in form.image_note.value
    assert_inert(form.image_note.value)
    form.image_url.value = "javascript:alert(1)"
    assert form.submit_button.disabled
    assert "http" in form.image_note.value and "✖" in form.image_note.value
    assert_inert(form.image_note.value)
    assert emulator.requests_seen == 0  # no check touched the network


def test_the_form_escapes_what_it_echoes(comm_log):
    form = GenerationForm()
    form.prompt.value = "<script>alert(1)</script> [<img src=x onerror=alert(1)>]"
    for value in html_values(form):
        assert_inert(value)
    # The linter quotes the odd bracket back (a warning: it is sent as text) — escaped.
    assert "[&lt;img src=x onerror=alert(1)&gt;] is not a camera command" in (
        form.lint_output.value)
    assert "<script>" not in comm_log.text().replace(form.prompt.value, "")


def test_submit_returns_before_the_server_answers(comm_log, client, emulator):
    emulator.inject("POST /v1/videos/generations", "slow:2", times=1)
    form = GenerationForm(client=client)
    form.prompt.value = "A paper boat drifts [Tracking shot]"
    form.submit_button.click()
    # The click handler has returned; the server has not answered (it is sleeping on
    # the POST for 2 s), so the task is still local.
    [task] = form.tasks
    assert task.status in ("queued", "submitting")
    assert emulator.tasks_created == 0
    assert form.task_box.children == (form.views[0],)
    assert form.views[0].bar.bar_style == "info"

    form.prompt.value = "A second boat [Static shot]"
    form.submit_button.click()  # another one while the first is still in flight
    assert form.task_box.children == (form.views[1], form.views[0])  # newest first
    for view in form.views:
        eventually(lambda view=view: settled(view), "both tasks finish")
    assert [t.status for t in form.tasks] == ["completed", "completed"]
    assert all(v.bar.bar_style == "success" for v in form.views)


def test_no_widget_state_ever_holds_the_api_key(comm_log, emulator, env_for, api_key, tmp_path):
    env_for(emulator)  # the key comes from the environment, as for a user
    form = GenerationForm()
    form.prompt.value = "keyless [Push in]"
    image = tmp_path / "still.png"
    image.write_bytes(png(512, 512))
    form.image_url.value = str(image)  # a local file: uploaded with the key
    form.submit_button.click()
    view = form.views[0]
    eventually(lambda: settled(view), "the task finishes")
    assert form.tasks[0].status == "completed"
    gallery = Gallery(form.tasks)
    gallery._repr_mimebundle_()

    assert api_key not in comm_log.text()
    with warnings.catch_warnings():  # Widget.widgets is deprecated in ipywidgets 8.1
        warnings.simplefilter("ignore", DeprecationWarning)
        registry = W.Widget.widgets
    assert registry  # the same dict as ipywidgets.widgets.widget._instances
    for widget in list(registry.values()):
        assert api_key not in repr(widget.get_state()), widget


# -- the gallery -----------------------------------------------------------------------------


def test_gallery_summary_updates_live(comm_log, client, emulator):
    emulator.configure(task_seconds=0.6)
    tasks = hailuo_nb.generate_many(["one", "two", "an nsfw three"], client=client)
    gallery = Gallery(tasks)
    assert "3 tasks" in gallery.summary.value
    assert "running" in gallery.summary.value
    assert "repeat(auto-fill, minmax(360px, 1fr))" in gallery.grid.layout.grid_template_columns
    assert all(v.compact for v in gallery.views) and len(gallery.grid.children) == 3
    hailuo_nb.wait_all(tasks, timeout=60)
    eventually(lambda: "2 done · 0 running · 1 failed" in gallery.summary.value,
               "the summary follows the tasks")
    bundle = gallery._repr_mimebundle_()
    assert WIDGET_MIME in bundle
    assert "2 done · 0 running · 1 failed" in bundle["text/plain"]
    assert bundle["text/html"].count('class="hailuo-task"') == 3
    assert_inert(bundle["text/html"])


def test_gallery_from_history_plays_finished_videos_without_polling(comm_log, client, emulator):
    done = hailuo_nb.generate("kept for later", client=client, wait=True)
    hailuo_nb.poller.forget_all()
    hailuo_nb.journal.forget()  # as after a kernel restart
    gets_before = emulator.stats["by_route"].get("GET /v1/tasks", 0)
    gallery = Gallery.from_history(limit=5)
    [view] = gallery.views
    assert view.task.id == done.id and view.task is not done
    assert view.bar.bar_style == "success"
    [tag] = video_tags(view)
    assert f'src="hailuo_videos/{done.id}.mp4"' in tag
    time.sleep(0.3)  # several poll intervals: nothing asks the server about it
    assert emulator.stats["by_route"].get("GET /v1/tasks", 0) == gets_before


# -- reprs -----------------------------------------------------------------------------------


def test_task_repr_stands_alone_without_a_kernel():
    task = Task(request=GenerationRequest(prompt=EVIL_PROMPT), id="task-unified-1-plain")
    bundle = task_bundle(task)
    assert set(bundle) == {"text/plain", "text/html"}
    assert "Cat <script>" in bundle["text/plain"]  # plain text is not HTML
    assert_inert(bundle["text/html"])


def test_a_task_displayed_in_a_kernel_is_a_live_view_then_its_record(comm_log, monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    monkeypatch.setattr(shell, "kernel", object(), raising=False)  # as under ipykernel
    register_task_display(shell)  # what `import hailuo_nb` / `%load_ext` do inside IPython
    published = []
    monkeypatch.setattr(shell.display_pub, "publish",
                        lambda data, metadata=None, **kw: published.append((data, kw)))
    task = Task(request=GenerationRequest(prompt="A lighthouse [Zoom in]"),
                id="task-unified-1-repr", status="processing", progress=30)
    assert shell.display_formatter.format(task) == ({}, {})  # IPython hands it to us
    [(data, kw)] = published
    display_id = kw["transient"]["display_id"]
    view = next(m for m in comm_log.opens() if m.comm_id == data[WIDGET_MIME]["model_id"])
    assert view.data["state"]["_model_name"] == "VBoxModel"
    # It settles: the same output turns into the record, and the view's widgets close.
    task.set_trait("finished", time.time())
    task.status = "failed"
    data, kw = published[-1]
    assert kw.get("update") and kw["transient"]["display_id"] == display_id
    assert WIDGET_MIME not in data
    for fact in ("task-unified-1-repr", "failed", "text-to-video", "A lighthouse [Zoom in]"):
        assert fact in data["text/plain"] and fact in data["text/html"]
    closed = {m.comm_id for m in comm_log.messages if m.kind == "close"}
    assert data and view.comm_id in closed


def test_views_stay_inside_800_pixels(comm_log):
    """No fixed width wider than the 780 px content column (the rest is 100%/auto)."""
    task = Task(request=GenerationRequest(prompt="layout " * 100), id="task-unified-1-w")
    for root in (TaskView(task), GenerationForm(), Gallery([task, task])):
        for w in descendants(root):
            layout = getattr(w, "layout", None)
            for name in ("width", "min_width", "max_width"):
                value = getattr(layout, name, None) or ""
                if value.endswith("px"):
                    assert int(value[:-2]) <= 800, (w, name, value)


def test_the_fast_model_is_offered_only_with_an_image(comm_log, tmp_path):
    from imagefactory import png

    form = GenerationForm()
    form.prompt.value = "The still comes alive [Push in]"
    assert form.fast_model.disabled and "add an image" in form.fast_model.tooltip
    assert form.request.model == "MiniMax-Hailuo-2.3"
    image = tmp_path / "still.png"
    image.write_bytes(png(640, 360))
    form.image_url.value = str(image)
    assert not form.fast_model.disabled
    form.fast_model.value = True
    assert form.request.model == "MiniMax-Hailuo-2.3-Fast" and "fast model" in form.reason.value
    form.image_url.value = ""  # the image goes: Fast is unticked and greyed again
    assert form.fast_model.disabled and not form.fast_model.value
    assert form.request.model == "MiniMax-Hailuo-2.3"
    form.close()
