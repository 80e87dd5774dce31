"""Learners of a federation's IdPs, through the bridge's real routes and the Sakai simulator.

A ``[federations.fed]`` aggregate signed by the federation's key (by ``file``, and by ``url``
over https from the test file server) holds TestIdp-shaped IdPs beside a configured ``[idp]``:
who is admitted, and which IdP may name which Sakai accounts (``idps.py``: a federation IdP
loses a scope another IdP also declares).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from tests.federation.bridge import (
    CLAIMER,
    COLLEGE,
    HOST,
    TWIN_A,
    TWIN_B,
    UNIVERSITY,
    configure,
    log_in,
    member,
    sakai_calls,
    sakai_user,
    signed_aggregate,
)
from tests.federation.conftest import Keys
from tests.federation.factory import RANDS
from tests.federation.servers import file_server
from tests.sakai.tls import localhost_certificate, server_context

Bridge = tuple[FlaskClient, Services]


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as simulator:
        yield simulator


@pytest.fixture
def bridge(tmp_path: Path, sim: SakaiSimulator, keys: Keys) -> Callable[..., Bridge]:
    """A bridge whose federation reads ``aggregate.xml`` (``xml``, default: ``members()``)."""

    def make(xml: bytes | None = None, **federation: Any) -> Bridge:
        (tmp_path / "aggregate.xml").write_bytes(
            xml if xml is not None else signed_aggregate(keys["federation"][0]))
        path, env = configure(tmp_path, sim, keys["federation"][1],
                              {"file": "aggregate.xml", **federation})
        app = create_app(load_settings(path, env))
        return app.test_client(), app.extensions["sso_bridge"]

    return make


def test_a_learner_of_an_aggregate_idp_gets_a_scoped_account(
        bridge: Callable[..., Bridge], sim: SakaiSimulator) -> None:
    client, services = bridge()
    reply = log_in(client, services, COLLEGE, "ann@college.example")
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"].startswith(services.settings.sakai.url)
    user = sakai_user(sim, "ann@college.example")
    assert (user["first"], user["last"], user["email"]) == ("Ann", "Lee", "ann@mail.example")


def test_a_learner_of_an_aggregate_fetched_over_https_logs_in(
        tmp_path: Path, keys: Keys, sim: SakaiSimulator,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """By ``url``: the file server's TLS certificate is trusted as the system's CA store
    would trust a federation's (SSL_CERT_FILE); the index builder child inherits it."""
    www = tmp_path / "www"
    www.mkdir()
    (www / "aggregate.xml").write_bytes(signed_aggregate(keys["federation"][0]))
    cert, key = localhost_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with file_server(www, server_context(cert, key), host="localhost") as base:
        path, env = configure(tmp_path, sim, keys["federation"][1],
                              {"url": f"{base}/aggregate.xml"})
        app = create_app(load_settings(path, env))
    client, services = app.test_client(), app.extensions["sso_bridge"]
    assert services.idps.federations[0].readiness().idp_count == 4
    assert log_in(client, services, TWIN_A, "bo@twin-a.example").status_code == 302
    assert sakai_user(sim, "bo@twin-a.example")["email"] == "bo@mail.example"


def not_admitted(client: FlaskClient, entity_id: str) -> None:
    reply = client.get("/sso/saml/login", query_string={"idp": entity_id}, base_url=HOST)
    assert reply.status_code == 400 and "idp_unknown" in reply.text
    assert "Location" not in reply.headers  # no AuthnRequest went anywhere


def test_an_idp_not_on_the_entity_id_list_is_unknown(bridge: Callable[..., Bridge]) -> None:
    client, services = bridge(entity_ids=[COLLEGE.entity_id])
    not_admitted(client, TWIN_A.entity_id)
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302


def test_an_idp_of_another_registration_authority_is_unknown(
        bridge: Callable[..., Bridge], keys: Keys) -> None:
    ours = "https://ours.example.org"
    xml = signed_aggregate(keys["federation"][0], [
        member(COLLEGE, "college.example", authority=ours), member(TWIN_A, "shared.example")])
    client, services = bridge(xml, registration_authorities=[ours])
    not_admitted(client, TWIN_A.entity_id)
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302


def test_an_idp_without_the_entity_category_is_unknown(bridge: Callable[..., Bridge],
                                                       keys: Keys) -> None:
    xml = signed_aggregate(keys["federation"][0], [
        member(COLLEGE, "college.example", categories=[RANDS]),
        member(TWIN_A, "shared.example")])
    client, services = bridge(xml, entity_categories=[RANDS])
    not_admitted(client, TWIN_A.entity_id)
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302


def test_an_idp_outside_the_federation_and_configuration_is_unknown(
        bridge: Callable[..., Bridge]) -> None:
    client, _ = bridge()
    not_admitted(client, "https://idp.evil.example/idp")


def refused_without_sakai(reply: Any, sim: SakaiSimulator, eid: str) -> None:
    assert reply.status_code == 403, reply.text
    assert "identity_scope" in reply.text
    assert sakai_user(sim, eid) == {}
    assert sakai_calls(sim) == {}, "Sakai was called for a refused identity"


def test_attack_federation_idp_claims_the_configured_idps_scope(
        bridge: Callable[..., Bridge], sim: SakaiSimulator) -> None:
    """CLAIMER's metadata declares uni.example, the configured university's scope."""
    client, services = bridge()
    refused_without_sakai(log_in(client, services, CLAIMER, "rector@uni.example"), sim,
                          "rector@uni.example")
    assert log_in(client, services, CLAIMER, "cy@claimer.example").status_code == 302
    reply = log_in(client, services, UNIVERSITY, "rector@uni.example")
    assert reply.status_code == 302, reply.text
    assert sakai_user(sim, "rector@uni.example")["email"] == "rector@mail.example"


@pytest.mark.parametrize("twin", [TWIN_A, TWIN_B], ids=["first", "second"])
def test_attack_two_federation_idps_declaring_one_scope_neither_can_use_it(
        bridge: Callable[..., Bridge], sim: SakaiSimulator, twin: Any) -> None:
    client, services = bridge()
    refused_without_sakai(log_in(client, services, twin, "dee@shared.example"), sim,
                          "dee@shared.example")
    own = twin.entity_id.split("//idp.")[1].split("/")[0]
    assert log_in(client, services, twin, f"dee@{own}").status_code == 302


def test_attack_an_idp_whose_only_scope_is_shared_cannot_be_used(
        bridge: Callable[..., Bridge], keys: Keys, caplog: pytest.LogCaptureFixture) -> None:
    xml = signed_aggregate(keys["federation"][0], [
        member(TWIN_A, "shared.example"), member(TWIN_B, "twin-b.example", "shared.example")])
    client, services = bridge(xml)
    logger = logging.getLogger("sso_bridge")
    logger.addHandler(caplog.handler)  # the bridge's logger does not propagate
    try:
        not_admitted(client, TWIN_A.entity_id)
    finally:
        logger.removeHandler(caplog.handler)
    assert "every scope it declares is another IdP's too" in caplog.text
    assert log_in(client, services, TWIN_B, "eve@twin-b.example").status_code == 302
