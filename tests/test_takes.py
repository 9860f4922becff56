"""Takes and restarts: what is reused, what is forgotten, what ends when its server died.

Kernel-level reuse (Run All twice in new kernels) is in test_notebooks.py; here the same
rules are checked from Python and the magics, over real HTTP to the emulator.
"""

from __future__ import annotations

import time

import pytest

import hailuo_nb
from hailuo_nb._engine import scheduler as poller


def test_outside_a_notebook_cell_every_call_is_a_new_take(client, emulator):
    first = hailuo_nb.generate("the same prompt [Pan left]", client=client, wait=True)
    second = hailuo_nb.generate("the same prompt [Pan left]", client=client, wait=True)
    assert first.id != second.id and emulator.tasks_created == 2
    assert not first.take_key and second.reused_from is None


def test_forget_stops_following_and_resume_leaves_it(emulator_factory, api_key):
    emu = emulator_factory(task_seconds=60.0)
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        task = hailuo_nb.generate("a long take [Pan left]", client=client)
        assert poller.get_poller().live_count() == 1
        assert hailuo_nb.forget(task.id) == [task.id]
        assert poller.get_poller().live_count() == 0
        row = next(r for r in hailuo_nb.history() if r["task_id"] == task.id)
        assert row["forgotten"] == 1
        assert hailuo_nb.resume(client=client) == []  # not re-attached after a restart


def test_forget_refuses_bad_and_unknown_ids_before_writing(emulator):
    with pytest.raises(hailuo_nb.ValidationError, match="task id"):
        hailuo_nb.forget("../etc/passwd")
    with pytest.raises(hailuo_nb.ValidationError, match="not in the history"):
        hailuo_nb.forget("task-unified-1757169743-nothere1")
    with pytest.raises(hailuo_nb.ValidationError, match="not both"):
        hailuo_nb.forget()
    assert hailuo_nb.history() == []


@pytest.mark.slow
def test_a_task_of_a_dead_local_emulator_ends_explained(emulator_factory, api_key,
                                                        monkeypatch):
    monkeypatch.setattr(poller, "LOCAL_SERVER_GONE_AFTER", 1.0)
    emu = emulator_factory(task_seconds=60.0)
    with hailuo_nb.Client(api_key=api_key, base_url=emu.base_url) as client:
        task = hailuo_nb.generate("made against an emulator [Zoom in]", client=client)
        emu.stop()  # as when the kernel that ran it stopped
        started = time.monotonic()
        with pytest.raises(hailuo_nb.TaskFailedError):
            task.wait(timeout=60)
    assert time.monotonic() - started < 30
    assert task.error["code"] == "server_gone"
    message = task.error["message"]
    assert "emulator" in message and "--new" in message
    # One right reason (a standalone emulator has no kernel) and one next step.
    assert "kernel" not in message and "check the network" not in message
    assert message.count("—") == 1, message
    row = next(r for r in hailuo_nb.history() if r["task_id"] == task.id)
    assert row["status"] == "failed" and row["error_code"] == "server_gone"
