"""The 15 camera commands of Hailuo 2.3, and what a bracket's words most likely mean.

Exact spellings, aliases ("dolly in"), typos within a small edit distance, and
run-together lists ("pan left and zoom in"); :mod:`hailuo_nb._pure.camera_lint` lints with these.
"""

from __future__ import annotations

import re
from collections import OrderedDict

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
