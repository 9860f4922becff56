"""Clip quality measured against known truth: clips made from a real photograph with a black
second, a frozen second, a known flicker, known stillness and motion (tests/clipfactory.py),
and clean clips that must raise no alarm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from clipfactory import SIZE, make_clip, photo, write_clip

import hailuo_nb
from hailuo_nb._media import quality
from hailuo_nb.errors import FrameError

FPS = 12
FRAME = 1 / FPS


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    folder = tmp_path_factory.mktemp("clips")
    return {
        "clean": make_clip(folder / "clean.mp4"),
        "clean_pan": make_clip(folder / "clean_pan.mp4", pan=(90, 0)),
        "black": make_clip(folder / "black.mp4", black=[(1.0, 2.0)]),
        "frozen": make_clip(folder / "frozen.mp4", frozen=[(2.0, 3.0)]),
        "flicker": make_clip(folder / "flicker.mp4", flicker=6, subject=False, noise=0),
        "still": make_clip(folder / "still.mp4", subject=False),
        "blurred": make_clip(folder / "blurred.mp4", blur=3),
    }


def report(path):
    return quality.quality_report(path, cache=False)


def test_a_black_second_is_found_within_a_frame(clips):
    r = report(clips["black"])
    assert r.black_seconds == pytest.approx(1.0, abs=FRAME)
    (start, end), = r.black_at
    assert start == pytest.approx(1.0, abs=FRAME) and end == pytest.approx(2.0, abs=FRAME)
    assert r.frozen_seconds == 0  # black is not frozen
    assert "black for 1.00 s" in r.black_line()


def test_a_frozen_second_is_found_within_a_frame(clips):
    r = report(clips["frozen"])
    assert r.frozen_seconds == pytest.approx(1.0, abs=FRAME)
    (start, _end), = r.frozen_at
    assert start == pytest.approx(2.0, abs=FRAME)
    assert r.black_seconds == 0
    assert r.frozen_line().startswith("frozen for 1.0")


def test_flicker_reads_as_vbench_defines_it(clips):
    """Brightness alternating by ±6 grey levels: |frame(t) - frame(t+1)| = 12 everywhere
    (a little less where the photo clips at 0 or 255): (255 - 12) / 255 = 0.953."""
    truth = 1 - 12 / 255
    r = report(clips["flicker"])
    assert r.flicker is not None
    assert 1 - r.flicker == pytest.approx(1 - truth, rel=0.10)
    assert r.flicker_line().startswith("flickers")


def test_clean_clips_raise_no_alarm(clips):
    for name in ("clean", "clean_pan", "still"):
        r = report(clips[name])
        assert r.black_seconds == 0 and r.black_at == [], name
        assert r.frozen_seconds == 0 and r.frozen_at == [], name
        assert r.flicker is None or r.flicker > 0.985, (name, r.flicker)
        assert r.sharpness > quality.SOFT, (name, r.sharpness)
        assert "no black stretch" in r.lines() and "never frozen" in r.lines()


def test_stillness_and_motion_as_a_share_of_frame_pairs(clips, tmp_path):
    """A still camera reads 0; a pan well above VBench's threshold reads 1; a clip that is
    still for its first half and pans in its second reads one half."""
    assert report(clips["still"]).motion == 0.0
    assert report(clips["clean_pan"]).motion == pytest.approx(1.0, abs=0.1)
    # still for 2 s, then the content moves 90 px/s to the left for 2 s
    moving = _still_then_pan(tmp_path / "still_then_pan.mp4")
    r = report(moving)
    assert r.motion == pytest.approx(0.5, abs=0.1)
    assert "move" in r.motion_line()


def _still_then_pan(path):
    scene = photo()
    width, height = SIZE
    rng = np.random.default_rng(3)

    def frames():
        for n in range(4 * FPS):
            x0 = 40 + round(max(0.0, n / FPS - 2.0) * 90)
            image = scene[40:40 + height, x0:x0 + width] + rng.normal(0, 1.5, (height, width, 3))
            yield np.clip(image, 0, 255).astype(np.uint8)

    return write_clip(path, frames(), FPS)


@pytest.mark.parametrize("dx, dy", [(0, 0), (2, 0), (0, 3), (5, -4), (1.5, 0), (-7, 2)])
def test_block_matching_measures_true_displacement(dx, dy):
    """Calibration: the top-5 % motion of a shifted photo is its shift (±0.35 px), so
    VBench's threshold in pixels means the same here as with optical flow."""
    grey = photo().mean(axis=2)
    for axis in (0, 1):  # low-passed before sampling every 3rd px, as a camera's optics do
        grey = sum(np.roll(grey, k, axis=axis) for k in (-1, 0, 1)) / 3
    h, w = 128, 213
    ys, xs = np.arange(h)[:, None] * 3 + 100.0, np.arange(w)[None, :] * 3 + 100.0
    base = _bilinear(grey, ys, xs)
    moved = _bilinear(grey, ys - dy * 3, xs - dx * 3)  # content moved by (dx, dy) px
    measured = quality.top_motion(quality.block_shifts(base, moved))
    assert measured == pytest.approx(np.hypot(dx, dy), abs=0.35)


def _bilinear(image, ys, xs):
    y0, x0 = np.floor(ys).astype(int), np.floor(xs).astype(int)
    fy, fx = ys - y0, xs - x0
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)


def test_sharpness_falls_with_blur(clips):
    sharp, blurred = report(clips["clean"]), report(clips["blurred"])
    assert blurred.sharpness < sharp.sharpness / 5
    assert blurred.sharpness_line().startswith("blurry") and sharp.sharpness_line() \
        .startswith("sharp")


def test_the_report_is_kept_in_the_sidecar_and_redone_when_the_file_changes(clips, tmp_path):
    video = tmp_path / "take.mp4"
    video.write_bytes(clips["black"].read_bytes())
    (tmp_path / "take.json").write_text(json.dumps({"task_id": "t-1", "sha256": "x"}))
    first = hailuo_nb.quality_report(video)
    sidecar = json.loads((tmp_path / "take.json").read_text())
    assert sidecar["task_id"] == "t-1"  # the download's provenance is kept
    assert sidecar["quality"]["black_seconds"] == first.black_seconds
    assert sidecar["quality"]["sha256"] == first.sha256
    # read back, not measured again: a planted value shows which one answers
    sidecar["quality"]["sharpness"] = 12345.0
    (tmp_path / "take.json").write_text(json.dumps(sidecar))
    assert hailuo_nb.quality_report(video).sharpness == 12345.0
    # the file changes: measured again
    video.write_bytes(clips["frozen"].read_bytes())
    again = hailuo_nb.quality_report(video)
    assert again.sha256 != first.sha256 and again.black_seconds == 0
    assert again.frozen_seconds == pytest.approx(1.0, abs=FRAME)
    assert json.loads((tmp_path / "take.json").read_text())["quality"]["sha256"] == again.sha256


def test_a_video_without_a_sidecar_gets_one(clips, tmp_path):
    video = tmp_path / "lone.mp4"
    video.write_bytes(clips["clean"].read_bytes())
    r = hailuo_nb.quality_report(video)
    assert json.loads((tmp_path / "lone.json").read_text())["quality"]["motion"] == r.motion


def test_a_json_file_of_another_kind_is_left_alone(clips, tmp_path):
    video = tmp_path / "clip.mp4"
    video.write_bytes(clips["clean"].read_bytes())
    (tmp_path / "clip.json").write_text("[1, 2, 3]")
    assert hailuo_nb.quality_report(video).black_seconds == 0
    assert (tmp_path / "clip.json").read_text() == "[1, 2, 3]"


def test_words_for_the_record(clips):
    r = report(clips["black"])
    assert len(r.lines()) == 5 and all("\n" not in line for line in r.lines())
    assert r.summary.startswith("black for 1.00 s")
    assert "Quality of black.mp4" in repr(r) and r.text == "; ".join(r.lines())


def test_not_a_video_is_one_line(tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with pytest.raises(FrameError) as info:
        hailuo_nb.quality_report(bad)
    assert "\n" not in str(info.value)
    with pytest.raises(FrameError, match="no such file"):
        hailuo_nb.quality_report(tmp_path / "missing.mp4")
