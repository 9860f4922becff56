"""Sweeps end to end over real HTTP: the emulator told to ignore camera commands or to spoil
its clips, the analysis lane that never holds a download, compare() and export() read back."""

from __future__ import annotations

import csv
import hashlib
import json
import os
import sys
import threading
from pathlib import Path

import pytest
import requests
from waiting import eventually

import hailuo_nb
from hailuo_nb._engine import analysis
from hailuo_nb._media.camera_motion import camera_report, camera_table
from hailuo_nb._presentation.handover import redraw_when_analysed
from hailuo_nb._presentation.records import record_text
from hailuo_nb.emulator import configure_at, is_emulator

FRAME = 1 / 12  # the emulator renders 12 fps
TIMEOUT = 10
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def studio(emulator_factory, api_key, tmp_path):
    """An emulator that renders clips per request, and a client on it."""
    emu = emulator_factory(render=True, task_seconds=0.2, ignore_camera_words=("stubborn",))
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url,
                          files_url=emu.files_url) as client:
        yield emu, client, tmp_path / "videos"


def make(studio, prompt, **options):
    _emu, client, folder = studio
    return hailuo_nb.generate(prompt, client=client, download_dir=str(folder), **options)


def emulator_task(emu, task_id) -> dict:
    return requests.get(f"{emu.base_url}/_emulator/tasks/{task_id}", timeout=TIMEOUT).json()


def analysed(tasks) -> None:
    eventually(lambda: all(t.analysis_state == "done" for t in tasks), "the lane measured them",
               guard=300)


# -- the emulator's controls --------------------------------------------------------------


def test_a_prompt_with_a_told_word_ignores_its_camera_command(studio):
    emu = studio[0]
    obeyed, ignored = make(studio, "a fox in snow [Pan left]"), \
        make(studio, "a stubborn fox in snow [Pan left]")
    hailuo_nb.wait_all([obeyed, ignored])
    assert emulator_task(emu, obeyed.id)["ignored_camera"] is None
    assert emulator_task(emu, ignored.id)["ignored_camera"] == "static"
    assert camera_report(obeyed.local_path, obeyed.prompt).rows[0].verdict == "match"
    row = camera_report(ignored.local_path, ignored.prompt).rows[0]
    assert row.seen == "static" and row.verdict != "match"  # never certified as followed


def test_the_opposite_move_for_a_share_of_tasks(studio):
    emu = studio[0]
    emu.configure(ignore_camera="opposite", ignore_camera_rate=1.0)
    task = make(studio, "a kite [Tilt up]").wait()
    assert emulator_task(emu, task.id)["ignored_camera"] == "opposite"
    row = camera_report(task.local_path, task.prompt).rows[0]
    assert "down" in row.seen and row.verdict == "mismatch"


def test_black_and_frozen_stretches_are_rendered_and_found(studio):
    emu = studio[0]
    emu.configure(black_seconds=1.0, frozen_seconds=1.0)
    spoiled = make(studio, "a harbour at dusk [Pan left]")
    emu.configure(black_seconds=0, frozen_seconds=0)  # fixed per task when it is created
    clean = make(studio, "a harbour at dusk [Pan right]")
    hailuo_nb.wait_all([spoiled, clean])
    assert emulator_task(emu, spoiled.id)["black_seconds"] == 1.0
    report = spoiled.quality()
    assert report.black_seconds == pytest.approx(1.0, abs=FRAME)
    assert report.black_at[0][0] == pytest.approx(0.0, abs=FRAME)
    assert report.frozen_seconds == pytest.approx(1.0, abs=FRAME)
    assert report.frozen_at[0][0] == pytest.approx(3.0, abs=FRAME)  # the middle of 6 s
    fine = clean.quality()
    assert fine.black_seconds == 0 and fine.frozen_seconds == 0 and fine.motion > 0.9


def test_the_controls_refuse_bad_values_in_one_line(studio):
    emu = studio[0]
    for bad in ({"ignore_camera": "sideways"}, {"black_seconds": -1},
                {"ignore_camera_rate": 2}):
        answer = requests.post(f"{emu.base_url}/_emulator/config", json=bad, timeout=TIMEOUT)
        assert answer.status_code == 400, bad
        assert "\n" not in answer.json()["error"]
    assert is_emulator(emu.base_url) and not is_emulator("http://127.0.0.1:9/")
    config = configure_at(emu.base_url, ignore_camera_words=["mulish"])
    assert config["ignore_camera_words"] == ["mulish"] and "api_keys" in config
    with pytest.raises(ValueError, match="ignore_camera"):
        configure_at(emu.base_url, ignore_camera="sideways")


# -- the analysis lane --------------------------------------------------------------------


class _Blocker:
    """Stands in the analysis queue until released: the lane is busy with it."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.analysis_state = ""
        self.camera = None

    @property
    def local_path(self):
        self.entered.set()
        self.release.wait()
        return None


class _Output:
    """Stands for a display handle: what update() was given, in order."""

    def __init__(self) -> None:
        self.drawn: list = []

    def update(self, obj, raw: bool = False) -> None:
        self.drawn.append(obj)


def test_downloads_never_wait_for_the_analysis(studio):
    blocker = _Blocker()
    analysis.get_analyst().enqueue(blocker)
    try:
        blocker.entered.wait()
        task = make(studio, "a lighthouse [Push in]").wait()  # settles while the lane is busy
        assert task.download_state == "done" and os.path.exists(task.local_path)
        assert task.stills is not None
        assert task.analysis_state == "waiting" and task.clip_quality is None
        assert "being measured" in record_text(task)  # the record says it is coming
        output = _Output()  # the record's place in the notebook, drawn again when measured
        redraw_when_analysed([task], output, lambda: record_text(task))
        assert output.drawn == []
    finally:
        blocker.release.set()
    analysed([task])
    eventually(lambda: output.drawn, "the record drawn again")
    assert "being measured" not in output.drawn[-1] and "quality:" in output.drawn[-1]
    assert task.camera is not None and task.clip_quality is not None
    assert task.quality() is task.clip_quality  # not measured twice
    assert task.clip_quality.summary in record_text(task)
    sidecar = json.loads(Path(task.local_path).with_suffix(".json").read_text())
    assert sidecar["quality"]["sha256"] == sidecar["sha256"]  # the same bytes were measured


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice: Linux")
def test_the_lane_is_one_thread_at_the_lowest_priority(studio):
    analysed([make(studio, "a meadow [Static shot]").wait()])
    lanes = [t for t in threading.enumerate() if t.name == "hailuo-analysis"]
    assert len(lanes) == 1
    assert os.getpriority(os.PRIO_PROCESS, lanes[0].native_id) == analysis.NICENESS
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) < analysis.NICENESS


def test_analysis_can_be_switched_off(studio):
    hailuo_nb.settings.auto_analyse = False
    task = make(studio, "a river [Pan right]").wait()
    assert task.analysis_state == "" and task.camera is None
    assert task.quality().motion > 0.9  # on demand, in the caller's thread


# -- compare and export -------------------------------------------------------------------

SWEEP = ["Pan left", "Zoom in", "Static shot"]


@pytest.fixture
def sweep(studio):
    tasks = [make(studio, f"{subject} <b>harbour</b> [{command}]")
             for command in SWEEP for subject in ("a", "a")]
    tasks.append(make(studio, "a stubborn <b>harbour</b> [Pan left]"))
    tasks.append(make(studio, "an nsfw harbour [Pan left]"))  # refused by the service
    hailuo_nb.wait_all(tasks)
    analysed([t for t in tasks if t.status == "completed"])
    return tasks


def test_compare_labels_takes_by_what_varies(sweep, tmp_path):
    table = hailuo_nb.compare(sweep)
    labels = [row["label"] for row in table.rows]
    assert len(set(labels)) == len(labels)
    assert labels[0] == "camera=Pan left · subject=a <b>harbour</b> · take 1"
    assert labels[1].endswith("take 2") and not any(t.id in "".join(labels) for t in sweep)
    first, failed = table.rows[0], table.rows[-1]
    assert first["status"] == "completed" and first["credits"] == 20.0
    assert first["verdicts"] == "match" and first["camera_x"][0] > 0.05  # content moves right
    assert first["motion"] > 0.9 and first["black_seconds"] == 0 and first["file"]
    assert failed["status"] == "failed" and "policy" in failed["error"].lower()
    assert failed["file"] is None and failed["motion"] is None
    stubborn = table.rows[-2]
    assert stubborn["seen"] == "static" and stubborn["verdicts"] != "match"
    assert json.loads(json.dumps(table.rows)) == table.rows  # plain values, ready to keep
    follow = table.follow_rate()
    assert follow["Pan left"]["match"] == 2 and sum(follow["Pan left"].values()) == 3
    # the same numbers in every format
    with table.to_csv(tmp_path / "sweep.csv").open(encoding="utf-8") as handle:
        back = list(csv.DictReader(handle))
    assert [r["label"] for r in back] == labels and float(back[0]["motion"]) == first["motion"]
    page = table._repr_html_()
    assert "<b>harbour" not in page and "&lt;b&gt;harbour&lt;/b&gt;" in page
    assert "task-unified" not in page.split("<tbody>")[0]
    frame = table.to_dataframe()
    assert list(frame["label"]) == labels and frame["credits"].iloc[0] == 20.0
    assert "Pan left" in repr(table)


def test_the_plots_are_small_pngs(sweep, tmp_path):
    table = hailuo_nb.compare(sweep)
    for plot in (table.plot_follow_rate(), table.plot_confusion()):
        assert plot._repr_png_().startswith(PNG) and len(plot.png) < 60_000
        saved = plot.save(tmp_path / "plot.png")
        assert saved.read_bytes() == plot.png
    expected, seen, counts = table.confusion()
    assert "pan/truck left" in expected and "static" in seen
    assert counts[expected.index("pan/truck left")][seen.index("static")] == 1  # the stubborn one
    # the gallery and the camera table keep working on the same tasks
    from hailuo_nb.widgets import Gallery

    assert [r["label"] for r in Gallery(sweep).compare().rows] == \
        [r["label"] for r in table.rows]
    done = [t for t in sweep if t.status == "completed"]
    assert len(camera_table(done).rows) == len(done)


def test_export_reads_back_as_a_dataset_folder(sweep, studio, tmp_path):
    parent = next(t for t in sweep if t.status == "completed")
    child = parent.continue_with("the harbour at night [Static shot]").wait()
    analysed([child])
    out = hailuo_nb.export([*sweep, child], tmp_path / "dataset")
    lines = (tmp_path / "dataset" / "metadata.jsonl").read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines]
    assert len(rows) == len(sweep)  # every completed take and the child; the refused one not
    (label, why), = out.skipped
    assert "nsfw" in label and "policy" in why.lower()
    for row in rows:
        video = tmp_path / "dataset" / row["file_name"]
        assert not Path(row["file_name"]).is_absolute() and video.is_file()
        assert hashlib.sha256(video.read_bytes()).hexdigest() == row["sha256"]
        assert {"camera", "subject", "quality", "duration", "verdicts", "camera_x",
                "black_seconds", "frozen_seconds", "flicker", "motion", "sharpness",
                "parent_id", "task_id", "credits"} <= row.keys()
    assert rows[-1]["parent_id"] == parent.id and rows[0]["parent_id"] is None
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(out.parquet)
    assert table.num_rows == len(rows) and table.column("file_name").to_pylist() == \
        [r["file_name"] for r in rows]


def test_the_command_line_sets_the_controls():
    import argparse

    from hailuo_nb.emulator import EmulatorConfig
    from hailuo_nb.emulator.command import add_emulator_arguments, emulator_config

    parser = argparse.ArgumentParser()
    add_emulator_arguments(parser)
    args = parser.parse_args(["--ignore-camera-word", "stubborn", "--ignore-camera", "opposite",
                              "--black-seconds", "1", "--frozen-seconds", "0.5"])
    config = EmulatorConfig()
    config.update(**emulator_config(args))
    assert config.ignore_camera_words == ("stubborn",) and config.ignore_camera == "opposite"
    assert (config.black_seconds, config.frozen_seconds) == (1.0, 0.5)
