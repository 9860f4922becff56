"""The emulator's video API: check a generation request like the service, create, poll."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import urlsplit

from . import _imageprobe
from .config import MODELS
from .http_io import Response, ServerView, WireHandler
from .media import start_rendering
from .state import Refusal, usage_of

TASK_ID_RE = re.compile(r"^task-unified-\d{1,20}-[A-Za-z0-9]{1,64}$")
ALLOWED_FIELDS = ("model", "prompt", "image_urls", "quality", "duration", "model_params")
MODEL_PARAMS = ("prompt_optimizer", "fast_pretreatment")


class VideoEndpoints(WireHandler):
    """``POST /v1/videos/generations`` and ``GET /v1/tasks/<id>``."""

    def _create(self, raw: bytes, key: str) -> Response:
        body = parse_json(raw)
        validate_generation(body, self.server)
        task = self.server.state.create_task(body, key)
        start_rendering(self.server.config, task)
        return Response.json(200, {
            "created": int(task.created),
            "id": task.id,
            "model": body["model"],
            "object": "video.generation.task",
            "progress": 0,
            "status": "pending",
            "usage": usage_of(body),
        })

    def _task(self, task_id: str) -> Response:
        if not TASK_ID_RE.match(task_id):
            # The OpenAPI document's shape (FACTS.md has seen a string code "invalid_task_id"
            # from the live service too; the client reads both and checks ids itself first).
            raise Refusal(400, "Invalid task ID format", param="task_id")
        state = self.server.state
        with state.lock:
            task = state.tasks.get(task_id)
            if task is not None:
                task.polls += 1
        if task is None:
            raise Refusal(404, "Task not found or expired", param="task_id")
        return Response.json(200, state.task_view(task, self.server.base_url))


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


def validate_generation(body: Any, server: ServerView) -> None:
    """Refuse, like the service, everything the contract forbids (one 400 per problem)."""
    if not isinstance(body, dict):
        raise _refuse("Request body must be a JSON object", "body")
    for name in body:
        if name not in ALLOWED_FIELDS:
            raise _refuse(f"Unknown parameter: {name}", name)
    if "model" not in body:
        raise _refuse("model is required", "model")
    if body["model"] not in MODELS:
        shown = json.dumps(body["model"])[:80]
        raise _refuse(f"Unsupported model {shown}: use {' or '.join(MODELS)}", "model")
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
    if "text" not in MODELS[body["model"]][0] and len(images) != 1:
        raise _refuse(f"{body['model']} is image-to-video only: image_urls must hold exactly "
                      "1 image", "image_urls")
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


def _check_own_upload(url: str, server: ServerView) -> None:
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
