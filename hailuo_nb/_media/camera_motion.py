"""Did ``[Pan left]`` pan left? The camera's motion in a clip, set against its prompt.

The camera's motion is what most of the frame agrees on (:mod:`.motion_estimate`: a grid
of blocks and a robust fit), so a subject walking through, a nearer layer, noise, flicker
and compression do not decide it. The clip is split evenly into one segment per bracket
group of the prompt, in order; in each, the camera's path is summed pair by pair and its
speed is the slope of that path.

Each bracketed command gets a verdict: "match"; "mismatch", which includes a camera that
did not move although a move was asked and one that moved although [Static shot] was;
"unsure" only for what the frames cannot tell (too little texture, a cut, a tracking
shot), with the reason. A pan and a truck look the same on a flat scene, as do a tilt and a
pedestal, and a zoom and a push: each pair is judged as one motion.
"""

from __future__ import annotations

import functools
import math
import os
from dataclasses import dataclass, field

import numpy as np

from .._pure.camera_lint import lint_prompt
from .motion_estimate import (
    ANALYSIS_WIDTH,
    SAMPLES_PER_SECOND,
    PairMotion,
    motion_series,
    prepare,
    sample_frames,
)

__all__ = ["ANALYSIS_WIDTH", "SAMPLES_PER_SECOND", "CameraReport", "CameraTable", "Motion",
           "Row", "bracket_groups", "camera_report", "camera_table", "clear_cache", "measure"]

MOVE = 0.015  # fraction of the frame per second: at least this is a move
ZOOM = 0.015  # growth of the magnification per second (log): at least this is a zoom
ROLL = 1.0  # degrees per second: at least this is a roll (no command asks for one)
SHAKE = 0.004  # spread of the path about its smooth course (fraction of the frame): shaking
STILL = 0.5  # below this share of MOVE / ZOOM / SHAKE, the camera did not do it
MIN_PAIRS = 3  # pairs of frames with a clear motion needed to judge a segment

# command → (axis, sign) of the motion of the CONTENT in the frame: panning left moves
# the scene to the right. axis "x": right +, "y": down +, "z": magnification +.
EXPECTED = {
    "Pan left": ("x", +1), "Truck left": ("x", +1),
    "Pan right": ("x", -1), "Truck right": ("x", -1),
    "Tilt up": ("y", +1), "Pedestal up": ("y", +1),
    "Tilt down": ("y", -1), "Pedestal down": ("y", -1),
    "Zoom in": ("z", +1), "Push in": ("z", +1),
    "Zoom out": ("z", -1), "Pull out": ("z", -1),
    "Shake": ("shake", 0), "Static shot": ("static", 0), "Tracking shot": ("tracking", 0),
}
SEEN_NAMES = {("x", +1): "pan/truck left", ("x", -1): "pan/truck right",
              ("y", +1): "tilt/pedestal up", ("y", -1): "tilt/pedestal down",
              ("z", +1): "zoom/push in", ("z", -1): "zoom/pull out"}
_SCALE = {"x": MOVE, "y": MOVE, "z": ZOOM}


@dataclass(frozen=True)
class Motion:
    """A segment's measured motion of the CONTENT, per second: x, y as fractions of the
    frame (right, down +), z as the log of the magnification's growth, roll in degrees
    (clockwise +); shake as the spread of the path about its smooth course."""

    x: float
    y: float
    z: float
    shake: float
    agreement: dict = field(default_factory=dict)  # axis → share of pairs with its sign
    roll: float = 0.0
    pairs: int = 0  # pairs of frames with a clear motion
    total: int = 0  # pairs of frames in the segment
    flat: int = 0  # pairs with too little texture
    cuts: tuple = ()  # times (s) where the shot changes
    support: float = 0.0  # mean share of textured blocks agreeing with the camera

    def strength(self, axis: str) -> float:
        """How many times the threshold of a move the motion along ``axis`` is."""
        return abs(getattr(self, axis)) / _SCALE[axis]

    def seen(self) -> str:
        if self.unreadable():
            return "not seen"
        moves = sorted(((self.strength(a), a) for a in "xyz"), reverse=True)
        named = [SEEN_NAMES[(a, 1 if getattr(self, a) > 0 else -1)]
                 for strength, a in moves if strength >= 1]
        if self.shake >= SHAKE and len(named) <= 1:
            return "shake" + (f" + {named[0]}" if named else "")
        return " + ".join(named) if named else "static"

    def unreadable(self) -> str:
        """Why the frames cannot tell this segment's motion ('' when they can)."""
        if self.cuts:
            return f"a cut at {', '.join(f'{t:.1f}' for t in self.cuts)} s: the shot changes"
        if self.pairs >= max(MIN_PAIRS, 0.4 * self.total):
            return ""
        if self.total < MIN_PAIRS:
            return "too few frames in this part of the clip to see a motion"
        if self.flat * 2 >= self.total:
            return "too little texture to see the camera's motion"
        return "the frames do not agree on one motion"

    @property
    def evidence(self) -> float:
        """0-1: how much the frames say (clear pairs, blocks that agree)."""
        return min(1.0, self.pairs / 10) * min(1.0, 0.3 + self.support)


@dataclass(frozen=True)
class Row:
    command: str
    expected: str
    seen: str
    confidence: float
    verdict: str  # "match", "mismatch" or "unsure"
    start: float
    end: float
    reason: str = ""  # why this verdict, in words
    # the camera's measured motion (camera terms, per second; None when not measured):
    pan: float | None = None  # + right, fraction of the frame width
    tilt: float | None = None  # + up, fraction of the frame height
    zoom: float | None = None  # magnification factor (>1 in)
    roll: float | None = None  # degrees, clockwise +
    shake: float | None = None  # spread of the path about its course, fraction of the frame

    @property
    def judged(self) -> bool:
        return self.verdict != "unsure"


def _score(rows: list) -> float | None:
    judged = [r for r in rows if r.judged]
    return sum(r.verdict == "match" for r in judged) / len(judged) if judged else None


def _summary(rows: list) -> str:
    judged = sum(r.judged for r in rows)
    if not rows:
        return "no camera command"
    if not judged:
        return f"not judged ({len(rows)} command{'s' * (len(rows) != 1)}: see why below)"
    text = (f"{sum(r.verdict == 'match' for r in rows)} of {judged} judged command"
            f"{'s' * (judged != 1)} followed ({_score(rows):.0%})")
    return text + (f", {len(rows) - judged} not judged" if judged < len(rows) else "")


@dataclass(frozen=True)
class CameraReport:
    path: str
    prompt: str
    rows: list
    segments: list  # (start, end, Motion) per bracket group
    note: str = ("pan and truck look the same on a flat scene, as do tilt and pedestal, and "
                 "zoom and push; a tracking shot is judged only when the camera stayed still")

    @property
    def score(self) -> float | None:
        """Matches per JUDGED command (None when none was judged: "not judged", not 0 %)."""
        return _score(self.rows)

    @property
    def judged(self) -> int:
        return sum(r.judged for r in self.rows)

    @property
    def not_judged(self) -> int:
        return len(self.rows) - self.judged

    @property
    def summary(self) -> str:
        return _summary(self.rows) if self.rows else "no camera command in the prompt"

    def __repr__(self) -> str:
        lines = [f"Camera check of {os.path.basename(self.path)}: {self.summary}"]
        for r in self.rows:
            lines.append(f"  {r.start:4.1f}-{r.end:4.1f} s  [{r.command}]  expected "
                         f"{r.expected}, seen {r.seen}  → {r.verdict} ({r.confidence:.2f}): "
                         f"{r.reason}")
        lines.append(f"  ({self.note})")
        return "\n".join(lines)


@dataclass(frozen=True)
class CameraTable:
    """Camera checks across tasks: the instruction-following score of a sweep."""

    labels: list  # one per report: the task id or file name
    reports: list

    @property
    def rows(self) -> list[tuple[str, Row]]:
        return [(label, row) for label, report in zip(self.labels, self.reports, strict=True)
                for row in report.rows]

    @property
    def score(self) -> float | None:
        return _score([r for _, r in self.rows])

    @property
    def judged(self) -> int:
        return sum(r.judged for _, r in self.rows)

    @property
    def not_judged(self) -> int:
        return len(self.rows) - self.judged

    @property
    def summary(self) -> str:
        return _summary([r for _, r in self.rows])

    def __repr__(self) -> str:
        lines = [f"Camera check of {len(self.reports)} clip(s): {self.summary}"]
        lines += [f"  {label}  [{r.command}]  seen {r.seen}  {_numbers(r)}  → {r.verdict} "
                  f"({r.confidence:.2f})" for label, r in self.rows]
        return "\n".join(lines)


def _numbers(r: Row) -> str:
    if r.pan is None:
        return "(not measured)"
    return (f"(pan {r.pan:+.1%}/s, tilt {r.tilt:+.1%}/s, zoom x{r.zoom:.3f}/s, "
            f"shake {r.shake:.1%})")


def camera_table(tasks: list) -> CameraTable:
    """The camera check of each finished task (or video path with ``prompt=`` unknown)."""
    labels, reports = [], []
    for task in tasks:
        report = getattr(task, "camera", None)
        if report is None:
            report = camera_report(task.local_path, task.prompt)
        labels.append(task.id or os.path.basename(task.local_path))
        reports.append(report)
    return CameraTable(labels, reports)


def bracket_groups(prompt: str) -> list[tuple[str, ...]]:
    """The prompt's bracket groups of known commands, in order."""
    lint = lint_prompt(prompt or "")
    return [tuple(group.commands) for group in lint.groups if group.commands]


def measure(path: str | os.PathLike) -> tuple[float, tuple[PairMotion, ...]]:
    """(duration, the camera's motion between each pair of sampled frames). The same file
    (path, size, modification time) is measured once: a sweep asks it of many prompts."""
    path = os.path.abspath(os.fspath(path))
    try:
        stat = os.stat(path)
    except OSError:
        return _measure(path, -1, -1)  # reading it will say what is wrong
    return _measure(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _measure(path: str, size: int, mtime_ns: int) -> tuple[float, tuple[PairMotion, ...]]:
    sampled = sample_frames(path)
    pairs = motion_series([prepare(f) for f in sampled.frames], sampled.times)
    return sampled.duration, tuple(pairs)


def clear_cache() -> None:
    """Forget measured files (a benchmark times the measuring itself)."""
    _measure.cache_clear()


def camera_report(path: str | os.PathLike, prompt: str) -> CameraReport:
    """Per bracketed command of ``prompt``, expected vs seen motion in ``path``."""
    groups = bracket_groups(prompt)
    duration, pairs = measure(path)
    slots = max(1, len(groups))
    segments, rows = [], []
    for i in range(slots):
        start, end = duration * i / slots, duration * (i + 1) / slots
        # pairs wholly inside the segment: one that straddles a boundary mixes two moves
        inside = [p for p in pairs if start - 1e-6 <= p.start and p.end <= end + 1e-6] or \
            [p for p in pairs if p.start < end and p.end > start]  # a part shorter than a pair
        motion = summarise(inside)
        segments.append((start, end, motion))
        for command in groups[i] if groups else ():
            rows.append(judge(command, motion, start, end))
    return CameraReport(os.fspath(path), prompt, rows, segments)


# -- from pairs of frames to a segment's motion -------------------------------------------


def summarise(pairs: list[PairMotion]) -> Motion:
    """The segment's speeds: slopes of the camera's path summed over the clear pairs."""
    good = [p for p in pairs if p.status == "ok"]
    cuts = tuple(round(p.end, 1) for p in pairs if p.status == "cut")
    flat = sum(p.status == "flat" for p in pairs)
    if len(good) < 2:
        return Motion(0.0, 0.0, 0.0, 0.0, {}, 0.0, len(good), len(pairs), flat, cuts, 0.0)
    dt = np.array([p.end - p.start for p in good])
    rates = np.array([[p.dx, p.dy, p.dz, p.roll] for p in good])
    steps = rates * dt[:, None]
    # the path through the clear pairs only (a pair that said nothing adds no step)
    time = np.concatenate([[0.0], np.cumsum(dt)])
    path = np.vstack([np.zeros(4), np.cumsum(steps, axis=0)])
    slope = np.polyfit(time, path, 1)[0]
    # shake: how far the path strays from its own running mean (about half a second)
    k = 5 if len(path) >= 7 else 3
    kernel = np.ones(k) / k
    wobble = []
    for axis in (0, 1):
        # odd reflection continues a steady move: only the wobble is left at the ends
        padded = np.pad(path[:, axis], k // 2, mode="reflect", reflect_type="odd")
        wobble.append(path[:, axis] - np.convolve(padded, kernel, mode="valid"))
    shake = float(np.sqrt(np.mean(np.square(wobble[0]) + np.square(wobble[1]))))
    agreement = {axis: float(np.mean(np.sign(rates[:, i]) == np.sign(slope[i])))
                 for i, axis in enumerate("xyz")}
    support = float(np.mean([p.agreeing / max(1, p.textured) for p in good]))
    return Motion(float(slope[0]), float(slope[1]), float(slope[2]), shake, agreement,
                  math.degrees(float(slope[3])), len(good), len(pairs), flat, cuts, support)


# -- verdicts -----------------------------------------------------------------------------


def _describe(motion: Motion) -> str:
    parts = []
    for axis, unit in (("x", "the width"), ("y", "the height")):
        value = getattr(motion, axis)
        if motion.strength(axis) >= STILL:
            name = SEEN_NAMES[(axis, 1 if value > 0 else -1)]
            parts.append(f"{name} {abs(value):.1%} of {unit}/s")
    if motion.strength("z") >= STILL:
        parts.append(f"{SEEN_NAMES[('z', 1 if motion.z > 0 else -1)]} "
                     f"x{math.exp(motion.z):.3f}/s")
    if abs(motion.roll) >= STILL * ROLL:
        parts.append(f"roll {motion.roll:+.1f} degrees/s")
    if motion.shake >= STILL * SHAKE:
        parts.append(f"shake {motion.shake:.1%} of the frame")
    return ", ".join(parts) or "no motion"


def judge(command: str, motion: Motion, start: float, end: float) -> Row:
    """One bracketed command against the measured motion of its segment."""
    axis, sign = EXPECTED.get(command, ("tracking", 0))
    expected = SEEN_NAMES.get((axis, sign)) or axis
    seen = motion.seen()
    why_not = motion.unreadable()
    numbers = {} if why_not else {
        "pan": -motion.x, "tilt": motion.y, "zoom": math.exp(motion.z), "roll": motion.roll,
        "shake": motion.shake}

    def row(verdict: str, confidence: float, reason: str) -> Row:
        return Row(command, expected, seen, round(max(0.0, min(1.0, confidence)), 2),
                   verdict, start, end, reason, **numbers)

    if why_not:
        return row("unsure", 0.0, why_not)
    evidence = motion.evidence
    moved = max(*(motion.strength(a) for a in "xyz"), abs(motion.roll) / ROLL)
    still = moved < STILL and motion.shake < STILL * SHAKE
    if axis == "tracking":
        if still:
            return row("mismatch", evidence, "the camera did not move: a tracking shot "
                                             "follows a moving subject")
        return row("unsure", 0.0, f"a tracking shot follows a subject, and which one the "
                                  f"frames do not say ({_describe(motion)})")
    if axis == "static":
        if still:
            return row("match", evidence * (1 - moved), "the camera stayed still")
        if moved >= 1 or motion.shake >= SHAKE:
            return row("mismatch", evidence * min(1.0, max(moved, motion.shake / SHAKE) / 2),
                       f"the camera moved: {_describe(motion)}")
        return row("unsure", 0.0, f"a slight drift, too small to call: {_describe(motion)}")
    if axis == "shake":
        ratio = motion.shake / SHAKE
        if ratio >= 1:
            return row("match", evidence * min(1.0, 0.5 + ratio / 4), f"{_describe(motion)}")
        if ratio < STILL:
            return row("mismatch", evidence * (1 - ratio), "the camera did not shake: "
                                                            f"{_describe(motion)}")
        return row("unsure", 0.0, f"a slight wobble, too small to call: {_describe(motion)}")
    value = getattr(motion, axis) * sign / _SCALE[axis]  # in thresholds, + the asked way
    agreement = motion.agreement.get(axis, 0.0)
    if value >= 1:
        alike = {"x": "a pan and a truck", "y": "a tilt and a pedestal",
                 "z": "a zoom and a push"}[axis]
        return row("match", evidence * min(1.0, 0.4 + value / 5) * (0.5 + agreement / 2),
                   f"{_describe(motion)} ({alike} look alike in the frames)")
    if value <= -1:
        return row("mismatch", evidence * min(1.0, 0.4 + -value / 5),
                   f"it moved the other way: {_describe(motion)}")
    if abs(value) < STILL:
        did = "did not move" if moved < STILL else f"did not {expected}"
        return row("mismatch", evidence * (1 - abs(value)),
                   f"the camera {did}: {_describe(motion)}")
    return row("unsure", 0.0, f"too slight to call: {_describe(motion)}")
