"""A bridge trusting a configured IdP and a federation of TestIdps, driven through its routes.

The federation's IdPs are :class:`TestIdp` s (keys made at test time) published in a signed
aggregate (``factory.py``) or by an MDQ service (``servers.py``); a learner's login goes
``/saml/login?idp=`` → the IdP (a signed response made here) → ``/saml/acs`` → the Sakai
simulator, as in ``test_several_idps.py``.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests
from flask.testing import FlaskClient
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso_bridge.demo.sakai_sim import SakaiSimulator
from sso_bridge.services import Services
from tests.federation.factory import Idp, aggregate_xml, idp_xml, sign_aggregate
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BASE = "https://lms.example.edu/sso"
HOST = "https://lms.example.edu"
UNIVERSITY = TestIdp("https://idp.uni.example/idp", "https://idp.uni.example/sso",
                     scopes=("uni.example",))
"""The configured IdP (``[idp]``), scope uni.example."""
COLLEGE = TestIdp("https://idp.college.example/idp", "https://idp.college.example/sso")
"""A federation IdP with its own scope, college.example."""
CLAIMER = TestIdp("https://idp.claimer.example/idp", "https://idp.claimer.example/sso")
"""A federation IdP whose metadata also declares the configured IdP's scope."""
TWIN_A = TestIdp("https://idp.twin-a.example/idp", "https://idp.twin-a.example/sso")
TWIN_B = TestIdp("https://idp.twin-b.example/idp", "https://idp.twin-b.example/sso")
"""Two federation IdPs declaring the same scope, shared.example, each beside its own."""
NEWCOMER = TestIdp("https://idp.new.example/idp", "https://idp.new.example/sso")
FEDERATION = "federations.fed"


def member(idp: TestIdp, *scopes: str, name: str = "", **fields: Any) -> Idp:
    """``idp`` as the federation publishes it (its key, its SSO URL, these scopes)."""
    host = urlsplit(idp.entity_id).hostname or ""
    return Idp(idp.entity_id, scopes=list(scopes), names={"en": name or host},
               certs=[idp.cert_pem], sso=idp.sso_url, **fields)


def members() -> list[Idp]:
    return [member(COLLEGE, "college.example", name="Example College"),
            member(CLAIMER, "claimer.example", "uni.example", name="Claimer"),
            member(TWIN_A, "twin-a.example", "shared.example"),
            member(TWIN_B, "twin-b.example", "shared.example")]


def signed_aggregate(signer_key: str, idps: list[Idp] | None = None,
                     valid_for: timedelta | None = timedelta(days=7)) -> bytes:
    entities = [idp_xml(i) for i in (members() if idps is None else idps)]
    return sign_aggregate(aggregate_xml(entities, valid_for=valid_for), signer_key)


def configure(folder: Path, sim: SakaiSimulator, federation_cert: str,
              federation: dict[str, Any]) -> tuple[Path, dict[str, str]]:
    """bridge.toml: ``[idp]`` the university, ``[federations.fed]`` from ``federation``."""
    (folder / "uni.xml").write_text(UNIVERSITY.metadata_xml())
    (folder / "federation.crt").write_text(federation_cert)
    table = {"signing_certificate": "federation.crt", "max_validity_days": 14, **federation}
    return write_config(folder, base_url=BASE, sakai_url=sim.url,
                        idp={"metadata_file": "uni.xml"},
                        extra={"federations": {"fed": table},
                               "store": {"state_directory": str(folder / "state")}})


def start(client: FlaskClient, idp: TestIdp) -> tuple[str, str]:
    """``/saml/login?idp=``: the AuthnRequest's ID and the RelayState."""
    reply = client.get("/sso/saml/login", query_string={"idp": idp.entity_id}, base_url=HOST)
    assert reply.status_code == 302, reply.text
    location = reply.headers["Location"]
    assert location.startswith(idp.sso_url + "?")
    query = parse_qs(urlsplit(location).query)
    request_xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0])
    request_id = request_xml.decode().split('ID="', 1)[1].split('"', 1)[0]
    return request_id, query["RelayState"][0]


def answer(client: FlaskClient, services: Services, idp: TestIdp, request_id: str,
           relay: str, eppn: str) -> Any:
    """``idp``'s signed response for the learner ``eppn``, posted to the ACS."""
    s = services.settings
    local = eppn.split("@", 1)[0]
    attributes = {"eduPersonPrincipalName": [eppn], "mail": [f"{local}@mail.example"],
                  "givenName": ["Ann"], "sn": ["Lee"], "eduPersonAffiliation": ["student"]}
    xml = idp.signed_response(acs_url=s.acs_url, sp_entity_id=s.sp_entity_id,
                              in_response_to=request_id, name_id=local, attributes=attributes,
                              attribute_name_format="basic")
    return client.post("/sso/saml/acs", data={"SAMLResponse": encode(xml), "RelayState": relay},
                       base_url=HOST)


def log_in(client: FlaskClient, services: Services, idp: TestIdp, eppn: str) -> Any:
    request_id, relay = start(client, idp)
    return answer(client, services, idp, request_id, relay, eppn)


def sakai_user(sim: SakaiSimulator, eid: str) -> dict[str, Any]:
    reply = requests.get(f"{sim.url}/_sim/users/{eid}", timeout=5)
    return dict(reply.json()) if reply.status_code == 200 else {}


def sakai_calls(sim: SakaiSimulator) -> dict[str, int]:
    return dict(requests.get(f"{sim.url}/_sim/calls", timeout=5).json())
