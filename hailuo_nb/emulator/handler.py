"""The emulator's request handler: route each request, play injected faults, answer."""

from __future__ import annotations

import contextlib
import sys
import time
from urllib.parse import unquote, urlsplit

from .control import ControlEndpoints
from .files_api import FilesEndpoints
from .http_io import MAX_BODY, MAX_UPLOAD_BODY, Response, _Disconnected, refusal_response
from .media import MediaEndpoints
from .state import Refusal, canned_refusal
from .video_api import VideoEndpoints

API_ROUTES = ("POST /v1/videos/generations", "GET /v1/tasks")
UPLOAD_ROUTES = ("POST /api/v1/files/upload/base64", "POST /api/v1/files/upload/stream")
FILES_ROUTES = (*UPLOAD_ROUTES, "GET /api/v1/files/list", "GET /api/v1/files/quota",
                "DELETE /api/v1/files")
FILES_PREFIX = "/api/v1/files/"
_FILES_GETS = ("/api/v1/files/list", "/api/v1/files/quota")

HTML_502 = (
    b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n"
    b"<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n"
    b"</body>\r\n</html>\r\n"
)
GARBAGE = b'{"created": 17571\x00\xff<<truncated, not JSON>>'


class Handler(VideoEndpoints, FilesEndpoints, MediaEndpoints, ControlEndpoints):
    """Routes each request to its endpoint, playing any injected fault on the way."""

    protocol_version = "HTTP/1.1"
    server_version = "hailuo-emulator"
    sys_version = ""
    disable_nagle_algorithm = True  # no 40 ms stalls on keep-alive
    timeout = 120  # an idle keep-alive connection is closed after this

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
        if method == "GET" and path in _FILES_GETS:
            return f"GET {path}"
        if method == "DELETE" and _file_id_of(path) is not None:
            return "DELETE /api/v1/files"
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
        limit = MAX_UPLOAD_BODY if route in UPLOAD_ROUTES else MAX_BODY
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
        if path in _FILES_GETS:
            allowed = "GET"
        elif _file_id_of(path) is not None:
            allowed = "DELETE"
        if path.startswith("/media/"):
            allowed = "GET, HEAD"
        if allowed:
            refusal = Refusal(405, f"Method {method} is not allowed here; use {allowed}")
            response = refusal_response(refusal)
            response.headers = {"Allow": allowed}
        else:
            response = refusal_response(Refusal(404, f"No such endpoint: {method} {path}"))
        self._send(response)

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
        if route == "POST /api/v1/files/upload/stream":
            return self._upload_stream(body)
        if route == "GET /api/v1/files/list":
            return self._files_list(urlsplit(self.path).query)
        if route == "GET /api/v1/files/quota":
            return self._files_quota()
        return self._files_delete(_file_id_of(path) or "")


def _file_id_of(path: str) -> str | None:
    """The file_id of ``/api/v1/files/{file_id}`` (one path segment, not list, quota or
    upload)."""
    if not path.startswith(FILES_PREFIX) or path in _FILES_GETS:
        return None
    segment = path[len(FILES_PREFIX):]
    if not segment or "/" in segment or segment == "upload":
        return None
    return unquote(segment)
