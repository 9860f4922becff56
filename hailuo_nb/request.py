"""``GenerationRequest``: one video to make, validated against the contract, no network.

Constructing a request checks everything the API documents (FACTS.md) and raises
:class:`~hailuo_nb.errors.ValidationError` — one line, what is wrong and what to do —
before anything is sent:

- prompt: text, at most 2000 characters after camera commands are canonicalised,
  required for text-to-video; camera-command typos are errors with the closest match;
- quality ``768p`` | ``1080p``; duration 6 | 10 s; 1080p only with 6 s;
- model ``MiniMax-Hailuo-2.3``; the two model flags are real booleans;
- image: None (text-to-video), an http(s) URL, a local file path, or the bytes of a
  JPEG/PNG/WebP image ≤ 20 MB, aspect 2:5..5:2, short edge > 300 px.

``to_json`` builds exactly the documented body; a local image's bytes are uploaded by
the client first and its URL passed in.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ._pure.camera_lint import LintIssue
from ._pure.image_checks import ImageInfo, check_image_url, read_local_image
from ._pure.lineup import check_mode, check_size, resolve_model

# Helpers that lived here before request_fields.py; still importable from here.
from ._pure.request_fields import _DURATION_RE as _DURATION_RE
from ._pure.request_fields import _HOST_LIKE_RE as _HOST_LIKE_RE
from ._pure.request_fields import _QUALITY_RE as _QUALITY_RE
from ._pure.request_fields import (
    DEFAULT_MODEL,
    DURATIONS,
    MAX_PROMPT_CHARS,
    QUALITIES,
    SUPPORTED_COMBINATIONS,
    _check_bool,
    _check_duration,
    _check_image,
    _check_model,
    _check_prompt,
    _check_quality,
    _show,
)
from ._pure.request_fields import _local_image as _local_image
from .errors import ValidationError

__all__ = [
    "DEFAULT_MODEL",
    "DURATIONS",
    "MAX_PROMPT_CHARS",
    "QUALITIES",
    "SUPPORTED_COMBINATIONS",
    "GenerationRequest",
]


@dataclass(frozen=True, repr=False)
class GenerationRequest:
    """One Hailuo 2.3 generation, checked against the API contract on construction."""

    prompt: str = ""
    image: str | os.PathLike | bytes | None = None
    quality: str = "768p"
    duration: int = 6
    prompt_optimizer: bool = True
    fast_pretreatment: bool = False
    model: str = DEFAULT_MODEL

    # Derived on construction; not part of equality or the constructor.
    _image_kind: str | None = field(default=None, init=False, compare=False)
    _image_info: ImageInfo | None = field(default=None, init=False, compare=False)
    _image_path: str | None = field(default=None, init=False, compare=False)
    _prompt_warnings: tuple[LintIssue, ...] = field(default=(), init=False, compare=False)
    _camera_commands: tuple[str, ...] = field(default=(), init=False, compare=False)

    # ------------------------------------------------------------------ validation

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        set_(self, "model", _check_model(self.model))
        prompt, warnings, commands = _check_prompt(self.prompt)
        set_(self, "prompt", prompt)
        set_(self, "_prompt_warnings", warnings)
        set_(self, "_camera_commands", commands)
        quality = _check_quality(self.quality)
        duration = _check_duration(self.duration)
        check_size(resolve_model(self.model), quality, duration)
        set_(self, "quality", quality)
        set_(self, "duration", duration)
        set_(self, "prompt_optimizer", _check_bool("prompt_optimizer", self.prompt_optimizer))
        set_(self, "fast_pretreatment", _check_bool("fast_pretreatment", self.fast_pretreatment))

        image, kind, info, path = _check_image(self.image)
        set_(self, "image", image)
        set_(self, "_image_kind", kind)
        set_(self, "_image_info", info)
        set_(self, "_image_path", path)

        if kind is None and not prompt:
            raise ValidationError(
                "Text-to-video needs a prompt, and the prompt is empty — describe the video "
                "(the cell body, the form's prompt, or prompt=...), or add an image for "
                "image-to-video.",
                field="prompt",
            )
        check_mode(resolve_model(self.model), self.mode)

    # ------------------------------------------------------------------ views

    @property
    def mode(self) -> str:
        """``"text-to-video"`` or ``"image-to-video"`` (0 or 1 image)."""
        return "text-to-video" if self._image_kind is None else "image-to-video"

    @property
    def image_kind(self) -> str | None:
        """None, ``"url"``, ``"path"`` or ``"bytes"``."""
        return self._image_kind

    @property
    def image_url(self) -> str | None:
        """The image's URL when it was given as one, else None."""
        return self.image if self._image_kind == "url" else None  # type: ignore[return-value]

    @property
    def image_path(self) -> str | None:
        """The absolute path of a local image file, else None."""
        return self._image_path

    @property
    def image_info(self) -> ImageInfo | None:
        """Format, size and dimensions of a local or in-memory image; None for URLs."""
        return self._image_info

    @property
    def prompt_warnings(self) -> tuple[LintIssue, ...]:
        """Camera-command warnings about the (normalised) prompt; they do not block sending."""
        return self._prompt_warnings

    @property
    def camera_commands(self) -> tuple[str, ...]:
        """The camera commands of the prompt, in text order."""
        return self._camera_commands

    def image_bytes(self) -> bytes | None:
        """The image to upload: the file's bytes (read and checked now), or the bytes given.

        None for URL images and for text-to-video.
        """
        if self._image_kind == "bytes":
            return self.image  # type: ignore[return-value]
        if self._image_kind == "path":
            data, _ = read_local_image(self._image_path or self.image)  # type: ignore[arg-type]
            return data
        return None

    # ------------------------------------------------------------------ serialisation

    def to_json(self, image_url: str | None = None) -> dict[str, Any]:
        """Exactly the documented request body of ``POST /v1/videos/generations``.

        A local or in-memory image must be uploaded first; pass its URL as ``image_url``.
        """
        body: dict[str, Any] = {"model": self.model, "prompt": self.prompt}
        if self._image_kind is None:
            if image_url is not None:
                raise ValidationError(
                    "to_json() got an image_url but this is a text-to-video request — build "
                    "the request with image=… instead.",
                    field="image",
                )
        elif self._image_kind == "url" and image_url is None:
            body["image_urls"] = [self.image]
        else:
            if image_url is None:
                raise ValidationError(
                    f"The {self._image_kind} image must be uploaded before sending — pass the "
                    "uploaded file's URL as to_json(image_url=…) (Client.submit does this for "
                    "you).",
                    field="image",
                )
            body["image_urls"] = [check_image_url(image_url)]
        body["quality"] = self.quality
        body["duration"] = self.duration
        body["model_params"] = {
            "prompt_optimizer": self.prompt_optimizer,
            "fast_pretreatment": self.fast_pretreatment,
        }
        return body

    def to_record(self) -> dict[str, Any]:
        """A JSON-serialisable description for the history database (no image bytes)."""
        info = self._image_info
        if self._image_kind == "bytes":
            data: bytes = self.image  # type: ignore[assignment]
            image: str | None = f"<bytes sha256:{hashlib.sha256(data).hexdigest()} {len(data)} B>"
        elif self._image_kind == "path":
            image = self._image_path
        else:
            image = self.image  # type: ignore[assignment]
        return {
            "prompt": self.prompt,
            "quality": self.quality,
            "duration": self.duration,
            "model": self.model,
            "prompt_optimizer": self.prompt_optimizer,
            "fast_pretreatment": self.fast_pretreatment,
            "mode": self.mode,
            "image": image,
            "image_kind": self._image_kind,
            "image_info": (
                {
                    "format": info.format,
                    "width": info.width,
                    "height": info.height,
                    "size": info.size,
                }
                if info is not None
                else None
            ),
        }

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> GenerationRequest:
        """Rebuild a request from :meth:`to_record` output (validating it again).

        A request whose image was given as bytes cannot be rebuilt — the bytes are not
        stored — and raises ValidationError rather than silently dropping the image.
        A local image is read again, so a file moved or deleted since raises too.
        """
        if not isinstance(record, Mapping):
            raise ValidationError(
                f"A request record must be a dict, got {type(record).__name__} — pass the "
                "output of GenerationRequest.to_record().",
                field="record",
            )
        image = record.get("image")
        kind = record.get("image_kind")
        if kind == "bytes" or (isinstance(image, str) and image.startswith("<bytes sha256:")):
            raise ValidationError(
                "This request's image was given as bytes, and the bytes are not stored in "
                "the history — pass the image again as a file path, bytes or an http(s) URL.",
                field="image",
            )
        fields = {
            name: record[name]
            for name in (
                "prompt",
                "quality",
                "duration",
                "prompt_optimizer",
                "fast_pretreatment",
                "model",
            )
            if name in record and record[name] is not None
        }
        return cls(image=image, **fields)

    def replace(self, **changes: Any) -> GenerationRequest:
        """A new, validated request with some fields changed."""
        if "image" not in changes and self._image_kind == "path":
            # Keep pointing at the same file even if the working directory moved.
            changes["image"] = self._image_path
        return dataclasses.replace(self, **changes)

    # ------------------------------------------------------------------ display

    def _image_text(self) -> str:
        if self._image_kind == "bytes":
            info = self._image_info
            size = len(self.image)  # type: ignore[arg-type]
            if info is None:  # pragma: no cover - bytes are always probed
                return f"<{size} bytes>"
            return f"<{size} bytes {info.format} {info.width}x{info.height}>"
        return _show(self.image, 200)

    def __repr__(self) -> str:
        return (
            f"GenerationRequest(prompt={_show(self.prompt, 100)}, image={self._image_text()}, "
            f"quality={self.quality!r}, duration={self.duration!r}, "
            f"prompt_optimizer={self.prompt_optimizer!r}, "
            f"fast_pretreatment={self.fast_pretreatment!r}, model={self.model!r})"
        )


def dry_run_body(request: GenerationRequest) -> dict:
    """The exact body ``request`` would send; a local image's place says it is not uploaded."""
    if request.image_kind in ("path", "bytes"):
        name = os.path.basename(str(request.image_path or "image bytes"))
        placeholder = f"https://files.invalid/{name}?not-uploaded-in-a-dry-run"
        body = request.to_json(image_url=placeholder)
        body["image_urls"] = [f"<{name}: checked, uploaded when sent>"]
        return body
    return request.to_json()
