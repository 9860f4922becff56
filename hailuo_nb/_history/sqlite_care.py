"""SQLite where researchers keep it: on a network file system (a JupyterHub home on NFS),
and shared with other kernels that may hold it locked for a while.

WAL needs shared memory between processes, which NFS, SMB and their kind do not give: there
the history uses the classic rollback journal. A write that meets a lock is retried by a
background thread, in order, so a busy history never holds a user's cell.
"""

from __future__ import annotations

import collections
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BUSY_WAIT = 0.2  # seconds a caller may wait for a lock before the write is taken later
RETRY_FOR = 300.0  # a write still locked out after this long is given up (and logged)
NETWORK_FILESYSTEMS = frozenset({
    "nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "9p", "lustre", "gpfs", "ceph",
    "fuse.sshfs", "fuse.glusterfs", "fuse.ceph", "beegfs", "panfs",
})


def filesystem_of(path: Path, mounts: str | None = None) -> str:
    """The type of the file system ``path`` is on, from /proc/mounts ('' if unknown)."""
    if mounts is None:
        try:
            mounts = Path("/proc/mounts").read_text(encoding="utf-8", errors="replace")
        except OSError:  # not Linux: nothing to read
            return ""
    target = os.path.realpath(path)
    best, kind = "", ""
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 3:
            continue
        point = fields[1].replace("\\040", " ")
        inside = target == point or target.startswith(point.rstrip("/") + "/")
        if inside and len(point) >= len(best):
            best, kind = point, fields[2]
    return kind


def journal_mode_for(path: Path, mounts: str | None = None) -> str:
    """WAL on a local disk; DELETE (the rollback journal) on a network file system."""
    return "DELETE" if filesystem_of(path.parent, mounts) in NETWORK_FILESYSTEMS else "WAL"


def is_busy(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "locked" in text or "busy" in text


class LaterWriter:
    """Writes that met a lock, retried in order on one thread until they go through."""

    def __init__(self, write: Callable[[str, dict[str, Any], float], None]):
        self._write = write
        self._queue: collections.deque = collections.deque()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def pending(self) -> bool:
        with self._lock:
            return bool(self._queue)

    def waiting(self) -> list[tuple[str, dict[str, Any], float]]:
        """The writes not on disk yet, oldest first: (local_id, fields, when)."""
        with self._lock:
            return list(self._queue)

    def add(self, local_id: str, fields: dict[str, Any], at: float) -> None:
        with self._lock:
            self._queue.append((local_id, fields, at))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="hailuo-history-writer",
                                                 daemon=True)
                self._thread.start()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every delayed write went through (True) or ``timeout`` passed."""
        end = time.monotonic() + timeout
        while self.pending() and time.monotonic() < end:
            time.sleep(0.02)
        return not self.pending()

    def _run(self) -> None:
        delay = 0.05
        while True:
            with self._lock:
                if not self._queue:
                    return
                local_id, fields, at = self._queue[0]
            try:
                self._write(local_id, fields, at)
            except sqlite3.OperationalError as exc:
                if is_busy(exc) and time.time() - at < RETRY_FOR:
                    time.sleep(delay)
                    delay = min(2.0, delay * 2)
                    continue
                log.error("hailuo_nb: a history write for %s was lost: %s", local_id, exc)
            with self._lock:
                self._queue.popleft()
            delay = 0.05
