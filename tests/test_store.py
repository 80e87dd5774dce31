"""The embedded store: expiring, single-use, shared by processes on one machine."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path

from sso_bridge.store.sqlite import SqliteStore


def test_take_is_single_use(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    store.put("k", "v", 60)
    assert store.take("k") == "v"
    assert store.take("k") is None


def test_values_expire(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    store.put("k", "v", 1)
    assert store.get("k") == "v"
    time.sleep(1.1)
    assert store.get("k") is None and store.take("k") is None


def test_add_once_refuses_a_live_key_and_reuses_an_expired_one(tmp_path: Path) -> None:
    store = SqliteStore(str(tmp_path / "s.db"))
    assert store.add_once("a", 1) is True
    assert store.add_once("a", 1) is False
    time.sleep(1.1)
    assert store.add_once("a", 60) is True
    assert store.add_once("a", 60) is False


def _claim(path: str, key: str, results: multiprocessing.Queue[bool]) -> None:
    results.put(SqliteStore(path).add_once(key, 60))


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
