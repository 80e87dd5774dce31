"""A bridge (Flask test client) in front of the Sakai simulator over HTTP, and signed logins.

The learner's whole login goes through the bridge's real ACS route: a response signed by a
test-time IdP, the pending login's cookie, python3-saml's validation, provisioning against the
simulator (which follows sakai-contract.md), the hand-over. Each test gets a fresh simulator.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from sso_bridge.web.views import LOGIN_COOKIE_PREFIX
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BASE = "https://lms.example.edu/sso"
WS_ACCOUNT = "svc-bridge"
WS_PASSWORD = "S3cret-ws-pw!"


@pytest.fixture(scope="session")
def test_idp() -> TestIdp:
    return TestIdp()


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    """A Sakai node with its own ``admin`` and the bridge's web-services account."""
    config = SimConfig(admin_eid=WS_ACCOUNT, admin_password=WS_PASSWORD, users=(
        {"eid": "admin", "first": "Sakai", "last": "Administrator", "type": "",
         "password": "admin-pw", "super_user": True},))
    with SakaiSimulator(config).serve("127.0.0.1", 0) as simulator:
        yield simulator


@dataclass
class Bridge:
    services: Services
    client: FlaskClient
    idp: TestIdp
    sim: SakaiSimulator

    def login(self, eid: str, *, given: str = "Jane", family: str = "Doe",
              email: str | None = None, affiliation: str = "student") -> TestResponse:
        """The learner's login: the IdP's signed response posted to /saml/acs."""
        settings = self.services.settings
        begun = self.services.sp.begin_login(settings.sakai.url + "/portal")
        attributes = {"eduPersonPrincipalName": [eid], "uid": [eid], "mail": [email or eid],
                      "givenName": [given], "sn": [family],
                      "eduPersonAffiliation": ["member", affiliation]}
        xml = self.idp.signed_response(acs_url=settings.acs_url,
                                       sp_entity_id=settings.sp_entity_id,
                                       in_response_to=begun.request_id, name_id=eid,
                                       attributes=attributes, attribute_name_format="basic")
        self.client.set_cookie(LOGIN_COOKIE_PREFIX + begun.relay_token, begun.state, path="/")
        return self.client.post("/saml/acs", data={"SAMLResponse": encode(xml),
                                                   "RelayState": begun.relay_token})

    def calls(self) -> dict[str, int]:
        return dict(requests.get(self.sim.url + "/_sim/calls", timeout=5).json())

    def user(self, eid: str) -> dict[str, Any]:
        reply = requests.get(f"{self.sim.url}/_sim/users/{eid}", timeout=5)
        return dict(reply.json()) if reply.status_code == 200 else {}

    def sessions_of(self, eid: str) -> list[dict[str, Any]]:
        sessions = requests.get(self.sim.url + "/_sim/sessions", timeout=5).json()
        return [s for s in sessions if s["user_eid"] == eid]

    def add_user(self, eid: str, **fields: Any) -> None:
        reply = requests.post(self.sim.url + "/_sim/users", json={"eid": eid, **fields},
                              timeout=5)
        assert reply.status_code == 201, reply.text

    def set_properties(self, eid: str, **properties: str | None) -> None:
        requests.post(f"{self.sim.url}/_sim/users/{eid}/properties", json=properties,
                      timeout=5).raise_for_status()


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """The Sakai calls made between two readings of the simulator's counters."""
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


@pytest.fixture
def make_bridge(tmp_path: Path, test_idp: TestIdp,
                sim: SakaiSimulator) -> Callable[..., Bridge]:
    def make(attributes: dict[str, Any] | None = None, **sakai: Any) -> Bridge:
        """``attributes``: the [attributes] section, if not the default (scoped EIDs)."""
        (tmp_path / "idp.xml").write_text(test_idp.metadata_xml())
        extra: dict[str, Any] = {"sakai": {"admin_user": WS_ACCOUNT, **sakai}}
        if attributes is not None:
            extra["attributes"] = attributes
        path, env = write_config(tmp_path, base_url=BASE, sakai_url=sim.url,
                                 idp={"metadata_file": "idp.xml"}, extra=extra,
                                 sakai_password=WS_PASSWORD)
        app = create_app(load_settings(path, env))
        return Bridge(app.extensions["sso_bridge"], app.test_client(), test_idp, sim)
    return make


@pytest.fixture
def bridge(make_bridge: Callable[..., Bridge]) -> Bridge:
    return make_bridge()
