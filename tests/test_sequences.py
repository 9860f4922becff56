"""Shots that follow each other, joined, and checked for the camera motion they asked for.

Against an emulator that renders clips of the asked size and duration, moving its camera
as the prompt's bracketed commands say (hailuo_nb/emulator/clips.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from waiting import eventually

import hailuo_nb
from hailuo_nb._media.camera_motion import camera_report

FFPROBE = shutil.which("ffprobe")


def probe(path) -> dict:
    out = subprocess.run([FFPROBE, "-v", "error", "-show_entries",
                          "format=duration:stream=width,height", "-of", "json", str(path)],
                         capture_output=True, text=True, check=True).stdout
    data = json.loads(out)
    return {"duration": float(data["format"]["duration"]), **data["streams"][0]}


@pytest.fixture
def studio(emulator_factory, api_key):
    emu = emulator_factory(render=True, task_seconds=0.3)
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        emu.client = client  # type: ignore[attr-defined]
        yield emu


@pytest.mark.slow
@pytest.mark.skipif(FFPROBE is None, reason="needs ffprobe (Debian's ffmpeg)")
def test_three_shots_chained_and_stitched(studio, tmp_path):
    first = hailuo_nb.generate("A harbour at dawn [Pan left]", client=studio.client, wait=True)
    second = first.continue_with("The boats leave [Zoom in]")
    second.wait(120)
    third = second.continue_with("Out to sea [Pedestal up]", model="fast")
    third.wait(120)
    assert (second.parent_id, third.parent_id) == (first.id, second.id)
    assert studio.task(third.id)["body"]["model"] == "MiniMax-Hailuo-2.3-Fast"
    assert studio.task(second.id)["body"]["image_urls"], "the last frame was sent as the image"
    rows = {row["task_id"]: row for row in hailuo_nb.history()}
    assert rows[third.id]["parent_id"] == second.id and rows[second.id]["parent_id"] == first.id
    sidecar = json.loads(Path(third.local_path).with_suffix(".json").read_text())
    assert sidecar["parent_task_id"] == second.id

    joined = hailuo_nb.stitch([first, second, third], tmp_path / "sequence.mp4")
    parts = [probe(t.local_path)["duration"] for t in (first, second, third)]
    assert probe(joined)["duration"] == pytest.approx(sum(parts), abs=0.2)
    listed = json.loads(joined.with_suffix(".json").read_text())
    assert [p["task_id"] for p in listed["parts"]] == [first.id, second.id, third.id]


@pytest.mark.slow
def test_stitch_refuses_clips_that_differ_unless_asked(studio, tmp_path):
    small = hailuo_nb.generate("a kite [Static shot]", client=studio.client, wait=True)
    big = hailuo_nb.generate("a kite [Static shot]", quality="1080p", client=studio.client,
                             wait=True)
    with pytest.raises(hailuo_nb.ValidationError, match="reencode=True"):
        hailuo_nb.stitch([small, big], tmp_path / "x.mp4")
    assert not (tmp_path / "x.mp4").exists()
    joined = hailuo_nb.stitch([small, big], tmp_path / "x.mp4", reencode=True)
    assert joined.exists()


def test_continue_with_needs_a_finished_video(client, emulator):
    task = hailuo_nb.generate("not yet [Pan left]", client=client)
    with pytest.raises(hailuo_nb.ValidationError, match="wait for it"):
        task.continue_with("next")


SINGLES = ["Truck left", "Truck right", "Pan left", "Pan right", "Push in", "Pull out",
           "Pedestal up", "Pedestal down", "Tilt up", "Tilt down", "Zoom in", "Zoom out",
           "Shake", "Tracking shot", "Static shot"]


@pytest.mark.slow
def test_the_camera_check_names_the_motion_of_each_command(studio):
    tasks = {c: hailuo_nb.generate(f"a test scene [{c}]", client=studio.client)
             for c in SINGLES}
    hailuo_nb.wait_all(tasks.values(), timeout=300)
    verdicts = {c: t.camera_report().rows[0].verdict for c, t in tasks.items()}
    right = [c for c, v in verdicts.items() if v == "match"]
    wrong = [c for c, v in verdicts.items() if v == "mismatch"]
    assert len(right) >= 13, verdicts
    assert not wrong, verdicts  # what it cannot tell it says "unsure"
    # the same as data in the record (the analysis lane's, after the download), and a score
    eventually(lambda: tasks["Pan left"].analysis_state == "done", "the lane measured it", 120)
    report = tasks["Pan left"].camera
    assert report is not None and report.score == 1.0


def test_combinations_and_sequences(studio):
    task = hailuo_nb.generate("a scene [Pan left,Pedestal up] then [Zoom in]",
                              client=studio.client, wait=True)
    report = camera_report(task.local_path, task.prompt)
    assert [r.command for r in report.rows] == ["Pan left", "Pedestal up", "Zoom in"]
    assert [r.verdict for r in report.rows] == ["match", "match", "match"], report
    assert 0 < report.rows[0].end <= report.rows[2].start + 0.01


def _clip(path: Path, width: int, height: int, fps: int, seconds: float) -> Path:
    """A plain clip made here: ``fps`` frames a second for ``seconds``."""
    import av
    import numpy as np

    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(int(fps * seconds)):
            image = np.full((height, width, 3), (i * 9) % 255, dtype=np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _seconds(path: Path) -> float:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base)


def test_a_reencoded_stitch_keeps_each_part_s_duration(tmp_path):
    small = _clip(tmp_path / "small.mp4", 320, 240, 12, 2.0)
    big = _clip(tmp_path / "big.mp4", 640, 480, 12, 2.0)
    joined = hailuo_nb.stitch([small, big], tmp_path / "out" / "joined.mp4", reencode=True)
    assert _seconds(joined) == pytest.approx(4.0, abs=0.15)
    listed = json.loads(joined.with_suffix(".json").read_text())
    assert listed["duration"] == pytest.approx(4.0, abs=0.15)
    assert [p["duration"] for p in listed["parts"]] == pytest.approx([2.0, 2.0], abs=0.1)


def test_a_stitch_and_its_sidecar_are_the_user_s_files(tmp_path):
    import os
    import stat

    first = _clip(tmp_path / "a.mp4", 320, 240, 12, 1.0)
    second = _clip(tmp_path / "b.mp4", 320, 240, 12, 1.0)
    old = os.umask(0o022)
    try:
        joined = hailuo_nb.stitch([first, second], tmp_path / "out" / "joined.mp4")
    finally:
        os.umask(old)
    sidecar = joined.with_suffix(".json")
    assert stat.S_IMODE(joined.stat().st_mode) == 0o644  # as a colleague's copy would be
    assert stat.S_IMODE(sidecar.stat().st_mode) == 0o644
    parts = [p["file"] for p in json.loads(sidecar.read_text())["parts"]]
    assert parts == ["../a.mp4", "../b.mp4"]  # relative to the sidecar: the folder can move
