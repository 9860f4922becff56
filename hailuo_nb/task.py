"""``Task``: one generation, observable with traitlets.

The engine's threads are the only writers of a live task's traits (``api.check_now`` too);
views observe them. A Task is handed its client and its store; it never draws: the
views and records attach from above (a display formatter registered by the package).

Statuses are the server's (pending, processing, completed, failed) plus two local ones
before the server knows the task: ``queued`` (waiting
for a batch slot or a rate-limit pause) and ``submitting``.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from traitlets import Any as AnyTrait
from traitlets import Dict, Float, HasTraits, Instance, Int, List, Unicode, observe

from ._client.client import Client, default_client
from ._client.snapshot import TERMINAL_STATUSES, TaskSnapshot
from ._pure.describe import task_text
from ._pure.paths import safe_stem
from .errors import (
    DownloadError,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from .request import GenerationRequest

if TYPE_CHECKING:
    from ._history.store import Store

LOCAL_STATUSES = ("queued", "submitting")


class Task(HasTraits):
    """A video generation task; its traits follow the server's state."""

    id = Unicode("", help="The server's task id ('' while queued).")
    status = Unicode("queued")
    progress = Int(0)
    results = List(Unicode())
    error = Dict(None, allow_none=True, help="{code, message, retryable} when failed.")
    created = Float(None, allow_none=True, help="Unix time the task was created.")
    finished = Float(None, allow_none=True, help="Unix time it reached a terminal state.")
    elapsed = Float(0.0, help="Seconds since creation (until finished).")
    estimated_time = Float(None, allow_none=True, help="Server's estimate, seconds.")
    local_path = Unicode(None, allow_none=True, help="The downloaded video, once on disk.")
    download_state = Unicode("", help="'', 'waiting', 'downloading', 'done', 'failed', 'off'.")
    download_error = Unicode("")
    note = Unicode("", help="A local remark: rate-limited, retrying, …")
    stills = AnyTrait(None, allow_none=True, help="frames.Stills: poster and strip of the video.")
    stills_error = Unicode("", help="Why no stills could be read from the saved video.")
    camera = AnyTrait(None, allow_none=True,
                      help="camera_check.CameraReport of the saved video (bracketed prompts).")
    clip_quality = AnyTrait(None, allow_none=True,
                            help="quality.QualityReport of the saved video (see quality()).")
    analysis_state = Unicode("", help="'', 'waiting', 'running', 'done', 'failed': the "
                             "analysis lane's camera check and quality of the saved video.")
    credits = Float(None, allow_none=True,
                    help="Credits the service reserved for it (usage.credits_reserved).")
    parent_id = Unicode("", help="The task whose last frame this one continues ('' if none).")
    upload_id = Unicode("", help="The files-API upload of its local image ('' if none).")
    take_key = Unicode("", help="Which generation of a notebook cell this is ('' outside one).")
    reused_from = Float(None, allow_none=True,
                        help="Unix time the reused task was made (a re-run cell sent nothing).")
    request = Instance(GenerationRequest, allow_none=True)
    download_dir = Unicode(None, allow_none=True)

    def __init__(
        self,
        *,
        request: GenerationRequest | None = None,
        client: Client | None = None,
        store: Store | None = None,
        local_id: str | None = None,
        **traits: Any,
    ):
        self._changed = threading.Condition()  # before traits are set: observers use it
        self.submitted_at = time.time()
        self.start_known = True  # submitted_at is when it was sent, on our clock
        super().__init__(request=request, **traits)
        self._client = client
        self._store = store
        self.local_id = local_id or (store.new_local_id() if store else "")

    # -- state ---------------------------------------------------------------------------

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def is_done(self) -> bool:
        """Terminal, and the download (if any) is settled."""
        if not self.is_terminal:
            return False
        return not (
            self.status == "completed" and self.download_state in ("waiting", "downloading")
        )

    @property
    def is_settled(self) -> bool:
        """Done, and a saved video's stills are read (or known unreadable): nothing about
        this task will change any more, so its record can be drawn."""
        if not self.is_done:
            return False
        on_disk = self.status == "completed" and self.local_path and os.path.exists(
            self.local_path)
        return not on_disk or self.stills is not None or bool(self.stills_error)

    @property
    def mode(self) -> str:
        return self.request.mode if self.request else "unknown"

    @property
    def prompt(self) -> str:
        return self.request.prompt if self.request else ""

    @property
    def url(self) -> str | None:
        return self.results[0] if self.results else None

    @observe("status", "local_path", "download_state", "progress", "error", "stills",
             "stills_error", "analysis_state")
    def _wake_waiters(self, change: dict) -> None:
        with self._changed:
            self._changed.notify_all()

    def settling(self) -> threading.Condition:
        """Hold this while changing state AND writing the store: waiters see both or neither."""
        return self._changed

    def apply(self, snapshot: TaskSnapshot) -> bool:
        """Take the server's state; returns True when anything changed."""
        now = time.time()
        before = (self.status, self.progress, tuple(self.results), self.error)
        with self.hold_trait_notifications():
            if snapshot.id and not self.id:
                self.id = snapshot.id
            if snapshot.created and self.created is None:
                self.created = self._start_on_our_clock(float(snapshot.created), now)
            if snapshot.estimated_time is not None:
                self.estimated_time = float(snapshot.estimated_time)
            if snapshot.credits is not None:  # never guessed: only what the service says
                self.credits = snapshot.credits
            self.progress = snapshot.progress
            self.results = list(snapshot.results)
            self.error = snapshot.error.to_json() if snapshot.error else None
            if snapshot.status in TERMINAL_STATUSES and self.finished is None:
                self.finished = now
            self.status = snapshot.status
            self.elapsed = self._elapsed(now)
            changed = before != (self.status, self.progress, tuple(self.results), self.error)
            if snapshot.status != "failed":
                self.note = ""
        return changed

    def fail_locally(self, code: str, message: str, *, retryable: bool = False) -> None:
        """End a task that the server never accepted (or that we cannot follow)."""
        now = time.time()
        with self.hold_trait_notifications():
            self.error = {"code": code, "message": message, "retryable": retryable}
            self.finished = now
            self.elapsed = self._elapsed(now)
            self.status = "failed"

    def reopen(self, status: str = "pending") -> None:
        """Forget a local ending (the server never gave it): the task is followed again."""
        with self.hold_trait_notifications():
            self.error = None
            self.finished = None
            self.note = ""
            self.status = status

    def _start_on_our_clock(self, server_created: float, now: float) -> float:
        """When the task was made, on this machine's clock: a service clock hours behind
        (or ahead of) ours must not show up as hours elapsed. A task sent from here started
        when we sent it; one known only by its id started when the server says, but never
        after now."""
        return self.submitted_at if self.start_known else min(server_created, now)

    def _elapsed(self, now: float) -> float:
        start = self.created if self.created is not None else self.submitted_at
        end = self.finished if self.finished is not None else now
        return max(0.0, end - start)

    # -- actions --------------------------------------------------------------------------

    def wait(self, timeout: float | None = None) -> Task:
        """Block until the task is terminal and its download settled.

        Raises ``TaskFailedError`` for a failed task, ``TaskTimeoutError`` when
        ``timeout`` seconds pass (the task goes on), ``DownloadError`` when the video
        could not be saved. Ctrl-C stops the waiting, not the task.
        """
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        with self._changed:
            while not self.is_settled:  # done, and a saved video's stills are read
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TaskTimeoutError(
                        f"Task {self.id or '(not yet submitted)'} is still {self.status} "
                        f"({self.progress}%) after {timeout:g} s; it goes on on the server — "
                        "call .wait() again or check `%hailuo status`.",
                        task_id=self.id or None,
                    )
                # Short slices keep Ctrl-C responsive.
                self._changed.wait(0.25 if remaining is None else min(0.25, remaining))
        if self.status == "failed":
            err = self.error or {}
            raise TaskFailedError(
                self.id or None, err.get("code"), err.get("message"),
                retryable=err.get("retryable"),
            )
        if self.download_state == "failed":
            raise DownloadError(
                f"Task {self.id} completed but its video could not be saved "
                f"(link: {self.url}): {self.download_error}"
            )
        return self

    def save(self, path: str | Path) -> Path:
        """Copy the video to ``path`` (downloading it first if needed)."""
        target = Path(path).expanduser()
        if target.is_dir():  # the id comes from the server: never let it pick the folder
            target = target / f"{safe_stem(self.id, fallback='video')}.mp4"
        if self.local_path and Path(self.local_path).exists():
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(self.local_path, target)
            return target
        if self.status != "completed" or not self.url:
            raise ValidationError(
                f"Task {self.id or '(not submitted)'} is {self.status}: nothing to save yet — "
                "wait for it with task.wait()."
            )
        return self._require_client().download(self.url, target)

    def _require_client(self) -> Client:
        if self._client is None:
            self._client = default_client()
        return self._client

    # How to make a new generation, handed to the model by the package face (hailuo_nb's
    # ``_connect``, at first use): the model stays below the API and never imports it.
    generator: ClassVar[Callable[..., Any] | None] = None

    def continue_with(self, prompt: str = "", **options: Any) -> Task:
        """The next shot: this finished clip's last frame as the image of a new
        image-to-video generation (standard or ``model="fast"``), recorded as its child."""
        if self.status != "completed" or not (self.local_path and os.path.exists(
                self.local_path)):
            raise ValidationError(
                f"Task {self.id or '(not sent)'} has no video on disk to continue from — wait "
                "for it (task.wait()) first.")
        if Task.generator is None:
            raise ValidationError(
                "continue_with needs hailuo_nb's API: make tasks with hailuo_nb.generate.")
        from ._media import frames  # PyAV loads with the first clip continued, not with the model

        try:
            last = frames.last_frame_jpeg(self.local_path)
        except frames.FrameError as exc:
            raise ValidationError(f"{exc} — it cannot be continued.") from None
        options.setdefault("client", self._client)
        options.setdefault("download_dir", self.download_dir)
        return Task.generator(prompt, image=last, parent=self, **options)

    def camera_report(self) -> Any:
        """Expected vs seen camera motion of this finished clip (hailuo_nb._media.camera_motion)."""
        if not (self.local_path and os.path.exists(self.local_path)):
            raise ValidationError(f"Task {self.id or '(not sent)'} has no video on disk yet — "
                                  "wait for it (task.wait()) first.")
        from ._media.camera_motion import camera_report  # numpy and PyAV load only for a check

        return camera_report(self.local_path, self.prompt)

    def wait_analysed(self, timeout: float | None = None) -> Task:
        """Block until the analysis lane has measured this task's saved video, when it is
        queued there (camera check and clip quality); returns at once otherwise."""
        deadline = None if timeout is None else time.monotonic() + max(0.0, float(timeout))
        with self._changed:
            while self.analysis_state in ("waiting", "running"):
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise TaskTimeoutError(
                        f"Task {self.id}'s video is still being measured after {timeout:g} s "
                        "(a low-priority thread); its download is done.", task_id=self.id)
                self._changed.wait(0.25 if remaining is None else min(0.25, remaining))
        return self

    def quality(self) -> Any:
        """Black and frozen stretches, flicker, motion and sharpness of this finished clip
        (hailuo_nb._media.quality): the analysis lane's result, else measured now (kept in
        the video's sidecar, so a file is measured once)."""
        if not (self.local_path and os.path.exists(self.local_path)):
            raise ValidationError(f"Task {self.id or '(not sent)'} has no video on disk yet — "
                                  "wait for it (task.wait()) first.")
        self.wait_analysed()  # queued there already: measured once, not twice
        report = self.clip_quality
        if report is not None and getattr(report, "path", None) == self.local_path:
            return report
        from ._media.quality import quality_report  # numpy and PyAV load only when measured

        self.clip_quality = quality_report(self.local_path)
        return self.clip_quality

    @property
    def client(self) -> Client | None:
        """The client that follows this task (None until it needs one)."""
        return self._client

    @property
    def store(self) -> Store | None:
        """The history this task is recorded in."""
        return self._store

    def __repr__(self) -> str:
        return task_text(self)
