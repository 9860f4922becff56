"""``GenerationForm``: the whole request by clicking, validated as you type.

Every change rebuilds a ``GenerationRequest`` (pure, no network): its error is the
reason Submit is disabled. Submit hands the request to the poller thread
(``queue_generation``) and returns at once.
"""

from __future__ import annotations

import html
from typing import Any

import ipywidgets as W

from ..camera import CAMERA_GROUPS, lint_prompt
from ..errors import HailuoError, ValidationError
from ..images import check_image
from ..request import MAX_PROMPT_CHARS, SUPPORTED_COMBINATIONS, GenerationRequest
from .task_view import TaskView

_BRACKET_END = "]"


def add_camera_command(prompt: str, command: str, *, combine: bool) -> str:
    """Append ``[command]``; with ``combine``, join a bracket the prompt ends with."""
    text = prompt.rstrip()
    if combine and text.endswith(_BRACKET_END) and "[" in text:
        return f"{text[:-1]},{command}]"
    sep = " " if text else ""
    return f"{text}{sep}[{command}]"


class GenerationForm(W.VBox):
    """``GenerationForm()``: prompt editor with camera commands, options, image, Submit."""

    def __init__(self, client: Any = None, **kwargs: Any):
        self._client = client
        self._image_bytes: bytes | None = None
        self._image_name = ""
        self.tasks: list = []
        self.views: list[TaskView] = []
        self.request: GenerationRequest | None = None

        self.prompt = W.Textarea(
            placeholder="Describe the video… camera moves go in brackets, e.g. [Pan left]",
            layout=W.Layout(width="100%", height="90px"),
            continuous_update=True,
        )
        self.counter = W.HTML()
        self.lint_output = W.HTML(layout=W.Layout(width="100%"))
        self.combine = W.ToggleButton(
            description="combine", value=False, icon="link",
            tooltip="Add the next command into the last bracket: [Pan left,Pedestal up]",
            layout=W.Layout(width="auto"),
        )
        self.camera_buttons: dict[str, W.Button] = {}
        rows = []
        for family, commands in CAMERA_GROUPS.items():
            buttons = []
            for command in commands:
                button = W.Button(description=command, tooltip=f"insert [{command}]",
                                  layout=W.Layout(width="auto", height="28px"))
                button.on_click(self._insert_camera(command))
                self.camera_buttons[command] = button
                buttons.append(button)
            rows.append(W.HBox([W.HTML(f"<small>{html.escape(family)}</small>",
                                       layout=W.Layout(width="64px")), *buttons]))
        self.toolbar = W.VBox(
            [W.HBox([W.HTML("<b>Camera</b>"), self.combine],
                    layout=W.Layout(align_items="center")),
             W.Box(rows, layout=W.Layout(display="flex", flex_flow="row wrap",
                                         grid_gap="2px 12px"))],
        )
        self.quality = W.ToggleButtons(options=list(SUPPORTED_COMBINATIONS), value="768p",
                                       description="Quality",
                                       style={"button_width": "70px"})
        self.duration = W.ToggleButtons(options=[("6 s", 6), ("10 s", 10)], value=6,
                                        description="Duration",
                                        style={"button_width": "60px"})
        self.duration_note = W.HTML()
        self.image_url = W.Text(placeholder="https://… image for image-to-video (optional)",
                                description="Image URL", layout=W.Layout(width="100%"))
        self.upload = W.FileUpload(accept="image/jpeg,image/png,image/webp", multiple=False,
                                   description="Upload image")
        self.clear_image = W.Button(description="Remove image", icon="times",
                                    layout=W.Layout(width="auto", display="none"))
        self.thumbnail = W.Image(layout=W.Layout(display="none", width="96px"))
        self.image_note = W.HTML()
        self.prompt_optimizer = W.Checkbox(value=True, description="Prompt optimizer",
                                           indent=False)
        self.fast_pretreatment = W.Checkbox(value=False, description="Fast pretreatment",
                                            indent=False)
        self.submit_button = W.Button(description="Generate", button_style="primary",
                                      icon="play", disabled=True)
        self.reason = W.HTML()
        self.task_box = W.VBox()

        for widget in (self.prompt, self.image_url, self.prompt_optimizer,
                       self.fast_pretreatment, self.duration):
            widget.observe(self._refresh, names="value")
        self.quality.observe(self._quality_changed, names="value")
        self.upload.observe(self._uploaded, names="value")
        self.clear_image.on_click(self._remove_image)
        self.submit_button.on_click(self._submit)

        children = [
            W.HTML("<b>Hailuo 2.3 video</b>"),
            self.prompt,
            W.HBox([self.counter, self.lint_output], layout=W.Layout(width="100%")),
            self.toolbar,
            W.HBox([self.quality, self.duration], layout=W.Layout(flex_flow="row wrap")),
            self.duration_note,
            self.image_url,
            W.HBox([self.upload, self.clear_image, self.thumbnail, self.image_note],
                   layout=W.Layout(align_items="center")),
            W.HBox([self.prompt_optimizer, self.fast_pretreatment]),
            W.HBox([self.submit_button, self.reason], layout=W.Layout(align_items="center")),
            self.task_box,
        ]
        layout = kwargs.pop("layout", None) or W.Layout(width="100%", max_width="780px")
        super().__init__(children=children, layout=layout, **kwargs)
        self.add_class("hailuo-form")
        self._refresh()

    # -- events ---------------------------------------------------------------------------------

    def _insert_camera(self, command: str):
        def insert(_button: W.Button) -> None:
            self.prompt.value = add_camera_command(self.prompt.value, command,
                                                   combine=self.combine.value)
        return insert

    def _quality_changed(self, change: dict) -> None:
        allowed = SUPPORTED_COMBINATIONS[change["new"]]
        options = [(f"{d} s", d) for d in (6, 10) if d in allowed]
        if self.duration.value not in allowed:
            self.duration.value = allowed[0]
        self.duration.options = options
        self.duration_note.value = (
            "" if len(allowed) > 1 else
            '<small style="color:#6e7781">1080p is 6 s only; choose 768p for 10 s.</small>'
        )
        self._refresh()

    def _uploaded(self, change: dict) -> None:
        files = change["new"]
        if not files:
            return
        item = files[0]
        data = bytes(item["content"])
        self._image_name = str(item.get("name") or "upload")
        # Keep the bytes in Python only: the upload widget's state would carry them into
        # the saved notebook.
        self.upload.value = ()
        try:
            info = check_image(data, self._image_name)
        except ValidationError as exc:
            self._image_bytes = None
            self.image_note.value = f'<span style="color:#cf222e">{html.escape(str(exc))}</span>'
            self._show_thumbnail(None)
        else:
            self._image_bytes = data
            self.image_note.value = html.escape(f"{self._image_name}: {info.describe()}")
            self._show_thumbnail(data if info.size <= 300 * 1024 else None, info.format)
        self._refresh()

    def _show_thumbnail(self, data: bytes | None, fmt: str = "png") -> None:
        if data:
            self.thumbnail.format = fmt
            self.thumbnail.value = data
            self.thumbnail.layout.display = None
        else:
            self.thumbnail.value = b""
            self.thumbnail.layout.display = "none"
        self.clear_image.layout.display = None if self._image_bytes else "none"

    def _remove_image(self, _button: W.Button) -> None:
        self._image_bytes = None
        self.image_note.value = ""
        self._show_thumbnail(None)
        self._refresh()

    # -- validation -----------------------------------------------------------------------------

    def _image(self) -> Any:
        if self._image_bytes is not None:
            return self._image_bytes
        return self.image_url.value.strip() or None

    def build_request(self) -> GenerationRequest:
        """The request the form describes now (raises ValidationError)."""
        if self._image_bytes is not None and self.image_url.value.strip():
            raise ValidationError("Use either an uploaded image or an image URL, not both.")
        return GenerationRequest(
            prompt=self.prompt.value,
            image=self._image(),
            quality=self.quality.value,
            duration=self.duration.value,
            prompt_optimizer=self.prompt_optimizer.value,
            fast_pretreatment=self.fast_pretreatment.value,
        )

    def _refresh(self, _change: Any = None) -> None:
        text = self.prompt.value
        n = len(text)
        colour = "#cf222e" if n > MAX_PROMPT_CHARS else "#6e7781"
        self.counter.value = (f'<small style="color:{colour};white-space:nowrap">'
                              f"{n}/{MAX_PROMPT_CHARS}</small>")
        lint = lint_prompt(text)
        notes = [f'<span style="color:#cf222e">✖ {html.escape(i.message)}</span>'
                 for i in lint.errors]
        notes += [f'<span style="color:#9a6700">⚠ {html.escape(i.message)}</span>'
                  for i in lint.warnings]
        self.lint_output.value = "<small>" + "<br>".join(notes) + "</small>" if notes else ""
        try:
            self.request = self.build_request()
        except ValidationError as exc:
            self.request = None
            self.submit_button.disabled = True
            self.reason.value = f'<small style="color:#cf222e">{html.escape(str(exc))}</small>'
        else:
            self.submit_button.disabled = False
            self.reason.value = f"<small>{html.escape(self.request.mode)}</small>"

    def _submit(self, _button: W.Button | None = None):
        """Queue the request and add its view; returns at once (no network here)."""
        from ..api import queue_generation

        self._refresh()
        if self.request is None:
            return None
        try:
            task = queue_generation(self.request, client=self._client)
        except HailuoError as exc:  # e.g. no key: say so where the user looks
            self.reason.value = f'<small style="color:#cf222e">{html.escape(str(exc))}</small>'
            return None
        view = TaskView(task)
        self.tasks.append(task)
        self.views.append(view)
        self.task_box.children = (view, *self.task_box.children)
        return task

    def submit(self):
        """Same as clicking Generate; returns the new Task (or None if invalid)."""
        return self._submit()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict:
        data = super()._repr_mimebundle_(**kwargs) or {}
        data["text/plain"] = "GenerationForm (needs a Jupyter frontend with ipywidgets)"
        data["text/html"] = ("<p><b>Hailuo generation form</b>: this needs a live Jupyter "
                             "kernel with ipywidgets; use <code>%%hailuo</code> otherwise.</p>")
        return data
