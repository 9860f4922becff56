"""The emulator's memory: tasks and their timelines, uploads, rate limits, faults, stats.

All randomness comes from one ``random.Random(seed)`` under one lock, so a run with
the same seed and the same requests makes the same ids and the same faults.
"""

from __future__ import annotations

import base64
import binascii
import math
import string
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from random import Random
from typing import ClassVar

from .config import MODEL, MODELS, ROUTES, EmulatorConfig, check_fault

_ID_ALPHABET = string.ascii_lowercase + string.digits
QUOTA_EXCEEDED = 40003  # the files API's business code for "file quota exceeded"


class Refusal(Exception):
    """An HTTP error answer with the documented envelope."""

    TYPES: ClassVar[dict[int, str]] = {
        400: "invalid_request_error",
        401: "authentication_error",
        402: "insufficient_quota_error",
        403: "permission_error",
        404: "not_found_error",
        413: "request_too_large_error",
        429: "rate_limit_error",
        500: "internal_server_error",
        502: "upstream_error",
        503: "service_unavailable_error",
    }

    def __init__(self, status: int, message: str, *, param: str | None = None,
                 fallback: str | None = None, retry_after: int | None = None,
                 code: str | int | None = None):
        super().__init__(message)
        # A business code where the docs give one (a string for the video API, a number
        # such as 40003 for the files API), else the status.
        self.code = code
        self.status = status
        self.message = message
        self.param = param
        self.fallback = fallback
        self.retry_after = retry_after

    def body(self) -> dict:
        error = {"code": self.code or self.status, "message": self.message,
                 "type": self.TYPES.get(self.status, "api_error")}
        if self.param:
            error["param"] = self.param
        if self.fallback:
            error["fallback_suggestion"] = self.fallback
        return {"error": error}


# The documented bodies of each status, for injected and random faults.
CANNED = {
    400: ("Invalid request parameters", None),
    401: ("Invalid or expired token", None),
    402: ("Insufficient quota", "https://evolink.ai/dashboard/billing"),
    403: ("Access denied", None),
    404: ("Task not found or expired", None),
    413: ("Request entity too large", None),
    429: ("Rate limit exceeded", "retry after {n} seconds"),
    500: ("Internal server error", "try again later"),
    502: ("Upstream service error", "try again later"),
    503: ("Service temporarily unavailable", "retry after {n} seconds"),
}


def canned_refusal(status: int, retry_after: int = 1, route: str | None = None) -> Refusal:
    """The documented answer for ``status``; 429 and 503 advise ``retry_after`` seconds."""
    message, fallback = CANNED[status]
    wait = None
    if fallback and "{n}" in fallback:
        wait = max(0, int(retry_after))
        fallback = fallback.format(n=wait)
    param = "task_id" if status in (400, 404) and route == "GET /v1/tasks" else None
    if status == 400 and route == "GET /v1/tasks":  # the documented 400 of task detail
        message = "Invalid task ID format"
    if status == 404 and route == "GET /media":
        message = "File not found or link expired"
    return Refusal(status, message, param=param, fallback=fallback, retry_after=wait)


@dataclass
class EmuTask:
    id: str
    created: float
    duration: float  # seconds from creation to completion
    body: dict
    key_hash: int
    outcome: str = "completed"  # or a failure business code
    fail_at: float = 1.0  # fraction of duration at which it fails
    polls: int = 0  # GET /v1/tasks/{id} answered for it
    downloads: int = 0  # GET/HEAD of its result link answered (any status but 404)
    # How its clip comes out, fixed at creation (later config changes leave it alone):
    ignored_camera: str | None = None  # None (obeyed), "static" or "opposite"
    black_seconds: float = 0.0
    frozen_seconds: float = 0.0

    @property
    def completes_at(self) -> float:
        return self.created + self.duration

    @property
    def mode(self) -> str:
        return "image-to-video" if self.body.get("image_urls") else "text-to-video"


@dataclass
class Upload:
    file_id: str
    name: str  # as served: <file_id>.<ext>
    mime: str
    data: bytes
    created: float
    expires: float
    original: str = ""  # the client's file name, if it sent one


@dataclass
class Stats:
    tasks_created: int = 0
    uploads: int = 0
    files_deleted: int = 0  # DELETE /api/v1/files/{file_id} that removed a file
    requests: int = 0
    by_route: dict = field(default_factory=lambda: defaultdict(int))
    by_status: dict = field(default_factory=lambda: defaultdict(int))

    dropped: int = 0  # connections closed without an answer (drop faults)
    open_connections: int = 0  # client connections open right now
    peak_open_connections: int = 0

    def __post_init__(self) -> None:
        for route in ROUTES:
            self.by_route.setdefault(route, 0)

    def snapshot(self) -> dict:
        return {
            "tasks_created": self.tasks_created,
            "uploads": self.uploads,
            "files_deleted": self.files_deleted,
            "requests": self.requests,
            "by_route": dict(self.by_route),
            "by_status": dict(self.by_status),
            "dropped": self.dropped,
            "open_connections": self.open_connections,
            "peak_open_connections": self.peak_open_connections,
        }

    def fresh(self) -> Stats:
        """Counters at zero; connection gauges carry over (they describe the present)."""
        new = Stats()
        new.open_connections = new.peak_open_connections = self.open_connections
        return new


class Clock:
    """The service's clock: the machine's, moved by ``advance`` (POST /_emulator/clock).

    Tests of anything timed (rate windows, link expiry, a service clock behind the
    user's) move this clock over HTTP instead of patching ``time`` in their own process,
    which would move it for the client, urllib3 and the engine too."""

    def __init__(self) -> None:
        self.offset = 0.0
        self._lock = threading.Lock()

    def time(self) -> float:
        return time.time() + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset

    def advance(self, seconds: float) -> float:
        """Move the clock by ``seconds`` (negative: back); returns the whole offset."""
        with self._lock:
            self.offset += float(seconds)
            return self.offset


class EmulatorState:
    def __init__(self, config: EmulatorConfig, video: bytes | None):
        self.config = config
        self.clock = Clock()
        self.lock = threading.RLock()
        self.random = Random(config.seed)
        self.tasks: dict[str, EmuTask] = {}
        self.uploads: dict[str, Upload] = {}
        self.stats = Stats()
        self.injected: dict[str, deque] = defaultdict(deque)
        self.windows: dict[tuple, deque] = defaultdict(deque)
        self.video = video

    # -- randomness / faults ---------------------------------------------------------------

    def roll(self, rate: float) -> bool:
        if rate <= 0:
            return False
        with self.lock:
            return self.random.random() < rate

    def random_id(self, length: int = 8) -> str:
        with self.lock:
            return "".join(self.random.choice(_ID_ALPHABET) for _ in range(length))

    def reseed(self, seed: int) -> None:
        with self.lock:
            self.random.seed(seed)

    def inject(self, route: str, fault: str, times: int = 1) -> None:
        route, fault, times = check_fault(route, fault, times)
        with self.lock:
            self.injected[route].extend([fault] * times)

    def pending_faults(self) -> dict:
        with self.lock:
            return {route: list(queue) for route, queue in self.injected.items() if queue}

    def take_fault(self, route: str, *, is_api: bool, method: str) -> str | None:
        """A one-shot injected fault, else one drawn from the configured rates."""
        with self.lock:
            queue = self.injected.get(route)
            if queue:
                return queue.popleft()
            if not is_api:
                return None
            cfg = self.config
            if self.roll(cfg.drop_rate):
                return "drop_after" if method == "POST" else "drop_before"
            if cfg.error_statuses and self.roll(cfg.error_rate):
                return str(self.random.choice(cfg.error_statuses))
            if self.roll(cfg.slow_rate):
                return f"slow:{cfg.slow_seconds}"
        return None

    def count(self, route: str) -> None:
        with self.lock:
            self.stats.requests += 1
            self.stats.by_route[route] += 1

    def count_status(self, status: int) -> None:
        with self.lock:
            self.stats.by_status[str(status)] += 1

    def count_drop(self) -> None:
        with self.lock:
            self.stats.dropped += 1

    def connection_opened(self) -> None:
        with self.lock:
            stats = self.stats
            stats.open_connections += 1
            stats.peak_open_connections = max(stats.peak_open_connections,
                                              stats.open_connections)

    def connection_closed(self) -> None:
        with self.lock:
            self.stats.open_connections = max(0, self.stats.open_connections - 1)

    # -- auth and limits -------------------------------------------------------------------

    def authenticate(self, header: str | None, *, quota: bool = True) -> str:
        """The key from an Authorization header, or a 401/402 refusal (the key is never
        repeated in an answer)."""
        scheme, _, key = (header or "").strip().partition(" ")
        if scheme.lower() != "bearer":
            raise Refusal(401, "Missing or malformed Authorization header: use 'Bearer <key>'")
        key = key.strip()
        if not key:
            raise Refusal(401, "Invalid or expired token")
        cfg = self.config
        if cfg.api_keys and key not in cfg.api_keys:
            raise Refusal(401, "Invalid or expired token")
        if quota and key in cfg.quota_keys:
            raise Refusal(402, "Insufficient quota",
                          fallback="https://evolink.ai/dashboard/billing")
        return key

    def check_rate(self, key: str, kind: str, limit: int | None) -> None:
        if not limit:
            return
        now = self.clock.monotonic()
        with self.lock:
            window = self.windows[(hash(key), kind)]
            while window and now - window[0] >= 60.0:
                window.popleft()
            if len(window) >= limit:
                wait = max(1, math.ceil(60.0 - (now - window[0])))
                raise Refusal(429, "Rate limit exceeded",
                              fallback=f"retry after {wait} seconds", retry_after=wait)
            window.append(now)

    # -- tasks ---------------------------------------------------------------------------

    def create_task(self, body: dict, key: str) -> EmuTask:
        cfg = self.config
        with self.lock:
            while len(self.tasks) >= max(1, cfg.max_tasks):  # forget the oldest, like expiry
                del self.tasks[next(iter(self.tasks))]
            now = self.clock.time()
            duration = cfg.task_seconds
            if cfg.task_jitter:
                duration *= 1 + self.random.uniform(-cfg.task_jitter, cfg.task_jitter)
            task_id = f"task-unified-{int(now)}-{self.random_id()}"
            while task_id in self.tasks:
                task_id = f"task-unified-{int(now)}-{self.random_id()}"
            task = EmuTask(task_id, now, max(0.0, duration), body, hash(key))
            prompt = str(body.get("prompt", "")).lower()
            if any(word.lower() in prompt for word in cfg.blocked_words if word):
                task.outcome, task.fail_at = "content_policy_violation", 0.3
            elif self.roll(cfg.fail_rate):
                task.outcome, task.fail_at = "service_error", 0.6
            told = any(word.lower() in prompt for word in cfg.ignore_camera_words if word)
            if told or self.roll(cfg.ignore_camera_rate):
                task.ignored_camera = cfg.ignore_camera
            task.black_seconds, task.frozen_seconds = cfg.black_seconds, cfg.frozen_seconds
            self.tasks[task_id] = task
            self.stats.tasks_created += 1
            return task

    def task_view(self, task: EmuTask, base_url: str, now: float | None = None) -> dict:
        """The task as GET /v1/tasks/{id} shows it at this moment."""
        now = self.clock.time() if now is None else now
        elapsed = now - task.created
        fraction = 1.0 if task.duration <= 0 else elapsed / task.duration
        view = {
            "created": int(task.created),
            "id": task.id,
            "model": task.body.get("model", MODEL),
            "object": "video.generation.task",
            "type": "video",
            "usage": usage_of(task.body),
            "task_info": {
                "can_cancel": False,
                "estimated_time": max(1, math.ceil(task.duration)),
                "video_duration": task.body.get("duration", 6),
            },
        }
        if task.outcome != "completed" and fraction >= task.fail_at:
            view.update(status="failed", progress=0, error=failure_body(task.outcome))
        elif fraction >= 1.0:
            view.update(status="completed", progress=100,
                        results=[f"{base_url}/media/results/{task.id}.mp4"])
        elif fraction < 0.15:
            view.update(status="pending", progress=0)
        else:
            rising = int((fraction - 0.15) / 0.85 * 100)
            view.update(status="processing", progress=max(1, min(99, rising)))
        return view

    def completed_at(self, task: EmuTask) -> float | None:
        if task.outcome != "completed":
            return None
        return task.completes_at

    def task_json(self, task: EmuTask, base_url: str) -> dict:
        """Everything known about a task, for assertions (never the key)."""
        view = self.task_view(task, base_url)
        return {
            **view,
            "prompt": task.body.get("prompt"),
            "body": task.body,
            "mode": task.mode,
            "outcome": task.outcome,
            "duration": task.duration,  # seconds pending → completed (not the video's)
            "total_seconds": task.duration,
            "created_at": task.created,
            "completes_at": task.completes_at,
            "fails_at": (task.created + task.duration * task.fail_at
                         if task.outcome != "completed" else None),
            "polls": task.polls,
            "downloads": task.downloads,
            "ignored_camera": task.ignored_camera,
            "black_seconds": task.black_seconds,
            "frozen_seconds": task.frozen_seconds,
        }

    # -- uploads ---------------------------------------------------------------------------

    def _prune_uploads(self, now: float) -> None:
        """Forget expired files for good (the caller holds the lock)."""
        for old in [n for n, u in self.uploads.items() if u.expires < now]:
            del self.uploads[old]

    def add_upload(self, data: bytes, name: str, mime: str, ext: str) -> Upload:
        """Store an upload, or a 400 refusal with the files API's code 40003 when the
        live files already number ``max_files`` (then nothing is stored)."""
        now = self.clock.time()
        with self.lock:
            self._prune_uploads(now)
            used, limit = len(self.uploads), self.config.max_files
            if used >= limit:
                raise Refusal(400, f"File quota exceeded: delete files first "
                                   f"({used} of {limit} used)", code=QUOTA_EXCEEDED)
            file_id = f"file-{int(now)}-{self.random_id(10)}"
            upload = Upload(file_id, f"{file_id}.{ext}", mime, data, now,
                            now + self.config.upload_ttl, original=name)
            self.uploads[upload.name] = upload
            self.stats.uploads += 1
            return upload

    def live_uploads(self) -> list[Upload]:
        """The unexpired, undeleted uploads, newest first."""
        with self.lock:
            self._prune_uploads(self.clock.time())
            return list(reversed(self.uploads.values()))

    def upload_quota(self) -> dict:
        """``{"used", "limit", "remaining"}`` in files."""
        with self.lock:
            self._prune_uploads(self.clock.time())
            used, limit = len(self.uploads), self.config.max_files
        return {"used": used, "limit": limit, "remaining": max(0, limit - used)}

    def delete_upload(self, file_id: str) -> Upload | None:
        """Remove a live upload by its file_id (its link then answers 404); None if there
        is no such live file."""
        with self.lock:
            self._prune_uploads(self.clock.time())
            for name, upload in self.uploads.items():
                if upload.file_id == file_id:
                    del self.uploads[name]
                    self.stats.files_deleted += 1
                    return upload
        return None

    def live_upload(self, name: str) -> Upload | None:
        with self.lock:
            upload = self.uploads.get(name)
        if upload is None or upload.expires < self.clock.time():
            return None
        return upload


FAILURE_MESSAGES = {
    "content_policy_violation": (
        "Content policy violation. Your request was blocked by the safety system; "
        "please modify the prompt or image and try again."
    ),
    "service_error": "Service error. The generation service failed; please try again later.",
}


def usage_of(body: dict) -> dict:
    """What the service reserves for a request (the provider's tool shows it as the cost)."""
    _modes, prices = MODELS.get(body.get("model"), MODELS[MODEL])
    credits = prices.get((body.get("quality", "768p"), body.get("duration", 6)), 0.0)
    return {"billing_rule": "per_call", "credits_reserved": credits, "user_group": "default"}


def failure_body(code: str) -> dict:
    return {"code": code, "message": FAILURE_MESSAGES.get(code, "Generation failed.")}


def decode_base64_payload(text: str) -> bytes:
    """Raw base64 or a data: URL → bytes (binascii.Error on junk).

    Line breaks and spaces inside are ignored (``base64.encodebytes`` and the ``base64``
    tool wrap at 76 columns), and the data: URL's ``;base64`` is case-insensitive
    (RFC 2397); anything else that is not base64 is refused.
    """
    if text[:5].lower() == "data:":
        header, _, text = text.partition(",")
        if ";base64" not in header.lower():
            raise binascii.Error("data URL is not base64")
    return base64.b64decode("".join(text.split()), validate=True)
