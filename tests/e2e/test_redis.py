"""Several instances behind a load balancer share their state through a real redis-server."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.e2e.processes import (
    BridgeProcess,
    Learner,
    RedisServer,
    free_port,
    trusting_config,
    wait_until,
)
from tests.samlfactory.idp import TestIdp


@dataclass
class Pair:
    idp: TestIdp
    redis: RedisServer
    a: BridgeProcess
    b: BridgeProcess
    public_url: str

    def learner(self, name: str) -> Learner:
        return Learner.of(self.idp, f"{name}@example.org", self.public_url)


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    workdir = Path(tmp_path_factory.mktemp("redis-pair"))
    redis_server = RedisServer(workdir / "redis").start()
    sakai = SakaiSimulator().serve()
    port_a, port_b = free_port(), free_port()
    public_url = f"http://127.0.0.1:{port_a}"  # what the load balancer would be
    idp, config, env = trusting_config(
        workdir, sakai.url, sakai.config.admin_password, public_url,
        idp_extra={"allow_unsolicited": True}, extra={"store": {"url": redis_server.url}})
    a = BridgeProcess(config, env, port=port_a, workers=2).start()
    b = BridgeProcess(config, env, port=port_b, workers=2).start()
    try:
        yield Pair(idp, redis_server, a, b, public_url)
    finally:
        a.stop()
        b.stop()
        sakai.stop()
        redis_server.stop()


def test_login_started_on_one_instance_completes_on_the_other(pair: Pair) -> None:
    learner = pair.learner("crossover")
    request_id, relay = learner.start(pair.a.url)
    reply = learner.post(pair.b.url, learner.response(request_id), relay)
    assert reply.status_code == 302, reply.text
    assert str(learner.browser.cookies["JSESSIONID"]).endswith(".sakai")


def test_a_captured_post_replayed_to_the_other_instance_is_refused(pair: Pair) -> None:
    learner = pair.learner("replayed")
    request_id, relay = learner.start(pair.a.url)
    saml = learner.response(request_id)
    assert learner.post(pair.a.url, saml, relay).status_code == 302
    # The learner's own browser posting it again (the back button) is only sent on to Sakai:
    again = learner.post(pair.b.url, saml, relay)
    assert again.status_code == 302 and "JSESSIONID" not in again.headers.get("Set-Cookie", "")
    # A captured copy lacks that browser's signed marker of its completed login:
    del learner.browser.cookies["sso_bridge_done"]
    replay = learner.post(pair.b.url, saml, relay)
    assert replay.status_code in (400, 403) and "already used" in replay.text


def test_an_unsolicited_assertion_replayed_to_the_other_instance_is_refused(pair: Pair) -> None:
    learner = pair.learner("unsolicited")
    saml = learner.response(None)
    assert learner.post(pair.a.url, saml, "").status_code == 302
    del learner.browser.cookies["sso_bridge_done"]  # a captured copy, without that marker
    replay = learner.post(pair.b.url, saml, "")
    assert replay.status_code == 403
    assert "(saml_replay)" in replay.text


def test_several_keys_are_recorded_once_in_one_round_trip(pair: Pair) -> None:
    from sso_bridge.store.redis import RedisStore

    store = RedisStore(pair.redis.url)
    assert store.add_once("assertion:r1", "request:r1", ttl=60) is True
    assert store.add_once("assertion:r2", "request:r1", ttl=60) is False
    assert store.add_once("assertion:r1", "request:r2", ttl=60) is False
    assert store.add_once("assertion:r3", "request:r3", ttl=60) is True


def test_redis_down_refuses_logins_cleanly_and_recovers_without_restart(pair: Pair) -> None:
    pair.redis.stop()
    try:
        learner = pair.learner("outage")
        # Starting a login needs no store (its state is the browser's signed cookie)...
        request_id, relay = learner.start(pair.a.url)
        # ...but a response that cannot be checked for replay is never accepted.
        unchecked = learner.post(pair.b.url, learner.response(request_id), relay)
        assert unchecked.status_code == 503 and "JSESSIONID" not in learner.browser.cookies
        assert "Sign-in is briefly unavailable" in unchecked.text
        assert "(store_unavailable)" in unchecked.text
        unsolicited = learner.post(pair.b.url, learner.response(None), "")
        assert unsolicited.status_code == 503
        ready = requests.get(pair.b.url + "/readyz", timeout=10)
        assert ready.status_code == 503 and ready.json()["checks"]["store"]["ok"] is False
    finally:
        pair.redis.start()
    wait_until(lambda: requests.get(pair.a.url + "/readyz", timeout=5).ok, 20, "readiness")
    assert pair.learner("after-outage").login(pair.a.url, post_to=pair.b.url).status_code == 302
