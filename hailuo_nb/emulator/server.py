"""The emulator's HTTP server: the video API, the files API, media with Range, control.

Stdlib only (``http.server``), one daemon thread per connection, HTTP/1.1 keep-alive.
It never logs a key: nothing by default; with ``verbose`` the method, the path (no
query string) and the status of each request, nothing else.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, replace
from email.parser import BytesParser
from email.policy import HTTP
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from . import _imageprobe
from .config import MODEL, EmulatorConfig
from .state import EmulatorState, Refusal, canned_refusal, decode_base64_payload

MAX_BODY = 30 * 1024 * 1024  # the video API's limit: larger → 413
MAX_UPLOAD_BODY = 64 * 1024 * 1024  # the files API's (base64 of a 20 MB image fits)
DISCARD_LIMIT = 256 * 1024 * 1024  # a larger body is not even read: answer 413 and close
SAMPLE_VIDEO = Path(__file__).parent / "assets" / "sample.mp4"
TASK_ID_RE = re.compile(r"^task-unified-\d{1,20}-[A-Za-z0-9]{1,64}$")
ALLOWED_FIELDS = ("model", "prompt", "image_urls", "quality", "duration", "model_params")
MODEL_PARAMS = ("prompt_optimizer", "fast_pretreatment")
CHUNK = 256 * 1024
SMALL = 64 * 1024  # bodies up to this go out in the same write as the headers
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}

API_ROUTES = ("POST /v1/videos/generations", "GET /v1/tasks")
FILES_ROUTES = ("POST /api/v1/files/upload/base64", "POST /api/v1/files/upload/stream")

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
GARBAGE = b'{"created": 17571\x00\xff<<truncated, not JSON>>'


class _Disconnected(Exception):
    """The client went away in the middle of its request."""


@dataclass
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict | None = None
    file: Path | None = None  # stream this file's byte range instead of body
    start: int = 0
    end: int = 0  # inclusive, for file/body ranges

    @classmethod
    def json(cls, status: int, data: Any, headers: dict | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json", headers)


def refusal_response(refusal: Refusal) -> Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after is not None else None
    return Response.json(refusal.status, refusal.body(), headers)


def files_refusal(status: int, message: str, headers: dict | None = None) -> Response:
    return Response.json(status, {"success": False, "code": status, "msg": message}, headers)


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() closes the connections itself; never wait on idle clients
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, config: EmulatorConfig, state: EmulatorState | None = None):
        self.config = config
        self.state = state if state is not None else EmulatorState(config, None)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        if ":" in config.host:
            self.address_family = socket.AF_INET6
        super().__init__((config.host, config.port), Handler)
        self.port = self.server_address[1]

    @property
    def base_url(self) -> str:
        if self.config.public_url:
            return self.config.public_url.rstrip("/")
        host = self.config.host
        if host in ("", "0.0.0.0"):  # noqa: S104 - naming the wildcard, not binding it
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    @property
    def video_file(self) -> Path:
        return Path(self.config.video_path) if self.config.video_path else SAMPLE_VIDEO

    def process_request_thread(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        self.state.connection_opened()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections.discard(request)
            self.state.connection_closed()

    def close_connections(self) -> None:
        """Wake every connection thread (idle keep-alive ones included) so it ends."""
        with self._connections_lock:
            live = list(self._connections)
        for sock in live:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request, client_address) -> None:
        # A client that vanished mid-answer is ordinary; anything else is a bug worth
        # seeing, but without the request (which may carry a key) in the output.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError, OSError)):
            return
        sys.stderr.write(f"emulator: internal error: {type(exc).__name__}: {exc}\n")

    def is_own_upload(self, url: str) -> str | None:
        """The upload's name when ``url`` points at this emulator's /media/uploads/."""
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            return None
        if not parts.path.startswith("/media/uploads/"):
            return None
        name = unquote(parts.path[len("/media/uploads/"):])
        if self.config.public_url and url.startswith(self.base_url + "/media/uploads/"):
            return name
        hosts = LOCAL_HOSTS | {self.config.host.lower()}
        if (parts.hostname or "").lower() in hosts and port == self.port:
            return name
        return None


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "hailuo-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # no 40 ms stalls on keep-alive
    server: EmulatorServer
    timeout = 120  # an idle keep-alive connection is closed after this

    # -- logging: silence the base class (it would print request lines and errors) --------

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _log(self, status: int | str) -> None:
        if self.server.config.verbose:
            path = (getattr(self, "path", "") or "").split("?", 1)[0]
            sys.stderr.write(f"emulator: {self.command} {path} {status}\n")
            sys.stderr.flush()

    # -- entry points ---------------------------------------------------------------------

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_OPTIONS(self) -> None:
        self._dispatch("OPTIONS")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None):
        """Malformed requests (bad request line, huge headers...) get JSON too."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Error"
        self.server.state.count_status(code)
        self._send(Response.json(code, Refusal(code, message or phrase).body()), counted=True)

    # -- plumbing ---------------------------------------------------------------------------

    def _read_exact(self, length: int) -> bytes:
        data = self.rfile.read(length)
        if len(data) < length:
            raise _Disconnected
        return data

    def _discard(self, length: int) -> None:
        while length > 0:
            got = self.rfile.read(min(1 << 20, length))
            if not got:
                raise _Disconnected
            length -= len(got)

    def _too_large(self, size: int | str, limit: int) -> Refusal:
        return Refusal(413, f"Request body is too large ({size} bytes); the limit is "
                            f"{limit // (1024 * 1024)} MB")

    def _read_body(self, limit: int) -> bytes:
        """The request body (Content-Length or chunked); 413 past ``limit``, after
        reading and discarding it so the client sees the answer, not a reset."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked(limit)
        raw = self.headers.get("Content-Length")
        if raw is None:
            return b""
        try:
            length = int(raw)
            if length < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise Refusal(400, "Invalid Content-Length header") from None
        if length > limit:
            if length > DISCARD_LIMIT:
                self.close_connection = True
            else:
                self._discard(length)
            raise self._too_large(length, limit)
        return self._read_exact(length) if length else b""

    def _read_chunked(self, limit: int) -> bytes:
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            if not line:
                raise _Disconnected
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise Refusal(400, "Malformed chunked request body") from None
            if size == 0:
                while self.rfile.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                break
            total += size
            if total > DISCARD_LIMIT:
                self.close_connection = True
                raise self._too_large(f"more than {total}", limit)
            if total > limit:
                self._discard(size)
                parts = None
            else:
                chunk = self._read_exact(size)
                if parts is not None:
                    parts.append(chunk)
            self.rfile.readline(1024)  # CRLF after the chunk
        if parts is None:
            raise self._too_large(total, limit)
        return b"".join(parts)

    def _send(self, response: Response, *, counted: bool = False) -> None:
        if not counted:
            self.server.state.count_status(response.status)
        if response.file is not None:
            length = response.end - response.start + 1
        else:
            length = len(response.body)
        length = max(0, length)
        try:
            phrase = HTTPStatus(response.status).phrase
        except ValueError:
            phrase = ""
        lines = [
            f"HTTP/1.1 {response.status} {phrase}",
            f"Server: {self.server_version}",
            f"Date: {self.date_time_string()}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {length}",
        ]
        lines += [f"{name}: {value}" for name, value in (response.headers or {}).items()]
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        try:
            if self.command == "HEAD":
                self.wfile.write(head)
            elif response.file is not None:
                self.wfile.write(head)
                self._stream_file(response.file, response.start, length)
            else:
                body = response.body
                if len(body) <= SMALL:
                    self.wfile.write(head + body)
                else:
                    self.wfile.write(head)
                    view = memoryview(body)
                    for offset in range(0, len(body), CHUNK):
                        self.wfile.write(view[offset:offset + CHUNK])
        except OSError:
            self.close_connection = True
        self._log(response.status)

    def _stream_file(self, path: Path, start: int, length: int) -> None:
        with open(path, "rb") as handle:
            handle.seek(start)
            left = length
            while left > 0:
                chunk = handle.read(min(CHUNK, left))
                if not chunk:  # the file shrank under us: the client sees a short body
                    self.close_connection = True
                    break
                self.wfile.write(chunk)
                left -= len(chunk)

    def _drop(self) -> None:
        """Close the connection without a word."""
        self.close_connection = True
        self.server.state.count_drop()
        self._log("dropped")

    @staticmethod
    def _route(method: str, path: str) -> str | None:
        if method == "POST" and path == "/v1/videos/generations":
            return "POST /v1/videos/generations"
        if method == "GET" and path.startswith("/v1/tasks/"):
            return "GET /v1/tasks"
        if method == "POST" and path == "/api/v1/files/upload/base64":
            return "POST /api/v1/files/upload/base64"
        if method == "POST" and path == "/api/v1/files/upload/stream":
            return "POST /api/v1/files/upload/stream"
        if method in ("GET", "HEAD") and path.startswith("/media/"):
            return "GET /media"
        return None

    def _dispatch(self, method: str) -> None:
        path = urlsplit(self.path).path
        state = self.server.state
        if path.startswith("/_emulator/"):
            try:
                self._send(self._control(method, path), counted=True)
            except _Disconnected:
                self.close_connection = True
            return
        route = self._route(method, path)
        state.count(route or "other")
        if route is None:
            self._unknown(method, path)
            return
        files = route in FILES_ROUTES
        fault = state.take_fault(route, is_api=route != "GET /media", method=method)
        limit = MAX_UPLOAD_BODY if files else MAX_BODY
        if fault == "drop_before":
            with contextlib.suppress(Refusal, _Disconnected):
                self._read_body(limit)
            self._drop()
            return
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        try:
            body = self._read_body(limit)
            if fault in ("drop_after", None):
                response = self._handle(route, path, body)
            elif fault == "html502":
                response = Response(502, HTML_502, "text/html")
            elif fault == "garbage":
                response = Response(200, GARBAGE, "application/json")
            else:
                status, _, wait = fault.partition(":")
                retry_after = int(wait) if wait else state.config.retry_after
                response = refusal_response(canned_refusal(int(status), retry_after, route))
        except Refusal as refusal:
            response = refusal_response(refusal)
        except _Disconnected:
            self.close_connection = True
            return
        except Exception as exc:  # a bug in the emulator: say so, as a 500, keep serving
            sys.stderr.write(f"emulator: internal error: {type(exc).__name__}: {exc}\n")
            response = refusal_response(Refusal(500, "Internal server error (emulator bug)"))
        if fault == "drop_after":  # the work is done; the answer never arrives
            self._drop()
            return
        if files and response.status >= 400 and response.content_type == "application/json":
            response = self._as_files_envelope(response)
        self._send(response)

    def _unknown(self, method: str, path: str) -> None:
        try:
            self._read_body(MAX_BODY)
        except Refusal:
            pass
        except _Disconnected:
            self.close_connection = True
            return
        known = {"/v1/videos/generations": "POST", "/api/v1/files/upload/base64": "POST",
                 "/api/v1/files/upload/stream": "POST"}
        allowed = known.get(path) or ("GET" if path.startswith("/v1/tasks/") else None)
        if path.startswith("/media/"):
            allowed = "GET, HEAD"
        if allowed:
            refusal = Refusal(405, f"Method {method} is not allowed here; use {allowed}")
            response = refusal_response(refusal)
            response.headers = {"Allow": allowed}
        else:
            response = refusal_response(Refusal(404, f"No such endpoint: {method} {path}"))
        self._send(response)

    @staticmethod
    def _as_files_envelope(response: Response) -> Response:
        try:
            error = json.loads(response.body)["error"]
        except (ValueError, KeyError, TypeError):
            return response
        return files_refusal(response.status, error.get("message", "error"), response.headers)

    # -- endpoints ---------------------------------------------------------------------------

    def _handle(self, route: str, path: str, body: bytes) -> Response:
        state = self.server.state
        if route == "GET /media":
            return self._media(path)
        files = route in FILES_ROUTES
        key = state.authenticate(self.headers.get("Authorization"), quota=not files)
        if route == "POST /v1/videos/generations":
            state.check_rate(key, "post", state.config.rpm)
            return self._create(body, key)
        if route == "GET /v1/tasks":
            state.check_rate(key, "get", state.config.rpm_get)
            return self._task(unquote(path[len("/v1/tasks/"):]))
        if route == "POST /api/v1/files/upload/base64":
            return self._upload_base64(body)
        return self._upload_stream(body)

    def _create(self, raw: bytes, key: str) -> Response:
        body = parse_json(raw)
        validate_generation(body, self.server)
        task = self.server.state.create_task(body, key)
        return Response.json(200, {
            "created": int(task.created),
            "id": task.id,
            "model": MODEL,
            "object": "video.generation.task",
            "progress": 0,
            "status": "pending",
        })

    def _task(self, task_id: str) -> Response:
        if not TASK_ID_RE.match(task_id):
            raise Refusal(400, "Invalid task ID format", param="task_id")
        state = self.server.state
        with state.lock:
            task = state.tasks.get(task_id)
            if task is not None:
                task.polls += 1
        if task is None:
            raise Refusal(404, "Task not found or expired", param="task_id")
        return Response.json(200, state.task_view(task, self.server.base_url))

    def _upload_base64(self, raw: bytes) -> Response:
        try:
            body = json.loads(raw)
        except (ValueError, RecursionError):
            return files_refusal(400, "Request body must be JSON: {\"base64_data\": \"...\"}")
        if not isinstance(body, dict) or "base64_data" not in body:
            return files_refusal(400, "base64_data is required")
        text = body["base64_data"]
        if not isinstance(text, str) or not text.strip():
            return files_refusal(400, "base64_data must be non-empty base64 text or a data: URL")
        try:
            data = decode_base64_payload(text.strip())
        except (ValueError, binascii.Error):
            return files_refusal(400, "base64_data is not valid base64 (raw or a data: URL)")
        name = body.get("file_name") if isinstance(body.get("file_name"), str) else ""
        return self._store_upload(data, name)

    def _upload_stream(self, raw: bytes) -> Response:
        ctype = self.headers.get("Content-Type", "")
        if not ctype.lower().startswith("multipart/form-data") or "boundary=" not in ctype:
            return files_refusal(400, "Use multipart/form-data with a 'file' field")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode("latin-1") + raw
        )
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") == "file":
                payload = part.get_payload(decode=True) or b""
                return self._store_upload(payload, part.get_filename() or "")
        return files_refusal(400, "No 'file' field in the multipart upload")

    def _store_upload(self, data: bytes, original: str) -> Response:
        if not data:
            return files_refusal(400, "The file is empty")
        found = _imageprobe.probe(data)
        if found is None:
            return files_refusal(400, "Unsupported file type: upload a JPEG, PNG, GIF or WebP "
                                      "image")
        original = Path(original.replace("\\", "/")).name[:255] if original else ""
        upload = self.server.state.add_upload(data, original, found.mime, found.ext)
        url = f"{self.server.base_url}/media/uploads/{upload.name}"
        return Response.json(200, {
            "success": True,
            "code": 200,
            "msg": "success",
            "data": {
                "file_id": upload.file_id,
                "file_name": upload.original or upload.name,
                "file_url": url,
                "download_url": url,
                "mime_type": upload.mime,
                "file_size": len(data),
                "upload_time": _iso(upload.created),
                "expires_at": _iso(upload.expires),
            },
        })

    def _media(self, path: str) -> Response:
        state = self.server.state
        name = unquote(path.rsplit("/", 1)[-1])
        if path.startswith("/media/results/") and name.endswith(".mp4"):
            with state.lock:
                task = state.tasks.get(name[: -len(".mp4")])
            done_at = state.completed_at(task) if task else None
            now = time.time()
            if done_at is None or now < done_at or now > done_at + state.config.link_ttl:
                raise Refusal(404, "File not found or link expired")
            file = self.server.video_file
            if not file.is_file():
                raise Refusal(500, "The emulator's video file is missing")
            with state.lock:
                task.downloads += 1
            return self._ranged(file=file, content_type="video/mp4")
        if path.startswith("/media/uploads/"):
            upload = state.live_upload(name)
            if upload is None:
                raise Refusal(404, "File not found or expired")
            return self._ranged(data=upload.data, content_type=upload.mime)
        raise Refusal(404, "File not found")

    def _ranged(self, *, content_type: str, file: Path | None = None,
                data: bytes | None = None) -> Response:
        """200 with everything, or 206 for one satisfiable byte range, or 416.

        A Range header that is not one well-formed byte range (several ranges, junk,
        last < first) is ignored, as RFC 9110 allows: the whole file comes back.
        """
        size = file.stat().st_size if file is not None else len(data or b"")
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
        start, end, status = 0, size - 1, 200
        wanted = parse_range(self.headers.get("Range"), size)
        if wanted == "unsatisfiable":
            response = Response(416, b"", content_type,
                                {**headers, "Content-Range": f"bytes */{size}"})
            return response
        if wanted is not None:
            start, end = wanted
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if file is not None:
            return Response(status, b"", content_type, headers, file=file, start=start, end=end)
        return Response(status, (data or b"")[start:end + 1], content_type, headers)

    # -- control (tests, notebooks in other processes, benchmarks) ----------------------------

    def _control(self, method: str, path: str) -> Response:
        state = self.server.state
        try:
            raw = self._read_body(MAX_BODY)
        except Refusal as refusal:
            return Response.json(refusal.status, {"error": refusal.message})
        try:
            data = json.loads(raw) if raw.strip() else {}
        except ValueError:
            return Response.json(400, {"error": "the body must be a JSON object"})
        if not isinstance(data, dict):
            return Response.json(400, {"error": "the body must be a JSON object"})
        if method == "GET" and path == "/_emulator/stats":
            with state.lock:
                return Response.json(200, state.stats.snapshot())
        if method == "GET" and path == "/_emulator/config":
            return Response.json(200, _public_config(state.config))
        if method == "POST" and path == "/_emulator/config":
            try:
                apply_config(state, data)
            except (TypeError, ValueError) as exc:
                return Response.json(400, {"error": str(exc)})
            return Response.json(200, {"ok": True, "config": _public_config(state.config)})
        if method == "POST" and path == "/_emulator/inject":
            try:
                state.inject(data.get("route", ""), data.get("fault", ""), data.get("times", 1))
            except (TypeError, ValueError) as exc:
                return Response.json(400, {"error": str(exc)})
            return Response.json(200, {"ok": True, "pending": state.pending_faults()})
        if method == "GET" and path == "/_emulator/faults":
            return Response.json(200, state.pending_faults())
        if method == "POST" and path == "/_emulator/reset_stats":
            with state.lock:
                state.stats = state.stats.fresh()
            return Response.json(200, {"ok": True})
        if method == "GET" and path.startswith("/_emulator/tasks/"):
            task_id = unquote(path[len("/_emulator/tasks/"):])
            with state.lock:
                task = state.tasks.get(task_id)
            if task is None:
                return Response.json(404, {"error": f"no task {task_id}"})
            return Response.json(200, state.task_json(task, self.server.base_url))
        return Response.json(404, {"error": f"no control endpoint {method} {path}"})


def _public_config(config: EmulatorConfig) -> dict:
    """The settings, keys replaced by their count (the control API is unauthenticated)."""
    data = config.to_json()
    data["api_keys"] = f"<{len(config.api_keys)} keys>"
    data["quota_keys"] = f"<{len(config.quota_keys)} keys>"
    return data


def apply_config(state: EmulatorState, changes: dict) -> None:
    with state.lock:
        state.config.update(**changes)
        if "seed" in changes:
            state.reseed(state.config.seed)


def parse_range(spec: str | None, size: int):
    """``(start, end)`` inclusive, ``"unsatisfiable"``, or None (send everything)."""
    if spec is None:
        return None
    match = re.fullmatch(r"\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*", spec)
    if match is None or not (match.group(1) or match.group(2)):
        return None
    first, last = match.group(1), match.group(2)
    if first:
        start = int(first)
        if last and int(last) < start:
            return None  # invalid range-spec: ignored
        if start >= size:  # checked before defaulting the end: "bytes=<size>-" is a 416
            return "unsatisfiable"
        end = int(last) if last else size - 1
        return start, min(end, size - 1)
    suffix = int(last)
    if suffix == 0 or size == 0:
        return "unsatisfiable"
    return max(0, size - suffix), size - 1


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def parse_json(raw: bytes) -> Any:
    if not raw.strip():
        raise Refusal(400, "Request body is empty: send a JSON object", param="body")
    try:
        return json.loads(raw, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        raise Refusal(400, "Request body is not valid JSON", param="body") from None


def _refuse(message: str, param: str) -> Refusal:
    return Refusal(400, message, param=param)


def validate_generation(body: Any, server: EmulatorServer) -> None:
    """Refuse, like the service, everything the contract forbids (one 400 per problem)."""
    if not isinstance(body, dict):
        raise _refuse("Request body must be a JSON object", "body")
    for name in body:
        if name not in ALLOWED_FIELDS:
            raise _refuse(f"Unknown parameter: {name}", name)
    if "model" not in body:
        raise _refuse("model is required", "model")
    if body["model"] != MODEL:
        shown = json.dumps(body["model"])[:80]
        raise _refuse(f"Unsupported model {shown}: use {MODEL}", "model")
    if "prompt" not in body:
        raise _refuse("prompt is required (it may be empty only with an image)", "prompt")
    prompt = body["prompt"]
    if not isinstance(prompt, str):
        raise _refuse("prompt must be a string", "prompt")
    if len(prompt) > 2000:
        raise _refuse(f"prompt is {len(prompt)} characters; the maximum is 2000", "prompt")
    images = body.get("image_urls", [])
    if not isinstance(images, list) or not all(isinstance(u, str) for u in images):
        raise _refuse("image_urls must be an array of URL strings", "image_urls")
    if len(images) > 1:
        raise _refuse(f"image_urls takes at most 1 image, got {len(images)}", "image_urls")
    for url in images:
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
        except ValueError:
            ok = False
        if not ok or any(c.isspace() for c in url):
            raise _refuse("image_urls must hold http(s) URLs", "image_urls")
        _check_own_upload(url, server)
    if not prompt.strip() and not images:
        raise _refuse("prompt is required for text-to-video (it may be empty only with an "
                      "image)", "prompt")
    quality = body.get("quality", "768p")
    if quality not in ("768p", "1080p"):
        raise _refuse(f"quality must be 768p or 1080p, got {json.dumps(quality)[:40]}",
                      "quality")
    duration = body.get("duration", 6)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in (6, 10):
        raise _refuse(f"duration must be the integer 6 or 10, got {json.dumps(duration)[:40]}",
                      "duration")
    if quality == "1080p" and duration == 10:
        raise _refuse("1080p supports 6 seconds only (768p: 6 or 10)", "duration")
    params = body.get("model_params", {})
    if not isinstance(params, dict):
        raise _refuse("model_params must be an object", "model_params")
    for name, value in params.items():
        if name not in MODEL_PARAMS:
            raise _refuse(f"Unknown model_params field: {name}", f"model_params.{name}")
        if not isinstance(value, bool):
            raise _refuse(f"model_params.{name} must be a boolean", f"model_params.{name}")


def _check_own_upload(url: str, server: EmulatorServer) -> None:
    """Images the emulator can read (its own uploads) are checked like the service does.
    Foreign URLs are taken as they are: nothing here can fetch them (no internet)."""
    name = server.is_own_upload(url)
    if name is None:
        return
    upload = server.state.live_upload(name)
    if upload is None:
        raise _refuse("image_urls[0]: the file does not exist or has expired; upload it again",
                      "image_urls")
    problem = _imageprobe.problem_with_frame(upload.data)
    if problem:
        raise _refuse(f"image_urls[0]: {problem}", "image_urls")


class Emulator:
    """The emulator in a background thread: ``with Emulator(task_seconds=0.5) as emu:``.

    Tasks, uploads, stats and pending faults live in the Emulator object, so they survive
    a stop()/start() (the port may change when it was 0).
    """

    def __init__(self, config: EmulatorConfig | None = None, **fields: Any):
        self.config = replace(config) if config is not None else EmulatorConfig()
        self.config.update(**{**self.config.to_json(), **fields})  # checked and normalised
        self._state = EmulatorState(self.config, None)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None
        self._lifecycle = threading.Lock()
        self._digest: tuple[tuple, str] | None = None

    # lifecycle
    def start(self) -> Emulator:
        with self._lifecycle:
            if self._server is None:
                server = EmulatorServer(self.config, self._state)
                self._thread = threading.Thread(
                    target=server.serve_forever, kwargs={"poll_interval": 0.05},
                    name=f"hailuo-emulator:{server.port}", daemon=True,
                )
                self._server = server
                self._thread.start()
        return self

    def stop(self) -> None:
        with self._lifecycle:
            server, thread = self._server, self._thread
            self._server = self._thread = None
        if server is None:
            return
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(10)

    @property
    def running(self) -> bool:
        return self._server is not None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in the calling thread until interrupted."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(0.5)
        finally:
            self.stop()

    # addresses
    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start()")
        return self._server.base_url

    @property
    def files_url(self) -> str:
        return self.base_url

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start()")
        return self._server.port

    # observation and control
    @property
    def stats(self) -> dict:
        with self._state.lock:
            return self._state.stats.snapshot()

    @property
    def tasks_created(self) -> int:
        return self.stats["tasks_created"]

    @property
    def requests_seen(self) -> int:
        return self.stats["requests"]

    def reset_stats(self) -> None:
        with self._state.lock:
            self._state.stats = self._state.stats.fresh()

    def configure(self, **changes: Any) -> None:
        apply_config(self._state, changes)

    def inject(self, route: str, fault: str, times: int = 1) -> None:
        self._state.inject(route, fault, times)

    @property
    def pending_faults(self) -> dict:
        return self._state.pending_faults()

    def task(self, task_id: str) -> dict:
        """The emulator's record of a task (KeyError if it has none)."""
        state = self._state
        with state.lock:
            task = state.tasks[task_id]
        base = self._server.base_url if self._server is not None else ""
        return state.task_json(task, base)

    @property
    def task_ids(self) -> list[str]:
        with self._state.lock:
            return list(self._state.tasks)

    @property
    def video_path(self) -> Path:
        return Path(self.config.video_path) if self.config.video_path else SAMPLE_VIDEO

    @property
    def video_bytes(self) -> bytes:
        return self.video_path.read_bytes()

    @property
    def video_sha256(self) -> str:
        path = self.video_path
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        if self._digest is None or self._digest[0] != key:
            digest = hashlib.sha256()
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._digest = (key, digest.hexdigest())
        return self._digest[1]


def start_emulator(config: EmulatorConfig | None = None, **fields: Any) -> Emulator:
    """An Emulator, already started."""
    return Emulator(config, **fields).start()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
