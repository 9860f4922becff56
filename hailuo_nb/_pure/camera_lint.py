"""Lint the camera commands of a Hailuo 2.3 prompt (the command table: camera_commands).

Camera commands are written in square brackets inside the prompt: ``[Pan left]``,
several at once with a comma and no space, ``[Pan left,Pedestal up]`` (at most 3
recommended), several in sequence in text order (``... [Push in], then [Pull out]``).

:func:`lint_prompt` reads every bracket of a prompt once, left to right:

- a recognised command (any case, any spacing) is rewritten canonically;
- a near miss (``[Pan lft]``, ``[Zoom-in]``, ``[Static]``) is an **error** that names
  the closest command, because the model would read it as plain text;
- anything else in brackets (``[sic]``, ``[1]``) stays as text, with a warning.

It never raises and runs in time linear in the prompt's length (each bracket's
content is compared only when its length is close to a command's).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from ..errors import ValidationError
from .camera_commands import (
    _EXACT,
    _OPPOSITES,
    CAMERA_COMMANDS,
    CAMERA_GROUPS,
    MAX_COMMANDS_PER_BRACKET,
    _closest,
    _compact,
    _leading_command,
    _spaced,
    _split_run_together,
)

__all__ = [
    "CAMERA_COMMANDS",
    "CAMERA_GROUPS",
    "MAX_COMMANDS_PER_BRACKET",
    "CameraGroup",
    "LintIssue",
    "PromptLint",
    "add_camera_command",
    "lint_prompt",
    "normalize_prompt",
]

_ISSUE_KINDS = (
    "unknown_command",
    "too_many",
    "not_a_command",
    "empty",
    "unbalanced",
    "duplicate",
    "contradictory",
)


@dataclass(frozen=True)
class LintIssue:
    """One finding. ``start``/``end`` index the original prompt (end exclusive)."""

    message: str
    start: int
    end: int
    suggestion: str | None = None
    kind: str = "unknown_command"

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class CameraGroup:
    """One bracket of recognised camera commands, as found in the original prompt."""

    start: int
    end: int
    raw: str
    commands: tuple[str, ...]

    @property
    def canonical(self) -> str:
        return "[" + ",".join(self.commands) + "]"


@dataclass(frozen=True)
class PromptLint:
    """What :func:`lint_prompt` found. ``normalized`` is the prompt to send."""

    prompt: str
    normalized: str
    groups: tuple[CameraGroup, ...] = ()
    errors: tuple[LintIssue, ...] = ()
    warnings: tuple[LintIssue, ...] = field(default=())

    @property
    def ok(self) -> bool:
        return not self.errors

    @property
    def commands(self) -> tuple[str, ...]:
        """Every recognised command, in text order."""
        return tuple(cmd for group in self.groups for cmd in group.commands)

    @property
    def issues(self) -> tuple[LintIssue, ...]:
        """Errors and warnings together, in text order."""
        return tuple(sorted(self.errors + self.warnings, key=lambda i: (i.start, i.end)))

    def first_error_message(self) -> str | None:
        return self.errors[0].message if self.errors else None



# ---------------------------------------------------------------------------- messages


def _show(text: str, limit: int = 60) -> str:
    """Text safe for a one-line message, clipped."""
    if not text.isprintable():
        text = "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _did_you_mean(cmds: tuple[str, ...]) -> str:
    options = [f"[{c}]" for c in cmds[:3]]
    if len(options) == 1:
        return options[0]
    return ", ".join(options[:-1]) + " or " + options[-1]


_ALL_COMMANDS_TEXT = ", ".join(CAMERA_COMMANDS)


# ---------------------------------------------------------------------------- the linter


def lint_prompt(prompt: str) -> PromptLint:
    """Find, check and canonicalise every camera command in ``prompt``. Never raises."""
    try:
        text = prompt if isinstance(prompt, str) else ("" if prompt is None else str(prompt))
    except Exception:
        text = ""
    try:
        return _lint(text)
    except Exception:  # pragma: no cover - a linter bug must never break a cell...
        logging.getLogger(__name__).exception("hailuo_nb: the prompt linter failed")  # ...or hide
        return PromptLint(prompt=text, normalized=text)


def normalize_prompt(prompt: str) -> str:
    """The prompt with camera commands canonical; ValidationError on the first bad one."""
    lint = lint_prompt(prompt)
    if lint.errors:
        raise ValidationError(lint.errors[0].message, field="prompt")
    return lint.normalized


def _lint(text: str) -> PromptLint:
    groups: list[CameraGroup] = []
    errors: list[LintIssue] = []
    warnings: list[LintIssue] = []
    out: list[str] = []
    copied = 0  # text[:copied] is already in out
    open_at = -1
    for index, ch in enumerate(text):
        if ch == "[":
            if open_at >= 0:
                warnings.append(_unbalanced(text, open_at, "["))
            open_at = index
        elif ch == "]":
            if open_at < 0:
                warnings.append(_unbalanced(text, index, "]"))
                continue
            start, end = open_at, index + 1
            open_at = -1
            replacement = _check_bracket(text, start, end, groups, errors, warnings)
            if replacement is not None:
                out.append(text[copied:start])
                out.append(replacement)
                copied = end
    if open_at >= 0:
        warnings.append(_unbalanced(text, open_at, "["))
    out.append(text[copied:])
    return PromptLint(
        prompt=text,
        normalized="".join(out),
        groups=tuple(groups),
        errors=tuple(errors),
        warnings=tuple(sorted(warnings, key=lambda i: (i.start, i.end))),
    )


def _unbalanced(text: str, at: int, which: str) -> LintIssue:
    context = _show(text[at : at + 24] if which == "[" else text[max(0, at - 23) : at + 1], 24)
    if which == "[":
        advice = "add the closing ']' if it starts a camera command"
    else:
        advice = "add the opening '[' if it ends a camera command"
    return LintIssue(
        message=(
            f"Unmatched '{which}' at character {at + 1} ({context!r}) will be sent as text — "
            f"{advice}."
        ),
        start=at,
        end=at + 1,
        kind="unbalanced",
    )


# ---------------------------------------------------------------------------- one bracket


def _check_bracket(
    text: str,
    start: int,
    end: int,
    groups: list[CameraGroup],
    errors: list[LintIssue],
    warnings: list[LintIssue],
) -> str | None:
    """Check one ``[...]``; returns its canonical text, or None to keep it as written."""
    raw = text[start:end]
    inner_start = start + 1
    inner = text[inner_start : end - 1]
    if not inner.strip():
        warnings.append(_empty_issue(raw, start, end))
        return None
    parts = _split_parts(inner, inner_start)
    known, near = _classify(parts)
    if all(k is None for k in known) and not any(near):
        warnings.append(_not_a_command_issue(raw, start, end))
        return None
    unknown = _unknown_command_errors(parts, known, near, raw)
    if unknown:
        errors.extend(unknown)
        return None
    commands = tuple(k for k in known if k is not None)
    canonical = "[" + ",".join(commands) + "]"
    groups.append(CameraGroup(start=start, end=end, raw=raw, commands=commands))
    warnings.extend(_combination_warnings(commands, canonical, start, end))
    return canonical


def _split_parts(inner: str, inner_start: int) -> list[tuple[str, int, int]]:
    """Split on commas, remembering where each part sits in the original text."""
    parts: list[tuple[str, int, int]] = []
    offset = 0
    for piece in inner.split(","):
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            p_start = inner_start + offset + lead
            parts.append((stripped, p_start, p_start + len(stripped)))
        offset += len(piece) + 1
    return parts


def _classify(
    parts: list[tuple[str, int, int]],
) -> tuple[list[str | None], list[tuple[str, ...]]]:
    """Each part as a command, or None with its near misses (none: unrelated text)."""
    known: list[str | None] = []
    near: list[tuple[str, ...]] = []
    for part, _, _ in parts:
        spaced = _spaced(part)
        cmd = _EXACT.get(spaced)
        known.append(cmd)
        near.append(() if cmd is not None else _guess(part, spaced))
    return known, near


def _guess(part: str, spaced: str) -> tuple[str, ...]:
    """The commands an unrecognised part most likely means: a typo or alias, several
    commands run together, or a command followed by other words."""
    guess = _closest(_compact(part))
    if not guess:
        joined = _split_run_together(part)
        guess = (",".join(joined),) if joined else ()
    if not guess:
        lead = _leading_command(spaced)
        guess = (lead,) if lead else ()
    return guess


def _empty_issue(raw: str, start: int, end: int) -> LintIssue:
    return LintIssue(
        message=(
            f"Empty brackets {_show(raw)} at character {start + 1} will be sent as "
            "text — put a camera command inside (e.g. [Static shot]) or remove them."
        ),
        start=start,
        end=end,
        kind="empty",
    )


def _not_a_command_issue(raw: str, start: int, end: int) -> LintIssue:
    return LintIssue(
        message=(
            f"{_show(raw)} is not a camera command and will be sent as text — fine if "
            "you meant it; camera commands look like [Pan left] or [Push in,Zoom out]."
        ),
        start=start,
        end=end,
        kind="not_a_command",
    )


def _unknown_command_errors(
    parts: list[tuple[str, int, int]],
    known: list[str | None],
    near: list[tuple[str, ...]],
    raw: str,
) -> list[LintIssue]:
    """One error per part that is not a command, in a bracket that holds commands."""
    errors: list[LintIssue] = []
    for (part, p_start, p_end), cmd, guess in zip(parts, known, near, strict=True):
        if cmd is not None:
            continue
        shown = f"[{_show(part)}]"
        where = "" if len(parts) == 1 else f" in {_show(raw)}"
        if guess:
            message = (
                f"Unknown camera command {shown}{where} — did you mean {_did_you_mean(guess)}?"
            )
            suggestion = guess[0]
        else:
            message = (
                f"Unknown camera command {shown}{where} — a bracket with camera commands may "
                f"hold only these (move other words outside the brackets): {_ALL_COMMANDS_TEXT}."
            )
            suggestion = None
        errors.append(
            LintIssue(
                message=message,
                start=p_start,
                end=p_end,
                suggestion=suggestion,
                kind="unknown_command",
            )
        )
    return errors


def _combination_warnings(
    commands: tuple[str, ...], canonical: str, start: int, end: int
) -> list[LintIssue]:
    """Too many commands, a command twice, commands that pull against each other."""
    found = (
        _too_many(commands, canonical, start, end),
        _duplicate(commands, canonical, start, end),
        _contradictory(commands, canonical, start, end),
    )
    return [issue for issue in found if issue is not None]


def _too_many(commands: tuple[str, ...], canonical: str, start: int, end: int) -> LintIssue | None:
    if len(commands) <= MAX_COMMANDS_PER_BRACKET:
        return None
    return LintIssue(
        message=(
            f"{_show(canonical, 80)} combines {len(commands)} camera commands; the "
            f"provider recommends at most {MAX_COMMANDS_PER_BRACKET} — split them into "
            "brackets that run one after another."
        ),
        start=start,
        end=end,
        kind="too_many",
    )


def _duplicate(commands: tuple[str, ...], canonical: str, start: int, end: int) -> LintIssue | None:
    seen: set[str] = set()
    for cmd in commands:
        if cmd in seen:
            return LintIssue(
                message=f"{_show(canonical, 80)} names {cmd} twice — once is enough.",
                start=start,
                end=end,
                suggestion=cmd,
                kind="duplicate",
            )
        seen.add(cmd)
    return None


def _contradictory(
    commands: tuple[str, ...], canonical: str, start: int, end: int
) -> LintIssue | None:
    unique = list(dict.fromkeys(commands))
    clash = next(
        (
            (a, b)
            for i, a in enumerate(unique)
            for b in unique[i + 1 :]
            if frozenset((a, b)) in _OPPOSITES or "Static shot" in (a, b)
        ),
        None,
    )
    if not clash:
        return None
    a, b = clash
    return LintIssue(
        message=(
            f"{_show(canonical, 80)} combines {a} and {b}, which work against each "
            "other — keep one, or put them in separate brackets to run one after "
            "the other."
        ),
        start=start,
        end=end,
        kind="contradictory",
    )


def add_camera_command(prompt: str, command: str, *, combine: bool) -> str:
    """Append ``[command]``; with ``combine``, join the bracket group the prompt ends with.

    ``"A city [Pan left]"`` + Pedestal up, combined → ``"A city [Pan left,Pedestal up]"``.
    """
    text = prompt.rstrip()
    if combine and text.endswith("]"):
        start = text.rfind("[")
        inner = text[start + 1:-1].strip() if start >= 0 else ""
        if start >= 0 and "]" not in text[start:-1]:
            joined = f"{inner},{command}" if inner else command
            return f"{text[:start]}[{joined}]"
    sep = " " if text else ""
    return f"{text}{sep}[{command}]"
