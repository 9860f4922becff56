"""Stills from real H.264 files made here with PyAV: sizes, budget, timing, picks, errors."""

from __future__ import annotations

import base64
import random
import wave

import pytest

av = pytest.importorskip("av", reason="hailuo_nb._media.frames needs PyAV: pip install av")

from hailuo_nb._media.frames import FrameError, Stills, data_uri, last_frame_jpeg, read_stills  # noqa: E402

BUDGET = 35_000


# ---------------------------------------------------------------------------- clip making


def write_clip(path, width, height, count, paint, *, fps=24, gop=None, fmt=None, options=None):
    """An H.264 clip; ``paint(i)`` returns the luma plane of frame i (width*height bytes).

    Frames are built from plane bytes, so the tests need no numpy. ``veryfast`` keeps
    B-frames, which the non-reference skipping of ``read_stills`` must cope with.
    """
    with av.open(str(path), "w", format=fmt, options=options) as out:
        stream = out.add_stream("libx264", rate=fps, options={"preset": "veryfast"})
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        if gop:
            stream.codec_context.gop_size = gop
        for i in range(count):
            frame = av.VideoFrame(width, height, "yuv420p")
            fill(frame.planes[0], paint(i), width)
            for plane in frame.planes[1:]:
                plane.update(b"\x80" * plane.buffer_size)  # neutral chroma: grey scale
            frame.pts = i
            out.mux(stream.encode(frame))
        out.mux(stream.encode())
    return path


def fill(plane, data: bytes, width: int) -> None:
    pad = plane.line_size - width
    if pad:
        data = b"".join(data[y : y + width] + bytes(pad) for y in range(0, len(data), width))
    plane.update(data)


def moving(width, height):
    """Frame 0 is black (as generated videos often start); then diagonal stripes move."""
    base = bytes(range(256)) * ((width + height) // 256 + 3)

    def paint(i):
        if i == 0:
            return bytes(width * height)
        return b"".join(base[(y + 8 * i) % 256 :][:width] for y in range(height))

    return paint


def flat(width, height):
    """Flat frames whose brightness says which frame they are: luma 16 + 3*i."""
    return lambda i: bytes([16 + 3 * i]) * (width * height)


def noise(width, height, block=6):
    """Random grey blocks that survive downscaling: content a JPEG cannot shrink much."""
    rnd, cols = random.Random(7), width // block
    cell = [bytes([v]) * block for v in range(256)]

    def paint(i):
        grid = rnd.randbytes(cols * (height // block))
        rows = [
            b"".join(map(cell.__getitem__, grid[r : r + cols])) for r in range(0, len(grid), cols)
        ]
        return b"".join(row for row in rows for _ in range(block))

    return paint


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("clips")
    return {
        "768p": write_clip(d / "768p.mp4", 1366, 768, 144, moving(1366, 768)),
        "1080p": write_clip(d / "1080p.mp4", 1920, 1080, 12, noise(1920, 1080)),
        "180p": write_clip(d / "180p.mp4", 320, 180, 48, moving(320, 180)),
        # 6 s at 12 fps; one GOP (no seeking helps), a keyframe every 0.5 s (seeking),
        # and a raw H.264 stream without timestamps (the linear fallback).
        "flat": write_clip(d / "flat.mp4", 320, 180, 72, flat(320, 180), fps=12),
        "flat_gop": write_clip(d / "gop.mp4", 320, 180, 72, flat(320, 180), fps=12, gop=6),
        "flat_raw": write_clip(d / "raw.h264", 320, 180, 72, flat(320, 180), fps=12, fmt="h264"),
        "one": write_clip(d / "one.mp4", 640, 360, 1, moving(640, 360)),
    }


# ---------------------------------------------------------------------------- JPEG reading


def decode_jpeg(data: bytes):
    assert data[:2] == b"\xff\xd8", "not a JPEG: no SOI marker"
    assert data[-2:] == b"\xff\xd9", "JPEG is cut short: no EOI marker"
    frames = av.CodecContext.create("mjpeg", "r").decode(av.Packet(data))
    assert len(frames) == 1
    return frames[0]


def luma_bytes(frame) -> bytes:
    """The luma plane without the row padding decoders add."""
    plane, w = frame.planes[0], frame.width
    raw = bytes(plane)
    return b"".join(raw[y * plane.line_size :][:w] for y in range(frame.height))


def luma(frame) -> float:
    """Mean luma (full range for decoded JPEGs)."""
    return sum(luma_bytes(frame)) / (frame.width * frame.height)


def frame_index(jpeg: bytes) -> int:
    """Which frame of a ``flat`` clip this is (the JPEG is full range: undo 16..235)."""
    return round((luma(decode_jpeg(jpeg)) * 219 / 255) / 3)


def total(stills: Stills) -> int:
    return len(stills.poster) + sum(map(len, stills.strip))


# ---------------------------------------------------------------------------- stills


@pytest.mark.parametrize(
    ("name", "size"), [("768p", (1366, 768)), ("1080p", (1920, 1080)), ("180p", (320, 180))]
)
@pytest.mark.slow
def test_stills_are_small_jpegs_keeping_the_aspect_ratio(clips, name, size):
    stills = read_stills(clips[name])
    assert (stills.width, stills.height) == size
    assert total(stills) <= BUDGET
    poster = decode_jpeg(stills.poster)
    assert len(stills.strip) == 5
    thumbs = [decode_jpeg(j) for j in stills.strip]
    if name != "1080p":  # noise may have to shrink to fit; ordinary clips must not
        assert poster.width == 320
        assert all(t.width == 112 for t in thumbs)
    for f in [poster, *thumbs]:
        assert f.height == round(f.width * size[1] / size[0])


def test_metadata_of_a_six_second_clip(clips):
    stills = read_stills(clips["768p"])
    assert stills.duration == pytest.approx(6.0, abs=0.05)
    assert stills.frame_count == 144


def test_poster_is_not_the_black_first_frame(clips):
    stills = read_stills(clips["768p"])
    first, poster = decode_jpeg(stills.strip[0]), decode_jpeg(stills.poster)
    assert luma(first) < 2, "the clip's first frame is black: the strip starts there"
    assert luma(poster) > 60, "the poster must come from inside the clip"


def test_noise_at_1080p_still_fits_the_budget_and_a_tighter_one(clips):
    assert total(read_stills(clips["1080p"])) <= BUDGET
    tight = read_stills(clips["1080p"], max_total_bytes=12_000)
    assert total(tight) <= 12_000
    # At 320 px even the lowest quality tried is over 12 kB here: the widths had to drop.
    poster = decode_jpeg(tight.poster)
    assert poster.width < 320
    assert poster.height == round(poster.width * 1080 / 1920)


def test_an_impossible_budget_says_so(clips):
    with pytest.raises(ValueError, match="max_total_bytes=500"):
        read_stills(clips["180p"], max_total_bytes=500)


@pytest.mark.parametrize("name", ["flat", "flat_gop", "flat_raw"])
def test_picks_are_spread_over_the_clip(clips, name):
    stills = read_stills(clips[name])
    # 72 frames at 12 fps: the poster at 2.0 s, the strip at 0, 1.2, 2.4, 3.6, 4.8 s.
    # Skipping non-reference frames may take the next frame: one frame late at most.
    assert 24 <= frame_index(stills.poster) <= 25
    for got, want in zip(map(frame_index, stills.strip), [0, 15, 29, 44, 58], strict=True):
        assert want <= got <= want + 1


def test_strip_count_and_widths_are_honoured(clips):
    stills = read_stills(clips["768p"], poster_width=200, strip_count=8, strip_width=64)
    assert decode_jpeg(stills.poster).width == 200
    assert [decode_jpeg(j).width for j in stills.strip] == [64] * 8


def test_a_small_video_is_not_upscaled(clips):
    stills = read_stills(clips["180p"], poster_width=640, strip_width=480)
    assert (decode_jpeg(stills.poster).width, decode_jpeg(stills.strip[0]).width) == (320, 320)


def test_a_one_frame_clip_gives_that_frame_everywhere(clips):
    stills = read_stills(clips["one"])
    assert len(stills.strip) == 5
    assert len(set(stills.strip)) == 1
    assert decode_jpeg(stills.poster).width == 320


# ---------------------------------------------------------------------------- last frame


@pytest.mark.parametrize("name", ["768p", "flat", "flat_gop", "flat_raw"])
def test_last_frame_is_the_last_one_at_full_size(clips, name):
    frame = decode_jpeg(last_frame_jpeg(clips[name]))
    full = (1366, 768) if name == "768p" else (320, 180)
    assert (frame.width, frame.height) == full
    if name.startswith("flat"):
        assert frame_index(last_frame_jpeg(clips[name])) == 71


def test_last_frame_is_sharp_enough_to_start_a_new_video(clips):
    # Noise is the hardest content: here q=2 is off by ~1.6 levels, q=5 by ~3.4.
    with av.open(str(clips["1080p"])) as container:
        *_, last = container.decode(video=0)
    want = luma_bytes(last.reformat(format="yuvj420p"))
    got = luma_bytes(decode_jpeg(last_frame_jpeg(clips["1080p"])))
    error = sum(abs(a - b) for a, b in zip(want, got, strict=True)) / len(want)
    assert error < 3.0, f"mean luma error {error:.2f} of 255: not a high-quality JPEG"


def test_last_frame_can_be_scaled(clips):
    frame = decode_jpeg(last_frame_jpeg(clips["1080p"], quality_width=960))
    assert (frame.width, frame.height) == (960, 540)


# ---------------------------------------------------------------------------- data URI


def test_data_uri_round_trips():
    jpeg = b"\xff\xd8 any bytes \xff\xd9"
    uri = data_uri(jpeg)
    assert uri.startswith("data:image/jpeg;base64,")
    assert base64.b64decode(uri.split(",", 1)[1]) == jpeg


# ---------------------------------------------------------------------------- bad files


def one_line(exc: FrameError) -> str:
    text = str(exc)
    assert text.splitlines() == [text], f"message is not one line: {text!r}"
    assert not isinstance(exc, av.FFmpegError)
    return text


def _html(path):
    path.write_text("<!doctype html><html><body>Access denied</body></html>\n")


def _empty(path):
    path.write_bytes(b"")


def _audio_only(path):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(bytes(16000))


@pytest.mark.parametrize(
    ("make", "name", "says"),
    [
        (_html, "page.mp4", "not a readable video"),
        (_empty, "empty.mp4", "empty"),
        (None, "missing.mp4", "no such file"),
        (_audio_only, "sound.wav", "no video stream"),
    ],
)
@pytest.mark.parametrize("read", [read_stills, last_frame_jpeg])
def test_bad_files_raise_frame_error(tmp_path, make, name, says, read):
    path = tmp_path / name
    if make:
        make(path)
    with pytest.raises(FrameError) as info:
        read(path)
    text = one_line(info.value)
    assert str(path) in text
    assert says in text
    assert any(word in text for word in ("check", "again")), f"no advice in {text!r}"


def test_a_download_cut_before_its_index_raises_frame_error(clips, tmp_path):
    data = clips["768p"].read_bytes()  # PyAV writes the index (moov) at the end
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    for read in (read_stills, last_frame_jpeg):
        with pytest.raises(FrameError, match=r"cut\.mp4"):
            read(cut)


def test_a_download_cut_after_its_index_still_gives_the_last_decodable_frame(tmp_path):
    faststart = {"movflags": "faststart"}  # the index first, as web servers deliver
    whole = write_clip(
        tmp_path / "whole.mp4", 320, 180, 72, flat(320, 180), fps=12, gop=6, options=faststart
    )
    cut = tmp_path / "cut.mp4"
    data = whole.read_bytes()
    cut.write_bytes(data[: len(data) * 8 // 10])
    # What a player shows last: decode from the start until the data runs out.
    shown = []
    with av.open(str(cut)) as container, pytest.raises(av.FFmpegError):
        shown.extend(container.decode(video=0))
    assert 10 < len(shown) < 72
    assert frame_index(last_frame_jpeg(cut)) == len(shown) - 1
    assert len(read_stills(cut).strip) == 5
