"""Sakai as sites run it: two simulated Sakai nodes behind a real Apache httpd balancer
(mod_proxy_balancer, sticky on the JSESSIONID suffix, route = serverId), the bridge under
granian in both cluster modes (the node list, or the balancer's URL). Learners log in, and
Sakai, read through the balancer with each browser's own cookie, knows each of them; a node
stopped mid-way does not stop the others' logins."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.provisioning import CREATED, MARK
from tests.e2e.balancer import ApacheBalancer
from tests.e2e.processes import BridgeProcess, Learner, free_port, trusting_config
from tests.samlfactory.idp import TestIdp

PASSWORD = "cluster-admin-Pa55"


@dataclass
class Cluster:
    mode: str
    nodes: list[SakaiSimulator]
    balancer: ApacheBalancer
    bridge: BridgeProcess
    idp: TestIdp

    def learner(self, name: str) -> Learner:
        return Learner.of(self.idp, f"{name}@example.org", self.bridge.url)


@pytest.fixture(params=["nodes", "balancer"])
def cluster(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Cluster]:
    first = SakaiSimulator(SimConfig(server_id="node1", admin_password=PASSWORD)).serve()
    second = SakaiSimulator(SimConfig(server_id="node2", admin_password=PASSWORD),
                            shares_users_with=first).serve()
    balancer = ApacheBalancer(tmp_path / "apache", [(first.url, "node1"),
                                                    (second.url, "node2")])
    bridge: BridgeProcess | None = None
    try:
        balancer.start()
        sakai: dict[str, object] = {"server_id": ""}  # learned from Sakai, never configured
        if request.param == "nodes":
            sakai["nodes"] = [first.url, second.url]
        port = free_port()
        idp, config, env = trusting_config(tmp_path, balancer.url, PASSWORD,
                                           f"http://127.0.0.1:{port}", extra={"sakai": sakai})
        bridge = BridgeProcess(config, env, port=port, workers=2, threads=8).start()
        yield Cluster(request.param, [first, second], balancer, bridge, idp)
    finally:
        if bridge is not None:
            bridge.stop()
        balancer.stop()
        first.stop()
        second.stop()


def log_in_and_read_back(cluster: Cluster, name: str) -> str:
    """One learner's login; returns the serverId their session cookie carries."""
    learner = cluster.learner(name)
    reply = learner.login(cluster.bridge.url)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"].startswith(cluster.balancer.url + "/portal")
    cookie = learner.browser.cookies.get("JSESSIONID")
    assert cookie is not None
    # the browser, with its own cookie, asks Sakai through the balancer who it is
    current = learner.browser.get(cluster.balancer.url + "/direct/session/current.json",
                                  timeout=10)
    assert current.json()["userEid"] == learner.eid, (name, cookie)
    return cookie.rsplit(".", 1)[1]


def test_twelve_learners_log_in_through_the_balancer_and_a_node_dies_midway(
        cluster: Cluster) -> None:
    returning = [f"back{i}" for i in range(6)]
    for name in returning:  # accounts an earlier login through the bridge created (and marked)
        requests.post(f"{cluster.nodes[0].url}/_sim/users", timeout=5, json={
            "eid": f"{name}@example.org", "first": "Test", "last": "Learner",
            "email": f"{name}@example.org", "type": "student", "password": "x" * 20,
            "properties": {MARK: CREATED}})
    new = [f"new{i}" for i in range(6)]
    first_half = [*returning[:3], *new[:3]]
    second_half = [*returning[3:], *new[3:]]
    served = [log_in_and_read_back(cluster, name) for name in first_half]
    assert set(served) <= {"node1", "node2"}
    if cluster.mode == "nodes":
        assert set(served) == {"node1", "node2"}  # spread over the cluster
    dead = served[-1]  # the node that just served a login (in balancer mode: the admin's)
    alive = "node2" if dead == "node1" else "node1"
    by_server_id = {"node1": cluster.nodes[0], "node2": cluster.nodes[1]}
    by_server_id[dead].stop()
    served = [log_in_and_read_back(cluster, name) for name in second_half]
    assert set(served) == {alive}  # nobody gets a session on the dead node
    users = {u["eid"] for u in requests.get(f"{by_server_id[alive].url}/_sim/users",
                                            timeout=5).json()}
    assert {f"{n}@example.org" for n in returning + new} <= users
    assert requests.get(cluster.bridge.url + "/readyz", timeout=30).json()["checks"]["sakai"] \
        == {"ok": True}


def test_the_balancer_log_carries_no_session_id(cluster: Cluster) -> None:
    log_in_and_read_back(cluster, "logcheck")
    log = cluster.balancer.access_log()
    assert "/direct/session/current.json" in log and "route=node" in log
    assert "sakai.session" not in log and "JSESSIONID" not in log


def test_a_balancer_that_routes_a_serverid_to_another_node_is_caught_before_learners(
        tmp_path: Path) -> None:
    """Apache's route names swapped (route=node2 on node1's member): every session the bridge
    mints would land its learner logged out. check-config and /readyz say so, and what to fix."""
    from click.testing import CliRunner

    from sso_bridge.app import create_app
    from sso_bridge.cli import main
    from sso_bridge.settings import load_settings

    first = SakaiSimulator(SimConfig(server_id="node1", admin_password=PASSWORD)).serve()
    second = SakaiSimulator(SimConfig(server_id="node2", admin_password=PASSWORD),
                            shares_users_with=first).serve()
    balancer = ApacheBalancer(tmp_path / "apache", [(first.url, "node2"),
                                                    (second.url, "node1")])
    try:
        balancer.start()
        _, config, env = trusting_config(
            tmp_path, balancer.url, PASSWORD, "http://127.0.0.1:9",
            extra={"sakai": {"server_id": "", "nodes": [first.url, second.url]}})
        result = CliRunner().invoke(main, ["check-config", "--config", str(config)], env=env)
        assert result.exit_code == 1
        output = " ".join(result.output.split())
        assert f"a session minted on {first.url} was not recognised through {balancer.url}" \
               in output
        assert "route the suffix 'node1' to that node (Apache: BalancerMember ... route=node1)" \
               in output
        ready = create_app(load_settings(config, env)).test_client().get("/readyz")
        assert ready.status_code == 503
        assert ready.get_json()["checks"]["sakai"]["error"] == "sakai_handoff_refused"
    finally:
        balancer.stop()
        first.stop()
        second.stop()
