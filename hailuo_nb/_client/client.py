"""The only module that speaks HTTP to the service.

One ``requests.Session`` per client. Retry rules:
- connection refused / connect timeout: nothing was sent, so any method is retried
  (urllib3's ``Retry`` does this at the adapter level);
- GET: 429, 500, 502, 503, 504 and dropped/timed-out responses are retried with capped
  exponential backoff and jitter, honouring ``Retry-After`` (seconds or HTTP date) and
  "retry after N seconds" in the body's ``fallback_suggestion``, within a deadline;
- POST (submit, upload): only 429 and 503 (the service created nothing). After a
  timeout or a dropped response the task may exist: we raise and never send it again.
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
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
from urllib3.util.retry import Retry

from .._version import __version__
from ..errors import (
    APIError,
    ContentError,
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
from .transfer import JSON_LIMIT, part_path, read_body, save_video

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
    ``timeout`` is seconds (or a ``(connect, read)`` pair) for one HTTP call;
    ``deadline`` bounds all retries of one call.
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
        self.call_deadline = call_deadline  # one call, connect + whole answer
        self.download_deadline = download_deadline  # one download attempt, whole video
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._random = random.Random()
        self._session = self._make_session(auth=True)
        self._media = self._make_session(auth=False)

    # -- plumbing ---------------------------------------------------------------------

    def _make_session(self, *, auth: bool) -> requests.Session:
        session = requests.Session()
        # Connection-level retries only: nothing reached the server, so any method is safe.
        retry = Retry(
            total=None, connect=3, read=0, status=0, other=0, redirect=2,
            backoff_factor=0.2, allowed_methods=None, raise_on_status=False,
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

    def _error_from_response(self, response: requests.Response) -> APIError:
        status = response.status_code
        body: Any = None
        envelope: dict = {}
        try:
            body = response.json()
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

    def _request(
        self,
        method: str,
        url: str,
        *,
        retry: bool = True,
        idempotent: bool,
        session: requests.Session | None = None,
        **kwargs: Any,
    ) -> requests.Response:
        """One call with the retry rules above; returns a 2xx response or raises."""
        session = session or self._session
        statuses = GET_RETRY_STATUSES if idempotent else POST_RETRY_STATUSES
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                response = session.request(method, url, timeout=self._timeout(), **kwargs)
            except requests.RequestException as exc:
                sent = not _nothing_was_sent(exc)
                error = self._transport_error(method, url, exc, may_exist=sent and not idempotent)
                if not retry or (sent and not idempotent):
                    raise error from None
                delay = self._backoff(attempt)
            else:
                if response.status_code < 400:
                    return response
                error = self._error_from_response(response)
                response.close()
                if not retry or response.status_code not in statuses:
                    raise error
                delay = error.retry_after if error.retry_after is not None else self._backoff(
                    attempt
                )
            attempt += 1
            remaining = self.deadline - (time.monotonic() - started)
            if attempt > self.max_retries or delay > remaining:
                raise error
            time.sleep(max(0.0, delay))

    def _timeout(self) -> tuple[float, float]:
        """(connect, read) timeouts, never longer than one call's whole deadline."""
        connect, read = self.timeout if isinstance(self.timeout, tuple) else (
            self.timeout, self.timeout)
        return (min(connect, self.call_deadline), min(read, self.call_deadline))

    def _call(self, method: str, url: str, *, retry: bool, idempotent: bool,
              **kwargs: Any) -> tuple[requests.Response, Any]:
        """A JSON call: the response and its parsed body, read within ``call_deadline``.

        A body cut short or too slow is a TransportError: retried for a GET; for a POST
        the task may exist (the request was sent), so it is never sent again."""
        attempts = 0
        while True:
            deadline = time.monotonic() + self.call_deadline
            response = self._request(method, url, retry=retry, idempotent=idempotent,
                                     stream=True, **kwargs)
            with response:
                try:
                    body = read_body(response, deadline=deadline, limit=JSON_LIMIT,
                                     where=urlsplit(url).netloc)
                except TransportError as exc:
                    if not idempotent:
                        raise TransportError(
                            self._scrub(f"{exc} The request was sent: the task may exist — "
                                        "check `%hailuo history` before sending again."),
                            may_have_been_created=True) from None
                    attempts += 1
                    if not retry or attempts > self.max_retries:
                        raise
                    time.sleep(self._backoff(attempts))
                    continue
            return response, self._parse(body, response.status_code)

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
        else:
            text = f"Could not reach {where} ({what}): check the network or base_url, then retry."
        return TransportError(self._scrub(text), may_have_been_created=may_exist)

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
            image_url = self.upload_image(request.image_bytes())
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
        and only a verified video (type, container, length) gets the final name.

        The key is never sent to result links. A 404 means the link expired.
        """
        parts = urlsplit(str(url))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValidationError(f"Refusing to download a non-http(s) URL: {url!r}.")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        last: HailuoError | None = None
        for attempt in range(max(1, attempts)):
            try:
                return save_video(self._get_media, str(url), target, progress=progress,
                                  deadline=time.monotonic() + self.download_deadline)
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
                last = exc
            except (TransportError, ContentError) as exc:
                last = exc
            if attempt + 1 < attempts:
                time.sleep(self._backoff(attempt))
        assert last is not None
        raise last

    def _get_media(self, url: str, headers: dict[str, str]) -> requests.Response:
        try:
            return self._request("GET", url, retry=True, idempotent=True, session=self._media,
                                 stream=True, headers=headers)
        except requests.RequestException as exc:
            raise self._transport_error("GET", url, exc, may_exist=False) from None


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
