"""A settled task keeps its stills on disk, not in memory; records still draw them."""

from __future__ import annotations

import os
from pathlib import Path

import hailuo_nb
from hailuo_nb._engine.downloads import STILLS_BUDGET, stills_or_reason
from hailuo_nb._media.frames import read_stills
from hailuo_nb._media.stills_cache import StillsOnDisk, stills_folder
from hailuo_nb._presentation.records import record_html


def test_a_settled_task_holds_a_handle_and_its_record_draws_the_same_pictures(client, emulator):
    task = hailuo_nb.generate("A heron [Push in]", client=client, wait=True)
    handle = task.stills
    assert isinstance(handle, StillsOnDisk)  # a few fields, not the JPEG bytes
    assert Path(handle.file).parent == stills_folder()
    fresh = read_stills(task.local_path, max_total_bytes=STILLS_BUDGET)
    assert handle.poster == fresh.poster and handle.strip == fresh.strip
    assert (handle.width, handle.height) == (fresh.width, fresh.height)
    assert "data:image/jpeg;base64," in record_html(task)


def test_the_same_video_is_not_decoded_twice_and_a_changed_one_is(client, emulator):
    task = hailuo_nb.generate("A heron [Pan left]", client=client, wait=True)
    first = task.stills.file
    again, why = stills_or_reason(task.local_path)
    assert why == "" and again.file == first  # read back from its file
    os.utime(task.local_path, (1, 1))  # the video changed (a new modification time)
    changed, _ = stills_or_reason(task.local_path)
    assert changed.file != first and changed.poster == task.stills.poster


def test_a_stills_file_that_went_away_leaves_a_record_without_pictures(client, emulator):
    task = hailuo_nb.generate("A heron [Zoom in]", client=client, wait=True)
    os.unlink(task.stills.file)
    assert task.stills.poster == b"" and task.stills.strip == []
    page = record_html(task)
    assert task.id in page and "data:image/jpeg" not in page  # drawn, without pictures
