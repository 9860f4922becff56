"""The emulator's ``/media/``: finished videos and uploaded images, with HTTP Range."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import unquote

from . import clips
from .config import EmulatorConfig
from .http_io import Response, WireHandler
from .state import EmuTask, Refusal

SAMPLE_VIDEO = Path(__file__).parent / "assets" / "sample.mp4"


def renders(config: EmulatorConfig) -> bool:
    """Whether results are clips rendered per request (else one file for all)."""
    return bool(config.render) and not config.video_path


def _clip_request(task: EmuTask) -> tuple[tuple[str, int, str], dict]:
    body = task.body
    return (str(body.get("prompt") or ""), int(body.get("duration", 6)),
            str(body.get("quality", "768p"))), {
        "ignore": task.ignored_camera, "black": task.black_seconds,
        "frozen": task.frozen_seconds}


def start_rendering(config: EmulatorConfig, task: EmuTask) -> None:
    """Begin rendering a task's clip in the background, so its download need not wait."""
    if renders(config) and task.outcome == "completed":
        args, options = _clip_request(task)
        clips.prefetch(*args, **options)


def result_file(config: EmulatorConfig, task: EmuTask) -> Path:
    """The file a task's result link serves: its rendered clip (waiting for the render if
    it is not finished; never a partial file), else ``video_path`` or the sample."""
    if renders(config):
        args, options = _clip_request(task)
        return clips.clip_for(*args, **options)
    return Path(config.video_path) if config.video_path else SAMPLE_VIDEO


class MediaEndpoints(WireHandler):
    """``GET``/``HEAD /media/results/<task>.mp4`` and ``/media/uploads/<name>``."""

    def _media(self, path: str) -> Response:
        state = self.server.state
        name = unquote(path.rsplit("/", 1)[-1])
        if path.startswith("/media/results/") and name.endswith(".mp4"):
            with state.lock:
                task = state.tasks.get(name[: -len(".mp4")])
            done_at = state.completed_at(task) if task else None
            now = state.clock.time()
            if done_at is None or now < done_at or now > done_at + state.config.link_ttl:
                raise Refusal(404, "File not found or link expired")
            if renders(state.config):
                try:
                    file = result_file(state.config, task)
                except Exception as exc:  # av/numpy/disk errors: say so, do not crash
                    raise Refusal(500, f"The emulator could not render the video: "
                                       f"{type(exc).__name__}") from None
            else:
                file = self.server.video_file
            if not file.is_file():
                raise Refusal(500, "The emulator's video file is missing")
            with state.lock:
                task.downloads += 1
            response = self._ranged(file=file, content_type="video/mp4")
            response.drip = state.roll(state.config.drip_rate)
            return response
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
