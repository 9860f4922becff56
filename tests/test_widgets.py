"""Widgets against real tasks on the emulator, with a recording comm (no browser)."""

from __future__ import annotations

import time
from datetime import datetime, timezone
from html.parser import HTMLParser

import ipywidgets as W
import pytest
import traitlets
import widget_comm

import hailuo_nb
from hailuo_nb import GenerationRequest, Task
from hailuo_nb.widgets import Gallery, GenerationForm, TaskView

EVIL_PROMPT = 'Cat <script>alert(1)</script> and <img src=x onerror="alert(2)"> [Pan left]'


@pytest.fixture
def comm_log(monkeypatch):
    return widget_comm.install(monkeypatch)


def html_values(view: W.Widget) -> list[str]:
    out = []
    stack = [view]
    while stack:
        widget = stack.pop()
        if isinstance(widget, W.HTML):
            out.append(widget.value)
        if isinstance(widget, W.Output):
            out.extend(o["data"].get("text/html", "") for o in widget.outputs)
        stack.extend(getattr(widget, "children", ()))
    return out


SAFE_TAGS = {"div", "span", "b", "br", "code", "small", "a", "video", "p"}


class _TagAudit(HTMLParser):
    def __init__(self):
        super().__init__()
        self.bad = []

    def handle_starttag(self, tag, attrs):
        if tag not in SAFE_TAGS:
            self.bad.append(tag)
        for name, value in attrs:
            if name.startswith("on") or (value or "").strip().lower().startswith("javascript:"):
                self.bad.append(f"{tag}[{name}]")


def assert_inert(text: str) -> None:
    """Parsed as a browser would: only our own harmless tags, no handlers, no js: links."""
    audit = _TagAudit()
    audit.feed(text)
    assert not audit.bad, (audit.bad, text)


def test_a_task_life_in_a_view_sends_a_bounded_number_of_messages(
    comm_log, client, emulator, tmp_path
):
    emulator.configure(task_seconds=0.6)
    task = hailuo_nb.generate("A heron lands [Static shot]", client=client)
    view = TaskView(task)
    opened = len(comm_log)
    task.wait(timeout=60)
    time.sleep(0.3)  # let a trailing redraw (if any) go out
    sends = comm_log.sends()
    polls = hailuo_nb.api.get_poller().polls
    # Each redraw changes at most 9 widgets (label, bar value+style, status, error, link,
    # player outputs + layout): one message each thanks to hold_sync. A task's life is a
    # few redraws per poll plus the download, so the bound is 9 per poll + 30.
    bound = 9 * polls + 30
    assert len(sends) <= bound, (len(sends), polls)
    print(f"comm messages over the task's life: {len(sends)} for {polls} polls")
    assert opened > 0
    # Final state as a user sees it.
    assert view.bar.value == 100
    assert view.bar.bar_style == "success"
    [output] = view.player.outputs
    src = f'src="hailuo_videos/{task.id}.mp4"'
    assert src in output["data"]["text/html"]
    assert "autoplay" not in output["data"]["text/html"]
    assert "loop" not in output["data"]["text/html"]
    assert "data:video" not in comm_log.text()
    assert "completed" in view.status_html.value
    assert "Open in a new tab" in view.link_html.value


def test_throttle_keeps_redraws_near_ten_per_second(comm_log):
    task = Task(request=GenerationRequest(prompt="throttle"), id="task-unified-1-throttle",
                status="processing")
    view = TaskView(task)
    before = len(comm_log.sends())
    start = time.monotonic()
    for i in range(1, 200):
        task.progress = i % 100
        task.elapsed = i * 0.01
    spent = time.monotonic() - start
    time.sleep(0.3)
    sends = len(comm_log.sends()) - before
    redraw_budget = (spent + 0.3) * 10 + 2
    assert sends <= 4 * redraw_budget  # ≤ 4 widgets change per progress redraw
    assert view.bar.value == 99  # the trailing redraw shows the last value


def test_html_from_prompt_and_server_is_inert(comm_log):
    task = Task(request=GenerationRequest(prompt=EVIL_PROMPT), id="task-unified-1-evil")
    view = TaskView(task)
    task.error = {"code": "content_policy_violation",
                  "message": "Blocked <img src=x onerror=alert(3)> <script>x()</script>",
                  "retryable": False}
    task.status = "failed"
    for value in html_values(view):
        assert_inert(value)
    bundle = view._repr_mimebundle_()
    assert_inert(bundle["text/html"])
    assert "&lt;script&gt;" in bundle["text/html"]
    assert "&lt;script&gt;" in view.prompt_html.value
    assert view.bar.bar_style == "danger"
    assert "Blocked" in view.error_html.value
    assert "rephrase" in view.error_html.value


def test_javascript_result_url_is_refused(comm_log):
    task = Task(request=GenerationRequest(prompt="bad link"), id="task-unified-1-js")
    view = TaskView(task)
    task.results = ["javascript:alert(1)"]
    task.finished = time.time()
    task.status = "completed"
    assert view.player.outputs == ()
    assert view.link_html.value == ""
    assert "not an http(s) URL" in view.error_html.value
    assert "javascript:" not in task._repr_mimebundle_()["text/html"]


def test_player_uses_the_url_when_the_file_is_not_served(comm_log):
    task = Task(request=GenerationRequest(prompt="remote"), id="task-unified-1-remote")
    view = TaskView(task)
    task.results = ["https://cdn.example.com/v/1.mp4?sig=a&b=c"]
    task.finished = time.time()
    task.status = "completed"
    [out] = view.player.outputs
    assert 'src="https://cdn.example.com/v/1.mp4?sig=a&amp;b=c"' in out["data"]["text/html"]


def test_form_cannot_express_1080p_with_10_seconds(comm_log):
    form = GenerationForm()
    form.prompt.value = "A sunrise"
    form.duration.value = 10
    form.quality.value = "1080p"
    assert form.duration.value == 6
    assert [v for _, v in form.duration.options] == [6]
    assert "6 s only" in form.duration_note.value
    with pytest.raises(traitlets.TraitError):
        form.duration.value = 10
    assert form.request.quality == "1080p" and form.request.duration == 6
    form.quality.value = "768p"
    assert [v for _, v in form.duration.options] == [6, 10]


def test_form_refuses_a_mistyped_camera_command(comm_log, emulator):
    form = GenerationForm()
    form.prompt.value = "A fox [Pan lft]"
    assert form.submit_button.disabled
    assert "did you mean [Pan left]" in form.reason.value
    assert "did you mean [Pan left]" in form.lint_output.value
    assert form.submit() is None
    assert emulator.requests_seen == 0


def test_form_counter_camera_toolbar_and_combine(comm_log):
    form = GenerationForm()
    assert len(form.camera_buttons) == 15
    form.prompt.value = "A city at night"
    form.camera_buttons["Pan left"].click()
    form.combine.value = True
    form.camera_buttons["Pedestal up"].click()
    assert form.prompt.value == "A city at night [Pan left,Pedestal up]"
    form.combine.value = False
    form.camera_buttons["Zoom out"].click()
    assert form.prompt.value.endswith("[Pan left,Pedestal up] [Zoom out]")
    assert f"{len(form.prompt.value)}/2000" in form.counter.value
    form.prompt.value = "x" * 2001
    assert "2001/2000" in form.counter.value
    assert form.submit_button.disabled
    form.prompt.value = "[Pan left,Pan right,Zoom in,Zoom out] busy"
    assert not form.submit_button.disabled
    assert "3" in form.lint_output.value  # the more-than-3 warning


def test_form_image_checks_run_at_once(comm_log):
    from imagefactory import png

    form = GenerationForm()
    form.upload.value = ({"name": "tiny.png", "type": "image/png", "size": 10,
                          "content": memoryview(png(200, 200)), "last_modified": datetime.now(timezone.utc)},)
    assert "300" in form.image_note.value
    assert form.upload.value == ()  # bytes never stay in widget state
    form.upload.value = ({"name": "ok.png", "type": "image/png", "size": 10,
                          "content": memoryview(png(640, 360)), "last_modified": datetime.now(timezone.utc)},)
    assert form.request is not None and form.request.mode == "image-to-video"
    assert form.thumbnail.layout.display is None
    form.image_url.value = "https://example.com/a.png"
    assert form.submit_button.disabled  # both an upload and a URL
    form.clear_image.click()
    assert form.request.image_url == "https://example.com/a.png"
    form.image_url.value = "javascript:alert(1)"
    assert form.submit_button.disabled


def test_submit_returns_before_the_server_answers(comm_log, client, emulator):
    emulator.inject("POST /v1/videos/generations", "slow:1.5", times=1)
    form = GenerationForm(client=client)
    form.prompt.value = "A paper boat [Tracking shot]"
    start = time.monotonic()
    form.submit_button.click()
    returned_after = time.monotonic() - start
    [task] = form.tasks
    assert task.status in ("queued", "submitting")
    assert emulator.tasks_created == 0  # the server has not created it yet
    assert returned_after < 1.5  # the click did not wait for the slow answer
    task.wait(timeout=60)
    assert task.status == "completed"
    assert form.task_box.children[0] is form.views[0]
    assert form.views[0].bar.bar_style == "success"


def test_no_widget_state_holds_the_key(comm_log, client, emulator, api_key):
    form = GenerationForm(client=client)
    form.prompt.value = "keyless"
    form.submit()
    form.tasks[0].wait(timeout=60)
    Gallery(form.tasks)
    assert api_key not in comm_log.text()
    from ipywidgets.widgets.widget import _instances

    for widget in list(_instances.values()):
        assert api_key not in repr(widget.get_state())


def test_gallery_summary_updates_live(comm_log, client, emulator):
    tasks = hailuo_nb.generate_many(["one", "two", "an nsfw three"], client=client)
    gallery = Gallery(tasks)
    assert "3 tasks" in gallery.summary.value
    hailuo_nb.wait_all(tasks, timeout=60)
    time.sleep(0.1)
    assert "2 done" in gallery.summary.value
    assert "1 failed" in gallery.summary.value
    bundle = gallery._repr_mimebundle_()
    assert "2 done" in bundle["text/plain"]
    assert bundle["text/html"].count("hailuo-task") == 3


def test_gallery_from_history_shows_finished_videos(comm_log, client, emulator):
    hailuo_nb.generate("kept for later", client=client, wait=True)
    hailuo_nb.api._live.clear()
    gallery = Gallery.from_history(limit=5)
    [view] = gallery.views
    assert view.bar.bar_style == "success"
    assert view.player.outputs


def test_task_repr_stands_alone_without_a_kernel():
    task = Task(request=GenerationRequest(prompt=EVIL_PROMPT), id="task-unified-1-plain")
    bundle = task._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "Cat <script>" in bundle["text/plain"]  # plain text is not HTML
    assert_inert(bundle["text/html"])


def test_observer_errors_are_shown_not_raised(comm_log):
    task = Task(request=GenerationRequest(prompt="fragile"), id="task-unified-1-fragile")
    view = TaskView(task)

    def boom(*args, **kwargs):
        raise RuntimeError("draw failed <b>")

    view._draw = boom
    task.progress = 50  # must not raise into the setter (the poller's thread)
    task.status = "processing"
    assert "draw failed &lt;b&gt;" in view.error_html.value
