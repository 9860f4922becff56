"""The only module that speaks HTTP to the service.

One ``requests.Session`` per client and ONE retry loop (``_call``): send, read the whole
answer, decide whether another attempt may help (``_should_retry``) and how long to wait
(``_retry_delay``), all within one total ``deadline`` that covers connecting, status
retries and reading the body. urllib3 retries nothing on its own (it would multiply the
attempts). Retry rules:
- connection refused / connect timeout: nothing was sent, so any method is retried;
- GET: 429, 500, 502, 503, 504 and dropped/timed-out/cut answers are retried with capped
  exponential backoff and jitter, honouring ``Retry-After`` (seconds or HTTP date) and
  "retry after N seconds" in the body's ``fallback_suggestion``;
- POST (submit, upload): only 429 and 503 (the service created nothing). After a
  timeout or a dropped response the task may exist: we raise and never send it again.
A download has one deadline (``download_deadline``) over all its attempts, each going on
from where the last stopped (Range). When a deadline ends a call, the error says which
deadline it was and how to change it (``DeadlineError`` when no answer came in time).
The key goes only to the API and files hosts, never to result links, and is scrubbed
from every message.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import requests
import requests.auth
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from .._version import __version__
from ..errors import (
    APIError,
    ContentError,
    DeadlineError,
    HailuoError,
    NotFoundError,
    RateLimitError,
    ServerError,
    TransportError,
    ValidationError,
    advised_retry_seconds,
    api_error_for,
)
from ..request import GenerationRequest
from .credentials import resolve_api_key
from .endpoints import (
    check_task_id,
    resolve_urls,
)
from .files_api import FilesAPI
from .snapshot import TaskSnapshot
from .transfer import JSON_LIMIT, disk_error, part_path, read_body, save_video

GET_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
POST_RETRY_STATUSES = frozenset({429, 503})  # the service created nothing

ProgressCallback = Callable[[int, int | None], None]


def _retry_after_header(value: str | None) -> float | None:
    """Seconds from a Retry-After header (seconds or an HTTP date); None if absent or bad."""
    if not value:
        return None
    try:
        return max(0.0, float(Retry().parse_retry_after(value)))
    except Exception:  # urllib3 raises InvalidHeader on nonsense
        return None


def _no_full_stop(text: str) -> str:
    return text.rstrip().rstrip(".")


def _timed_out(exc: BaseException) -> bool:
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(exc, requests.Timeout) or isinstance(reason, ReadTimeoutError)


def _nothing_was_sent(exc: BaseException) -> bool:
    """True when a connection error happened before the request left this machine."""
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    return isinstance(exc, requests.ConnectTimeout) or isinstance(
        reason, (NewConnectionError, ConnectTimeoutError)
    )


class _BearerAuth(requests.auth.AuthBase):
    def __init__(self, key: str):
        self._key = key

    def __call__(self, request):
        request.headers["Authorization"] = f"Bearer {self._key}"
        return request

    def __repr__(self) -> str:  # never the key
        return "_BearerAuth(***)"


class _NoAuth(requests.auth.AuthBase):
    """Result links need no credentials: send none (and read no ~/.netrc)."""

    def __call__(self, request):
        request.headers.pop("Authorization", None)
        return request


class Client(FilesAPI):
    """A client of the Hailuo 2.3 video API (evolink.ai).

    ``api_key`` defaults to ``EVOLINK_API_KEY`` (or ``%hailuo login``); ``base_url``
    and ``files_url`` to ``HAILUO_BASE_URL`` / ``HAILUO_FILES_URL`` or the real service.
    ``deadline`` (seconds) bounds one call in all: every attempt, the waits between them,
    connecting and reading the answer. ``call_deadline`` caps one attempt within it, and
    ``timeout`` (seconds, or a ``(connect, read)`` pair) each socket wait within that.
    ``download_deadline`` bounds one download in all, however many attempts it takes.
    """

    def __init__(
        self,
        api_key: str | None = None,
        base_url: str | None = None,
        files_url: str | None = None,
        timeout: float | tuple[float, float] = (10.0, 60.0),
        *,
        max_retries: int = 5,
        deadline: float = 120.0,
        call_deadline: float = 30.0,
        download_deadline: float = 600.0,
        backoff_base: float = 0.5,
        backoff_cap: float = 30.0,
    ):
        self._follows_session = api_key is None  # reload_key() may pick up a new login
        self._api_key = resolve_api_key(api_key)
        self.base_url, self.files_url = resolve_urls(base_url, files_url)
        self.timeout = timeout
        self.max_retries = max_retries
        self.deadline = deadline
        self.call_deadline = call_deadline  # one attempt, connect + whole answer
        self.download_deadline = download_deadline  # one download, all its attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._random = random.Random()
        self._session = self._make_session(auth=True)
        self._media = self._make_session(auth=False)

    # -- plumbing ---------------------------------------------------------------------

    def _make_session(self, *, auth: bool) -> requests.Session:
        session = requests.Session()
        # No retries down here: the client's one loop counts every attempt against one
        # deadline (urllib3 counting its own would multiply them). Redirects only.
        retry = Retry(
            total=None, connect=0, read=0, status=0, other=0, redirect=2,
            allowed_methods=None, raise_on_status=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=16)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        session.headers["User-Agent"] = f"hailuo_nb/{__version__}"
        # An explicit auth object also stops requests from reading ~/.netrc, which would
        # otherwise replace the Bearer key with Basic credentials (or add them to links).
        session.auth = _BearerAuth(self._api_key) if auth else _NoAuth()
        return session

    def __repr__(self) -> str:
        return f"Client(base_url={self.base_url!r}, files_url={self.files_url!r})"

    def reload_key(self) -> bool:
        """Take the session's key again (after `%hailuo login`) when this client was made
        without an explicit one; True when it changed."""
        if not self._follows_session:
            return False
        try:
            key = resolve_api_key()
        except ValidationError:  # no key at all now: keep the one we have
            return False
        if key == self._api_key:
            return False
        self._api_key = key
        self._session.auth = _BearerAuth(key)
        return True

    def close(self) -> None:
        self._session.close()
        self._media.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        return str(text).replace(self._api_key, "***") if self._api_key else str(text)

    def _backoff(self, attempt: int) -> float:
        delay = min(self.backoff_cap, self.backoff_base * (2**attempt))
        return delay * (0.5 + self._random.random() / 2)

    def _error_from_response(self, response: requests.Response, raw: bytes) -> APIError:
        status = response.status_code
        body: Any = None
        envelope: dict = {}
        try:
            body = json.loads(raw.decode("utf-8", "replace")) if raw else None
        except ValueError:
            body = None
        if isinstance(body, dict):
            inner = body.get("error")
            if isinstance(inner, dict):
                envelope = inner
            elif "msg" in body or "success" in body:  # the files API's own envelope
                envelope = {"code": body.get("code"), "message": body.get("msg")}
            elif isinstance(inner, str):
                envelope = {"message": inner}
        envelope = {k: self._scrub(v) if isinstance(v, str) else v for k, v in envelope.items()}
        message = envelope.get("message")
        if not message:
            reason = response.reason or "error"
            message = f"{reason} (the answer was not the API's JSON error)"
        header_wait = _retry_after_header(response.headers.get("Retry-After"))
        fallback = envelope.get("fallback_suggestion")
        wait = header_wait if header_wait is not None else advised_retry_seconds(fallback)
        cls = api_error_for(status)
        return cls(
            self._scrub(str(message)),
            status=status,
            code=envelope.get("code"),
            type=envelope.get("type"),
            param=envelope.get("param"),
            fallback_suggestion=self._scrub(fallback) if fallback else None,
            retry_after=wait,
        )

    # -- the one retry loop ------------------------------------------------------------
    # One loop for every JSON call: send, read the whole answer, decide whether to try
    # again and how long to wait, all inside ONE total deadline (connecting, status
    # retries and reading the body). Each read is bounded by the time left, and a body that
    # drips is checked against the deadline between chunks.

    def _call(self, method: str, url: str, *, retry: bool, idempotent: bool,
              **kwargs: Any) -> tuple[requests.Response, Any]:
        """A JSON call: the response and its parsed body, all attempts within ``deadline``."""
        ends = time.monotonic() + self.deadline
        attempt = 0
        while True:
            started = time.monotonic()
            try:
                response = self._send(self._session, method, url, ends,
                                      idempotent=idempotent, **kwargs)
                with response:
                    body = read_body(response, deadline=min(ends, started + self.call_deadline),
                                     limit=JSON_LIMIT, where=urlsplit(url).netloc)
                if response.status_code < 400:
                    return response, self._parse(body, response.status_code)
                error: HailuoError = self._error_from_response(response, body)
            except TransportError as exc:
                if not idempotent and self._was_sent(exc) and not exc.may_have_been_created:
                    exc = self._maybe_created(exc)  # the answer was cut short or too slow
                error = exc
            if not retry or not self._should_retry(error, idempotent=idempotent):
                raise self._past_deadline(error, ends)
            attempt += 1
            delay = self._retry_delay(attempt, error)
            if attempt > self.max_retries:
                raise error
            if delay >= ends - time.monotonic():
                raise self._past_deadline(error, ends, gave_up=True, tries=attempt)
            time.sleep(max(0.0, delay))

    def _send(self, session: requests.Session, method: str, url: str, ends: float, *,
              idempotent: bool = True, **kwargs: Any) -> requests.Response:
        """One attempt: the response with its headers (body not read), or TransportError."""
        left = ends - time.monotonic()
        if left <= 0:
            raise TransportError(f"No answer from {urlsplit(url).netloc} in time")
        try:
            return session.request(method, url, timeout=self._timeout(left), stream=True,
                                   **kwargs)
        except requests.RequestException as exc:
            sent = not _nothing_was_sent(exc)
            error = self._transport_error(method, url, exc, may_exist=sent and not idempotent)
            error.sent = sent  # type: ignore[attr-defined]
            raise error from None

    @staticmethod
    def _was_sent(exc: TransportError) -> bool:
        # A body cut short or too slow was answered, so the request was sent.
        return getattr(exc, "sent", True)

    def _maybe_created(self, exc: TransportError) -> TransportError:
        return TransportError(
            self._scrub(f"{exc} The request was sent: the task may have been created anyway "
                        "— check `hailuo_nb.history()` or `%hailuo resume` before sending "
                        "again."), may_have_been_created=True)

    @staticmethod
    def _should_retry(error: HailuoError, *, idempotent: bool) -> bool:
        """Whether another attempt may help and cannot do harm."""
        if isinstance(error, TransportError):
            # A POST that reached the server may have created the task: never twice.
            return not error.may_have_been_created and (idempotent or not getattr(
                error, "sent", True))
        if isinstance(error, APIError):
            statuses = GET_RETRY_STATUSES if idempotent else POST_RETRY_STATUSES
            return error.status in statuses
        return False

    def _retry_delay(self, attempt: int, error: HailuoError) -> float:
        """The server's advice (Retry-After, "retry after N seconds"), else backoff."""
        advised = getattr(error, "retry_after", None)
        return advised if advised is not None else self._backoff(attempt - 1)

    def _past_deadline(self, error: HailuoError, ends: float, *,
                       knob: str = "deadline", gave_up: bool = False,
                       tries: int = 0) -> HailuoError:
        """``error`` as it is, or — when the total deadline ended the call — one line with
        the reason, what the deadline was and how to change it."""
        budget = getattr(self, knob)
        over = time.monotonic() >= ends - 0.05
        if not (over or gave_up):
            return error
        how = f"Client({knob}=…) to wait longer"
        if isinstance(error, APIError):  # the server's own answer stays the error's type
            advised = error.retry_after
            if advised is not None and advised >= ends - time.monotonic():
                error.gave_up = (f"it asks to retry after {advised:g} s, past the {budget:g} s "
                                 f"deadline: retry later, or {how}")
            else:
                after = f"after {tries} tries " if tries > 1 else ""
                error.gave_up = (f"still failing {after}within the {budget:g} s deadline: retry "
                                 f"later, or {how}")
            error.args = (error._line(),)
            return error
        if isinstance(error, TransportError) and not error.may_have_been_created:
            reason = getattr(error, "reason", "") or _no_full_stop(str(error))
            return DeadlineError(self._scrub(f"{reason}: gave up at the {budget:g} s deadline "
                                             f"— retry later, or {how}."), deadline=budget)
        return error

    def _timeout(self, left: float | None = None) -> tuple[float, float]:
        """(connect, read) timeouts: never past one attempt's cap or the time left."""
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (
            self.timeout, self.timeout)
        cap = self.call_deadline if left is None else min(self.call_deadline, left)
        return (max(0.01, min(connect, cap)), max(0.01, min(read, cap)))

    def _transport_error(
        self, method: str, url: str, exc: BaseException, *, may_exist: bool
    ) -> TransportError:
        what = type(exc).__name__
        where = urlsplit(url).netloc
        if may_exist:
            text = (
                f"No answer from {where} after sending the request ({what}): the task may "
                "have been created anyway — check `hailuo_nb.history()` or `%hailuo resume` "
                "before submitting again."
            )
        elif not _nothing_was_sent(exc) and _timed_out(exc):
            text = f"No answer from {where} ({what}): the server is slow or stuck; retry later."
        else:
            text = f"Could not reach {where} ({what}): check the network or base_url, then retry."
        error = TransportError(self._scrub(text), may_have_been_created=may_exist)
        error.reason = text.split(" (", 1)[0]  # type: ignore[attr-defined]  # what, not advice
        return error

    def _parse(self, body: bytes, status: int) -> Any:
        try:
            text = body.decode("utf-8")
            if self._api_key and self._api_key in text:  # a server echoing the token
                text = text.replace(self._api_key, "***")
            return json.loads(text)
        except ValueError:
            what = "an empty answer" if not body.strip() else "something that is not JSON"
            raise ServerError(f"The service answered with {what}", status=status) from None

    # -- the API ------------------------------------------------------------------------

    def submit(self, request: GenerationRequest, *, retry: bool = True,
               image_url: str | None = None) -> TaskSnapshot:
        """Create a generation task. A local image is uploaded first, unless ``image_url``
        says where an earlier upload of it lives."""
        if not isinstance(request, GenerationRequest):
            raise ValidationError(
                "submit() takes a GenerationRequest: GenerationRequest(prompt=...).",
                field="request",
            )
        if image_url is None and request.image_kind in ("path", "bytes"):
            image_url = self.upload_image(request.image_bytes(), request.image_path)
        body = request.to_json(image_url=image_url)
        response, answer = self._call(
            "POST",
            f"{self.base_url}/v1/videos/generations",
            json=body,
            retry=retry,
            idempotent=False,
        )
        snapshot = TaskSnapshot.from_json(answer)
        if not snapshot.id:
            raise ServerError("The service accepted the request but returned no task id",
                              status=response.status_code)
        return snapshot

    def get_task(self, task_id: str, *, retry: bool = True) -> TaskSnapshot:
        """The task's current state."""
        task_id = check_task_id(task_id)
        _response, answer = self._call(
            "GET",
            f"{self.base_url}/v1/tasks/{quote(task_id, safe='')}",
            retry=retry,
            idempotent=True,
        )
        if not isinstance(answer, dict) or not answer.get("status"):
            what = "an object with no status" if isinstance(answer, dict) else (
                f"{json.dumps(answer)[:20]} instead of the task's JSON")
            raise ContentError(f"The service answered {what} for task {task_id}; asked again.")
        return TaskSnapshot.from_json(answer, task_id=task_id)

    def download(
        self,
        url: str,
        path: str | os.PathLike,
        progress: ProgressCallback | None = None,
        *,
        attempts: int = 4,
    ) -> Path:
        """Save ``url`` to ``path``: a cut download goes on from where it stopped (Range),
        and only a verified video (type, container, length) gets the final name. All
        attempts share ONE deadline, ``download_deadline``.

        The key is never sent to result links. A 404 means the link expired. A file that
        can never be written (no space, no permission) leaves no part file behind.
        """
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"Refusing to download a non-http(s) URL: {url!r}.")
        target = Path(path)
        ends = time.monotonic() + self.download_deadline
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise disk_error(exc, target, None) from None
        attempt = 0
        while True:
            try:
                return save_video(lambda u, headers: self._get_media(u, headers, ends),
                                  str(url), target, progress=progress, deadline=ends)
            except NotFoundError as exc:
                raise NotFoundError(
                    "The result link is gone (links expire 24 h after completion)",
                    status=404, code=exc.code, type=exc.type,
                ) from None
            except APIError as exc:
                if exc.status == 416:  # our part file is longer than the video: start over
                    part_path(target).unlink(missing_ok=True)
                elif not isinstance(exc, (ServerError, RateLimitError)):
                    raise
                error: HailuoError = exc
            except (TransportError, ContentError) as exc:
                error = exc
            attempt += 1
            if attempt >= max(1, attempts):
                raise self._past_deadline(error, ends, knob="download_deadline")
            delay = self._retry_delay(attempt, error)
            if delay >= ends - time.monotonic():
                raise self._past_deadline(error, ends, knob="download_deadline",
                                          gave_up=True, tries=attempt)
            time.sleep(max(0.0, delay))

    def _get_media(self, url: str, headers: dict[str, str], ends: float) -> requests.Response:
        """One request for a result link (no key); an HTTP error is raised as its APIError."""
        response = self._send(self._media, "GET", url, ends, headers=headers)
        if response.status_code < 400:
            return response
        with response:
            try:
                body = read_body(response, deadline=ends, limit=JSON_LIMIT,
                                 where=urlsplit(url).netloc)
            except (TransportError, ContentError):
                body = b""
        raise self._error_from_response(response, body)


_clients: dict[tuple, Client] = {}
_clients_lock = threading.Lock()


def default_client(base_url: str | None = None) -> Client:
    """A client from the settings and environment, one per (key, URLs) in a process."""
    key = resolve_api_key()
    base, files = resolve_urls(base_url)
    cache_key = (hash(key), base, files)
    with _clients_lock:
        client = _clients.get(cache_key)
        if client is None:
            client = _clients[cache_key] = Client(base_url=base, files_url=files)
        return client


def drop_default_clients() -> None:
    """Drop the cached clients (after a logout, and between tests)."""
    with _clients_lock:
        _clients.clear()
