"""The happy path through the SAML core: a signed AuthnRequest out, an Identity back."""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.saml.conftest import ACS, SAKAI, SP_ENTITY, Bridge, build_bridge
from tests.samlfactory.idp import TestIdp


def test_begin_login_sends_a_signed_authn_request_with_an_opaque_relay_state(
        bridge: Bridge) -> None:
    start = bridge.start(SAKAI + "/portal/site/math101")
    url = urlsplit(start.redirect_url)
    query = parse_qs(url.query)
    assert f"{url.scheme}://{url.netloc}{url.path}" == bridge.idp.sso_url
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    assert query["Signature"][0]
    assert query["RelayState"] == [start.relay_token]
    assert "lms.example.edu" not in query["RelayState"][0]
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    assert f'ID="{start.request_id}"' in request
    assert f'AssertionConsumerServiceURL="{ACS}"' in request
    assert f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>" in request
    assert "RequestedAuthnContext" not in request


def test_a_valid_response_yields_the_identity_and_the_target(bridge: Bridge) -> None:
    start = bridge.start(SAKAI + "/portal/site/math101")
    xml = bridge.response(start.request_id, attributes={
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": [" Jane.Doe@Example.EDU "],
        "urn:oid:2.5.4.42": ["Jane"], "urn:oid:2.5.4.4": ["Doe"],
        "urn:oid:0.9.2342.19200300.100.1.3": ["jane.doe@example.edu"],
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": ["Member", "student"]})
    result = bridge.post(xml, start.relay_token)
    assert result.target == SAKAI + "/portal/site/math101"
    assert not result.unsolicited
    identity = result.identity
    assert identity.eid == "jane.doe@example.edu"
    assert (identity.given_name, identity.family_name) == ("Jane", "Doe")
    assert identity.email == "jane.doe@example.edu"
    assert identity.affiliations == ("member", "student")
    assert identity.idp_entity_id == bridge.idp.entity_id
    assert identity.session_index


def test_friendly_attribute_names_map_like_oids(bridge: Bridge) -> None:
    result = bridge.login(attribute_name_format="basic", attributes={
        "eduPersonPrincipalName": ["bob@example.org"], "givenName": ["Bob"], "sn": ["Brown"],
        "mail": ["bob@example.org"], "eduPersonAffiliation": ["faculty"]})
    assert result.identity.eid == "bob@example.org"
    assert result.identity.given_name == "Bob"
    assert result.identity.affiliations == ("faculty",)



def test_sp_metadata_is_signed_when_configured(tmp_path: Path, test_idp: TestIdp) -> None:
    (tmp_path / "plain").mkdir()
    (tmp_path / "signed").mkdir()
    plain = build_bridge(tmp_path / "plain", test_idp).sp.metadata()
    signed = build_bridge(tmp_path / "signed", test_idp,
                          extra={"sp": {"sign_metadata": True}}).sp.metadata()
    assert "<ds:Signature" not in plain
    assert "<ds:Signature" in signed and "rsa-sha256" in signed
