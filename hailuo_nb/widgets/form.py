"""``GenerationForm``: the whole request by clicking, validated as you type.

Every change rebuilds a ``GenerationRequest`` (pure, no network): its error is the
reason Submit is disabled. Submit hands the request to the poller thread
(``queue_generation``) and returns at once; the new task's ``TaskView`` goes on top
of the list under the form.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W
from ipywidgets.widgets.widget_bool import CheckboxStyle
from ipywidgets.widgets.widget_string import HTMLStyle

from .. import render
from ..api import queue_generation
from ..camera import CAMERA_GROUPS, add_camera_command, lint_prompt
from ..errors import HailuoError, ValidationError
from ..models import DEFAULT_MODEL, FAST_MODEL, MODELS
from ..request import (
    DURATIONS,
    MAX_PROMPT_CHARS,
    QUALITIES,
    SUPPORTED_COMBINATIONS,
    GenerationRequest,
)
from .task_view import THUMBNAIL_MAX_BYTES, TaskView

RED = "#cf222e"
AMBER = "#9a6700"
GREY = "#6e7781"
NOTE_1080P = "1080p is 6 s only — choose 768p for 10 s."
NOTE_10S = "10 s is 768p only — choose 6 s for 1080p."


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _small(text_html: str, colour: str = GREY) -> str:
    return f'<small style="color:{colour};white-space:normal;line-height:1.4">{text_html}</small>'


def durations_for(quality: str) -> tuple[int, ...]:
    return tuple(d for d in DURATIONS if d in SUPPORTED_COMBINATIONS.get(quality, ()))


def qualities_for(duration: int) -> tuple[str, ...]:
    return tuple(q for q in QUALITIES if duration in SUPPORTED_COMBINATIONS[q])


class GenerationForm(W.VBox):
    """``GenerationForm(client=None)``: prompt editor with camera commands, options,
    image, and a Submit button that is only enabled for a valid request.

    Widgets tests and users reach for: ``prompt``, ``counter``, ``lint_output``,
    ``camera_buttons`` (name → Button), ``combine``, ``quality``, ``duration``,
    ``duration_note``, ``image_url``, ``upload``, ``image_note``, ``thumbnail``,
    ``prompt_optimizer``, ``fast_pretreatment``, ``submit_button``, ``reason``;
    ``request`` (the request the form describes, or None), ``tasks``, ``views``.
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
        self._syncing = False
        self.tasks: list = []
        self.views: list[TaskView] = []
        self.request: GenerationRequest | None = None
        self.error: str = ""
        # Every widget model is saved with the notebook: share the unchanging styles
        # and layouts instead of one model each (the camera toolbar alone has 15 buttons).
        text = HTMLStyle()
        button_style = W.ButtonStyle()
        auto = W.Layout(width="auto")
        block = W.Layout(width="100%")
        row = W.Layout(width="100%", align_items="center")
        toggles = W.ToggleButtonsStyle(button_width="70px", description_width="60px")
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

        # -- options -------------------------------------------------------------------------
        self.quality = W.ToggleButtons(options=list(QUALITIES), value="768p",
                                       description="Quality", style=toggles,
                                       layout=W.Layout(width="auto", margin="0 24px 0 0"))
        self.duration = W.ToggleButtons(options=[(f"{d} s", d) for d in DURATIONS], value=6,
                                        description="Duration", style=toggles,
                                        layout=auto)
        self.duration_note = W.HTML(layout=block, style=text)
        self.prompt_optimizer = W.Checkbox(value=True, description="Prompt optimizer",
                                           indent=False, style=checks,
                                           layout=W.Layout(width="auto", margin="0 24px 0 0"))
        self.fast_pretreatment = W.Checkbox(value=False, description="Fast pretreatment",
                                            indent=False, style=checks,
                                            layout=W.Layout(width="auto", margin="0 24px 0 0"))
        fast = MODELS[FAST_MODEL]
        self.fast_model = W.Checkbox(value=False, description=f"{fast.short.title()} model",
                                     indent=False, layout=auto, style=checks, disabled=True)

        # -- image ---------------------------------------------------------------------------
        self.image_url = W.Text(
            placeholder="https://… or a local file path (optional: image-to-video)",
            description="Image", layout=block, continuous_update=False,
            style={"description_width": "60px"},
        )
        self.upload = W.FileUpload(accept="image/jpeg,image/png,image/webp", multiple=False,
                                   description="Upload image", layout=auto)
        self.clear_image = W.Button(description="Remove image", icon="times",
                                    layout=W.Layout(width="auto", display="none"))
        self.thumbnail = W.Image(layout=W.Layout(display="none", width="96px",
                                                 min_width="96px", height="auto"))
        self.image_note = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0"), style=text)

        # -- submit --------------------------------------------------------------------------
        self.submit_button = W.Button(description="Generate", button_style="primary",
                                      icon="play", disabled=True,
                                      layout=W.Layout(width="auto", min_width="120px"))
        self.reason = W.HTML(layout=W.Layout(flex="1 1 auto", min_width="0",
                                             margin="0 0 0 8px"), style=text)
        self.task_box = W.VBox(layout=block)

        for widget in (self.prompt, self.prompt_optimizer, self.fast_pretreatment,
                       self.fast_model):
            widget.observe(self._update_controls, names="value")
        self.image_url.observe(self._image_url_changed, names="value")
        self.quality.observe(self._combination_changed, names="value")
        self.duration.observe(self._combination_changed, names="value")
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
            W.HBox([self.prompt_optimizer, self.fast_pretreatment, self.fast_model], layout=row),
            W.HBox([self.submit_button, self.reason], layout=row),
            self.task_box,
        ]
        layout = kwargs.pop("layout", None) or W.Layout(width="100%", max_width="780px")
        super().__init__(children=children, layout=layout, **kwargs)
        self.add_class("hailuo-form")
        self._update_controls()

    # -- events (main thread: they come from the frontend) ------------------------------------

    def _insert_camera(self, command: str):
        def insert(_button: W.Button) -> None:
            self.prompt.value = add_camera_command(self.prompt.value, command,
                                                   combine=self.combine.value)
        return insert

    def _combination_changed(self, _change: dict) -> None:
        """Offer only what the contract allows: 1080p hides 10 s, 10 s hides 1080p."""
        if self._syncing:
            return
        self._syncing = True
        try:
            quality, duration = self.quality.value, self.duration.value
            _set_options(self.duration, [(f"{d} s", d) for d in durations_for(quality)],
                         duration)
            _set_options(self.quality, list(qualities_for(duration)), quality)
            notes = []
            if len(durations_for(quality)) < len(DURATIONS):
                notes.append(NOTE_1080P if quality == "1080p" else
                             f"{quality} is {'/'.join(map(str, durations_for(quality)))} s only.")
            if len(qualities_for(duration)) < len(QUALITIES):
                notes.append(NOTE_10S if duration == 10 else
                             f"{duration} s is {'/'.join(qualities_for(duration))} only.")
            self.duration_note.value = _small(_esc(" ".join(notes))) if notes else ""
        finally:
            self._syncing = False
        self._update_controls()

    def _image_url_changed(self, _change: dict) -> None:
        self._url_note = None  # checked again, once, for the new text
        self._update_controls()

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        try:
            item = files[0]
            data = bytes(item["content"])
            name = str(item.get("name") or "upload")
        except Exception as exc:  # a frontend that sends something odd
            self._set_image(None, "", f"Could not read the upload: {exc}")
        else:
            self._check_upload(data, name)
        # Keep the bytes in Python only: the FileUpload's synced value would carry them
        # into the saved notebook.
        self.upload.value = ()

    def _check_upload(self, data: bytes, name: str) -> None:
        try:
            info = GenerationRequest(image=data).image_info  # the checks Submit would run
        except ValidationError as exc:
            self._set_image(None, name, f"{name}: {exc}")
        else:
            self._set_image(data, name, "", info)

    def _set_image(self, data: bytes | None, name: str, error: str, info: Any = None) -> None:
        self._image_bytes = data
        self._image_name = name
        self._image_error = error
        self._image_info = info
        small = data is not None and len(data) <= THUMBNAIL_MAX_BYTES
        with self.thumbnail.hold_sync():
            if small:
                self.thumbnail.format = info.format if info is not None else "png"
                self.thumbnail.value = data
            else:
                self.thumbnail.value = b""
        self.thumbnail.layout.display = None if small else "none"
        self.clear_image.layout.display = None if (data is not None or error) else "none"
        self._update_controls()

    def _remove_image(self, _button: W.Button | None = None) -> None:
        self._set_image(None, "", "")

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
            model=FAST_MODEL if self.fast_model.value else DEFAULT_MODEL,
        )

    def _offer_fast_model(self) -> None:
        """The Fast model makes image-to-video only: greyed, with the reason, until an image
        is given (and unticked again if the image goes)."""
        has_image = self._image() is not None
        fast = MODELS[FAST_MODEL]
        with self.fast_model.hold_sync():
            if not has_image and self.fast_model.value:
                self.fast_model.value = False
            self.fast_model.disabled = not has_image
            self.fast_model.tooltip = (
                f"{fast.name}: {fast.summary}" if has_image
                else f"{fast.name} makes image-to-video only: add an image to use it")

    def _image_note_html(self) -> str:
        """What the form knows about the image: the checks run as soon as it is given."""
        if self._image_bytes is not None and self.image_url.value.strip():
            return _small("✖ Use either the upload or the URL/path, not both.", RED)
        if self._image_bytes is not None:
            info = self._image_info.describe() if self._image_info is not None else ""
            extra = ("" if len(self._image_bytes) <= THUMBNAIL_MAX_BYTES
                     else " (too big for a preview)")
            return _small(f"✔ {_esc(self._image_name)}: {_esc(info)}{_esc(extra)}")
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
            return _small(f"✔ image URL <code>{_esc(render.shorten(text, 70))}</code> "
                          "(the provider fetches it)")
        info = req.image_info.describe() if req.image_info else ""
        return _small(f"✔ local file <code>{_esc(render.shorten(text, 50))}</code>: "
                      f"{_esc(info)} (uploaded when you submit)")

    def _update_controls(self, _change: Any = None) -> None:
        try:
            self._validate()
        except Exception as exc:  # never leave the form half-updated without a word
            self.request = None
            self.error = f"{type(exc).__name__}: {exc}"
            self.submit_button.disabled = True
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
        self.image_note.value = self._image_note_html()
        self._offer_fast_model()
        try:
            self.request = self.build_request()
        except ValidationError as exc:
            self.request = None
            self.error = str(exc)
            with self.submit_button.hold_sync():
                self.submit_button.disabled = True
                self.submit_button.tooltip = self.error
            self.reason.value = _small(f"✖ {_esc(self.error)}", RED)
        else:
            self.error = ""
            with self.submit_button.hold_sync():
                self.submit_button.disabled = False
                self.submit_button.tooltip = "Send this request (returns at once)"
            req = self.request
            self.reason.value = _small(
                f"ready: {_esc(req.mode)} · {_esc(req.quality)} · {_esc(req.duration)} s · "
                f"{_esc(MODELS[req.model].short)} model")

    # -- submit ----------------------------------------------------------------------------------

    def _submit(self, _button: W.Button | None = None):
        """Queue the request and add its view; returns at once (no network here)."""
        self._update_controls()
        if self.request is None:
            return None
        try:
            task = queue_generation(self.request, client=self._client)
        except HailuoError as exc:  # e.g. no API key: say so where the user looks
            self.reason.value = _small(f"✖ {_esc(exc)}", RED)
            return None
        view = TaskView(task)
        self.tasks.append(task)
        self.views.append(view)
        self.task_box.children = (view, *self.task_box.children)
        self.reason.value = _small(f"queued {_esc(task.mode)} — see below; you can submit "
                                   "another one now")
        return task

    def submit(self):
        """Same as clicking Generate; returns the new Task (or None if the input is invalid)."""
        return self._submit()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        data = super()._repr_mimebundle_(**kwargs) or {}
        lines = ["Hailuo generation form — needs a Jupyter frontend with ipywidgets."]
        html_rows = ["<p><b>Hailuo generation form</b>: it needs a live Jupyter kernel with "
                     "ipywidgets; in a terminal use <code>hailuo_nb.generate(...)</code>.</p>"]
        for task in self.tasks:
            lines.append(render.task_text(task))
            html_rows.append(render.task_html(task))
        data["text/plain"] = "\n\n".join(lines)
        data["text/html"] = "\n".join(html_rows)
        return data


def _set_options(widget: W.ToggleButtons, options: list, keep: Any) -> None:
    """Change a selection's options, keeping its value (one message, no flicker)."""
    if list(widget.options) == list(options):
        return
    with widget.hold_sync():
        widget.options = options
        widget.value = keep
