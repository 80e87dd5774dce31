"""The embedded store: expiring, recorded once, shared by processes on one machine."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from sso_bridge.store.sqlite import SqliteStore


def test_values_expire(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    store.put("k", "v", 1)
    assert store.get("k") == "v"
    time.sleep(1.1)
    assert store.get("k") is None


def test_add_once_refuses_a_live_key_and_reuses_an_expired_one(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    assert store.add_once("a", ttl=1) is True
    assert store.add_once("a", ttl=1) is False
    time.sleep(1.1)
    assert store.add_once("a", ttl=60) is True
    assert store.add_once("a", ttl=60) is False


def test_add_once_of_several_keys_fails_if_any_is_live(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    assert store.add_once("assertion:1", "request:1", ttl=60) is True
    assert store.add_once("assertion:2", "request:1", ttl=60) is False  # request used
    assert store.add_once("assertion:1", "request:2", ttl=60) is False  # assertion replayed
    assert store.add_once("assertion:3", "request:3", ttl=60) is True


def _claim(path: str, key: str, results: multiprocessing.Queue[bool]) -> None:
    results.put(SqliteStore(path).add_once(key, ttl=60))


def test_add_once_is_atomic_across_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "s.db")
    SqliteStore(path)
    results: multiprocessing.Queue[bool] = multiprocessing.Queue()
    workers = [multiprocessing.Process(target=_claim, args=(path, "same-assertion", results))
               for _ in range(6)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=30)
    outcomes = sorted(results.get(timeout=5) for _ in workers)
    assert outcomes == [False] * 5 + [True]
