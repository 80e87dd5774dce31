"""A bridge (Flask test client) configured only through its documented config, in front of the
Sakai simulator, and a solicited login through it with a response of a given shape."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.demo.sakai_sim.state import SimUser
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BRIDGE = "https://bridge.example.org"
ACS = BRIDGE + "/saml/acs"
SP_ENTITY = BRIDGE + "/saml/metadata"


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig(password_hash_rounds=1)).serve("127.0.0.1", 0) as simulator:
        yield simulator


@dataclass
class Login:
    """One solicited login: what the browser got back, and the account in Sakai."""

    status: int
    location: str
    text: str


@dataclass
class InteropBridge:
    client: FlaskClient
    sim: SakaiSimulator
    idp: TestIdp
    sp_cert_pem: str

    def start(self) -> tuple[str, str]:
        """GET /saml/login → (AuthnRequest ID, RelayState), the binding cookie kept."""
        reply = self.client.get(f"/saml/login?target={self.sim.url}/portal",
                                base_url=BRIDGE)
        assert reply.status_code == 302, reply.text
        query = parse_qs(urlsplit(reply.headers["Location"]).query)
        request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        match = re.search(r'\bID="([^"]+)"', request)
        assert match
        return match.group(1), query["RelayState"][0]

    def login(self, respond: Callable[[str], str]) -> Login:
        """A whole solicited login: ``respond(request_id)`` is the IdP's response XML."""
        request_id, relay_state = self.start()
        reply = self.client.post("/saml/acs", base_url=BRIDGE, data={
            "SAMLResponse": encode(respond(request_id)), "RelayState": relay_state})
        return Login(reply.status_code, reply.headers.get("Location", ""), reply.text)

    def user(self, eid: str) -> SimUser:
        found = self.sim.state.find_user(eid)
        assert found is not None, f"no Sakai account {eid!r}; there are " \
            f"{sorted(u.eid for u in self.sim.state.users.values())}"
        return found

    def eids(self) -> set[str]:
        return {u.eid for u in self.sim.state.users.values()}


def make_bridge(tmp_path: Path, sim: SakaiSimulator, idp: TestIdp,
                idp_config: dict[str, Any], extra: dict[str, Any] | None = None) -> InteropBridge:
    (tmp_path / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(tmp_path, base_url=BRIDGE, sakai_url=sim.url,
                             idp={"metadata_file": "idp.xml", **idp_config}, extra=extra)
    app = create_app(load_settings(path, env))
    return InteropBridge(app.test_client(), sim, idp, (tmp_path / "sp.crt").read_text())
