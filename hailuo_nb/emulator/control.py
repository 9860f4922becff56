"""The emulator's unauthenticated control endpoints, ``/_emulator/...``."""

from __future__ import annotations

import json
from urllib.parse import unquote

from .config import EmulatorConfig
from .http_io import MAX_BODY, Response, WireHandler
from .state import EmulatorState, Refusal


class ControlEndpoints(WireHandler):
    """For tests, notebooks in other processes and benchmarks; never authenticated."""

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
        if path == "/_emulator/clock" and method in ("GET", "POST"):
            try:
                offset = state.clock.advance(float(data.get("advance", 0.0)))
            except (TypeError, ValueError):
                return Response.json(400, {"error": "advance takes seconds (a number)"})
            return Response.json(200, {"offset": offset, "time": state.clock.time()})
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


def _control_url(base_url: str, path: str) -> str:
    if not base_url.startswith(("http://", "https://")):
        raise ValueError(f"not an emulator URL: {base_url!r}")
    return base_url.rstrip("/") + path


def is_emulator(base_url: str | None, timeout: float = 5.0) -> bool:
    """Whether an emulator answers at ``base_url`` (its control endpoint, no key sent)."""
    import urllib.error
    import urllib.request

    try:
        url = _control_url(base_url or "", "/_emulator/config")
        with urllib.request.urlopen(url, timeout=timeout) as answer:  # noqa: S310 - http(s) only
            return answer.status == 200 and isinstance(json.load(answer), dict)
    except (ValueError, OSError, urllib.error.URLError):
        return False


def configure_at(base_url: str, timeout: float = 10.0, **changes) -> dict:
    """Change the settings of the emulator at ``base_url`` (say, one in another process:
    ``configure_at(url, ignore_camera_words=["stubborn"])``); returns its public config."""
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - http(s) only, checked above
        _control_url(base_url, "/_emulator/config"), data=json.dumps(changes).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return json.load(answer)["config"]
    except urllib.error.HTTPError as exc:
        raise ValueError(json.load(exc).get("error", str(exc))) from None
