"""The index of a federation's admitted IdPs: one SQLite file per instance, read-only in workers.

The aggregate is read once per instance (``build.py``, in a child process) and written here;
every worker opens the file read-only and looks an IdP up by entityID (or by the MDQ-style
``{sha1}`` of it) when a login needs it, so a worker holds SQLite's page cache, not 6,000
IdPs' parsed metadata. A new index is written beside the old one and renamed over it, so a
reader sees the old file or the new one, never half of one; each reader notices the rename
(the file's inode changes) and reopens.

Tables: ``meta`` (source, validUntil, build time, counts, problems), ``idps`` (the full
:class:`IdpRecord` as JSON, by entityID and by SHA-1), ``discovery`` (what the discovery
search needs: names, keywords, scopes, a logo; no certificates).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sso_bridge.saml.federation.records import IdpRecord, encode_json

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE idps (entity_id TEXT PRIMARY KEY, sha1 TEXT NOT NULL UNIQUE, record TEXT NOT NULL);
CREATE TABLE discovery (entity_id TEXT PRIMARY KEY, entry TEXT NOT NULL);
CREATE TABLE scopes (scope TEXT NOT NULL, entity_id TEXT NOT NULL);
CREATE INDEX scopes_by_scope ON scopes (scope);
"""
SCHEMA_VERSION = 2
"""2: the ``scopes`` table. An index of another version is rebuilt at start-up."""


UNREADABLE = (OSError, ValueError, KeyError, TypeError, sqlite3.Error)
"""What reading an index can raise when there is none yet, or it is damaged."""


@dataclass(frozen=True)
class IndexSummary:
    source: str
    built_at: float
    valid_until: float
    idp_count: int
    idps_seen: int
    problems: tuple[str, ...]


def sha1_id(entity_id: str) -> str:
    """The MDQ transformed identifier's hex part: SHA-1 of the entityID."""
    return hashlib.sha1(entity_id.encode()).hexdigest()  # noqa: S324 (an identifier, not a MAC)


def discovery_entry(record: IdpRecord) -> dict[str, Any]:
    return {"names": record.display_names, "keywords": record.keywords,
            "scopes": [[s.value, s.regexp] for s in record.scopes],
            "logo": record.logos[0].url if record.logos else ""}


def write_index(path: Path, summary: IndexSummary, records: Iterable[IdpRecord]) -> None:
    """Write the index to a temporary file beside ``path``, then rename it into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    db = sqlite3.connect(temporary)
    try:
        db.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
        db.executemany("INSERT INTO meta VALUES (?, ?)", [
            (key, json.dumps(value)) for key, value in summary.__dict__.items()])
        records = list(records)
        db.executemany("INSERT INTO idps VALUES (?, ?, ?)", (
            (r.entity_id, sha1_id(r.entity_id), r.to_json()) for r in records))
        db.executemany("INSERT INTO discovery VALUES (?, ?)", (
            (r.entity_id, encode_json(discovery_entry(r))) for r in records))
        db.executemany("INSERT INTO scopes VALUES (?, ?)", (
            (scope.value.lower(), r.entity_id) for r in records for scope in r.scopes
            if not scope.regexp))
        db.execute("INSERT INTO meta VALUES ('schema', ?)", (json.dumps(SCHEMA_VERSION),))
        db.commit()
    finally:
        db.close()
    with open(temporary, "rb") as written:
        os.fsync(written.fileno())
    os.replace(temporary, path)


class FederationIndex:
    """Read-only access to the index file at ``path``; safe to share between threads."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        """This thread's connection, reopened when the file was replaced."""
        inode = self.generation  # FileNotFoundError: no index built yet
        db: sqlite3.Connection | None = getattr(self._local, "db", None)
        if db is None or self._local.inode != inode:
            if db is not None:
                db.close()
            # immutable: the file is never changed in place (a new one is renamed over it),
            # so SQLite need not lock it or check it for changes.
            db = sqlite3.connect(f"file:{self.path}?mode=ro&immutable=1", uri=True,
                                 check_same_thread=False)
            self._local.db, self._local.inode = db, inode
        return db

    @property
    def generation(self) -> tuple[int, int]:
        """Changes whenever a new index replaces the file (an inode number can come back
        once the old file is gone, so its modification time counts too)."""
        found = os.stat(self.path)
        return found.st_ino, found.st_mtime_ns

    def find(self, entity_id: str) -> IdpRecord | None:
        """The admitted IdP with this entityID (or ``{sha1}<hex>``), or None: not admitted."""
        if entity_id.startswith("{sha1}"):
            row = self._db().execute("SELECT record FROM idps WHERE sha1 = ?",
                                     (entity_id[6:].lower(),)).fetchone()
        else:
            row = self._db().execute("SELECT record FROM idps WHERE entity_id = ?",
                                     (entity_id,)).fetchone()
        return None if row is None else IdpRecord.from_json(row[0])

    def entity_ids(self) -> list[str]:
        return [r[0] for r in self._db().execute("SELECT entity_id FROM idps ORDER BY 1")]

    def discovery_entries(self) -> list[tuple[str, dict[str, Any]]]:
        return [(r[0], json.loads(r[1]))
                for r in self._db().execute("SELECT entity_id, entry FROM discovery")]

    def scope_owners(self, scopes: Iterable[str]) -> list[tuple[str, str]]:
        """(scope, entityID) of every indexed IdP declaring one of these literal scopes
        (lower case): who else may vouch for a domain, without reading every IdP."""
        wanted = sorted({scope.lower() for scope in scopes})
        if not wanted:
            return []
        marks = ",".join("?" * len(wanted))
        return [(r[0], r[1]) for r in self._db().execute(
            f"SELECT scope, entity_id FROM scopes WHERE scope IN ({marks})", wanted)]  # noqa: S608

    def schema(self) -> int:
        row = self._db().execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
        return int(json.loads(row[0])) if row else 1

    def summary(self) -> IndexSummary:
        meta = {k: json.loads(v) for k, v in self._db().execute("SELECT key, value FROM meta")}
        meta.pop("schema", None)
        meta["problems"] = tuple(meta["problems"])
        return IndexSummary(**meta)

    def age(self, now: float | None = None) -> float:
        return (now or time.time()) - self.summary().built_at
