"""Stills kept on disk, not in memory: a settled task holds a small handle, and the JPEG
bytes (poster and strip, ~20-35 KB a video) are read back when a record is drawn.

One file per video under the hailuo home's ``stills/`` folder, keyed by the video's path,
size and modification time: a sweep of 1,000 takes keeps a few hundred bytes per task in
the kernel, and a resumed or reused task draws its record without decoding its video again.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .._pure.paths import hailuo_home
from .frames import Stills

_MAGIC = b"hailuo-stills 1\n"


@dataclass(frozen=True)
class StillsOnDisk:
    """The same fields as ``Stills``; ``poster`` and ``strip`` are read from ``file`` on
    each use (a file that went away reads as no pictures, never as an error)."""

    file: str
    width: int
    height: int
    duration: float | None
    frame_count: int | None

    @property
    def poster(self) -> bytes:
        return self.pictures()[0]

    @property
    def strip(self) -> list[bytes]:
        return self.pictures()[1]

    def pictures(self) -> tuple[bytes, list[bytes]]:
        """(poster, strip) from one read of the file."""
        try:
            _meta, pictures = _parse(Path(self.file).read_bytes())
        except (OSError, ValueError):
            return b"", []
        return (pictures[0], pictures[1:]) if pictures else (b"", [])


def stills_folder() -> Path:
    return hailuo_home() / "stills"


def _key(video: Path) -> str:
    """Which file holds the stills of ``video`` as it is now (a new file, a new key)."""
    info = video.stat()
    what = f"{video.resolve()}|{info.st_size}|{info.st_mtime_ns}"
    return hashlib.sha256(what.encode()).hexdigest()[:32]


def _parse(data: bytes) -> tuple[dict, list[bytes]]:
    if not data.startswith(_MAGIC):
        raise ValueError("not a stills file")
    head, _, body = data[len(_MAGIC):].partition(b"\n")
    meta = json.loads(head)
    pictures, at = [], 0
    for size in meta["sizes"]:
        pictures.append(body[at:at + size])
        at += size
    if at != len(body):
        raise ValueError("a cut stills file")
    return meta, pictures


def _handle(file: Path, meta: dict) -> StillsOnDisk:
    return StillsOnDisk(str(file), int(meta["width"]), int(meta["height"]),
                        meta.get("duration"), meta.get("frame_count"))


def _write(file: Path, stills: Stills) -> dict:
    pictures = [stills.poster, *stills.strip]
    meta = {"width": stills.width, "height": stills.height, "duration": stills.duration,
            "frame_count": stills.frame_count, "sizes": [len(p) for p in pictures]}
    file.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".part-", dir=file.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(_MAGIC + json.dumps(meta).encode() + b"\n" + b"".join(pictures))
        os.replace(tmp, file)  # readers see the whole file or none
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return meta


def stills_on_disk(video: str | os.PathLike, read: Callable[[], Stills]) -> StillsOnDisk | Stills:
    """The stills of ``video`` as a handle to their file, made with ``read()`` only when no
    file holds them yet. Where the folder cannot be written, the stills stay in memory."""
    video = Path(video)
    file = stills_folder() / f"{_key(video)}.stills"
    with contextlib.suppress(OSError, ValueError, KeyError):
        meta, _pictures = _parse(file.read_bytes())
        return _handle(file, meta)
    stills = read()
    try:
        return _handle(file, _write(file, stills))
    except OSError:
        return stills
