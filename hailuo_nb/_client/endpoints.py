"""Where requests go and what may go in their paths: the API and files URLs (argument,
settings, environment, the real service) and the shape of a task id."""

from __future__ import annotations

import ipaddress
import os
import re
from urllib.parse import urlsplit

from ..errors import ValidationError
from ..settings import settings

DEFAULT_BASE_URL = "https://api.evolink.ai"
DEFAULT_FILES_URL = "https://files-api.evolink.ai"
BASE_URL_ENV = "HAILUO_BASE_URL"
FILES_URL_ENV = "HAILUO_FILES_URL"


def is_local(url: str) -> bool:
    """True for a server on this machine (localhost, 127.0.0.0/8, ::1): the emulator."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_base_url(url: str, what: str) -> str:
    url = str(url).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(
            f"{what} must be an http(s) URL such as {DEFAULT_BASE_URL}, got "
            f"{parts.scheme + ':…' if parts.scheme else 'no scheme'} (not echoed in full: it "
            "may be the key).", field=what
        )
    return url


def resolve_urls(base_url: str | None = None, files_url: str | None = None) -> tuple[str, str]:
    """(API URL, files URL): the argument, then ``%config HailuoMagics.*`` (settings), then
    ``$HAILUO_BASE_URL`` / ``$HAILUO_FILES_URL``, then the real service. Files follow a
    loopback API URL (the emulator serves both)."""
    base = _check_base_url(
        base_url or settings.base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL,
        "base_url",
    )
    default_files = base if is_local(base) else DEFAULT_FILES_URL
    files = _check_base_url(
        files_url or settings.files_url or os.environ.get(FILES_URL_ENV) or default_files,
        "files_url",
    )
    return base, files


TASK_ID_RE = re.compile(r"task-unified-\d{1,20}-[A-Za-z0-9]{1,64}")


def check_task_id(task_id: object) -> str:
    """A task id as the service writes them, or a one-line ValidationError."""
    text = str(task_id or "").strip()
    if not TASK_ID_RE.fullmatch(text):  # checked here: a malformed id costs no request
        raise ValidationError(
            f"Not a task id: {text[:60]!r} — ids look like task-unified-1757169743-7cvnl5zw.",
            field="task_id",
        )
    return text
