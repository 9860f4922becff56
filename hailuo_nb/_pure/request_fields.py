"""Check and normalise each field of a generation request (FACTS.md), one at a time.

Each ``_check_*`` returns the value to store or raises a one-line ValidationError that
says what is wrong and what to do; :class:`~hailuo_nb.request.GenerationRequest` calls them.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any

from ..errors import ValidationError
from .camera_lint import LintIssue, lint_prompt
from .image_checks import (
    ImageInfo,
    check_image,
    check_image_url,
    looks_like_url,
    read_local_image,
)
from .lineup import DEFAULT_MODEL, MODELS, resolve_model

MAX_PROMPT_CHARS = 2000
QUALITIES = ("768p", "1080p")
DURATIONS = (6, 10)
# quality -> the durations it allows, as the standard model's rules say (models.py).
SUPPORTED_COMBINATIONS: dict[str, tuple[int, ...]] = MODELS[DEFAULT_MODEL].durations
_COMBINATIONS_TEXT = MODELS[DEFAULT_MODEL].combinations_text()

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


def _check_model(model: Any) -> str:
    """The API name of ``model`` (full or short name), or a ValidationError naming them all."""
    return resolve_model(model).name


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
