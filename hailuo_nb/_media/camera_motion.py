"""Did ``[Pan left]`` pan left? The global camera motion of a clip, set against its prompt.

Frames are decoded with PyAV, shrunk to a small grey image, and compared pair by pair with
phase correlation: the whole frame gives the shift (pan/truck, tilt/pedestal), four
quadrants give the divergence (zoom/push), and the spread of the shifts gives shake. The
clip is split evenly into one segment per bracket group of the prompt, in order.

What it cannot tell, and says: a pan and a truck look the same on a flat scene, as do a
tilt and a pedestal, and a zoom and a push; a tracking shot (the camera following a
subject) is always "unsure".
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import av
import numpy as np

from .._pure.camera_lint import lint_prompt
from .frames import FrameError

ANALYSIS_WIDTH = 192  # px: enough to see motion, small enough to take well under a second
SAMPLES_PER_SECOND = 6
MOVE = 0.03  # fraction of the frame per second below which a move is not a move
ZOOM = 0.03  # relative scale change per second below which there is no zoom
SHAKE = 0.012  # spread of frame-to-frame shifts (fraction of the width) that is shaking

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


@dataclass(frozen=True)
class Motion:
    """A segment's measured motion, per second: x, y as fractions of the frame, z as a
    relative change of scale; shake as the spread of frame-to-frame shifts."""

    x: float
    y: float
    z: float
    shake: float
    agreement: dict = field(default_factory=dict)  # axis → share of pairs with its sign

    def seen(self) -> str:
        moves = [(abs(self.x) / MOVE, "x", self.x), (abs(self.y) / MOVE, "y", self.y),
                 (abs(self.z) / ZOOM, "z", self.z)]
        named = [SEEN_NAMES[(axis, 1 if value > 0 else -1)]
                 for strength, axis, value in sorted(moves, reverse=True) if strength >= 1]
        if self.shake >= SHAKE and len(named) <= 1:
            return "shake"
        return " + ".join(named) if named else "static"


@dataclass(frozen=True)
class Row:
    command: str
    expected: str
    seen: str
    confidence: float
    verdict: str  # "match", "mismatch" or "unsure"
    start: float
    end: float


@dataclass(frozen=True)
class CameraReport:
    path: str
    prompt: str
    rows: list
    segments: list  # (start, end, Motion) per bracket group
    note: str = ("pan and truck look the same on a flat scene, as do tilt and pedestal, and "
                 "zoom and push; a tracking shot is not judged")

    @property
    def score(self) -> float | None:
        """Matches per bracketed command (None when the prompt has none)."""
        return sum(r.verdict == "match" for r in self.rows) / len(self.rows) if self.rows else None

    def __repr__(self) -> str:
        lines = [f"Camera check of {os.path.basename(self.path)}: "
                 + (f"{self.score:.0%} of the commands seen" if self.rows else
                    "no camera command in the prompt")]
        for r in self.rows:
            lines.append(f"  {r.start:4.1f}-{r.end:4.1f} s  [{r.command}]  expected "
                         f"{r.expected}, seen {r.seen}  → {r.verdict} ({r.confidence:.2f})")
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
        rows = self.rows
        return sum(r.verdict == "match" for _, r in rows) / len(rows) if rows else None

    def __repr__(self) -> str:
        lines = [f"Camera check of {len(self.reports)} clip(s): "
                 + (f"{self.score:.0%} of {len(self.rows)} commands seen" if self.rows
                    else "no camera command")]
        lines += [f"  {label}  [{r.command}]  seen {r.seen}  → {r.verdict} ({r.confidence:.2f})"
                  for label, r in self.rows]
        return "\n".join(lines)


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


def measure(path: str | os.PathLike) -> tuple[float, list[tuple[float, float, float, float,
                                                                  float]]]:
    """(duration, [(from, to, dx, dy, divergence) per sampled pair]): dx and dy as fractions
    of the frame per second, divergence as a relative scale change per second."""
    grey, times, duration = _grey_frames(os.fspath(path))
    pairs = []
    for i in range(len(grey) - 1):
        (a, ta), (b, tb) = (grey[i], times[i]), (grey[i + 1], times[i + 1])
        dt = max(tb - ta, 1e-6)
        h, w = a.shape
        dx, dy = _shift(a, b)
        pairs.append((ta, tb, dx / w / dt, dy / h / dt, _divergence(a, b) / dt))
    return duration, pairs


def camera_report(path: str | os.PathLike, prompt: str) -> CameraReport:
    """Per bracketed command of ``prompt``, expected vs seen motion in ``path``."""
    groups = bracket_groups(prompt)
    duration, pairs = measure(path)
    slots = max(1, len(groups))
    segments, rows = [], []
    for i in range(slots):
        start, end = duration * i / slots, duration * (i + 1) / slots
        # pairs wholly inside the segment: one that straddles a boundary mixes two moves
        inside = [p for p in pairs if start - 1e-6 <= p[0] and p[1] <= end + 1e-6] or pairs
        motion = _summarise(inside)
        segments.append((start, end, motion))
        for command in groups[i] if groups else ():
            rows.append(_judge(command, groups[i], motion, start, end))
    return CameraReport(os.fspath(path), prompt, rows, segments)


# -- the measuring -----------------------------------------------------------------------


def _grey_frames(path: str) -> tuple[list[np.ndarray], list[float], float]:
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    frames, times = [], []
    duration = 0.0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # one thread: see frames._open
        stream.codec_context.thread_count = 1
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        step = 1.0 / SAMPLES_PER_SECOND
        next_at = 0.0
        for frame in container.decode(stream):
            at = float(frame.time or 0.0)
            if at + 1e-6 < next_at:
                continue
            next_at = at + step
            height = max(2, round(frame.height * ANALYSIS_WIDTH / frame.width / 2) * 2)
            small = frame.reformat(width=ANALYSIS_WIDTH, height=height, format="gray", threads=1)
            frames.append(small.to_ndarray().astype(np.float32))
            times.append(at)
    except (av.FFmpegError, IndexError) as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    finally:
        container.close()
    return frames, times, max(duration, times[-1] if times else 0.0)


def _shift(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """How far the content of ``a`` moved to land in ``b`` (px; right and down +)."""
    window = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    fa = np.fft.fft2((a - a.mean()) * window)
    fb = np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.ifft2(cross).real
    y, x = np.unravel_index(np.argmax(corr), corr.shape)
    h, w = a.shape
    return float(x if x <= w // 2 else x - w), float(y if y <= h // 2 else y - h)


def _divergence(a: np.ndarray, b: np.ndarray) -> float:
    """Relative scale change from ``a`` to ``b``: quadrants moving outward mean zooming in."""
    h, w = a.shape
    total = 0.0
    for top, left, sy, sx in ((0, 0, -1, -1), (0, w // 2, -1, 1), (h // 2, 0, 1, -1),
                              (h // 2, w // 2, 1, 1)):
        qa = a[top:top + h // 2, left:left + w // 2]
        qb = b[top:top + h // 2, left:left + w // 2]
        dx, dy = _shift(qa, qb)
        # outward along the quadrant's diagonal, relative to its distance from the centre
        total += (dx * sx) / (w / 4) + (dy * sy) / (h / 4)
    return total / 8


def _summarise(pairs: list) -> Motion:
    if not pairs:
        return Motion(0.0, 0.0, 0.0, 0.0)
    arr = np.array([p[2:] for p in pairs])
    x, y, z = (float(np.median(arr[:, i])) for i in range(3))
    per_pair = arr[:, :2] / SAMPLES_PER_SECOND
    shake = float(np.std(per_pair[:, 0] - np.median(per_pair[:, 0]))
                  + np.std(per_pair[:, 1] - np.median(per_pair[:, 1])))
    agreement = {axis: float(np.mean(np.sign(arr[:, i]) == np.sign(v))) if v else 0.0
                 for i, (axis, v) in enumerate((("x", x), ("y", y), ("z", z)))}
    return Motion(x, y, z, shake, agreement)


def _judge(command: str, group: tuple[str, ...], motion: Motion, start: float,
           end: float) -> Row:
    axis, sign = EXPECTED.get(command, ("tracking", 0))
    seen = motion.seen()
    expected = SEEN_NAMES.get((axis, sign)) or {"shake": "shake", "static": "static",
                                                "tracking": "tracking"}[axis]
    if axis == "tracking":
        return Row(command, expected, seen, 0.0, "unsure", start, end)
    if axis in ("static", "shake"):
        ok = seen == expected
        strength = 1.0 if ok else 0.5
        return Row(command, expected, seen, round(strength, 2),
                   "match" if ok else ("unsure" if len(group) > 1 else "mismatch"), start, end)
    value = getattr(motion, axis)
    scale = ZOOM if axis == "z" else MOVE
    strength = min(1.0, abs(value) / (3 * scale))
    agreement = motion.agreement.get(axis, 0.0)
    confidence = round(strength * agreement, 2)
    if abs(value) >= scale and np.sign(value) == sign and agreement >= 0.6:
        return Row(command, expected, seen, confidence, "match", start, end)
    if abs(value) >= 2 * scale and np.sign(value) == -sign:
        return Row(command, expected, seen, round(strength, 2), "mismatch", start, end)
    return Row(command, expected, seen, confidence, "unsure", start, end)
