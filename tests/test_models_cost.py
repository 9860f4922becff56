"""The line-up (standard and Fast), what a task costs, budgets, dry runs, task ids.

Every cell of each model's table over real HTTP against the emulator: valid ones
complete, invalid ones are refused before anything is sent.
"""

from __future__ import annotations

import pytest
from imagefactory import png

import hailuo_nb
from hailuo_nb._pure.lineup import MODELS, resolve_model
from hailuo_nb.settings import settings

CELLS = [(model, image, quality, duration)
         for model in ("standard", "fast") for image in (False, True)
         for quality in ("768p", "1080p") for duration in (6, 10)]


@pytest.fixture
def image_file(tmp_path):
    path = tmp_path / "frame.png"
    path.write_bytes(png(640, 360))
    return path


@pytest.mark.parametrize(("model", "image", "quality", "duration"), CELLS)
def test_every_cell_of_the_table(client, emulator, image_file, model, image, quality,
                                 duration):
    rules = resolve_model(model)
    mode = "image-to-video" if image else "text-to-video"
    valid = mode in rules.modes and duration in rules.durations[quality]
    call = dict(client=client, model=model, quality=quality, duration=duration,
                image=str(image_file) if image else None)
    if not valid:
        with pytest.raises(hailuo_nb.ValidationError):
            hailuo_nb.generate("a kite [Tilt up]", **call)
        assert emulator.requests_seen == 0
        return
    task = hailuo_nb.generate("a kite [Tilt up]", wait=True, **call)
    assert task.status == "completed" and task.local_path
    body = emulator.task(task.id)["body"]
    assert (body["model"], body["quality"], body["duration"]) == (
        rules.name, quality, duration)
    assert task.credits and task.credits > 0  # the service said what it reserved


def test_an_unknown_model_names_the_known_ones(emulator):
    with pytest.raises(hailuo_nb.ValidationError) as info:
        hailuo_nb.generate("x", model="turbo")
    assert all(name in str(info.value) for name in MODELS)
    assert emulator.requests_seen == 0


def test_credits_are_shown_recorded_and_summed(client, emulator):
    from hailuo_nb._presentation.records import record_text
    from hailuo_nb._presentation.render import HistoryTable

    tasks = [hailuo_nb.generate(f"a crane {i} [Pan left]", client=client, wait=True)
             for i in range(2)]
    assert all(t.credits == 20 for t in tasks)
    assert "credits:" in repr(tasks[0]) and "20 reserved" in record_text(tasks[0])
    rows = hailuo_nb.history()
    assert [row["credits"] for row in rows] == [20.0, 20.0]
    assert "40 credits reserved by the 2" in HistoryTable(rows).text()


def test_the_session_budget_refuses_before_sending(client, emulator):
    settings.max_credits = 30
    try:
        hailuo_nb.generate("first [Pan left]", client=client, wait=True)  # 20 reserved
        hailuo_nb.generate("second [Pan left]", client=client, wait=True)  # 40 ≥ 30
        seen = emulator.requests_seen
        with pytest.raises(hailuo_nb.ValidationError) as info:
            hailuo_nb.generate("third [Pan left]", client=client)
        message = str(info.value)
        assert "budget of 30" in message and "40 credits" in message and "\n" not in message
        assert emulator.requests_seen == seen  # nothing sent
    finally:
        settings.max_credits = 0


def test_a_batch_budget_stops_the_rest(client, emulator):
    tasks = hailuo_nb.generate_many([f"take {i} [Zoom in]" for i in range(6)], client=client,
                                    max_in_flight=1, budget=45, wait=True, timeout=60)
    codes = [t.error["code"] if t.error else t.status for t in tasks]
    assert codes[:3] == ["completed"] * 3  # 20 + 20 < 45, the third brings it to 60
    assert set(codes[3:]) == {"not_sent_budget"}
    assert emulator.tasks_created == 3


def test_dry_run_sends_nothing_and_shows_the_body(emulator, image_file):
    body = hailuo_nb.generate("a quiet pond [Static shot]", model="fast",
                              image=str(image_file), dry_run=True)
    assert body["model"] == "MiniMax-Hailuo-2.3-Fast"
    assert body["image_urls"] == ["<frame.png: checked, uploaded when sent>"]
    assert body["model_params"] == {"prompt_optimizer": True, "fast_pretreatment": False}
    assert emulator.requests_seen == 0 and hailuo_nb.history() == []


@pytest.mark.parametrize("bad", ["task-123", "task-unified-abc-1", "task-unified-1-a/b",
                                 "../etc/passwd", "task-unified-1-"])
def test_malformed_task_ids_cost_no_request(client, emulator, bad):
    with pytest.raises(hailuo_nb.ValidationError, match="task id"):
        client.get_task(bad)
    with pytest.raises(hailuo_nb.ValidationError):
        hailuo_nb.resume(bad)
    assert emulator.requests_seen == 0
