"""HTTP plumbing of the emulator's request handlers: read bodies, write responses.

Stdlib only (``http.server``). It never logs a key: nothing by default; with
``verbose`` the method, the path (no query string) and the status of each request.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any, Protocol

from .config import EmulatorConfig
from .state import EmulatorState, Refusal

MAX_BODY = 30 * 1024 * 1024  # the video API's limit: larger → 413
MAX_UPLOAD_BODY = 64 * 1024 * 1024  # the files API's (base64 of a 20 MB image fits)
DISCARD_LIMIT = 256 * 1024 * 1024  # a larger body is not even read: answer 413 and close
DRIP_CHUNK, DRIP_PAUSE = 4096, 0.1  # a dripping link: 40 KB/s
CHUNK = 256 * 1024
SMALL = 64 * 1024  # bodies up to this go out in the same write as the headers


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
    drip: bool = False  # send the file slowly (a dripping link)

    @classmethod
    def json(cls, status: int, data: Any, headers: dict | None = None) -> Response:
        return cls(status, json.dumps(data).encode(), "application/json", headers)


def refusal_response(refusal: Refusal) -> Response:
    headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after is not None else None
    return Response.json(refusal.status, refusal.body(), headers)


class ServerView(Protocol):
    """What the handlers use of their server (``server.EmulatorServer`` is the one)."""

    config: EmulatorConfig
    state: EmulatorState

    @property
    def base_url(self) -> str: ...

    @property
    def video_file(self) -> Path: ...

    def is_own_upload(self, url: str) -> str | None: ...


class WireHandler(BaseHTTPRequestHandler):
    """Body reading, response writing and logging, shared by every endpoint."""

    server: ServerView

    # -- logging: silence the base class (it would print request lines and errors) --------

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _log(self, status: int | str) -> None:
        if self.server.config.verbose:
            path = (getattr(self, "path", "") or "").split("?", 1)[0]
            sys.stderr.write(f"emulator: {self.command} {path} {status}\n")
            sys.stderr.flush()

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
                self._stream_file(response.file, response.start, length, response.drip)
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

    def _stream_file(self, path: Path, start: int, length: int, drip: bool = False) -> None:
        with open(path, "rb") as handle:
            handle.seek(start)
            left = length
            while left > 0:
                if drip:
                    time.sleep(DRIP_PAUSE)
                chunk = handle.read(min(DRIP_CHUNK if drip else CHUNK, left))
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
