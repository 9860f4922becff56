"""The emulator's HTTP server: the video API, the files API, media with Range, control.

Stdlib only (``http.server``), one thread per connection, HTTP/1.1 keep-alive.
It never logs a key: request lines only, and only with ``verbose``.
"""

from __future__ import annotations

import binascii
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..errors import ValidationError
from ..images import check_image, probe_image
from .config import MODEL, EmulatorConfig
from .state import EmulatorState, Refusal, canned_refusal, decode_base64_payload

MAX_BODY = 30 * 1024 * 1024
SAMPLE_VIDEO = Path(__file__).parent / "assets" / "sample.mp4"
TASK_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
ALLOWED_FIELDS = {"model", "prompt", "image_urls", "quality", "duration", "model_params"}
UPLOAD_FORMATS = {"jpeg": "jpg", "png": "png", "webp": "webp", "gif": "gif"}
CHUNK = 256 * 1024


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
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
    return Response.json(refusal.status, refusal.body(), headers)


def files_refusal(status: int, message: str) -> Response:
    return Response.json(status, {"success": False, "code": status, "msg": message})


class EmulatorServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, config: EmulatorConfig):
        self.config = config
        self.video_file = Path(config.video_path) if config.video_path else SAMPLE_VIDEO
        self.state = EmulatorState(config, None)
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__((config.host, config.port), Handler)
        host, port = self.server_address[:2]
        self.base_url = f"http://{host}:{port}"

    # Open connections are tracked so that closing the server closes them too: before,
    # a client's keep-alive connection went on being served after stop().
    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def server_close(self) -> None:
        super().server_close()
        with self._connections_lock:
            live = list(self._connections)
        for sock in live:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle_error(self, request, client_address) -> None:
        # A client hanging up mid-answer (dropped downloads, stop()) is not an error.
        if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes: no 40 ms stalls
    server: EmulatorServer
    timeout = 120  # an idle keep-alive connection is closed after this

    def log_request(self, code: Any = "-", size: Any = "-") -> None:
        if self.server.config.verbose and self.command:  # method, path, status: no headers
            path = (getattr(self, "path", None) or "").split("?")[0]
            status = getattr(code, "value", code)
            sys.stderr.write(f"emulator: {self.command} {path} {status}\n")

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        # http.server's own notes (bad request lines, timeouts). These used to go through
        # the request-line formatter above and crash it (no self.path yet, one arg only).
        if self.server.config.verbose:
            try:
                text = format % args
            except (TypeError, ValueError):
                text = format
            text = re.sub(r"\?\S*", "?...", text)[:300]  # no query strings (could hold keys)
            sys.stderr.write(f"emulator: {text}\n")

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_HEAD(self) -> None:
        self._dispatch("HEAD")

    def do_POST(self) -> None:
        self._dispatch("POST")

    # -- plumbing ---------------------------------------------------------------------------

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return self._read_chunked()
        raw = (self.headers.get("Content-Length") or "0").strip()
        if not raw.isdigit():  # junk or negative: read(-1) would wait for the client to hang up
            self.close_connection = True
            raise Refusal(400, "Invalid Content-Length header")
        length = int(raw)
        if length > MAX_BODY:
            self.close_connection = True
            raise Refusal(413, f"Request body is {length} bytes; the limit is {MAX_BODY}")
        return self.rfile.read(length) if length else b""

    def _read_chunked(self) -> bytes:
        """A ``Transfer-Encoding: chunked`` body (requests sends one for generators)."""
        parts, total = [], 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise Refusal(400, "Malformed chunked request body") from None
            if size < 0:
                self.close_connection = True
                raise Refusal(400, "Malformed chunked request body")
            if size == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY:
                self.close_connection = True
                raise Refusal(413, f"Request body is over the limit of {MAX_BODY} bytes")
            parts.append(self.rfile.read(size))
            self.rfile.readline(1024)  # the CRLF after each chunk

    def _send(self, response: Response) -> None:
        self.server.state.count_status(response.status)
        self.send_response(response.status)
        self.send_header("Content-Type", response.content_type)
        for name, value in (response.headers or {}).items():
            self.send_header(name, value)
        if response.file is not None:
            length = response.end - response.start + 1
        else:
            length = len(response.body)
        self.send_header("Content-Length", str(max(0, length)))
        if self.close_connection:  # tell the client rather than let it find out
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            return
        if response.file is not None:
            with open(response.file, "rb") as handle:
                handle.seek(response.start)
                left = length
                while left > 0:
                    chunk = handle.read(min(CHUNK, left))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    left -= len(chunk)
        else:
            self.wfile.write(response.body)

    def _route(self, method: str, path: str) -> str | None:
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
                response = self._control(method, path)
            except Refusal as refusal:
                response = refusal_response(refusal)
            self._send(response)
            return
        route = self._route(method, path)
        if route is None:
            self._read_body_quietly()
            self._send(Response.json(404, Refusal(404, f"No such endpoint: {method} {path}").body()))
            return
        state.count(route)
        fault = state.take_fault(route, is_api=route != "GET /media", method=method)
        if fault == "drop_before":
            self.close_connection = True
            return
        if fault and fault.startswith("slow:"):
            time.sleep(float(fault.split(":", 1)[1]))
            fault = None
        try:
            body = self._read_body() if method == "POST" else b""
            if fault in ("drop_after", None):
                response = self._handle(route, path, body)
            elif fault == "html502":
                response = Response(502, b"<html><body><h1>502 Bad Gateway</h1></body></html>",
                                    "text/html")
            elif fault == "garbage":
                response = Response(200, b"<<this is not json>>", "text/plain")
            else:
                response = refusal_response(canned_refusal(int(fault)))
        except Refusal as refusal:
            response = refusal_response(refusal)
        if fault == "drop_after":  # the work is done; the answer never arrives
            self.close_connection = True
            return
        if route.startswith("POST /api/") and response.status >= 400 and (
            response.content_type == "application/json"
        ):
            response = self._as_files_envelope(response)
        self._send(response)

    def _read_body_quietly(self) -> None:
        try:
            self._read_body()
        except Refusal:
            pass

    @staticmethod
    def _as_files_envelope(response: Response) -> Response:
        try:
            error = json.loads(response.body)["error"]
        except (ValueError, KeyError, TypeError):
            return response
        resp = files_refusal(response.status, error.get("message", "error"))
        resp.headers = response.headers
        return resp

    # -- endpoints ---------------------------------------------------------------------------

    def _handle(self, route: str, path: str, body: bytes) -> Response:
        state = self.server.state
        if route == "GET /media":
            return self._media(path)
        key = state.authenticate(self.headers.get("Authorization"))
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
        try:
            body = json.loads(raw or b"null")
        except ValueError:
            raise Refusal(400, "Request body is not valid JSON") from None
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
        if task is None:
            raise Refusal(404, "Task not found or expired", param="task_id")
        return Response.json(200, state.task_view(task, self.server.base_url))

    def _upload_base64(self, raw: bytes) -> Response:
        try:
            body = json.loads(raw or b"null")
            data = decode_base64_payload(str(body["base64_data"]))
        except (ValueError, KeyError, TypeError, binascii.Error):
            return files_refusal(400, "base64_data must be base64 text or a data: URL")
        return self._store_upload(data)

    def _upload_stream(self, raw: bytes) -> Response:
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            return files_refusal(400, "Use multipart/form-data with a 'file' field")
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        for part in message.iter_parts() if message.is_multipart() else ():
            if part.get_param("name", header="content-disposition") == "file":
                return self._store_upload(part.get_payload(decode=True) or b"")
        return files_refusal(400, "No 'file' field in the upload")

    def _store_upload(self, data: bytes) -> Response:
        info = probe_image(data)
        if info is None or info.format not in UPLOAD_FORMATS:
            return files_refusal(400, "Unsupported file: upload a JPEG, PNG, GIF or WebP image")
        ext = UPLOAD_FORMATS[info.format]
        upload = self.server.state.add_upload(data, f"upload.{ext}", info.mime, ext)
        url = f"{self.server.base_url}/media/uploads/{upload.name}"
        return Response.json(200, {
            "success": True,
            "code": 200,
            "msg": "success",
            "data": {
                "file_id": upload.file_id,
                "file_name": upload.name,
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
        name = path.rsplit("/", 1)[-1]
        if path.startswith("/media/results/") and name.endswith(".mp4"):
            with state.lock:
                task = state.tasks.get(name[: -len(".mp4")])
            done_at = state.completed_at(task) if task else None
            now = time.time()
            if done_at is None or now < done_at or now > done_at + state.config.link_ttl:
                raise Refusal(404, "File not found or link expired")
            return self._ranged(file=self.server.video_file, content_type="video/mp4")
        if path.startswith("/media/uploads/"):
            upload = state.live_upload(name)
            if upload is None:
                raise Refusal(404, "File not found or expired")
            return self._ranged(data=upload.data, content_type=upload.mime)
        raise Refusal(404, "File not found")

    def _ranged(self, *, content_type: str, file: Path | None = None,
                data: bytes | None = None) -> Response:
        size = file.stat().st_size if file is not None else len(data or b"")
        headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, max-age=3600"}
        spec = self.headers.get("Range")
        start, end, status = 0, size - 1, 200
        if spec:
            match = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
            if match is None or (not match.group(1) and not match.group(2)):
                return Response(416, b"", content_type,
                                {**headers, "Content-Range": f"bytes */{size}"})
            if match.group(1):
                start = int(match.group(1))
                end = min(int(match.group(2)), size - 1) if match.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start, end = max(0, size - int(match.group(2))), size - 1
            if start >= size or start > end:
                return Response(416, b"", content_type,
                                {**headers, "Content-Range": f"bytes */{size}"})
            status = 206
            headers["Content-Range"] = f"bytes {start}-{end}/{size}"
        if file is not None:
            return Response(status, b"", content_type, headers, file=file, start=start, end=end)
        return Response(status, (data or b"")[start:end + 1], content_type, headers)

    # -- control (tests, notebooks in other processes, benchmarks) ----------------------------

    def _control(self, method: str, path: str) -> Response:
        state = self.server.state
        body = self._read_body() if method == "POST" else b""
        try:
            data = json.loads(body) if body else {}
        except ValueError:
            return Response.json(400, {"error": "not JSON"})
        if not isinstance(data, dict):
            return Response.json(400, {"error": "send a JSON object"})
        if method == "GET" and path == "/_emulator/stats":
            with state.lock:
                return Response.json(200, state.stats.snapshot())
        if method == "POST" and path == "/_emulator/config":
            try:
                with state.lock:
                    state.config.update(**data)
            except TypeError as exc:
                return Response.json(400, {"error": str(exc)})
            return Response.json(200, {"ok": True})
        if method == "POST" and path == "/_emulator/inject":
            try:
                state.inject(data["route"], data["fault"], int(data.get("times", 1)))
            except (KeyError, TypeError, ValueError) as exc:
                return Response.json(400, {"error": f"inject needs route, fault[, times]: {exc}"})
            return Response.json(200, {"ok": True})
        if method == "POST" and path == "/_emulator/reset_stats":
            with state.lock:
                state.stats = type(state.stats)()
            return Response.json(200, {"ok": True})
        if method == "GET" and path.startswith("/_emulator/tasks/"):
            with state.lock:
                task = state.tasks.get(path.rsplit("/", 1)[-1])
            if task is None:
                return Response.json(404, {"error": "no such task"})
            view = state.task_view(task, self.server.base_url)
            return Response.json(200, {**view, "body": task.body, "outcome": task.outcome,
                                       "duration": task.duration})
        return Response.json(404, {"error": f"no control endpoint {method} {path}"})


def _iso(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


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
        raise _refuse(f"Unsupported model: {body['model']!r}; use {MODEL}", "model")
    if "prompt" not in body:
        raise _refuse("prompt is required", "prompt")
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
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise _refuse("image_urls must hold http(s) URLs", "image_urls")
        _check_own_upload(url, server)
    if not prompt.strip() and not images:
        raise _refuse("prompt is required for text-to-video", "prompt")
    quality = body.get("quality", "768p")
    if quality not in ("768p", "1080p"):
        raise _refuse(f"quality must be one of 768p, 1080p; got {quality!r}", "quality")
    duration = body.get("duration", 6)
    if isinstance(duration, bool) or not isinstance(duration, int) or duration not in (6, 10):
        raise _refuse(f"duration must be 6 or 10; got {duration!r}", "duration")
    if quality == "1080p" and duration == 10:
        raise _refuse("1080p supports 6 seconds only (768p: 6 or 10)", "duration")
    params = body.get("model_params", {})
    if not isinstance(params, dict):
        raise _refuse("model_params must be an object", "model_params")
    for name, value in params.items():
        if name not in ("prompt_optimizer", "fast_pretreatment"):
            raise _refuse(f"Unknown model_params field: {name}", f"model_params.{name}")
        if not isinstance(value, bool):
            raise _refuse(f"model_params.{name} must be a boolean", f"model_params.{name}")


def _check_own_upload(url: str, server: EmulatorServer) -> None:
    """Images the emulator can read (its own uploads) are checked like the service does."""
    if not url.startswith(server.base_url + "/media/uploads/"):
        return  # a foreign URL: nothing here can fetch it (no internet)
    upload = server.state.live_upload(url.rsplit("/", 1)[-1])
    if upload is None:
        raise _refuse("image_urls[0]: the file does not exist or has expired", "image_urls")
    try:
        check_image(upload.data, "image_urls[0]")
    except ValidationError as exc:
        raise _refuse(str(exc), "image_urls") from None


class Emulator:
    """The emulator in a background thread: ``with Emulator(task_seconds=0.5) as emu:``."""

    def __init__(self, config: EmulatorConfig | None = None, **fields: Any):
        self.config = config or EmulatorConfig()
        self.config.update(**fields)
        self._server: EmulatorServer | None = None
        self._thread: threading.Thread | None = None

    # lifecycle
    def start(self) -> Emulator:
        if self._server is None:
            self._server = EmulatorServer(self.config)
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                name="hailuo-emulator", daemon=True,
            )
            self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def serve_forever(self) -> None:
        """Run in the calling thread (the CLI)."""
        self._server = EmulatorServer(self.config)
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    @property
    def _state(self) -> EmulatorState:
        if self._server is None:
            raise RuntimeError("the emulator is not running: call start()")
        return self._server.state

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
        return int(self.base_url.rsplit(":", 1)[1])

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
            self._state.stats = type(self._state.stats)()

    def configure(self, **changes: Any) -> None:
        with self._state.lock:
            self.config.update(**changes)
        if "video_path" in changes and self._server is not None:
            self._server.video_file = Path(changes["video_path"] or SAMPLE_VIDEO)

    def inject(self, route: str, fault: str, times: int = 1) -> None:
        self._state.inject(route, fault, times)

    def task(self, task_id: str) -> dict:
        state = self._state
        with state.lock:
            task = state.tasks[task_id]
        view = state.task_view(task, self.base_url)
        return {**view, "body": task.body, "outcome": task.outcome, "duration": task.duration,
                "prompt": task.body.get("prompt")}

    @property
    def video_path(self) -> Path:
        return Path(self.config.video_path) if self.config.video_path else SAMPLE_VIDEO

    @property
    def video_bytes(self) -> bytes:
        return self.video_path.read_bytes()

    @property
    def video_sha256(self) -> str:
        import hashlib

        digest = hashlib.sha256()
        with open(self.video_path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
        return digest.hexdigest()


def start_emulator(**fields: Any) -> Emulator:
    return Emulator(**fields).start()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


