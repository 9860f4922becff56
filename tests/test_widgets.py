"""Widgets against real tasks on the emulator, with a recording comm (no browser).

``widget_comm.install`` stands in for the kernel's comm the way ipywidgets' own tests
do, and keeps every message (the comm_open with a widget's initial state, and each
update) so the tests can count what a frontend would receive and read what it would
show. Every task here is real: HTTP to the emulator on 127.0.0.1, the real poller.
"""

from __future__ import annotations

import contextlib
import re
from datetime import datetime, timezone
from html.parser import HTMLParser

import ipywidgets as W
import pytest
import traitlets
import widget_comm
from imagefactory import png
from waiting import eventually

import hailuo_nb
from hailuo_nb import GenerationRequest, Task
from hailuo_nb._presentation.display import task_bundle
from hailuo_nb.widgets import Gallery, GenerationForm, TaskView
from hailuo_nb.widgets import form as form_module

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
EVIL_PROMPT = 'Cat <script>alert(1)</script> and <img src=x onerror="alert(2)"> [Pan left]'
EVIL_FAILURE = "Blocked <img src=x onerror=alert(3)> <script>steal()</script> & more"


@pytest.fixture
def comm_log(monkeypatch):
    return widget_comm.install(monkeypatch)


def settled(view: TaskView) -> bool:
    """The task is done and the view has drawn its last state."""
    return view.task.is_done and view.state.get("status") in ("completed", "failed")


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




# -- HTML from users and servers stays text ---------------------------------------------------


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

    # 1080p chosen: 10 s stays in place, greyed, and the form says why.
    form.quality.value = "1080p"
    assert [v for _, v in form.duration.options] == [6, 10]
    assert form.duration.buttons[10].disabled
    assert "1080p is 6 s only" in form.duration_note.value
    with pytest.raises(traitlets.TraitError):
        form.duration.value = 10
    form.duration.buttons[10].value = True  # a frontend click that raced the greying
    assert form.duration.value == 6 and not form.duration.buttons[10].value
    # … and vice versa: 10 s chosen, 1080p is greyed.
    form.quality.value = "768p"
    form.duration.value = 10
    assert form.quality.buttons["1080p"].disabled
    assert "10 s is 768p only" in form.duration_note.value
    with pytest.raises(traitlets.TraitError):
        form.quality.value = "1080p"
    form.duration.value = 6
    assert not any(b.disabled for b in form.quality.buttons.values())
    assert "greyed" not in form.duration_note.value

    # Every path through the pickers, by value or by click: the pair is never even built.
    for q1 in ("768p", "1080p"):
        for d in (6, 10):
            for q2 in ("1080p", "768p"):
                for value, choice in ((q1, form.quality), (d, form.duration),
                                      (q2, form.quality)):
                    with contextlib.suppress(traitlets.TraitError):
                        choice.value = value
                    choice.buttons[value].value = True
                    assert (form.quality.value, form.duration.value) != ("1080p", 10)
                    assert [v for v, b in choice.buttons.items() if b.value] == [choice.value]
    assert built and ("1080p", 10) not in built
    assert ("1080p", 6) in built and ("768p", 10) in built


def test_the_form_refuses_a_mistyped_camera_command(comm_log, emulator):
    form = GenerationForm()
    form.prompt.value = "A fox runs through snow [Pan lft]"
    assert "did you mean [Pan left]" in form.reason.value
    assert "did you mean [Pan left]" in form.lint_output.value
    assert form.request is None
    assert form.submit() is None and form.tasks == []
    assert emulator.requests_seen == 0
    form.prompt.value = "A fox runs through snow [Pan left]"
    assert form.request is not None
    assert form.lint_output.value == ""


def test_form_counter_camera_toolbar_combine_and_warnings(comm_log):
    form = GenerationForm()
    assert len(form.camera_buttons) == 15
    assert set(form.camera_buttons) == set(hailuo_nb._pure.camera_lint.CAMERA_COMMANDS)
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
    assert form.request is not None

    form.prompt.value = "x" * 2001
    assert "2001/2000" in form.counter.value and "#cf222e" in form.counter.value
    assert form.request is None and "2000" in form.reason.value

    form.prompt.value = "Busy [Pan left,Pedestal up,Zoom in,Tilt up] street"
    assert form.request is not None  # a warning, not an error
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
    assert form.request is None  # an image was meant: no silent text-to-video
    assert form.upload.value == ()  # the bytes never stay in the upload's synced state
    form.clear_image.click()
    assert form.request is not None and form.image_note.value == ""

    good = png(640, 360)
    upload("ok.png", good)
    assert form.request is not None and form.request.mode == "image-to-video"
    assert form.thumbnail.value == good and form.thumbnail.layout.display is None
    assert "640x360" in form.image_note.value
    form.image_url.value = "https://example.com/a.png"
    assert form.request is None and "not both" in form.reason.value
    form.clear_image.click()
    assert form.thumbnail.value == b"" and form.thumbnail.layout.display == "none"
    assert form.request.image_url == "https://example.com/a.png"
    assert "https://example.com/a.png" in form.image_note.value

    form.image_url.value = "https://example.com/a.png?q=<b>&x=1"
    assert "?q=&lt;b&gt;&amp;x=1" in form.image_note.value
    assert_inert(form.image_note.value)
    form.image_url.value = "javascript:alert(1)"
    assert form.request is None
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


@pytest.mark.slow
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
    assert form.views[0].state["status"] in ("queued", "submitting")

    form.prompt.value = "A second boat [Static shot]"
    form.submit_button.click()  # another one while the first is still in flight
    assert form.task_box.children == (form.views[1], form.views[0])  # newest first
    for view in form.views:
        eventually(lambda view=view: settled(view), "both tasks finish")
    assert [t.status for t in form.tasks] == ["completed", "completed"]
    assert all(v.state["status"] == "completed" for v in form.views)


# -- the gallery -----------------------------------------------------------------------------


# -- reprs -----------------------------------------------------------------------------------


def test_task_repr_stands_alone_without_a_kernel():
    task = Task(request=GenerationRequest(prompt=EVIL_PROMPT), id="task-unified-1-plain")
    bundle = task_bundle(task)
    assert set(bundle) == {"text/plain", "text/html"}
    assert "Cat <script>" in bundle["text/plain"]  # plain text is not HTML
    assert_inert(bundle["text/html"])


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
