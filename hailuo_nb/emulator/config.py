"""Everything the emulator can be told: timing, keys, limits and faults."""

from __future__ import annotations

from dataclasses import dataclass, fields

MODEL = "MiniMax-Hailuo-2.3"


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
    link_ttl: float = 86400.0  # result links live this long after completion
    upload_ttl: float = 259200.0  # uploaded files: 72 h
    video_path: str | None = None  # serve this file as every result instead of the sample
    max_tasks: int = 100_000
    verbose: bool = False

    @classmethod
    def field_names(cls) -> set[str]:
        return {f.name for f in fields(cls)}

    def update(self, **changes) -> None:
        unknown = set(changes) - self.field_names()
        if unknown:
            raise TypeError(f"unknown emulator settings: {sorted(unknown)}")
        for name, value in changes.items():
            if name in ("api_keys", "quota_keys", "blocked_words", "error_statuses"):
                # One key given as a bare string is one key, not a tuple of its letters.
                if isinstance(value, (str, bytes, int)):
                    value = (value,)
                value = tuple(value or ())
            setattr(self, name, value)


FAULTS = (
    "400", "401", "402", "403", "404", "413", "429", "500", "502", "503",
    "html502", "drop_before", "drop_after", "garbage",
)  # plus "slow:<seconds>"

ROUTES = (
    "POST /v1/videos/generations",
    "GET /v1/tasks",
    "POST /api/v1/files/upload/base64",
    "POST /api/v1/files/upload/stream",
    "GET /media",
)

