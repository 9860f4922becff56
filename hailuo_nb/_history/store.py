"""SQLite history of every task: what makes resume after a kernel restart possible.

One row per task (keyed by a local id, so a request queued but not yet sent is
recorded too), one event row per status change. WAL mode, one connection per
thread, file created 0600. The API key is never written here.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from .._pure.paths import hailuo_home
from .sqlite_care import BUSY_WAIT, LaterWriter, is_busy, journal_mode_for

SCHEMA = """
CREATE TABLE IF NOT EXISTS tasks (
    local_id      TEXT PRIMARY KEY,
    task_id       TEXT UNIQUE,
    status        TEXT NOT NULL,
    progress      INTEGER NOT NULL DEFAULT 0,
    request       TEXT,
    results       TEXT,
    error_code    TEXT,
    error_message TEXT,
    local_path    TEXT,
    download_dir  TEXT,
    base_url      TEXT,
    owner         TEXT,
    take_key      TEXT,
    credits       REAL,
    parent_id     TEXT,
    upload_id     TEXT,
    forgotten     INTEGER NOT NULL DEFAULT 0,
    created_at    REAL NOT NULL,
    updated_at    REAL NOT NULL,
    finished_at   REAL
);
CREATE TABLE IF NOT EXISTS events (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    local_id TEXT NOT NULL,
    at       REAL NOT NULL,
    status   TEXT NOT NULL,
    progress INTEGER,
    detail   TEXT
);
CREATE INDEX IF NOT EXISTS events_by_task ON events(local_id);
CREATE TABLE IF NOT EXISTS uploads (
    file_id    TEXT PRIMARY KEY,
    sha256     TEXT NOT NULL,
    files_url  TEXT NOT NULL,
    file_url   TEXT NOT NULL,
    expires_at REAL NOT NULL,
    created_at REAL NOT NULL,
    deleted    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS uploads_by_content ON uploads(sha256, files_url);
CREATE INDEX IF NOT EXISTS tasks_by_status ON tasks(status);
"""
# Columns added after the first release: (name, declaration), added to older histories.
ADDED_COLUMNS = (("owner", "TEXT"), ("take_key", "TEXT"),
                 ("forgotten", "INTEGER NOT NULL DEFAULT 0"), ("credits", "REAL"),
                 ("parent_id", "TEXT"), ("upload_id", "TEXT"))

log = logging.getLogger(__name__)

COLUMNS = (
    "local_id", "task_id", "status", "progress", "request", "results", "error_code",
    "error_message", "local_path", "download_dir", "base_url", "owner", "take_key", "credits",
    "parent_id", "upload_id",
    "forgotten", "created_at", "updated_at", "finished_at",
)
_JSON_COLUMNS = ("request", "results")


def this_process() -> str:
    """Who follows a task: host and pid, so another kernel can tell it is still alive."""
    return f"{socket.gethostname()}:{os.getpid()}"


def owner_alive(owner: str | None) -> bool:
    """True when ``owner`` is another live process on this host (then leave its tasks)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def default_store_path() -> Path:
    return hailuo_home() / "history.sqlite3"


class Store:
    """Thread-safe task history in one SQLite file."""

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = Path(path) if path else default_store_path()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            # Create it owner-only before SQLite opens it; WAL/SHM files inherit the mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        os.chmod(self.path, 0o600)
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self.journal_mode = journal_mode_for(self.path)
        self.notice = ""  # one line for the user when the history had to be moved aside
        self._later = LaterWriter(self._write_now)
        try:
            self._create_schema()
        except sqlite3.DatabaseError as exc:  # not a database, or a damaged one
            if isinstance(exc, sqlite3.OperationalError) and is_busy(exc):
                raise
            self._move_aside(exc)
            self._create_schema()

    def _create_schema(self) -> None:
        with self._write_lock:
            conn = self._conn()
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            conn.executescript(SCHEMA)
            columns = {row["name"] for row in conn.execute("PRAGMA table_info(tasks)")}
            for name, declaration in ADDED_COLUMNS:  # a history written by an older version
                if name not in columns:
                    conn.execute(f"ALTER TABLE tasks ADD COLUMN {name} {declaration}")
            conn.execute("CREATE INDEX IF NOT EXISTS tasks_by_take ON tasks(take_key)")

    def _move_aside(self, exc: BaseException) -> None:
        """Keep the user's damaged file (never delete it) under a dated name; start afresh."""
        self.close()
        aside = self.path.with_name(f"{self.path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
        for suffix in ("", "-wal", "-shm"):
            old = Path(f"{self.path}{suffix}")
            if old.exists():
                old.rename(Path(f"{aside}{suffix}"))
        os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
        self.notice = (f"hailuo_nb: the history {self.path} could not be read ({exc}); it was "
                       f"moved aside to {aside.name} and a new one started — tasks listed only "
                       "there can still be followed with %hailuo status ID.")
        log.warning(self.notice)
        print(self.notice, file=sys.stderr)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            # A short wait for locks: a busy history must never hold a user's cell; writes
            # that meet a lock are handed to _LaterWriter, which retries them.
            conn = sqlite3.connect(self.path, timeout=BUSY_WAIT, isolation_level=None)
            conn.execute(f"PRAGMA journal_mode={self.journal_mode}")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute(f"PRAGMA busy_timeout={int(BUSY_WAIT * 1000)}")
            conn.row_factory = sqlite3.Row
            self._local.conn = conn
        return conn

    def _write(self, sql: str, params: Iterable[Any]) -> None:
        with self._write_lock:
            self._conn().execute(sql, tuple(params))

    # -- writes -------------------------------------------------------------------------

    def new_local_id(self) -> str:
        return uuid.uuid4().hex

    def write_task(self, local_id: str, **fields: Any) -> None:
        """Insert or update a task row; records a status change as an event. A locked
        history takes the write later (in order, retried), never blocking the caller."""
        unknown = set(fields) - set(COLUMNS)
        if unknown:
            raise KeyError(f"unknown store columns: {sorted(unknown)}")
        if self._later.pending():  # keep the order of writes
            self._later.add(local_id, fields, time.time())
            return
        try:
            self._write_now(local_id, fields, time.time())
        except sqlite3.OperationalError as exc:
            if not is_busy(exc):
                raise
            self._later.add(local_id, fields, time.time())

    def _write_now(self, local_id: str, fields: dict[str, Any], now: float) -> None:
        values = {k: (json.dumps(v) if k in _JSON_COLUMNS and v is not None else v)
                  for k, v in fields.items()}
        values["updated_at"] = now
        with self._write_lock:
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                row = conn.execute(
                    "SELECT status FROM tasks WHERE local_id = ?", (local_id,)
                ).fetchone()
                if row is None:
                    values.setdefault("status", "queued")
                    values.setdefault("created_at", now)
                    cols = ["local_id", *values]
                    conn.execute(
                        f"INSERT INTO tasks ({', '.join(cols)}) "  # noqa: S608 - fixed names
                        f"VALUES ({', '.join('?' for _ in cols)})",
                        (local_id, *values.values()),
                    )
                    old_status = None
                else:
                    old_status = row["status"]
                    sets = ", ".join(f"{k} = ?" for k in values)
                    conn.execute(
                        f"UPDATE tasks SET {sets} WHERE local_id = ?",  # noqa: S608
                        (*values.values(), local_id),
                    )
                status = fields.get("status")
                if status is not None and status != old_status:
                    conn.execute(
                        "INSERT INTO events (local_id, at, status, progress, detail) "
                        "VALUES (?, ?, ?, ?, ?)",
                        (local_id, now, status, fields.get("progress"),
                         fields.get("error_message")),
                    )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    # -- reads --------------------------------------------------------------------------

    def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[dict]:
        rows = self._conn().execute(sql, tuple(params)).fetchall()
        return [self._decode(row) for row in rows]

    @staticmethod
    def _decode(row: sqlite3.Row) -> dict:
        out = dict(row)
        for key in _JSON_COLUMNS:
            if out.get(key):
                with contextlib.suppress(ValueError):
                    out[key] = json.loads(out[key])
        return out

    def _with_waiting(self, rows: list[dict], wanted: Any = None) -> list[dict]:
        """``rows`` as they will be once the writes still waiting for a lock are in: a
        caller reads its own writes. ``wanted(row)`` picks rows those writes create."""
        waiting = self._later.waiting()
        if not waiting:
            return rows
        by_id = {row["local_id"]: row for row in rows}
        added: dict[str, dict] = {}
        for local_id, fields, at in waiting:
            row = by_id.get(local_id) or added.get(local_id)
            if row is None:
                if wanted is None:
                    continue
                row = dict.fromkeys(COLUMNS)
                row.update(local_id=local_id, status="queued", forgotten=0, created_at=at)
                added[local_id] = row
            row.update(fields, updated_at=at)
        return rows + [row for row in added.values() if wanted is not None and wanted(row)]

    def get(self, local_id: str) -> dict | None:
        rows = self._with_waiting(
            self._rows("SELECT * FROM tasks WHERE local_id = ?", (local_id,)),
            lambda row: row["local_id"] == local_id)
        return rows[0] if rows else None

    def by_task_id(self, task_id: str) -> dict | None:
        rows = self._rows("SELECT * FROM tasks WHERE task_id = ?", (task_id,))
        if self._later.waiting():  # a waiting write may set (or change) a row's task id
            rows = [row for row in self._with_waiting(self._rows("SELECT * FROM tasks"),
                                                      lambda row: True)
                    if row["task_id"] == task_id]
        return rows[0] if rows else None

    def all(self, limit: int | None = None) -> list[dict]:
        sql = "SELECT * FROM tasks ORDER BY created_at DESC, rowid DESC"
        if self._later.waiting():  # newest first, with the writes still waiting for a lock
            rows = self._with_waiting(self._rows(sql), lambda row: True)
            rows.sort(key=lambda row: row["created_at"], reverse=True)
            return rows if limit is None else rows[:int(limit)]
        if limit is not None:
            return self._rows(sql + " LIMIT ?", (int(limit),))
        return self._rows(sql)

    def by_take(self, take_key: str) -> dict | None:
        """The latest task made for this take (same cell, request and ordinal) that did not
        fail and was not forgotten: what re-running that cell reuses."""
        rows = self._rows(
            "SELECT * FROM tasks WHERE take_key = ? AND status != 'failed' AND forgotten = 0"
            " AND task_id IS NOT NULL ORDER BY created_at DESC, rowid DESC LIMIT 1",
            (take_key,))
        return rows[0] if rows else None

    def by_take_prefix(self, prefix: str) -> list[dict]:
        """Every task whose take key starts with ``prefix`` (a form's), oldest first, failed
        ones included and forgotten ones not."""
        pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        return self._rows(
            "SELECT * FROM tasks WHERE take_key LIKE ? ESCAPE '\\' AND forgotten = 0"
            " AND task_id IS NOT NULL ORDER BY created_at, rowid", (pattern,))

    def unfinished(self, local_failures: Iterable[str] = ()) -> list[dict]:
        """Rows with a server id that are not known to be finished and saved: still running,
        finished but not on disk, or failed here with one of ``local_failures``."""
        codes = tuple(local_failures)
        marks = ", ".join("?" for _ in codes) or "NULL"
        sql = ("SELECT * FROM tasks WHERE task_id IS NOT NULL AND forgotten = 0 AND ("  # noqa: S608 - "?" marks
               " status NOT IN ('completed', 'failed')"
               " OR (status = 'completed' AND local_path IS NULL AND download_dir IS NOT NULL)"
               f" OR (status = 'failed' AND error_code IN ({marks}))) ORDER BY created_at"
               )
        return self._rows(sql, codes)

    # -- uploads (one per image content, reused while the provider keeps it) ------------

    def live_upload(self, sha256: str, files_url: str, *, until: float) -> dict | None:
        """An upload of this content to this files API that lives past ``until``."""
        rows = self._rows(
            "SELECT * FROM uploads WHERE sha256 = ? AND files_url = ? AND deleted = 0"
            " AND expires_at > ? ORDER BY expires_at DESC LIMIT 1", (sha256, files_url, until))
        return rows[0] if rows else None

    def add_upload(self, file_id: str, sha256: str, files_url: str, file_url: str,
                   expires_at: float) -> None:
        self._write("INSERT OR REPLACE INTO uploads (file_id, sha256, files_url, file_url,"
                    " expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)",
                    (file_id, sha256, files_url, file_url, expires_at, time.time()))

    def uploads(self, files_url: str) -> list[dict]:
        """This project's uploads to ``files_url`` not deleted yet, each with the statuses of
        the tasks that used it (``statuses``: a comma-separated list, or None)."""
        return self._rows(
            "SELECT u.*, (SELECT group_concat(t.status) FROM tasks t WHERE t.upload_id ="
            " u.file_id) AS statuses FROM uploads u WHERE u.files_url = ? AND u.deleted = 0"
            " ORDER BY u.created_at", (files_url,))

    def upload_deleted(self, file_id: str) -> None:
        self._write("UPDATE uploads SET deleted = 1 WHERE file_id = ?", (file_id,))

    def credits_since(self, since: float) -> float:
        """Credits the service reserved for tasks made since ``since`` (a budget's total)."""
        row = self._conn().execute(
            "SELECT COALESCE(SUM(credits), 0) FROM tasks WHERE created_at >= ?",
            (since,)).fetchone()
        return float(row[0])

    def never_sent(self, codes: Iterable[str]) -> list[dict]:
        """Rows whose request never reached the service (no server id), by error code."""
        codes = tuple(codes)
        marks = ", ".join("?" for _ in codes) or "NULL"
        sql = ("SELECT * FROM tasks WHERE task_id IS NULL AND forgotten = 0 "  # noqa: S608 - "?" marks
               "AND status = 'failed'"
               f" AND error_code IN ({marks}) ORDER BY created_at"
               )
        return self._rows(sql, codes)

    def events(self, local_id: str) -> list[dict]:
        return self._rows(
            "SELECT at, status, progress, detail FROM events WHERE local_id = ? ORDER BY id",
            (local_id,),
        )

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait for writes delayed by a lock; True once all are on disk."""
        return self._later.flush(timeout)

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None


_stores: dict[Path, Store] = {}
_stores_lock = threading.Lock()


def default_store() -> Store:
    """The store at ``$HAILUO_HOME`` (re-read each call, so the env var can change)."""
    path = default_store_path()
    with _stores_lock:
        store = _stores.get(path)
        if store is None or not path.exists():
            store = _stores[path] = Store(path)
        return store
