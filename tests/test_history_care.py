"""The history file under stress: damaged, locked by another process, on a network disk,
and holding tasks that ended here for a reason the server never gave."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

import hailuo_nb
from hailuo_nb._history.sqlite_care import journal_mode_for
from hailuo_nb._history.store import Store, default_store_path

MOUNTS = """\
sysfs /sys sysfs rw 0 0
/dev/sda1 / ext4 rw,relatime 0 0
nas:/export/home /home nfs4 rw,vers=4.2 0 0
//fs/lab /mnt/lab\\040share cifs rw 0 0
"""


def test_a_damaged_history_is_moved_aside_and_a_new_one_started(client, emulator, capsys):
    path = default_store_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    junk = b"this is not a database, it was a truncated copy" * 100
    path.write_bytes(junk)
    task = hailuo_nb.generate("after the damage [Pan left]", client=client, wait=True)
    assert [row["task_id"] for row in hailuo_nb.history()] == [task.id]
    [aside] = path.parent.glob("history.sqlite3.damaged-*")
    assert aside.read_bytes() == junk  # the user's file is kept, never deleted
    err = capsys.readouterr().err
    [line] = [text for text in err.splitlines() if "could not be read" in text]
    assert str(path) in line and aside.name in line and "%hailuo status" in line


def test_a_locked_history_never_holds_the_cell_and_loses_nothing(client, emulator):
    store = Store()
    other = sqlite3.connect(store.path, isolation_level=None)  # another kernel, mid-write
    other.execute("BEGIN EXCLUSIVE")
    try:
        task = hailuo_nb.generate("while locked [Zoom in]", client=client, store=store)
        assert store._later.pending(), "the write waited for the lock in the user's call"
        task.wait(60)
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.flush(30)
    [row] = store.all()
    assert row["task_id"] == task.id and row["status"] == "completed"
    assert row["local_path"] == task.local_path


def test_a_caller_reads_its_own_writes_while_another_process_holds_the_history(
        client, emulator):
    store = Store()
    other = sqlite3.connect(store.path, isolation_level=None)  # another kernel, mid-write
    other.execute("BEGIN EXCLUSIVE")
    try:
        tasks = [hailuo_nb.generate(f"held {i} [Pan left]", client=client, store=store)
                 for i in range(5)]
        hailuo_nb.wait_all(tasks, timeout=60)
        assert store._later.pending(), "the lock was not held: this test tests nothing"
        rows = {row["task_id"]: row for row in hailuo_nb.history(store=store)}
        assert [rows[t.id]["status"] for t in tasks] == ["completed"] * 5
        assert [rows[t.id]["local_path"] for t in tasks] == [t.local_path for t in tasks]
        assert store.by_task_id(tasks[0].id)["status"] == "completed"
        assert store.get(tasks[1].local_id)["local_path"] == tasks[1].local_path
    finally:
        other.execute("ROLLBACK")
        other.close()
    assert store.flush(30)
    assert [row["status"] for row in store.all()] == ["completed"] * 5


def test_wal_on_a_local_disk_and_the_rollback_journal_on_a_network_one():
    assert journal_mode_for(Path("/home/ada/.local/share/hailuo_nb/h.sqlite3"), MOUNTS) == (
        "DELETE")
    assert journal_mode_for(Path("/mnt/lab share/h.sqlite3"), MOUNTS) == "DELETE"
    assert journal_mode_for(Path("/var/tmp/h.sqlite3"), MOUNTS) == "WAL"
    assert journal_mode_for(Path("/homework/h.sqlite3"), MOUNTS) == "WAL"  # not /home


def test_resume_asks_again_about_tasks_that_ended_here(client, emulator):
    snapshot = client.submit(hailuo_nb.GenerationRequest(prompt="ended here [Pan left]"))
    store = Store()
    local = store.new_local_id()
    store.write_task(local, task_id=snapshot.id, status="failed", error_code="http_401",
                     error_message="key rejected while polling",
                     download_dir=str(Path.cwd() / "hailuo_videos"), base_url=client.base_url)
    [task] = hailuo_nb.resume(client=client, store=store)
    task.wait(60)
    assert task.status == "completed" and os.path.exists(task.local_path)
    assert store.get(local)["status"] == "completed"
