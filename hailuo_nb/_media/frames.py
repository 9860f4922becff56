"""Stills from a video file with PyAV alone: a poster, a strip of thumbnails, the last frame.

JPEGs are made by FFmpeg's own ``mjpeg`` encoder, so neither Pillow nor numpy is needed.
The poster and the strip are meant to be inlined in notebook outputs as data URIs, hence
the byte budget: a notebook must not grow by megabytes because a video was previewed.
"""

from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from fractions import Fraction

import av

from .._pure.paths import data_uri
from ..errors import FrameError

__all__ = ["FrameError", "Stills", "data_uri", "image_thumbnail_jpeg", "last_frame_jpeg",
           "read_stills"]

_SEEK_GAP = 1.0  # seconds; closer targets are cheaper to reach by decoding on than by seeking
_SHORT_CLIP = 0.5  # seconds; below this the first frame is the poster
_QUALITIES = (3, 5, 8, 12)  # mjpeg quantiser: 2 is the best, 31 the worst
_MIN_WIDTH = 16


class _Unreliable(Exception):
    """Seeking landed past its target or frames have no timestamps: decode linearly."""


@dataclass(frozen=True)
class Stills:
    """JPEG bytes of a poster and a strip; width/height are the video's display size."""

    poster: bytes
    strip: list[bytes]
    width: int
    height: int
    duration: float | None
    frame_count: int | None

    def pictures(self) -> tuple[bytes, list[bytes]]:
        """(poster, strip): what a drawing needs, in one call (one read when on disk)."""
        return self.poster, self.strip




def _fail(path, why: str) -> FrameError:
    return FrameError(f"cannot read video frames from {path}: {why}")


def _guarded(func):
    """Whatever PyAV raises past the checks below still reaches the caller as FrameError."""

    @functools.wraps(func)
    def wrapper(path, **options):
        try:
            return func(path, **options)
        except av.FFmpegError as e:
            raise _fail(path, f"decoding failed ({e}); check it is a whole video file") from None

    return wrapper


def _open(path):
    """The container and its video stream, or FrameError for anything that is not a video."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise _fail(path, "no such file; check the path")
    if os.path.getsize(path) == 0:
        raise _fail(path, "the file is empty (0 bytes); download or generate it again")
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as e:
        why = getattr(e, "strerror", None) or e
        raise _fail(path, f"not a readable video ({why}); check it is a whole video file") from None
    if not container.streams.video:
        container.close()
        raise _fail(path, "no video stream in it; check it is a whole video file")
    stream = container.streams.video[0]
    # One decoding thread: FFmpeg's default frame threads would multiply with the engine's
    # download workers (small frames decode fast enough on one).
    stream.thread_type = "NONE"
    stream.codec_context.thread_count = 1
    return container, stream


def _rate(stream) -> float:
    return float(stream.average_rate or stream.guessed_rate or 25)


def _timed(container, stream, seek: bool):
    """(seconds, frame) from the current position; a corrupt tail ends it instead of raising."""
    rate = _rate(stream)
    try:
        for i, frame in enumerate(container.decode(stream)):
            if frame.time is None and seek:  # seeking needs timestamps: go linear
                raise _Unreliable
            yield (i / rate if frame.time is None else frame.time), frame
    except av.FFmpegError:
        return


def _grab(container, stream, times, seek: bool) -> list:
    """The first frame at or after each ascending time (the last frame past the end)."""
    it, last, out = None, None, []
    for t in times:
        if it is None or (seek and t - last[0] > _SEEK_GAP):
            before = last[0] if last else None
            if seek:  # backward: lands on the keyframe at or before t
                container.seek(int(t / stream.time_base), stream=stream, backward=True)
            it = _timed(container, stream, seek)
            last = next(it, None)
            if last is None or (seek and last[0] > t + 2 / _rate(stream)):
                raise _Unreliable  # nothing decoded, or the seek overshot
            if before is not None and last[0] <= before:
                seek = False  # one long GOP: seeking only decodes the same frames again
        while last[0] < t - 1e-3 and (step := next(it, None)) is not None:
            last = step
        out.append(last[1])
    return out


def _frames_at(path, container, stream, offsets: list[float]) -> list:
    """Frames at offsets (seconds from the start): seeks, else decodes from the start."""
    t0 = float((stream.start_time or 0) * stream.time_base) if stream.time_base else 0.0
    try:
        return _grab(container, stream, [t0 + t for t in offsets], seek=True)
    except (_Unreliable, av.FFmpegError):
        pass
    container, stream = _open(path)  # a fresh demuxer: the failed one may be anywhere
    try:
        return _grab(container, stream, [t0 + t for t in offsets], seek=False)
    except _Unreliable:
        raise _fail(path, "no frame could be decoded; download it again") from None
    finally:
        container.close()


def _probe(path, container, stream) -> tuple[int, int, float | None, int | None]:
    """Display width, height, duration and frame count, from metadata."""
    w, h = stream.codec_context.width, stream.codec_context.height
    if not w or not h:
        raise _fail(path, "the video stream has no frame size; check it is a whole video file")
    sar = stream.sample_aspect_ratio
    if sar and sar != 1:  # anamorphic video: scale to what a player would show
        w = round(w * sar)
    count = stream.frames or None
    if stream.duration and stream.time_base:
        duration = float(stream.duration * stream.time_base)
    elif container.duration:
        duration = container.duration / av.time_base
    else:  # no metadata at all (raw streams): count the packets, which is cheap
        count = count or sum(1 for p in container.demux(stream) if p.size)
        duration = count / _rate(stream) if count else None
    return w, h, duration, count


def _jpeg(frame, width: int, height: int, q: int) -> bytes:
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height, ctx.pix_fmt = width, height, "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    ctx.qmin = ctx.qmax = q  # a fixed quantiser; ctx.qscale alone ignores the wanted value
    ctx.thread_count = 1  # a thumbnail needs no encoder threads (they add up across workers)
    # AREA averages the dropped pixels: no aliasing when 1080p shrinks to a thumbnail.
    # threads=1: swscale would start its own threads per frame, times the download workers
    small = frame.reformat(width=width, height=height, format="yuvj420p", interpolation="AREA",
                           threads=1)
    small.pts = None
    return b"".join(bytes(p) for p in [*ctx.encode(small), *ctx.encode(None)])


def _size(w: int, h: int, width: float) -> tuple[int, int]:
    tw = max(2, min(w, round(width)))  # never upscale
    return tw, max(2, round(tw * h / w))


@_guarded
def read_stills(
    path, *, poster_width=320, strip_count=5, strip_width=112, max_total_bytes=35_000
) -> Stills:
    """A poster ~1/3 into the clip and ``strip_count`` frames spread from the first on.

    Poster plus strip stay within ``max_total_bytes``: the quality, then the widths, drop
    until they fit. ``ValueError`` if the budget cannot hold even tiny JPEGs.
    """
    container, stream = _open(path)
    try:
        # Stills need not be exact: skipping non-reference frames halves the decoding, and
        # a pick lands at most a frame late. (The linear fallback decodes everything.)
        stream.codec_context.skip_frame = "NONREF"
        w, h, duration, count = _probe(path, container, stream)
        d = duration or 0.0
        poster_at = d / 3 if d >= _SHORT_CLIP else 0.0
        strip_at = [d * i / strip_count for i in range(strip_count)]
        wanted = sorted({poster_at, *strip_at})
        got = dict(zip(wanted, _frames_at(path, container, stream, wanted), strict=True))
    finally:
        container.close()
    sources = [got[poster_at]] + [got[t] for t in strip_at]
    scale = 1.0
    while True:
        small = _size(w, h, strip_width * scale)
        sizes = [_size(w, h, poster_width * scale)] + [small] * strip_count
        for q in _QUALITIES if scale == 1.0 else _QUALITIES[-1:]:
            jpegs = [_jpeg(f, sw, sh, q) for f, (sw, sh) in zip(sources, sizes, strict=True)]
            if sum(map(len, jpegs)) <= max_total_bytes:
                return Stills(jpegs[0], jpegs[1:], w, h, duration, count)
        if min(s[0] for s in sizes) <= _MIN_WIDTH:
            raise ValueError(f"max_total_bytes={max_total_bytes} cannot hold {len(sizes)} JPEGs")
        scale *= 0.8


@_guarded
def last_frame_jpeg(path, *, quality_width=None) -> bytes:
    """The last decodable frame as a high-quality JPEG: full size, or ``quality_width`` wide.

    Meant as the start image of a follow-up image-to-video generation.
    """
    container, stream = _open(path)
    try:
        w, h, duration, _ = _probe(path, container, stream)
        # A target past the end: seek to the last keyframe, keep the last frame decoded.
        frame = _frames_at(path, container, stream, [(duration or 0.0) + 1.0])[0]
    finally:
        container.close()
    return _jpeg(frame, *_size(w, h, quality_width or w), 2)


def image_thumbnail_jpeg(data: bytes, *, width: int = 160) -> bytes:
    """A small JPEG of an image (PNG, JPEG, WebP bytes), at most ``width`` wide: the
    preview of an input image too big to inline as it is. FrameError if it cannot decode."""
    try:
        with av.open(io.BytesIO(data)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "NONE"
            stream.codec_context.thread_count = 1
            frame = next(container.decode(stream))
    except (av.FFmpegError, IndexError, StopIteration, OSError) as e:
        raise FrameError(f"cannot make a thumbnail of this image ({e})") from None
    return _jpeg(frame, *_size(frame.width, frame.height, width), 5)
