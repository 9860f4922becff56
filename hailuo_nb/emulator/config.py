"""Everything the emulator can be told: timing, keys, limits and faults."""

from __future__ import annotations

import math
import os
import re
from dataclasses import asdict, dataclass, fields

MODEL = "MiniMax-Hailuo-2.3"
FAST_MODEL = "MiniMax-Hailuo-2.3-Fast"
# The emulator's own copy of the line-up, on purpose (the client's is hailuo_nb/models.py):
# model → (modes it takes, credits reserved per (quality, duration)).
MODELS = {
    MODEL: (("text", "image"), {("768p", 6): 20.0, ("768p", 10): 35.0, ("1080p", 6): 40.0}),
    FAST_MODEL: (("image",), {("768p", 6): 12.0, ("768p", 10): 21.0, ("1080p", 6): 24.0}),
}

_TUPLE_FIELDS = ("api_keys", "quota_keys", "blocked_words", "error_statuses",
                 "ignore_camera_words")
_RATE_FIELDS = ("task_jitter", "fail_rate", "error_rate", "drop_rate", "slow_rate",
                "drip_rate", "ignore_camera_rate")
_SECONDS_FIELDS = ("task_seconds", "slow_seconds", "link_ttl", "upload_ttl", "black_seconds",
                   "frozen_seconds")
IGNORE_MODES = ("static", "opposite")


@dataclass
class EmulatorConfig:
    host: str = "127.0.0.1"
    port: int = 0  # 0: a free port
    api_keys: tuple[str, ...] = ()  # empty: any non-empty Bearer key is accepted
    quota_keys: tuple[str, ...] = ()  # answered 402 insufficient_quota_error
    task_seconds: float = 4.0  # pending → completed
    task_jitter: float = 0.0  # ± fraction of task_seconds, seeded
    seed: int = 0
    rpm: int | None = None  # per key, POST /v1/videos/generations, sliding 60 s
    rpm_get: int | None = None  # per key, GET /v1/tasks
    fail_rate: float = 0.0  # tasks ending failed with service_error (retryable)
    blocked_words: tuple[str, ...] = ("nsfw",)  # → content_policy_violation
    error_rate: float = 0.0  # API requests answered with one of error_statuses
    error_statuses: tuple[int, ...] = (500, 502, 503)
    drop_rate: float = 0.0  # API requests dropped (POST after creating, GET before)
    slow_rate: float = 0.0
    slow_seconds: float = 1.0
    drip_rate: float = 0.0  # result downloads sent slowly: 4 KB every 0.1 s (a dripping link)
    link_ttl: float = 86400.0  # result links live this long after completion
    upload_ttl: float = 259200.0  # uploaded files: 72 h
    max_files: int = 100  # live uploads allowed; one more → 400, files code 40003
    video_path: str | None = None  # serve this file as every result instead of the sample
    # Results are clips rendered to match each request (duration, quality, camera commands:
    # see clips.py), unless video_path is set; False: the sample (or video_path) for all.
    render: bool = True
    # What the "model" gets wrong, so that the checks of its clips can be shown and tested:
    # a task that ignores its camera commands is rendered static or with the opposite moves.
    ignore_camera: str = "static"  # "static" or "opposite"
    ignore_camera_rate: float = 0.0  # share of tasks (seeded) that ignore their commands
    ignore_camera_words: tuple[str, ...] = ()  # a prompt holding one of these ignores them
    black_seconds: float = 0.0  # each new task's clip opens with this much black
    frozen_seconds: float = 0.0  # each new task's clip holds its middle frame this long
    max_tasks: int = 100_000  # past this, the oldest task is forgotten ("not found or expired")
    retry_after: int = 1  # seconds advised by injected/random 429 and 503 answers
    public_url: str | None = None  # the base of links it hands out, if not http://host:port
    verbose: bool = False  # log method, path and status of each request to stderr

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    def update(self, **changes) -> None:
        """Apply ``changes`` after checking all of them (nothing changes on an error)."""
        unknown = set(changes) - self.field_names()
        if unknown:
            raise TypeError(f"unknown emulator settings: {sorted(unknown)}")
        clean = {name: _clean(name, value) for name, value in changes.items()}
        for name, value in clean.items():
            setattr(self, name, value)

    def to_json(self) -> dict:
        return asdict(self)


def _clean(name: str, value):
    """The value checked and normalised (lists → tuples), or ValueError/TypeError."""
    if name in _TUPLE_FIELDS:
        if isinstance(value, (str, bytes, int)):  # one value, not a tuple of its letters
            value = (value,)
        value = tuple(value or ())
        if name == "error_statuses":
            value = tuple(int(v) for v in value)
            bad = [v for v in value if v not in ERROR_STATUSES]
            if bad:
                raise ValueError(f"error_statuses: {bad} not among {sorted(ERROR_STATUSES)}")
        elif not all(isinstance(v, str) for v in value):
            raise TypeError(f"{name} must be strings")
        return value
    if name in _RATE_FIELDS:
        value = float(value)
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {value}")
        return value
    if name in _SECONDS_FIELDS:
        value = float(value)
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value}")
        return value
    if name in ("rpm", "rpm_get"):
        if value is None:
            return None
        value = int(value)
        if value < 0:
            raise ValueError(f"{name} must be >= 0 or None")
        return value or None
    if name in ("seed", "port", "max_tasks", "retry_after", "max_files"):
        if isinstance(value, bool):
            raise TypeError(f"{name} must be an integer")
        value = int(value)
        if name == "max_tasks" and value < 1:
            raise ValueError("max_tasks must be >= 1")
        if name == "max_files" and value < 0:
            raise ValueError("max_files must be >= 0")
        if name == "retry_after" and value < 0:
            raise ValueError("retry_after must be >= 0")
        return value
    if name == "ignore_camera":
        if value not in IGNORE_MODES:
            raise ValueError(f"ignore_camera must be one of {', '.join(IGNORE_MODES)}, "
                             f"got {value!r}")
        return value
    if name in ("verbose", "render"):
        return bool(value)
    if name == "video_path":
        if value in (None, ""):
            return None
        if not os.path.isfile(value):
            raise ValueError(f"video_path: no such file: {value}")
        return os.fspath(value)
    if name == "public_url":
        return None if value in (None, "") else str(value)
    return value


ERROR_STATUSES = frozenset({400, 401, 402, 403, 404, 413, 429, 500, 502, 503})

FAULTS = (
    "400", "401", "402", "403", "404", "413", "429", "500", "502", "503",
    "html502", "drop_before", "drop_after", "garbage",
)  # plus "slow:<seconds>", and "429:<seconds>" / "503:<seconds>" for another Retry-After

ROUTES = (
    "POST /v1/videos/generations",
    "GET /v1/tasks",
    "POST /api/v1/files/upload/base64",
    "POST /api/v1/files/upload/stream",
    "GET /media",
)

_FAULT_RE = re.compile(r"^(?:slow:(?:\d+(?:\.\d*)?|\.\d+)|(?:429|503):\d+)$")


def check_fault(route: str, fault: str, times=1) -> tuple[str, str, int]:
    """``(route, fault, times)`` checked, or ValueError naming what is accepted.

    Checked when injected: an unknown fault queued would crash the request it hits.
    """
    if not isinstance(route, str) or not isinstance(fault, str):
        raise ValueError("route and fault must be strings")
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; one of: {', '.join(ROUTES)}")
    fault = str(fault)
    if fault not in FAULTS and not _FAULT_RE.match(fault):
        raise ValueError(
            f"unknown fault {fault!r}; one of: {', '.join(FAULTS)}, slow:<seconds>, "
            "429:<seconds>, 503:<seconds>"
        )
    try:
        count = int(times)
    except (TypeError, ValueError):
        count = -1
    if isinstance(times, bool) or count < 0:
        raise ValueError(f"times must be an integer >= 0, got {times!r}")
    if fault.startswith("slow:") and float(fault[5:]) >= 3600:
        raise ValueError(f"bad fault {fault!r}: slow:<seconds> takes less than an hour")
    return route, fault, count
