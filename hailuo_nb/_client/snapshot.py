"""What the service says about a task at one moment, parsed tolerantly.

The service's JSON may lack fields, carry unknown statuses or odd types; none of
that may crash a notebook. Unknown statuses are kept as they are (so a user sees
them) and are not terminal.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..errors import is_retryable_task_code

NO_RESULT = "no_result"  # our code: completed by the service's word, with no result link
TERMINAL_STATUSES = frozenset({"completed", "failed"})
KNOWN_STATUSES = ("pending", "processing", "completed", "failed")


@dataclass(frozen=True)
class TaskFailure:
    """Why a task failed: the provider's business code and message."""

    code: str
    message: str
    retryable: bool

    @classmethod
    def from_json(cls, data: Any) -> TaskFailure:
        if isinstance(data, dict):
            code = _text(data.get("code")) or "unknown_error"
            message = _text(data.get("message")) or ""
        else:
            code, message = "unknown_error", _text(data) or ""
        return cls(code=code, message=message, retryable=is_retryable_task_code(code))

    def to_json(self) -> dict:
        return {"code": self.code, "message": self.message, "retryable": self.retryable}


@dataclass(frozen=True)
class TaskSnapshot:
    id: str
    status: str = "pending"
    progress: int = 0
    results: tuple[str, ...] = ()
    error: TaskFailure | None = None
    created: int | None = None
    model: str | None = None
    can_cancel: bool | None = None
    estimated_time: float | None = None
    video_duration: float | None = None
    credits: float | None = None  # usage.credits_reserved, when the service says it
    raw: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @classmethod
    def from_json(cls, data: Any, *, task_id: str | None = None) -> TaskSnapshot:
        """Build a snapshot from any JSON value; never raises on odd shapes."""
        if not isinstance(data, dict):
            data = {}
        status = (_text(data.get("status")) or "pending").strip().lower() or "pending"
        info = data.get("task_info") if isinstance(data.get("task_info"), dict) else {}
        results = data.get("results")
        if isinstance(results, str):
            results = [results]
        urls = tuple(str(u) for u in results if isinstance(u, str) and u) if isinstance(
            results, list
        ) else ()
        if not urls and isinstance(data.get("result_data"), list):  # the newer shape
            urls = tuple(str(item["video_url"]) for item in data["result_data"]
                         if isinstance(item, dict) and isinstance(item.get("video_url"), str)
                         and item["video_url"])
        usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
        credits = _number(usage.get("credits_reserved"))
        error = None
        if status == "failed" or (isinstance(data.get("error"), dict) and data["error"]):
            error = TaskFailure.from_json(data.get("error"))
        if status == "completed" and not urls:  # done with nothing to show: never "completed"
            status, error = "failed", TaskFailure(
                NO_RESULT, "the service reports the task completed but gave no result link, "
                "so there is no video", retryable=False)
        progress = _number(data.get("progress"))
        progress_int = 0 if progress is None else max(0, min(100, int(progress)))
        if status == "completed":
            progress_int = 100
        can_cancel = info.get("can_cancel")
        return cls(
            id=_text(data.get("id")) or task_id or "",
            status=status,
            progress=progress_int,
            results=urls,
            error=error,
            created=_int(data.get("created")),
            model=_text(data.get("model")),
            can_cancel=can_cancel if isinstance(can_cancel, bool) else None,
            estimated_time=_number(info.get("estimated_time")),
            video_duration=_number(info.get("video_duration")),
            credits=credits if credits is not None and credits >= 0 else None,
            raw=data,
        )


def _text(value: Any) -> str | None:
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number and abs(number) != float("inf") else None


def _int(value: Any) -> int | None:
    number = _number(value)
    return None if number is None else int(number)
