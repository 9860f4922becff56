"""Tasks from submission to the file on disk: poller, store, resume, downloads, batches."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest
import requests

import hailuo_nb
from hailuo_nb import (
    Client,
    GenerationRequest,
    TaskFailedError,
    TaskTimeoutError,
    ValidationError,
)
from hailuo_nb._history.store import Store
from hailuo_nb.api import get_poller

POST = "POST /v1/videos/generations"
GET = "GET /v1/tasks"


def poller_threads():
    return [t for t in threading.enumerate() if t.name == "hailuo-poller"]


def sha(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def test_generate_wait_downloads_with_a_sidecar(client, emulator, tmp_path):
    task = hailuo_nb.generate("A lighthouse at dusk [Push in]", wait=True, client=client)
    assert task.status == "completed"
    assert task.progress == 100
    assert task.local_path and Path(task.local_path).parent == tmp_path / "hailuo_videos"
    assert sha(task.local_path) == emulator.video_sha256
    sidecar = json.loads(Path(task.local_path).with_suffix(".json").read_text())
    assert sidecar["task_id"] == task.id
    assert sidecar["source_url"] == task.url
    assert sidecar["request"]["prompt"] == "A lighthouse at dusk [Push in]"
    assert sidecar["sha256"] == emulator.video_sha256
    row = hailuo_nb.history()[0]
    assert row["task_id"] == task.id
    assert row["status"] == "completed"
    assert row["local_path"] == task.local_path


def test_a_saved_video_and_its_sidecar_get_the_user_s_mode(client, emulator):
    old = os.umask(0o022)
    try:
        task = hailuo_nb.generate("for the whole lab [Pan left]", wait=True, client=client)
    finally:
        os.umask(old)
    video = Path(task.local_path)
    assert stat.S_IMODE(video.stat().st_mode) == 0o644
    assert stat.S_IMODE(video.with_suffix(".json").stat().st_mode) == 0o644  # was 0600


@pytest.mark.parametrize("variable", ["XDG_DATA_HOME", "LOCALAPPDATA"])
def test_an_empty_data_dir_variable_counts_as_unset(monkeypatch, tmp_path, variable):
    from hailuo_nb._pure import paths

    monkeypatch.delenv("HAILUO_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "ada"))
    monkeypatch.setenv(variable, "")
    platform = "win32" if variable == "LOCALAPPDATA" else "linux"
    home = paths.hailuo_home(platform)
    assert home.is_absolute(), f"{variable}='' put the history in {home} (relative)"
    assert home.is_relative_to(tmp_path / "ada")
    monkeypatch.setenv(variable, "relative/dir")  # the XDG spec: relative paths are ignored
    assert paths.hailuo_home(platform).is_relative_to(tmp_path / "ada")


@pytest.mark.slow
def test_generate_returns_at_once_and_the_poller_follows(client, emulator):
    emulator.configure(task_seconds=1.0)
    task = hailuo_nb.generate("slow clouds", client=client)
    assert task.status == "pending"
    seen = []
    task.observe(lambda change: seen.append(change["new"]), names="status")
    task.wait(timeout=30)
    assert seen[-1] == "completed"
    assert "processing" in seen


def test_failed_task_raises_with_the_providers_words(client, emulator):
    task = hailuo_nb.generate("an nsfw scene", client=client)
    with pytest.raises(TaskFailedError) as info:
        task.wait(timeout=30)
    err = info.value
    assert err.code == "content_policy_violation"
    assert not err.retryable
    assert "Content policy" in str(err)
    assert "rephrase" in str(err)
    assert "\n" not in str(err)
    assert task.error["code"] == "content_policy_violation"
    assert hailuo_nb.history()[0]["error_code"] == "content_policy_violation"


def test_retryable_failure_is_marked_so(emulator_factory, api_key):
    emu = emulator_factory(fail_rate=1.0)
    client = Client(api_key=api_key, base_url=emu.base_url)
    task = hailuo_nb.generate("unlucky", client=client)
    with pytest.raises(TaskFailedError) as info:
        task.wait(timeout=30)
    assert info.value.retryable
    assert info.value.code == "service_error"
    assert "again later" in str(info.value)


def test_wait_timeout_returns_within_timeout_plus_one_interval(client, emulator, _fast_polling):
    emulator.configure(task_seconds=60)
    task = hailuo_nb.generate("a long one", client=client)
    for timeout in (0.1, 0.3, 0.5):
        start = time.monotonic()
        with pytest.raises(TaskTimeoutError) as info:
            task.wait(timeout=timeout)
        spent = time.monotonic() - start
        assert spent >= timeout
        assert spent <= timeout + _fast_polling.max_poll_interval + 0.5
        assert task.id in str(info.value)
    assert not task.is_terminal  # the task goes on


def test_validation_happens_before_anything_is_sent(client, emulator):
    with pytest.raises(ValidationError):
        hailuo_nb.generate("", client=client)
    with pytest.raises(ValidationError):
        hailuo_nb.generate("x", quality="1080p", duration=10, client=client)
    with pytest.raises(ValidationError):
        hailuo_nb.generate_many(["ok", "[Pan lft] typo"], client=client)
    assert emulator.requests_seen == 0
    assert hailuo_nb.history() == []


def test_two_hundred_tasks_one_poller_thread(client, emulator, _fast_polling):
    _fast_polling.max_poll_interval = 0.2
    tasks = hailuo_nb.generate_many(
        [f"scene {i}" for i in range(200)], max_in_flight=200, client=client, download=False
    )
    hailuo_nb.wait_all(tasks, timeout=300)
    assert all(t.status == "completed" for t in tasks)
    assert len(poller_threads()) == 1
    assert emulator.tasks_created == 200
    assert len({t.id for t in tasks}) == 200


@pytest.mark.slow
def test_batch_respects_max_in_flight_and_absorbs_a_429_storm(emulator_factory, api_key):
    emu = emulator_factory(rpm=10_000, task_seconds=0.3)
    client = Client(api_key=api_key, base_url=emu.base_url)
    emu.inject(POST, "429", times=3)
    emu.inject(GET, "429", times=6)
    peak = {"n": 0}
    running = set()
    lock = threading.Lock()

    def follow(change):
        task = change["owner"]
        with lock:
            if change["new"] in ("pending", "processing"):
                running.add(id(task))
            else:
                running.discard(id(task))
            peak["n"] = max(peak["n"], len(running))

    tasks = hailuo_nb.generate_many([f"shot {i}" for i in range(12)], max_in_flight=3,
                                    client=client)
    for task in tasks:
        task.observe(follow, names="status")
    hailuo_nb.wait_all(tasks, timeout=600)
    assert [t.status for t in tasks] == ["completed"] * 12
    assert all(t.local_path and os.path.exists(t.local_path) for t in tasks)
    assert emu.tasks_created == 12  # none sent twice, none dropped
    assert peak["n"] <= 3


def test_uncertain_submission_is_reported_not_repeated(client, emulator):
    emulator.inject(POST, "drop_after", times=1)
    tasks = hailuo_nb.generate_many(["first", "second"], client=client)
    hailuo_nb.wait_all(tasks, timeout=60)
    assert tasks[0].status == "failed"
    assert tasks[0].error["code"] == "submission_uncertain"
    assert tasks[1].status == "completed"
    assert emulator.tasks_created == 2
    assert emulator.stats["by_route"][POST] == 2


@pytest.mark.slow
def test_transient_poll_errors_do_not_end_a_task(client, emulator):
    emulator.configure(task_seconds=0.5)
    task = hailuo_nb.generate("bumpy", client=client)
    emulator.inject(GET, "502", times=3)
    emulator.inject(GET, "drop_before", times=2)
    task.wait(timeout=60)
    assert task.status == "completed"


def test_store_is_private_thread_safe_and_keyless(client, emulator, api_key, tmp_path):
    hailuo_nb.generate("kept", client=client, wait=True)
    store = Store(tmp_path / "two.sqlite3")

    def writer(prefix):
        for i in range(300):
            store.write_task(f"{prefix}-{i}", task_id=f"task-{prefix}-{i}", status="pending")
            store.write_task(f"{prefix}-{i}", status="completed", progress=100)

    threads = [threading.Thread(target=writer, args=(p,)) for p in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    rows = store.all()
    assert len(rows) == 600
    assert all(r["status"] == "completed" for r in rows)
    assert len(store.events("a-7")) == 2
    for db in (store.path, Path(os.environ["HAILUO_HOME"]) / "history.sqlite3"):
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
    home = Path(os.environ["HAILUO_HOME"])
    for path in home.rglob("*"):
        if path.is_file():
            assert api_key.encode() not in path.read_bytes(), path


def test_resume_a_task_id_typed_by_hand(emulator, env_for, api_key):
    env_for(emulator)
    response = requests.post(
        f"{emulator.base_url}/v1/videos/generations",
        json={"model": "MiniMax-Hailuo-2.3", "prompt": "made elsewhere"},
        headers={"Authorization": f"Bearer {api_key}"},
        timeout=10,
    )
    task_id = response.json()["id"]
    [task] = hailuo_nb.resume(task_id)
    task.wait(timeout=30)
    assert task.status == "completed"
    assert sha(task.local_path) == emulator.video_sha256
    assert hailuo_nb.history()[0]["task_id"] == task_id


def test_resume_of_an_unknown_id_ends_not_found(emulator, env_for):
    env_for(emulator)
    [task] = hailuo_nb.resume("task-unified-1700000000-nothere1")
    with pytest.raises(TaskFailedError, match="not_found"):
        task.wait(timeout=30)


def test_expired_link_is_reported_on_the_task(emulator_factory, api_key, monkeypatch):
    emu = emulator_factory(link_ttl=0.05)
    monkeypatch.setenv("EVOLINK_API_KEY", api_key)
    monkeypatch.setenv("HAILUO_BASE_URL", emu.base_url)
    task = hailuo_nb.generate("gone soon", download=False)
    task.wait(timeout=30)
    time.sleep(0.2)
    hailuo_nb._engine.journal.unregister()
    Store().write_task(task.local_id, download_dir=str(Path.cwd() / "hailuo_videos"))
    [again] = hailuo_nb.resume()
    with pytest.raises(hailuo_nb.DownloadError, match="expired"):
        again.wait(timeout=30)


KERNEL_SCRIPT = textwrap.dedent(
    """
    import sys, time, hailuo_nb
    tasks = hailuo_nb.generate_many([f"restart {i}" for i in range(6)], max_in_flight=6)
    # The id reaches the Task a moment before the history row: wait for the row.
    while not all(row["task_id"] for row in hailuo_nb.history()) or len(hailuo_nb.history()) < 6:
        time.sleep(0.01)
    print("SUBMITTED", flush=True)
    time.sleep(60)
    """
)


@pytest.mark.slow
def test_kernel_restart_then_resume_loses_nothing(emulator_factory, api_key, tmp_path):
    emu = emulator_factory(task_seconds=3.0)
    env = {
        **os.environ,
        "EVOLINK_API_KEY": api_key,
        "HAILUO_BASE_URL": emu.base_url,
        "HAILUO_FILES_URL": emu.files_url,
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-c", KERNEL_SCRIPT], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "SUBMITTED"
    finally:
        proc.kill()  # the "kernel" dies mid-run
        proc.wait()
    rows = hailuo_nb.history()
    assert len(rows) == 6
    assert all(r["task_id"] for r in rows)
    os.environ.update({k: env[k] for k in ("EVOLINK_API_KEY", "HAILUO_BASE_URL")})
    try:
        resumed = hailuo_nb.resume()
        assert {t.id for t in resumed} == {r["task_id"] for r in rows}
        hailuo_nb.wait_all(resumed, timeout=120)
    finally:
        os.environ.pop("EVOLINK_API_KEY")
        os.environ.pop("HAILUO_BASE_URL")
    assert all(t.status == "completed" for t in resumed)
    for task in resumed:
        assert sha(task.local_path) == emu.video_sha256
    assert emu.tasks_created == 6
    assert {r["status"] for r in hailuo_nb.history()} == {"completed"}


def test_download_names_cannot_escape_the_folder(tmp_path):
    from hailuo_nb._engine.downloads import target_path
    from hailuo_nb.task import Task

    for evil in ["../../etc/passwd", "/abs/path", "..", "a/../../b", "..\\..\\win"]:
        task = Task(id=evil, download_dir=str(tmp_path / "videos"))
        path = target_path(task)
        assert path.parent == (tmp_path / "videos").resolve()


def test_one_poller_is_idle_when_nothing_runs(client, emulator):
    hailuo_nb.generate("idle after", client=client, wait=True)
    poller = get_poller()
    polls = poller.polls
    time.sleep(0.3)
    assert poller.polls == polls
    assert poller.live_count() == 0


def test_generate_with_a_request_object(client, emulator):
    req = GenerationRequest(prompt="object", quality="1080p")
    task = hailuo_nb.generate(request=req, client=client, wait=True)
    assert emulator.task(task.id)["body"]["quality"] == "1080p"


@pytest.mark.slow
def test_a_batch_against_an_unreachable_host_ends_not_sent(api_key, monkeypatch):
    import socket

    from hailuo_nb._engine import policy
    monkeypatch.setattr(policy, "MAX_UNREACHABLE_ATTEMPTS", 2)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = Client(api_key=api_key, base_url=f"http://127.0.0.1:{port}")
    [task] = hailuo_nb.generate_many(["nobody is listening"], client=client)
    with pytest.raises(TaskFailedError, match="not_sent"):
        task.wait(timeout=120)
    assert "Could not reach" in task.error["message"]
    assert hailuo_nb.history()[0]["status"] == "failed"


def test_a_key_echoed_in_a_task_body_is_scrubbed(client, emulator, api_key):
    task = hailuo_nb.generate(f"echo {api_key} back", client=client, wait=True)
    snap = client.get_task(task.id)
    assert api_key not in repr(snap.raw)


def test_resume_leaves_tasks_another_live_kernel_follows(emulator_factory, api_key, tmp_path):
    emu = emulator_factory(task_seconds=30.0)
    env = {**os.environ, "EVOLINK_API_KEY": api_key, "HAILUO_BASE_URL": emu.base_url,
           "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen(
        [sys.executable, "-c", KERNEL_SCRIPT], env=env, cwd=tmp_path, stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "SUBMITTED"
        os.environ["EVOLINK_API_KEY"] = api_key
        try:
            assert hailuo_nb.resume() == []  # the other kernel is alive: its tasks stay its own
            one = hailuo_nb.history()[0]["task_id"]
            assert [t.id for t in hailuo_nb.resume(one)] == [one]  # asked by id: attached
        finally:
            os.environ.pop("EVOLINK_API_KEY")
    finally:
        proc.kill()
        proc.wait()
    os.environ["EVOLINK_API_KEY"] = api_key
    try:
        assert len(hailuo_nb.resume()) == 6  # once it is gone, they are resumed
    finally:
        os.environ.pop("EVOLINK_API_KEY")


@pytest.mark.slow
def test_a_service_clock_hours_behind_shows_no_hours_elapsed(api_key):
    from emulator_process import EmulatorProcess

    with EmulatorProcess(task_seconds=1.0) as emu, Client(api_key=api_key,
                                                           base_url=emu.base_url) as client:
        emu.advance_clock(-3 * 3600)  # the service's clock, in its own process
        task = hailuo_nb.generate("a clock behind [Static shot]", client=client)
        assert task.elapsed < 60 and "elapsed 3h" not in repr(task), repr(task)
        task.wait(60)
        assert task.elapsed < 60 and "elapsed 3h" not in repr(task), repr(task)
