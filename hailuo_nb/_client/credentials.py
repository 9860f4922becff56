"""Where the API key comes from, and the only place it is kept.

Order: an explicit argument, the key set in this process (``%hailuo login``),
the ``EVOLINK_API_KEY`` environment variable, then the 0600 file that
``%hailuo login --save`` writes. The key never enters a trait, the history
database, a log line or an exception message.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .._pure.paths import hailuo_home
from ..errors import MissingAPIKeyError, ValidationError

ENV_VAR = "EVOLINK_API_KEY"
_session_key: str | None = None

HOW_TO_SET = (
    "set the EVOLINK_API_KEY environment variable or run `%hailuo login` "
    "(or try the offline emulator: `%hailuo emulator start`)"
)


def credentials_file() -> Path:
    return hailuo_home() / "credentials"


def set_session_key(key: str | None) -> None:
    """Keep a key in memory for this process only (``None`` forgets it)."""
    global _session_key
    _session_key = check_key(key) if key else None


def save_key(key: str) -> Path:
    """Write the key to a file only its owner can read (created 0600, never widened)."""
    key = check_key(key)
    path = credentials_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    # A fresh 0600 file renamed over the old one: the key never sits in a wider file.
    fd, tmp = tempfile.mkstemp(prefix=".credentials-", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(key + "\n")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def forget_saved_key() -> bool:
    path = credentials_file()
    if path.exists():
        path.unlink()
        return True
    return False


def _saved_key() -> str | None:
    path = credentials_file()
    try:
        text = path.read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return text or None


def resolve_api_key(explicit: str | None = None) -> str:
    """The key to use, or a one-line error saying how to set one."""
    # Cheapest first; the saved file is read only when nothing else gave a key.
    for source in (lambda: explicit, lambda: _session_key, lambda: os.environ.get(ENV_VAR),
                   _saved_key):
        candidate = source()
        if candidate is not None and str(candidate).strip():
            return check_key(str(candidate))
    raise MissingAPIKeyError(f"No API key found: {HOW_TO_SET}.")


def check_key(key: str) -> str:
    """Refuse keys that cannot be sent in a header (never echo the key itself)."""
    key = str(key).strip()
    if not key:
        raise MissingAPIKeyError(f"The API key is empty: {HOW_TO_SET}.")
    if any(ch.isspace() for ch in key) or not key.isascii() or not key.isprintable():
        raise ValidationError(
            "The API key contains spaces or non-ASCII characters: paste it again without "
            "quotes or line breaks.",
            field="api_key",
        )
    return key


def has_key() -> bool:
    try:
        resolve_api_key()
    except ValidationError:
        return False
    return True
