"""A background refresh yields the CPU to logins: its index builder runs at the lowest priority,
while the build at start-up (before any login) and the worker itself keep theirs."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable

from sso_bridge.saml.federation.build import BuildSpec, IndexSummary
from sso_bridge.saml.federation.source import BACKGROUND_NICE, AggregateSource


def child_priority() -> int:
    """The nice value a process started from the calling thread gets."""
    done = subprocess.run([sys.executable, "-c", "import os; print(os.nice(0))"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_the_background_refresh_builds_at_the_lowest_priority_and_start_up_does_not(
        federation: Callable[..., BuildSpec]) -> None:
    source = AggregateSource(federation(), interval=0.05)
    build, priorities = source._build, []

    def watched(spec: BuildSpec) -> IndexSummary:
        priorities.append(child_priority())
        return build(spec)

    source._build = watched
    mine = os.nice(0)
    source.start()
    source.ensure_running()
    deadline = time.monotonic() + 60
    while len(priorities) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    source.stop()
    assert priorities[:2] == [mine, max(mine, BACKGROUND_NICE)]
    assert os.nice(0) == mine  # the worker's own threads, its logins, keep their priority
    assert source.readiness().ready
