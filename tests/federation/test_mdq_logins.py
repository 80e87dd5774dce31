"""Learners of IdPs an MDQ service publishes (``[federations.NAME] mdq_url``), through the
bridge's routes: signed per-entity metadata over https from the test MDQ server.

An answer the federation's key did not sign as served, one describing another entity, or one
out of date is not metadata the bridge may trust: the learner gets ``idp_metadata_unavailable``
(503, try later), no AuthnRequest goes out, and Sakai is never called.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from tests.federation.bridge import (
    COLLEGE,
    HOST,
    TWIN_A,
    configure,
    log_in,
    member,
    sakai_calls,
    sakai_user,
)
from tests.federation.conftest import Keys
from tests.federation.factory import RANDS, cert_body, idp_xml, signed_entity
from tests.federation.servers import MdqService, mdq_server
from tests.sakai.tls import localhost_certificate, server_context


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as simulator:
        yield simulator


@pytest.fixture
def service(keys: Keys) -> MdqService:
    mdq = MdqService()
    for idp in (member(COLLEGE, "college.example"), member(TWIN_A, "twin-a.example")):
        mdq.entities[idp.entity_id] = signed_entity(idp_xml(idp), keys["federation"][0])
    return mdq


@pytest.fixture
def mdq_url(tmp_path: Path, service: MdqService,
            monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The test MDQ server over https, its certificate trusted as a system CA would be."""
    cert, key = localhost_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    with mdq_server(service, server_context(cert, key), host="localhost") as base:
        yield base


def make_bridge(tmp_path: Path, sim: SakaiSimulator, keys: Keys,
                **federation: Any) -> tuple[FlaskClient, Services]:
    path, env = configure(tmp_path, sim, keys["federation"][1], federation)
    app = create_app(load_settings(path, env))
    return app.test_client(), app.extensions["sso_bridge"]


@pytest.fixture
def bridge(tmp_path: Path, sim: SakaiSimulator, keys: Keys,
           mdq_url: str) -> tuple[FlaskClient, Services]:
    """The bridge with ``[federations.fed] mdq_url`` the test MDQ server."""
    return make_bridge(tmp_path, sim, keys, mdq_url=mdq_url)


def test_a_learner_of_an_mdq_idp_logs_in(bridge: tuple[FlaskClient, Services],
                                         sim: SakaiSimulator, service: MdqService) -> None:
    client, services = bridge
    reply = log_in(client, services, COLLEGE, "ann@college.example")
    assert reply.status_code == 302, reply.text
    assert sakai_user(sim, "ann@college.example")["email"] == "ann@mail.example"
    assert service.requests[COLLEGE.entity_id] == 1  # fetched once, for the login's start


def _broken_signature(keys: Keys, service: MdqService) -> bytes:
    genuine = service.entities[COLLEGE.entity_id]
    attacker = cert_body(keys["other"][1])[:64].encode()
    tampered = genuine.replace(cert_body(COLLEGE.cert_pem)[:64].encode(), attacker)
    assert tampered != genuine
    return tampered


TAMPERED: dict[str, Callable[[Keys, MdqService], bytes]] = {
    "signature_broken": _broken_signature,
    "another_entitys_signed_metadata": lambda keys, service: service.entities[TWIN_A.entity_id],
    "expired": lambda keys, service: signed_entity(
        idp_xml(member(COLLEGE, "college.example")), keys["federation"][0],
        valid_for=timedelta(hours=-1)),
}
WHY = {"signature_broken": "is not signed by the key of",
       "another_entitys_signed_metadata": f"describes '{TWIN_A.entity_id}'",
       "expired": "expired at"}


@pytest.mark.parametrize("case", sorted(TAMPERED))
def test_attack_tampered_mdq_answer_is_unavailable_and_touches_nothing(
        bridge: tuple[FlaskClient, Services], sim: SakaiSimulator, service: MdqService,
        keys: Keys, case: str, caplog: pytest.LogCaptureFixture) -> None:
    client, _ = bridge
    service.entities[COLLEGE.entity_id] = TAMPERED[case](keys, service)
    logger = logging.getLogger("sso_bridge")
    logger.addHandler(caplog.handler)  # the bridge's logger does not propagate
    try:
        reply = client.get("/sso/saml/login", query_string={"idp": COLLEGE.entity_id},
                           base_url=HOST)
    finally:
        logger.removeHandler(caplog.handler)
    assert reply.status_code == 503, reply.text
    assert "idp_metadata_unavailable" in reply.text
    assert "Location" not in reply.headers
    assert sakai_calls(sim) == {} and sakai_user(sim, "ann@college.example") == {}
    assert WHY[case] in caplog.text  # the log says why, for the admin


def not_admitted(client: FlaskClient, entity_id: str) -> None:
    reply = client.get("/sso/saml/login", query_string={"idp": entity_id}, base_url=HOST)
    assert reply.status_code == 400 and "idp_unknown" in reply.text
    assert "Location" not in reply.headers


def test_an_mdq_idp_not_on_the_entity_id_list_is_unknown_and_not_asked_for(
        tmp_path: Path, sim: SakaiSimulator, keys: Keys, mdq_url: str,
        service: MdqService) -> None:
    client, services = make_bridge(tmp_path, sim, keys, mdq_url=mdq_url,
                                   entity_ids=[COLLEGE.entity_id])
    not_admitted(client, TWIN_A.entity_id)
    assert service.requests[TWIN_A.entity_id] == 0
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302


def test_an_mdq_idp_without_the_entity_category_is_unknown(
        tmp_path: Path, sim: SakaiSimulator, keys: Keys, mdq_url: str,
        service: MdqService) -> None:
    service.entities[COLLEGE.entity_id] = signed_entity(
        idp_xml(member(COLLEGE, "college.example", categories=[RANDS])), keys["federation"][0])
    client, services = make_bridge(tmp_path, sim, keys, mdq_url=mdq_url,
                                   entity_categories=[RANDS])
    not_admitted(client, TWIN_A.entity_id)
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302
