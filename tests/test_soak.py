"""The soak of ``tests/soak_run.py``, shortened: ~60 tasks, fast timings, every fault on.

``bench/soak.py`` runs the same ``run_soak`` with 300 tasks; here it runs against this test's
isolated HAILUO_HOME and working directory.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import soak_run as soak

import hailuo_nb
from hailuo_nb import Client


def short_config(**overrides) -> soak.SoakConfig:
    values = dict(
        tasks=60, seed=7, max_in_flight=8, singles=4, crashed=8, blocked=3,
        task_seconds=0.3, task_jitter=0.3, link_ttl=3.0,
        bursts=2, burst_size=2, burst_every=0.5,
        poll_interval=0.05, max_poll_interval=0.3, first_poll_delay=0.05,
        guard=600.0,
    )
    values.update(overrides)
    return soak.SoakConfig(**values)


@pytest.mark.slow
def test_soak_sixty_tasks_every_fault(api_key):
    report = soak.run_soak(short_config(api_key=api_key))
    table = report.table()
    assert report.violations == [], table
    # Every kind of trouble actually happened (else the run proved little).
    assert report.saw("completed, saved") > 0, table
    assert report.saw("completed, link expired (resumed late)") > 0, table
    assert report.saw("failed: content_policy_violation") > 0, table
    assert report.saw("failed: submission_uncertain") > 0, table
    assert report.uncertain_created == report.uncertain > 0, table
    assert report.stats["by_status"].get("429", 0) > 0, table
    assert sum(report.stats["by_status"].get(s, 0) for s in ("500", "502", "503")) > 0, table
    assert sum(report.outcomes.values()) == 60, table



# -- resume while the poller and the downloader are busy ----------------------------------

MEDIA = "GET /media"


def _eventually(predicate, what: str, guard: float = 60.0) -> None:
    """Wait until ``predicate()``; ``guard`` only stops a hang, it is not a budget."""
    deadline = time.monotonic() + guard
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.01)


@pytest.mark.slow
def test_resume_during_a_download_keeps_one_task_and_one_download(client, emulator):
    """`%hailuo resume` / Gallery.from_history() while a video is being saved."""
    emulator.inject(MEDIA, "slow:1.0")
    task = hailuo_nb.generate("slow to save", client=client)
    _eventually(lambda: task.download_state == "downloading", "the download starts")
    [again] = hailuo_nb.resume(task.id, client=client)
    everything = hailuo_nb.resume(client=client)
    task.wait(60)
    again.wait(60)
    assert again is task
    assert [t for t in everything if t.id == task.id] in ([], [task])
    assert hailuo_nb._engine.journal.live_task(task.id) is task
    assert emulator.stats["by_route"][MEDIA] == 1  # the video was fetched once


def test_resume_retries_a_failed_download_in_the_same_session(emulator, api_key):
    """resume() promises to download completed tasks whose video is not on disk; it
    does so after a restart — and must in the same session too."""
    client = Client(api_key=api_key, base_url=emulator.base_url, max_retries=1,
                    backoff_base=0.01)
    emulator.inject(MEDIA, "500", times=1000)  # more than any download tries: this save fails
    task = hailuo_nb.generate("saved on the second try", client=client)
    with pytest.raises(hailuo_nb.DownloadError):
        task.wait(60)
    assert emulator.stats["by_route"][MEDIA] >= 2  # it was tried again before giving up
    emulator.clear_faults()  # the link works again
    [again] = hailuo_nb.resume(task.id, client=client)
    again.wait(60)
    assert again.local_path and Path(again.local_path).read_bytes() == emulator.video_bytes
