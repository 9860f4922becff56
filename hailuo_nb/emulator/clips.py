"""Finished videos that match the request: its duration, its frame size, and the camera
motion its bracketed commands ask for (so a camera-motion analyser can be tested offline).

A clip is a textured scene seen through a moving virtual camera, encoded as H.264 (libx264
via PyAV, yuv420p, CRF 32, preset ultrafast) at 12 fps:

- exactly ``duration`` seconds: ``duration * 12`` frames, ``time_base`` 1/12;
- 768p → 1366x768, 1080p → 1920x1080;
- the scene is one seeded, procedurally generated texture (smooth colour noise at four
  scales, thresholded blobs, disks, random coloured rectangles and outlines, a grid), the
  same for every clip; it covers about 2.5 x 2.5 frames at magnification 1 and repeats
  beyond that (it wraps around), so no motion ever runs off its edge.

The conventions (the project's camera check relies on exactly these). Motion is the motion
of the CONTENT in the frame; x grows to the right, y downwards:

- ``Pan left`` and ``Truck left``: content moves right (+x), 12 % of the frame width per
  second; ``Pan right`` / ``Truck right``: left (-x), 12 %/s.
- ``Tilt up`` and ``Pedestal up``: content moves down (+y), 12 % of the frame height per
  second; ``Tilt down`` / ``Pedestal down``: up (-y), 12 %/s.
- ``Zoom in`` and ``Push in``: the magnification grows by a factor 1.12 per second
  (exponentially) about the frame centre; ``Zoom out`` / ``Pull out``: shrinks by 1.12 per
  second. Shifts are in frame pixels whatever the magnification.
- ``Shake``: each frame is offset by a random jitter, uniform in ±2 % of the frame WIDTH on
  both axes (seeded per clip), around a fixed position: the jitter does not accumulate.
- ``Static shot``: adds no motion (a group holding only it is still).
- ``Tracking shot``: the background moves left (-x) 10 % of the width per second while a
  bright yellow subject square (side 1/5 of the frame height, dark border) stays at the
  frame centre.
- The commands of one bracket group act together: their motions add (``[Pan left,Pedestal
  up]`` moves diagonally, down-right); a command repeated in a group counts once.
- The duration is split evenly into one segment per bracket group, in prompt order; the
  camera continues from where the previous segment left it (no jumps). Frame ``n`` (time
  ``n / 12`` s) belongs to segment ``floor(n * groups / frames)``.
- No bracket group in the prompt: a static clip. Brackets are matched like the project's
  prompt lint: ``[...]`` without nested brackets, parts split on commas, each part matched
  case-insensitively (spaces collapsed) against the 15 commands; unknown parts are
  ignored, and a group with no known command is no group.

Controls, to show the checks of a clip failing (set per task, see config.py):

- ``ignore="static"`` renders the clip as if the prompt had no command (a still scene);
  ``ignore="opposite"`` renders each command's opposite (``Pan left`` as ``Pan right``,
  ``Zoom in`` as ``Zoom out``, ``Shake`` as ``Static shot`` and back, ``Tracking shot`` as
  ``Static shot``);
- ``black=s``: frames before ``s`` seconds are pure black (the camera moves on beneath);
- ``frozen=s``: the frame at the clip's middle, ``floor(frames / 2)``, is shown again for the
  next ``round(s * 12) - 1`` frames (``s`` seconds of identical frames with it); then the
  clip goes on where it would have been.

Clips are cached on disk by (commands, duration, quality, black, frozen):
``$HAILUO_EMULATOR_CACHE``, else ``<tempdir>/hailuo_nb_emulator_clips/v1/``, written to a
temporary file and moved into place with ``os.replace`` (parallel processes never see a
partial file). In one process, one render per clip at a time (others wait for it).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import tempfile
import threading
import time
import zlib
from concurrent.futures import Future
from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np

# The emulator's own copy of the 15 commands (the client's is hailuo_nb/camera_commands.py).
COMMANDS: tuple[str, ...] = (
    "Truck left", "Truck right", "Pan left", "Pan right", "Push in", "Pull out",
    "Pedestal up", "Pedestal down", "Tilt up", "Tilt down", "Zoom in", "Zoom out",
    "Shake", "Tracking shot", "Static shot",
)
_BY_NAME = {" ".join(c.lower().split()): c for c in COMMANDS}
_BRACKET = re.compile(r"\[([^\[\]]*)\]")

FPS = 12
SIZES = {"768p": (1366, 768), "1080p": (1920, 1080)}
CRF = 32
PAN = 0.12  # fraction of the frame per second
TRACK = 0.10
ZOOM = math.log(1.12)  # magnification x1.12 per second
SHAKE = 0.02  # fraction of the frame width, per frame
CACHE_VERSION = "v1"

# command → (content x, content y as fractions of the frame per second, log-zoom per second)
_MOTION = {
    "Pan left": (PAN, 0, 0), "Truck left": (PAN, 0, 0),
    "Pan right": (-PAN, 0, 0), "Truck right": (-PAN, 0, 0),
    "Tilt up": (0, PAN, 0), "Pedestal up": (0, PAN, 0),
    "Tilt down": (0, -PAN, 0), "Pedestal down": (0, -PAN, 0),
    "Zoom in": (0, 0, ZOOM), "Push in": (0, 0, ZOOM),
    "Zoom out": (0, 0, -ZOOM), "Pull out": (0, 0, -ZOOM),
    "Tracking shot": (-TRACK, 0, 0),
}

# The scene: TEXTURE texels, seen at magnification 1 through a window of 1/VIEWS of it.
TEXTURE = (2560, 1440)  # width, height: 16:9, multiples of the grid periods (20, 80)
VIEWS = 2.5
TEXTURE_SEED = 20240917


OPPOSITE = {
    "Pan left": "Pan right", "Pan right": "Pan left", "Truck left": "Truck right",
    "Truck right": "Truck left", "Tilt up": "Tilt down", "Tilt down": "Tilt up",
    "Pedestal up": "Pedestal down", "Pedestal down": "Pedestal up", "Zoom in": "Zoom out",
    "Zoom out": "Zoom in", "Push in": "Pull out", "Pull out": "Push in",
    "Shake": "Static shot", "Static shot": "Shake", "Tracking shot": "Static shot",
}

# ---------------------------------------------------------------------------- commands


def followed(commands: list[list[str]], ignore: str | None) -> list[list[str]]:
    """The commands the clip is rendered with: as asked, none, or their opposites."""
    if ignore == "static":
        return []
    if ignore == "opposite":
        return [[OPPOSITE[c] for c in group] for group in commands]
    return commands


def parse_commands(prompt: str) -> list[list[str]]:
    """The prompt's bracket groups, in order, each a list of canonical command names.

    ``"[Pan left,Pedestal up] then [zoom IN]"`` → ``[["Pan left", "Pedestal up"],
    ["Zoom in"]]``; unknown parts are dropped, and so is a group left empty.
    """
    groups = []
    for match in _BRACKET.finditer(prompt or ""):
        group = []
        for part in match.group(1).split(","):
            name = _BY_NAME.get(" ".join(part.lower().split()))
            if name is not None:
                group.append(name)
        if group:
            groups.append(group)
    return groups


# ---------------------------------------------------------------------------- the scene


def _lerp(a: np.ndarray, n_out: int, axis: int) -> np.ndarray:
    """``a`` resampled to ``n_out`` along ``axis`` as a periodic signal, smoothstep-blended
    between its samples (so a grid of random values becomes smooth, tileable noise)."""
    n_in = a.shape[axis]
    pos = (np.arange(n_out) + 0.5) * n_in / n_out - 0.5
    first = np.floor(pos).astype(np.intp)
    f = (pos - first).astype(np.float32)
    f = f * f * (3 - 2 * f)
    shape = [1] * a.ndim
    shape[axis] = n_out
    f = f.reshape(shape)
    lo = np.take(a, first % n_in, axis=axis)
    hi = np.take(a, (first + 1) % n_in, axis=axis)
    return lo + (hi - lo) * f


def _smooth_upsample(grid: np.ndarray, height: int, width: int) -> np.ndarray:
    """A periodic (gh, gw, c) grid upsampled to (height, width, c)."""
    return _lerp(_lerp(grid, height, 0), width, 1)


def _wrap_paint(tex: np.ndarray, x0: int, y0: int, mask: np.ndarray, colour) -> None:
    """Paint ``colour`` where ``mask`` (h, w) is true, its corner at (x0, y0), wrapping."""
    th, tw = tex.shape[:2]
    rows = np.arange(y0, y0 + mask.shape[0]) % th
    cols = np.arange(x0, x0 + mask.shape[1]) % tw
    patch = tex[np.ix_(rows, cols)]
    patch[mask] = colour
    tex[np.ix_(rows, cols)] = patch


_scene_lock = threading.Lock()


def _scene() -> np.ndarray:
    """The texture as a (height, width) uint32 array of RGBA pixels (alpha 255), made once
    per process (about 0.7 s, 15 MB)."""
    with _scene_lock:
        return _make_scene()


@lru_cache(maxsize=1)
def _make_scene() -> np.ndarray:
    tw, th = TEXTURE
    rng = np.random.default_rng(TEXTURE_SEED)
    # Smooth colour noise at four scales, made at a quarter of the size, then upsampled.
    qh, qw = th // 4, tw // 4
    acc = np.zeros((qh, qw, 3), np.float32)
    for cell, amplitude in ((120, 60.0), (40, 45.0), (12, 30.0), (4, 18.0)):
        grid = rng.uniform(-1, 1, (qh // cell, qw // cell, 3)).astype(np.float32)
        acc += amplitude * _smooth_upsample(grid, qh, qw)
    blob_field = _smooth_upsample(rng.uniform(-1, 1, (qh // 20, qw // 20, 1))
                                  .astype(np.float32), qh, qw)
    small = np.concatenate([acc, blob_field], axis=2)
    tall = _lerp(small, th, 0)  # (th, qw, 4); the columns are done band by band
    tex = np.empty((th, tw, 3), np.uint8)
    for y in range(0, th, 240):
        band = _lerp(tall[y:y + 240], tw, 1)
        rgb = tex[y:y + 240]
        rgb[...] = np.clip(band[..., :3] + 128.0, 0, 255)
        # Sharp-edged blobs: level sets of a mid-scale field, in two colours.
        rgb[band[..., 3] > 0.45] = (235, 90, 40)
        rgb[band[..., 3] < -0.5] = (30, 60, 150)
    del tall, small, acc
    # Disks at several scales.
    for radius in rng.integers(6, 110, 160):
        yy, xx = np.mgrid[-radius:radius + 1, -radius:radius + 1]
        mask = xx * xx + yy * yy <= radius * radius
        _wrap_paint(tex, int(rng.integers(tw)), int(rng.integers(th)), mask,
                    rng.integers(0, 256, 3, dtype=np.uint8))
    # Random rectangles, filled or outlined, from a few texels to a fifth of the scene.
    for _ in range(420):
        w = int(min(tw // 5, rng.pareto(1.2) * 10 + 6))
        h = int(min(th // 5, rng.pareto(1.2) * 10 + 6))
        mask = np.ones((h, w), bool)
        if rng.random() < 0.3 and w > 8 and h > 8:
            border = int(rng.integers(2, 5))
            mask[border:-border, border:-border] = False
        _wrap_paint(tex, int(rng.integers(tw)), int(rng.integers(th)), mask,
                    rng.integers(0, 256, 3, dtype=np.uint8))
    # A grid: dark lines every 80 texels, faint ones every 20 (periodic in the scene).
    tex[:, ::20] = (tex[:, ::20] * 0.7).astype(np.uint8)
    tex[::20, :] = (tex[::20, :] * 0.7).astype(np.uint8)
    for offset in (0, 1):
        tex[:, offset::80] = 20
        tex[offset::80, :] = 20
    rgba = np.empty((th, tw, 4), np.uint8)
    rgba[..., :3] = tex
    rgba[..., 3] = 255
    return rgba.view(np.uint32)[..., 0]


# ---------------------------------------------------------------------------- rendering


def _group_motion(group: list[str]) -> tuple[float, float, float]:
    vx = vy = vz = 0.0
    for name in dict.fromkeys(group):  # a repeated command counts once
        x, y, z = _MOTION.get(name, (0, 0, 0))
        vx, vy, vz = vx + x, vy + y, vz + z
    return vx, vy, vz


def render_clip(commands: list[list[str]], duration: int, quality: str, path, *,
                black: float = 0.0, frozen: float = 0.0) -> Path:
    """Render the clip for ``commands`` (bracket groups) into ``path``; returns it."""
    # Long: one pass from camera path to encoded frames; split, it reads worse.
    if quality not in SIZES:
        raise ValueError(f"quality must be one of {sorted(SIZES)}, got {quality!r}")
    duration = int(duration)
    if duration <= 0:
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    width, height = SIZES[quality]
    groups = [list(g) for g in commands if g] or [[]]
    count = len(groups)
    frames = duration * FPS
    motions = [_group_motion(g) for g in groups]
    scene = _scene()
    th, tw = scene.shape
    sx = tw / (VIEWS * width)  # texels per output pixel at magnification 1
    sy = th / (VIEWS * height)
    u = np.arange(width) + 0.5 - width / 2
    v = np.arange(height) + 0.5 - height / 2
    rng = np.random.default_rng(zlib.crc32(_key(commands, duration, quality).encode()))
    side = height // 5
    top, left = (height - side) // 2, (width - side) // 2

    def segment(frame: float) -> int:
        return min(count - 1, int(frame * count / frames + 1e-9))

    cx, cy, mag = tw / 2, th / 2, 1.0
    black_frames = round(float(black) * FPS)
    hold_from = frames // 2
    hold_until = hold_from + round(float(frozen) * FPS) - 1  # (from, until] repeat it
    held = None
    path = Path(path)
    container = av.open(os.fspath(path), "w", format="mp4")
    try:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, FPS)
        stream.codec_context.time_base = Fraction(1, FPS)
        stream.options = {"preset": "ultrafast", "crf": str(CRF)}
        for n in range(frames):
            if n:  # move the camera from frame n-1 to frame n, segment by segment
                at = n - 1.0
                while at < n - 1e-9:
                    index = segment(at)
                    end = min(float(n), (index + 1) * frames / count)
                    dt = (end - at) / FPS
                    vx, vy, vz = motions[index]
                    cx -= vx * width * sx / mag * dt
                    cy -= vy * height * sy / mag * dt
                    mag *= math.exp(vz * dt)
                    at = end
            group = groups[segment(n)]
            ox = oy = 0.0
            if "Shake" in group:
                ox, oy = rng.uniform(-SHAKE, SHAKE, 2) * width
            xs = np.floor(cx + (u - ox) * sx / mag).astype(np.intp) % tw
            ys = np.floor(cy + (v - oy) * sy / mag).astype(np.intp) % th
            pixels = np.take(np.take(scene, ys, axis=0), xs, axis=1)
            image = pixels.view(np.uint8).reshape(height, width, 4)
            if "Tracking shot" in group:
                image[top:top + side, left:left + side] = (25, 25, 25, 255)
                edge = max(2, side // 12)
                image[top + edge:top + side - edge, left + edge:left + side - edge] = (
                    255, 230, 0, 255)
            if n == hold_from:
                held = image.copy()
            elif hold_from < n <= hold_until and held is not None:
                image = held
            if n < black_frames:
                image = np.zeros_like(image)
                image[..., 3] = 255
            frame = av.VideoFrame.from_ndarray(image, format="rgba")
            frame.pts = n
            frame.time_base = Fraction(1, FPS)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    finally:
        container.close()
    return path


# ---------------------------------------------------------------------------- the cache


def cache_dir() -> Path:
    """Where rendered clips are kept."""
    configured = os.environ.get("HAILUO_EMULATOR_CACHE")
    if configured:
        return Path(configured)
    return Path(tempfile.gettempdir()) / "hailuo_nb_emulator_clips" / CACHE_VERSION


def _key(commands: list[list[str]], duration: int, quality: str, black: float = 0.0,
         frozen: float = 0.0) -> str:
    key = [CACHE_VERSION, [list(g) for g in commands], int(duration), quality]
    if black or frozen:  # only then: the clips cached before these controls stay valid
        key += [float(black), float(frozen)]
    return json.dumps(key)


def clip_path(commands: list[list[str]], duration: int, quality: str, black: float = 0.0,
              frozen: float = 0.0) -> Path:
    """The cache file of a clip (it may not exist yet)."""
    digest = hashlib.sha256(_key(commands, duration, quality, black, frozen).encode()
                            ).hexdigest()[:20]
    return cache_dir() / f"{quality}-{int(duration)}s-{digest}.mp4"


_inflight: dict[Path, Future] = {}
_inflight_lock = threading.Lock()
_swept: set[Path] = set()
STALE_SECONDS = 3600.0  # temporary files older than this were left by a dead process


def _sweep(folder: Path) -> None:
    """Remove temporary files that crashed renders left behind (once per folder)."""
    if folder in _swept:
        return
    _swept.add(folder)
    now = time.time()
    for tmp in folder.glob(".*.tmp"):
        with contextlib.suppress(OSError):
            if now - tmp.stat().st_mtime > STALE_SECONDS:
                tmp.unlink()


def _render_into_cache(commands, duration, quality, target: Path, defects: dict) -> Path:
    target.parent.mkdir(parents=True, exist_ok=True)
    _sweep(target.parent)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        render_clip(commands, duration, quality, tmp, **defects)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return target


def _claim(commands, duration, quality, defects) -> tuple[Path, Future | None, bool]:
    """(cache path, the render's future or None if cached, whether the caller renders)."""
    target = clip_path(commands, duration, quality, **defects)
    if target.is_file():
        return target, None, False
    with _inflight_lock:
        future = _inflight.get(target)
        if future is not None:
            return target, future, False
        future = Future()
        _inflight[target] = future
        return target, future, True


def _run(commands, duration, quality, target: Path, future: Future, defects: dict) -> None:
    try:
        if not target.is_file():  # another process may have finished it meanwhile
            _render_into_cache(commands, duration, quality, target, defects)
    except BaseException as exc:
        future.set_exception(exc)
    else:
        future.set_result(target)
    finally:
        with _inflight_lock:
            _inflight.pop(target, None)


def _defects(black: float, frozen: float) -> dict:
    for name, value in (("black", black), ("frozen", frozen)):
        if not (math.isfinite(float(value)) and float(value) >= 0):
            raise ValueError(f"{name} must be a number of seconds >= 0, got {value!r}")
    return {"black": float(black), "frozen": float(frozen)}


def clip_for(prompt: str, duration: int = 6, quality: str = "768p", *,
             ignore: str | None = None, black: float = 0.0, frozen: float = 0.0) -> Path:
    """The cached clip for ``prompt``'s camera commands, rendered first if need be
    (``ignore``, ``black``, ``frozen``: see the module's notes)."""
    commands = followed(parse_commands(prompt), ignore)
    defects = _defects(black, frozen)
    target, future, mine = _claim(commands, duration, quality, defects)
    if future is None:
        return target
    if mine:
        _run(commands, duration, quality, target, future, defects)
    return future.result()


def prefetch(prompt: str, duration: int = 6, quality: str = "768p", *,
             ignore: str | None = None, black: float = 0.0, frozen: float = 0.0) -> None:
    """Start rendering ``prompt``'s clip in a background thread unless it is cached or
    already being rendered; errors surface at :func:`clip_for`."""
    commands = followed(parse_commands(prompt), ignore)
    defects = _defects(black, frozen)
    target, future, mine = _claim(commands, duration, quality, defects)
    if mine:
        threading.Thread(target=_run, args=(commands, duration, quality, target, future,
                                            defects),
                         name="hailuo-emulator-render", daemon=True).start()
