"""The 15 camera commands of Hailuo 2.3 and a linter for prompts that use them.

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

import re
from collections import OrderedDict
from dataclasses import dataclass, field

from .errors import ValidationError

__all__ = [
    "CAMERA_COMMANDS",
    "CAMERA_GROUPS",
    "MAX_COMMANDS_PER_BRACKET",
    "CameraGroup",
    "LintIssue",
    "PromptLint",
    "lint_prompt",
    "normalize_prompt",
]

CAMERA_COMMANDS: tuple[str, ...] = (
    "Truck left",
    "Truck right",
    "Pan left",
    "Pan right",
    "Push in",
    "Pull out",
    "Pedestal up",
    "Pedestal down",
    "Tilt up",
    "Tilt down",
    "Zoom in",
    "Zoom out",
    "Shake",
    "Tracking shot",
    "Static shot",
)

# Family -> commands, in the provider's order, for the form's toolbar.
CAMERA_GROUPS: OrderedDict[str, tuple[str, ...]] = OrderedDict(
    [
        ("Truck", ("Truck left", "Truck right")),
        ("Pan", ("Pan left", "Pan right")),
        ("Dolly", ("Push in", "Pull out")),
        ("Pedestal", ("Pedestal up", "Pedestal down")),
        ("Tilt", ("Tilt up", "Tilt down")),
        ("Zoom", ("Zoom in", "Zoom out")),
        ("Special", ("Shake",)),
        ("Follow", ("Tracking shot",)),
        ("Static", ("Static shot",)),
    ]
)

MAX_COMMANDS_PER_BRACKET = 3

# Pairs that pull against each other when combined in one bracket.
_OPPOSITES = {
    frozenset(pair)
    for pair in (
        ("Truck left", "Truck right"),
        ("Pan left", "Pan right"),
        ("Push in", "Pull out"),
        ("Pedestal up", "Pedestal down"),
        ("Tilt up", "Tilt down"),
        ("Zoom in", "Zoom out"),
    )
}

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


# ---------------------------------------------------------------------------- lookup tables


def _spaced(text: str) -> str:
    """Case and spacing normalised: ``'  PAN   Left '`` -> ``'pan left'``."""
    return " ".join(text.lower().split())


def _compact(text: str) -> str:
    """Letters and digits only, lower case: ``'Pan-Left.'`` -> ``'panleft'``."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


_EXACT = {_spaced(cmd): cmd for cmd in CAMERA_COMMANDS}

# Words people use for the same movements: compact spelling -> the commands meant.
# Matched exactly (after dropping case, spaces and punctuation), never by distance,
# so "planning" is not taken for "panning".
_ALIASES: dict[str, tuple[str, ...]] = {
    _compact(phrase): cmds
    for phrases, cmds in (
        (("truck", "trucking", "track"), ("Truck left", "Truck right")),
        (("track left", "dolly left", "truck to the left"), ("Truck left",)),
        (("track right", "dolly right", "truck to the right"), ("Truck right",)),
        (("pan", "panning"), ("Pan left", "Pan right")),
        (("pan to the left", "tilt left"), ("Pan left",)),
        (("pan to the right", "tilt right"), ("Pan right",)),
        (("push", "dolly in", "dolly forward", "push forward", "move in"), ("Push in",)),
        (("pull", "dolly out", "dolly back", "pull back", "move out"), ("Pull out",)),
        (("dolly",), ("Push in", "Pull out")),
        (("pedestal", "crane", "boom"), ("Pedestal up", "Pedestal down")),
        (("crane up", "boom up"), ("Pedestal up",)),
        (("crane down", "boom down"), ("Pedestal down",)),
        (("tilt", "tilting"), ("Tilt up", "Tilt down")),
        (("pan up",), ("Tilt up",)),
        (("pan down",), ("Tilt down",)),
        (("zoom", "zooming"), ("Zoom in", "Zoom out")),
        (("shaky", "shaking", "camera shake", "handheld"), ("Shake",)),
        (("tracking", "follow", "follow shot", "following shot"), ("Tracking shot",)),
        (("static", "fixed shot", "locked off", "static camera"), ("Static shot",)),
    )
    for phrase in phrases
}
# Each command's own compact spelling ("zoomin", "pan-left") is a near miss too.
_ALIASES.update({_compact(cmd): (cmd,) for cmd in CAMERA_COMMANDS})

# Compact command keys by length, for the typo search; longest first for splitting.
_COMPACT_BY_LENGTH: dict[int, list[tuple[str, str]]] = {}
for _cmd in CAMERA_COMMANDS:
    _COMPACT_BY_LENGTH.setdefault(len(_compact(_cmd)), []).append((_compact(_cmd), _cmd))
_COMPACT_COMMANDS = sorted(((_compact(c), c) for c in CAMERA_COMMANDS), key=lambda kv: -len(kv[0]))
_MAX_COMPACT_LEN = max(len(k) for k in _ALIASES)
_FILLER_WORDS = {"and", "plus", "with"}
_SEPARATOR_RE = re.compile(r"[;/&+|\uff0c\u3001]")


def _allowed_distance(key: str) -> int:
    """How many edits still count as a typo of ``key``."""
    n = len(key)
    if n <= 5:
        return 0  # short words: exact only ("snake" is not "shake")
    if n <= 9:
        return 1  # "sit down" is not "tilt down"
    return 2


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (adjacent swaps count 1), capped at limit + 1."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2: list[int] = []
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        best = cur[0]
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            value = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                value = min(value, prev2[j - 2] + 1)
            cur[j] = value
            best = min(best, value)
        if best > limit:
            return limit + 1
        prev2, prev = prev, cur
    return prev[-1]


def _closest(compact: str) -> tuple[str, ...]:
    """The commands a compact spelling most likely means (empty when none is close)."""
    if not compact or len(compact) > _MAX_COMPACT_LEN + 2:
        return ()
    if compact in _ALIASES:
        return _ALIASES[compact]
    best_distance, found = 3, []
    for length in range(len(compact) - 2, len(compact) + 3):
        for key, cmd in _COMPACT_BY_LENGTH.get(length, ()):
            limit = _allowed_distance(key)
            if limit == 0:
                continue
            distance = _edit_distance(compact, key, limit)
            if distance > limit or distance > best_distance:
                continue
            if distance < best_distance:
                best_distance, found = distance, []
            found.append(cmd)
    return tuple(c for c in CAMERA_COMMANDS if c in found)


def _split_run_together(text: str) -> tuple[str, ...]:
    """``'Pan left and Zoom in'``, ``'pan left; zoom in'``, ``'panleftzoomin'`` -> commands."""
    words = [w for w in re.split(r"[\W_]+", _SEPARATOR_RE.sub(" ", text.lower())) if w]
    compact = "".join(w for w in words if w not in _FILLER_WORDS)
    n = len(compact)
    if not n or n > 4 * _MAX_COMPACT_LEN:
        return ()
    # reach[i]: the commands that spell compact[:i] exactly, if any do.
    reach: list[tuple[str, ...] | None] = [None] * (n + 1)
    reach[0] = ()
    for i in range(n):
        done = reach[i]
        if done is None:
            continue
        for key, cmd in _COMPACT_COMMANDS:
            j = i + len(key)
            if j <= n and reach[j] is None and compact.startswith(key, i):
                reach[j] = (*done, cmd)
    found = reach[n]
    return found if found is not None and len(found) >= 2 else ()


def _leading_command(spaced: str) -> str | None:
    """``'pan left slowly'`` -> ``'Pan left'`` (a command followed by other words)."""
    for key, cmd in _EXACT.items():
        if spaced.startswith(key + " "):
            return cmd
    return None


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
    except Exception:  # pragma: no cover - a linter bug must never break a cell
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
        warnings.append(
            LintIssue(
                message=(
                    f"Empty brackets {_show(raw)} at character {start + 1} will be sent as "
                    "text — put a camera command inside (e.g. [Static shot]) or remove them."
                ),
                start=start,
                end=end,
                kind="empty",
            )
        )
        return None

    # Split on commas, remembering where each part sits in the original text.
    parts: list[tuple[str, int, int]] = []
    offset = 0
    for piece in inner.split(","):
        stripped = piece.strip()
        if stripped:
            lead = len(piece) - len(piece.lstrip())
            p_start = inner_start + offset + lead
            parts.append((stripped, p_start, p_start + len(stripped)))
        offset += len(piece) + 1

    # Classify each part: a command, a near miss, or unrelated text.
    known: list[str | None] = []
    near: list[tuple[str, ...]] = []
    for part, _, _ in parts:
        spaced = _spaced(part)
        cmd = _EXACT.get(spaced)
        known.append(cmd)
        if cmd is not None:
            near.append(())
            continue
        guess = _closest(_compact(part))
        if not guess:
            joined = _split_run_together(part)
            guess = (",".join(joined),) if joined else ()
        if not guess:
            lead = _leading_command(spaced)
            guess = (lead,) if lead else ()
        near.append(guess)

    if all(k is None for k in known) and not any(near):
        warnings.append(
            LintIssue(
                message=(
                    f"{_show(raw)} is not a camera command and will be sent as text — fine if "
                    "you meant it; camera commands look like [Pan left] or [Push in,Zoom out]."
                ),
                start=start,
                end=end,
                kind="not_a_command",
            )
        )
        return None

    bad = False
    for (part, p_start, p_end), cmd, guess in zip(parts, known, near, strict=True):
        if cmd is not None:
            continue
        bad = True
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
    if bad:
        return None

    commands = tuple(k for k in known if k is not None)
    canonical = "[" + ",".join(commands) + "]"
    groups.append(CameraGroup(start=start, end=end, raw=raw, commands=commands))

    if len(commands) > MAX_COMMANDS_PER_BRACKET:
        warnings.append(
            LintIssue(
                message=(
                    f"{_show(canonical, 80)} combines {len(commands)} camera commands; the "
                    f"provider recommends at most {MAX_COMMANDS_PER_BRACKET} — split them into "
                    "brackets that run one after another."
                ),
                start=start,
                end=end,
                kind="too_many",
            )
        )
    seen: set[str] = set()
    for cmd in commands:
        if cmd in seen:
            warnings.append(
                LintIssue(
                    message=f"{_show(canonical, 80)} names {cmd} twice — once is enough.",
                    start=start,
                    end=end,
                    suggestion=cmd,
                    kind="duplicate",
                )
            )
            break
        seen.add(cmd)
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
    if clash:
        a, b = clash
        warnings.append(
            LintIssue(
                message=(
                    f"{_show(canonical, 80)} combines {a} and {b}, which work against each "
                    "other — keep one, or put them in separate brackets to run one after "
                    "the other."
                ),
                start=start,
                end=end,
                kind="contradictory",
            )
        )
    return canonical
