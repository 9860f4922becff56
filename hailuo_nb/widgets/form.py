"""``GenerationForm``: the whole request by clicking, checked as you type.

Every change rebuilds a ``GenerationRequest`` (pure, no network). Its error shows only
for what the user has touched (or once Generate is pressed): a fresh form is not red.
Choices the rules forbid stay in place, greyed, with the reason (``form_rules``).
Generate hands a valid request to the poller thread (``queue_generation``) and returns
at once; the new task's ``TaskView`` goes first in the list right under the button.
"""

from __future__ import annotations

import html
import secrets
from datetime import datetime, timezone
from typing import Any

import ipywidgets as W
from IPython.display import display
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from .._presentation import stand_in
from .._presentation.facts import GREY, STATUS_COLOURS, VERDICT_COLOURS, clip
from .._presentation.records import grid_bundle, record_html, record_text
from .._pure.camera_lint import CAMERA_GROUPS, add_camera_command, lint_prompt
from .._pure.lineup import DEFAULT_MODEL, FAST_MODEL, MODELS
from ..api import form_takes, queue_generation
from ..errors import HailuoError, ValidationError
from ..request import DURATIONS, MAX_PROMPT_CHARS, QUALITIES, GenerationRequest
from .choices import Choice
from .form_rules import model_grey, size_greys, size_text, upload_label
from .task_view import THUMBNAIL_MAX_BYTES, TaskView

RED = STATUS_COLOURS["failed"]
AMBER = VERDICT_COLOURS["unsure"]
HINT = "Describe the video above (or add an image), then press Generate."
EMPTY_PROMPT = "Write a prompt first — describe the video, or add an image for image-to-video."
URL_PLACEHOLDER = "https://… or a local file path (optional: image-to-video)"
URL_BLOCKED = "Remove the uploaded image to give a URL or path instead"
UPLOAD_BLOCKED = "Clear the Image field to upload a file instead"


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _preview_bytes(data: bytes | None, info: Any) -> tuple[str, bytes] | None:
    """(format, bytes) of the picked image's preview: itself when small, else a JPEG
    thumbnail of it (None when there is nothing to show)."""
    if data is None:
        return None
    if len(data) <= THUMBNAIL_MAX_BYTES:
        return (info.format if info is not None else "png"), data
    try:
        from .._media.frames import image_thumbnail_jpeg  # PyAV loads only for this

        return "jpeg", image_thumbnail_jpeg(data)
    except Exception:  # the name and size still say which image it is
        return None


def _small(text_html: str, colour: str = GREY) -> str:
    return f'<small style="color:{colour};white-space:normal;line-height:1.4">{text_html}</small>'


class GenerationForm(W.VBox):
    """``GenerationForm(client=None)``: prompt editor with camera commands, options,
    image, and a Generate button that sends only a valid request.

    Widgets tests and users reach for: ``prompt``, ``counter``, ``lint_output``,
    ``camera_buttons`` (name → Button), ``combine``, ``quality``, ``duration`` (``Choice``),
    ``duration_note``, ``image_url``, ``upload``, ``image_note``, ``thumbnail``,
    ``prompt_optimizer``, ``fast_pretreatment``, ``fast_model``, ``model_note``,
    ``submit_button``, ``reason``, ``task_box``; ``request`` (the request the form
    describes, or None), ``error`` (why not, shown or not yet), ``tasks``, ``views``.
    """

    def __init__(self, client: Any = None, **kwargs: Any):
        # Long on purpose: it builds every control once, top to bottom in the order the
        # form shows them, so the layout reads like the form itself.
        self._client = client
        self._image_bytes: bytes | None = None
        self._image_name = ""
        self._image_error = ""
        self._image_info: Any = None
        self._url_note: tuple[str, str] | None = None
        self._stubbing = False
        # Fields the user has changed; "all" once Generate was pressed. Errors of other
        # fields wait: a form nobody has touched yet is not wrong.
        self._touched: set[str] = set()
        self.tasks: list = []
        self.views: list[TaskView] = []
        self.sent: list[str] = []  # one line per request it sent, for the static log
        self._log: Any = None  # the output under the form that outlives it (a stand-in)
        # Take keys name the cell that shows the form: run again, it shows what it sent.
        self._origin, earlier = form_takes(client)
        self.request: GenerationRequest | None = None
        self.error: str = ""
        self._error_field: str | None = None
        # Every widget model is saved with the notebook: share the unchanging styles
        # and layouts instead of one model each (the camera toolbar alone has 15 buttons).
        text = HTMLStyle()
        button_style = W.ButtonStyle()
        auto = W.Layout(width="auto")
        block = W.Layout(width="100%")
        row = W.Layout(width="100%", align_items="center")
        checks = CheckboxStyle()

        # -- prompt ------------------------------------------------------------------------
        self.prompt = W.Textarea(
            placeholder="Describe the video… camera moves go in brackets, e.g. [Pan left]",
            layout=W.Layout(width="100%", height="96px"),
            continuous_update=True,
        )
        self.counter = W.HTML(layout=W.Layout(width="auto", min_width="90px"), style=text)
        self.lint_output = W.HTML(layout=W.Layout(width="100%", min_width="0"), style=text)

        # -- camera toolbar ------------------------------------------------------------------
        self.combine = W.ToggleButton(
            description="combine", value=False, icon="link",
            tooltip="When on, a command joins the bracket the prompt ends with: "
                    "[Pan left,Pedestal up] (3 per bracket at most)",
            layout=auto,
        )
        self.camera_buttons: dict[str, W.Button] = {}
        button_layout = W.Layout(width="auto", height="28px", margin="0 2px 0 0")
        family_layout = W.Layout(width="auto", margin="0 4px 0 0")
        group_layout = W.Layout(width="auto", margin="0 14px 4px 0", align_items="center")
        groups = []
        for family, commands in CAMERA_GROUPS.items():
            buttons = []
            for command in commands:
                button = W.Button(description=command, tooltip=f"add [{command}] to the prompt",
                                  layout=button_layout, style=button_style)
                button.on_click(self._insert_camera(command))
                self.camera_buttons[command] = button
                buttons.append(button)
            # One family: its name, then its buttons; the families flow and wrap.
            groups.append(W.HBox(
                [W.HTML(_small(_esc(family)), layout=family_layout, style=text), *buttons],
                layout=group_layout,
            ))
        self.toolbar = W.VBox(
            [W.HBox([W.HTML("<b>Camera</b>", layout=W.Layout(width="70px"), style=text),
                     self.combine,
                     W.HTML(_small("each button adds <code>[Command]</code> at the end of "
                                   "the prompt; <i>combine</i> joins the last bracket"),
                            layout=W.Layout(margin="0 0 0 10px", min_width="0"), style=text)],
                    layout=row),
             W.Box(groups, layout=W.Layout(display="flex", flex_flow="row wrap",
                                           width="100%", margin="4px 0 0 0"))],
            layout=block,
        )

        # -- options: every choice stays in place; impossible ones are greyed ------------
        self.quality = Choice([(q, q) for q in QUALITIES], "768p", "Quality",
                              layout=W.Layout(width="auto", margin="0 24px 0 0",
                                              align_items="center"))
        self.duration = Choice([(f"{d} s", d) for d in DURATIONS], 6, "Duration")
        # Never empty (the rule, or why something is greyed), one widget line high at
        # least: a note coming or going does not move what is below.
        self.duration_note = W.HTML(layout=W.Layout(
            width="100%", min_height="var(--jp-widgets-inline-height, 28px)"), style=text)
        self.prompt_optimizer = W.Checkbox(value=True, description="Prompt optimizer",
                                           indent=False, style=checks,
                                           layout=W.Layout(width="auto", margin="0 24px 0 0"))
        self.fast_pretreatment = W.Checkbox(value=False, description="Fast pretreatment",
                                            indent=False, style=checks,
                                            layout=W.Layout(width="auto", margin="0 24px 0 0"))
        fast = MODELS[FAST_MODEL]
        self.fast_model = W.Checkbox(value=False, description=f"{fast.short.title()} model",
                                     indent=False, layout=W.Layout(width="auto",
                                                                   margin="0 8px 0 0"),
                                     style=checks, disabled=True)
        self.model_note = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"), style=text)

        # -- image ---------------------------------------------------------------------------
        self.image_url = W.Text(
            placeholder=URL_PLACEHOLDER, description="Image", layout=block,
            continuous_update=False, style={"description_width": "60px"},
        )
        # The built-in button always appends "(number of files)": the form keeps a
        # bytes-free stub of the held file in ``value`` so that number is true.
        self.upload = W.FileUpload(accept="image/jpeg,image/png,image/webp", multiple=False,
                                   description="Upload image", layout=auto)
        self.clear_image = W.Button(description="Remove image", icon="times",
                                    layout=W.Layout(width="auto", display="none"))
        self.thumbnail = W.Image(layout=W.Layout(display="none", width="96px",
                                                 min_width="96px", height="auto"))
        self.image_note = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"), style=text)

        # -- generate, then the tasks it made (newest first, right under the button) -------
        self.submit_button = W.Button(description="Generate", button_style="primary",
                                      icon="play", layout=W.Layout(width="auto",
                                                                   min_width="120px"))
        self.reason = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0",
                                             margin="0 0 0 8px"), style=text)
        self.submit_row = W.HBox([self.submit_button, self.reason], layout=row)
        self.task_box = W.VBox(layout=block)
        self.task_box.add_class("hailuo-form-tasks")

        self.prompt.observe(self._touch("prompt"), names="value")
        for widget in (self.prompt_optimizer, self.fast_pretreatment, self.fast_model):
            widget.observe(self._update_controls, names="value")
        self.image_url.observe(self._image_url_changed, names="value")
        self.quality.observe(self._update_controls, names="value")
        self.duration.observe(self._update_controls, names="value")
        self.upload.observe(self._uploaded, names="value")
        self.clear_image.on_click(self._remove_image)
        self.submit_button.on_click(self._submit)

        children = [
            W.HTML("<b>Hailuo 2.3 video</b>", layout=block, style=text),
            self.prompt,
            W.HBox([self.counter, self.lint_output],
                   layout=W.Layout(width="100%", align_items="flex-start")),
            self.toolbar,
            W.HBox([self.quality, self.duration], layout=row),
            self.duration_note,
            self.image_url,
            W.HBox([self.upload, self.clear_image, self.thumbnail, self.image_note],
                   layout=row),
            W.HBox([self.prompt_optimizer, self.fast_pretreatment, self.fast_model,
                    self.model_note], layout=row),
            self.submit_row,
            self.task_box,
        ]
        layout = kwargs.pop("layout", None) or W.Layout(width="100%", max_width="780px")
        super().__init__(children=children, layout=layout, **kwargs)
        self.add_class("hailuo-form")
        self._update_controls()
        for task in earlier:
            self._add(task, "sent earlier from this cell")

    # -- events (main thread: they come from the frontend) ------------------------------------

    def _touch(self, field: str):
        def touched(_change: Any = None) -> None:
            self._touched.add(field)
            self._update_controls()
        return touched

    def _insert_camera(self, command: str):
        def insert(_button: W.Button) -> None:
            self.prompt.value = add_camera_command(self.prompt.value, command,
                                                   combine=self.combine.value)
        return insert

    def _image_url_changed(self, _change: dict) -> None:
        self._url_note = None  # checked again, once, for the new text
        self._touched.add("image")
        self._update_controls()

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if self._stubbing or not files:
            return
        try:
            item = files[0]
            data = bytes(item["content"])
            name = str(item.get("name") or "upload")
        except Exception as exc:  # a frontend that sends something odd
            item = None
            self._set_image(None, "", f"Could not read the upload: {exc}")
        else:
            self._touched.add("image")
            self._check_upload(data, name)
        self._stub_upload(item if self._image_bytes is not None else None)

    def _stub_upload(self, item: Any) -> None:
        """Keep the bytes in Python only (the FileUpload's synced value would carry them
        into the saved notebook), but the held file's name and size, so the button's
        count says 1 while a file is held and 0 once it is removed."""
        stub = () if item is None else ({
            "name": str(item.get("name") or "upload"), "type": str(item.get("type") or ""),
            "size": len(self._image_bytes or b""), "content": memoryview(b""),
            "last_modified": item.get("last_modified") or datetime.now(timezone.utc)},)
        self._stubbing = True
        try:
            self.upload.value = stub
        finally:
            self._stubbing = False

    def _check_upload(self, data: bytes, name: str) -> None:
        try:
            info = GenerationRequest(image=data).image_info  # the checks Generate would run
        except ValidationError as exc:
            self._set_image(None, name, f"{name}: {exc}")
        else:
            self._set_image(data, name, "", info)

    def _set_image(self, data: bytes | None, name: str, error: str, info: Any = None) -> None:
        self._image_bytes = data
        self._image_name = name
        self._image_error = error
        self._image_info = info
        preview = _preview_bytes(data, info)
        with self.thumbnail.hold_sync():
            if preview is not None:
                self.thumbnail.format, self.thumbnail.value = preview
            else:
                self.thumbnail.value = b""
        self.thumbnail.layout.display = None if preview is not None else "none"
        self.clear_image.layout.display = None if (data is not None or error) else "none"
        self._update_controls()

    def _remove_image(self, _button: W.Button | None = None) -> None:
        self._set_image(None, "", "")
        self._stub_upload(None)

    # -- validation -----------------------------------------------------------------------------

    def _image(self) -> Any:
        if self._image_bytes is not None:
            return self._image_bytes
        return self.image_url.value.strip() or None

    def build_request(self) -> GenerationRequest:
        """The request the form describes now (raises ValidationError)."""
        if self._image_bytes is not None and self.image_url.value.strip():
            raise ValidationError(
                "Use either an uploaded image or an image URL/path, not both — "
                "clear the URL field or remove the upload.", field="image")
        if self._image_error and self._image_bytes is None and not self.image_url.value.strip():
            raise ValidationError(self._image_error, field="image")
        return GenerationRequest(
            prompt=self.prompt.value,
            image=self._image(),
            quality=self.quality.value,
            duration=self.duration.value,
            prompt_optimizer=self.prompt_optimizer.value,
            fast_pretreatment=self.fast_pretreatment.value,
            model=self._model(),
        )

    def _model(self) -> str:
        return FAST_MODEL if self.fast_model.value else DEFAULT_MODEL

    def _grey_sizes(self) -> None:
        """Grey what the chosen quality/duration rule out, and say why under them."""
        rules = MODELS[self._model()]
        grey_q, grey_d, note = size_greys(rules, self.quality.value, self.duration.value,
                                          DURATIONS)
        self.quality.grey(grey_q)
        self.duration.grey(grey_d)
        self.duration_note.value = _small(_esc(note or rules.combinations_text()))

    def _offer_fast_model(self) -> None:
        """The Fast model makes image-to-video only: greyed, with the reason, until an image
        is given (and unticked again if the image goes)."""
        fast = MODELS[FAST_MODEL]
        why = model_grey(fast, self._image() is not None)
        with self.fast_model.hold_sync():
            if why and self.fast_model.value:
                self.fast_model.value = False
            self.fast_model.disabled = bool(why)
            self.fast_model.tooltip = why or f"{fast.name}: {fast.summary}"
        self.model_note.value = _small(_esc(why or fast.summary))

    def _offer_image_inputs(self) -> None:
        """One image at most: while one way holds an image, the other is greyed (both
        filled can still happen, e.g. a URL typed as a file was picked; then it is an error)."""
        url = self.image_url.value.strip()
        held = self._image_bytes is not None
        with self.image_url.hold_sync():
            self.image_url.disabled = held and not url
            self.image_url.placeholder = URL_BLOCKED if held and not url else URL_PLACEHOLDER
            self.image_url.tooltip = URL_BLOCKED if held and not url else ""
        with self.upload.hold_sync():
            self.upload.disabled = bool(url) and not held
            if self._image_bytes is not None:
                size = len(self._image_bytes)
                self.upload.description = upload_label(self._image_name, size)
                self.upload.icon = "check"
                self.upload.tooltip = (f"{self._image_name} ({size_text(size)}) — click to "
                                       "choose another image")
            else:
                self.upload.description = "Upload image"
                self.upload.icon = "upload"
                self.upload.tooltip = (UPLOAD_BLOCKED if url else
                                       "JPEG, PNG or WebP, up to 20 MB (image-to-video)")

    def _image_note_html(self) -> str:
        """What the form knows about the image: the checks run as soon as it is given."""
        if self._image_bytes is not None and self.image_url.value.strip():
            return _small("✖ Use either the upload or the URL/path, not both.", RED)
        if self._image_bytes is not None:
            info = self._image_info.describe() if self._image_info is not None else ""
            return _small(f"✔ {_esc(self._image_name)}: {_esc(info)}")
        text = self.image_url.value.strip()
        if not text:
            return _small(f"✖ {_esc(self._image_error)}", RED) if self._image_error else ""
        if self._url_note is None or self._url_note[0] != text:
            self._url_note = (text, self._check_url_or_path(text))
        return self._url_note[1]

    @staticmethod
    def _check_url_or_path(text: str) -> str:
        try:
            req = GenerationRequest(image=text)  # no network: URLs are checked by shape
        except ValidationError as exc:
            return _small(f"✖ {_esc(exc)}", RED)
        if req.image_kind == "url":
            return _small(f"✔ image URL <code>{_esc(clip(text, 70))}</code> "
                          "(the provider fetches it)")
        info = req.image_info.describe() if req.image_info else ""
        return _small(f"✔ local file <code>{_esc(clip(text, 50))}</code>: "
                      f"{_esc(info)} (uploaded when you submit)")

    def _update_controls(self, _change: Any = None) -> None:
        try:
            self._validate()
        except Exception as exc:  # never leave the form half-updated without a word
            self.request = None
            self.error = f"{type(exc).__name__}: {exc}"
            self._error_field = None
            self.reason.value = _small(_esc(f"Internal error: {self.error}"), RED)

    def _validate(self) -> None:
        text = self.prompt.value
        n = len(text)
        over = n > MAX_PROMPT_CHARS
        self.counter.value = (f'<small style="color:{RED if over else GREY};white-space:nowrap;'
                              f'{"font-weight:bold;" if over else ""}">'
                              f"{n}/{MAX_PROMPT_CHARS}</small>")
        lint = lint_prompt(text)
        notes = [f'<span style="color:{RED}">✖ {_esc(i.message)}</span>' for i in lint.errors]
        notes += [f'<span style="color:{AMBER}">⚠ {_esc(i.message)}</span>'
                  for i in lint.warnings]
        self.lint_output.value = (
            '<small style="white-space:normal;line-height:1.4">' + "<br>".join(notes)
            + "</small>" if notes else "")
        self._offer_fast_model()
        self._grey_sizes()
        self._offer_image_inputs()
        self.image_note.value = self._image_note_html()
        try:
            self.request = self.build_request()
        except ValidationError as exc:
            self.request = None
            self._error_field = exc.field
            self.error = (EMPTY_PROMPT if exc.field == "prompt" and not text.strip()
                          else str(exc))
            shown = "all" in self._touched or exc.field in self._touched
            self.submit_button.tooltip = self.error if shown else HINT
            self.reason.value = (_small(f"✖ {_esc(self.error)}", RED) if shown
                                 else _small(_esc(HINT)))
        else:
            self.error = ""
            self._error_field = None
            self.submit_button.tooltip = "Send this request (returns at once)"
            req = self.request
            self.reason.value = _small(
                f"ready: {_esc(req.mode)} · {_esc(req.quality)} · {_esc(req.duration)} s · "
                f"{_esc(MODELS[req.model].short)} model")

    # -- submit ----------------------------------------------------------------------------------

    def _submit(self, _button: W.Button | None = None):
        """Queue the request and add its view; returns at once (no network here).

        Invalid input: the one-line reason shows beside the button, nothing is sent and
        nothing is cleared (a prompt problem puts the cursor back in the prompt)."""
        self._touched.add("all")
        self._update_controls()
        if self.request is None:
            if self._error_field == "prompt":
                self.prompt.focus()
            return None
        try:
            key = f"{self._origin}{secrets.token_hex(8)}" if self._origin else ""
            task = queue_generation(self.request, client=self._client, take_key=key)
        except HailuoError as exc:  # e.g. no API key: say so where the user looks
            self.reason.value = _small(f"✖ {_esc(exc)}", RED)
            return None
        self._add(task, "")
        self.reason.value = _small(f"queued {_esc(task.mode)} — its progress is right below; "
                                   "you can generate another one now")
        return task

    def _add(self, task: Any, note: str) -> None:
        """Show ``task`` in the form (newest on top) and in the log below it."""
        req = task.request
        self.tasks.append(task)
        view = TaskView(task)
        self.views.append(view)
        self.task_box.children = (view, *self.task_box.children)
        made = datetime.fromtimestamp(task.created, timezone.utc) if task.created else (
            datetime.now(timezone.utc))
        size = f"{req.quality}, {req.duration} s" if req is not None else ""
        prompt = clip((req.prompt if req is not None else "") or "(no prompt)", 90)
        self.sent.append(f"{made:%Y-%m-%d %H:%M UTC} · {task.mode} · {size} · {prompt}"
                         + (f" ({note})" if note else ""))
        if self._log is not None:
            self._log.follow([task])
            self._log.refresh()

    def submit(self):
        """Same as clicking Generate; returns the new Task (or None if the input is invalid)."""
        return self._submit()

    def _ipython_display_(self) -> None:
        """The form, and under it an output of plain HTML and text that outlives the
        kernel: what the form sent, and each of its tasks as its record (also the form's
        stand-in where a page saves the form it cannot draw again)."""
        if stand_in.wanted():
            data, metadata = stand_in.widget_only(self._repr_mimebundle_(),
                                                  "Hailuo generation form")
            display(data, metadata=metadata, raw=True)
        else:
            display(self._repr_mimebundle_(), raw=True)
        self._log = stand_in.StandIn(self.log_bundle, while_away=False, away_note=(
            "The generation form above needs a running kernel: run this cell again to use it "
            "(it shows what it sent from here; nothing is sent again).")).show()
        self._log.follow(self.tasks)

    def log_bundle(self) -> dict:
        """What the form sent (a line each) and its tasks as records, newest first."""
        if not self.tasks:
            line = ("Hailuo generation form: nothing sent yet (each request it sends is "
                    "listed here, and its video's record).")
            return {"text/plain": line, "text/html": f"<p style=\"font-size:12px;color:{GREY}\">"
                    f"{_esc(line)}</p>"}
        title = f"Sent from the generation form ({len(self.tasks)})"
        grid = grid_bundle(list(reversed(self.tasks)), title)
        lines = "".join(f"<li>{_esc(line)}</li>" for line in reversed(self.sent))
        return {"text/plain": "\n".join([*reversed(self.sent), "", grid["text/plain"]]),
                "text/html": f'<ul style="font-size:12px;margin:2px 0">{lines}</ul>'
                             + grid["text/html"]}

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        data = super()._repr_mimebundle_(**kwargs) or {}
        lines = ["Hailuo generation form — needs a Jupyter frontend with ipywidgets."]
        html_rows = ["<p><b>Hailuo generation form</b>: it needs a live Jupyter kernel with "
                     "ipywidgets; in a terminal use <code>hailuo_nb.generate(...)</code>.</p>"]
        for task in self.tasks:
            lines.append(record_text(task))
            html_rows.append(record_html(task))
        data["text/plain"] = "\n\n".join(lines)
        data["text/html"] = "\n".join(html_rows)
        return data
