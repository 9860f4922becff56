"""IPython magics: ``%%hailuo`` (cell), ``%hailuo`` (line) and their settings.

    %load_ext hailuo_nb

    %%hailuo -q 768p -d 10 -o fox
    A red fox trots through fresh snow at dawn [Tracking shot]

``HailuoMagics`` is a traitlets ``Configurable`` (IPython's ``Magics`` already is one),
so every setting is a documented trait: ``%config HailuoMagics`` lists them and
``%config HailuoMagics.poll_interval = 5`` changes one. Its traits mirror the process-wide
``hailuo_nb.settings.settings`` both ways, which the poller and the Python API read.

Every usage mistake raises ``IPython.core.error.UsageError`` with a one-line message:
IPython prints a UsageError as ``UsageError: <message>`` with no traceback. Nothing is
sent to the service before the input is fully validated.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import getpass
import html
import keyword
import os
import re
import shlex
import string
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from IPython.display import display
from traitlets import TraitError, validate

from .settings import settings

__all__ = [
    "MIRRORED_TRAITS",
    "SUBCOMMANDS",
    "HailuoMagics",
    "HistoryTable",
    "interpolate",
    "load_ipython_extension",
    "unload_ipython_extension",
]

SUBCOMMANDS = ("form", "status", "resume", "history", "login", "logout", "emulator", "help")
EMULATOR_ACTIONS = ("start", "stop", "status")
MIRRORED_TRAITS = (
    "poll_interval",
    "max_poll_interval",
    "first_poll_delay",
    "download_dir",
    "auto_download",
    "auto_resume",
    "base_url",
    "files_url",
    "default_quality",
    "default_duration",
    "max_in_flight",
)
DEFAULT_HISTORY_ROWS = 20
EMULATOR_TASK_SECONDS = 4.0
EMULATOR_SESSION_KEY = "emulator"

HELP = """\
Hailuo 2.3 video generation (evolink.ai) — the magics

  %%hailuo [options]          the prompt is the cell body
  %hailuo [options] PROMPT    one line; `%hailuo -- PROMPT` if the prompt starts with
                              a subcommand word or a dash

Options
  -q, --quality Q        768p or 1080p (default: %config HailuoMagics.default_quality)
  -d, --duration S       6 or 10 seconds (1080p: 6 only)
  -i, --image P          image-to-video: a local file (uploaded first) or an http(s) URL
  --no-optimize          send the prompt as written (prompt_optimizer off)
  --fast                 fast_pretreatment on
  -o, --out NAME         also store the Task in the variable NAME
  --wait                 block until done (scripts, nbconvert); Ctrl-C stops the waiting only
  --dir PATH             download folder (default: %config HailuoMagics.download_dir)
  --no-download          do not download the finished video
  {name} in the prompt or options inserts a notebook variable; {{ and }} are literal braces.

Subcommands (only as the FIRST word)
  %hailuo form                      a point-and-click form
  %hailuo status TASK_ID            refresh a task and show it
  %hailuo resume [TASK_ID]          re-attach to unfinished tasks (all, or one id)
  %hailuo history [-n N]            the latest N tasks (default 20)
  %hailuo login [--save]            type the API key (hidden); --save keeps it in a 0600 file
  %hailuo logout                    forget the session key and the saved key
  %hailuo emulator [start|stop|status] [--task-seconds S]
                                    an offline emulator of the service, for this session
  %hailuo help                      this text

Settings: %config HailuoMagics (e.g. %config HailuoMagics.poll_interval = 5)."""


# -------------------------------------------------------------------------- parsing helpers


class _HelpShown(Exception):
    """-h/--help printed the help: nothing else to do."""


class MagicArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (one line) instead of printing and exiting."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("allow_abbrev", False)  # strict: `--no` is not `--no-download`
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="store_true", help=argparse.SUPPRESS)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(_one_line(f"{self.prog}: {message} — see `%hailuo help`."))

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(_one_line(f"{self.prog}: {message}"))
        raise _HelpShown

    def parse(self, tokens: list[str]) -> argparse.Namespace:
        args = self.parse_args(tokens)
        if args.help:
            print(HELP)
            raise _HelpShown
        return args


def _generation_parser(prog: str) -> MagicArgumentParser:
    p = MagicArgumentParser(prog=prog)
    p.add_argument("-q", "--quality", default=None)
    p.add_argument("-d", "--duration", default=None)
    p.add_argument("-i", "--image", default=None)
    p.add_argument("--no-optimize", action="store_true")
    p.add_argument("--fast", action="store_true")
    p.add_argument("-o", "--out", default=None)
    p.add_argument("--wait", action="store_true")
    p.add_argument("--dir", default=None)
    p.add_argument("--no-download", action="store_true")
    return p


_VALUE_OPTIONS = frozenset(
    {"-q", "--quality", "-d", "--duration", "-i", "--image", "-o", "--out", "--dir"}
)
_TOKEN_RE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _split(text: str, where: str) -> list[str]:
    try:
        return shlex.split(text, posix=os.name != "nt")
    except ValueError as exc:  # "No closing quotation"
        raise UsageError(f"Cannot read {where}: {exc} — check the quotes.") from None


def split_leading_options(text: str) -> tuple[list[str], str]:
    """``-q 768p --wait A fox [Pan left]`` → (['-q', '768p', '--wait'], 'A fox [Pan left]').

    Options are read up to the first word that does not start with ``-`` (or up to
    ``--``); the rest is the prompt, kept exactly as typed (quotes and apostrophes too).
    """
    tokens: list[str] = []
    pos = 0
    while True:
        match = _TOKEN_RE.match(text, pos)
        if not match:
            break
        token = match.group(1)
        if token == "--":  # noqa: S105 - not a password
            pos = match.end()
            break
        if not token.startswith("-") or token == "-":  # noqa: S105
            break
        tokens.append(token)
        pos = match.end()
        if token in _VALUE_OPTIONS:
            value = _TOKEN_RE.match(text, pos)
            if value:
                tokens.append(value.group(1))
                pos = value.end()
    words = []
    for token in tokens:
        words.extend(_split(token, "the options") if token[:1] in "\"'" else [token])
    return words, text[pos:].strip()


class _Formatter(string.Formatter):
    def __init__(self, namespace: Mapping[str, Any], where: str):
        super().__init__()
        self.namespace = namespace
        self.where = where

    def get_value(self, key: Any, args: Any, kwargs: Any) -> Any:
        if isinstance(key, int) or not key:
            raise UsageError(
                f"Empty or numbered braces in {self.where}: write {{name}} to insert a "
                "variable, or {{ and }} for literal braces."
            )
        try:
            return self.namespace[key]
        except KeyError:
            raise UsageError(
                f"Unknown name {{{key}}} in {self.where}: define {key} first, or write "
                f"{{{{{key}}}}} for literal braces."
            ) from None


def interpolate(text: str, namespace: Mapping[str, Any], where: str = "the prompt") -> str:
    """Fill ``{name}`` (also ``{name.attr}``, ``{name[0]}``, ``{name:fmt}``) from ``namespace``.

    ``{{`` and ``}}`` are literal braces. No expression is evaluated.
    """
    if "{" not in text and "}" not in text:
        return text
    try:
        return _Formatter(namespace, where).vformat(text, (), {})
    except UsageError:
        raise
    except Exception as exc:  # "Single '}' encountered", a bad attribute or format spec
        raise UsageError(
            _one_line(f"Cannot fill in the braces of {where}: {exc} — write {{{{ and }}}} "
                      "for literal braces.")
        ) from None


def _usage(exc: BaseException) -> UsageError:
    return UsageError(_one_line(str(exc)))


# -------------------------------------------------------------------------- views


def _view_for(task: Any) -> Any:
    """A live TaskView when the widgets are available, else the Task (text/HTML repr)."""
    try:
        from .widgets import TaskView
    except Exception:  # widgets not importable (yet): the Task shows itself
        return task
    try:
        return TaskView(task)
    except Exception:  # a broken view must not lose the task
        return task


def _show(task: Any) -> Any:
    view = _view_for(task)
    handle = display(view, display_id=True)
    return view, handle


class HistoryTable:
    """Rows of the task history, as a text table and an HTML table (every cell escaped)."""

    COLUMNS = ("created", "task id", "status", "prompt", "quality", "file")

    def __init__(self, rows: Iterable[Mapping[str, Any]], *, prompt_width: int = 48):
        self.rows = [dict(row) for row in rows]
        self.prompt_width = prompt_width

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    @staticmethod
    def _file(row: Mapping[str, Any]) -> str:
        path = row.get("local_path")
        if not path:
            return ""
        try:
            rel = os.path.relpath(path, os.getcwd())
        except ValueError:
            return str(path)
        return str(path) if rel.startswith("..") else rel

    def _cells(self, row: Mapping[str, Any]) -> dict[str, str]:
        from .render import shorten

        request = row.get("request") if isinstance(row.get("request"), Mapping) else {}
        created = row.get("created_at")
        status = str(row.get("status") or "")
        if status == "failed" and row.get("error_code"):
            status = f"failed ({row['error_code']})"
        prompt = str(request.get("prompt") or "")
        if request.get("mode") == "image-to-video":
            prompt = f"[image] {prompt}".strip()
        quality = ""
        if request.get("quality"):
            quality = f"{request['quality']}, {request.get('duration')} s"
        return {
            "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(created))
            if isinstance(created, (int, float)) else "",
            "task id": str(row.get("task_id") or "(not sent)"),
            "status": status,
            "prompt": shorten(prompt, self.prompt_width) if prompt else "",
            "full prompt": prompt,
            "quality": quality,
            "file": self._file(row),
        }

    def text(self) -> str:
        if not self.rows:
            return "No tasks in the history yet."
        table = [{c: c for c in self.COLUMNS}]
        table += [self._cells(row) for row in self.rows]
        widths = {c: max(len(r[c]) for r in table) for c in self.COLUMNS}
        lines = []
        for i, r in enumerate(table):
            lines.append("  ".join(r[c].ljust(widths[c]) for c in self.COLUMNS).rstrip())
            if i == 0:
                lines.append("  ".join("-" * widths[c] for c in self.COLUMNS))
        return "\n".join(lines)

    def html(self) -> str:
        esc = html.escape
        if not self.rows:
            return "<p>No tasks in the history yet.</p>"
        head = "".join(f"<th style='text-align:left'>{esc(c)}</th>" for c in self.COLUMNS)
        body = []
        for row in self.rows:
            cells = self._cells(row)
            out = []
            for column in self.COLUMNS:
                value = cells[column]
                if column == "prompt":
                    out.append(f'<td title="{esc(cells["full prompt"], quote=True)}">'
                               f"{esc(value)}</td>")
                elif column == "file" and value and not os.path.isabs(value):
                    href = esc(quote(value.replace(os.sep, "/")), quote=True)
                    out.append(f'<td><a href="{href}" target="_blank">{esc(value)}</a></td>')
                elif column in ("task id", "file"):
                    out.append(f"<td><code>{esc(value)}</code></td>")
                else:
                    out.append(f"<td>{esc(value)}</td>")
            body.append("<tr>" + "".join(out) + "</tr>")
        return (
            '<table class="hailuo-history" style="font-family:sans-serif;font-size:13px">'
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict:
        return {"text/plain": self.text(), "text/html": self.html()}


# -------------------------------------------------------------------------- the emulator


class _EmulatorSession:
    """The in-process emulator started by `%hailuo emulator start` (one per process)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.emulator: Any = None
        self.saved: dict[str, Any] = {}
        self.set_key = False

    @property
    def running(self) -> bool:
        return self.emulator is not None

    def start(self, task_seconds: float) -> Any:
        from . import credentials
        from .emulator import Emulator

        emu = Emulator(task_seconds=task_seconds).start()
        url = emu.base_url
        self.emulator = emu
        self.saved = {
            "base_url": settings.base_url,
            "files_url": settings.files_url,
            "env": {name: os.environ.get(name) for name in ("HAILUO_BASE_URL", "HAILUO_FILES_URL")},
        }
        settings.base_url = url
        settings.files_url = emu.files_url
        # `hailuo_nb.Client()` reads the environment: point it at the emulator too.
        os.environ["HAILUO_BASE_URL"] = url
        os.environ["HAILUO_FILES_URL"] = emu.files_url
        self.set_key = not credentials.has_key()
        if self.set_key:
            credentials.set_session_key(EMULATOR_SESSION_KEY)
        return emu

    def stop(self) -> tuple[str, int]:
        from . import api, credentials

        emu, url, files_url = self.emulator, self.emulator.base_url, self.emulator.files_url
        ours = [t for t in api.live_tasks()
                if getattr(t._client, "base_url", None) == url and not t.is_terminal]
        for task in ours:  # nobody waits forever on a server that is gone
            with task.settling():
                task.fail_locally("emulator_stopped", "the emulator was stopped (%hailuo "
                                  "emulator stop) before this task finished")
                api.record_task(task)
        others = [t for t in api.live_tasks()
                  if getattr(t._client, "base_url", None) != url and not t.is_terminal]
        poller = api._poller
        if poller is not None and not others and not poller._submissions:
            poller.forget_all()  # only emulator tasks were followed: stop polling a dead port
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
        if self.set_key:
            credentials.set_session_key(None)
            self.set_key = False
        self.emulator = None
        self.saved = {}
        return url, len(ours)


_EMULATOR = _EmulatorSession()


# -------------------------------------------------------------------------- the magics


def _mirrored(name: str):
    """A configurable trait of the same type, default and help as ``Settings.<name>``."""
    from .settings import Settings

    trait = Settings.class_traits()[name]
    return type(trait)(trait.default_value, help=trait.help).tag(config=True)


@magics_class
class HailuoMagics(Magics):
    """``%%hailuo`` / ``%hailuo``: MiniMax Hailuo 2.3 videos from a notebook.

    Every trait below is configurable (``%config HailuoMagics.<name> = value``) and
    mirrors ``hailuo_nb.settings.settings``: changing either changes both.
    """

    # One definition of each setting (hailuo_nb.settings); here they are mirrored copies.
    poll_interval = _mirrored("poll_interval")
    max_poll_interval = _mirrored("max_poll_interval")
    first_poll_delay = _mirrored("first_poll_delay")
    download_dir = _mirrored("download_dir")
    auto_download = _mirrored("auto_download")
    auto_resume = _mirrored("auto_resume")
    base_url = _mirrored("base_url")
    files_url = _mirrored("files_url")
    default_quality = _mirrored("default_quality")
    default_duration = _mirrored("default_duration")
    max_in_flight = _mirrored("max_in_flight")

    def __init__(self, shell: Any = None, **kwargs: Any):
        super().__init__(shell=shell, **kwargs)
        configured = self._configured_names()
        for name in MIRRORED_TRAITS:
            if name in configured:  # %config / ipython_config.py wins at load...
                setattr(settings, name, getattr(self, name))
            else:  # ...else show what the process already uses
                self._copy_from_settings(name)
        self.observe(self._to_settings, names=list(MIRRORED_TRAITS))
        settings.observe(self._from_settings, names=list(MIRRORED_TRAITS))
        self._closed = False

    def _configured_names(self) -> set[str]:
        names: set[str] = set()
        for cls in type(self).__mro__:
            section = cls.__name__
            if section in self.config:
                names.update(self.config[section].keys())
        return names

    def _copy_from_settings(self, name: str) -> None:
        with contextlib.suppress(TraitError):  # a value these traits refuse: keep ours
            setattr(self, name, getattr(settings, name))

    def _to_settings(self, change: dict) -> None:
        setattr(settings, change["name"], change["new"])

    def _from_settings(self, change: dict) -> None:
        self._copy_from_settings(change["name"])

    def close(self) -> None:
        """Stop mirroring the settings (on `%unload_ext`)."""
        if not self._closed:
            settings.unobserve(self._from_settings, names=list(MIRRORED_TRAITS))
            self.unobserve(self._to_settings, names=list(MIRRORED_TRAITS))
            self._closed = True

    @validate("poll_interval", "max_poll_interval", "first_poll_delay")
    def _positive_seconds(self, proposal: dict) -> float:
        value = float(proposal["value"])
        if not value > 0:
            raise TraitError(f"{proposal['trait'].name} must be > 0 seconds, got {value}")
        return value

    @validate("default_quality")
    def _known_quality(self, proposal: dict) -> str:
        from .request import QUALITIES

        value = str(proposal["value"]).strip().lower()
        if value not in QUALITIES:
            raise TraitError(f"default_quality must be one of {', '.join(QUALITIES)}, "
                             f"got {proposal['value']!r}")
        return value

    @validate("default_duration")
    def _known_duration(self, proposal: dict) -> int:
        from .request import DURATIONS

        if proposal["value"] not in DURATIONS:
            raise TraitError(f"default_duration must be 6 or 10, got {proposal['value']!r}")
        return proposal["value"]

    @validate("max_in_flight")
    def _at_least_one(self, proposal: dict) -> int:
        if proposal["value"] < 1:
            raise TraitError(f"max_in_flight must be at least 1, got {proposal['value']}")
        return proposal["value"]

    # -- entry points ---------------------------------------------------------------------

    @no_var_expand  # we interpolate {name} ourselves, strictly (unknown name → UsageError)
    @cell_magic("hailuo")
    def hailuo_cell(self, line: str, cell: str) -> None:
        """Submit the cell body as a prompt: ``%%hailuo [options]``. See ``%hailuo help``."""
        ns = self.shell.user_ns
        tokens = [interpolate(t, ns, "the %%hailuo options") for t in _split(line, "the options")]
        try:
            args = _generation_parser("%%hailuo").parse(tokens)
        except _HelpShown:
            return None
        prompt = interpolate(cell, ns, "the prompt")
        self._generate(args, prompt)
        return None

    @no_var_expand
    @line_magic("hailuo")
    def hailuo_line(self, line: str) -> Any:
        """``%hailuo PROMPT`` or ``%hailuo SUBCOMMAND …``. See ``%hailuo help``."""
        text = line.strip()
        if not text:
            print(HELP)
            return None
        first, rest = [*text.split(None, 1), ""][:2]
        rest = rest.strip()
        if first in SUBCOMMANDS:
            return getattr(self, f"_cmd_{first}")(rest)
        self._refuse_near_subcommand(first, rest)
        ns = self.shell.user_ns
        option_tokens, prompt = split_leading_options(text)
        tokens = [interpolate(t, ns, "the %hailuo options") for t in option_tokens]
        try:
            args = _generation_parser("%hailuo").parse(tokens)
        except _HelpShown:
            return None
        self._generate(args, interpolate(prompt, ns, "the prompt"))
        return None

    @staticmethod
    def _refuse_near_subcommand(first: str, rest: str) -> None:
        """A lone lowercase word, or a near-miss of a subcommand followed by options,
        is a mistyped subcommand rather than a prompt worth paying for."""
        if first.startswith("-"):
            return
        lone_word = not rest and re.fullmatch(r"[a-z][a-z_-]*", first)
        near = difflib.get_close_matches(first.lower(), SUBCOMMANDS, n=1, cutoff=0.75)
        if lone_word or (near and (not rest or rest.startswith("-"))):
            hint = f" — did you mean `%hailuo {near[0]}`?" if near else ""
            raise UsageError(
                f"Unknown subcommand {first!r}{hint} Subcommands: {', '.join(SUBCOMMANDS)}. "
                f"To generate from a one-word prompt write `%hailuo -- {first}`."
            )

    # -- generation -----------------------------------------------------------------------

    def _generate(self, args: argparse.Namespace, prompt: str) -> None:
        from . import api
        from .credentials import HOW_TO_SET, MissingAPIKeyError
        from .errors import HailuoError, ValidationError
        from .request import GenerationRequest

        if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise UsageError(f"-o/--out needs a Python variable name, got {args.out!r}.")
        if args.dir is not None and args.no_download:
            raise UsageError("--dir and --no-download contradict each other: choose one.")
        try:
            request = GenerationRequest(
                prompt=prompt,
                image=args.image or None,
                quality=settings.default_quality if args.quality is None else args.quality,
                duration=settings.default_duration if args.duration is None else args.duration,
                prompt_optimizer=not args.no_optimize,
                fast_pretreatment=args.fast,
            )
        except ValidationError as exc:
            raise _usage(exc) from None
        for warning in request.prompt_warnings:
            print(f"Note: {_one_line(warning)}", file=sys.stderr)
        try:
            task = api.generate(
                request=request,
                download_dir=args.dir,
                download=False if args.no_download else None,
            )
        except MissingAPIKeyError:
            raise UsageError(f"No API key: {HOW_TO_SET}.") from None
        except HailuoError as exc:  # ValidationError, APIError, TransportError: one line
            raise _usage(exc) from None
        ns = self.shell.user_ns
        ns["_hailuo_task"] = task
        if args.out:
            ns[args.out] = task
        view, handle = _show(task)
        if args.wait:
            self._wait(task, view, handle)
        return None

    @staticmethod
    def _wait(task: Any, view: Any, handle: Any) -> None:
        from .errors import HailuoError

        try:
            task.wait()
        except KeyboardInterrupt:
            print(f"Stopped waiting; task {task.id or '(queued)'} goes on — its view keeps "
                  f"updating (`%hailuo status {task.id}`).", file=sys.stderr)
            return
        except HailuoError as exc:  # TaskFailedError, DownloadError: the view shows it too
            _refresh_display(handle, view)
            raise _usage(exc) from None
        _refresh_display(handle, view)

    # -- subcommands ----------------------------------------------------------------------

    def _cmd_help(self, rest: str) -> None:
        print(HELP)

    def _cmd_form(self, rest: str) -> None:
        if rest:
            raise UsageError("`%hailuo form` takes no arguments.")
        try:
            from .widgets import GenerationForm
        except Exception as exc:
            raise UsageError(
                f"The form needs hailuo_nb.widgets (ipywidgets), which did not import: "
                f"{_one_line(exc)} — use %%hailuo or hailuo_nb.generate() meanwhile."
            ) from None
        display(GenerationForm())

    def _cmd_status(self, rest: str) -> None:
        from . import api
        from .credentials import HOW_TO_SET, MissingAPIKeyError
        from .errors import HailuoError, NotFoundError
        from .store import default_store

        tokens = [interpolate(t, self.shell.user_ns, "the task id")
                  for t in _split(rest, "the task id")]
        if len(tokens) != 1:
            raise UsageError("Usage: %hailuo status TASK_ID (one id).")
        task_id = tokens[0]
        try:
            task = next((t for t in api.live_tasks() if t.id == task_id), None)
            if task is None:
                if default_store().by_task_id(task_id) is None:
                    api.default_client().get_task(task_id)  # unknown here: ask the server
                task = api.resume(task_id)[0]
            _refresh(task)
        except MissingAPIKeyError:
            raise UsageError(f"No API key: {HOW_TO_SET}.") from None
        except NotFoundError:
            raise UsageError(
                f"Unknown task id {task_id!r}: not in this session, not in the history, "
                "and the service does not know it (ids expire) — check `%hailuo history`."
            ) from None
        except HailuoError as exc:
            raise _usage(exc) from None
        display(_view_for(task))

    def _cmd_resume(self, rest: str) -> None:
        from . import api
        from .credentials import HOW_TO_SET, MissingAPIKeyError
        from .errors import HailuoError

        tokens = [interpolate(t, self.shell.user_ns, "the task id")
                  for t in _split(rest, "the task id")]
        if len(tokens) > 1:
            raise UsageError("Usage: %hailuo resume [TASK_ID].")
        try:
            tasks = api.resume(tokens[0] if tokens else None)
        except MissingAPIKeyError:
            raise UsageError(f"No API key: {HOW_TO_SET}.") from None
        except HailuoError as exc:
            raise _usage(exc) from None
        if not tasks:
            print("Nothing to resume: no unfinished tasks in the history.")
            return
        print(_resumed_line(tasks))
        for task in tasks:
            display(_view_for(task))

    def _cmd_history(self, rest: str) -> HistoryTable:
        from . import api

        parser = MagicArgumentParser(prog="%hailuo history")
        parser.add_argument("-n", type=int, default=DEFAULT_HISTORY_ROWS, metavar="N")
        try:
            args = parser.parse(_split(rest, "the history options"))
        except _HelpShown:
            return HistoryTable([])
        if args.n < 1:
            raise UsageError(f"%hailuo history: -n must be at least 1, got {args.n}.")
        return HistoryTable(api.history(limit=args.n))

    def _cmd_login(self, rest: str) -> None:
        from . import credentials
        from .errors import ValidationError

        parser = MagicArgumentParser(prog="%hailuo login")
        parser.add_argument("--save", action="store_true")
        try:
            args = parser.parse(_split(rest, "the login options"))
        except _HelpShown:
            return
        key = getpass.getpass("EVOLINK API key (typing is hidden): ")
        if not key or not key.strip():
            raise UsageError("No key entered: nothing changed.")
        try:
            credentials.set_session_key(key)
        except ValidationError as exc:  # the message never contains the key
            raise _usage(exc) from None
        _EMULATOR.set_key = False  # the emulator's stand-in key is gone: keep the user's
        message = "API key set for this session."
        if args.save:
            path = credentials.save_key(key)
            message = f"API key set for this session and saved to {path} (readable by you only)."
        del key
        if _EMULATOR.running:
            message += " The emulator still answers (`%hailuo emulator stop` to use the service)."
        print(message)

    def _cmd_logout(self, rest: str) -> None:
        from . import credentials

        if rest:
            raise UsageError("`%hailuo logout` takes no arguments.")
        credentials.set_session_key(None)
        _EMULATOR.set_key = False
        removed = credentials.forget_saved_key()
        parts = ["Session key forgotten"]
        parts.append(f"saved key {credentials.credentials_file()} removed" if removed
                     else "no saved key")
        message = "; ".join(parts) + "."
        if os.environ.get(credentials.ENV_VAR, "").strip():
            message += (f" {credentials.ENV_VAR} is still set in this kernel's environment and "
                        f"will be used: `%env {credentials.ENV_VAR}=` clears it.")
        print(message)

    def _cmd_emulator(self, rest: str) -> None:
        parser = MagicArgumentParser(prog="%hailuo emulator")
        parser.add_argument("action", nargs="?", default="status")
        parser.add_argument("--task-seconds", type=float, default=EMULATOR_TASK_SECONDS,
                            metavar="S")
        try:
            args = parser.parse(_split(rest, "the emulator options"))
        except _HelpShown:
            return
        if args.action not in EMULATOR_ACTIONS:
            raise UsageError(f"Unknown emulator action {args.action!r}: use "
                             f"{' | '.join(EMULATOR_ACTIONS)}.")
        if not args.task_seconds > 0:
            raise UsageError(f"--task-seconds must be > 0, got {args.task_seconds:g}.")
        with _EMULATOR.lock:
            if args.action == "start":
                if _EMULATOR.running:
                    print(f"The emulator is already running at {_EMULATOR.emulator.base_url}.")
                    return
                emu = _EMULATOR.start(args.task_seconds)
                key_note = (" with the stand-in key 'emulator'" if _EMULATOR.set_key
                            else " with your key (the emulator accepts any)")
                print(f"Hailuo emulator running at {emu.base_url}: this session now sends "
                      f"requests there{key_note}; videos take ~{args.task_seconds:g} s. "
                      "`%hailuo emulator stop` goes back.")
            elif args.action == "stop":
                if not _EMULATOR.running:
                    print("The emulator is not running.")
                    return
                url, failed = _EMULATOR.stop()
                note = f" ({failed} unfinished task(s) marked failed)" if failed else ""
                print(f"Emulator at {url} stopped{note}; settings restored.")
            else:
                if _EMULATOR.running:
                    emu = _EMULATOR.emulator
                    print(f"The emulator is running at {emu.base_url} "
                          f"({emu.tasks_created} task(s) created).")
                else:
                    print("The emulator is not running (`%hailuo emulator start`).")


# -------------------------------------------------------------------------- helpers


def _refresh_display(handle: Any, view: Any) -> None:
    """Re-render the output in place, so a saved notebook keeps the final state."""
    if handle is None:
        return
    with contextlib.suppress(Exception):  # the live view already shows the state
        handle.update(view)


def _refresh(task: Any) -> None:
    """Ask the server now and record the answer, leaving downloads to the poller."""
    from . import api

    if not task.id:
        return
    was_terminal = task.is_terminal
    client = task._require_client()
    snapshot = client.get_task(task.id)
    needs_file = (snapshot.status == "completed" and task.download_dir is not None
                  and not task.local_path and task.download_state in ("", "waiting"))
    with task.settling():
        if needs_file:
            task.download_state = "waiting"  # before status: waiters never return early
        task.apply(snapshot)
        api.record_task(task)
    if needs_file and was_terminal:  # the poller is no longer following it
        api.get_poller().downloader.enqueue(task, client)


def _resumed_line(tasks: list) -> str:
    ids = ", ".join(t.id for t in tasks[:5]) + (", …" if len(tasks) > 5 else "")
    return f"Re-attached {len(tasks)} unfinished task(s) from the history: {ids}"


def _auto_resume() -> None:
    """On load: follow unfinished tasks again; silent when there is nothing to do."""
    from . import api
    from .credentials import MissingAPIKeyError

    try:
        tasks = api.resume()
    except MissingAPIKeyError:
        return
    except Exception as exc:  # a broken history must not break %load_ext
        print(f"hailuo_nb: could not resume unfinished tasks: {_one_line(exc)}", file=sys.stderr)
        return
    if tasks:
        print(_resumed_line(tasks))
        for task in tasks:
            display(_view_for(task))


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hailuo_nb``: register the magics and resume unfinished tasks."""
    if isinstance(ipython.magics_manager.registry.get("HailuoMagics"), HailuoMagics):
        return
    magics = HailuoMagics(shell=ipython)
    ipython.register_magics(magics)
    if settings.auto_resume:
        _auto_resume()


def unload_ipython_extension(ipython: Any) -> None:
    """``%unload_ext hailuo_nb``: remove the magics and stop mirroring the settings."""
    manager = ipython.magics_manager
    magics = manager.registry.pop("HailuoMagics", None)
    for kind in ("line", "cell"):
        manager.magics[kind].pop("hailuo", None)
    if magics is not None:
        magics.close()
        if magics in ipython.configurables:
            ipython.configurables.remove(magics)
