"""Hole 5 (issue 10): ``/readyz`` and ``/metrics`` were public on the learners' port.

Through ``sso-bridge serve`` (granian): only peers in ``server.ops_allow`` read them, judged on
the real peer address (``X-Forwarded-For`` only as far as ``server.trusted_proxy_hops`` trusts
it); anyone else gets the 404 page; ``/healthz`` stays open. Also issue 15: the server keeps no
control socket shared by every instance on a host.
"""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.e2e.processes import BridgeProcess, free_port, trusting_config

OPS_PATHS = ("/readyz", "/metrics")


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BridgeProcess]:
    """A bridge behind one trusted proxy; operations' network is 10.0.0.0/8 (not loopback)."""
    workdir = Path(tmp_path_factory.mktemp("ops"))
    home = workdir / "home"
    home.mkdir()
    sakai = SakaiSimulator().serve()
    port = free_port()
    try:
        _, config, env = trusting_config(
            workdir, sakai.url, sakai.config.admin_password, f"http://127.0.0.1:{port}",
            extra={"server": {"trusted_proxy_hops": 1, "ops_allow": ["10.0.0.0/8"]}})
        bridge = BridgeProcess(config, {**env, "HOME": str(home)}, port=port).start()
        try:
            yield bridge
        finally:
            bridge.stop()
    finally:
        sakai.stop()


def get(bridge: BridgeProcess, path: str, forwarded_for: str | None = None) -> requests.Response:
    headers = {"X-Forwarded-For": forwarded_for} if forwarded_for else {}
    return requests.get(bridge.url + path, headers=headers, timeout=10)


def test_hole5_readyz_and_metrics_are_not_public_on_the_learners_port(
        behind_proxy: BridgeProcess) -> None:
    for path in OPS_PATHS:
        for learner in ("203.0.113.9", "192.168.1.20"):  # a learner, through the proxy
            reply = get(behind_proxy, path, learner)
            assert reply.status_code == 404, (path, learner)
            assert "There is no such page here" in reply.text
            assert "sso_bridge_" not in reply.text and "\"checks\"" not in reply.text
        assert get(behind_proxy, path).status_code == 404  # the proxy's own address: loopback
    assert get(behind_proxy, "/healthz", "203.0.113.9").status_code == 200


def test_hole5_operations_network_reads_them_through_the_trusted_proxy(
        behind_proxy: BridgeProcess) -> None:
    reply = get(behind_proxy, "/metrics", "10.1.2.3")
    assert reply.status_code == 200 and "sso_bridge_idp_metadata_age_seconds " in reply.text
    assert get(behind_proxy, "/readyz", "10.1.2.3").status_code in (200, 503)
    assert get(behind_proxy, "/readyz", "10.1.2.3").json()["checks"]


def test_hole5_forged_x_forwarded_for_does_not_make_a_learner_operations(
        behind_proxy: BridgeProcess) -> None:
    # The learner sends "X-Forwarded-For: 10.1.2.3"; the proxy appends the address it saw.
    for path in OPS_PATHS:
        assert get(behind_proxy, path, "10.1.2.3, 203.0.113.9").status_code == 404


def test_hole5_a_same_host_proxy_without_trusted_hops_does_not_open_them(
        tmp_path: Path) -> None:
    """The default ops_allow is loopback; with no trusted hops, a request forwarded by a
    reverse proxy on the same host (a loopback peer) is still a learner's."""
    sakai = SakaiSimulator().serve()
    port = free_port()
    try:
        _, config, env = trusting_config(tmp_path, sakai.url, sakai.config.admin_password,
                                         f"http://127.0.0.1:{port}")
        bridge = BridgeProcess(config, env, port=port, workers=1).start()
        try:
            for path in OPS_PATHS:
                assert get(bridge, path, "203.0.113.9").status_code == 404
                assert requests.get(bridge.url + path, timeout=10, headers={
                    "Forwarded": "for=203.0.113.9"}).status_code == 404
            assert get(bridge, "/metrics").status_code == 200  # a local scraper
        finally:
            bridge.stop()
    finally:
        sakai.stop()


def test_serve_keeps_no_control_socket_shared_by_the_instances_on_a_host(
        behind_proxy: BridgeProcess) -> None:
    """gunicorn >= 23 put one at ~/.gunicorn/gunicorn.ctl for every instance of a user."""
    home = Path(behind_proxy.env["HOME"])
    assert not (home / ".gunicorn").exists()
    assert not [p for p in home.rglob("*") if stat.S_ISSOCK(p.lstat().st_mode)]
    assert behind_proxy.proc is not None
    for pid in [behind_proxy.proc.pid, *behind_proxy.worker_pids()]:
        assert not _listening_unix_paths(pid), pid


def _listening_unix_paths(pid: int) -> list[str]:
    """Named unix sockets (a path, not a socketpair) the process holds open and listens on."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = fd.readlink().name
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    named = []
    for line in Path("/proc/net/unix").read_text().splitlines()[1:]:
        fields = line.split()
        # Num RefCount Protocol Flags Type St Inode [Path]; flags 00010000 = listening
        if len(fields) >= 8 and fields[6] in inodes and fields[3] == "00010000":
            named.append(fields[7])
    return named


class OpsBridge(BridgeProcess):
    """``serve`` with ``server.ops_bind``: its children are the workers and the operations
    server (which has a worker of its own)."""

    def ops_server_pids(self) -> list[int]:
        return [pid for pid in super().worker_pids() if _children(pid)]

    def worker_pids(self) -> list[int]:
        return [pid for pid in super().worker_pids() if not _children(pid)]


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [int(p) for p in out.stdout.split()]


@pytest.fixture(scope="module")
def with_ops_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OpsBridge, str]]:
    workdir = Path(tmp_path_factory.mktemp("ops-port"))
    sakai = SakaiSimulator().serve()
    port, ops = free_port(), free_port()
    try:
        _, config, env = trusting_config(
            workdir, sakai.url, sakai.config.admin_password, f"http://127.0.0.1:{port}",
            extra={"server": {"ops_bind": f"127.0.0.1:{ops}", "ops_allow": []}})
        bridge = OpsBridge(config, env, port=port)
        bridge.start()
        try:
            yield bridge, f"http://127.0.0.1:{ops}"
        finally:
            bridge.stop()
    finally:
        sakai.stop()


def test_hole5_ops_bind_serves_readyz_and_metrics_apart_from_the_learners_port(
        with_ops_port: tuple[OpsBridge, str]) -> None:
    bridge, ops = with_ops_port
    assert len(bridge.ops_server_pids()) == 1
    for path in OPS_PATHS:
        assert get(bridge, path).status_code == 404  # ops_allow = []: not even loopback
    assert requests.get(ops + "/metrics", timeout=10).status_code == 200
    assert requests.get(ops + "/readyz", timeout=10).json()["checks"]["sakai"]["ok"] is True
    assert requests.get(ops + "/healthz", timeout=10).status_code == 200
    for path in ("/saml/login", "/saml/metadata", "/saml/acs"):
        assert requests.get(ops + path, timeout=10).status_code == 404  # operations only
    assert get(bridge, "/saml/metadata").status_code == 200


def test_the_ops_port_sums_the_metrics_of_the_learners_workers(
        with_ops_port: tuple[OpsBridge, str]) -> None:
    bridge, ops = with_ops_port
    requests.get(bridge.url + "/saml/login", timeout=10, allow_redirects=False)
    text = requests.get(ops + "/metrics", timeout=10).text
    assert "sso_bridge_idp_metadata_age_seconds" in text


def test_sigterm_stops_the_ops_server_with_the_bridge(tmp_path: Path) -> None:
    sakai = SakaiSimulator().serve()
    port, ops = free_port(), free_port()
    try:
        _, config, env = trusting_config(
            tmp_path, sakai.url, sakai.config.admin_password, f"http://127.0.0.1:{port}",
            extra={"server": {"ops_bind": f"127.0.0.1:{ops}"}})
        bridge = OpsBridge(config, env, port=port, workers=1)
        bridge.start()
        ops_pid = bridge.ops_server_pids()[0]
        assert bridge.stop() == 0
        with pytest.raises(requests.ConnectionError):
            requests.get(f"http://127.0.0.1:{ops}/healthz", timeout=5)
        assert not Path(f"/proc/{ops_pid}").exists()
    finally:
        sakai.stop()
