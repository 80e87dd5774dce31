"""``sso-bridge serve`` as operations run it, for ``bench/federation.py``: start-up until
``/healthz``, logins over HTTP through given IdPs, the workers' memory, and a run in which the
federation refreshes in the background while learners log in.

A login is the browser's two requests, each learner a fresh connection (a new browser, so
the logins spread over the workers): ``GET /saml/login?idp=<entityID>&target=`` (→ 302 with an
AuthnRequest) and the POST of the IdP's signed Response to ``/saml/acs`` (→ 302 to Sakai).
The test IdP signs in between, outside the timing.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

from client import FORM, Connection, cookie_header, form, saml_request_id
from common import ROOT, children, memory_kb, tree_cpu_seconds, wait_http
from http_logins import _terminate

HOST = "127.0.0.1"
BUILDER = b"sso_bridge.saml.federation.build"


class Served:
    """``python -m sso_bridge.cli serve`` on a free loopback port; ``startup`` is the wall
    time from launch until ``/healthz`` answered and every worker was up."""

    def __init__(self, config: Path, env: dict[str, str], port: int, workers: int) -> None:
        self.url, self.port, self.workers = f"http://{HOST}:{port}", port, workers
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
        metrics = config.parent / "metrics"
        metrics.mkdir(exist_ok=True)
        clean["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        began = time.perf_counter()
        with (config.parent / "server.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sso_bridge.cli", "serve", "--config", str(config),
                 "--bind", f"{HOST}:{port}"], cwd=ROOT, env={**clean, **env}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            wait_http(self.url + "/healthz", 120, "the bridge")
        except TimeoutError:
            self.stop()
            raise
        self.startup = time.perf_counter() - began
        self.startup_cpu = tree_cpu_seconds(self.proc.pid)
        """The master's CPU (the index builder it waited for included) and its workers'."""
        deadline = time.monotonic() + 30
        while len(self.worker_pids()) < workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        return [pid for pid in children(self.proc.pid) if not _is_builder(pid)]

    def rss_mb(self) -> dict[int, float]:
        """Each worker's resident memory (MB), by process id."""
        return {pid: memory_kb(pid).get("VmRSS", 0) / 1024 for pid in self.worker_pids()}

    def builders(self) -> set[int]:
        """The index builders running now, whichever process started them."""
        return {pid for parent in [self.proc.pid, *self.worker_pids()]
                for pid in children(parent) if _is_builder(pid)}

    def stop(self) -> None:
        _terminate(self.proc)


def _is_builder(pid: int) -> bool:
    with contextlib.suppress(OSError):
        return BUILDER in Path(f"/proc/{pid}/cmdline").read_bytes()
    return False


def login(server: Served, idp: Any, eid: str, settings: Any) -> tuple[float, float]:
    """One login in a fresh browser: (when it began, seconds of its two requests)."""
    from tests.samlfactory.idp import encode

    target = settings.sakai.url + "/portal"
    connection = Connection(HOST, server.port)
    try:
        began = time.perf_counter()
        status, headers, body = connection.request(
            "GET", f"/saml/login?idp={quote(idp.entity_id, safe='')}"
                   f"&target={quote(target, safe='')}")
        seconds = time.perf_counter() - began
        if status != 302:
            raise RuntimeError(f"/saml/login → {status} {body[:200]!r}")
        request_id, relay = saml_request_id(headers["Location"])
        signed = encode(idp.signed_response(acs_url=settings.acs_url,
                                            sp_entity_id=settings.sp_entity_id,
                                            in_response_to=request_id, name_id=eid))
        posted = time.perf_counter()
        status, reply, body = connection.request(
            "POST", "/saml/acs", form(signed, relay), {**FORM, "Cookie": cookie_header(headers)})
        seconds += time.perf_counter() - posted
        if status != 302 or not (reply.get("Location") or "").startswith(target):
            raise RuntimeError(f"/saml/acs → {status} {body[:200]!r}")
        return began, seconds
    finally:
        connection.close()


def warm_up(server: Served, idps: list[Any], settings: Any, rounds: int = 8) -> None:
    """Every IdP's learners once per round, so each worker has built its trusts."""
    for n in range(rounds):
        for idp in idps:
            login(server, idp, f"learner{n}@{idp.scopes[0][0]}", settings)


@dataclass
class RefreshRun:
    """Logins while the federation refreshes in the background (``refresh_seconds``)."""

    learners: int = 3
    pause: float = 0.0
    logins: list[tuple[float, float]] = field(default_factory=list)
    """(began, seconds) of each login."""
    windows: list[tuple[float, float]] = field(default_factory=list)
    """(began, ended) of each index build: while a builder process ran."""
    builders: set[int] = field(default_factory=set)
    most_at_once: int = 0
    rss_before: dict[int, float] = field(default_factory=dict)
    rss_after: list[dict[int, float]] = field(default_factory=list)
    """Each worker's RSS after each refresh (once the workers have used the new index);
    ``rss_before``: as the first refresh began, after the same load without one."""
    failures: list[str] = field(default_factory=list)


def refresh_run(server: Served, idps: list[Any], settings: Any, refreshes: int, *,
                learners: int = 3, pause: float = 0.0, time_limit: float = 400.0) -> RefreshRun:
    """Learners log in (each waiting ``pause`` seconds between logins; 0: the bridge kept
    saturated) until ``refreshes`` index builds have ended and the workers have used the
    last one; a watcher notes each build and the workers' memory."""
    run, stop = RefreshRun(learners=learners, pause=pause), threading.Event()
    run.rss_before = server.rss_mb()

    def learner(k: int) -> None:
        n = 0
        while not stop.is_set():
            idp = idps[(k + n) % len(idps)]
            try:
                run.logins.append(login(server, idp, f"learner{n % 8}@{idp.scopes[0][0]}",
                                        settings))
            except Exception as exc:  # noqa: BLE001 (counted and printed, never hidden)
                run.failures.append(str(exc)[:200])
            n += 1
            stop.wait(pause)

    threads = [threading.Thread(target=learner, args=(k,), daemon=True) for k in range(learners)]
    for thread in threads:
        thread.start()
    try:
        _watch(server, run, refreshes, time.monotonic() + time_limit)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    return run


def _watch(server: Served, run: RefreshRun, refreshes: int, deadline: float) -> None:
    building: float | None = None
    settle_until: float | None = None
    while time.monotonic() < deadline:
        now, found = time.perf_counter(), server.builders()
        run.builders |= found
        run.most_at_once = max(run.most_at_once, len(found))
        if found and building is None:
            building = now
            if not run.windows:
                run.rss_before = server.rss_mb()
        elif not found and building is not None:
            run.windows.append((building, now))
            building, settle_until = None, now + 2.0
        if settle_until is not None and now >= settle_until:
            run.rss_after.append(server.rss_mb())  # the workers have used the new index
            settle_until = None
            if len(run.rss_after) >= refreshes:
                return
        time.sleep(0.05)
    raise TimeoutError(f"only {len(run.windows)} refreshes within the time limit")
