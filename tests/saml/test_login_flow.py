"""The happy path through the SAML core: a signed AuthnRequest out, an Identity back."""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from sso_bridge.errors import ConfigError
from sso_bridge.saml.sp import LoginStart
from tests.saml.conftest import ACS, SAKAI, SP_ENTITY, Bridge, build_bridge
from tests.samlfactory.idp import TestIdp


def _redirect(start: LoginStart) -> tuple[str, dict[str, list[str]], str]:
    """(IdP URL, query, AuthnRequest XML) of a login start."""
    url = urlsplit(start.redirect_url)
    query = parse_qs(url.query)
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    return f"{url.scheme}://{url.netloc}{url.path}", query, request


def test_begin_login_sends_an_authn_request_with_an_opaque_relay_state(bridge: Bridge) -> None:
    start = bridge.start(SAKAI + "/portal/site/math101")
    idp_url, query, request = _redirect(start)
    assert idp_url == bridge.idp.sso_url
    assert query["RelayState"] == [start.relay_token]
    assert "lms.example.edu" not in query["RelayState"][0]
    assert f'ID="{start.request_id}"' in request
    assert f'AssertionConsumerServiceURL="{ACS}"' in request
    assert f"<saml:Issuer>{SP_ENTITY}</saml:Issuer>" in request
    assert "RequestedAuthnContext" not in request
    # The test IdP's metadata says WantAuthnRequestsSigned="false": "auto" does not sign.
    assert "Signature" not in query and "SigAlg" not in query


def _assert_signed_by_sp(bridge: Bridge, start: LoginStart) -> None:
    url = urlsplit(start.redirect_url)
    query = parse_qs(url.query)
    assert query["SigAlg"] == ["http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"]
    raw = dict(pair.split("=", 1) for pair in url.query.split("&"))  # as sent, still encoded
    signed = "&".join(f"{name}={raw[name]}" for name in ("SAMLRequest", "RelayState", "SigAlg"))
    certificate = x509.load_pem_x509_certificate(
        bridge.settings.path(bridge.settings.sp.certificate_file).read_bytes())
    certificate.public_key().verify(  # type: ignore[union-attr,call-arg]
        base64.b64decode(query["Signature"][0]), signed.encode(),
        padding.PKCS1v15(), hashes.SHA256())  # type: ignore[arg-type]


def test_authn_requests_are_signed_when_the_idp_metadata_asks(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, TestIdp(want_signed_requests=True))
    _assert_signed_by_sp(bridge, bridge.start())


def test_authn_requests_are_signed_always_when_configured(tmp_path: Path,
                                                          test_idp: TestIdp) -> None:
    bridge = build_bridge(tmp_path, test_idp, extra={"sp": {"sign_authn_requests": "always"}})
    _assert_signed_by_sp(bridge, bridge.start())


def test_never_signing_for_an_idp_that_wants_signed_requests_is_a_config_error(
        tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="'sp.sign_authn_requests'.*WantAuthnRequestsSigned"):
        build_bridge(tmp_path, TestIdp(want_signed_requests=True),
                     extra={"sp": {"sign_authn_requests": "never"}})


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


def test_a_response_whose_base64_is_wrapped_in_lines_is_accepted(bridge: Bridge) -> None:
    import textwrap

    from tests.samlfactory.idp import encode

    start = bridge.start()
    posted = "\r\n".join(textwrap.wrap(encode(bridge.response(start.request_id)), 76))
    state = bridge.cookies["browser-1"][start.relay_token]
    assert bridge.sp.complete_login(posted, start.relay_token, state).identity.eid
