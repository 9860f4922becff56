"""Where hailuo_nb keeps its files: history database, saved key, downloads."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import sys
from pathlib import Path

HOME_ENV = "HAILUO_HOME"
DEFAULT_DOWNLOAD_DIR = "hailuo_videos"


def _absolute_env(name: str) -> Path | None:
    """The directory an environment variable names, when set to an absolute path. Empty
    (``XDG_DATA_HOME=""``) or relative counts as unset, as the XDG spec says: else the
    history and the saved key would land in whatever folder the notebook runs from."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    path = Path(value).expanduser()
    return path if path.is_absolute() else None


def hailuo_home(platform: str | None = None) -> Path:
    """``$HAILUO_HOME``, else the platform's (``sys.platform``) user data directory."""
    platform = platform or sys.platform
    configured = os.environ.get(HOME_ENV, "").strip()  # ours: empty is unset, relative is meant
    if configured:
        return Path(configured).expanduser()
    if platform == "win32":
        base = _absolute_env("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
    elif platform == "darwin":
        base = Path.home() / "Library" / "Application Support"
    else:
        base = _absolute_env("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return base / "hailuo_nb"


def _umask() -> int:
    """This process's umask, read without changing it where the system tells (Linux)."""
    try:
        with open("/proc/self/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError):
        pass
    mask = os.umask(0o022)  # elsewhere: read it by setting it, then put it back
    os.umask(mask)
    return mask


def give_user_mode(path: str | os.PathLike) -> None:
    """The mode a file the user made would have (0666 less the umask): files made through
    a private temporary name (0600) must not stay unreadable to the user's group."""
    os.chmod(path, 0o666 & ~_umask())


def relative_to_file(path: str | os.PathLike, sidecar: str | os.PathLike) -> str:
    """``path`` as seen from ``sidecar``'s folder (a folder moved or shared keeps working),
    or absolute when no relative path exists (another drive on Windows)."""
    try:
        return Path(os.path.relpath(Path(path).resolve(), Path(sidecar).resolve().parent)
                    ).as_posix()
    except ValueError:
        return str(Path(path).resolve())


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
        give_user_mode(tmp)  # mkstemp made it 0600; the video beside it has the user's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
def data_uri(data: bytes, mime: str = "image/jpeg") -> str:
    """Bytes as a ``data:`` URI (the small images inlined in a saved notebook)."""
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")
