"""A Sakai cluster seen from the client: an admin session per node, the serverId learned from
Sakai (never trusted from configuration), failover when a node dies, and the storm guards
(admin-login back-off, per-login deadline, bound on concurrent calls)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sso_bridge import errors
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.sakai import SakaiClient
from sso_bridge.sakai.breaker import CircuitBreaker
from sso_bridge.sakai.gate import CallGate
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD

EID = "jdoe@example.edu"


def node(server_id: str, shares_users_with: SakaiSimulator | None = None,
         **knobs: object) -> SakaiSimulator:
    """A simulated Sakai node; with ``shares_users_with``, a second node of one cluster."""
    config = SimConfig(admin_eid=ADMIN_EID, admin_password=ADMIN_PASSWORD, server_id=server_id,
                       users=({"eid": EID, "first": "Jane", "last": "Doe", "password": "pw"},),
                       **knobs)  # type: ignore[arg-type]
    return SakaiSimulator(config, shares_users_with).serve("127.0.0.1", 0)


@pytest.fixture
def nodes() -> Iterator[list[SakaiSimulator]]:
    first = node("node1")
    sims = [first, node("node2", shares_users_with=first)]
    yield sims
    for sim in sims:
        sim.stop()


def cluster(sims: list[SakaiSimulator], **kwargs: object) -> SakaiClient:
    return SakaiClient(sims[0].url, ADMIN_EID, ADMIN_PASSWORD, nodes=[s.url for s in sims],
                       connect_timeout=1, read_timeout=2,
                       breaker_factory=lambda: CircuitBreaker(failures=2, cooldown=30),
                       **kwargs)  # type: ignore[arg-type]


def who(sim: SakaiSimulator, sid: str, suffix: str) -> object:
    cookie = {"JSESSIONID": f"{sid}.{suffix}"}
    return requests.get(f"{sim.url}/direct/session/current.json", cookies=cookie,
                        timeout=5).json()["userEid"]


def test_sessions_are_minted_on_each_node_with_the_serverid_it_uses(
        nodes: list[SakaiSimulator]) -> None:
    client = cluster(nodes)
    minted = [client.session_for_user(EID) for _ in range(4)]
    assert sorted(server_id for _, server_id in minted) == ["node1", "node1", "node2", "node2"]
    by_id = {"node1": nodes[0], "node2": nodes[1]}
    for sid, server_id in minted:
        assert who(by_id[server_id], sid, server_id) == EID
        other = nodes[1] if server_id == "node1" else nodes[0]
        assert who(other, sid, server_id) is None  # sessions live in one node's memory
    assert [sim.state.calls["login"] for sim in nodes] == [1, 1]  # one admin session per node
    assert nodes[0].state.users is nodes[1].state.users  # one database, two memories


def test_when_a_node_dies_the_logins_move_to_the_other(nodes: list[SakaiSimulator]) -> None:
    client = cluster(nodes)
    client.session_for_user(EID), client.session_for_user(EID)
    nodes[1].stop()
    minted = [client.session_for_user(EID) for _ in range(6)]
    assert {server_id for _, server_id in minted} == {"node1"}
    assert all(who(nodes[0], sid, "node1") == EID for sid, _ in minted)
    assert client.nodes[1].server_id is None  # the dead node's admin session is dropped


def test_a_node_that_refuses_the_bridge_is_skipped_and_named_by_readiness(
        nodes: list[SakaiSimulator]) -> None:
    nodes[1].state.settings.allowlogin = False  # node2's sakai.properties lacks allowlogin
    client = cluster(nodes)
    minted = [client.session_for_user(EID) for _ in range(4)]
    assert {server_id for _, server_id in minted} == {"node1"}
    with pytest.raises(errors.SakaiLoginDisabled, match=nodes[1].url):
        client.readiness()


def test_the_serverid_is_learned_where_login_sets_no_cookie() -> None:
    with node("old-node", login_sets_cookie=False) as sim:
        client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD)
        sid, server_id = client.session_for_user(EID)
        assert server_id == "old-node" and who(sim, sid, server_id) == EID


def test_a_configured_serverid_that_disagrees_is_refused_and_backed_off() -> None:
    with node("node1") as sim:
        client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, server_id="sakai")
        for _ in range(3):
            with pytest.raises(errors.SakaiServerIdMismatch) as caught:
                client.session_for_user(EID)
        assert "'node1'" in caught.value.detail and "sakai.server_id" in caught.value.detail
        assert sim.state.calls["login"] == 1
        assert sim.state.calls["getSessionForUser"] == 0
        assert not [s for s in sim.state.sessions.values() if s.user_id]  # logged out again


def test_a_wrong_admin_password_costs_one_login_per_back_off_not_one_per_learner() -> None:
    with node("node1") as sim:
        client = SakaiClient(sim.url, ADMIN_EID, "wrong-password-123")
        for _ in range(10):
            with pytest.raises(errors.SakaiAdminAuthFailed):
                client.check_for_user(EID)
        assert sim.state.calls["login"] == 1


def test_the_login_deadline_covers_all_of_a_logins_calls() -> None:
    with node("node1", latency_ms=300) as sim:
        client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD,
                             gate=CallGate(deadline_seconds=0.8))
        with pytest.raises(errors.SakaiSlow), client.login_window():
            for _ in range(5):  # each call alone is well within the read timeout
                client.check_for_user(EID)
        assert sim.state.calls["checkForUser"] <= 2
        with client.login_window():
            assert client.check_for_user(EID) is True  # a new login, a new deadline
        assert client.breaker.state == "closed"


def test_concurrent_calls_queue_in_the_bridge_not_at_sakai() -> None:
    with node("node1", latency_ms=100) as sim:
        client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, gate=CallGate(3))
        client.check_for_user(EID)
        start = threading.Barrier(12)

        def one(_: int) -> bool:
            start.wait()
            return client.check_for_user(EID)

        with ThreadPoolExecutor(12) as pool:
            assert all(pool.map(one, range(12)))
        assert requests.get(f"{sim.url}/_sim/concurrency", timeout=5).json()["max_in_flight"] == 3


def test_the_simulators_login_to_server_names_the_node_that_holds_the_session(
        nodes: list[SakaiSimulator]) -> None:
    from sso_bridge.sakai import soap

    envelope = soap.build_envelope("loginToServer", [("id", ADMIN_EID), ("pw", ADMIN_PASSWORD)])
    for sim in nodes:
        reply = requests.post(f"{sim.url}/sakai-ws/soap/login", data=envelope, timeout=5,
                              headers={"Content-Type": soap.CONTENT_TYPE})
        sid, node_url = soap.parse_response("loginToServer", reply.status_code,
                                            reply.content).split(",", 1)
        assert node_url == sim.url and sid in sim.state.sessions
        assert reply.cookies["JSESSIONID"] == f"{sid}.{sim.config.server_id}"
