"""The emulator's HTTP server and :class:`Emulator`, which runs it in a background thread.

One daemon thread per connection, HTTP/1.1 keep-alive; the request handling is in
``handler.py`` and the endpoint modules beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import socket
import sys
import threading
from dataclasses import replace
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from .config import EmulatorConfig
from .control import apply_config
from .files_api import files_refusal
from .handler import API_ROUTES, FILES_ROUTES, GARBAGE, HTML_502, Handler
from .http_io import (
    CHUNK,
    DISCARD_LIMIT,
    MAX_BODY,
    MAX_UPLOAD_BODY,
    SMALL,
    Response,
    refusal_response,
)
from .media import SAMPLE_VIDEO, parse_range, result_file
from .state import EmulatorState
from .video_api import (
    ALLOWED_FIELDS,
    MODEL_PARAMS,
    TASK_ID_RE,
    parse_json,
    validate_generation,
)

# The names this module held before the split into handler/endpoint modules stay importable.
__all__ = [
    "ALLOWED_FIELDS", "API_ROUTES", "CHUNK", "DISCARD_LIMIT", "FILES_ROUTES", "GARBAGE",
    "HTML_502", "LOCAL_HOSTS", "MAX_BODY", "MAX_UPLOAD_BODY", "MODEL_PARAMS", "SAMPLE_VIDEO",
    "SMALL", "TASK_ID_RE", "Emulator", "EmulatorServer", "Handler", "Response", "apply_config",
    "files_refusal", "free_port", "parse_json", "parse_range", "refusal_response",
    "start_emulator", "validate_generation",
]

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}


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

    def clear_faults(self) -> None:
        """Drop every injected fault not used yet (the service is well again)."""
        with self._state.lock:
            for queued in self._state.injected.values():
                queued.clear()

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

    def result_path(self, task_id: str) -> Path:
        """The file the task's result link serves (rendering its clip first when
        ``render`` is on and it is not cached yet); KeyError if there is no such task."""
        with self._state.lock:
            task = self._state.tasks[task_id]
        return result_file(self.config, task)

    @property
    def video_path(self) -> Path:
        """The one file served for every result when ``render`` is off (or
        ``video_path`` is set); with rendering on, see :meth:`result_path`."""
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
