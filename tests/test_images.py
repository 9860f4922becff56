"""Image checks: format by content, size, aspect ratio, short edge, URLs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

sys.path.insert(0, str(Path(__file__).parent))

import imagefactory as factory

from hailuo_nb._pure import image_checks as images
from hailuo_nb._pure.image_checks import (
    MAX_IMAGE_BYTES,
    ImageInfo,
    check_image,
    check_image_url,
    guess_filename,
    looks_like_url,
    probe_image,
    read_local_image,
)
from hailuo_nb.errors import ValidationError

MB20 = 20 * 1024 * 1024


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text.splitlines() == [text], f"message is not one line: {text!r}"
    assert text.strip() == text and text
    return text


# ---------------------------------------------------------------------------- probe


@pytest.mark.parametrize(
    ("make", "fmt", "mime"),
    [
        (factory.png, "png", "image/png"),
        (factory.jpeg, "jpeg", "image/jpeg"),
        (lambda w, h: factory.jpeg(w, h, sof=0xC2), "jpeg", "image/jpeg"),  # progressive
        (lambda w, h: factory.jpeg(w, h, sof=0xC1), "jpeg", "image/jpeg"),
        (lambda w, h: factory.jpeg(w, h, app_junk=False), "jpeg", "image/jpeg"),
        (factory.webp, "webp", "image/webp"),
        (lambda w, h: factory.webp(w, h, extended=True), "webp", "image/webp"),
        (factory.webp_vp8, "webp", "image/webp"),
        (factory.gif, "gif", "image/gif"),
    ],
)
@pytest.mark.parametrize(("w", "h"), [(1, 1), (641, 479), (301, 752), (1920, 1080)])
def test_probe_reads_format_and_dimensions(make, fmt, mime, w, h):
    data = make(w, h)
    info = probe_image(data)
    assert info == ImageInfo(format=fmt, mime=mime, width=w, height=h, size=len(data))


def test_probe_large_canvases():
    big = probe_image(factory.webp(20000, 9000, extended=True))
    assert (big.width, big.height) == (20000, 9000)
    assert probe_image(factory.png(70000, 1)).width == 70000
    data = factory.jpeg(65535, 8)
    assert (probe_image(data).width, probe_image(data).height) == (65535, 8)


def test_probe_jpeg_skips_fill_bytes_and_restart_markers():
    data = factory.jpeg(640, 480)
    # Insert fill bytes and a standalone RST marker before the SOF segment.
    sof_at = data.index(b"\xff\xc0\x00\x0b")
    patched = data[:sof_at] + b"\xff\xd0" + b"\xff\xff\xff" + data[sof_at:]
    assert probe_image(patched).width == 640


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x89PNG\r\n\x1a\n",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 16,  # no IHDR
        b"\xff\xd8",
        b"\xff\xd8\xff\xd9",  # SOI EOI
        b"\xff\xd8\xff\xda\x00\x02",  # scan before frame
        b"\xff\xd8\xff\xe0\x00\x01",  # length < 2
        b"\xff\xd8\xff\xe0\x10\x00abc",  # length past the end
        b"\xff\xd8\x00\x00",
        b"RIFF\x00\x00\x00\x00WEBP",
        b"RIFF\x00\x00\x00\x00WEBPVP8 \x00\x00\x00\x00\x00\x00\x00abc\x00\x00\x00\x00",
        b"RIFF\x00\x00\x00\x00WEBPVP8L\x00\x00\x00\x00\x00",
        b"RIFF\x00\x00\x00\x00WEBPABCD\x00\x00\x00\x00",
        b"GIF89a\x01",
        b"GIF89a\x00\x00\x00\x00",  # zero size
        b"hello world, this is text",
        "a caf\u00e9 in unicode".encode(),
        bytes(range(256)),
    ],
)
def test_probe_rejects_garbage(data):
    assert probe_image(data) is None


def test_probe_zero_dimension_png_is_not_an_image():
    assert probe_image(factory.png(0, 10)) is None


@given(st.binary(max_size=200))
def test_the_parsers_never_raise_on_random_bytes(data):
    # probe_image() swallows any parser error; the parsers themselves must not need it.
    found = images._probe(data)
    assert found is None or (found[0] in ("png", "jpeg", "webp", "gif") and found[1] >= 0
                             and found[2] >= 0)
    assert probe_image(data) is None or probe_image(data).width > 0


@given(
    st.sampled_from(
        [b"\x89PNG\r\n\x1a\n", b"\xff\xd8", b"RIFF\x00\x00\x00\x00WEBP", b"GIF89a", b"GIF87a"]
    ),
    st.binary(max_size=200),
)
def test_probe_never_raises_after_a_real_signature(prefix, rest):
    images._probe(prefix + rest)  # the parser itself, not the net around it
    info = probe_image(prefix + rest)
    assert info is None or (info.width > 0 and info.height > 0)


@given(st.integers(1, 16384), st.integers(1, 16384))
def test_probe_webp_roundtrips_any_size(w, h):
    info = probe_image(factory.webp(w, h))
    assert (info.width, info.height) == (w, h)


def test_probe_accepts_bytearray_and_memoryview():
    data = factory.png(400, 400)
    assert probe_image(bytearray(data)).width == 400
    assert probe_image(memoryview(data)).width == 400
    assert probe_image("not bytes") is None  # type: ignore[arg-type]
    assert probe_image(None) is None  # type: ignore[arg-type]


# ---------------------------------------------------------------------------- check_image


@pytest.mark.parametrize("make", [factory.png, factory.jpeg, factory.webp])
def test_check_image_accepts_the_three_formats(make):
    info = check_image(make(640, 480), "ok.img")
    assert (info.width, info.height) == (640, 480)


def test_check_image_refuses_gif_and_names_the_formats():
    with pytest.raises(ValidationError) as err:
        check_image(factory.gif(640, 480), "anim.gif")
    msg = one_line(err.value)
    assert "anim.gif" in msg and "GIF" in msg
    assert "JPEG" in msg and "PNG" in msg and "WebP" in msg
    assert err.value.field == "image"


def test_check_image_refuses_text_named_png(tmp_path):
    path = factory.write(tmp_path / "photo.png", b"just some text, not a picture\n")
    with pytest.raises(ValidationError) as err:
        read_local_image(path)
    msg = one_line(err.value)
    assert "photo.png" in msg and "not a JPEG, PNG or WebP image" in msg


def test_check_image_refuses_empty_and_non_bytes():
    with pytest.raises(ValidationError, match="empty"):
        check_image(b"", "x.png")
    with pytest.raises(ValidationError, match="expected the image's bytes"):
        check_image("x.png")  # type: ignore[arg-type]


def test_size_limit_exact_ok_and_one_byte_over_refused():
    ok = factory.png(640, 480, size=MB20)
    assert len(ok) == MAX_IMAGE_BYTES == MB20
    assert check_image(ok, "big.png").size == MB20
    over = factory.png(640, 480, size=MB20 + 1)
    with pytest.raises(ValidationError) as err:
        check_image(over, "big.png")
    msg = one_line(err.value)
    assert "big.png" in msg and "20.00 MB" in msg and "20,971,521 bytes" in msg
    assert "limit is 20 MB" in msg


@pytest.mark.parametrize("make", [factory.jpeg, factory.webp, factory.png])
def test_size_limit_other_formats(make):
    with pytest.raises(ValidationError, match="limit is 20 MB"):
        check_image(make(640, 480, size=MB20 + 2), "big")


@pytest.mark.parametrize(
    ("w", "h", "ok"),
    [
        (800, 2000, True),  # exactly 2:5
        (799, 2000, False),  # just narrower than 2:5
        (2000, 800, True),  # exactly 5:2
        (2000, 799, False),  # just wider than 5:2
        (1000, 300, False),
        (301, 301, True),
        (301, 752, True),  # 301 * 2.5 = 752.5
        (301, 753, False),
        (753, 301, False),
        (752, 301, True),
    ],
)
def test_aspect_ratio_bounds_are_inclusive(w, h, ok):
    data = factory.png(w, h)
    if ok:
        assert check_image(data, "a.png").width == w
    else:
        with pytest.raises(ValidationError) as err:
            check_image(data, "a.png")
        msg = one_line(err.value)
        assert f"{w}x{h}" in msg and "2:5" in msg and "5:2" in msg


def test_aspect_message_names_the_ratio():
    with pytest.raises(ValidationError) as err:
        check_image(factory.jpeg(1000, 300), "wide.jpg")
    assert "1000x300 (3.33:1)" in one_line(err.value)
    with pytest.raises(ValidationError) as err:
        check_image(factory.jpeg(400, 1200), "tall.jpg")
    assert "400x1200 (1:3)" in one_line(err.value)


@pytest.mark.parametrize(
    ("w", "h", "ok"),
    [
        (300, 300, False),
        (301, 301, True),
        (300, 500, False),
        (500, 300, False),
        (301, 500, True),
        (500, 301, True),
        (100, 100, False),
    ],
)
def test_short_edge_must_exceed_300(w, h, ok):
    data = factory.webp(w, h)
    if ok:
        assert check_image(data, "s.webp").short_edge == min(w, h)
    else:
        with pytest.raises(ValidationError) as err:
            check_image(data, "s.webp")
        msg = one_line(err.value)
        assert f"short edge is {min(w, h)} px" in msg and "more than 300 px" in msg
        assert "s.webp" in msg


def test_source_with_newline_keeps_message_on_one_line():
    with pytest.raises(ValidationError) as err:
        check_image(b"nope", "bad\nname.png")
    one_line(err.value)


# ---------------------------------------------------------------------------- local files


def test_read_local_image_str_and_pathlike(tmp_path):
    path = factory.write(tmp_path / "cat.jpg", factory.jpeg(640, 480))
    data, info = read_local_image(str(path))
    assert data == path.read_bytes() and info.format == "jpeg"
    data2, info2 = read_local_image(path)
    assert data2 == data and info2 == info


def test_read_local_image_relative_and_home(tmp_path, monkeypatch):
    factory.write(tmp_path / "rel.png", factory.png(400, 400))
    assert read_local_image("rel.png")[1].format == "png"  # cwd is tmp_path (conftest)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert read_local_image("~/rel.png")[1].width == 400


def test_read_local_image_missing(tmp_path):
    with pytest.raises(ValidationError) as err:
        read_local_image("nowhere/missing.png")
    msg = one_line(err.value)
    assert msg.startswith("Image file not found: nowhere/missing.png")


def test_read_local_image_directory(tmp_path):
    with pytest.raises(ValidationError) as err:
        read_local_image(tmp_path)
    msg = one_line(err.value)
    assert msg.startswith("Image file not found:") and "directory" in msg


def test_read_local_image_empty_path_and_bad_type():
    with pytest.raises(ValidationError, match="Image file not found"):
        read_local_image("")
    with pytest.raises(ValidationError, match="path"):
        read_local_image(12)  # type: ignore[arg-type]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads anything")
def test_read_local_image_unreadable(tmp_path):
    path = factory.write(tmp_path / "locked.png", factory.png(400, 400))
    path.chmod(0)
    try:
        with pytest.raises(ValidationError, match="Image file not found"):
            read_local_image(path)
    finally:
        path.chmod(0o600)


def test_read_local_image_open_failure_is_reported(tmp_path, monkeypatch):
    # Root reads anything, so simulate the permission error at open().
    path = factory.write(tmp_path / "locked.png", factory.png(400, 400))

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("builtins.open", refuse)
    with pytest.raises(ValidationError) as err:
        read_local_image(path)
    msg = one_line(err.value)
    assert msg.startswith("Image file not found:") and "Permission denied" in msg


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_read_local_image_refuses_a_pipe_without_blocking(tmp_path):
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    with pytest.raises(ValidationError, match="not a regular file"):
        read_local_image(fifo)


def test_read_local_image_checks_size_before_reading(tmp_path, monkeypatch):
    # A sparse 2 GB file: refused from stat, without reading it into memory.
    path = tmp_path / "huge.png"
    with open(path, "wb") as fh:
        fh.write(factory.png(640, 480))
        fh.truncate(2 * 1024**3)
    real_open = open
    opened = []

    def spy_open(file, *args, **kwargs):
        if Path(str(file)) == path:
            opened.append(file)
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr("builtins.open", spy_open)
    with pytest.raises(ValidationError) as err:
        read_local_image(path)
    msg = one_line(err.value)
    assert "2048.00 MB" in msg and "limit is 20 MB" in msg
    assert opened == []


def test_read_local_image_reports_bad_shape_with_the_name(tmp_path):
    path = factory.write(tmp_path / "strip.png", factory.png(2000, 300))
    with pytest.raises(ValidationError) as err:
        read_local_image(path)
    assert "strip.png" in one_line(err.value)


# ---------------------------------------------------------------------------- URLs


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://example.com/a.png", "https://example.com/a.png"),
        ("  http://example.com/a.png\n", "http://example.com/a.png"),
        ("HTTPS://EXAMPLE.COM/x.jpg?sig=1&t=2", "HTTPS://EXAMPLE.COM/x.jpg?sig=1&t=2"),
        ("http://127.0.0.1:8000/files/x.webp", "http://127.0.0.1:8000/files/x.webp"),
        ("https://[::1]/x.png", "https://[::1]/x.png"),
    ],
)
def test_check_image_url_accepts_http(url, expected):
    assert check_image_url(url) == expected


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("javascript:alert(1)", ["javascript", "http"]),
        ("file:///etc/passwd", ["file", "http"]),
        ("ftp://example.com/a.png", ["ftp", "http"]),
        ("data:image/png;base64,iVBORw0KGgo=", ["data: URLs are not documented", "local file"]),
        ("DATA:image/png;base64,xx", ["data: URLs are not documented"]),
        ("https://exa mple.com/a.png", ["whitespace", "%20"]),
        ("https://example.com/a\tb.png", ["whitespace"]),
        ("https:///a.png", ["no host"]),
        ("http://", ["no host"]),
        ("https://[::1/a.png", ["cannot be parsed"]),
        ("example.com/a.png", ["no scheme", "http"]),
        ("", ["empty"]),
        ("   ", ["empty"]),
    ],
)
def test_check_image_url_refusals(url, words):
    with pytest.raises(ValidationError) as err:
        check_image_url(url)
    msg = one_line(err.value)
    for word in words:
        assert word in msg
    assert err.value.field == "image"


def test_check_image_url_refuses_non_string():
    with pytest.raises(ValidationError, match="must be a string"):
        check_image_url(b"https://x")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "is_url"),
    [
        ("https://x/y.png", True),
        ("ftp://x/y.png", True),
        ("javascript:alert(1)", True),
        ("data:image/png;base64,AA", True),
        ("file:///tmp/a.png", True),
        ("custom+scheme://host/x", True),
        ("C:\\images\\a.png", False),
        ("photo.png", False),
        ("dir/photo:1.png", False),
        ("shot:1.png", False),
        ("", False),
    ],
)
def test_looks_like_url(text, is_url):
    assert looks_like_url(text) is is_url


@given(st.text(max_size=100))
def test_check_image_url_only_raises_validation_error(text):
    try:
        out = check_image_url(text)
    except ValidationError as exc:
        one_line(exc)
    else:
        assert out.lower().startswith(("http://", "https://"))


# ---------------------------------------------------------------------------- names


def test_guess_filename():
    info = probe_image(factory.jpeg(640, 480))
    assert guess_filename(info) == "image.jpg"
    assert guess_filename(probe_image(factory.png(400, 400)), "cat photo") == "cat_photo.png"
    assert guess_filename(probe_image(factory.webp(400, 400)), "../../etc") == "etc.webp"
    assert guess_filename(probe_image(factory.webp(400, 400)), "") == "image.webp"
    assert guess_filename(None) == "image.bin"


def test_image_info_texts():
    info = probe_image(factory.png(1000, 300))
    assert info.aspect_text == "1000x300 (3.33:1)"
    assert info.describe().startswith("png 1000x300, ")
