"""Uploads: one per image content, reused while they live; the account's files and quota;
`files clean` frees this project's uploads once their tasks are done."""

from __future__ import annotations

import pytest
from imagefactory import png

import hailuo_nb


@pytest.fixture
def still(tmp_path):
    path = tmp_path / "still.png"
    path.write_bytes(png(640, 360))
    return path


@pytest.mark.slow
def test_one_upload_per_image_content(client, emulator, still, tmp_path):
    copy = tmp_path / "same_pixels.png"
    copy.write_bytes(still.read_bytes())
    tasks = [hailuo_nb.generate(f"take {i} [Zoom in]", image=str(path), client=client)
             for i, path in enumerate([still, copy, still])]
    tasks += hailuo_nb.generate_many([{"prompt": "batch [Pan left]", "image": str(still)}] * 3,
                                     client=client, new=True)
    hailuo_nb.wait_all(tasks, timeout=60)
    assert all(t.status == "completed" for t in tasks)
    assert emulator.stats["uploads"] == 1, "the same image was uploaded again"
    assert len({t.upload_id for t in tasks}) == 1
    other = tmp_path / "other.png"
    other.write_bytes(png(641, 360))
    hailuo_nb.generate("a new image [Pan left]", image=str(other), client=client, wait=True)
    assert emulator.stats["uploads"] == 2


def test_files_clean_frees_the_uploads_of_settled_tasks(client, emulator, still):
    done = hailuo_nb.generate("done [Pan left]", image=str(still), client=client, wait=True)
    assert client.files_quota()["used"] == 1
    assert hailuo_nb.api.clean_uploads(client=client) == [done.upload_id]
    assert client.files_quota()["used"] == 0
    assert hailuo_nb.api.clean_uploads(client=client) == []  # nothing twice
    # The content is uploaded again when it is next needed (the old link is gone).
    hailuo_nb.generate("again [Pan left]", image=str(still), client=client, wait=True)
    assert emulator.stats["uploads"] == 2


def test_clean_leaves_uploads_a_running_task_still_needs(emulator_factory, api_key, still):
    emu = emulator_factory(task_seconds=30.0)
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        running = hailuo_nb.generate("slow [Pan left]", image=str(still), client=client)
        assert hailuo_nb.api.clean_uploads(client=client) == []
        assert running.upload_id and client.files_quota()["used"] == 1


def test_a_full_quota_says_how_to_free_it(emulator_factory, api_key, still, tmp_path):
    emu = emulator_factory(max_files=1)
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        hailuo_nb.generate("first [Pan left]", image=str(still), client=client, wait=True)
        other = tmp_path / "b.png"
        other.write_bytes(png(700, 400))
        with pytest.raises(hailuo_nb.APIError) as info:
            hailuo_nb.generate("second [Pan left]", image=str(other), client=client)
    assert "%hailuo files clean" in str(info.value) and "\n" not in str(info.value)
