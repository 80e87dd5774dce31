"""A federation source in a running bridge: built at start-up, refreshed once per instance.

Every worker holds an :class:`AggregateSource` over the same index file. ``refresh`` takes the
instance's lock without waiting (``flock`` on a file beside the index): the one worker that
gets it, and finds the index older than the refresh interval, builds a new index in a child
process; the others return at once (``busy`` or ``fresh``). So the aggregate is fetched and
verified once per instance, whatever the number of workers, and no worker's memory grows.

A failed build leaves the last good index in place; the failure is written to a status file
beside the index, so every worker's readiness shows it, and reported to the source's hooks
(for per-source metrics and logs).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import random
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.build import BuildSpec, build, build_in_child
from sso_bridge.saml.federation.index import (
    SCHEMA_VERSION,
    UNREADABLE,
    FederationIndex,
    IndexSummary,
)

log = logging.getLogger("sso_bridge.saml")
BACKGROUND_NICE = 19
"""The background refresh's CPU priority (the lowest): logins first."""


@dataclass(frozen=True)
class RefreshEvent:
    """One refresh attempt that ran (not one skipped because another worker ran it)."""

    source: str
    ok: bool
    seconds: float
    idp_count: int
    error: str = ""


@dataclass(frozen=True)
class Readiness:
    source: str
    ready: bool
    age_seconds: float | None
    idp_count: int
    valid_until: float | None
    last_error: str


@dataclass
class RefreshStatus:
    """What the instance's last refresh attempts did (``<index>.status.json``)."""

    last_attempt: float = 0.0
    last_success: float = 0.0
    last_error: str = ""


class AggregateSource:
    def __init__(self, spec: BuildSpec, *, interval: float,
                 hooks: tuple[Callable[[RefreshEvent], None], ...] = (),
                 in_child: bool = True) -> None:
        self.spec = spec
        self.interval = interval
        self.hooks = hooks
        self._build = build_in_child if in_child else build
        path = Path(spec.index)
        self.index = FederationIndex(path)
        self._lock_path = path.with_name(path.name + ".lock")
        self._status_path = path.with_name(path.name + ".status.json")
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()

    def start(self) -> IndexSummary:
        """At start-up (before workers fork): a usable index, built if missing or stale;
        ConfigError when there is none and none can be built."""
        self.refresh()
        try:
            summary = self.index.summary()
        except UNREADABLE as exc:
            raise ConfigError(self.status().last_error or f"'{self.spec.name}': no index: "
                              f"{exc}") from exc
        if summary.valid_until <= time.time():
            raise ConfigError(self.status().last_error
                              or f"'{self.spec.name}': the federation metadata expired")
        return summary

    def refresh(self, force: bool = False) -> str:
        """``refreshed``, ``failed``, ``fresh`` (built within the interval) or ``busy``
        (another worker of this instance is building it)."""
        self._lock_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self._lock_path, "a+b") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return "busy"
            status = self.status()
            if not force and self._usable() and time.time() - status.last_success < self.interval:
                return "fresh"
            return self._run(status)

    def _run(self, status: RefreshStatus) -> str:
        began = time.monotonic()
        status.last_attempt = time.time()
        try:
            summary = self._build(self.spec)
        except ConfigError as exc:
            status.last_error = exc.detail
            self._write(status)
            log.error("federation %s: refresh failed; keeping the last good index: %s",
                      self.spec.name, exc.detail)
            self._report(RefreshEvent(self.spec.name, False, time.monotonic() - began, 0,
                                      exc.detail))
            return "failed"
        status.last_success, status.last_error = summary.built_at, ""
        self._write(status)
        log.info("federation %s: %d IdPs indexed from %s", self.spec.name, summary.idp_count,
                 summary.source)
        if summary.problems:
            log.warning("federation %s: %d admitted IdPs left out, e.g. %s", self.spec.name,
                        len(summary.problems), summary.problems[0])
        self._report(RefreshEvent(self.spec.name, True, time.monotonic() - began,
                                  summary.idp_count))
        return "refreshed"

    def _usable(self) -> bool:
        """A valid index this version of the bridge can read (an older one is rebuilt)."""
        try:
            return (self.index.schema() == SCHEMA_VERSION
                    and self.index.summary().valid_until > time.time())
        except UNREADABLE:
            return False

    def _report(self, event: RefreshEvent) -> None:
        for hook in self.hooks:
            try:
                hook(event)
            except Exception:  # a metrics hook must never break the refresh
                log.exception("federation %s: a refresh hook failed", self.spec.name)

    def status(self) -> RefreshStatus:
        try:
            return RefreshStatus(**json.loads(self._status_path.read_text()))
        except (OSError, ValueError, TypeError):
            return RefreshStatus()

    def _write(self, status: RefreshStatus) -> None:
        temporary = self._status_path.with_name(f".{self._status_path.name}.{os.getpid()}")
        temporary.write_text(json.dumps(asdict(status)))
        os.replace(temporary, self._status_path)

    def readiness(self, now: float | None = None) -> Readiness:
        now = now or time.time()
        error = self.status().last_error
        try:
            summary = self.index.summary()
        except UNREADABLE:
            return Readiness(self.spec.name, False, None, 0, None, error or "no index")
        return Readiness(self.spec.name, summary.valid_until > now, now - summary.built_at,
                         summary.idp_count, summary.valid_until, error)

    def ensure_running(self) -> None:
        """This process's background refresh thread (threads do not survive a fork)."""
        if self.interval <= 0 or (self._pid == os.getpid() and self._thread is not None
                                  and self._thread.is_alive()):
            return
        self._pid = os.getpid()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"federation-{self.spec.name}")
        self._thread.start()

    def _loop(self) -> None:
        # Workers wake at slightly different times; the first finds the index stale and
        # builds it, the others find it busy or fresh. On Linux the nice value belongs to
        # the thread: this one (and the builder it starts, which inherits it) yields the
        # CPU to the worker's logins; a build at start-up, with no login to wait, keeps it.
        if sys.platform == "linux":  # elsewhere it would lower the whole worker
            with contextlib.suppress(OSError):
                os.nice(BACKGROUND_NICE)
        while not self._stop.wait(self.interval * random.uniform(1.0, 1.1)):
            self.refresh()

    def stop(self) -> None:
        self._stop.set()
