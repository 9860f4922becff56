"""The emulator's private image reader (hailuo_nb/emulator/_imageprobe.py)."""

from __future__ import annotations

import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from imagefactory import gif, jpeg, png, webp, webp_vp8

from hailuo_nb.emulator import _imageprobe as probe

KNOWN = [
    ("png", png(640, 360), "png", 640, 360),
    ("jpeg baseline", jpeg(1280, 720), "jpeg", 1280, 720),
    ("jpeg progressive", jpeg(720, 1280, sof=0xC2), "jpeg", 720, 1280),
    ("jpeg without junk", jpeg(333, 444, app_junk=False), "jpeg", 333, 444),
    ("webp lossless", webp(500, 400), "webp", 500, 400),
    ("webp extended", webp(20000, 9000, extended=True), "webp", 20000, 9000),
    ("webp lossy", webp_vp8(1920, 1080), "webp", 1920, 1080),
    ("gif", gif(320, 240), "gif", 320, 240),
]


@pytest.mark.parametrize(("data", "fmt", "width", "height"), [k[1:] for k in KNOWN],
                         ids=[k[0] for k in KNOWN])
def test_format_and_dimensions_from_the_header(data, fmt, width, height):
    found = probe.probe(data)
    assert found is not None
    assert (found.format, found.width, found.height) == (fmt, width, height)
    assert found.mime == f"image/{fmt}"
    assert found.ext == {"jpeg": "jpg"}.get(fmt, fmt)


def test_a_jpeg_segment_that_looks_like_a_frame_header_is_skipped():
    # imagefactory's APP15 segment is full of FF C0 bytes before the real SOF0.
    assert probe.probe(jpeg(640, 480)).width == 640


@pytest.mark.parametrize("data", [b"", b"hello", b"\x00" * 64, b"<svg></svg>", b"BM" + b"\0" * 60,
                                  b"RIFF\x00\x00\x00\x00WAVEfmt "])
def test_other_content_is_not_an_image(data):
    assert probe.probe(data) is None


@pytest.mark.parametrize("cut", [8, 12, 20, 23])
def test_a_truncated_png_is_known_by_signature_without_dimensions(cut):
    found = probe.probe(png(640, 360)[:cut])
    assert found is not None and found.format == "png"
    assert found.width is None and found.height is None


def test_a_jpeg_without_a_frame_header_has_no_dimensions():
    data = b"\xff\xd8" + b"\xff\xe0" + struct.pack(">H", 4) + b"ab" + b"\xff\xd9"
    found = probe.probe(data)
    assert found.format == "jpeg" and found.width is None


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (png(640, 360), None),
        (webp(301, 700), None),
        (png(300, 600), "short edge"),
        (png(1100, 400), "aspect ratio"),
        (gif(640, 360), "format"),
        (b"plain text", "format"),
        (png(640, 360)[:20], "dimensions"),
        (png(640, 360, size=probe.MAX_IMAGE_BYTES + 1), "20 MB"),
    ],
    ids=["png-ok", "webp-ok", "short-edge", "aspect", "gif", "text", "cut", "over-20MB"],
)
@pytest.mark.slow
def test_frame_problems_are_named(data, problem):
    said = probe.problem_with_frame(data)
    if problem is None:
        assert said is None
    else:
        assert said is not None and problem in said


@settings(max_examples=400, deadline=None)
@given(st.binary(max_size=200))
def test_probe_never_raises_on_any_bytes(data):
    found = probe.probe(data)
    assert found is None or found.format in probe.MIMES
    probe.problem_with_frame(data)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from([png(640, 360), jpeg(640, 360), webp(640, 360), webp_vp8(640, 360),
                        gif(640, 360)]), st.integers(min_value=0, max_value=400))
def test_probe_never_raises_on_truncated_images(data, cut):
    probe.probe(data[:cut])
    probe.problem_with_frame(data[:cut])
