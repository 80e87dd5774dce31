"""The embedded store: one SQLite file in WAL mode, shared by every worker on the machine.

The file is created 0600 in a folder only the bridge's user may write
(:func:`sso_bridge.store.folder.private_folder`)."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path

from sso_bridge.errors import StoreUnavailable
from sso_bridge.store.folder import private_folder

_SCHEMA = """
CREATE TABLE IF NOT EXISTS state (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    expires REAL NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS state_expires ON state (expires);
"""
PURGE = "DELETE FROM state WHERE expires <= ?"
"""The expiry sweep: a range of the ``state_expires`` index, never a scan of the table."""
_PURGE_EVERY = 256


class SqliteStore:
    def __init__(self, path: str) -> None:
        self.path = path
        self._local = threading.local()
        self._writes = 0
        private_folder(Path(path).parent)
        try:
            os.close(os.open(path, os.O_RDWR | os.O_CREAT, 0o600))  # WAL files take its mode
            db = self._connect()
            db.execute("PRAGMA journal_mode=WAL")
            db.executescript(_SCHEMA)
            db.close()
        except (OSError, sqlite3.Error) as exc:
            raise StoreUnavailable(f"cannot open the state store {path}: {exc}") from exc
        # Connections are per thread and opened on first use, so a store built before
        # gunicorn forks its workers shares no connection with them.
        self._local = threading.local()
        # SQLite lets one writer in at a time, and a writer that finds the file locked sleeps
        # (1 ms, then longer) before it tries again. The threads of one process therefore
        # queue for writing here, where waiting costs microseconds, and only the processes
        # meet at SQLite's lock.
        self._write_lock = threading.Lock()

    def _connect(self) -> sqlite3.Connection:
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                                 check_same_thread=False)
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        return db

    def _run(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        try:
            return self._connect().execute(sql, args)
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"state store {self.path}: {exc}") from exc

    def _write(self, sql: str, args: tuple[object, ...]) -> sqlite3.Cursor:
        with self._write_lock:
            return self._run(sql, args)

    def _maybe_purge(self) -> None:
        self._writes += 1
        if self._writes % _PURGE_EVERY == 0:
            self._write(PURGE, (time.time(),))

    def put(self, key: str, value: str, ttl: int) -> None:
        self._write("INSERT OR REPLACE INTO state (key, value, expires) VALUES (?, ?, ?)",
                  (key, value, time.time() + ttl))
        self._maybe_purge()

    def get(self, key: str) -> str | None:
        row = self._run("SELECT value FROM state WHERE key = ? AND expires > ?",
                        (key, time.time())).fetchone()
        return None if row is None else str(row[0])

    def add_once(self, *keys: str, ttl: int) -> bool:
        """One atomic statement: insert each key, or take over its expired row; a live row
        wins (and is not counted)."""
        now = time.time()
        rows = ", ".join(["(?, '', ?)"] * len(keys))
        args = [value for key in keys for value in (key, now + ttl)]
        cur = self._write(f"INSERT INTO state (key, value, expires) VALUES {rows} "
                          "ON CONFLICT(key) DO UPDATE SET value = '', "
                          "expires = excluded.expires WHERE state.expires <= ?", (*args, now))
        self._maybe_purge()
        return cur.rowcount == len(keys)

    def ping(self) -> None:
        self._run("SELECT 1", ())
