"""The ``%hailuo`` subcommands other than generation: form, status, resume, history,
login, logout."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from .. import api
from .._client import credentials
from .._client.client import default_client
from .._client.credentials import HOW_TO_SET, MissingAPIKeyError
from .._history.store import default_store
from .._presentation.display import show_task
from .._presentation.render import HistoryTable
from .._presentation.report_page import DEFAULT_REPORT, report
from ..errors import HailuoError, NotFoundError, ValidationError
from .args import (
    HELP,
    HelpShown,
    MagicArgumentParser,
    interpolate,
    split_words,
    usage_error,
)
from .emulator_session import SESSION

DEFAULT_HISTORY_ROWS = 20


def resumed_line(tasks: list) -> str:
    ids = ", ".join(t.id for t in tasks[:5]) + (", …" if len(tasks) > 5 else "")
    return f"Re-attached {len(tasks)} unfinished task(s) from the history: {ids}"


def auto_resume() -> None:
    """On load: follow unfinished tasks again; silent when there is nothing to do."""
    try:
        tasks = api.resume()
    except MissingAPIKeyError:
        return
    except Exception as exc:  # a broken history must not break %load_ext
        print(f"hailuo_nb: could not resume unfinished tasks: {' '.join(str(exc).split())}",
              file=sys.stderr)
        return
    if tasks:  # shown where they belong: in their own cells, when those run again
        print(resumed_line(tasks) + " — re-run their cells to see them there (nothing is "
              "sent again), or `%hailuo status ID`.")


# -- subcommands ---------------------------------------------------------------------------


def cmd_help(shell: Any, rest: str) -> None:
    print(HELP)


def cmd_form(shell: Any, rest: str) -> None:
    if rest:
        raise UsageError("`%hailuo form` takes no arguments.")
    try:
        from ..widgets import GenerationForm  # ipywidgets loads on first use
    except Exception as exc:
        raise UsageError(
            f"The form needs hailuo_nb.widgets (ipywidgets), which did not import: "
            f"{' '.join(str(exc).split())} — use %%hailuo or hailuo_nb.generate() meanwhile."
        ) from None
    display(GenerationForm())


def _task_ids(shell: Any, rest: str) -> list[str]:
    return [interpolate(t, shell.user_ns, "the task id") for t in split_words(rest, "the task id")]


def cmd_status(shell: Any, rest: str) -> None:
    tokens = _task_ids(shell, rest)
    if len(tokens) != 1:
        raise UsageError("Usage: %hailuo status TASK_ID (one id).")
    task_id = tokens[0]
    try:
        task = next((t for t in api.live_tasks() if t.id == task_id), None)
        if task is None:
            if default_store().by_task_id(task_id) is None:
                default_client().get_task(task_id)  # unknown here: ask the server
            task = api.resume(task_id)[0]
        api.check_now(task)
    except MissingAPIKeyError:
        raise UsageError(f"No API key: {HOW_TO_SET}.") from None
    except NotFoundError:
        raise UsageError(
            f"Unknown task id {task_id!r}: not in this session, not in the history, "
            "and the service does not know it (ids expire) — check `%hailuo history`."
        ) from None
    except HailuoError as exc:
        raise usage_error(exc) from None
    show_task(task)


def cmd_resume(shell: Any, rest: str) -> None:
    tokens = _task_ids(shell, rest)
    if len(tokens) > 1:
        raise UsageError("Usage: %hailuo resume [TASK_ID].")
    try:
        tasks = api.resume(tokens[0] if tokens else None)
    except MissingAPIKeyError:
        raise UsageError(f"No API key: {HOW_TO_SET}.") from None
    except HailuoError as exc:
        raise usage_error(exc) from None
    if not tasks:
        print("Nothing to resume: no unfinished tasks in the history.")
        return
    print(resumed_line(tasks))
    for task in tasks:
        show_task(task)


def cmd_forget(shell: Any, rest: str) -> None:
    parser = MagicArgumentParser(prog="%hailuo forget")
    parser.add_argument("task_id", nargs="?", default=None)
    parser.add_argument("--unfinished", action="store_true")
    try:
        args = parser.parse(split_words(rest, "the forget options"))
    except HelpShown:
        return
    if (args.task_id is None) == (not args.unfinished):
        raise UsageError("Usage: %hailuo forget TASK_ID, or %hailuo forget --unfinished.")
    task_id = None if args.task_id is None else interpolate(args.task_id, shell.user_ns,
                                                             "the task id")
    try:
        ids = api.forget(task_id, unfinished=args.unfinished)
    except HailuoError as exc:
        raise usage_error(exc) from None
    if not ids:
        print("Nothing to forget: no unfinished tasks in the history.")
        return
    shown = ", ".join(ids[:5]) + (", …" if len(ids) > 5 else "")
    print(f"Forgot {len(ids)} task(s): {shown} — no longer followed, resumed or reused "
          "(still listed in %hailuo history).")


def cmd_history(shell: Any, rest: str) -> HistoryTable:
    parser = MagicArgumentParser(prog="%hailuo history")
    parser.add_argument("-n", type=int, default=DEFAULT_HISTORY_ROWS, metavar="N")
    try:
        args = parser.parse(split_words(rest, "the history options"))
    except HelpShown:
        return HistoryTable([])
    if args.n < 1:
        raise UsageError(f"%hailuo history: -n must be at least 1, got {args.n}.")
    return HistoryTable(api.history(limit=args.n))


def cmd_report(shell: Any, rest: str) -> None:
    parser = MagicArgumentParser(prog="%hailuo report")
    parser.add_argument("path", nargs="?", default=DEFAULT_REPORT)
    parser.add_argument("-n", type=int, default=None, metavar="N")
    try:
        args = parser.parse(split_words(rest, "the report options"))
    except HelpShown:
        return
    if args.n is not None and args.n < 1:
        raise UsageError(f"%hailuo report: -n must be at least 1, got {args.n}.")
    tasks = None if args.n is None else [t for t in api.recent_tasks(args.n) if t.id]
    try:
        page = report(tasks, interpolate(args.path, shell.user_ns, "the report path"))
    except (HailuoError, OSError) as exc:
        raise usage_error(exc) from None
    folder = page.with_name(f"{page.stem}_files")
    print(f"Report written: {page} (videos in {folder}/). Open it from disk in a browser, or "
          "zip both to share (served through Jupyter's file view its players cannot load: the "
          "server sandboxes HTML pages).")


def cmd_login(shell: Any, rest: str) -> None:
    parser = MagicArgumentParser(prog="%hailuo login")
    parser.add_argument("--save", action="store_true")
    try:
        args = parser.parse(split_words(rest, "the login options"))
    except HelpShown:
        return
    key = getpass.getpass("EVOLINK API key (typing is hidden): ")
    if not key or not key.strip():
        raise UsageError("No key entered: nothing changed.")
    try:
        credentials.set_session_key(key)
    except ValidationError as exc:  # the message never contains the key
        raise usage_error(exc) from None
    SESSION.set_key = False  # the emulator's stand-in key is gone: keep the user's
    message = "API key set for this session."
    if args.save:
        path = credentials.save_key(key)
        message = f"API key set for this session and saved to {path} (readable by you only)."
    del key
    if SESSION.running:
        message += " The emulator still answers (`%hailuo emulator stop` to use the service)."
    print(message)


def cmd_logout(shell: Any, rest: str) -> None:
    if rest:
        raise UsageError("`%hailuo logout` takes no arguments.")
    credentials.set_session_key(None)
    SESSION.set_key = False
    removed = credentials.forget_saved_key()
    parts = ["Session key forgotten"]
    parts.append(f"saved key {credentials.credentials_file()} removed" if removed
                 else "no saved key")
    message = "; ".join(parts) + "."
    if os.environ.get(credentials.ENV_VAR, "").strip():
        message += (f" {credentials.ENV_VAR} is still set in this kernel's environment and "
                    f"will be used: `%env {credentials.ENV_VAR}=` clears it.")
    print(message)
