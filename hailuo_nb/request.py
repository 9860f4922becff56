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
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .camera import LintIssue, lint_prompt
from .errors import ValidationError
from .images import (
    ImageInfo,
    check_image,
    check_image_url,
    looks_like_url,
    read_local_image,
)

__all__ = [
    "DEFAULT_MODEL",
    "DURATIONS",
    "MAX_PROMPT_CHARS",
    "QUALITIES",
    "SUPPORTED_COMBINATIONS",
    "GenerationRequest",
]

DEFAULT_MODEL = "MiniMax-Hailuo-2.3"
MAX_PROMPT_CHARS = 2000
QUALITIES = ("768p", "1080p")
DURATIONS = (6, 10)
# quality -> the durations it allows (FACTS.md: 768p: 6 or 10 s; 1080p: 6 s only).
SUPPORTED_COMBINATIONS: dict[str, tuple[int, ...]] = {"768p": (6, 10), "1080p": (6,)}
_COMBINATIONS_TEXT = "768p: 6 s or 10 s; 1080p: 6 s only"

_DURATION_RE = re.compile(r"^\s*(\d+(?:\.0*)?)\s*(?:s|sec|secs|second|seconds)?\s*$", re.I)
_QUALITY_RE = re.compile(r"^\s*(\d+)\s*p?\s*$", re.I)


def _show(value: Any, limit: int = 60) -> str:
    """A value for a one-line message: repr, non-printables escaped, clipped."""
    try:
        text = repr(value)
    except Exception:
        text = f"<{type(value).__name__}>"
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


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
        if duration not in SUPPORTED_COMBINATIONS[quality]:
            raise ValidationError(
                f"{quality} videos can only be 6 s long, not {duration} s — use duration 6 "
                f"with {quality}, or quality 768p for {duration} s ({_COMBINATIONS_TEXT}).",
                field="duration",
            )
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


# ---------------------------------------------------------------------------- field checks


def _check_model(model: Any) -> str:
    if isinstance(model, str) and model.strip().lower() == DEFAULT_MODEL.lower():
        return DEFAULT_MODEL
    raise ValidationError(
        f"Model {_show(model)} is not supported; the only model is {DEFAULT_MODEL} — leave "
        "model at its default.",
        field="model",
    )


def _check_prompt(prompt: Any) -> tuple[str, tuple[LintIssue, ...], tuple[str, ...]]:
    if prompt is None:
        prompt = ""
    if not isinstance(prompt, str):
        raise ValidationError(
            f"The prompt must be text (str), got {type(prompt).__name__} {_show(prompt, 40)} — "
            "pass the prompt as a string.",
            field="prompt",
        )
    text = prompt.strip()
    lint = lint_prompt(text)
    if lint.errors:
        raise ValidationError(lint.errors[0].message, field="prompt")
    normalized = lint.normalized
    if normalized != text:  # warnings with positions in the text that will be sent
        lint = lint_prompt(normalized)
    length = len(normalized)
    if length > MAX_PROMPT_CHARS:
        raise ValidationError(
            f"Prompt is {length} characters; the limit is {MAX_PROMPT_CHARS} — shorten it by "
            f"{length - MAX_PROMPT_CHARS}.",
            field="prompt",
        )
    return normalized, lint.warnings, lint.commands


def _check_quality(quality: Any) -> str:
    text: str | None = None
    if isinstance(quality, str):
        text = quality
    elif isinstance(quality, int) and not isinstance(quality, bool):
        text = str(quality)
    match = _QUALITY_RE.match(text) if text is not None else None
    if match:
        candidate = f"{int(match.group(1))}p"
        if candidate in QUALITIES:
            return candidate
    raise ValidationError(
        f"Quality {_show(quality)} is not available — choose 768p or 1080p ({_COMBINATIONS_TEXT}).",
        field="quality",
    )


def _check_duration(duration: Any) -> int:
    value: int | None = None
    if isinstance(duration, bool):
        value = None
    elif isinstance(duration, int):
        value = duration
    elif isinstance(duration, float):
        if math.isfinite(duration) and duration.is_integer():
            value = int(duration)
    elif isinstance(duration, str):
        match = _DURATION_RE.match(duration)
        if match:
            value = int(float(match.group(1)))
    if value in DURATIONS:
        return value  # type: ignore[return-value]
    raise ValidationError(
        f"Duration {_show(duration)} is not available — choose 6 or 10 (seconds) "
        f"({_COMBINATIONS_TEXT}).",
        field="duration",
    )


def _check_bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    raise ValidationError(
        f"{name} must be True or False, got {type(value).__name__} {_show(value, 40)} — pass "
        "a bool (no numbers or strings).",
        field=name,
    )


def _check_image(image: Any) -> tuple[Any, str | None, ImageInfo | None, str | None]:
    """(stored value, kind, info, absolute path) for an image argument."""
    if image is None:
        return None, None, None, None
    if isinstance(image, (list, tuple)):
        if len(image) > 1:
            raise ValidationError(
                f"Hailuo 2.3 takes one image at most, got {len(image)} — pass a single file "
                "path, bytes or URL (one image means image-to-video).",
                field="image",
            )
        if not image:
            return None, None, None, None
        image = image[0]
        if image is None:
            return None, None, None, None
    if isinstance(image, (bytes, bytearray, memoryview)):
        data = bytes(image)
        return data, "bytes", check_image(data, "image bytes"), None
    if isinstance(image, os.PathLike):
        try:
            image = os.fspath(image)
        except TypeError:
            image = None
        if isinstance(image, bytes):
            image = os.fsdecode(image)
        if not isinstance(image, str):
            raise ValidationError(
                "The image path object did not give a usable path — pass a str path instead.",
                field="image",
            )
        return _local_image(image)
    if isinstance(image, str):
        text = image.strip()
        if not text:
            raise ValidationError(
                "The image is an empty string — pass image=None for text-to-video, or a file "
                "path, bytes or an http(s) URL for image-to-video.",
                field="image",
            )
        if looks_like_url(text):
            # http(s) passes; javascript:, data:, file://, ftp:// … are refused with advice.
            return check_image_url(text), "url", None, None
        return _local_image(image)
    raise ValidationError(
        f"The image must be a file path, bytes or an http(s) URL, got {type(image).__name__} "
        "— pass one of those, or None for text-to-video.",
        field="image",
    )


_HOST_LIKE_RE = re.compile(r"^(?:www\.|[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}(?::\d+)?/)", re.I)


def _local_image(path: str) -> tuple[str, str, ImageInfo, str]:
    try:
        _, info = read_local_image(path)
    except ValidationError as exc:
        text = path.strip()
        if str(exc).startswith("Image file not found") and _HOST_LIKE_RE.match(text):
            raise ValidationError(
                f"Image file not found: {_show(text, 80)[1:-1]} — if it is a web address, write "
                f"it with https:// in front (https://{_show(text, 80)[1:-1]}).",
                field="image",
            ) from None
        raise
    try:
        absolute = str(Path(path).expanduser().resolve())
    except (OSError, RuntimeError, ValueError):  # pragma: no cover - just read it fine
        absolute = os.path.abspath(os.path.expanduser(path))
    return path, "path", info, absolute
