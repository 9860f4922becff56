"""Reading what the user typed: the reference text, an argparse that raises one-line
``UsageError``s, option/prompt splitting and strict ``{name}`` interpolation."""

from __future__ import annotations

import argparse
import functools
import os
import re
import shlex
import string
from collections.abc import Mapping
from typing import Any

from IPython.core.error import UsageError

from .._pure.lineup import MODELS

SUBCOMMANDS = ("form", "status", "resume", "forget", "history", "report", "stitch", "camera",
               "files", "login", "logout", "emulator", "help")

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
  --new                  a new take: re-running a cell otherwise reuses what it made
  -m, --model M          {models}
  --dry-run              show the exact JSON body and the checks it passed; send nothing
  --from NAME            continue the finished Task in NAME: its last frame is the image
  {name} in the prompt or options inserts a notebook variable; {{ and }} are literal braces.

Subcommands (only as the FIRST word)
  %hailuo form                      a point-and-click form
  %hailuo status TASK_ID            refresh a task and show it
  %hailuo resume [TASK_ID]          re-attach to unfinished tasks (all, or one id)
  %hailuo forget TASK_ID | --unfinished
                                    stop following tasks; not resumed or reused again
  %hailuo history [-n N]            the latest N tasks (default 20)
  %hailuo report [PATH] [-n N]      one HTML page of this session's results (or the last N),
                                    videos copied beside it (default hailuo_report.html)
  %hailuo stitch OUT.mp4 A B …      join finished Tasks (variable names) or files into one
  %hailuo camera NAME               expected vs seen camera motion of a finished Task
  %hailuo files [clean]             the account's uploads and quota; clean deletes this
                                    project's uploads whose tasks are done
  %hailuo login [--save]            type the API key (hidden); --save keeps it in a 0600 file
  %hailuo logout                    forget the session key and the saved key
  %hailuo emulator [start|stop|status] [--task-seconds S]
                                    an offline emulator of the service, for this session
  %hailuo help                      this text

Settings: %config HailuoMagics (e.g. %config HailuoMagics.poll_interval = 5)."""
# The models line comes from the one table of models (their rules live there too).
HELP = HELP.replace("{models}", "; ".join(
    f"{m.short} = {m.name} ({m.summary})" for m in MODELS.values()))


class HelpShown(Exception):
    """-h/--help printed the help: nothing else to do."""


class MagicArgumentParser(argparse.ArgumentParser):
    """argparse that raises ``UsageError`` (one line) instead of printing and exiting."""

    def __init__(self, *args: Any, **kwargs: Any):
        kwargs.setdefault("allow_abbrev", False)  # strict: `--no` is not `--no-download`
        kwargs.setdefault("add_help", False)
        super().__init__(*args, **kwargs)
        self.add_argument("-h", "--help", action="store_true", help=argparse.SUPPRESS)

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(one_line(f"{self.prog}: {message} — see `%hailuo help`."))

    def exit(self, status: int = 0, message: str | None = None) -> None:  # type: ignore[override]
        if message:
            raise UsageError(one_line(f"{self.prog}: {message}"))
        raise HelpShown

    def parse(self, tokens: list[str]) -> argparse.Namespace:
        args = self.parse_args(tokens)
        if args.help:
            print(HELP)
            raise HelpShown
        return args


@functools.lru_cache(maxsize=4)  # built once per prog: argparse takes longer to build than to run
def generation_parser(prog: str) -> MagicArgumentParser:
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
    p.add_argument("--new", action="store_true")
    p.add_argument("-m", "--model", default=None)
    p.add_argument("--dry-run", action="store_true")
    p.add_argument("--from", dest="from_task", default=None, metavar="NAME")
    return p


_VALUE_OPTIONS = frozenset(
    {"-q", "--quality", "-d", "--duration", "-i", "--image", "-o", "--out", "--dir", "-m",
     "--model", "--from"}
)
_TOKEN_RE = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|\S+)""")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def split_words(text: str, where: str) -> list[str]:
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
        words.extend(split_words(token, "the options") if token[:1] in "\"'" else [token])
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
            one_line(f"Cannot fill in the braces of {where}: {exc} — write {{{{ and }}}} "
                      "for literal braces.")
        ) from None


def usage_error(exc: BaseException) -> UsageError:
    return UsageError(one_line(str(exc)))
