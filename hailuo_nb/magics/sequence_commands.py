"""`%hailuo stitch`, `%hailuo camera` and `%hailuo files`: sequences of shots, whether the
camera obeyed, and the uploads they needed."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.display import HTML, display

from .. import api
from .._client.client import default_client
from .._client.credentials import MissingAPIKeyError
from .._media.camera_motion import CameraReport
from .._media.frames import FrameError
from .._media.stitching import stitch
from .._presentation.facts import relative_src, shown_path, video_tag
from ..errors import HailuoError
from .args import split_words, usage_error


def task_named(shell: Any, name: str, what: str) -> Any:
    """The Task held by notebook variable ``name`` (a one-line UsageError otherwise)."""
    if name not in shell.user_ns:
        raise UsageError(f"{what}: no variable {name!r} — bind a task with -o {name} first.")
    task = shell.user_ns[name]
    if not hasattr(task, "local_path"):
        raise UsageError(f"{what}: {name!r} is a {type(task).__name__}, not a Hailuo Task.")
    return task


def cmd_stitch(shell: Any, rest: str) -> None:
    words = split_words(rest, "the stitch options")
    reencode = "--reencode" in words
    words = [w for w in words if w != "--reencode"]
    if len(words) < 3:
        raise UsageError("Usage: %hailuo stitch OUT.mp4 A B [C …] [--reencode] (A, B: task "
                         "variables or video files).")
    out, names = words[0], words[1:]
    items = [shell.user_ns.get(n, n) for n in names]  # a variable, else a file name
    try:
        path = stitch(items, out, reencode=reencode)
    except (HailuoError, FrameError, OSError) as exc:
        raise usage_error(exc) from None
    src = relative_src(path)
    player = video_tag(src, width="480px") if src else ""
    print(f"Stitched {len(items)} clips into {shown_path(str(path))} (parts listed in "
          f"{shown_path(str(path.with_suffix('.json')))}).")
    if player:
        display(HTML(player))


def cmd_camera(shell: Any, rest: str) -> CameraReport:
    words = split_words(rest, "the camera options")
    if len(words) != 1:
        raise UsageError("Usage: %hailuo camera NAME (a finished Task variable).")
    task = task_named(shell, words[0], "%hailuo camera")
    try:
        return task.camera_report()
    except (HailuoError, FrameError) as exc:
        raise usage_error(exc) from None


def cmd_files(shell: Any, rest: str) -> None:
    words = split_words(rest, "the files options")
    if words not in ([], ["clean"]):
        raise UsageError("Usage: %hailuo files (the account's uploads and quota) or "
                         "%hailuo files clean (delete this project's uploads that are done).")
    try:
        if words == ["clean"]:
            gone = api.clean_uploads()
            print(f"Deleted {len(gone)} upload(s) whose tasks are done." if gone else
                  "Nothing to delete: this project's uploads are still in use, or none.")
            return
        quota = default_client().files_quota()
        listing = default_client().list_files(page=1, page_size=100)
    except (HailuoError, MissingAPIKeyError) as exc:
        raise usage_error(exc) from None
    files = listing.get("files") or []
    print(f"Files: {quota.get('used', '?')} of {quota.get('limit', '?')} used "
          f"({quota.get('remaining', '?')} left); uploads expire 72 h after they are made.")
    for item in files[:100]:
        print(f"  {item.get('file_id', '?')}  {item.get('file_name', '')}  "
              f"{item.get('file_size', '?')} B  expires {item.get('expires_at', '?')}")
    if len(files) < int(listing.get("total") or 0):
        print(f"  … and {int(listing['total']) - len(files)} more")
