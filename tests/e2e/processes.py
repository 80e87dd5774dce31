"""Real server processes for the operations tests: the bridge under granian, redis-server,
and learners whose IdP responses are signed at test time with the key the bridge trusts."""

from __future__ import annotations

import base64
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

from sso_bridge.demo.configfile import write_config
from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.samlfactory.idp import TestIdp, default_attributes, encode


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout} s")


class BridgeProcess:
    """``sso-bridge serve`` (granian, production settings) in its own process group."""

    def __init__(self, config: Path, env: dict[str, str], *, port: int | None = None,
                 workers: int = 2, threads: int = 4) -> None:
        self.config, self.port = config, port or free_port()
        self.env = {**os.environ, **env, "SSO_BRIDGE_THREADS": str(threads)}
        self.env.pop("PROMETHEUS_MULTIPROC_DIR", None)
        self.workers = workers
        self.log_path = config.parent / f"bridge-{self.port}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> BridgeProcess:
        command = [sys.executable, "-m", "sso_bridge.cli", "serve", "--config", str(self.config),
                   "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers)]
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(command, env=self.env, stdout=log,
                                         stderr=subprocess.STDOUT, start_new_session=True)
        wait_until(lambda: requests.get(self.url + "/healthz", timeout=1).ok, timeout,
                   f"the bridge on {self.url} (log: {self.log()[-2000:]})")
        wait_until(lambda: len(self.worker_pids()) == self.workers, timeout, "every worker")
        return self

    def stop(self, timeout: float = 30) -> int:
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def worker_pids(self) -> list[int]:
        assert self.proc is not None
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]


class RedisServer:
    def __init__(self, workdir: Path, port: int | None = None) -> None:
        self.workdir, self.port = workdir, port or free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        binary = shutil.which("redis-server")
        assert binary, "redis-server is missing: scripts/setup.sh installs it"
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_until(lambda: redis.Redis(port=self.port).ping(), 15, "redis-server")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=10)
            self.proc = None


def trusting_config(workdir: Path, sakai_url: str, sakai_password: str, public_url: str, *,
                    idp_extra: dict[str, Any] | None = None,
                    extra: dict[str, Any] | None = None) -> tuple[TestIdp, Path, dict[str, str]]:
    """A test-time IdP and a bridge configuration (SQLite store) that trusts its key."""
    idp = TestIdp()
    (workdir / "idp.xml").write_text(idp.metadata_xml())
    config, env = write_config(workdir, base_url=public_url, sakai_url=sakai_url,
                               idp={"metadata_file": "idp.xml", **(idp_extra or {})},
                               sakai_password=sakai_password, extra=extra)
    return idp, config, env


class Learner:
    """A browser of one learner; the IdP's answer is signed at test time."""

    def __init__(self, idp: TestIdp, eid: str, acs_url: str, sp_entity_id: str,
                 given: str = "Test") -> None:
        self.idp, self.eid, self.given = idp, eid, given
        self.acs_url, self.sp_entity_id = acs_url, sp_entity_id
        self.browser = requests.Session()

    @classmethod
    def of(cls, idp: TestIdp, eid: str, bridge_url: str) -> Learner:
        """A learner of the bridge at ``bridge_url`` (its ACS and entity ID follow from it)."""
        return cls(idp, eid, bridge_url + "/saml/acs", bridge_url + "/saml/metadata")

    def start(self, bridge_url: str, target: str | None = None) -> tuple[str, str]:
        params = {"target": target} if target else {}
        reply = self.browser.get(bridge_url + "/saml/login", params=params,
                                 allow_redirects=False, timeout=30)
        assert reply.status_code == 302, reply.text
        query = parse_qs(urlsplit(reply.headers["Location"]).query)
        request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        request_id = request.split(' ID="', 1)[1].split('"', 1)[0]
        return request_id, query["RelayState"][0]

    def response(self, request_id: str | None) -> str:
        attributes = default_attributes(self.eid)
        attributes["urn:oid:2.5.4.42"] = [self.given]
        return encode(self.idp.signed_response(
            acs_url=self.acs_url, sp_entity_id=self.sp_entity_id, in_response_to=request_id,
            name_id=self.eid, attributes=attributes))

    def post(self, bridge_url: str, saml_response: str, relay_state: str) -> requests.Response:
        return self.browser.post(bridge_url + "/saml/acs", allow_redirects=False, timeout=60,
                                 data={"SAMLResponse": saml_response, "RelayState": relay_state})

    def login(self, bridge_url: str, post_to: str | None = None,
              target: str | None = None) -> requests.Response:
        request_id, relay = self.start(bridge_url, target)
        return self.post(post_to or bridge_url, self.response(request_id), relay)


@dataclass
class Rig:
    """The bridge under granian, the Sakai simulator it talks to, and the IdP it trusts."""

    idp: TestIdp
    sakai: SakaiSimulator
    bridge: BridgeProcess

    def learner(self, name: str) -> Learner:
        return Learner.of(self.idp, f"{name}@example.org", self.bridge.url)

    def sim(self, route: str, payload: dict[str, Any]) -> None:
        requests.post(f"{self.sakai.url}/_sim/{route}", json=payload, timeout=5).raise_for_status()


@contextmanager
def running_rig(workdir: Path, *, sim_config: SimConfig | None = None,
                extra: dict[str, Any] | None = None) -> Iterator[Rig]:
    """A :class:`Rig` with 2 workers × 16 threads, stopped on exit."""
    sakai = SakaiSimulator(sim_config).serve()
    port = free_port()
    try:
        idp, config, env = trusting_config(workdir, sakai.url, sakai.config.admin_password,
                                           f"http://127.0.0.1:{port}", extra=extra)
        bridge = BridgeProcess(config, env, port=port, workers=2, threads=16).start()
        try:
            yield Rig(idp, sakai, bridge)
        finally:
            bridge.stop()
    finally:
        sakai.stop()
