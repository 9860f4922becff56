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

from .config import FAULTS, MODEL, ROUTES, EmulatorConfig

_ID_ALPHABET = string.ascii_lowercase + string.digits


class Refusal(Exception):
    """An HTTP error answer with the documented envelope."""

    TYPES = {
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
                 fallback: str | None = None, retry_after: int | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.param = param
        self.fallback = fallback
        self.retry_after = retry_after

    def body(self) -> dict:
        error = {"code": self.status, "message": self.message,
                 "type": self.TYPES.get(self.status, "api_error")}
        if self.param:
            error["param"] = self.param
        if self.fallback:
            error["fallback_suggestion"] = self.fallback
        return {"error": error}


# The documented bodies of each status, for injected faults.
CANNED = {
    400: ("Invalid request parameters", None, None),
    401: ("Invalid or expired token", None, None),
    402: ("Insufficient quota", "https://evolink.ai/dashboard/billing", None),
    403: ("Access denied", None, None),
    404: ("Task not found or expired", None, None),
    413: ("Request entity too large", None, None),
    429: ("Rate limit exceeded", "retry after 1 seconds", 1),
    500: ("Internal server error", "try again later", None),
    502: ("Upstream service error", "try again later", None),
    503: ("Service temporarily unavailable", "retry after 1 seconds", 1),
}


def check_fault(route: str, fault: str) -> None:
    """ValueError unless ``route`` is one of ROUTES and ``fault`` one of FAULTS or slow:<s>.

    Checked when injected: an unknown fault used to be queued and then crash the
    request it was meant for (no answer at all), an unknown route never fired.
    """
    if route not in ROUTES:
        raise ValueError(f"unknown route {route!r}; use one of {list(ROUTES)}")
    if not isinstance(fault, str):
        raise ValueError(f"fault must be a string, got {fault!r}")
    if fault.startswith("slow:"):
        try:
            seconds = float(fault[len("slow:"):])
        except ValueError:
            seconds = -1.0
        if not (0 <= seconds < 3600):
            raise ValueError(f"bad fault {fault!r}: use slow:<seconds>, e.g. slow:1.5")
        return
    if fault not in FAULTS:
        raise ValueError(f"unknown fault {fault!r}; use one of {list(FAULTS)} or slow:<seconds>")


def canned_refusal(status: int) -> Refusal:
    message, fallback, retry_after = CANNED[status]
    param = "task_id" if status == 404 else None
    return Refusal(status, message, param=param, fallback=fallback, retry_after=retry_after)


@dataclass
class EmuTask:
    id: str
    created: float
    duration: float  # seconds from creation to completion
    body: dict
    key_hash: int
    outcome: str = "completed"  # or a failure business code
    fail_at: float = 1.0  # fraction of duration at which it fails

    @property
    def mode(self) -> str:
        return "image-to-video" if self.body.get("image_urls") else "text-to-video"


@dataclass
class Upload:
    file_id: str
    name: str
    mime: str
    data: bytes
    created: float
    expires: float


@dataclass
class Stats:
    tasks_created: int = 0
    uploads: int = 0
    requests: int = 0
    by_route: dict = field(default_factory=lambda: defaultdict(int))
    by_status: dict = field(default_factory=lambda: defaultdict(int))

    def snapshot(self) -> dict:
        return {
            "tasks_created": self.tasks_created,
            "uploads": self.uploads,
            "requests": self.requests,
            "by_route": dict(self.by_route),
            "by_status": dict(self.by_status),
        }


class EmulatorState:
    def __init__(self, config: EmulatorConfig, video: bytes | None):
        self.config = config
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

    def inject(self, route: str, fault: str, times: int = 1) -> None:
        check_fault(route, fault)
        times = int(times)
        if times < 0:
            raise ValueError(f"times must be >= 0, got {times}")
        with self.lock:
            self.injected[route].extend([fault] * times)

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
            if self.roll(cfg.error_rate) and cfg.error_statuses:
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

    # -- auth and limits -------------------------------------------------------------------

    def authenticate(self, header: str | None) -> str:
        """The key from an Authorization header, or a 401/402 refusal."""
        if not header or not header.startswith("Bearer "):
            raise Refusal(401, "Missing or malformed Authorization header: use 'Bearer <key>'")
        key = header[len("Bearer "):].strip()
        if not key:
            raise Refusal(401, "Invalid or expired token")
        cfg = self.config
        if cfg.api_keys and key not in cfg.api_keys:
            raise Refusal(401, "Invalid or expired token")
        if key in cfg.quota_keys:
            raise Refusal(402, "Insufficient quota",
                          fallback="https://evolink.ai/dashboard/billing")
        return key

    def check_rate(self, key: str, kind: str, limit: int | None) -> None:
        if not limit:
            return
        now = time.monotonic()
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
            if len(self.tasks) >= cfg.max_tasks:
                raise Refusal(503, "Task capacity reached", fallback="retry after 30 seconds",
                              retry_after=30)
            now = time.time()
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
            self.tasks[task_id] = task
            self.stats.tasks_created += 1
            return task

    def task_view(self, task: EmuTask, base_url: str, now: float | None = None) -> dict:
        """The task as GET /v1/tasks/{id} shows it at this moment."""
        now = time.time() if now is None else now
        elapsed = now - task.created
        fraction = 1.0 if task.duration <= 0 else elapsed / task.duration
        view = {
            "created": int(task.created),
            "id": task.id,
            "model": MODEL,
            "object": "video.generation.task",
            "type": "video",
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
            view.update(status="processing", progress=max(1, min(99, int(fraction * 100))))
        return view

    def completed_at(self, task: EmuTask) -> float | None:
        if task.outcome != "completed":
            return None
        return task.created + task.duration

    # -- uploads ---------------------------------------------------------------------------

    def add_upload(self, data: bytes, name: str, mime: str, ext: str) -> Upload:
        now = time.time()
        with self.lock:
            file_id = f"file-{int(now)}-{self.random_id(10)}"
            upload = Upload(file_id, f"{file_id}.{ext}", mime, data, now,
                            now + self.config.upload_ttl)
            self.uploads[upload.name] = upload
            self.stats.uploads += 1
            return upload

    def live_upload(self, name: str) -> Upload | None:
        with self.lock:
            upload = self.uploads.get(name)
        if upload is None or upload.expires < time.time():
            return None
        return upload


FAILURE_MESSAGES = {
    "content_policy_violation": (
        "Content policy violation. Your request was blocked by the safety system; "
        "please modify the prompt or image and try again."
    ),
    "service_error": "Service error. The generation service failed; please try again later.",
}


def failure_body(code: str) -> dict:
    return {"code": code, "message": FAILURE_MESSAGES.get(code, "Generation failed.")}


def decode_base64_payload(text: str) -> bytes:
    """Raw base64 or a data: URL → bytes (binascii.Error on junk)."""
    if text.startswith("data:"):
        header, _, text = text.partition(",")
        if ";base64" not in header:
            raise binascii.Error("data URL is not base64")
    return base64.b64decode(text.strip(), validate=True)
