"""Expiring state shared by every worker (and every instance): replay cache, account cache.

Nothing that spans requests lives in process memory. Two backends: SQLite (the embedded default:
one machine, any number of gunicorn workers) and Redis (several machines). Both raise
:class:`~sso_bridge.errors.StoreUnavailable` when they cannot answer, so callers fail closed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class Store(Protocol):
    def put(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any earlier value."""

    def get(self, key: str) -> str | None:
        """The live value under ``key``, or None."""

    def add_once(self, *keys: str, ttl: int) -> bool:
        """Record ``keys`` for ``ttl`` seconds, in one round trip; False if any of them was
        recorded already (a replay). Keys that were new stay recorded either way."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be used."""


def open_store(url: str, *, password: str = "", tls: bool = False,
               state_directory: str = "") -> Store:
    """The store named by a ``sqlite:///path`` or ``redis://host:port/db`` URL; an empty URL
    is SQLite in the private state folder (:mod:`sso_bridge.store.folder`)."""
    if not url or url.startswith("sqlite:///"):
        from sso_bridge.store import folder
        from sso_bridge.store.sqlite import SqliteStore

        if url:
            return SqliteStore(url.removeprefix("sqlite://"))
        where = Path(state_directory) if state_directory else folder.default_folder()
        return SqliteStore(str(where / folder.FILE_NAME))
    from sso_bridge.store.redis import RedisStore

    return RedisStore(url, password=password, tls=tls)
