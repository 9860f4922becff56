"""``HailuoMagics``: the ``%%hailuo`` / ``%hailuo`` entry points and their settings.

``HailuoMagics`` is a traitlets ``Configurable`` (IPython's ``Magics`` already is one),
so every setting is a documented trait: ``%config HailuoMagics`` lists them and
``%config HailuoMagics.poll_interval = 5`` changes one. Its traits mirror the process-wide
``hailuo_nb.settings.settings`` both ways, and both check values with the one rule
``settings.check_setting``.
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import keyword
import re
import sys
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class, no_var_expand
from traitlets import TraitError, validate

from .. import api
from .._client.credentials import HOW_TO_SET, MissingAPIKeyError
from .._presentation.display import (
    follow_in_terminal,
    in_terminal,
    register_task_display,
    say_when_it_ends,
    show_task,
)
from ..errors import HailuoError, ValidationError
from ..request import GenerationRequest, dry_run_body
from ..settings import SETTING_NAMES, Settings, check_setting, settings
from . import commands, sequence_commands
from .args import (
    HELP,
    SUBCOMMANDS,
    HelpShown,
    generation_parser,
    interpolate,
    one_line,
    split_leading_options,
    split_words,
    usage_error,
)
from .emulator_session import emulator_command

MIRRORED_TRAITS = SETTING_NAMES
# With --from the image is the parent's last frame, read later: checked as image-to-video.
_PLACEHOLDER_IMAGE = "https://placeholder.invalid/last-frame.jpg"
COMMANDS = {
    "form": commands.cmd_form, "status": commands.cmd_status, "resume": commands.cmd_resume,
    "history": commands.cmd_history, "login": commands.cmd_login,
    "logout": commands.cmd_logout, "help": commands.cmd_help, "report": commands.cmd_report,
    "forget": commands.cmd_forget, "stitch": sequence_commands.cmd_stitch,
    "camera": sequence_commands.cmd_camera, "files": sequence_commands.cmd_files,
    "emulator": lambda shell, rest: emulator_command(rest),
}


def _mirrored(name: str):
    """A configurable trait of the same type, default and help as ``Settings.<name>``."""
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
    auto_analyse = _mirrored("auto_analyse")
    auto_resume = _mirrored("auto_resume")
    base_url = _mirrored("base_url")
    files_url = _mirrored("files_url")
    default_quality = _mirrored("default_quality")
    default_duration = _mirrored("default_duration")
    max_in_flight = _mirrored("max_in_flight")
    default_model = _mirrored("default_model")
    max_credits = _mirrored("max_credits")

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

    @validate(*SETTING_NAMES)
    def _checked(self, proposal: dict) -> Any:
        return check_setting(proposal["trait"].name, proposal["value"])

    # -- entry points ---------------------------------------------------------------------

    @no_var_expand  # we interpolate {name} ourselves, strictly (unknown name → UsageError)
    @cell_magic("hailuo")
    def hailuo_cell(self, line: str, cell: str) -> None:
        """Submit the cell body as a prompt: ``%%hailuo [options]``. See ``%hailuo help``."""
        ns = self.shell.user_ns
        tokens = [interpolate(t, ns, "the %%hailuo options")
                  for t in split_words(line, "the options")]
        try:
            args = generation_parser("%%hailuo").parse(tokens)
        except HelpShown:
            return None
        self._generate(args, interpolate(cell, ns, "the prompt"))
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
        if first in SUBCOMMANDS:
            return COMMANDS[first](self.shell, rest.strip())
        _refuse_near_subcommand(first, rest.strip())
        ns = self.shell.user_ns
        option_tokens, prompt = split_leading_options(text)
        tokens = [interpolate(t, ns, "the %hailuo options") for t in option_tokens]
        try:
            args = generation_parser("%hailuo").parse(tokens)
        except HelpShown:
            return None
        self._generate(args, interpolate(prompt, ns, "the prompt"))
        return None

    # -- generation -----------------------------------------------------------------------

    def _generate(self, args: argparse.Namespace, prompt: str) -> None:
        if args.out is not None and (not args.out.isidentifier() or keyword.iskeyword(args.out)):
            raise UsageError(f"-o/--out needs a Python variable name, got {args.out!r}.")
        if args.dir is not None and args.no_download:
            raise UsageError("--dir and --no-download contradict each other: choose one.")
        try:
            request = GenerationRequest(
                prompt=prompt,
                image=args.image or (_PLACEHOLDER_IMAGE if args.from_task else None),
                quality=settings.default_quality if args.quality is None else args.quality,
                duration=settings.default_duration if args.duration is None else args.duration,
                prompt_optimizer=not args.no_optimize,
                fast_pretreatment=args.fast,
                model=settings.default_model if args.model is None else args.model,
            )
        except ValidationError as exc:
            raise usage_error(exc) from None
        for warning in request.prompt_warnings:
            print(f"Note: {one_line(warning)}", file=sys.stderr)
        if args.dry_run:
            _show_dry_run(request)
            return
        try:
            if args.from_task is not None:  # the next shot: the parent's last frame
                parent = sequence_commands.task_named(self.shell, args.from_task, "--from")
                task = parent.continue_with(
                    prompt, quality=request.quality, duration=request.duration,
                    model=request.model, prompt_optimizer=request.prompt_optimizer,
                    fast_pretreatment=request.fast_pretreatment, new=args.new,
                    download_dir=args.dir, download=False if args.no_download else None)
            else:
                task = api.generate(request=request, download_dir=args.dir,
                                    download=False if args.no_download else None, new=args.new)
        except MissingAPIKeyError:
            raise UsageError(f"No API key: {HOW_TO_SET}.") from None
        except HailuoError as exc:  # ValidationError, APIError, TransportError: one line
            raise usage_error(exc) from None
        ns = self.shell.user_ns
        ns["_hailuo_task"] = task
        if args.out:
            ns[args.out] = task
        if args.wait and in_terminal():
            _wait(task, terminal=True)
        else:
            show_task(task)
            if args.wait:
                _wait(task)


def _show_dry_run(request: GenerationRequest) -> None:
    """The body that would be sent and what was checked; nothing is sent or recorded."""
    body = dry_run_body(request)
    checks = [f"model {request.model}: {request.mode} allowed",
              f"{request.quality} and {request.duration} s go together",
              f"prompt: {len(request.prompt)} of 2000 characters"]
    if request.camera_commands:
        checks.append("camera commands: " + ", ".join(request.camera_commands))
    if request.image_kind in ("path", "bytes"):
        checks.append(f"image: {request.image_info.describe()} (uploaded only when sent)")
    print("Dry run: nothing was sent.\nPOST /v1/videos/generations\n"
          + json.dumps(body, indent=2, ensure_ascii=False)
          + "\nChecks passed: " + "; ".join(checks) + ".")


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


def _wait(task: Any, *, terminal: bool = False) -> None:
    """Block until ``task`` settles; its output has turned into the record by then (in a
    terminal: a progress line, then the record)."""
    try:
        if terminal:
            follow_in_terminal(task)
        task.wait()
    except KeyboardInterrupt:
        if terminal:  # nothing in a terminal updates: a line comes when it ends
            print(f"Stopped waiting; task {task.id or '(queued)'} goes on in the background "
                  "and a line says when it ends.", file=sys.stderr)
            say_when_it_ends(task)
        else:
            print(f"Stopped waiting; task {task.id or '(queued)'} goes on and its output "
                  "above keeps updating.", file=sys.stderr)
        return
    except HailuoError as exc:  # TaskFailedError, DownloadError: the record shows it too
        raise usage_error(exc) from None


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext hailuo_nb``: register the magics and the task views, resume unfinished
    tasks."""
    register_task_display(ipython)
    if isinstance(ipython.magics_manager.registry.get("HailuoMagics"), HailuoMagics):
        return
    magics = HailuoMagics(shell=ipython)
    ipython.register_magics(magics)
    if settings.auto_resume:
        commands.auto_resume()


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
