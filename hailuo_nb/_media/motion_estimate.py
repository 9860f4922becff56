"""How the camera moved between two frames: the motion most of the frame agrees on.

A grid of blocks is matched from one small grey frame to the next (phase correlation for
the whole pixels, one Lucas-Kanade step for the fraction), and one similarity (shift,
scale, roll about the centre) is fitted to the blocks robustly (RANSAC, then least squares
on its inliers). A subject walking through the frame, a nearer layer moving faster, noise,
flicker and compression move a minority of blocks, or move them at random: they do not
decide the fit. Blocks without texture do not vote; a pair where textured blocks find no
match is a cut.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import av
import numpy as np

from ..errors import FrameError

ANALYSIS_WIDTH = 256  # px: blocks of 32 px see motion up to 16 px a pair (≈ 50 % width/s)
SAMPLES_PER_SECOND = 6  # frames looked at per second of video (the rest are decoded only)
BLOCK = 32
STEP = 28  # px between blocks: 45 blocks on a 16:9 frame, each a vote
MIN_CONTRAST = 2.5  # grey levels (0-255): a block flatter than this has nothing to match
MIN_MATCH = 0.35  # normalised correlation of a matched block with its place in the next frame
INLIER_PX = 0.75  # px: a block agrees with the camera's motion within this
MIN_BLOCKS = 6  # textured, matched blocks needed before a pair says anything
SECOND_PEAK = 0.5  # a second whole-frame shift this strong is searched from too


@dataclass(frozen=True)
class PairMotion:
    """The camera between two sampled frames, as the motion of the CONTENT per second:
    dx (right +) as a fraction of the width, dy (down +) of the height, dz the log of the
    magnification's growth, roll in radians (clockwise +). ``status`` is "ok", "flat" (too
    little texture), "cut" (textured blocks found no match) or "unsure" (no consensus)."""

    start: float
    end: float
    dx: float
    dy: float
    dz: float
    roll: float
    status: str
    textured: int  # blocks with texture
    agreeing: int  # blocks that agree with the fitted motion


@dataclass(frozen=True)
class Sampled:
    frames: list  # float32 grey images, ANALYSIS_WIDTH wide
    times: list  # seconds
    duration: float


def sample_frames(path: str | os.PathLike, per_second: float = SAMPLES_PER_SECOND,
                  width: int = ANALYSIS_WIDTH) -> Sampled:
    """Small grey frames every 1/per_second s, decoding as few frames as that allows.
    B-frames are skipped undecoded first (no P-frame refers to one): a usual 24 fps MP4
    with three B-frames in a row still has a P-frame every 1/6 s, and that is 60 % less
    decoding. Where that leaves too few (found within the first second), the frames no
    other frame refers to are skipped, and where even that leaves too few, none is."""
    path = os.fspath(path)
    sampled = _sample(path, per_second, width, skip="BIDIR", at_least=0.9)
    if sampled is None:
        sampled = _sample(path, per_second, width, skip="NONREF")
    if sampled is None or len(sampled.frames) < 0.6 * per_second * sampled.duration:
        sampled = _sample(path, per_second, width, skip="DEFAULT")
    if len(sampled.frames) < 2:
        raise FrameError(f"cannot read video frames from {path}: fewer than two frames")
    return sampled


def _sample(path: str, per_second: float, width: int, skip: str,
            at_least: float = 0.0) -> Sampled | None:
    """The frames decoded with ``skip``; None as soon as the first second shows fewer
    than ``at_least`` of the ``per_second`` wanted."""
    try:
        container = av.open(path)
    except (av.FFmpegError, OSError) as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    frames, times = [], []
    duration = 0.0
    try:
        stream = container.streams.video[0]
        stream.thread_type = "NONE"  # one thread: FFmpeg's own threads would add up per task
        stream.codec_context.thread_count = 1
        stream.codec_context.skip_frame = skip
        # no deblocking: a seventh less decoding; block edges a little sharper do not move
        stream.codec_context.options = {"skip_loop_filter": "all"}
        if stream.duration is not None and stream.time_base:
            duration = float(stream.duration * stream.time_base)
        step = 1.0 / per_second
        next_at = 0.0
        for frame in container.decode(stream):
            at = float(frame.time or 0.0)
            if at_least and at >= 1.0 and len(times) < at_least * per_second * at:
                return None  # too sparse with this skip: the caller decodes more
            if at + 1e-6 < next_at:
                continue
            next_at = at + step * 0.999
            height = max(2, round(frame.height * width / frame.width / 2) * 2)
            small = frame.reformat(width=width, height=height, format="gray",
                                   interpolation="AREA", threads=1)
            frames.append(small.to_ndarray().astype(np.float32))
            times.append(at)
    except (av.FFmpegError, IndexError) as exc:
        raise FrameError(f"cannot read video frames from {path}: {exc}") from None
    finally:
        container.close()
    if duration <= 0 and len(times) >= 2:
        duration = times[-1] + (times[-1] - times[-2])
    return Sampled(frames, times, duration)


@dataclass(frozen=True)
class Prepared:
    """What a frame brings to every pair it is in, computed once: its grid of blocks
    (normalised, their spectra, their contrast) and the whole frame's spectrum."""

    image: np.ndarray
    spectrum: np.ndarray  # of the frame at half size
    ys: np.ndarray
    xs: np.ndarray
    blocks: np.ndarray
    block_spectra: np.ndarray
    contrast: np.ndarray


def prepare(image: np.ndarray) -> Prepared:
    h, w = image.shape
    ys, xs = np.arange(0, h - BLOCK + 1, STEP), np.arange(0, w - BLOCK + 1, STEP)
    ya, xa = (v.ravel() for v in np.meshgrid(ys, xs, indexing="ij"))
    # the whole frame at half size: its shift is only where the blocks start looking
    half = image[: h // 2 * 2, : w // 2 * 2].reshape(h // 2, 2, w // 2, 2).mean(axis=(1, 3))
    window = np.outer(np.hanning(h // 2), np.hanning(w // 2)).astype(np.float32)
    spectrum = np.fft.rfft2((half - half.mean()) * window)
    raw = _blocks(image, ya, xa)
    blocks = _normalised(raw)
    return Prepared(image, spectrum, ya, xa, blocks, np.fft.rfft2(blocks * _WINDOW),
                    raw.std(axis=(1, 2)))


def motion_series(frames: list[Prepared], times: list[float]) -> list[PairMotion]:
    """The camera's motion between each pair of consecutive frames, each pair searched from
    the last clear pair's motion as well (the camera's motion changes smoothly)."""
    out, prior = [], None
    for i in range(len(frames) - 1):
        pair = motion_between(frames[i], frames[i + 1], times[i], times[i + 1], prior)
        out.append(pair)
        if pair.status == "ok":
            h, w = frames[i].image.shape
            dt = times[i + 1] - times[i]
            prior = (round(pair.dx * w * dt), round(pair.dy * h * dt))
    return out


def motion_between(a: np.ndarray | Prepared, b: np.ndarray | Prepared, start: float,
                   end: float, prior: tuple[int, int] | None = None) -> PairMotion:
    """The camera's motion from frame ``a`` (at ``start``) to ``b`` (at ``end``);
    ``prior``: the shift (px) the camera's motion so far predicts, searched from too."""
    pa = a if isinstance(a, Prepared) else prepare(a)
    pb = b if isinstance(b, Prepared) else prepare(b)
    h, w = pa.image.shape
    dt = max(end - start, 1e-6)
    textured = pa.contrast >= MIN_CONTRAST
    n_textured = int(textured.sum())
    if n_textured < MIN_BLOCKS:
        return PairMotion(start, end, 0.0, 0.0, 0.0, 0.0, "flat", n_textured, 0)
    ya, xa = pa.ys[textured], pa.xs[textured]
    blocks_a, spectra_a = pa.blocks[textured], pa.block_spectra[textured]
    # where to look: the whole frame's strongest shift, its second when that one is nearly
    # as strong (a big subject moving its own way), and the prior; each block keeps the best
    starts = [(2 * gx, 2 * gy) for gx, gy in
              _frame_shifts(pb.spectrum * np.conj(pa.spectrum), (h // 2, w // 2))]
    if prior is not None and all(abs(prior[0] - x) + abs(prior[1] - y) > 3 for x, y in starts):
        starts.append(prior)  # a subject filling the centre can hide the camera's shift
    best = None
    for gx, gy in starts:
        found = _match_blocks(pb.image, ya, xa, blocks_a, spectra_a, gx, gy)
        if best is None:
            best = found
        else:
            better = found[4] > best[4]
            best = tuple(np.where(better, new, old) for new, old in zip(found, best,
                                                                        strict=True))
    yb2, xb2, fy, fx, match = best
    matched = (match >= MIN_MATCH) & (np.abs(fx) <= 1.5) & (np.abs(fy) <= 1.5)
    if matched.sum() < max(MIN_BLOCKS, 0.3 * n_textured):
        # most textured blocks found nothing like themselves: another shot
        status = "cut" if matched.sum() < 0.3 * n_textured else "unsure"
        return PairMotion(start, end, 0.0, 0.0, 0.0, 0.0, status, n_textured, 0)
    # where each matched block's centre went, relative to the frame's centre
    cx = xa[matched] + BLOCK / 2 - w / 2
    cy = ya[matched] + BLOCK / 2 - h / 2
    u = (xb2 - xa)[matched] + fx[matched]
    v = (yb2 - ya)[matched] + fy[matched]
    params, inliers = fit_similarity(cx, cy, u, v)
    if inliers.sum() < MIN_BLOCKS or inliers.sum() < 0.35 * len(u):
        return PairMotion(start, end, 0.0, 0.0, 0.0, 0.0, "unsure", n_textured,
                          int(inliers.sum()))
    tx, ty, a_, r_ = params
    a_ = _zoom_both_ways(cx[inliers], cy[inliers], u[inliers], v[inliers], a_)
    return PairMotion(start, end, tx / w / dt, ty / h / dt, float(np.log1p(a_)) / dt,
                      r_ / dt, "ok", n_textured, int(inliers.sum()))


def _zoom_both_ways(x, y, u, v, scale: float) -> float:
    """The fitted scale change, kept only as far as the frame grows (or shrinks) across AND
    down alike: two layers sliding at different speeds (parallax) stretch it one way only,
    which a similarity would otherwise half-explain as a zoom."""
    if len(x) < 6 or np.ptp(x) < BLOCK or np.ptp(y) < BLOCK:
        return scale
    ones = np.ones_like(x)
    across = np.linalg.lstsq(np.column_stack([ones, x, y]), u, rcond=None)[0][1]
    down = np.linalg.lstsq(np.column_stack([ones, x, y]), v, rcond=None)[0][2]
    if across * down <= 0:
        return 0.0
    return float(np.sign(scale) * min(abs(scale), abs(across), abs(down))) if scale else 0.0


def _match_blocks(image, ya, xa, blocks_a, spectra_a, gx, gy):
    """(y, x) where each block of the first frame landed in ``image`` in whole pixels,
    (dy, dx) the fraction left, and how well it matches, starting the search at (gx, gy)."""
    h, w = image.shape
    yb = np.clip(ya + gy, 0, h - BLOCK)
    xb = np.clip(xa + gx, 0, w - BLOCK)
    blocks_b = _normalised(_blocks(image, yb, xb))
    px, py = _peak(np.fft.rfft2(blocks_b * _WINDOW) * np.conj(spectra_a), (BLOCK, BLOCK))
    yb2 = np.clip(yb + py, 0, h - BLOCK)
    xb2 = np.clip(xb + px, 0, w - BLOCK)
    fy, fx, match = _refine(blocks_a, _normalised(_blocks(image, yb2, xb2)))
    return yb2, xb2, fy, fx, match


def _frame_shifts(cross: np.ndarray, shape: tuple[int, int]) -> list[tuple[int, int]]:
    """The whole frame's shift at the strongest peak of its phase correlation, and the
    second peak's too when it is at least half as strong."""
    corr = np.fft.irfft2(cross / (np.abs(cross) + 1e-6), s=shape)
    h, w = shape
    shifts, first = [], None
    for _ in range(2):
        y, x = np.unravel_index(int(np.argmax(corr)), corr.shape)
        height = corr[y, x]
        if first is not None and height < SECOND_PEAK * first:
            break
        first = height if first is None else first
        shifts.append((int(x if x <= w // 2 else x - w), int(y if y <= h // 2 else y - h)))
        rows = np.arange(y - 2, y + 3) % h
        cols = np.arange(x - 2, x + 3) % w
        corr[np.ix_(rows, cols)] = -np.inf  # the peak's own shoulders are not a second
    return shifts


def fit_similarity(x, y, u, v, tries: int = 80, tol: float = INLIER_PX):
    """(tx, ty, a, r) of u = tx + a x - r y, v = ty + r x + a y that most blocks agree with,
    and the mask of those blocks. RANSAC on pairs of blocks, then least squares."""
    n = len(x)
    rng = np.random.default_rng(12345)  # the same answer for the same frames
    if n >= 2:
        i = rng.integers(0, n, tries)
        j = (i + rng.integers(1, n, tries)) % n  # never the same block twice
        candidates = _solve_pairs(x[i], y[i], u[i], v[i], x[j], y[j], u[j], v[j])
    else:
        candidates = np.zeros((0, 4))
    # each block's own shift alone is a candidate too (translation only): robust when
    # the blocks that agree are too close together to measure a scale
    candidates = np.vstack([candidates, np.column_stack([u, v, np.zeros(n), np.zeros(n)])])
    tx, ty, a, r = (candidates[:, k:k + 1] for k in range(4))
    err = np.hypot(tx + a * x - r * y - u, ty + r * x + a * y - v)
    counts = (err <= tol).sum(axis=1)
    best = int(np.argmax(counts - 1e-3 * np.median(err, axis=1)))
    inliers = err[best] <= tol
    params = candidates[best]
    for _ in range(2):  # least squares on the agreeing blocks, then who agrees with that
        if inliers.sum() < 3:
            break
        params = _least_squares(x[inliers], y[inliers], u[inliers], v[inliers])
        tx, ty, a, r = params
        inliers = np.hypot(tx + a * x - r * y - u, ty + r * x + a * y - v) <= tol
    return tuple(float(p) for p in params), inliers


# -- helpers ------------------------------------------------------------------------------

_WINDOW = np.outer(np.hanning(BLOCK), np.hanning(BLOCK)).astype(np.float32)


def _blocks(img: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    return np.lib.stride_tricks.sliding_window_view(img, (BLOCK, BLOCK))[ys, xs]


def _normalised(blocks: np.ndarray) -> np.ndarray:
    """Zero mean, unit spread per block: a global change of brightness (flicker) vanishes."""
    centred = blocks - blocks.mean(axis=(-2, -1), keepdims=True)
    return centred / (centred.std(axis=(-2, -1), keepdims=True) + 1e-3)


def _peak(cross: np.ndarray, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """(x, y) shift, in whole pixels, at the peak of the phase correlation whose cross
    spectrum is ``cross`` (one image, or a stack of blocks at once)."""
    corr = np.fft.irfft2(cross / (np.abs(cross) + 1e-6), s=shape)
    flat = corr.reshape(*corr.shape[:-2], -1).argmax(axis=-1)
    y, x = np.divmod(flat, shape[1])
    y = np.where(y > shape[0] // 2, y - shape[0], y)
    x = np.where(x > shape[1] // 2, x - shape[1], x)
    return x, y


def _refine(blocks_a: np.ndarray, blocks_b: np.ndarray):
    """(dy, dx, match): the fraction of a pixel left over (one Lucas-Kanade step on the
    block's inner part) and how well the two blocks match (normalised correlation)."""
    na, nb = _normalised(blocks_a), _normalised(blocks_b)
    inner = slice(2, BLOCK - 2)
    mean = (na + nb) / 2
    gx = (mean[:, inner, 3:BLOCK - 1] - mean[:, inner, 1:BLOCK - 3]) / 2
    gy = (mean[:, 3:BLOCK - 1, inner] - mean[:, 1:BLOCK - 3, inner]) / 2
    gt = (nb - na)[:, inner, inner]
    sxx, syy, sxy = (gx * gx).sum((1, 2)), (gy * gy).sum((1, 2)), (gx * gy).sum((1, 2))
    sxt, syt = (gx * gt).sum((1, 2)), (gy * gt).sum((1, 2))
    det = sxx * syy - sxy * sxy
    ok = det > 1e-6 * (sxx + syy + 1e-9) ** 2
    safe = np.where(ok, det, 1.0)
    # b(x) = a(x - d)  ⇒  b - a ≈ -∇·d
    dx = np.where(ok, -(syy * sxt - sxy * syt) / safe, 99.0)
    dy = np.where(ok, -(sxx * syt - sxy * sxt) / safe, 99.0)
    match = (na * nb).mean(axis=(1, 2))
    return dy, dx, match


def _solve_pairs(x1, y1, u1, v1, x2, y2, u2, v2) -> np.ndarray:
    """The similarity through two block motions, for many pairs at once."""
    dx, dy, du, dv = x2 - x1, y2 - y1, u2 - u1, v2 - v1
    d2 = dx * dx + dy * dy
    ok = d2 > 1e-6
    d2 = np.where(ok, d2, 1.0)
    a = (du * dx + dv * dy) / d2
    r = (dv * dx - du * dy) / d2
    tx = u1 - a * x1 + r * y1
    ty = v1 - r * x1 - a * y1
    out = np.column_stack([tx, ty, a, r])
    return out[ok]


def _least_squares(x, y, u, v) -> np.ndarray:
    n = len(x)
    m = np.zeros((2 * n, 4))
    m[:n, 0], m[:n, 2], m[:n, 3] = 1, x, -y
    m[n:, 1], m[n:, 2], m[n:, 3] = 1, y, x
    sol, *_ = np.linalg.lstsq(m, np.concatenate([u, v]), rcond=None)
    return sol
