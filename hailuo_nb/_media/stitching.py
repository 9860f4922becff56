"""Join clips into one file: the same codec is copied packet by packet (no re-encoding,
no loss); clips that differ are refused with what differs, or re-encoded on request.
A JSON sidecar beside the result lists its parts (task ids, files, sha256, durations)."""

from __future__ import annotations

import json
import os
import tempfile
import time
from fractions import Fraction
from pathlib import Path
from typing import Any

import av

from .._pure.paths import give_user_mode, relative_to_file, sha256_of
from .._version import __version__
from ..errors import ValidationError
from .frames import FrameError


def _part(item: Any) -> tuple[Path, str | None]:
    """(file, task id) of a Task (its saved video) or a path."""
    if hasattr(item, "local_path"):
        if not item.local_path or not os.path.exists(item.local_path):
            raise ValidationError(f"Task {item.id or '(not sent)'} has no video on disk yet — "
                                  "wait for it (task.wait()) before stitching.")
        return Path(item.local_path), item.id or None
    path = Path(item).expanduser()
    if not path.is_file():
        raise ValidationError(f"No video at {str(path)!r} — give saved videos or finished "
                              "tasks to stitch.")
    return path, None


def _shape(path: Path) -> tuple:
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            return (ctx.name, ctx.width, ctx.height, str(ctx.format.name if ctx.format else ""))
    except (av.FFmpegError, IndexError) as exc:
        raise FrameError(f"cannot read {path}: {exc}; check it is a whole video file") from None


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if stream.duration is not None and stream.time_base:
            return float(stream.duration * stream.time_base)
        return float(container.duration or 0) / av.time_base


def stitch(items: list, out: str | os.PathLike, *, reencode: bool = False) -> Path:
    """Join the videos of ``items`` (finished Tasks or paths), in order, into ``out``."""
    parts = [_part(item) for item in items]
    if len(parts) < 2:
        raise ValidationError("stitch needs at least two clips.")
    target = Path(out).expanduser()
    if target.suffix.lower() != ".mp4":
        raise ValidationError(f"The stitched file is an .mp4, got {str(out)!r}.")
    shapes = [_shape(path) for path, _ in parts]
    if len(set(shapes)) > 1 and not reencode:
        differ = "; ".join(f"{p.name}: {s[0]} {s[1]}x{s[2]}" for (p, _), s in zip(
            parts, shapes, strict=True))
        raise ValidationError(f"The clips differ ({differ}) so they cannot be joined without "
                              "re-encoding — pass reencode=True (or --reencode).")
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".stitch-", suffix=".mp4", dir=target.parent)
    os.close(fd)
    try:
        if reencode and len(set(shapes)) > 1:
            _reencode([p for p, _ in parts], Path(tmp), shapes[0])
        else:
            _copy([p for p, _ in parts], Path(tmp))
        give_user_mode(tmp)  # made 0600 under its temporary name; the user's file is not
        os.replace(tmp, target)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    _write_sidecar(target, parts)
    return target


def _copy(paths: list[Path], target: Path) -> None:
    """Packets copied as they are, each clip's timestamps moved past the previous clip."""
    with av.open(str(target), "w", format="mp4") as out:
        with av.open(str(paths[0])) as first:
            ostream = out.add_stream_from_template(first.streams.video[0])
        offset = 0.0  # seconds already written
        for path in paths:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                tb = stream.time_base
                shift = round(Fraction(offset) / tb)
                end = 0
                for packet in container.demux(stream):
                    if packet.dts is None:
                        continue
                    packet.pts = (packet.pts or 0) + shift
                    packet.dts += shift
                    end = max(end, packet.pts + (packet.duration or 0))
                    packet.stream = ostream
                    out.mux(packet)
                offset = float(end * tb)


RATE = 24  # the re-encoded file's nominal frame rate; timestamps keep each part's timing


def _reencode(paths: list[Path], target: Path, shape: tuple) -> None:
    """Every frame decoded, scaled to the first clip's size and encoded again at the time it
    is shown: a clip keeps its duration whatever its frame rate."""
    _codec, width, height, _fmt = shape
    tb = Fraction(1, 90000)  # fine enough for any part's frame times
    with av.open(str(target), "w", format="mp4") as out:
        ostream = out.add_stream("libx264", rate=RATE)
        ostream.width, ostream.height, ostream.pix_fmt = width, height, "yuv420p"
        ostream.time_base = tb
        ostream.codec_context.time_base = tb
        ostream.options = {"preset": "veryfast", "crf": "20"}
        offset = Fraction(0)  # where the part starts in the joined file, seconds
        last = -1
        for path in paths:
            with av.open(str(path)) as container:
                stream = container.streams.video[0]
                start = stream.start_time or 0
                for frame in container.decode(stream):
                    shown = Fraction((frame.pts or 0) - start) * stream.time_base
                    pts = max(last + 1, round((offset + shown) / tb))
                    frame = frame.reformat(width=width, height=height, format="yuv420p")
                    frame.pts, frame.time_base, last = pts, tb, pts
                    for packet in ostream.encode(frame):
                        out.mux(packet)
            offset += Fraction(_duration(path)).limit_denominator(90000)
        for packet in ostream.encode():
            out.mux(packet)


def _write_sidecar(target: Path, parts: list[tuple[Path, str | None]]) -> None:
    """Parts named relative to the sidecar: the folder can move or be shared."""
    sidecar = target.with_suffix(".json")
    data = {
        "file": target.name, "sha256": sha256_of(target), "duration": _duration(target),
        "parts": [{"task_id": task_id, "file": relative_to_file(path, sidecar),
                   "sha256": sha256_of(path), "duration": _duration(path)}
                  for path, task_id in parts],
        "stitched": time.time(), "hailuo_nb": __version__,
    }
    sidecar.write_text(json.dumps(data, indent=2), encoding="utf-8")
