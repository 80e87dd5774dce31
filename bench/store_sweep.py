"""The SQLite store's expiry sweep, with and without its index (issue 10, hole 7).

Every 256th write the store deletes expired entries, on the request path. The store is filled
with ``--live`` entries that have not expired (a busy day's replay cache), then, ``--rounds``
times, 256 expired entries are added and swept; the median sweep time is printed, first with
the ``state_expires`` index the store creates, then with the index dropped (the table scan the
store made before).

    .venv/bin/python bench/store_sweep.py [--live 200000] [--rounds 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from sso_bridge.store.sqlite import PURGE, SqliteStore

EXPIRED_PER_SWEEP = 256


def fill(path: str, live: int) -> None:
    SqliteStore(path)  # the schema, index included
    db = sqlite3.connect(path, isolation_level=None)
    expires = time.time() + 3600
    db.execute("BEGIN")
    db.executemany("INSERT INTO state (key, value, expires) VALUES (?, '', ?)",
                   ((f"assertion:{i:09d}", expires) for i in range(live)))
    db.execute("COMMIT")
    db.close()


def sweeps(path: str, rounds: int) -> float:
    """Median milliseconds of one sweep of EXPIRED_PER_SWEEP expired entries."""
    db = sqlite3.connect(path, isolation_level=None)
    times = []
    for r in range(rounds):
        past = time.time() - 1
        db.executemany("INSERT INTO state (key, value, expires) VALUES (?, '', ?)",
                       ((f"old:{r}:{i}", past) for i in range(EXPIRED_PER_SWEEP)))
        started = time.perf_counter()
        db.execute(PURGE, (time.time(),))
        times.append(time.perf_counter() - started)
    db.close()
    return statistics.median(times) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--live", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = str(Path(folder) / "state.sqlite3")
        fill(path, args.live)
        indexed = sweeps(path, args.rounds)
        sqlite3.connect(path).execute("DROP INDEX state_expires")
        scanned = sweeps(path, args.rounds)
    print(f"sweep of {EXPIRED_PER_SWEEP} expired among {args.live:,} live entries "
          f"(median of {args.rounds}): with the index {indexed:.2f} ms, "
          f"without (a table scan) {scanned:.2f} ms")


if __name__ == "__main__":
    main()
