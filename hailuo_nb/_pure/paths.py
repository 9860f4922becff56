"""Where hailuo_nb keeps its files: history database, saved key, downloads."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sys
from pathlib import Path

HOME_ENV = "HAILUO_HOME"
DEFAULT_DOWNLOAD_DIR = "hailuo_videos"


def hailuo_home() -> Path:
    """``$HAILUO_HOME``, else the platform's user data directory."""
    configured = os.environ.get(HOME_ENV)
    if configured:
        return Path(configured).expanduser()
    if sys.platform == "win32":
        base = Path(os.environ.get("LOCALAPPDATA", Path.home() / "AppData" / "Local"))
    elif sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = Path(os.environ.get("XDG_DATA_HOME", Path.home() / ".local" / "share"))
    return base / "hailuo_nb"


_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_stem(text: str, *, fallback: str = "video", limit: int = 120) -> str:
    """A file-name stem that cannot leave its directory (no separators, no dots-only)."""
    stem = _UNSAFE.sub("_", str(text)).strip("._-")[:limit]
    return stem or fallback


def inside(directory: Path, name: str) -> Path:
    """``directory / name``, refusing anything that would resolve outside ``directory``."""
    root = directory.resolve()
    target = (root / name).resolve()
    if target.parent != root:
        raise ValueError(f"Refusing to write outside {root}: {name!r}")
    return target


def sha256_of(path: str | os.PathLike) -> str:
    """The file's sha256, read in 1 MB pieces (a video never sits in memory whole)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1024 * 1024), b""):
            digest.update(block)
    return digest.hexdigest()


def write_json_atomically(path: str | os.PathLike, data: dict) -> None:
    """Write ``data`` as JSON to ``path`` through a temporary file and a rename, so a reader
    never sees half a file (sidecars are read while the analysis lane updates them)."""
    import json
    import tempfile

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=".part-", suffix=".json", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
