"""Reading what a server sends without trusting it: whole bodies within a TOTAL deadline and
a size limit, and result videos saved so that only a verified video gets its final name.

A per-read timeout never ends a body that drips one byte a second; here every read is
bounded by what is left of the deadline, and the loop stops at the deadline itself.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests

from ..errors import ContentError, DownloadError, TransportError

JSON_LIMIT = 4 * 1024 * 1024  # a task's JSON is a few KB: anything past this is refused
_READ = 64 * 1024
_VIDEO_READ = 1024 * 1024  # a video is read in big pieces: fewer calls, same deadline
# Container signatures: MP4/MOV ("ftyp" box at offset 4), WebM/Matroska (EBML header).
_VIDEO_SIGNATURES = ((4, b"ftyp"), (0, b"\x1a\x45\xdf\xa3"))
_NOT_VIDEO_TYPES = ("text/", "application/json", "application/xml", "application/xhtml")

Progress = Callable[[int, int | None], None]


def read_body(response: requests.Response, *, deadline: float, limit: int, where: str) -> bytes:
    """The whole body of a streamed ``response`` by ``deadline`` (time.monotonic())."""
    chunks: list[bytes] = []
    size = 0
    for chunk in _chunks(response, deadline, where):
        size += len(chunk)
        if size > limit:
            raise ContentError(f"The answer from {where} is over {limit // 1024} KB, far more "
                               "than a task's JSON: refused (a proxy or a wrong base_url?).")
        chunks.append(chunk)
    return b"".join(chunks)


def _chunks(response: requests.Response, deadline: float, where: str, size: int = _READ):
    raw = response.raw
    sock = _socket_of(raw)
    bound = None  # the socket timeout last set: changed only when the deadline comes near
    try:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise _too_slow(where)
            wanted = max(0.05, min(left, 30.0))
            if sock is not None and (bound is None or wanted < bound - 1.0):
                with contextlib.suppress(OSError):  # closed once the body is all in
                    sock.settimeout(wanted)
                    bound = wanted
            chunk = raw.read1(size, decode_content=True) if hasattr(raw, "read1") else (
                raw.read(size, decode_content=True))
            if not chunk:
                return
            yield chunk
    except TransportError:
        raise
    except Exception as exc:  # socket timeouts, urllib3's ProtocolError, IncompleteRead, …
        if not isinstance(exc, (requests.RequestException, OSError, ValueError)) and not (
                type(exc).__module__.startswith("urllib3")):
            raise
        if time.monotonic() >= deadline - 0.5:  # the last read ran into the deadline
            raise _too_slow(where) from None
        raise TransportError(f"The answer from {where} was cut short "
                             f"({type(exc).__name__})") from None


def _too_slow(where: str) -> TransportError:
    error = TransportError(f"{where} sent its answer too slowly: gave up at the deadline")
    error.reason = f"{where} sent its answer too slowly"  # type: ignore[attr-defined]
    return error


def _socket_of(raw: Any) -> Any:
    """The socket under a urllib3 response, to bound each read by the deadline (or None)."""
    try:
        return raw._fp.fp.raw._sock  # http.client → socket.SocketIO → socket
    except AttributeError:
        return None


def part_path(target: Path) -> Path:
    """Where a download grows until it is verified (kept across attempts for Range)."""
    return target.with_name(f".{target.name}.part")


def save_video(get: Callable[..., requests.Response], url: str, target: Path, *,
               deadline: float, progress: Progress | None = None) -> Path:
    """One attempt: continue ``target``'s part file from where it stopped (Range), then
    verify it is a whole video before renaming it to ``target``."""
    part = part_path(target)
    have = part.stat().st_size if part.exists() else 0
    headers = {"Accept-Encoding": "identity"}  # sizes must mean bytes on disk
    if have:
        headers["Range"] = f"bytes={have}-"
    response = get(url, headers=headers)
    total: int | None = None
    try:
        with response:
            _refuse_non_video(response, url)
            start, total = _span(response, have)
            if start == 0 and have:
                have = 0  # the server sent the whole file again: start over
            with open(part, "ab" if start else "wb") as handle:
                written = start
                for chunk in _chunks(response, deadline, _short(url), size=_VIDEO_READ):
                    handle.write(chunk)
                    written += len(chunk)
                    if progress is not None:
                        progress(written, total)
    except OSError as exc:  # the disk, not the network: the part file can never complete
        _remove(part)
        raise disk_error(exc, target, total) from None
    if total is not None and written < total:
        raise TransportError(f"Download of {_short(url)} cut short at {written} of {total} "
                             "bytes (the next try goes on from there)")
    verify_video(part, url, total)
    try:
        os.replace(part, target)
    except OSError as exc:
        _remove(part)
        raise disk_error(exc, target, total) from None
    return target


def _remove(part: Path) -> None:
    """Remove what cannot complete; on a read-only disk even that fails (nothing was
    written there anyway)."""
    with contextlib.suppress(OSError):
        part.unlink(missing_ok=True)


_FULL = (errno.ENOSPC, errno.EFBIG, getattr(errno, "EDQUOT", errno.ENOSPC))  # not on Windows


def disk_error(exc: OSError, target: Path, needed: int | None) -> DownloadError:
    """One line for a file that cannot be written: why, how much was needed, what to do."""
    folder = target.parent
    if exc.errno in _FULL:
        try:
            free = f", {_mb(shutil.disk_usage(folder).free)} free"
        except OSError:
            free = ""
        need = f"the video needs {_mb(needed)}{free}" if needed else f"no room{free}"
        return DownloadError(f"No space left in {folder} ({exc.strerror}): {need} — free "
                             "some space or set another download_dir; the partial file was "
                             "removed.")
    return DownloadError(f"Cannot write {target.name} in {folder} ({exc.strerror or exc}) — "
                         "choose a folder you can write to (download_dir=…).")


def _mb(size: int | None) -> str:
    return f"{(size or 0) / 1e6:.1f} MB" if (size or 0) >= 100_000 else f"{size or 0} bytes"


def _refuse_non_video(response: requests.Response, url: str) -> None:
    kind = (response.headers.get("Content-Type") or "").split(";")[0].strip().lower()
    if kind.startswith(_NOT_VIDEO_TYPES):
        raise ContentError(f"The result link answered {kind}, not a video ({_short(url)}): "
                           "an error page from the host")


def _span(response: requests.Response, have: int) -> tuple[int, int | None]:
    """(offset the body starts at, the file's whole size if known)."""
    if response.status_code == 206:
        value = response.headers.get("Content-Range", "")  # bytes 100-199/200
        try:
            first, whole = value.split(" ", 1)[1].split("-", 1)[0], value.rsplit("/", 1)[1]
            start = int(first)
            total = int(whole) if whole.strip().isdigit() else None
        except (IndexError, ValueError):
            raise ContentError(f"Bad Content-Range {value!r} from the result link.") from None
        if start != have:
            raise ContentError(f"The result link resumed at byte {start}, not {have}.")
        return start, total
    length = response.headers.get("Content-Length", "")
    return 0, int(length) if length.isdigit() else None


def verify_video(path: Path, url: str, total: int | None) -> None:
    """Non-empty, as long as promised, and a video container: else ContentError (the part
    file is removed, so the next attempt starts clean)."""
    size = path.stat().st_size
    problem = ""
    if size == 0:
        problem = "an empty body"
    elif total is not None and size != total:
        problem = f"{size} bytes where {total} were promised"
    else:
        with open(path, "rb") as handle:
            head = handle.read(16)
        if not any(head[at:at + len(sig)] == sig for at, sig in _VIDEO_SIGNATURES):
            problem = f"no video container (it starts with {head[:12]!r})"
    if problem:
        path.unlink(missing_ok=True)
        raise ContentError(f"The result link gave {problem}, not a video ({_short(url)}); "
                           "nothing was saved.")


def _short(url: str) -> str:
    return url if len(url) <= 90 else url[:60] + "…" + url[-25:]
