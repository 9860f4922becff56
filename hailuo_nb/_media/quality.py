"""How good is the clip as a clip? Black and frozen stretches, flicker, how much moves, and
sharpness, each with a line in plain words, measured with numpy and PyAV alone.

The anchors (public definitions, so numbers read the same as elsewhere):

- black: FFmpeg ``blackdetect`` — a pixel is black below 10 % of the luma range
  (``pix_th`` 0.10), a frame is black when 98 % of its pixels are (``pic_th`` 0.98);
- frozen: FFmpeg ``freezedetect`` — two frames are the same when their mean absolute
  difference is below 0.001 of the range (``noise``); black frames are not frozen ones;
- flicker: VBench's temporal flickering, (255 - mean |frame(t) - frame(t+1)|) / 255,
  taken where the scene holds still (VBench scores it on static scenes): 1 is steady;
- motion: VBench's dynamic degree — a frame pair (about 8 per second) "moves" when the
  top 5 % of its motion magnitudes exceed 6 · (min side / 256) · max(1, 8 / fps) pixels.
  VBench measures the motion with RAFT; here it is block phase correlation, calibrated to
  give the true displacement of textured content (tests hold it to known shifts);
- sharpness: the variance of the Laplacian of the grey frame at 256 px on the short side.

The result is kept in the video's JSON sidecar under ``"quality"`` with the file's sha256,
so a file is measured once (again only when its bytes change).
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import av
import numpy as np

from .._pure.paths import sha256_of, write_json_atomically
from ..errors import FrameError

VERSION = 1  # bump when a measure changes: sidecars of older versions are measured again
SHORT_SIDE = 256  # px of the grey frames measured (black, frozen, flicker, sharpness)
BLACK_PIXEL = 0.10  # blackdetect pix_th
BLACK_PICTURE = 0.98  # blackdetect pic_th
FREEZE_NOISE = 0.001  # freezedetect noise (mean absolute difference, fraction of the range)
# An encoder refines a held frame over the next frame or two (x264 measured: 0.0013-0.0014),
# so pairs under this next to a frozen run join it; a still, grainy scene stays above (0.0022).
FREEZE_REFINE = 0.0015
MIN_BLACK = 0.25  # s: a shorter black run is a cut, not a defect
MIN_FROZEN = 0.5  # s: shorter holds come from repeated frames and the start of a stream
PAIRS_PER_SECOND = 8  # dynamic degree samples about this many pairs a second
MOTION_BASE_PX = 6.0  # dynamic degree threshold at 256 px short side and 8 pairs/s
TOP_SHARE = 0.05  # the top 5 % of motion magnitudes
BLOCK = 32  # px of a block matched by phase correlation (at half of SHORT_SIDE)
MIN_TEXTURE = 2.0  # grey-level spread below which a block cannot be matched (flat)
MIN_PEAK = 0.08  # phase-correlation peak below which a block's match is noise
STILL_PX = 0.5  # px per pair: a pair whose blocks all move less than this holds still
SOFT, BLURRY = 150.0, 40.0  # Laplacian variance: below SOFT reads soft, below BLURRY blurry


@dataclass(frozen=True)
class QualityReport:
    """Clip metrics of one video file (see the module's notes for the definitions)."""

    path: str
    duration: float  # s
    fps: float
    frames: int
    black_seconds: float  # all black stretches of MIN_BLACK or longer, added up
    frozen_seconds: float  # the longest frozen stretch (black is not frozen)
    flicker: float | None  # 0-1, 1 steady; None when the scene never holds still
    motion: float  # 0-1, share of frame pairs that move (dynamic degree)
    sharpness: float  # variance of the Laplacian (grey levels²)
    black_at: list  # [(start, end)] of the black stretches, s
    frozen_at: list  # [(start, end)] of the longest frozen stretch (empty if none)
    sha256: str = ""
    version: int = VERSION

    # -- words ---------------------------------------------------------------------------

    def lines(self) -> list[str]:
        """One plain sentence per measure, for a record or a report."""
        return [self.black_line(), self.frozen_line(), self.flicker_line(), self.motion_line(),
                self.sharpness_line()]

    @property
    def text(self) -> str:
        return "; ".join(self.lines())

    @property
    def summary(self) -> str:
        """One short line: the defects first, then the numbers."""
        defects = [line for line, bad in ((self.black_line(), self.black_seconds > 0),
                                          (self.frozen_line(), self.frozen_seconds > 0))
                   if bad]
        flicker = "flicker n/a" if self.flicker is None else f"flicker {self.flicker:.3f}"
        numbers = f"motion {self.motion:.0%}, {flicker}, sharpness {self.sharpness:.0f}"
        return "; ".join([*defects, numbers])

    def black_line(self) -> str:
        if not self.black_seconds:
            return "no black stretch"
        where = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in self.black_at)
        return f"black for {self.black_seconds:.2f} s ({where})"

    def frozen_line(self) -> str:
        if not self.frozen_seconds:
            return "never frozen"
        if self.frozen_seconds >= self.duration - 1.5 / max(self.fps, 1):
            return "frozen throughout: no frame differs from the one before"
        (a, b), = self.frozen_at
        return f"frozen for {self.frozen_seconds:.2f} s ({a:.1f}-{b:.1f} s)"

    def flicker_line(self) -> str:
        if self.flicker is None:
            return "flicker not measured: the scene never holds still"
        word = ("steady" if self.flicker >= 0.99 else "slight flicker" if self.flicker >= 0.97
                else "flickers")
        return f"{word} (temporal flickering {self.flicker:.3f}, 1 = steady)"

    def motion_line(self) -> str:
        word = ("still" if self.motion < 0.1 else "little motion" if self.motion < 0.4
                else "moving" if self.motion < 0.8 else "moving throughout")
        return f"{word} ({self.motion:.0%} of frame pairs move)"

    def sharpness_line(self) -> str:
        word = ("sharp" if self.sharpness >= SOFT else "soft" if self.sharpness >= BLURRY
                else "blurry")
        return f"{word} (Laplacian variance {self.sharpness:.0f})"

    def __repr__(self) -> str:
        head = f"Quality of {os.path.basename(self.path)} ({self.duration:.1f} s, " \
               f"{self.fps:g} fps):"
        return "\n".join([head, *(f"  {line}" for line in self.lines())])

    # -- storage -------------------------------------------------------------------------

    def to_json(self) -> dict:
        data = asdict(self)
        data.pop("path")
        data["black_at"] = [list(span) for span in self.black_at]
        data["frozen_at"] = [list(span) for span in self.frozen_at]
        return data

    @classmethod
    def from_json(cls, path: str, data: dict) -> QualityReport:
        names = {f.name for f in fields(cls)} - {"path"}
        values = {name: data[name] for name in names}
        values["black_at"] = [tuple(span) for span in data["black_at"]]
        values["frozen_at"] = [tuple(span) for span in data["frozen_at"]]
        return cls(path=path, **values)


# -- the public entry ------------------------------------------------------------------


def sidecar_path(path: str | os.PathLike) -> Path:
    return Path(path).with_suffix(".json")


def quality_report(path: str | os.PathLike, *, cache: bool = True) -> QualityReport:
    """Black and frozen stretches, flicker, motion and sharpness of the video at ``path``.

    The result is kept in the sidecar ``<video>.json`` (made if missing) with the file's
    sha256; a later call reads it back unless the file changed."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FrameError(f"cannot read video frames from {path}: no such file; check the path")
    digest = sha256_of(path)
    sidecar = sidecar_path(path)
    known = (_read_sidecar(sidecar) or {}) if cache else {}
    stored = known.get("quality")
    if isinstance(stored, dict) and stored.get("sha256") == digest \
            and stored.get("version") == VERSION:
        with contextlib.suppress(KeyError, TypeError, ValueError):
            return QualityReport.from_json(path, stored)
    report = measure(path, sha256=digest)
    if cache:
        with contextlib.suppress(OSError):  # a read-only folder: measured, not kept
            fresh = _read_sidecar(sidecar) if sidecar.exists() else {}
            if fresh is not None:  # a JSON file of another kind is never overwritten
                fresh.setdefault("file", os.path.basename(path))
                fresh["quality"] = report.to_json()
                write_json_atomically(sidecar, fresh)
    return report


def _read_sidecar(sidecar: Path) -> dict | None:
    """The sidecar's object; {} when there is none; None when the file is something else."""
    try:
        data = json.loads(sidecar.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


# -- the measuring ----------------------------------------------------------------------


def measure(path: str, *, sha256: str = "") -> QualityReport:
    grey, fps, duration = _grey_frames(path)
    n = len(grey)
    if n == 0:
        raise FrameError(f"cannot read video frames from {path}: it has no frames")
    frame_time = 1.0 / fps
    black = np.array([_is_black(g) for g in grey])
    mafd = np.array([_mafd(grey[i], grey[i + 1]) for i in range(n - 1)])
    live_pair = ~black[:-1] & ~black[1:]
    frozen_pair = _grow(mafd < FREEZE_NOISE, mafd < FREEZE_REFINE) & live_pair
    black_at = [(a * frame_time, b * frame_time) for a, b in _runs(black)
                if (b - a) * frame_time >= MIN_BLACK - 1e-9]
    # a run of k frozen pairs is k + 1 identical frames on screen
    frozen_runs = [(a, b + 1) for a, b in _runs(frozen_pair)
                   if (b + 1 - a) * frame_time >= MIN_FROZEN - 1e-9]
    longest = max(frozen_runs, key=lambda r: r[1] - r[0], default=None)
    motion, still_pairs = _dynamic_degree(grey, fps, black, frozen_pair)
    flicker = _flicker(grey, still_pairs)
    live = [g for g, b in zip(grey, black, strict=True) if not b] or grey
    sharpness = float(np.median([_laplacian_variance(g) for g in live[:: max(1, len(live) // 12)]]))
    return QualityReport(
        path=path, duration=round(duration, 4), fps=round(fps, 4), frames=n,
        black_seconds=round(sum(b - a for a, b in black_at), 4),
        frozen_seconds=round((longest[1] - longest[0]) * frame_time, 4) if longest else 0.0,
        flicker=None if flicker is None else round(flicker, 5),
        motion=round(motion, 4), sharpness=round(sharpness, 2),
        black_at=[(round(a, 3), round(b, 3)) for a, b in black_at],
        frozen_at=[(round(longest[0] * frame_time, 3), round(longest[1] * frame_time, 3))]
        if longest else [],
        sha256=sha256)


def _grey_frames(path: str) -> tuple[list[np.ndarray], float, float]:
    """Every frame as grey float32 at SHORT_SIDE px on the short side (full-range luma)."""
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    frames: list[np.ndarray] = []
    try:
        if not container.streams.video:
            raise FrameError(f"cannot read video frames from {path}: no video stream in it")
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # one thread: the analysis lane must stay small
        stream.codec_context.thread_count = 1
        rate = stream.average_rate or stream.guessed_rate
        fps = float(rate) if rate else 0.0
        width = height = 0
        for frame in container.decode(stream):
            if not width:
                scale = SHORT_SIDE / min(frame.width, frame.height)
                width = max(2, round(frame.width * scale / 2) * 2)
                height = max(2, round(frame.height * scale / 2) * 2)
            small = frame.reformat(width=width, height=height, format="gray",
                                   interpolation="AREA", threads=1)
            frames.append(small.to_ndarray().astype(np.float32))
        duration = float(stream.duration * stream.time_base) if (
            stream.duration is not None and stream.time_base) else 0.0
    except av.FFmpegError as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    finally:
        container.close()
    if fps <= 0:
        fps = len(frames) / duration if duration > 0 else 24.0
    return frames, fps, max(duration, len(frames) / fps)


def _is_black(grey: np.ndarray) -> bool:
    return float(np.mean(grey <= BLACK_PIXEL * 255)) >= BLACK_PICTURE


def _mafd(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.mean(np.abs(a - b))) / 255.0


def _grow(seeds: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """``seeds`` widened over the neighbouring ``allowed`` entries (hysteresis)."""
    grown = seeds.copy()
    for a, b in _runs(allowed):
        if seeds[a:b].any():
            grown[a:b] = True
    return grown


def _runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """[(start, end)) index ranges where ``flags`` is true."""
    padded = np.concatenate([[False], np.asarray(flags, bool), [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _laplacian_variance(grey: np.ndarray) -> float:
    lap = (grey[1:-1, :-2] + grey[1:-1, 2:] + grey[:-2, 1:-1] + grey[2:, 1:-1]
           - 4 * grey[1:-1, 1:-1])
    return float(lap.var())


# -- motion (dynamic degree) ------------------------------------------------------------


def motion_threshold(short_side: float, pair_fps: float) -> float:
    """VBench's dynamic-degree threshold in pixels per pair at ``short_side``."""
    return MOTION_BASE_PX * (short_side / 256.0) * max(1.0, PAIRS_PER_SECOND / pair_fps)


def _dynamic_degree(grey: list[np.ndarray], fps: float, black: np.ndarray,
                    frozen_pair: np.ndarray) -> tuple[float, list[int]]:
    """(share of sampled pairs that move, indices i of consecutive pairs that hold still)."""
    step = max(1, round(fps / PAIRS_PER_SECOND))
    blocks = _BlockSpectra(grey)
    threshold = motion_threshold(blocks.short_side, fps / step)
    moving = counted = 0
    still = []
    for i in range(len(grey) - 1):
        if i % step == 0 and i + step < len(grey) and not (black[i] or black[i + step]):
            counted += 1  # a black frame has no motion to measure: such pairs are not counted
            if not frozen_pair[i:i + step].all() and blocks.top_motion(i, i + step) > threshold:
                moving += 1
        # flicker's pairs: consecutive frames, nothing moving
        if not (black[i] or black[i + 1]) and (
                frozen_pair[i] or blocks.top_motion(i, i + 1) < STILL_PX):
            still.append(i)
        blocks.forget_before(i)
    return (moving / counted if counted else 0.0), still


def _halve(grey: np.ndarray) -> np.ndarray:
    h, w = (grey.shape[0] // 2) * 2, (grey.shape[1] // 2) * 2
    g = grey[:h, :w]
    return (g[0::2, 0::2] + g[1::2, 0::2] + g[0::2, 1::2] + g[1::2, 1::2]) / 4


_WINDOW = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)


def _spectra(grey: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the real FFT of each windowed block, whether the block has texture enough)."""
    h, w = grey.shape
    tops = range(0, h - BLOCK + 1, BLOCK // 4)
    lefts = range(0, w - BLOCK + 1, BLOCK // 4)
    patches = np.stack([grey[t:t + BLOCK, s:s + BLOCK] for t in tops for s in lefts])
    textured = patches.std(axis=(1, 2)) >= MIN_TEXTURE
    centred = (patches - patches.mean(axis=(1, 2), keepdims=True)) * _WINDOW
    return np.fft.rfft2(centred).astype(np.complex64), textured


class _BlockSpectra:
    """Block spectra of the half-size frames, each computed once and dropped when passed."""

    def __init__(self, grey: list[np.ndarray]) -> None:
        self._grey = grey
        self._cache: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        self.short_side = min(_halve(grey[0]).shape)  # blocks are matched at half size

    def _get(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        if i not in self._cache:
            self._cache[i] = _spectra(_halve(self._grey[i]))
        return self._cache[i]

    def forget_before(self, i: int) -> None:
        for key in [k for k in self._cache if k <= i]:
            del self._cache[key]

    def top_motion(self, i: int, j: int) -> float:
        return top_motion(_shifts_from(*self._get(i), *self._get(j)))


def block_shifts(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per matched block of ``a`` (BLOCK squares every BLOCK / 4 px), the shift (dx, dy) in
    px of its content in ``b``; flat blocks and weak matches count as no motion."""
    return _shifts_from(*_spectra(a), *_spectra(b))


def _shifts_from(fa: np.ndarray, ta: np.ndarray, fb: np.ndarray, tb: np.ndarray) -> np.ndarray:
    cross = fb * np.conj(fa)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.irfft2(cross, s=(BLOCK, BLOCK))
    flat = corr.reshape(len(corr), -1)
    peak = flat.argmax(axis=1)
    strength = flat[np.arange(len(flat)), peak]
    py, px = np.divmod(peak, BLOCK)
    dx = _subpixel(corr, py, px, axis=2) + px
    dy = _subpixel(corr, py, px, axis=1) + py
    dx = np.where(dx > BLOCK / 2, dx - BLOCK, dx)
    dy = np.where(dy > BLOCK / 2, dy - BLOCK, dy)
    shifts = np.stack([dx, dy], axis=1)
    shifts[~(ta & tb) | (strength < MIN_PEAK)] = 0.0
    return shifts


def _subpixel(corr: np.ndarray, py: np.ndarray, px: np.ndarray, axis: int) -> np.ndarray:
    """The fraction of a pixel past the peak along ``axis``, from the larger neighbour: a
    phase-correlation peak is a sampled sinc, for which c1 / (c1 + c0) is the offset
    (Foroosh, Zerubia and Berthod 2002); a parabola through three samples is biased."""
    n = np.arange(len(corr))
    if axis == 2:
        before = corr[n, py, (px - 1) % BLOCK]
        after = corr[n, py, (px + 1) % BLOCK]
    else:
        before = corr[n, (py - 1) % BLOCK, px]
        after = corr[n, (py + 1) % BLOCK, px]
    centre = corr[n, py, px]
    side = np.maximum(before, after)
    offset = np.where(side > 0, side / (side + centre + 1e-9), 0.0)
    return np.clip(np.where(after >= before, offset, -offset), -0.5, 0.5)


def top_motion(shifts: np.ndarray) -> float:
    """The top 5 % of block motions (as VBench's top-5 % flow): their median rather than
    their mean, since a few hundred blocks are not a dense flow, and one block matched to
    the wrong peak would otherwise decide a pair."""
    magnitude = np.hypot(shifts[:, 0], shifts[:, 1])
    count = max(1, int(np.ceil(len(magnitude) * TOP_SHARE)))
    return float(np.median(np.sort(magnitude)[-count:]))


def _flicker(grey: list[np.ndarray], still_pairs: list[int]) -> float | None:
    if len(still_pairs) < 2:
        return None
    diffs = [float(np.mean(np.abs(grey[i + 1] - grey[i]))) for i in still_pairs]
    return (255.0 - float(np.mean(diffs))) / 255.0
