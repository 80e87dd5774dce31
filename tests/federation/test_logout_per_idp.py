"""SP-initiated single logout with several configured IdPs: the learner's LogoutRequest goes to
the IdP they signed in with, never to the first configured one."""

from __future__ import annotations

import base64
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from tests.federation.bridge import BASE, HOST, UNIVERSITY, log_in, member
from tests.federation.factory import NAMESPACES, idp_xml
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

PARTNER = TestIdp("https://idp.partner.example/idp", "https://idp.partner.example/sso")
PARTNER_SLO = "https://idp.partner.example/slo"


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as simulator:
        yield simulator


@pytest.fixture
def bridge(tmp_path: Path, sim: SakaiSimulator) -> tuple[FlaskClient, Services]:
    """``[idp]`` the university (no SLO endpoint), ``[idps.partner]`` with one."""
    partner = idp_xml(member(PARTNER, "partner.example", slo=PARTNER_SLO))
    (tmp_path / "partner.xml").write_text(
        partner.replace("<md:EntityDescriptor ", f"<md:EntityDescriptor {NAMESPACES} ", 1))
    (tmp_path / "uni.xml").write_text(UNIVERSITY.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=sim.url,
                             idp={"metadata_file": "uni.xml"},
                             extra={"idps": {"partner": {"metadata_file": "partner.xml"}}})
    app = create_app(load_settings(path, env))
    return app.test_client(), app.extensions["sso_bridge"]


def sakai_sid(reply: Any) -> str:
    """The Sakai session handed over by the ACS (JSESSIONID=<sid>.<serverId>)."""
    assert reply.status_code == 302, reply.text
    cookie = next(c for c in reply.headers.getlist("Set-Cookie") if c.startswith("JSESSIONID="))
    return str(cookie.split("=", 1)[1].split(";")[0].rsplit(".", 1)[0])


def test_logout_of_a_learner_of_the_second_idp_goes_to_that_idps_slo(
        bridge: tuple[FlaskClient, Services], sim: SakaiSimulator) -> None:
    client, services = bridge
    sid = sakai_sid(log_in(client, services, PARTNER, "pat@partner.example"))
    assert sim.state.get_session(sid) is not None
    reply = client.get("/sso/saml/logout", base_url=HOST)
    assert reply.status_code == 302, reply.text
    location = reply.headers["Location"]
    assert location.startswith(PARTNER_SLO + "?")
    query = parse_qs(urlsplit(location).query)
    assert query["Signature"]
    request_xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    assert "pat" in request_xml and f'Destination="{PARTNER_SLO}"' in request_xml
    assert sim.state.get_session(sid) is None


def test_logout_of_a_learner_of_the_first_idp_does_not_go_to_the_partner(
        bridge: tuple[FlaskClient, Services], sim: SakaiSimulator) -> None:
    """The university publishes no SLO endpoint: Sakai's session ends, the page says so."""
    client, services = bridge
    sid = sakai_sid(log_in(client, services, UNIVERSITY, "uma@uni.example"))
    reply = client.get("/sso/saml/logout", base_url=HOST, headers={"Accept-Language": "en"})
    assert reply.status_code == 200
    assert "You are signed out of Sakai" in reply.text
    assert sim.state.get_session(sid) is None
