"""Clips made from real photographs, seen through a virtual camera whose motion is known.

The photographs ship inside scikit-image's wheel (skimage/data): nothing is downloaded. They
are read with PyAV (the package is never imported). A clip is one photograph as the scene,
a camera that pans/tilts/zooms along a path of segments, and what real footage adds: a
cut-out of another photograph walking across (a moving subject), a nearer layer moving
faster (parallax), sensor noise, flicker, shake, heavy compression, a cut. Every random
thing is seeded: the same spec makes the same frames.

Conventions, in CAMERA terms (what the camera does, not the content): ``pan`` right + as
a fraction of the frame width per second (content moves the other way), ``tilt`` up + as a
fraction of the height per second, ``zoom`` the magnification's factor per second.
"""

from __future__ import annotations

import functools
import importlib.util
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True)
class Move:
    """One segment of the camera's path: its share of the clip and its speeds."""

    pan: float = 0.0  # + right, fraction of the width per second
    tilt: float = 0.0  # + up, fraction of the height per second
    zoom: float = 1.0  # magnification factor per second (>1 in)


@dataclass(frozen=True)
class Spec:
    name: str
    moves: tuple = (Move(),)  # equal shares of the clip, in order
    photo: str = "astronaut.png"
    seconds: float = 3.0
    fps: int = 12
    size: tuple = (384, 216)
    subject: float = 0.0  # a cut-out walking across: its speed, fraction of width/s, + right
    subject_photo: str = "chelsea.png"
    subject_size: float = 0.55  # its height, as a fraction of the frame's
    parallax: float = 0.0  # the lower third is a nearer layer moving this many times faster
    noise: float = 0.0  # sensor noise, grey levels (0-255) of spread
    flicker: float = 0.0  # brightness swings by this fraction
    shake: float = 0.0  # jitter, fraction of the width, per frame, not accumulating
    bitrate: int = 0  # bits/s; 0: near lossless (CRF 18)
    preset: str = "ultrafast"  # x264's: "medium" adds B-frames, as delivered MP4s have
    cut_at: float | None = None  # seconds: the scene changes to another photograph
    flat: bool = False  # a scene with almost no texture (a blurred sky)
    tracking: bool = False  # the subject stays at the centre: the camera follows it
    upscale: int = 1  # drawn at size / upscale, scaled up on encoding (big clips, quickly)
    seed: int = 7


def photo(name: str) -> np.ndarray:
    """An RGB photograph from scikit-image's data folder, as float32 H x W x 3."""
    return _photo(name).copy()


@functools.lru_cache(maxsize=16)
def _photo(name: str) -> np.ndarray:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the truth clips need scikit-image's photographs: "
                           "pip install 'hailuo_nb[test]'")
    path = Path(next(iter(spec.submodule_search_locations))) / "data" / name
    with av.open(str(path)) as container:
        frame = next(container.decode(video=0))
        rgb = frame.to_ndarray(format="rgb24").astype(np.float32)
    return rgb


def _sample(img: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Bilinear sample of img at (px, py), mirrored at the edges (the scene never ends)."""
    h, w = img.shape[:2]

    def mirror(c, n):
        c = np.mod(c, 2 * (n - 1))
        return np.where(c > n - 1, 2 * (n - 1) - c, c)

    px, py = mirror(px, w), mirror(py, h)
    x0 = np.clip(np.floor(px).astype(int), 0, w - 2)
    y0 = np.clip(np.floor(py).astype(int), 0, h - 2)
    fx, fy = (px - x0)[..., None], (py - y0)[..., None]
    top = img[y0, x0] * (1 - fx) + img[y0, x0 + 1] * fx
    bottom = img[y0 + 1, x0] * (1 - fx) + img[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def camera_path(spec: Spec) -> list[tuple[float, float, float, float]]:
    """(time, content offset x px, content offset y px, magnification) per frame."""
    w, h = spec.size[0] // spec.upscale, spec.size[1] // spec.upscale
    frames = round(spec.seconds * spec.fps)
    out, ox, oy, mag = [], 0.0, 0.0, 1.0
    for n in range(frames):
        t = n / spec.fps
        out.append((t, ox, oy, mag))
        move = spec.moves[min(len(spec.moves) - 1, n * len(spec.moves) // frames)]
        dt = 1 / spec.fps
        # offsets are in the scene's units: divided by the magnification, the content
        # moves through the FRAME at the stated speed however far the camera zoomed
        ox += -move.pan * w * dt / mag  # panning right moves the content left
        oy += move.tilt * h * dt / mag  # tilting up moves the content down
        mag *= move.zoom ** dt
    return out


def render(spec: Spec, path: Path) -> Path:
    """Write the clip of ``spec`` to ``path`` (H.264 in MP4) and return it."""
    rng = np.random.default_rng(spec.seed)
    out_w, out_h = spec.size
    w, h = out_w // spec.upscale, out_h // spec.upscale
    scene = photo(spec.photo)
    after_cut = photo("coffee.png" if spec.photo != "coffee.png" else "rocket.jpg")
    if spec.flat:  # a sky: a smooth gradient, a few grey levels of relief
        ph, pw = scene.shape[:2]
        yy, xx = np.mgrid[0:ph, 0:pw].astype(np.float32)
        scene = np.stack([150 + 0.05 * xx + 0.02 * yy, 180 + 0.03 * yy, 220 - 0.02 * xx], -1)
    near = photo("coffee.png")
    # the subject: an oval cut-out of another photograph
    sub = photo(spec.subject_photo)
    sh = int(h * spec.subject_size)
    sw = int(sh * 0.7)
    sy, sx = np.mgrid[0:sh, 0:sw]
    sub_img = _sample(sub, sx * sub.shape[1] / sw * 0.6 + sub.shape[1] * 0.2,
                      sy * sub.shape[0] / sh * 0.8 + sub.shape[0] * 0.1)
    sub_mask = (((sx - sw / 2) / (sw / 2)) ** 2 + ((sy - sh / 2) / (sh / 2)) ** 2 <= 1)[..., None]

    path = Path(path)
    container = av.open(str(path), "w")
    stream = container.add_stream("libx264", rate=spec.fps)
    stream.width, stream.height, stream.pix_fmt = out_w, out_h, "yuv420p"
    stream.time_base = Fraction(1, spec.fps)
    if spec.bitrate:
        stream.bit_rate = spec.bitrate
        stream.options = {"preset": spec.preset}
    else:
        stream.options = {"crf": "18", "preset": spec.preset}
    stream.codec_context.thread_count = 1
    vy, vx = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = vx - w / 2, vy - h / 2
    for n, (t, ox, oy, mag) in enumerate(camera_path(spec)):
        jx = jy = 0.0
        if spec.shake:
            jx, jy = rng.uniform(-spec.shake, spec.shake, 2) * w
        img = scene if spec.cut_at is None or t < spec.cut_at else after_cut
        # the photograph spans 1.6 frame widths at magnification 1: room to travel
        per_px = img.shape[1] / (1.6 * w)
        centre_x, centre_y = img.shape[1] / 2, img.shape[0] / 2
        px = centre_x + (cx / mag - ox - jx) * per_px
        py = centre_y + (cy / mag - oy - jy) * per_px
        frame = _sample(img, px, py)
        if spec.parallax:  # the lower third: a nearer layer, moving parallax times faster
            lower = vy > h * 2 / 3
            near_px = near.shape[1] / (1.6 * w)
            qx = near.shape[1] / 2 + (cx / mag - ox * spec.parallax - jx) * near_px
            qy = near.shape[0] / 2 + (cy / mag - oy * spec.parallax - jy) * near_px
            frame = np.where(lower[..., None], _sample(near, qx, qy), frame)
        if spec.subject or spec.tracking:  # walks across, whatever the camera does
            left = round((0.5 + spec.subject * (t - spec.seconds / 2)) * w - sw / 2)
            top = (h - sh) // 2
            x0, x1 = max(0, left), min(w, left + sw)
            if x1 > x0:
                part = frame[top:top + sh, x0:x1]
                cut = sub_img[:, x0 - left:x1 - left]
                m = sub_mask[:, x0 - left:x1 - left]
                frame[top:top + sh, x0:x1] = np.where(m, cut, part)
        if spec.flicker:
            frame = frame * (1 + spec.flicker * math.sin(2 * math.pi * 3.1 * t + n % 3))
        if spec.noise:
            frame = frame + rng.normal(0, spec.noise, frame.shape)
        video_frame = av.VideoFrame.from_ndarray(np.clip(frame, 0, 255).astype(np.uint8),
                                                 format="rgb24")
        if spec.upscale != 1:
            video_frame = video_frame.reformat(width=out_w, height=out_h)
        video_frame.pts = n
        for packet in stream.encode(video_frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
    container.close()
    return path


def clip(spec: Spec, folder: Path) -> Path:
    """The clip of ``spec`` in ``folder``, rendered once."""
    target = Path(folder) / f"{spec.name}.mp4"
    if not target.exists():
        partial = target.with_suffix(".part.mp4")
        render(spec, partial)
        partial.replace(target)
    return target


# -- what the camera check should say ------------------------------------------------------

_AXES = {"Pan left": ("pan", -1), "Truck left": ("pan", -1), "Pan right": ("pan", 1),
         "Truck right": ("pan", 1), "Tilt up": ("tilt", 1), "Pedestal up": ("tilt", 1),
         "Tilt down": ("tilt", -1), "Pedestal down": ("tilt", -1), "Zoom in": ("zoom", 1),
         "Push in": ("zoom", 1), "Zoom out": ("zoom", -1), "Pull out": ("zoom", -1)}


def expected(command: str, spec: Spec, segment: int) -> str:
    """The verdict the truth calls for: what the camera did in that segment."""
    move = spec.moves[segment]
    start = spec.seconds * segment / len(spec.moves)
    end = spec.seconds * (segment + 1) / len(spec.moves)
    if spec.flat or (spec.cut_at is not None and start <= spec.cut_at < end):
        return "unsure"  # the frames cannot tell: no texture, or the shot changes
    speeds = {"pan": move.pan, "tilt": move.tilt, "zoom": math.log(move.zoom)}
    still = not any(speeds.values()) and not spec.shake
    if command == "Static shot":
        return "match" if still else "mismatch"
    if command == "Shake":
        return "match" if spec.shake else "mismatch"
    if command == "Tracking shot":
        return "mismatch" if still else "unsure"
    axis, sign = _AXES[command]
    return "match" if speeds[axis] * sign > 0 else "mismatch"


@dataclass(frozen=True)
class Case:
    """A clip and the prompts asked of it; ``condition`` is the table's row."""

    condition: str
    spec: Spec
    prompts: tuple


def _groups(prompt: str) -> list[list[str]]:
    return [[c.strip() for c in g.split(",")] for g in re.findall(r"\[([^\]]*)\]", prompt)]


def expectations(case: Case, prompt: str) -> list[tuple[str, str]]:
    """(command, expected verdict) per bracketed command of ``prompt``, in order."""
    groups = _groups(prompt)
    if len(groups) not in (1, len(case.spec.moves)):
        raise ValueError(f"{prompt!r}: one group, or one per segment of {case.spec.name}")
    out = []
    for i, group in enumerate(groups):
        for command in group:
            segments = [i] if len(groups) > 1 else list(range(len(case.spec.moves)))
            verdicts = {expected(command, case.spec, s) for s in segments}
            out.append((command, verdicts.pop() if len(verdicts) == 1 else "mixed"))
    return out


L, R = -0.08, 0.08  # pan speeds in fractions of the width per second
CASES = (
    Case("moving subject, still camera", Spec("still_walker", subject=0.25),
         ("[Pan left]", "[Static shot]", "[Zoom in]", "[Tracking shot]", "[Truck left]")),
    Case("moving subject against the pan", Spec("pan_left_crossing", (Move(pan=L),),
                                                subject=0.3, photo="motorcycle_left.png"),
         ("[Pan left]", "[Pan right]", "[Static shot]", "[Zoom out]")),
    Case("moving subject, zoom out", Spec("zoom_out_walker", (Move(zoom=1 / 1.1),),
                                          subject=-0.2, photo="coffee.png",
                                          subject_photo="astronaut.png"),
         ("[Zoom out]", "[Pull out]", "[Zoom in]", "[Static shot]")),
    Case("big moving subject", Spec("big_walker_still", subject=0.3, subject_size=0.9),
         ("[Pan left]", "[Static shot]")),
    Case("big moving subject", Spec("big_walker_zoom_pan", (Move(pan=0.05, zoom=1.08),),
                                    subject=0.3, subject_size=0.8, noise=8),
         ("[Zoom in,Pan right]", "[Zoom out]", "[Pan left]")),
    Case("fast moves", Spec("fast_pan_left", (Move(pan=-0.4),), photo="coffee.png"),
         ("[Pan left]", "[Static shot]")),
    Case("fast moves", Spec("fast_zoom_out", (Move(zoom=1 / 1.35),), photo="rocket.jpg"),
         ("[Zoom out]", "[Zoom in]")),
    Case("tracking a subject", Spec("tracking", (Move(pan=R),), tracking=True),
         ("[Tracking shot]", "[Pan right]", "[Static shot]")),
    Case("parallax (a nearer layer 2x faster)",
         Spec("truck_right_parallax", (Move(pan=R),), parallax=2.0, photo="rocket.jpg"),
         ("[Truck right]", "[Pan right]", "[Truck left]", "[Static shot]", "[Zoom in]")),
    Case("parallax, tilt", Spec("pedestal_up_parallax", (Move(tilt=0.08),), parallax=1.7),
         ("[Pedestal up]", "[Pedestal down]", "[Static shot]", "[Zoom out]", "[Zoom in]")),
    Case("noise and flicker", Spec("pan_right_noisy", (Move(pan=0.06),), noise=18,
                                   flicker=0.15, photo="chelsea.png"),
         ("[Pan right]", "[Pan left]", "[Static shot]")),
    Case("noise and flicker, still", Spec("still_noisy", noise=18, flicker=0.15,
                                          photo="coffee.png"),
         ("[Static shot]", "[Zoom in]", "[Shake]")),
    Case("heavy compression", Spec("tilt_down_compressed", (Move(tilt=-0.08),),
                                   bitrate=40_000, photo="coffee.png"),
         ("[Tilt down]", "[Tilt up]", "[Static shot]")),
    Case("heavy compression, still", Spec("still_compressed", bitrate=40_000,
                                          photo="motorcycle_left.png"),
         ("[Static shot]", "[Pan left]", "[Push in]")),
    Case("shake", Spec("shake", shake=0.012), ("[Shake]", "[Static shot]", "[Pan left]")),
    Case("shake while panning", Spec("pan_left_handheld", (Move(pan=L),), shake=0.01,
                                     photo="rocket.jpg"),
         ("[Pan left,Shake]", "[Pan right]", "[Static shot]")),
    Case("slow moves", Spec("slow_pan_left", (Move(pan=-0.03),), photo="chelsea.png"),
         ("[Pan left]", "[Pan right]", "[Static shot]")),
    Case("slow moves", Spec("slow_zoom_in", (Move(zoom=1.04),)),
         ("[Zoom in]", "[Zoom out]", "[Static shot]")),
    Case("slow moves", Spec("slow_tilt_up_noisy", (Move(tilt=0.03),), noise=10,
                            photo="motorcycle_left.png"),
         ("[Tilt up]", "[Tilt down]")),
    Case("combined moves", Spec("pan_right_tilt_up", (Move(pan=R, tilt=0.06),), subject=0.2),
         ("[Pan right,Tilt up]", "[Pan right,Tilt down]", "[Zoom in,Pan right]")),
    Case("sequence", Spec("sequence", (Move(pan=L), Move(zoom=1.15), Move()), seconds=6.0,
                          subject=0.12),
         ("[Pan left] then [Zoom in] then [Static shot]",
          "[Pan right] then [Zoom out] then [Static shot]",
          "[Pan left] then [Static shot] then [Zoom in]")),
    Case("sequence", Spec("sequence_tilts", (Move(tilt=0.08), Move(tilt=-0.08)), seconds=4.0,
                          photo="coffee.png", noise=8),
         ("[Tilt up] then [Tilt down]", "[Tilt down] then [Tilt up]")),
    Case("camera stayed still", Spec("still", photo="rocket.jpg"),
         ("[Pan left]", "[Pan right]", "[Tilt up]", "[Pedestal down]", "[Zoom in]",
          "[Pull out]", "[Shake]", "[Static shot]")),
    Case("camera stayed still, subject walking, compressed",
         Spec("still_walker_compressed", subject=-0.3, bitrate=60_000,
              photo="chelsea.png", subject_photo="astronaut.png"),
         ("[Pan right]", "[Truck right]", "[Zoom in]", "[Static shot]")),
    Case("too little texture", Spec("flat_sky", (Move(pan=L),), flat=True, noise=1.0),
         ("[Pan left]", "[Static shot]")),
    Case("a cut", Spec("cut", (Move(pan=L),), cut_at=1.5), ("[Pan left]",)),
)
