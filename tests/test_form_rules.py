"""The generation form as a user checks it: quiet until touched, impossible choices greyed
with their reason, a truthful upload button, the new task's view right under Generate.

Widgets talk to a recording comm (``widget_comm``); tasks are real HTTP to the emulator.
"""

from __future__ import annotations

from datetime import datetime, timezone

import ipywidgets as W
import pytest
import traitlets
import widget_comm
from imagefactory import png
from waiting import eventually

from hailuo_nb.widgets import GenerationForm
from hailuo_nb.widgets import form as form_module
from hailuo_nb.widgets.form_rules import upload_label

RED = form_module.RED


@pytest.fixture
def comm_log(monkeypatch):
    return widget_comm.install(monkeypatch)


def html_of(widget: W.Widget) -> list[str]:
    out, stack = [], [widget]
    while stack:
        w = stack.pop()
        if isinstance(w, W.HTML):
            out.append(w.value)
        stack.extend(getattr(w, "children", ()))
    return out


def upload(form: GenerationForm, name: str, data: bytes) -> None:
    """What the frontend sends when a file is picked."""
    form.upload.value = ({"name": name, "type": "image/png", "size": len(data),
                          "content": memoryview(data),
                          "last_modified": datetime.now(timezone.utc)},)


def option_rows(form: GenerationForm) -> list[tuple]:
    """Every control of the options rows, in order, with whether it is shown: what must
    not change when a choice greys another (no jumping layout)."""
    rows = [form.quality, form.duration, form.duration_note]
    return [(w.model_id, w.layout.display) for r in rows for w in [r, *getattr(r, "children", ())]]


# -- 1. no error before input ------------------------------------------------------------------


def test_a_fresh_form_shows_no_error_and_generate_is_pressable(comm_log):
    form = GenerationForm()
    for value in html_of(form):
        assert RED not in value and "✖" not in value, value
    assert "Describe the video" in form.reason.value
    assert not form.submit_button.disabled  # pressing it is how one learns what is missing
    assert form.request is None and form.error  # known, just not shouted yet


def test_errors_show_once_the_prompt_is_edited(comm_log):
    form = GenerationForm()
    form.prompt.value = "A fox runs through snow [Pan lft]"
    assert RED in form.reason.value and "did you mean [Pan left]" in form.reason.value
    form.prompt.value = "A fox runs through snow [Pan left]"
    assert "ready" in form.reason.value and RED not in form.reason.value
    form.prompt.value = ""  # typed, then deleted: now it is worth saying
    assert RED in form.reason.value and "Write a prompt first" in form.reason.value


def test_generate_with_an_empty_prompt_says_what_to_do_and_sends_nothing(
        comm_log, client, emulator):
    form = GenerationForm(client=client)
    mark = comm_log.mark()
    form.submit_button.click()
    assert form.tasks == [] and form.task_box.children == ()
    assert emulator.requests_seen == 0 and emulator.tasks_created == 0
    assert RED in form.reason.value
    message = form.error
    assert message == form_module.EMPTY_PROMPT and "\n" not in message
    assert "prompt" in message and "—" in message  # what is wrong — what to do
    # The cursor goes back to the prompt: a focus message to the textarea.
    assert {"method": "custom", "content": {"do": "focus"}} in [
        m.data for m in comm_log.since(mark) if m.comm_id == form.prompt.comm.comm_id]


def test_generate_with_a_bad_prompt_loses_nothing(comm_log, client, emulator):
    form = GenerationForm(client=client)
    form.prompt.value = "A fox runs through snow [Pan lft]"
    form.quality.value, form.duration.value = "768p", 10
    assert form.submit() is None
    assert form.prompt.value == "A fox runs through snow [Pan lft]"
    assert (form.quality.value, form.duration.value) == ("768p", 10)
    assert emulator.requests_seen == 0
    assert "did you mean [Pan left]" in form.reason.value


# -- 2. impossible choices greyed with the reason, in place ----------------------------------


def test_10_seconds_greys_1080p_with_its_reason_in_place(comm_log):
    form = GenerationForm()
    before = option_rows(form)
    assert [label for label, _ in form.quality.options] == ["768p", "1080p"]
    assert [label for label, _ in form.duration.options] == ["6 s", "10 s"]
    assert form.duration_note.layout.min_height  # one line kept whatever it says
    assert "1080p: 6 s only" in form.duration_note.value  # the rule, before it bites

    form.duration.value = 10
    hd = form.quality.buttons["1080p"]
    assert hd.disabled and "6 s" in hd.tooltip and "1080p" in hd.tooltip
    assert "1080p is greyed" in form.duration_note.value
    assert "choose 6 s for 1080p" in form.duration_note.value
    assert not form.quality.buttons["768p"].disabled
    assert option_rows(form) == before  # the same controls, all shown, same order
    with pytest.raises(traitlets.TraitError, match="choose 6 s for 1080p"):
        form.quality.value = "1080p"
    hd.value = True  # a click that raced the greying snaps back
    assert form.quality.value == "768p" and not hd.value

    form.quality.value = "768p"
    form.duration.value = 6
    assert not hd.disabled and hd.tooltip == "" and "greyed" not in form.duration_note.value
    form.quality.value = "1080p"  # … and the other way round
    ten = form.duration.buttons[10]
    assert ten.disabled and "768p" in ten.tooltip
    assert "10 s is greyed" in form.duration_note.value
    assert option_rows(form) == before


def test_the_fast_model_is_greyed_without_an_image_and_says_why(comm_log, tmp_path):
    form = GenerationForm()
    form.prompt.value = "The still comes alive [Push in]"
    assert form.fast_model.disabled and not form.fast_model.value
    assert "add an image" in form.fast_model.tooltip
    assert "add an image" in form.model_note.value  # visible, not only on hover
    image = tmp_path / "still.png"
    image.write_bytes(png(640, 360))
    form.image_url.value = str(image)
    assert not form.fast_model.disabled and "add an image" not in form.model_note.value
    form.fast_model.value = True
    assert form.request.model == "MiniMax-Hailuo-2.3-Fast"


# -- 3. a truthful upload button -------------------------------------------------------------


def test_the_upload_button_names_the_file_it_holds(comm_log):
    form = GenerationForm()
    form.prompt.value = "The cat turns its head [Static shot]"
    assert form.upload.description == "Upload image" and form.upload.value == ()
    data = png(640, 360)
    upload(form, "cat.png", data)
    assert form.upload.description == upload_label("cat.png", len(data))
    assert form.upload.description.startswith("cat.png · ") and "KB" in form.upload.description
    assert form.upload.icon == "check" and "cat.png" in form.upload.tooltip
    # The button's own "(n)" counts the value: one file, and no bytes in synced state.
    [stub] = form.upload.value
    assert stub["name"] == "cat.png" and bytes(stub["content"]) == b""
    assert form.request.image == data
    # The other way to give an image is greyed while one is held, with the reason.
    assert form.image_url.disabled and "Remove the uploaded image" in form.image_url.placeholder

    form.clear_image.click()
    assert form.upload.description == "Upload image" and form.upload.value == ()
    assert form.upload.icon == "upload" and not form.image_url.disabled
    assert form.request is not None and form.request.mode == "text-to-video"


def test_a_refused_upload_keeps_the_plain_label_and_says_why(comm_log):
    form = GenerationForm()
    upload(form, "tiny <b>.png", png(200, 200))
    assert form.upload.description == "Upload image" and form.upload.value == ()
    assert "300" in form.image_note.value and RED in form.image_note.value
    assert "tiny &lt;b&gt;.png" in form.image_note.value


def test_a_typed_url_greys_the_upload_button_with_the_reason(comm_log):
    form = GenerationForm()
    form.image_url.value = "https://example.com/a.png"
    assert form.upload.disabled and "Clear the Image field" in form.upload.tooltip
    form.image_url.value = ""
    assert not form.upload.disabled


def test_upload_label_is_short_and_keeps_the_extension():
    assert upload_label("cat.png", 34 * 1024) == "cat.png · 34 KB"
    assert upload_label("cat.png", 1300) == "cat.png · 1.3 KB"
    long = upload_label("a_very_long_file_name_from_a_camera_roll_0001.jpeg", 3 * 1024 * 1024)
    assert long.endswith(".jpeg · 3.0 MB") and "…" in long and len(long) < 45


# -- 4. the new task's view right under Generate ---------------------------------------------


def test_the_new_view_is_first_right_below_generate(comm_log, client, emulator):
    form = GenerationForm(client=client)
    rows = list(form.children)
    assert rows.index(form.task_box) == rows.index(form.submit_row) + 1 == len(rows) - 1
    form.prompt.value = "A paper boat drifts [Tracking shot]"
    first = form.submit()
    form.prompt.value = "A second boat [Static shot]"
    second = form.submit()
    assert [v.task for v in form.task_box.children] == [second, first]  # newest first
    assert "right below" in form.reason.value
    assert form.prompt.value == "A second boat [Static shot]"  # kept for a variation
    for task in (first, second):
        task.wait(60)
    assert emulator.tasks_created == 2


def test_a_large_picked_image_still_gets_a_small_preview(comm_log):
    """A 343 KB PNG is previewed by a JPEG thumbnail of it, not called too big."""
    form = GenerationForm()
    data = png(1920, 1080, size=343 * 1024)
    upload(form, "still.png", data)
    assert form.thumbnail.layout.display != "none"
    assert form.thumbnail.format == "jpeg" and bytes(form.thumbnail.value)[:2] == b"\xff\xd8"
    assert len(form.thumbnail.value) < 20_000
    assert "too big" not in form.image_note.value


def test_the_form_leaves_a_static_log_of_what_it_sent(comm_log, client, emulator,
                                                      monkeypatch):
    """Under the form: an output of plain HTML and text that names each request it sent
    and ends as its tasks' records (what a reopened notebook still shows)."""
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    published = []
    monkeypatch.setattr(shell.display_pub, "publish",
                        lambda data, metadata=None, **kw: published.append((data, kw)))
    form = GenerationForm(client=client)
    shell.display_formatter.format(form)
    log_id = published[-1][1]["transient"]["display_id"]
    assert "nothing sent yet" in published[-1][0]["text/plain"]
    form.prompt.value = "A paper boat drifts [Tracking shot]"
    first = form.submit()
    form.prompt.value = "A second boat [Static shot]"
    second = form.submit()
    for task in (first, second):
        task.wait(60)
    eventually(lambda: "2 done" in published[-1][0]["text/plain"], "the log's last update")
    data, kw = published[-1]
    assert kw.get("update") and kw["transient"]["display_id"] == log_id
    assert "A paper boat drifts" in data["text/plain"] and "A second boat" in data["text/plain"]
    assert data["text/html"].count("hailuo-record\"") == 2  # its two tasks as records
    assert "application/vnd.jupyter.widget-view+json" not in data
