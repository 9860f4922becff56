"""``%hailuo emulator start|stop|status``: one in-process emulator for the session, with
the settings it replaced put back on stop."""

from __future__ import annotations

import os
import threading
from typing import Any

from IPython.core.error import UsageError

from .. import api
from .._client import credentials
from .._presentation.facts import clip
from .._pure.takes import IN_KERNEL_EMULATOR_ENV
from ..emulator import Emulator
from ..settings import settings
from .args import HelpShown, MagicArgumentParser, split_words

ACTIONS = ("start", "stop", "status")
TASK_SECONDS = 4.0
SESSION_KEY = "emulator"  # the stand-in key when the user has none: the emulator takes any
URL_ENV = ("HAILUO_BASE_URL", "HAILUO_FILES_URL")


class EmulatorSession:
    """The emulator started by `%hailuo emulator start` (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.emulator: Any = None
        self.saved: dict[str, Any] = {}
        self.set_key = False

    @property
    def running(self) -> bool:
        return self.emulator is not None

    def start(self, task_seconds: float) -> Any:
        emu = Emulator(task_seconds=task_seconds).start()
        self.emulator = emu
        self.saved = {
            "base_url": settings.base_url,
            "files_url": settings.files_url,
            "env": {name: os.environ.get(name) for name in URL_ENV},
        }
        settings.base_url = emu.base_url
        settings.files_url = emu.files_url
        # `hailuo_nb.Client()` reads the environment: point it at the emulator too.
        os.environ["HAILUO_BASE_URL"] = emu.base_url
        os.environ["HAILUO_FILES_URL"] = emu.files_url
        # Takes name it "the in-kernel emulator", not by its port (new in every kernel).
        os.environ[IN_KERNEL_EMULATOR_ENV] = emu.base_url
        self.set_key = not credentials.has_key()
        if self.set_key:
            credentials.set_session_key(SESSION_KEY)
        return emu

    def stop(self) -> tuple[str, int]:
        emu, url, files_url = self.emulator, self.emulator.base_url, self.emulator.files_url
        ended = api.stop_following(
            url, "emulator_stopped",
            "the emulator was stopped (%hailuo emulator stop) before this task finished")
        emu.stop()
        if settings.base_url == url:
            settings.base_url = self.saved.get("base_url", "")
        if settings.files_url == files_url:
            settings.files_url = self.saved.get("files_url", "")
        for name, value in self.saved.get("env", {}).items():
            if os.environ.get(name) in (url, files_url):
                if value is None:
                    os.environ.pop(name, None)
                else:
                    os.environ[name] = value
        if os.environ.get(IN_KERNEL_EMULATOR_ENV) == url:
            os.environ.pop(IN_KERNEL_EMULATOR_ENV, None)
        if self.set_key:
            credentials.set_session_key(None)
            self.set_key = False
        self.emulator = None
        self.saved = {}
        return url, ended


SESSION = EmulatorSession()


def emulator_command(rest: str) -> None:
    """`%hailuo emulator [start|stop|status] [--task-seconds S]`."""
    parser = MagicArgumentParser(prog="%hailuo emulator")
    parser.add_argument("action", nargs="?", default="status")
    parser.add_argument("--task-seconds", type=float, default=None, metavar="S")
    try:
        args = parser.parse(split_words(rest, "the emulator options"))
    except HelpShown:
        return
    if args.action not in ACTIONS:
        raise UsageError(f"Unknown emulator action {args.action!r}: use {' | '.join(ACTIONS)}.")
    if args.task_seconds is not None and not args.task_seconds > 0:
        raise UsageError(f"--task-seconds must be > 0, got {args.task_seconds:g}.")
    with SESSION.lock:
        if args.action == "start":
            _start(args.task_seconds)
        elif args.action == "stop":
            if not SESSION.running:
                print("The emulator is not running.")
                return
            url, failed = SESSION.stop()
            note = f" ({failed} unfinished task(s) marked failed)" if failed else ""
            print(f"Emulator at {url} stopped{note}; settings restored.")
        elif SESSION.running:
            emu = SESSION.emulator
            print(f"The emulator is running at {emu.base_url} "
                  f"({emu.tasks_created} task(s) created).")
            print(received_lines(emu))
        else:
            print("The emulator is not running (`%hailuo emulator start`).")


RECEIVED_SHOWN = 10


def received_lines(emu: Any) -> str:
    """What the emulator received, newest last: each task's id, its request's model,
    resolution and duration, whether it had an image, and the prompt."""
    ids = emu.task_ids[-RECEIVED_SHOWN:]
    if not ids:
        return "It has received no generation request yet."
    lines = [f"The last {len(ids)} request(s) it received:"]
    for task_id in ids:
        task = emu.task(task_id)
        body = task.get("body") or {}
        image = " · image" if body.get("image_urls") or body.get("first_frame_image") else ""
        lines.append(f"  {task_id}  {task.get('status', '?'):<10} {body.get('model', '?')} · "
                     f"{body.get('quality') or body.get('resolution') or '?'} · "
                     f"{body.get('duration', '?')} s{image} · "
                     f"{clip(str(body.get('prompt') or ''), 60)}")
    return "\n".join(lines)


def _start(task_seconds: float | None) -> None:
    if SESSION.running:  # options given now apply to the running one (its tasks go on)
        emu = SESSION.emulator
        if task_seconds is not None:
            emu.configure(task_seconds=task_seconds)
            print(f"The emulator at {emu.base_url} was already running: new tasks now take "
                  f"~{task_seconds:g} s.")
        else:
            print(f"The emulator is already running at {emu.base_url}.")
        return
    seconds = TASK_SECONDS if task_seconds is None else task_seconds
    emu = SESSION.start(seconds)
    key_note = (" with the stand-in key 'emulator'" if SESSION.set_key
                else " with your key (the emulator accepts any)")
    print(f"Hailuo emulator running at {emu.base_url}: this session now sends requests "
          f"there{key_note}; videos take ~{seconds:g} s. `%hailuo emulator stop` goes back.")
