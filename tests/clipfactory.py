"""Clips whose defects are known, made with PyAV from a real photograph (matplotlib ships
Grace Hopper's portrait in its sample data): real texture, deterministic content.

``make_clip(path, seconds, fps, ...)`` writes an H.264 MP4 (CRF 16, every frame kept) of a
window on the photo. Options say what is true of it:

- ``pan``: the content's speed in px per second (x, y) in output pixels;
- ``subject``: a bright patch (a tenth of the frame wide) that crosses the frame, so a
  clip with a still camera is alive; ``noise``: the sensor's grain (grey levels, seeded);
- ``black``: [(start, end)] seconds of pure black frames;
- ``frozen``: [(start, end)] seconds during which the frame shown at ``start`` is held
  (``end - start`` seconds of identical frames);
- ``flicker``: brightness alternating by ± this many grey levels frame to frame;
- ``blur``: a box blur of this radius (px).
"""

from __future__ import annotations

from fractions import Fraction
from functools import lru_cache
from pathlib import Path

import av
import numpy as np
import pytest

SIZE = (480, 288)  # width, height of the made clips: 256 px short side after the 0.89 scale


@lru_cache(maxsize=1)
def photo() -> np.ndarray:
    """Grace Hopper's portrait as an RGB float array, tiled twice each way (a scene to pan)."""
    cbook = pytest.importorskip("matplotlib.cbook")
    with cbook.get_sample_data("grace_hopper.jpg") as handle:
        path = handle.name
    with av.open(path) as container:
        image = next(container.decode(video=0)).to_ndarray(format="rgb24").astype(np.float32)
    tiled = np.concatenate([image, image[:, ::-1]], axis=1)
    return np.concatenate([tiled, tiled[::-1]], axis=0)


def _blur(image: np.ndarray, radius: int) -> np.ndarray:
    out = image.copy()
    for axis in (0, 1):
        acc = np.zeros_like(out)
        for offset in range(-radius, radius + 1):
            acc += np.roll(out, offset, axis=axis)
        out = acc / (2 * radius + 1)
    return out


def _within(t: float, spans) -> tuple[float, float] | None:
    for start, end in spans or ():
        if start - 1e-9 <= t < end - 1e-9:
            return start, end
    return None


def make_clip(path, seconds: float = 4.0, fps: int = 12, *, pan=(0.0, 0.0), subject=True,
              noise: float = 1.5, black=(), frozen=(), flicker: float = 0.0, blur: int = 0,
              seed: int = 7) -> Path:
    scene = photo()
    width, height = SIZE
    rng = np.random.default_rng(seed)
    count = round(seconds * fps)
    path = Path(path)
    frames_at: dict[int, np.ndarray] = {}

    def frames():
        for n in range(count):
            t = n / fps
            held = _within(t, frozen)
            if held is not None and round(held[0] * fps) < n:
                image = frames_at[round(held[0] * fps)]
            elif _within(t, black) is not None:
                image = np.zeros((height, width, 3), np.uint8)
            else:
                x0 = round(40 - pan[0] * t) % (scene.shape[1] - width)
                y0 = round(40 - pan[1] * t) % (scene.shape[0] - height)
                image = scene[y0:y0 + height, x0:x0 + width].copy()
                if subject:
                    side = width // 10
                    left = int((width - side) * ((t / max(seconds, 1e-9)) % 1.0))
                    top = (height - side) // 2
                    image[top:top + side, left:left + side] = (250, 220, 30)
                    image[top + 4:top + side - 4, left + 4:left + side - 4:6] = (40, 40, 40)
                if blur:
                    image = _blur(image, blur)
                if flicker:
                    image = image + (flicker if n % 2 else -flicker)
                if noise:
                    image = image + rng.normal(0, noise, image.shape)
                image = np.clip(image, 0, 255).astype(np.uint8)
            frames_at[n] = image
            yield image

    return write_clip(path, frames(), fps)


def write_clip(path, images, fps: int = 12) -> Path:
    """Encode RGB frames (uint8 arrays of SIZE) as an H.264 MP4 at ``fps``, one per frame."""
    path = Path(path)
    width, height = SIZE
    with av.open(str(path), "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.time_base = Fraction(1, fps)
        stream.options = {"preset": "ultrafast", "crf": "16"}
        for n, image in enumerate(images):
            frame = av.VideoFrame.from_ndarray(image, format="rgb24")
            frame.pts = n
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
