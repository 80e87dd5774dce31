"""Shared pieces of the benchmark: paths, statistics, /proc readings, waiting for servers."""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import sys
import time
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # the package and tests.samlfactory (the test-time IdP)
    sys.path.insert(0, str(ROOT))

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sequence."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


@dataclass(frozen=True)
class Summary:
    n: int
    median: float
    p95: float
    p99: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Summary:
        if not values:
            return cls(0, float("nan"), float("nan"), float("nan"))
        return cls(len(values), statistics.median(values), percentile(values, 95),
                   percentile(values, 99))


# --- /proc ---------------------------------------------------------------------------------


def children(pid: int) -> list[int]:
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        with contextlib.suppress(OSError):  # the process may have just exited
            found += [int(p) for p in task.read_text().split()]
    return found


def cpu_seconds(pid: int, *, with_reaped_children: bool = False) -> float:
    """User + system CPU of a process (and of its children it has already waited for)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])  # utime, stime
    if with_reaped_children:
        ticks += int(fields[13]) + int(fields[14])  # cutime, cstime
    return ticks / CLOCK_TICKS


def tree_cpu_seconds(root: int) -> float:
    """CPU of a server: its master (with reaped children) and every live child."""
    return cpu_seconds(root, with_reaped_children=True) + sum(
        cpu_seconds(child) for child in children(root))


def memory_kb(pid: int) -> dict[str, int]:
    """VmRSS (now) and VmHWM (peak RSS) of a process, in kB."""
    found: dict[str, int] = {}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                found[key] = int(value.split()[0])
    except OSError:
        pass
    return found


# --- servers -------------------------------------------------------------------------------


def wait_http(url: str, timeout: float, what: str, expect: Iterable[int] = (200,)) -> None:
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as reply:  # noqa: S310 (loopback)
                if reply.status in expect:
                    return
                last = reply.status
        except Exception as exc:  # not up yet
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{what} at {url} did not answer within {timeout} s ({last})")


def fmt_us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def fmt_ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"
