"""Write image bytes of any width x height with zlib and struct only (no Pillow).

- ``png``: a complete, decodable greyscale PNG.
- ``jpeg``: a complete, decodable mid-grey baseline JPEG (one component, tiny Huffman
  tables: every 8x8 block is "DC difference 0, end of block"). ``sof`` picks another
  start-of-frame marker (e.g. 0xC2 progressive) — then only the header is meaningful.
- ``webp``: lossless VP8L (decodable, one solid colour) up to 16384 px a side; with
  ``extended=True`` a VP8X header in front (any canvas up to 2**24; past 16384 px only
  the header is meaningful). ``webp_vp8`` writes a lossy VP8 key-frame *header* only.
- ``gif``: a complete, decodable one-colour GIF.

``size=`` pads the file to exactly that many bytes with ancillary data each format
ignores (a private PNG chunk, JPEG COM segments, a RIFF ``JUNK``-style chunk, a GIF
comment extension), for boundary tests around the 20 MB limit.
"""

from __future__ import annotations

import struct
import zlib

__all__ = ["gif", "jpeg", "png", "webp", "webp_vp8", "write"]


def write(path, data: bytes):
    """Write ``data`` to ``path`` and return the path (for one-line fixtures)."""
    with open(path, "wb") as fh:
        fh.write(data)
    return path


# ---------------------------------------------------------------------------- PNG


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def png(width: int, height: int, *, size: int | None = None, grey: int = 128) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + bytes([grey]) * width  # filter type 0 + pixels
    compressor = zlib.compressobj(6)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    idat = b"".join(parts)
    head = b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", ihdr) + _png_chunk(b"IDAT", idat)
    tail = _png_chunk(b"IEND", b"")
    if size is not None:
        room = size - len(head) - len(tail) - 12
        if room < 0:
            raise ValueError(f"a {width}x{height} PNG needs at least {size - room} bytes")
        head += _png_chunk(b"pdNg", b"\x00" * room)  # private, ancillary, safe to copy
    return head + tail


# ---------------------------------------------------------------------------- JPEG


def _segment(marker: int, payload: bytes) -> bytes:
    return struct.pack(">BBH", 0xFF, marker, len(payload) + 2) + payload


def jpeg(
    width: int, height: int, *, size: int | None = None, sof: int = 0xC0, app_junk: bool = True
) -> bytes:
    soi = b"\xff\xd8"
    app0 = _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00")
    # An APP15 segment whose payload looks like SOF markers, so the probe must skip it.
    app1 = _segment(0xEF, b"junk\x00" + b"\xff\xc0" * 8) if app_junk else b""
    dqt = _segment(0xDB, b"\x00" + b"\x01" * 64)
    sof_seg = _segment(sof, struct.pack(">BHHB", 8, height, width, 1) + b"\x01\x11\x00")
    # One code of length 1 ("0") per table: DC category 0, AC end-of-block.
    dht = _segment(0xC4, b"\x00" + b"\x01" + b"\x00" * 15 + b"\x00") + _segment(
        0xC4, b"\x10" + b"\x01" + b"\x00" * 15 + b"\x00"
    )
    sos = _segment(0xDA, b"\x01\x01\x00\x00\x3f\x00")
    blocks = ((width + 7) // 8) * ((height + 7) // 8)
    bits = 2 * blocks  # "0" (DC diff 0) + "0" (EOB) per block
    scan = b"\x00" * (bits // 8)
    if bits % 8:
        scan += bytes([0xFF >> (bits % 8)])  # remaining bits zero, padding bits one
        if scan[-1] == 0xFF:  # cannot happen (bits % 8 >= 2), but keep byte stuffing right
            scan += b"\x00"
    eoi = b"\xff\xd9"
    head = soi + app0 + app1 + dqt + sof_seg + dht
    tail = sos + scan + eoi
    if size is not None:
        room = size - len(head) - len(tail)
        if room < 0:
            raise ValueError(f"a {width}x{height} JPEG needs at least {size - room} bytes")
        if 0 < room < 4:
            raise ValueError("cannot pad a JPEG by fewer than 4 bytes")
        pads = []
        while room > 0:
            seg = min(room, 65537)  # a COM segment: 4 bytes of marker+length, then text
            if 0 < room - seg < 4:
                seg -= 4
            pads.append(_segment(0xFE, b" " * (seg - 4)))
            room -= seg
        head += b"".join(pads)
    return head + tail


# ---------------------------------------------------------------------------- WebP


class _BitWriter:
    """LSB-first bit packing, as VP8L and GIF's LZW want it."""

    def __init__(self):
        self.out = bytearray()
        self.acc = 0
        self.nacc = 0
        self.count = 0

    def put(self, value: int, nbits: int):
        self.acc |= (value & ((1 << nbits) - 1)) << self.nacc
        self.nacc += nbits
        self.count += nbits
        while self.nacc >= 8:
            self.out.append(self.acc & 0xFF)
            self.acc >>= 8
            self.nacc -= 8

    def bytes(self) -> bytes:
        tail = bytes([self.acc & 0xFF]) if self.nacc else b""
        return bytes(self.out) + tail


def _riff_chunk(kind: bytes, payload: bytes) -> bytes:
    pad = b"\x00" if len(payload) % 2 else b""
    return kind + struct.pack("<I", len(payload)) + payload + pad


def _riff(chunks: bytes) -> bytes:
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WEBP" + chunks


def _vp8l(width: int, height: int, argb=(255, 128, 128, 128)) -> bytes:
    bits = _BitWriter()
    bits.put(0x2F, 8)
    bits.put(width - 1, 14)
    bits.put(height - 1, 14)
    bits.put(0, 1)  # alpha not used
    bits.put(0, 3)  # version 0
    bits.put(0, 1)  # no transform
    bits.put(0, 1)  # no colour cache
    bits.put(0, 1)  # no meta prefix codes
    alpha, red, green, blue = argb
    for symbol in (green, red, blue, alpha, 0):  # green, red, blue, alpha, distance
        bits.put(1, 1)  # simple code
        bits.put(0, 1)  # one symbol
        bits.put(1, 1)  # 8-bit symbol
        bits.put(symbol, 8)
    return bits.bytes()  # single-symbol codes take zero bits per pixel


def webp(width: int, height: int, *, extended: bool = False, size: int | None = None) -> bytes:
    chunks = b""
    if extended:
        vp8x = b"\x00\x00\x00\x00" + (width - 1).to_bytes(3, "little")
        vp8x += (height - 1).to_bytes(3, "little")
        chunks += _riff_chunk(b"VP8X", vp8x)
    w, h = min(width, 16384), min(height, 16384)
    chunks += _riff_chunk(b"VP8L", _vp8l(w, h))
    return _riff(_pad_riff(chunks, size))


def webp_vp8(width: int, height: int, *, size: int | None = None) -> bytes:
    """A lossy VP8 key-frame header (not decodable: no partition data)."""
    frame_tag = b"\x10\x02\x00"  # key frame, version 0, show frame
    payload = frame_tag + b"\x9d\x01\x2a" + struct.pack("<HH", width, height) + b"\x00" * 10
    return _riff(_pad_riff(_riff_chunk(b"VP8 ", payload), size))


def _pad_riff(chunks: bytes, size: int | None) -> bytes:
    if size is None:
        return chunks
    room = size - 12 - len(chunks)
    if room < 8 or room % 2:
        raise ValueError(f"cannot pad this WebP to {size} bytes (needs an even extra >= 8)")
    return chunks + _riff_chunk(b"JUNK", b"\x00" * (room - 8))


# ---------------------------------------------------------------------------- GIF


def gif(width: int, height: int, *, size: int | None = None) -> bytes:
    head = b"GIF89a" + struct.pack("<HHBBB", width, height, 0x80, 0, 0)  # 2-colour table
    head += b"\x80\x80\x80\xff\xff\xff"
    image = b"\x2c" + struct.pack("<HHHHB", 0, 0, width, height, 0)
    # LZW, minimum code size 2: CLEAR(4), 0, 0 repeated keeps the code width at 3 bits.
    pixels = width * height
    codes: list[int] = []
    while pixels > 0:
        take = min(2, pixels)
        codes += [4] + [0] * take
        pixels -= take
    codes.append(5)  # end of information
    bits = _BitWriter()
    for code in codes:
        bits.put(code, 3)
    data = bits.bytes()
    blocks = b"".join(
        bytes([len(data[i : i + 255])]) + data[i : i + 255] for i in range(0, len(data), 255)
    )
    image += b"\x02" + blocks + b"\x00"
    tail = b"\x3b"
    if size is not None:
        room = size - len(head) - len(image) - len(tail)
        if room < 4:
            raise ValueError(f"cannot pad this GIF to {size} bytes")
        body = room - 3  # 0x21 0xFE, sub-blocks, 0x00
        comment = b"\x21\xfe"
        while body > 0:
            n = min(255, body - 1)
            if body - (n + 1) == 1:
                n -= 1
            comment += bytes([n]) + b" " * n
            body -= n + 1
        head += comment + b"\x00"
    return head + image + tail
