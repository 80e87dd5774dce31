"""Self-tests: the factory's responses are accepted by python3-saml 1.16.0 when genuine, and its
hostile variants fail for the reason the attack targets (so the lead's tests test the SP)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import onelogin.saml2.utils as saml_utils
import pytest
import xmlsec
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from . import attacks
from .idp import (
    DEFAULT_NAME_ID,
    EVIL_NAME_ID,
    NS,
    TestIdp,
    cert_body,
    encode,
    generate_key_and_cert,
)

ACS = "https://sp.test.example/saml/acs"
SP = "https://sp.test.example/saml/metadata"
REQUEST_ID = "_req0123456789abcdef"
REQUEST_DATA = {"https": "on", "http_host": "sp.test.example", "script_name": "/saml/acs",
                "server_port": "443"}
EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
ONE_ASSERTION = "SAML Response must contain 1 assertion"
BAD_SIGNATURE = "Signature validation failed. SAML Response rejected"


@pytest.fixture(autouse=True)
def vanilla_python3_saml(monkeypatch: pytest.MonkeyPatch) -> None:
    """Measure stock python3-saml even if the bridge's process-wide xmlsec policy
    (sso_bridge.saml.xmlsec_policy.install) was installed by another test in this session."""
    monkeypatch.setattr(saml_utils, "xmlsec", xmlsec)


@pytest.fixture(scope="module")
def idp() -> TestIdp:
    return TestIdp()


def settings(idp: TestIdp, *, assertions: bool = True, messages: bool = True,
             reject_deprecated: bool = True) -> OneLogin_Saml2_Settings:
    return OneLogin_Saml2_Settings({
        "strict": True,
        "sp": {"entityId": SP, "assertionConsumerService": {
            "url": ACS, "binding": "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"}},
        "idp": idp.idp_settings(),
        "security": {"wantAssertionsSigned": assertions, "wantMessagesSigned": messages,
                     "rejectDeprecatedAlgorithm": reject_deprecated},
    }, sp_validation_only=True)


def check(idp: TestIdp, xml: str, **kw: bool) -> OneLogin_Saml2_Response:
    """Validate like the ACS does; the returned Response carries ``_valid`` for asserts."""
    response = OneLogin_Saml2_Response(settings(idp, **kw), encode(xml))
    response._valid = response.is_valid(REQUEST_DATA, request_id=REQUEST_ID)  # type: ignore[attr-defined]
    return response


def signed(idp: TestIdp, **kw: Any) -> str:
    return idp.signed_response(acs_url=ACS, sp_entity_id=SP, in_response_to=REQUEST_ID, **kw)


def test_metadata_is_parsed_by_python3_saml(idp: TestIdp) -> None:
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(idp.metadata_xml())["idp"]
    assert parsed["entityId"] == idp.entity_id
    assert parsed["singleSignOnService"]["url"] == idp.sso_url
    assert parsed["x509cert"] == cert_body(idp.cert_pem)


@pytest.mark.parametrize(("sign_response", "sign_assertion"),
                         [(True, True), (True, False), (False, True)])
def test_signed_response_is_valid(idp: TestIdp, sign_response: bool, sign_assertion: bool) -> None:
    xml = signed(idp, sign_response=sign_response, sign_assertion=sign_assertion)
    r = check(idp, xml, assertions=sign_assertion, messages=sign_response)
    assert r._valid, r.get_error()  # type: ignore[attr-defined]
    assert r.get_nameid() == "alice@example.org"
    assert r.get_attributes()[EPPN] == ["alice@example.org"]
    assert len(r.get_attributes()) == 6


def test_signature_placement(idp: TestIdp) -> None:
    root = etree.fromstring(signed(idp).encode())
    assertion = root.find(f"{{{NS['saml']}}}Assertion")
    for element in (root, assertion):
        assert etree.QName(element[1]).localname == "Signature"  # right after Issuer
        ref = element[1].find(f".//{{{NS['ds']}}}Reference")
        assert ref.get("URI") == "#" + element.get("ID")


def test_unsigned_and_strict_flags(idp: TestIdp) -> None:
    unsigned = idp.build_response(acs_url=ACS, sp_entity_id=SP, in_response_to=REQUEST_ID)
    assert not check(idp, unsigned)._valid  # type: ignore[attr-defined]
    only_response = signed(idp, sign_assertion=False)
    assert "Assertion of the Response is not signed" in check(idp, only_response).get_error()


def test_sha1_is_a_real_signature_rejected_only_by_policy(idp: TestIdp) -> None:
    xml = signed(idp, algorithm="sha1")
    assert "Deprecated signature algorithm" in check(idp, xml).get_error()
    assert check(idp, xml, reject_deprecated=False)._valid  # type: ignore[attr-defined]


@pytest.mark.parametrize("embed_attacker_cert", [False, True])
def test_signed_by_key_not_in_metadata(idp: TestIdp, embed_attacker_cert: bool) -> None:
    key, cert = generate_key_and_cert("attacker.example")
    xml = idp.build_response(acs_url=ACS, sp_entity_id=SP, in_response_to=REQUEST_ID)
    xml = idp.sign(xml, key_pem=key, cert_pem=cert if embed_attacker_cert else None)
    assert check(idp, xml).get_error() == BAD_SIGNATURE


@pytest.mark.parametrize("name", sorted(attacks.XSW))
def test_xsw_variants_are_rejected(idp: TestIdp, name: str) -> None:
    attack: Callable[[str, str], str] = attacks.XSW[name]
    response_sig = name in ("xsw1", "xsw2")
    for xml, kw in (
        (attack(signed(idp), EVIL_NAME_ID), {}),
        (attack(signed(idp, sign_assertion=not response_sig, sign_response=response_sig),
                EVIL_NAME_ID), {"assertions": not response_sig, "messages": response_sig}),
    ):
        name_ids = [n.text for n in etree.fromstring(xml.encode()).iter(f"{{{NS['saml']}}}NameID")]
        assert sorted(set(name_ids)) == [DEFAULT_NAME_ID, EVIL_NAME_ID]  # genuine + evil copies
        r = check(idp, xml, **kw)
        assert r.get_error() == ONE_ASSERTION


def test_decoy_id_is_harmless_without_response_signature(idp: TestIdp) -> None:
    xml = attacks.decoy_id_in_extensions(signed(idp, sign_response=False))
    r = check(idp, xml, messages=False)
    assert r._valid and r.get_nameid() == "alice@example.org"  # type: ignore[attr-defined]


@pytest.mark.parametrize("injection", ["comment", "pi", "cdata"])
def test_comment_injection_keeps_signature_and_full_value(idp: TestIdp, injection: str) -> None:
    xml = attacks.comment_in_name_id(signed(idp, name_id="victim@example.org.evil.org"),
                                     injection=injection)  # type: ignore[arg-type]
    assert {"comment": "<!---->", "pi": "<?x?>", "cdata": "<![CDATA["}[injection] in xml
    r = check(idp, xml)
    assert r._valid, r.get_error()  # type: ignore[attr-defined]
    assert r.get_nameid() == "victim@example.org.evil.org"
    assert r.get_attributes()[EPPN] == ["victim@example.org.evil.org"]


@pytest.mark.parametrize("attack", [attacks.strip_signatures, attacks.empty_signature_value,
                                    attacks.edit_name_id_after_signing])
def test_tampering_is_rejected(idp: TestIdp, attack: Callable[[str], str]) -> None:
    assert not check(idp, attack(signed(idp)))._valid  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", sorted(attacks.DOCTYPE))
def test_doctype_variants_raise_in_constructor(idp: TestIdp, name: str) -> None:
    xml = attacks.DOCTYPE[name](signed(idp))
    assert xml.startswith("<!DOCTYPE")
    # DTDForbidden, except billion laughs: libxml2's amplification limit -> XMLSyntaxError
    with pytest.raises(Exception, match="DTDForbidden|amplification"):
        OneLogin_Saml2_Response(settings(idp), encode(xml))


@pytest.mark.parametrize("target", ["assertion", "response"])
def test_xslt_transform_small_padding(idp: TestIdp, target: str) -> None:
    xml = attacks.xslt_transform(signed(idp), payload_padding=20, target=target)  # type: ignore[arg-type]
    assert attacks.XSLT_ALG in xml and xml.count("<pad:p/>") == 20
    r = check(idp, xml, messages=target == "response")
    assert r.get_error() == BAD_SIGNATURE  # i.e. it got as far as running the transform


@pytest.mark.parametrize("attack", [attacks.extra_reference, attacks.xpath_filter_transform])
def test_signed_info_tampering_is_rejected(idp: TestIdp, attack: Callable[[str], str]) -> None:
    assert check(idp, attack(signed(idp))).get_error() == BAD_SIGNATURE


def test_signature_object_keeps_a_valid_signature(idp: TestIdp) -> None:
    xml = attacks.signature_object(signed(idp))
    assert "<ds:Object" in xml
    assert check(idp, xml)._valid  # type: ignore[attr-defined]  # python3-saml has no policy


def test_builder_omissions_and_offsets(idp: TestIdp) -> None:
    xml = idp.build_response(acs_url=ACS, sp_entity_id=SP, in_response_to=None, audience=None,
                             destination=None, recipient=None, scd_not_on_or_after=None,
                             conditions_not_on_or_after=None, attribute_name_format="basic")
    for absent in ("AudienceRestriction", "Destination", "Recipient", "InResponseTo",
                   "SubjectConfirmationData NotOnOrAfter", "urn:oid:"):
        assert absent not in xml
    assert 'Name="eduPersonPrincipalName"' in xml and "attrname-format:basic" in xml
    expired = signed(idp, conditions_not_before=-1200, conditions_not_on_or_after=-600)
    assert "expired" in check(idp, expired).get_error().lower()
    wrong_audience = signed(idp, audience="https://other-sp/")
    assert "is not a valid audience" in check(idp, wrong_audience).get_error()
