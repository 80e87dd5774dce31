"""Several IdPs in one deployment, each with its own policy, through the bridge's real routes.

A university IdP (scoped eduPersonPrincipalName) and a partner IdP (unscoped uid, kept apart
by an EID suffix), both signing with keys made at test time, in front of the Sakai simulator.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.errors import ConfigError
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BASE = "https://lms.example.edu/sso"
HOST = "https://lms.example.edu"
UNIVERSITY = TestIdp("https://idp.uni.example/idp", "https://idp.uni.example/sso",
                     scopes=("uni.example",))
PARTNER = TestIdp("https://idp.partner.example/idp", "https://idp.partner.example/sso",
                  scopes=())
PARTNER_TABLE = {"metadata_file": "partner.xml", "eid_suffix": "@partner",
                 "user_types": {"staff": "partner-staff"},
                 "attributes": {"eid": ["uid"], "allow_unscoped_eid": True}}


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as simulator:
        yield simulator


def configure(tmp_path: Path, sim: SakaiSimulator, partner: dict[str, Any]) -> tuple[Path, Any]:
    (tmp_path / "uni.xml").write_text(UNIVERSITY.metadata_xml())
    (tmp_path / "partner.xml").write_text(PARTNER.metadata_xml())
    return write_config(tmp_path, base_url=BASE, sakai_url=sim.url,
                        idp={"metadata_file": "uni.xml", "preset": "shibboleth",
                             "want_assertions_encrypted": False},
                        extra={"idps": {"partner": partner}})


@pytest.fixture
def app_services(tmp_path: Path, sim: SakaiSimulator) -> tuple[FlaskClient, Services]:
    path, env = configure(tmp_path, sim, PARTNER_TABLE)
    app = create_app(load_settings(path, env))
    return app.test_client(), app.extensions["sso_bridge"]


def start(client: FlaskClient, idp: TestIdp) -> tuple[str, str]:
    """``/saml/login?idp=``: the AuthnRequest's ID and the RelayState."""
    reply = client.get("/sso/saml/login", query_string={"idp": idp.entity_id},
                       base_url=HOST)
    assert reply.status_code == 302, reply.text
    location = reply.headers["Location"]
    assert location.startswith(idp.sso_url + "?")
    relay = parse_qs(urlsplit(location).query)["RelayState"][0]
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(
        parse_qs(urlsplit(location).query)["SAMLRequest"][0]).decode()
    request_id = request_xml.split('ID="', 1)[1].split('"', 1)[0]
    return request_id, relay


def post(client: FlaskClient, services: Services, idp: TestIdp, request_id: str, relay: str,
         uid: str, affiliation: str = "student") -> Any:
    s = services.settings
    attributes = {"eduPersonPrincipalName": [f"{uid}@uni.example"], "uid": [uid],
                  "mail": [f"{uid}@mail.example"], "givenName": ["Ann"], "sn": ["Lee"],
                  "eduPersonAffiliation": [affiliation]}
    xml = idp.signed_response(acs_url=s.acs_url, sp_entity_id=s.sp_entity_id,
                              in_response_to=request_id, name_id=uid, attributes=attributes,
                              attribute_name_format="basic")
    return client.post("/sso/saml/acs", data={"SAMLResponse": encode(xml), "RelayState": relay},
                       base_url=HOST)


def sakai_user(sim: SakaiSimulator, eid: str) -> dict[str, Any]:
    reply = requests.get(f"{sim.url}/_sim/users/{eid}", timeout=5)
    return dict(reply.json()) if reply.status_code == 200 else {}


def test_a_learner_of_each_idp_gets_the_account_its_policy_names(
        app_services: tuple[FlaskClient, Services], sim: SakaiSimulator) -> None:
    client, services = app_services
    for idp, eid, user_type, affiliation in (
            (UNIVERSITY, "ann@uni.example", "registered", "staff"),
            (PARTNER, "ann@partner", "partner-staff", "staff")):
        request_id, relay = start(client, idp)
        reply = post(client, services, idp, request_id, relay, "ann", affiliation)
        assert reply.status_code == 302, reply.text
        assert sakai_user(sim, eid)["type"] == user_type
    assert sakai_user(sim, "ann") == {}  # neither IdP's bare uid became an account


def test_a_response_from_the_other_idp_to_a_pending_login_is_refused(
        app_services: tuple[FlaskClient, Services], sim: SakaiSimulator) -> None:
    client, services = app_services
    request_id, relay = start(client, UNIVERSITY)
    reply = post(client, services, PARTNER, request_id, relay, "mallory")
    assert reply.status_code == 400
    assert "saml_invalid" in reply.text  # python3-saml: not the Issuer the login went to
    assert sakai_user(sim, "mallory@partner") == {}
    assert sakai_user(sim, "mallory@uni.example") == {}


def test_an_unknown_idp_gets_its_page_and_no_authn_request(
        app_services: tuple[FlaskClient, Services]) -> None:
    client, _ = app_services
    reply = client.get("/sso/saml/login", query_string={"idp": "https://evil.example/idp"},
                       base_url=HOST)
    assert reply.status_code == 400
    assert "idp_unknown" in reply.text
    assert "Location" not in reply.headers


def test_without_an_idp_the_learner_is_sent_to_discovery_by_the_protocol(
        app_services: tuple[FlaskClient, Services]) -> None:
    client, services = app_services
    reply = client.get("/sso/saml/login", base_url=HOST,
                       query_string={"target": services.settings.sakai.url + "/portal"})
    assert reply.status_code == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}{location.path}" == BASE + "/saml/discovery"
    query = parse_qs(location.query)
    assert query["entityID"] == [services.settings.sp_entity_id]
    assert query["returnIDParam"] == ["idp"]
    assert query["return"][0].startswith(BASE + "/saml/login?target=")


def test_two_idps_that_could_claim_the_same_account_are_refused_at_start_up(
        tmp_path: Path, sim: SakaiSimulator) -> None:
    """Both unscoped (the university's too), neither with a prefix or suffix."""
    partner = {**PARTNER_TABLE, "eid_suffix": ""}
    (tmp_path / "uni.xml").write_text(UNIVERSITY.metadata_xml())
    (tmp_path / "partner.xml").write_text(PARTNER.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=sim.url,
                             idp={"metadata_file": "uni.xml"},
                             extra={"attributes": {"eid": ["uid"], "allow_unscoped_eid": True},
                                    "idps": {"partner": partner}})
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(path, env))
    problem = " ".join(caught.value.problems)
    assert UNIVERSITY.entity_id in problem and PARTNER.entity_id in problem
    assert "same Sakai account" in problem


def test_a_wrong_key_of_another_idp_is_named_with_its_table(tmp_path: Path,
                                                            sim: SakaiSimulator) -> None:
    path, env = configure(tmp_path, sim, {**PARTNER_TABLE, "want_responce_signed": True})
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    assert "unknown key 'idps.partner.want_responce_signed'" in caught.value.problems


def test_the_discovery_protocol_s_default_return_parameter_names_the_idp_too(
        app_services: tuple[FlaskClient, Services]) -> None:
    """A hand-made discovery link without returnIDParam comes back with ``entityID``."""
    client, _ = app_services
    reply = client.get("/sso/saml/login", query_string={"entityID": PARTNER.entity_id},
                       base_url=HOST)
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith(PARTNER.sso_url + "?")


def test_a_configured_idp_whose_metadata_expired_signs_no_one_in(
        tmp_path: Path, sim: SakaiSimulator) -> None:
    """Its validUntil passed and no refresh brought a valid copy: its keys are vouched for no
    more (as a federation's are not), so its login starts nowhere and its answers are refused."""
    import time
    from datetime import UTC, datetime, timedelta

    until = datetime.now(UTC) + timedelta(seconds=3)
    path, env = configure(tmp_path, sim, PARTNER_TABLE)
    partner = PARTNER.metadata_xml().replace(
        "<md:EntityDescriptor ", f'<md:EntityDescriptor validUntil="{until:%Y-%m-%dT%H:%M:%SZ}" ',
        1)
    (tmp_path / "partner.xml").write_text(partner)
    app = create_app(load_settings(path, env))
    client, services = app.test_client(), app.extensions["sso_bridge"]
    request_id, relay = start(client, PARTNER)  # still valid
    time.sleep(max(0.0, until.timestamp() - time.time()) + 1.0)
    reply = client.get("/sso/saml/login", query_string={"idp": PARTNER.entity_id},
                       base_url=HOST)
    assert reply.status_code == 503 and "idp_metadata_unavailable" in reply.text
    reply = post(client, services, PARTNER, request_id, relay, "ann")
    assert reply.status_code == 503 and "idp_metadata_unavailable" in reply.text
    assert sakai_user(sim, "ann@partner") == {}
    request_id, relay = start(client, UNIVERSITY)  # the other IdP is not affected
    assert post(client, services, UNIVERSITY, request_id, relay, "ann").status_code == 302


def test_another_idp_s_metadata_problems_name_its_own_keys(tmp_path: Path,
                                                            sim: SakaiSimulator) -> None:
    path, env = configure(tmp_path, sim, {**PARTNER_TABLE, "metadata_file": "missing.xml",
                                          "metadata_signing_certificate": "missing.pem"})
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(path, env))
    problems = " ".join(caught.value.problems)
    assert "'idps.partner.metadata_signing_certificate': cannot read" in problems
    assert "'idp." not in problems
    path, env = configure(tmp_path, sim, {**PARTNER_TABLE, "metadata_file": "missing.xml"})
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(path, env))
    assert any(p.startswith("'idps.partner.metadata_file': cannot read")
               for p in caught.value.problems), caught.value.problems
