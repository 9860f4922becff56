"""One exception hierarchy for everything that can go wrong.

Every ``str()`` is a single line that says what happened and what to do next.
No exception ever carries the API key: the client scrubs it before raising.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = [
    "RETRYABLE_TASK_CODES",
    "USER_FIXABLE_TASK_CODES",
    "APIError",
    "AuthenticationError",
    "BadRequestError",
    "ContentError",
    "DeadlineError",
    "HailuoError",
    "InsufficientQuotaError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestTooLargeError",
    "ServerError",
    "TaskFailedError",
    "TaskTimeoutError",
    "TransportError",
    "ValidationError",
    "advised_retry_seconds",
    "api_error_for",
]

# Business codes of failed tasks (FACTS.md): the user can fix these by changing the request...
USER_FIXABLE_TASK_CODES = frozenset(
    {
        "content_policy_violation",
        "invalid_parameters",
        "image_processing_error",
        "image_dimension_mismatch",
        "request_cancelled",
    }
)
# ...and these are worth submitting again later, unchanged.
RETRYABLE_TASK_CODES = frozenset(
    {
        "generation_failed_no_content",
        "service_error",
        "generation_timeout",
        "resource_exhausted",
        "quota_exceeded",
        "service_unavailable",
        # Seen in the provider's own tools after the first release (FACTS.md):
        "model_unavailable",
        "upstream_error",
        "rate_limited",
        "unknown_error",
    }
)

_TASK_CODE_ADVICE = {
    "content_policy_violation": "rephrase the prompt (or change the image) and submit again",
    "invalid_parameters": "check quality, duration and image against the API limits",
    "image_processing_error": "use a JPEG/PNG/WebP image, short edge > 300 px, aspect 2:5..5:2",
    "image_dimension_mismatch": "use an image with aspect ratio between 2:5 and 5:2",
    "request_cancelled": "the task was cancelled; submit it again if you still want it",
    "resource_not_found": "the task or its input no longer exists; submit again",
    "model_unavailable": "the model is not available right now; submit again later",
    "upstream_error": "the provider's upstream failed; submit again in a while",
    "rate_limited": "the provider is rate-limiting; submit again in a minute",
    "unknown_error": "the provider gave no reason; submit again",
    "no_result": "submit the same request again (resume() asks the service once more)",
}


class HailuoError(Exception):
    """Base class of every error raised by hailuo_nb."""


class ValidationError(HailuoError, ValueError):
    """The input breaks the API contract; nothing was sent."""

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.field = field


class TransportError(HailuoError):
    """The request could not be completed (connection refused, reset, timed out).

    ``may_have_been_created`` is True when a POST may have reached the server, so a
    task may exist even though no answer arrived.
    """

    def __init__(self, message: str, *, may_have_been_created: bool = False):
        super().__init__(message)
        self.may_have_been_created = may_have_been_created


class DeadlineError(TransportError, TimeoutError):
    """One call (all its attempts, connecting and reading included) ran out of its total
    deadline; ``deadline`` is that budget in seconds."""

    def __init__(self, message: str, *, deadline: float, may_have_been_created: bool = False):
        super().__init__(message, may_have_been_created=may_have_been_created)
        self.deadline = deadline


class ContentError(HailuoError):
    """A server's answer is not what it must be: not JSON, too large, not a video."""


class DownloadError(HailuoError):
    """The finished video could not be saved to disk."""


class FrameError(HailuoError):
    """A file that cannot be decoded as a video."""


class MissingAPIKeyError(ValidationError):
    """No key anywhere: nothing was sent."""


class TaskTimeoutError(HailuoError, TimeoutError):
    """Waiting for a task gave up; the task itself goes on on the server."""

    def __init__(self, message: str, *, task_id: str | None = None):
        super().__init__(message)
        self.task_id = task_id



class TaskFailedError(HailuoError):
    """The server reports the task as failed; carries the provider's own words."""

    def __init__(
        self,
        task_id: str | None,
        code: str | None,
        message: str | None,
        *,
        retryable: bool | None = None,
    ):
        self.task_id = task_id
        self.code = code or "unknown_error"
        self.provider_message = message or ""
        self.retryable = is_retryable_task_code(self.code) if retryable is None else retryable
        super().__init__(self._line())

    @property
    def message(self) -> str:
        return self.provider_message

    def _line(self) -> str:
        said = self.provider_message.strip() or "no message from the provider"
        if self.retryable:
            advice = "this is on the service's side: submit the same request again later"
        else:
            advice = _TASK_CODE_ADVICE.get(self.code, "check the request and submit again")
        who = f"Task {self.task_id} failed" if self.task_id else "Task failed"
        return f"{who} ({self.code}): {said} — {advice}."


def is_retryable_task_code(code: str | None) -> bool:
    return (code or "") in RETRYABLE_TASK_CODES


_RETRY_AFTER_RE = re.compile(r"retry\s+after\s+(\d+(?:\.\d+)?)\s*(?:s\b|sec|second)", re.I)


def advised_retry_seconds(text: str | None) -> float | None:
    """Read "retry after N seconds" from a provider's fallback_suggestion."""
    if not text:
        return None
    match = _RETRY_AFTER_RE.search(str(text))
    return float(match.group(1)) if match else None


class APIError(HailuoError):
    """The service answered with an HTTP error (the documented envelope)."""

    status: int | None = None
    advice = "check the request and try again"

    def __init__(
        self,
        message: str | None = None,
        *,
        status: int | None = None,
        code: Any = None,
        type: str | None = None,
        param: str | None = None,
        fallback_suggestion: str | None = None,
        retry_after: float | None = None,
    ):
        if status is not None:
            self.status = status
        self.code = code
        self.type = type
        self.message = (message or "").strip()
        self.param = param
        self.fallback_suggestion = fallback_suggestion
        self.retry_after = retry_after
        self.gave_up = ""  # set by the client when retries ran out of their deadline
        super().__init__(self._line())

    def _what_to_do(self) -> str:
        return self.advice

    def _line(self) -> str:
        said = self.message or "no message"
        parts = [f"HTTP {self.status}" if self.status else "API error"]
        if self.type:
            parts.append(self.type)
        head = " ".join(parts)
        where = f" (param: {self.param})" if self.param else ""
        return f"{head}: {said}{where} — {self.gave_up or self._what_to_do()}."


class BadRequestError(APIError):
    status = 400
    advice = "the service refused the request as invalid: fix the named parameter"


class AuthenticationError(APIError):
    status = 401
    advice = (
        "set a valid key with the EVOLINK_API_KEY environment variable or `%hailuo login` "
        "(keys: https://evolink.ai/dashboard/keys)"
    )


class InsufficientQuotaError(APIError):
    status = 402

    def _what_to_do(self) -> str:
        where = self.fallback_suggestion or "https://evolink.ai/dashboard/billing"
        return f"your balance is too low: recharge at {where}"


class PermissionDeniedError(APIError):
    status = 403
    advice = "this key may not use this model or resource: check the key's permissions"


class NotFoundError(APIError):
    status = 404
    advice = "the task id is wrong or the task expired: check the id (tasks and links expire)"


class RequestTooLargeError(APIError):
    status = 413
    advice = "the request body is too large: use a smaller image (at most 20 MB)"


class RateLimitError(APIError):
    status = 429

    def _what_to_do(self) -> str:
        wait = self.retry_after or advised_retry_seconds(self.fallback_suggestion)
        if wait:
            return f"too many requests: retried automatically after {wait:g} s; slow down"
        return "too many requests: wait a minute and try again"


class ServerError(APIError):
    """500, 502, 503, 504 and any other 5xx: the service's side."""

    status = 500

    def _what_to_do(self) -> str:
        wait = self.retry_after or advised_retry_seconds(self.fallback_suggestion)
        later = f"after {wait:g} s" if wait else "in a moment"
        return f"the service had a problem: try again {later}"


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    402: InsufficientQuotaError,
    403: PermissionDeniedError,
    404: NotFoundError,
    413: RequestTooLargeError,
    429: RateLimitError,
}


def api_error_for(status: int) -> type[APIError]:
    """The exception class for an HTTP status."""
    if status >= 500:
        return ServerError
    return _BY_STATUS.get(status, APIError)
