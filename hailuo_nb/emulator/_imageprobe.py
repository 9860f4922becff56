"""The emulator's own image reader: format and dimensions from the first bytes.

Private to the emulator on purpose: the client has its own checks
(``hailuo_nb._pure.image_checks``); the stand-in service must not share code with the client it
tests, or a bug in one would hide in the other.

Reads PNG (IHDR), JPEG (the first SOFn marker), WebP (VP8, VP8L, VP8X) and GIF
(logical screen). Never raises on any input.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_IMAGE_BYTES = 20 * 1024 * 1024
MIN_SHORT_EDGE = 300  # the short edge must be strictly greater
MIN_ASPECT = 2 / 5
MAX_ASPECT = 5 / 2

MIMES = {"jpeg": "image/jpeg", "png": "image/png", "webp": "image/webp", "gif": "image/gif"}
EXTENSIONS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}
VIDEO_INPUT_FORMATS = ("jpeg", "png", "webp")  # GIF may be uploaded, not used as a frame

# Start-of-frame markers carry the dimensions; C4 (DHT), C8 (JPG) and CC (DAC) do not.
_SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}


@dataclass(frozen=True)
class Probe:
    format: str  # "jpeg" | "png" | "webp" | "gif"
    width: int | None  # None: recognised by its signature, dimensions unreadable
    height: int | None

    @property
    def mime(self) -> str:
        return MIMES[self.format]

    @property
    def ext(self) -> str:
        return EXTENSIONS[self.format]


def sniff_format(data: bytes) -> str | None:
    """The format named by the file's signature, or None."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "webp"
    if data[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    return None


def probe(data: bytes) -> Probe | None:
    """Format and dimensions, or None when the bytes are no image format we accept."""
    try:
        fmt = sniff_format(data)
        if fmt is None:
            return None
        size = {"png": _png, "jpeg": _jpeg, "webp": _webp, "gif": _gif}[fmt](data)
    except (struct.error, IndexError, ValueError):
        size = None
    width, height = size if size else (None, None)
    if not width or not height:
        width = height = None
    return Probe(fmt, width, height)


def problem_with_frame(data: bytes) -> str | None:
    """Why this image cannot start an image-to-video task, or None when it can."""
    if len(data) > MAX_IMAGE_BYTES:
        return (f"Image is {len(data)} bytes; the maximum is 20 MB ({MAX_IMAGE_BYTES} bytes)")
    found = probe(data)
    if found is None or found.format not in VIDEO_INPUT_FORMATS:
        what = "a GIF" if found is not None else "not a recognised image"
        return f"Unsupported image format ({what}): use JPG/JPEG, PNG or WebP"
    if found.width is None or found.height is None:
        return f"Could not read the dimensions of the {found.format.upper()} image"
    width, height = found.width, found.height
    if min(width, height) <= MIN_SHORT_EDGE:
        return (f"Image is {width}x{height}; its short edge must be greater than "
                f"{MIN_SHORT_EDGE} px")
    ratio = width / height
    if ratio < MIN_ASPECT or ratio > MAX_ASPECT:
        return f"Image aspect ratio {width}x{height} is outside 2:5 to 5:2"
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _jpeg(data: bytes) -> tuple[int, int] | None:
    pos, end = 2, len(data)
    while pos < end:
        if data[pos] != 0xFF:
            return None  # lost sync: not a marker where one must be
        while pos < end and data[pos] == 0xFF:  # fill bytes
            pos += 1
        if pos >= end:
            return None
        marker = data[pos]
        pos += 1
        if marker == 0xD8 or marker == 0x01 or 0xD0 <= marker <= 0xD7:
            continue  # no length field
        if marker in (0xD9, 0xDA):
            return None  # end of image / start of scan before any frame header
        (length,) = struct.unpack(">H", data[pos:pos + 2])
        if length < 2:
            return None
        if marker in _SOF_MARKERS:
            height, width = struct.unpack(">HH", data[pos + 3:pos + 7])
            return width, height
        pos += length
    return None


def _webp(data: bytes) -> tuple[int, int] | None:
    kind = data[12:16]
    body = data[20:]
    if kind == b"VP8 ":
        if body[3:6] != b"\x9d\x01\x2a":
            return None
        width, height = struct.unpack("<HH", body[6:10])
        return width & 0x3FFF, height & 0x3FFF
    if kind == b"VP8L":
        if body[0] != 0x2F:
            return None
        (bits,) = struct.unpack("<I", body[1:5])
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if kind == b"VP8X":
        width = int.from_bytes(body[4:7], "little") + 1
        height = int.from_bytes(body[7:10], "little") + 1
        return width, height
    return None


def _gif(data: bytes) -> tuple[int, int] | None:
    return struct.unpack("<HH", data[6:10])
