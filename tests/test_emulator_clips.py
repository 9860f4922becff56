"""The emulator's rendered results: the asked duration and frame size, one cached render
per (commands, duration, quality), and camera motion that follows the documented
conventions (checked here by brute force, independently of the project's analyser).

Real HTTP to an ``Emulator(render=True)`` on 127.0.0.1; the clip cache is a fresh folder
for this module (``HAILUO_EMULATOR_CACHE``), so every clip here is rendered at least once.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import av
import numpy as np
import pytest
import requests

from hailuo_nb.emulator import Emulator, clips
from hailuo_nb.emulator.command import add_emulator_arguments, emulator_config
from hailuo_nb.emulator.media import SAMPLE_VIDEO

MODEL = "MiniMax-Hailuo-2.3"
TIMEOUT = 60  # a bound on every request (a cold 1080p render takes a few seconds)
FFPROBE = shutil.which("ffprobe") or "/usr/bin/ffprobe"
SIZES = {"768p": (1366, 768), "1080p": (1920, 1080)}


@pytest.fixture(scope="module", autouse=True)
def clip_cache(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clip-cache")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HAILUO_EMULATOR_CACHE", str(folder))
        yield folder


@pytest.fixture
def render_emu(emulator_factory):
    return emulator_factory(render=True)


def finished(emu: Emulator, key: str, prompt: str, **fields) -> tuple[str, str]:
    """Submit, wait for completion; (task id, result URL)."""
    body = {"model": MODEL, "prompt": prompt, **fields}
    r = requests.post(f"{emu.base_url}/v1/videos/generations", json=body,
                      headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT)
    assert r.status_code == 200, r.text
    task_id = r.json()["id"]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        view = requests.get(f"{emu.base_url}/v1/tasks/{task_id}",
                            headers={"Authorization": f"Bearer {key}"}, timeout=TIMEOUT).json()
        if view["status"] in ("completed", "failed"):
            assert view["status"] == "completed", view
            return task_id, view["results"][0]
        time.sleep(0.05)
    raise AssertionError(f"task {task_id} did not finish")


def download(url: str, path: Path) -> Path:
    r = requests.get(url, timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:200]
    assert r.headers["Content-Type"] == "video/mp4"
    assert int(r.headers["Content-Length"]) == len(r.content)
    path.write_bytes(r.content)
    return path


def probe(path: Path) -> dict:
    if not os.path.exists(FFPROBE):
        pytest.skip("ffprobe is not installed")
    out = subprocess.run(
        [FFPROBE, "-v", "error", "-show_entries", "stream=width,height,duration", "-of", "json",
         str(path)], capture_output=True, text=True, timeout=60, check=True)
    (stream,) = json.loads(out.stdout)["streams"]
    return stream


# ---------------------------------------------------------------------------- the cells


@pytest.mark.slow
@pytest.mark.parametrize(("quality", "duration"), [("768p", 6), ("768p", 10), ("1080p", 6)])
def test_the_served_clip_has_the_asked_duration_and_frame_size(render_emu, api_key, tmp_path,
                                                               quality, duration):
    prompt = f"A kite over dunes [Pan left,Pedestal up] then [Zoom in] ({quality}/{duration})"
    task_id, url = finished(render_emu, api_key, prompt, quality=quality, duration=duration)
    # Several downloads at once, perhaps while it is still rendering: all whole and equal.
    with ThreadPoolExecutor(3) as pool:
        bodies = list(pool.map(lambda _: requests.get(url, timeout=TIMEOUT).content, range(3)))
    assert len(set(bodies)) == 1
    video = download(url, tmp_path / "result.mp4")
    assert video.read_bytes() == bodies[0] == render_emu.result_path(task_id).read_bytes()
    assert video.read_bytes() != SAMPLE_VIDEO.read_bytes()
    stream = probe(video)
    assert (stream["width"], stream["height"]) == SIZES[quality]
    assert abs(float(stream["duration"]) - duration) <= 0.15, stream
    # HEAD and a byte range are served from the same finished file.
    head = requests.head(url, timeout=TIMEOUT)
    assert int(head.headers["Content-Length"]) == len(bodies[0])
    part = requests.get(url, headers={"Range": "bytes=100-199"}, timeout=TIMEOUT)
    assert part.status_code == 206 and part.content == bodies[0][100:200]


@pytest.mark.slow
def test_the_same_commands_reuse_one_cached_render(render_emu, api_key, tmp_path, clip_cache):
    first_id, first_url = finished(render_emu, api_key, "A red fox [Tilt down], then [Shake]")
    first = download(first_url, tmp_path / "one.mp4")
    cached = render_emu.result_path(first_id)
    assert cached.parent == clip_cache
    stamp = cached.stat().st_mtime_ns, cached.stat().st_ino
    # Other words, other case and spacing, same commands: the same file, not rendered again.
    second_id, second_url = finished(render_emu, api_key, "A grey wolf [tilt   DOWN] and [shake]")
    second = download(second_url, tmp_path / "two.mp4")
    assert render_emu.result_path(second_id) == cached
    assert (cached.stat().st_mtime_ns, cached.stat().st_ino) == stamp
    assert first.read_bytes() == second.read_bytes()
    assert clips.clip_for("[Tilt down] [Shake]") == cached
    # Other commands, another duration or another quality: other files.
    assert clips.clip_path([["Tilt down"], ["Shake"]], 10, "768p") != cached
    assert clips.clip_path([["Tilt down"], ["Shake"]], 6, "1080p") != cached
    assert clips.clip_path([["Tilt down"]], 6, "768p") != cached
    assert not list(clip_cache.glob(".*.tmp"))  # no temporary file left behind


def test_a_configured_video_file_or_render_off_serves_one_file(emulator_factory, api_key,
                                                                tmp_path):
    video = tmp_path / "mine.mp4"
    video.write_bytes(SAMPLE_VIDEO.read_bytes() + b"\x00mine")
    emu = emulator_factory(render=True, video_path=str(video))
    _, url = finished(emu, api_key, "A boat [Pan right]")
    assert requests.get(url, timeout=TIMEOUT).content == video.read_bytes()
    plain = emulator_factory()  # the tests' default: render=False
    assert plain.config.render is False
    _, url = finished(plain, api_key, "A boat [Pan right]")
    assert requests.get(url, timeout=TIMEOUT).content == plain.video_bytes
    assert Emulator().config.render is True  # the emulator's own default


def test_the_command_line_can_turn_rendering_off():
    parser = add_emulator_arguments(argparse.ArgumentParser())
    assert emulator_config(parser.parse_args([]))["render"] is True
    assert emulator_config(parser.parse_args(["--no-render"]))["render"] is False


# ---------------------------------------------------------------------------- parsing


@pytest.mark.parametrize(
    ("prompt", "groups"),
    [
        ("[Pan left,Pedestal up] then [Zoom in]", [["Pan left", "Pedestal up"], ["Zoom in"]]),
        ("A cat sleeps.", []),
        ("", []),
        ("[  zoom   OUT , tracking shot ]", [["Zoom out", "Tracking shot"]]),
        ("[Pan left, wobble] [sic] [1] [] [Static shot]", [["Pan left"], ["Static shot"]]),
        ("unclosed [Pan left and [Tilt up] ] [Shake", [["Tilt up"]]),
        ("[Push in][Pull out][Truck right,Truck left]",
         [["Push in"], ["Pull out"], ["Truck right", "Truck left"]]),
    ],
)
def test_parse_commands(prompt, groups):
    assert clips.parse_commands(prompt) == groups


def test_the_emulator_knows_the_fifteen_commands():
    assert len(set(clips.COMMANDS)) == 15
    for name in clips.COMMANDS:
        assert clips.parse_commands(f"[{name.upper()}]") == [[name]]


# ---------------------------------------------------------------------------- motion


def grey_frames(path: Path, wanted: set[int]) -> dict[int, np.ndarray]:
    """Frames by index, grey, shrunk 4 times by block averaging."""
    out = {}
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                out[index] = shrink(frame.to_ndarray(format="gray").astype(np.float32), 4)
            if len(out) == len(wanted):
                break
    return out


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    h, w = image.shape[0] // factor * factor, image.shape[1] // factor * factor
    return image[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def search(a: np.ndarray, b: np.ndarray, xs, ys) -> tuple[int, int]:
    """The (dx, dy) among ``xs`` and ``ys`` that best maps ``a`` onto ``b``
    (b[y, x] ≈ a[y - dy, x - dx]), by mean absolute difference over the overlap."""
    h, w = a.shape
    best, where = np.inf, (0, 0)
    for dy in ys:
        for dx in xs:
            moved = b[max(0, dy):h + min(0, dy), max(0, dx):w + min(0, dx)]
            source = a[max(0, -dy):h - max(0, dy), max(0, -dx):w - max(0, dx)]
            error = float(np.mean(np.abs(moved - source)))
            if error < best:
                best, where = error, (dx, dy)
    return where


def best_shift(a: np.ndarray, b: np.ndarray) -> tuple[int, int]:
    """How far the content of ``a`` moved to land in ``b`` (px, right and down positive):
    every shift up to a fifth of the frame on an image 2 times smaller, then refined."""
    small_a, small_b = shrink(a, 2), shrink(b, 2)
    h, w = small_a.shape
    cx, cy = search(small_a, small_b, range(-(w // 5), w // 5 + 1), range(-(h // 5), h // 5 + 1))
    return search(a, b, range(2 * cx - 2, 2 * cx + 3), range(2 * cy - 2, 2 * cy + 3))


@pytest.mark.parametrize(
    ("prompt", "expected"),
    [
        ("A lighthouse [Pan left]", (clips.PAN, 0.0)),  # the content moves RIGHT
        ("A lighthouse [Pedestal down]", (0.0, -clips.PAN)),  # the content moves UP
        ("A lighthouse [Static shot]", (0.0, 0.0)),
    ],
)
@pytest.mark.slow
def test_the_content_moves_as_the_command_promises(render_emu, api_key, tmp_path, prompt,
                                                   expected):
    _, url = finished(render_emu, api_key, prompt)
    video = download(url, tmp_path / "motion.mp4")
    fps = clips.FPS
    frames = grey_frames(video, {fps, 2 * fps})  # t = 1 s and t = 2 s
    a, b = frames[fps], frames[2 * fps]
    h, w = a.shape
    dx, dy = best_shift(a, b)
    want_x, want_y = expected[0] * w, expected[1] * h  # per second, in shrunk pixels
    assert abs(dx - want_x) <= max(2.0, 0.15 * abs(want_x)), (dx, want_x)
    assert abs(dy - want_y) <= max(2.0, 0.15 * abs(want_y)), (dy, want_y)
