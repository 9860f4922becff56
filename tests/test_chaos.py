"""The engine against a lying, dripping, revoking server (tests/chaos_server.py, not the
emulator): each fault gets a bounded, explained outcome and costs only its own task."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from chaos_server import SAMPLE, ChaosProcess, ChaosServer

import hailuo_nb
from hailuo_nb._engine import key_state as accounts
from hailuo_nb._engine import scheduler as poller


@pytest.fixture
def chaos(api_key, monkeypatch):
    monkeypatch.setattr(accounts, "PROBE_EVERY", 0.5)
    with ChaosServer(task_seconds=0.4, drip_s=1.0) as server:
        client = hailuo_nb.Client(api_key=api_key, base_url=server.base_url,
                                  call_deadline=4.0, download_deadline=4.0, backoff_base=0.05)
        server.client = client  # type: ignore[attr-defined]
        yield server
        client.close()


def _make(chaos, prompts):
    return [hailuo_nb.generate(p, client=chaos.client) for p in prompts]


def test_a_dripping_poll_holds_back_only_its_own_task(chaos):
    slow, *others = _make(chaos, ["drip-poll [Pan left]"] + [f"fine {i}" for i in range(8)])
    started = time.time()
    hailuo_nb.wait_all(others, timeout=60)
    took = time.time() - started
    assert all(t.status == "completed" and t.local_path for t in others)
    assert took < 4.0, f"the others waited {took:.1f} s behind one dripping poll"
    assert slow.status != "completed" or slow.local_path  # its own pace, never a crash


@pytest.mark.slow
def test_a_dripping_download_holds_back_only_its_own_video(chaos):
    slow, *others = _make(chaos, ["drip-video [Pan left]"] + [f"fine {i}" for i in range(5)])
    started = time.time()
    hailuo_nb.wait_all(others, timeout=60)
    assert all(t.local_path and Path(t.local_path).read_bytes() == SAMPLE for t in others)
    assert time.time() - started < 4.0
    with pytest.raises(hailuo_nb.DownloadError) as info:
        slow.wait(60)  # the total deadline ends each attempt: never a hang
    assert "too slowly" in str(info.value) and slow.local_path is None


@pytest.mark.parametrize(("word", "reason"), [
    ("html-video", "text/html, not a video"),
    ("empty-video", "empty body"),
    ("short-video", "cut short"),
])
@pytest.mark.slow
def test_a_result_link_that_lies_is_never_saved_as_a_video(chaos, word, reason):
    [task] = _make(chaos, [f"{word} [Zoom in]"])
    with pytest.raises(hailuo_nb.DownloadError) as info:
        task.wait(60)
    assert reason in str(info.value) and task.local_path is None
    assert task.status == "completed" and task.download_state == "failed"
    folder = Path(task.download_dir)
    assert not list(folder.glob("*.mp4")), "a non-video got a final name"


def test_a_cut_download_goes_on_with_range(chaos):
    [task] = _make(chaos, ["cut-video [Push in]"])
    task.wait(60)
    assert Path(task.local_path).read_bytes() == SAMPLE
    assert chaos.count("RANGE") == 1  # resumed, not started over


@pytest.mark.parametrize("word", ["null-body", "list-body", "empty-body", "huge-body",
                                  "skew-clock"])
@pytest.mark.slow
def test_odd_task_bodies_get_a_bounded_outcome(chaos, word):
    [task] = _make(chaos, [f"{word} [Static shot]"])
    time.sleep(2.0)
    assert poller.get_poller().is_alive()
    if word == "skew-clock":  # a server clock a year ahead: elapsed stays sane
        task.wait(30)
        assert 0 <= task.elapsed < 60
    else:
        assert task.status in ("pending", "processing", "submitting") and not task.is_terminal
        assert task.note  # says why it is waiting


@pytest.mark.slow
def test_a_revoked_key_loses_no_video(chaos):
    chaos.task_seconds = 3.0  # still running when the key is revoked, even on a busy machine
    tasks = _make(chaos, [f"revoked {i} [Pan right]" for i in range(20)])
    chaos.reject_until = time.time() + 5.0
    noted = time.time() + 4.0  # the first poll that meets the 401 sets the note
    while time.time() < noted and not any(t.note.startswith("key rejected") for t in tasks):
        time.sleep(0.05)
    assert any(t.note.startswith("key rejected") for t in tasks)
    hailuo_nb.wait_all(tasks, timeout=90)
    assert chaos.count("401") > 0
    assert all(t.status == "completed" and t.local_path for t in tasks), [
        (t.status, t.error) for t in tasks]
    assert all(t.note == "" for t in tasks)


def test_out_of_credits_stops_a_batch_at_once(chaos):
    chaos.out_of_credits = True
    tasks = hailuo_nb.generate_many([f"prompt {i}" for i in range(30)], client=chaos.client,
                                    max_in_flight=2)
    hailuo_nb.wait_all(tasks, timeout=60)
    assert chaos.count("402") == 1, "sent again after the account said it had no credits"
    codes = sorted({t.error["code"] for t in tasks})
    assert codes == ["http_402", "not_sent_quota"]
    assert "resume(unsent=True)" in tasks[-1].error["message"]


def test_requests_a_402_stopped_are_sent_by_resume_unsent_once_topped_up(chaos):
    chaos.out_of_credits = True
    tasks = hailuo_nb.generate_many([f"later {i}" for i in range(4)], client=chaos.client,
                                    max_in_flight=1)
    hailuo_nb.wait_all(tasks, timeout=60)
    assert hailuo_nb.resume(client=chaos.client) == []  # nothing is sent without asking
    chaos.out_of_credits = False  # topped up
    sent = hailuo_nb.resume(client=chaos.client, unsent=True)
    assert len(sent) == 4  # the one refused with 402 (not created) and the three never sent
    hailuo_nb.wait_all(sent, timeout=60)
    assert all(t.status == "completed" and t.local_path for t in sent)
    assert chaos.count("POST") == 4
    assert hailuo_nb.resume(client=chaos.client, unsent=True) == []  # each sent once


# -- one total deadline per call (Client(deadline=…, download_deadline=…)) -------------------

@pytest.fixture
def apart():
    """The chaos server in its own process: these tests wait on real time."""
    with ChaosProcess() as server:
        yield server


@pytest.fixture
def strict(apart, api_key):
    """A client whose every call has 3 s in all, attempts and reading included."""
    client = hailuo_nb.Client(api_key=api_key, base_url=apart.base_url, deadline=3.0,
                              download_deadline=3.0, backoff_base=0.05)
    yield client
    client.close()


@pytest.mark.slow
@pytest.mark.parametrize("word", ["drip-poll", "no-answer", "drip-or-503"])
def test_a_status_call_ends_at_its_total_deadline_with_a_deadline_error(apart, strict, word):
    task_id = apart.done_task(word)
    with pytest.raises(hailuo_nb.DeadlineError) as info:
        strict.get_task(task_id)
    text = str(info.value)
    assert "3 s deadline" in text and "Client(deadline=" in text and "\n" not in text
    assert info.value.deadline == 3.0
    # One attempt ran into the deadline; it was not followed by attempts of their own.
    assert apart.count("GET") <= 2


@pytest.mark.slow
def test_a_status_503_forever_stops_within_the_deadline_and_says_so(apart, strict):
    task_id = apart.done_task("always-503")
    strict.max_retries = 1000
    with pytest.raises(hailuo_nb.ServerError) as info:
        strict.get_task(task_id)
    assert "3 s deadline" in str(info.value) and "Client(deadline=" in str(info.value)


@pytest.mark.slow
def test_a_dripping_video_gets_one_deadline_over_all_its_attempts(apart, strict, tmp_path):
    task_id = apart.done_task("drip-video")
    with pytest.raises(hailuo_nb.DeadlineError) as info:
        strict.download(f"{apart.base_url}/media/{task_id}.mp4", tmp_path / "v.mp4")
    assert "Client(download_deadline=" in str(info.value)
    assert apart.count("MEDIA") + apart.count("RANGE") == 1  # not 4 attempts of 3 s each
    assert not (tmp_path / "v.mp4").exists()


@pytest.mark.slow
def test_one_call_is_one_loop_of_attempts_whatever_goes_wrong(apart, api_key):
    """Drips and 503s in turn: each attempt counts once, against max_retries (no loop for
    bodies around a loop for statuses)."""
    task_id = apart.done_task("drip-or-503")
    with hailuo_nb.Client(api_key=api_key, base_url=apart.base_url, call_deadline=0.5,
                          deadline=60, max_retries=3, backoff_base=0.01) as client, \
            pytest.raises(hailuo_nb.HailuoError):
        client.get_task(task_id)
    assert apart.count("GET") == 4  # 1 + max_retries


# -- a disk that cannot take the video -------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 1 MB tmpfs (needs root; skipped where mounting is not allowed)."""
    import subprocess

    folder = tmp_path / "tiny"
    folder.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(folder)],
                             capture_output=True)
    if mounted.returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    yield folder
    subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_video_that_does_not_fit_leaves_nothing_behind(apart, strict, tiny_disk):
    big, small = apart.done_task("big-video"), apart.done_task("fine")
    client = strict
    with pytest.raises(hailuo_nb.DownloadError) as info:
        client.download(f"{apart.base_url}/media/{big}.mp4", tiny_disk / "big.mp4")
    text = str(info.value)
    assert "No space left" in text and "3.0 MB" in text and "download_dir" in text
    assert list(tiny_disk.iterdir()) == [], "a part file that can never complete was kept"
    # The next video into the same folder is not refused for want of space.
    saved = client.download(f"{apart.base_url}/media/{small}.mp4", tiny_disk / "small.mp4")
    assert saved.read_bytes() == SAMPLE


@pytest.mark.parametrize("download", [False, True])
def test_completed_without_a_result_link_is_an_error_that_says_so(chaos, download):
    task = hailuo_nb.generate("no-result [Pan left]", client=chaos.client, download=download)
    with pytest.raises(hailuo_nb.TaskFailedError) as info:
        task.wait(30)
    assert "no result link" in str(info.value) and info.value.code == "no_result"
    assert "completed" not in repr(task).split("status:")[1].split("\n")[0]
    assert task.local_path is None


@pytest.mark.parametrize("word", ["late-clock", "skew-clock"])
def test_elapsed_time_is_measured_on_our_clock(chaos, word):
    [task] = _make(chaos, [f"{word} [Static shot]"])
    assert task.created is not None  # the submit answer carried the server's (wrong) time
    assert 0 <= task.elapsed < 60, task.elapsed
    assert "elapsed 0s" in repr(task) or "elapsed 1s" in repr(task)
    task.wait(30)
    assert 0 <= task.elapsed < 60 and "elapsed 3h" not in repr(task)


def test_a_folder_that_cannot_be_written_is_said_once_and_leaves_nothing(apart, strict,
                                                                         tiny_disk):
    import subprocess

    task_id = apart.done_task("fine")
    if subprocess.run(["mount", "-o", "remount,ro", str(tiny_disk)]).returncode:
        pytest.skip("cannot make the tmpfs read-only here")
    with pytest.raises(hailuo_nb.DownloadError) as info:
        strict.download(f"{apart.base_url}/media/{task_id}.mp4", tiny_disk / "v.mp4")
    text = str(info.value)
    assert "Cannot write" in text and "download_dir" in text and "\n" not in text
    assert list(tiny_disk.iterdir()) == []


def test_a_full_disk_costs_only_the_video_that_did_not_fit(chaos, tiny_disk):
    big = hailuo_nb.generate("big-video [Pan left]", client=chaos.client, download_dir=tiny_disk)
    with pytest.raises(hailuo_nb.DownloadError) as info:
        big.wait(30)
    text = str(info.value)
    assert "No space left" in text and "3.0 MB" in text and "\n" not in text
    assert text.count(" — ") == 1, text  # one next step
    assert big.status == "completed" and big.local_path is None
    later = hailuo_nb.generate("fine [Pan left]", client=chaos.client, download_dir=tiny_disk)
    later.wait(30)
    assert Path(later.local_path).read_bytes() == SAMPLE
