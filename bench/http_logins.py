"""Parts 2 and 3: whole logins over HTTP, the bridge (``sso-bridge serve``) and Shibboleth SP.

The bridge runs as in production: ``sso-bridge serve`` (granian, the workers and threads of
the configuration's defaults, SQLite store, INFO logs and access log to a file)
against the Sakai simulator (``python -m sso_bridge.demo.sakai_sim``), whose latency is set
per scenario. The simulator hashes new accounts' passwords with 1 PBKDF2 round instead of
10,000: it shares the bridge's 2 cores, where real Sakai would spend that on its own servers.
Shibboleth SP (``shibboleth.py``) trusts the same IdP key and gets responses signed the same
way, from the same client, in the same run.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from client import (
    FORM,
    Connection,
    Login,
    LoginFailed,
    cookie_header,
    form,
    run_phase,
    saml_request_id,
    sign_all,
    timed,
)
from common import ROOT, Summary, children, cpu_seconds, free_port, memory_kb, wait_http

HOST = "127.0.0.1"


# --- the Sakai simulator and the bridge ----------------------------------------------------


class SakaiSim:
    """``python -m sso_bridge.demo.sakai_sim`` in its own process."""

    def __init__(self, workdir: Path, latency_ms: int = 0) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        with (workdir / "sakai-sim.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sso_bridge.demo.sakai_sim", "--host", HOST,
                 "--port", str(self.port), "--latency-ms", str(latency_ms),
                 "--password-hash-rounds", "1"],
                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(self.url + "/_sim/config", 30, "the Sakai simulator")

    def _control(self, path: str, data: dict[str, Any] | None = None) -> Any:
        body = json.dumps(data).encode() if data is not None else None
        request = urllib.request.Request(self.url + path, data=body, method="POST" if body
                                         else "GET", headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (loopback)
            return json.loads(reply.read())

    def set_latency(self, ms: int) -> None:
        self._control("/_sim/config", {"latency_ms": ms})

    def calls(self) -> int:
        return sum(self._control("/_sim/calls").values())

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid, with_reaped_children=True) + sum(
            cpu_seconds(pid) for pid in children(self.proc.pid))

    def stop(self) -> None:
        _terminate(self.proc)


class BridgeServer:
    """``sso-bridge serve`` with the production settings of a fresh configuration; with
    ``engine``, ``skeleton.py`` on that server instead: the skeleton app (no bridge work), or
    with ``whole_bridge`` the bridge itself."""

    def __init__(self, workdir: Path, idp: Any, sakai_url: str, engine: str | None = None,
                 whole_bridge: bool = False) -> None:
        from sso_bridge.demo.configfile import write_config
        from sso_bridge.settings import load_settings

        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "idp.xml").write_text(idp.metadata_xml())
        self.config, env = write_config(workdir, base_url=self.url, sakai_url=sakai_url,
                                        idp={"metadata_file": "idp.xml"})
        settings = load_settings(self.config, env)
        self.workers, self.threads = settings.server.worker_count(), settings.server.threads
        self.acs_url, self.sp_entity_id = settings.acs_url, settings.sp_entity_id
        self.log_path = workdir / "server.log"
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
        metrics = workdir / "metrics"  # the workers' Prometheus files, removed with workdir
        metrics.mkdir(exist_ok=True)
        clean["PROMETHEUS_MULTIPROC_DIR"] = str(metrics)
        with self.log_path.open("ab") as log:
            program = [str(Path(__file__).with_name("skeleton.py")), "--engine", engine,
                       *(["--bridge"] if whole_bridge else [])] if engine else \
                ["-m", "sso_bridge.cli", "serve"]
            self.proc = subprocess.Popen(
                [sys.executable, *program, "--config", str(self.config),
                 "--bind", f"{HOST}:{self.port}"],
                cwd=ROOT, env={**clean, **env}, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)
        wait_http(self.url + "/healthz", 60, "the bridge")
        deadline = time.monotonic() + 30
        while len(children(self.proc.pid)) < self.workers and time.monotonic() < deadline:
            time.sleep(0.05)

    def worker_pids(self) -> list[int]:
        return children(self.proc.pid)

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid, with_reaped_children=True) + sum(
            cpu_seconds(pid) for pid in self.worker_pids())

    def memory(self) -> list[dict[str, int]]:
        return [memory_kb(pid) for pid in self.worker_pids()]

    def stop(self) -> None:
        _terminate(self.proc)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


# --- what one login is, for each SP --------------------------------------------------------


@dataclass
class Driver:
    """The two SP-facing requests of a login: start (GET) and ACS (POST)."""

    name: str
    port: int
    start_path: str
    acs_path: str
    landing: str  # where a successful ACS POST redirects to
    session_cookie: str
    acs_url: str
    sp_entity_id: str

    def start(self, connection: Connection, login: Login) -> None:
        status, headers, body = timed(login, "start_seconds",
                                      lambda: connection.request("GET", self.start_path))
        if status != 302:
            raise LoginFailed(f"GET {self.start_path} → {status} {body[:120]!r}")
        login.request_id, login.relay_state = saml_request_id(headers["Location"])
        login.cookies = cookie_header(headers)

    def finish(self, connection: Connection, login: Login) -> None:
        headers = {**FORM, "Cookie": login.cookies}
        status, reply, body = timed(login, "finish_seconds", lambda: connection.request(
            "POST", self.acs_path, form(login.saml_response, login.relay_state), headers))
        location = reply.get("Location") or ""
        if status != 302 or not location.startswith(self.landing) or \
                self.session_cookie not in cookie_header(reply):
            raise LoginFailed(f"ACS → {status} {location[:80]} {body[:160]!r}")


def bridge_driver(bridge: BridgeServer, sakai_url: str) -> Driver:
    target = sakai_url + "/portal"
    return Driver("sso-bridge", bridge.port, "/saml/login?target=" + quote(target, safe=""),
                  "/saml/acs", target, "JSESSIONID=", bridge.acs_url, bridge.sp_entity_id)


def shib_driver(shib: Any) -> Driver:
    return Driver("Shibboleth SP 3.4", shib.port, "/secure/", "/Shibboleth.sso/SAML2/POST",
                  shib.url + "/secure/", "_shibsession_", shib.acs_url, shib.entity_id)


# --- one scenario --------------------------------------------------------------------------


def scenario(driver: Driver, idp: Any, eids: list[str], *, concurrency: int, time_limit: float,
             cpu: Any, calls: Any = None, sim_cpu: Any = None) -> dict[str, Any]:
    """N learners log in, ``concurrency`` at a time; figures for the SP."""
    logins = [Login(eid) for eid in eids]
    cpu0, calls0, sim0 = cpu(), calls() if calls else 0, sim_cpu() if sim_cpu else 0.0
    started = run_phase(logins, driver.start, HOST, driver.port, concurrency, time_limit)
    cpu_mid, sim_mid = cpu(), sim_cpu() if sim_cpu else 0.0
    sign_all(idp, logins, driver.acs_url, driver.sp_entity_id)
    cpu_mid2, sim_mid2 = cpu(), sim_cpu() if sim_cpu else 0.0  # idle while the IdP signs
    finished = run_phase(logins, driver.finish, HOST, driver.port, concurrency, time_limit)
    cpu1, calls1, sim1 = cpu(), calls() if calls else 0, sim_cpu() if sim_cpu else 0.0
    ok = [lg for lg in logins if lg.steps_done == 2 and not lg.error]
    errors = [lg.error or "unfinished" for lg in logins if lg.steps_done != 2 or lg.error]
    latency = Summary.of([lg.seconds for lg in ok])
    n = max(len(logins), 1)
    return {
        "sp": driver.name, "logins": len(logins), "ok": len(ok), "errors": len(errors),
        "error_samples": sorted(set(errors))[:3],
        "rate": len(ok) / (started + finished) if ok else 0.0,
        "p50_ms": latency.median * 1e3, "p95_ms": latency.p95 * 1e3,
        "p99_ms": latency.p99 * 1e3,
        "cpu_ms": ((cpu_mid - cpu0) + (cpu1 - cpu_mid2)) / n * 1e3,
        "sakai_calls": (calls1 - calls0) / n if calls else None,
        "sim_cpu_ms": ((sim_mid - sim0) + (sim1 - sim_mid2)) / n * 1e3 if sim_cpu else None,
        "seconds": started + finished,
    }
