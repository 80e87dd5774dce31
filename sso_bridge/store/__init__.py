"""Expiring state shared by every worker (and every instance): pending logins, replay cache.

Nothing that spans requests lives in process memory. Two backends: SQLite (the embedded default:
one machine, any number of gunicorn workers) and Redis (several machines). Both raise
:class:`~sso_bridge.errors.StoreUnavailable` when they cannot answer, so callers fail closed.
"""

from __future__ import annotations

from typing import Protocol


class Store(Protocol):
    def put(self, key: str, value: str, ttl: int) -> None:
        """Store ``value`` under ``key`` for ``ttl`` seconds, replacing any earlier value."""

    def get(self, key: str) -> str | None:
        """The live value under ``key``, or None."""

    def take(self, key: str) -> str | None:
        """Atomically read and delete ``key``: a value can be taken once only."""

    def add_once(self, key: str, ttl: int) -> bool:
        """Record ``key`` for ``ttl`` seconds; False if it was already recorded (a replay)."""

    def ping(self) -> None:
        """Raise StoreUnavailable if the store cannot be used."""


def open_store(url: str, *, password: str = "", tls: bool = False) -> Store:
    """The store named by a ``sqlite:///path`` or ``redis://host:port/db`` URL."""
    if url.startswith("sqlite:///"):
        from sso_bridge.store.sqlite import SqliteStore

        return SqliteStore(url.removeprefix("sqlite://"))
    from sso_bridge.store.redis import RedisStore

    return RedisStore(url, password=password, tls=tls)
