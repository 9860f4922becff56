"""Local image checks for image-to-video, without Pillow.

The format and the dimensions are read from the bytes themselves (a ``.png`` that
holds text is refused), and every limit of the provider is checked before any
network call (FACTS.md): JPEG/PNG/WebP only, at most 20 MB, aspect ratio between
2:5 and 5:2, short edge strictly greater than 300 px.

The upload of a local file to the files API lives in ``client.py`` (the only module
that speaks HTTP); this module only says whether the bytes are fit to be sent.
"""

from __future__ import annotations

import os
import re
import struct
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from ..errors import ValidationError

__all__ = [
    "ACCEPTED_FORMATS",
    "MAX_ASPECT",
    "MAX_IMAGE_BYTES",
    "MIME_TYPES",
    "MIN_ASPECT",
    "MIN_SHORT_EDGE",
    "ImageInfo",
    "check_image",
    "check_image_url",
    "guess_filename",
    "looks_like_url",
    "probe_image",
    "read_local_image",
]

MAX_IMAGE_BYTES = 20 * 1024 * 1024
# The short edge must be strictly greater than this many pixels.
MIN_SHORT_EDGE = 300
# Aspect ratio width:height, inclusive bounds, as exact integer pairs.
MIN_ASPECT = (2, 5)
MAX_ASPECT = (5, 2)
ACCEPTED_FORMATS = ("jpeg", "png", "webp")
MIME_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "gif": "image/gif",
}
_EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}
_FORMAT_NAMES = {"jpeg": "JPEG", "png": "PNG", "webp": "WebP", "gif": "GIF"}
_ACCEPTED_TEXT = "JPEG, PNG or WebP"


@dataclass(frozen=True)
class ImageInfo:
    """What the bytes of an image say about it."""

    format: str  # "jpeg" | "png" | "webp" | "gif"
    mime: str
    width: int
    height: int
    size: int  # bytes

    @property
    def short_edge(self) -> int:
        return min(self.width, self.height)

    @property
    def aspect_text(self) -> str:
        """``1000x300 (3.33:1)`` — dimensions and ratio as a person reads them."""
        return f"{self.width}x{self.height} ({_ratio_text(self.width, self.height)})"

    def describe(self) -> str:
        """``png 640x480, 1.2 MB`` — a short summary for reprs and logs."""
        return f"{self.format} {self.width}x{self.height}, {_size_text(self.size)}"


# ---------------------------------------------------------------------------- probing


def probe_image(data: bytes) -> ImageInfo | None:
    """Format and dimensions from the content, or None when it is no image we know.

    Never raises, whatever the input.
    """
    try:
        view = bytes(data) if not isinstance(data, bytes) else data
    except Exception:
        return None
    try:
        found = _probe(view)
    except Exception:  # pragma: no cover - defensive: a parser bug must not crash a cell
        return None
    if found is None:
        return None
    fmt, width, height = found
    if width <= 0 or height <= 0:
        return None
    return ImageInfo(format=fmt, mime=MIME_TYPES[fmt], width=width, height=height, size=len(view))


def _probe(data: bytes) -> tuple[str, int, int] | None:
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _probe_png(data)
    if data.startswith(b"\xff\xd8"):
        return _probe_jpeg(data)
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _probe_webp(data)
    if data[:6] in (b"GIF87a", b"GIF89a"):
        if len(data) < 10:
            return None
        width, height = struct.unpack_from("<HH", data, 6)
        return "gif", width, height
    return None


def _probe_png(data: bytes) -> tuple[str, int, int] | None:
    # Signature (8), then the first chunk must be IHDR: length (4), type (4), width, height.
    if len(data) < 24 or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack_from(">II", data, 16)
    if width > 0x7FFFFFFF or height > 0x7FFFFFFF:  # the PNG spec's own limit
        return None
    return "png", width, height


# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_JPEG_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
# Markers that stand alone (no length field): TEM, RST0..RST7, SOI.
_JPEG_STANDALONE = frozenset({0x01, *range(0xD0, 0xD8), 0xD8})


def _probe_jpeg(data: bytes) -> tuple[str, int, int] | None:
    i, n = 2, len(data)
    while i < n:
        if data[i] != 0xFF:
            return None  # a segment must start with a marker
        while i < n and data[i] == 0xFF:  # fill bytes
            i += 1
        if i >= n:
            return None
        marker = data[i]
        i += 1
        if marker in _JPEG_STANDALONE:
            continue
        if marker in (0xD9, 0xDA, 0x00):  # EOI or start of scan before any frame: no size
            return None
        if i + 2 > n:
            return None
        (length,) = struct.unpack_from(">H", data, i)
        if length < 2:
            return None
        if marker in _JPEG_SOF:
            if length < 7 or i + 7 > n:
                return None
            height, width = struct.unpack_from(">HH", data, i + 3)
            return "jpeg", width, height
        i += length
    return None


def _probe_webp(data: bytes) -> tuple[str, int, int] | None:
    chunk = data[12:16]
    body = 20  # after RIFF header (12) + chunk type (4) + chunk size (4)
    if chunk == b"VP8 ":
        # 3-byte frame tag, start code 9D 01 2A, then 14-bit width and height.
        if len(data) < body + 10 or data[body + 3 : body + 6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack_from("<HH", data, body + 6)
        return "webp", width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":
        if len(data) < body + 5 or data[body] != 0x2F:
            return None
        (bits,) = struct.unpack_from("<I", data, body + 1)
        return "webp", (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":
        if len(data) < body + 10:
            return None
        width = int.from_bytes(data[body + 4 : body + 7], "little") + 1
        height = int.from_bytes(data[body + 7 : body + 10], "little") + 1
        return "webp", width, height
    return None


# ---------------------------------------------------------------------------- checking


def check_image(data: bytes, source: str = "image") -> ImageInfo:
    """The image's facts, or ValidationError naming ``source`` and what to do."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ValidationError(
            f"{source}: expected the image's bytes, got {type(data).__name__} — "
            "pass bytes, a local file path or an http(s) URL.",
            field="image",
        )
    source = _one_line(source)
    size = len(data)
    if size == 0:
        raise ValidationError(
            f"{source} is empty (0 bytes) — pass a {_ACCEPTED_TEXT} image.", field="image"
        )
    if size > MAX_IMAGE_BYTES:
        raise ValidationError(_too_large_message(source, size), field="image")
    info = probe_image(bytes(data))
    if info is None:
        raise ValidationError(
            f"{source} is not a {_ACCEPTED_TEXT} image (its content is not a recognised "
            f"image format, whatever its name says) — convert it to {_ACCEPTED_TEXT}.",
            field="image",
        )
    if info.format not in ACCEPTED_FORMATS:
        name = _FORMAT_NAMES.get(info.format, info.format)
        raise ValidationError(
            f"{source} is a {name} image; image-to-video accepts {_ACCEPTED_TEXT} only — "
            f"convert it (for example save the first frame as PNG).",
            field="image",
        )
    w, h = info.width, info.height
    (lo_w, lo_h), (hi_w, hi_h) = MIN_ASPECT, MAX_ASPECT
    if w * lo_h < lo_w * h or w * hi_h > hi_w * h:
        raise ValidationError(
            f"{source} is {info.aspect_text}; the aspect ratio must be between 2:5 (1:2.5) "
            f"and 5:2 (2.5:1) — crop or pad it to fit.",
            field="image",
        )
    if info.short_edge <= MIN_SHORT_EDGE:
        raise ValidationError(
            f"{source} is {w}x{h}: its short edge is {info.short_edge} px and must be more "
            f"than {MIN_SHORT_EDGE} px — use a larger image (at least {MIN_SHORT_EDGE + 1} px "
            "on the short side).",
            field="image",
        )
    return info


def read_local_image(path: str | os.PathLike) -> tuple[bytes, ImageInfo]:
    """Read and check a local image; the size is checked from ``stat`` before reading."""
    try:
        shown = os.fspath(path)
    except TypeError:
        raise ValidationError(
            f"Image path must be a str or path-like object, got {type(path).__name__} — "
            "pass a file path, bytes or an http(s) URL.",
            field="image",
        ) from None
    if isinstance(shown, bytes):
        shown = os.fsdecode(shown)
    shown_line = _one_line(shown)
    if not shown.strip():
        raise ValidationError(
            "Image file not found: the path is empty — give the path of a JPEG, PNG or WebP file.",
            field="image",
        )
    try:
        resolved = Path(shown).expanduser()
        st = resolved.stat()
    except (OSError, ValueError):
        where = "" if os.path.isabs(shown) else f" (looked in {_cwd()})"
        raise ValidationError(
            f"Image file not found: {shown_line}{where} — check the path or give an absolute one.",
            field="image",
        ) from None
    if resolved.is_dir():
        raise ValidationError(
            f"Image file not found: {shown_line} is a directory — give the path of an image "
            "file inside it.",
            field="image",
        )
    if not resolved.is_file():
        raise ValidationError(
            f"Image file not found: {shown_line} is not a regular file — give the path of "
            "an image file.",
            field="image",
        )
    if st.st_size > MAX_IMAGE_BYTES:
        raise ValidationError(_too_large_message(shown_line, st.st_size), field="image")
    try:
        with open(resolved, "rb") as fh:
            # Read one byte past the limit so a file that grew after stat is still caught.
            data = fh.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        reason = _one_line(exc.strerror or type(exc).__name__)
        raise ValidationError(
            f"Image file not found: {shown_line} cannot be read ({reason}) — check its "
            "permissions.",
            field="image",
        ) from None
    info = check_image(data, source=shown_line)
    return data, info


_URL_SCHEME_RE = re.compile(r"^\s*([A-Za-z][A-Za-z0-9+.\-]*):")
_KNOWN_URL_SCHEMES = frozenset(
    {
        "http",
        "https",
        "ftp",
        "ftps",
        "sftp",
        "file",
        "data",
        "javascript",
        "vbscript",
        "blob",
        "about",
        "mailto",
        "s3",
        "gs",
        "ws",
        "wss",
    }
)


def looks_like_url(text: str) -> bool:
    """True when ``text`` reads as a URL of any scheme rather than a local path.

    ``C:\\x.png`` (a drive letter) and ``photo:1.png`` are paths; ``ftp://…``,
    ``data:image/png;base64,…`` and ``javascript:…`` are URLs.
    """
    if not isinstance(text, str):
        return False
    match = _URL_SCHEME_RE.match(text)
    if not match or len(match.group(1)) < 2:
        return False
    rest = text[match.end() :]
    return rest.startswith("//") or match.group(1).lower() in _KNOWN_URL_SCHEMES


def check_image_url(url: str) -> str:
    """The URL stripped, if it is an http(s) URL with a host; ValidationError otherwise."""
    if not isinstance(url, str):
        raise ValidationError(
            f"Image URL must be a string, got {type(url).__name__} — pass an http(s) URL.",
            field="image",
        )
    text = url.strip()
    shown = _clip(text)
    if not text:
        raise ValidationError(
            "Image URL is empty — pass an http(s) URL, a local file path or bytes.",
            field="image",
        )
    match = _URL_SCHEME_RE.match(text)
    scheme = match.group(1).lower() if match else ""
    if scheme == "data":
        raise ValidationError(
            "data: URLs are not documented by the provider — pass the local file or bytes "
            "instead, it is uploaded for you.",
            field="image",
        )
    if scheme not in ("http", "https"):
        what = f"scheme '{scheme}:'" if scheme else "no scheme"
        raise ValidationError(
            f"Image URL {shown} has {what}; only http:// and https:// URLs are accepted — "
            "pass an http(s) URL, or a local file path or bytes (uploaded for you).",
            field="image",
        )
    bad = next((i for i, ch in enumerate(text) if ch.isspace() or not ch.isprintable()), None)
    if bad is not None:
        raise ValidationError(
            f"Image URL {shown} contains whitespace or a control character at position "
            f"{bad} — percent-encode it (a space is %20) or remove it.",
            field="image",
        )
    try:
        parts = urllib.parse.urlsplit(text)
        host = parts.hostname
    except ValueError as exc:
        raise ValidationError(
            f"Image URL {shown} cannot be parsed ({_one_line(str(exc))}) — check it.",
            field="image",
        ) from None
    if not host:
        raise ValidationError(
            f"Image URL {shown} has no host — write it as https://host/path/image.png.",
            field="image",
        )
    return text


def guess_filename(info: ImageInfo | None, default_stem: str = "image") -> str:
    """A safe file name for an upload: ``image.png``, ``photo.jpg``."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", str(default_stem or "")).strip("._") or "image"
    stem = stem[:100]
    ext = _EXTENSIONS.get(info.format, "bin") if info is not None else "bin"
    return f"{stem}.{ext}"


# ---------------------------------------------------------------------------- text helpers


def _ratio_text(width: int, height: int) -> str:
    if width <= 0 or height <= 0:
        return "?"
    if width >= height:
        return f"{_num(width / height)}:1"
    return f"1:{_num(height / width)}"


def _num(value: float) -> str:
    text = f"{value:.2f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _size_text(size: int) -> str:
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.2f} MB"
    if size >= 1024:
        return f"{size / 1024:.1f} KB"
    return f"{size} B"


def _too_large_message(source: str, size: int) -> str:
    return (
        f"{source} is {size / (1024 * 1024):.2f} MB ({size:,} bytes); the limit is 20 MB "
        f"({MAX_IMAGE_BYTES:,} bytes) — compress it or reduce its dimensions."
    )


def _one_line(text: str) -> str:
    """Text safe to put in a one-line message: non-printable characters escaped."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


def _cwd() -> str:
    try:
        return _one_line(os.getcwd())
    except OSError:
        return "the current directory"


def _clip(text: str, limit: int = 80) -> str:
    text = _one_line(text)
    return text if len(text) <= limit else text[: limit - 1] + "…"
