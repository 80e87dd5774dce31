"""The bridge against python3-saml used alone: never looser, same readings.

Each case is validated twice: by python3-saml 1.16.0 strict as an application would use it
(``OneLogin_Saml2_Response`` with the bridge's settings, ``is_valid``, the getters), and by the
bridge (``checks.precheck`` + ``ResponseValidator.validate``: its pre-checks, its choice of SP
key, python3-saml's ``is_valid``, its stricter checks, its reading of the assertion). The
bridge must refuse whatever python3-saml refuses; where both accept, NameID, attributes,
session index and assertion ID must be equal. The cases where the bridge alone refuses are
named: its stricter checks (saml-hardening.md, section D).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
from onelogin.saml2.response import OneLogin_Saml2_Response

from sso_bridge.errors import SamlError
from sso_bridge.saml import checks
from tests.saml.conftest import ACS, SP_ENTITY, Bridge
from tests.samlfactory import attacks
from tests.samlfactory.encrypt import encrypt_assertion
from tests.samlfactory.idp import EPPN_NAMES, encode

REQUEST_ID = "_r1"
REQUESTER = "urn:oasis:names:tc:SAML:2.0:status:Requester"
EPPN = sorted(EPPN_NAMES)[0]


def _python3_saml(bridge: Bridge, xml: str,
                  request_id: str | None = REQUEST_ID) -> dict[str, Any] | None:
    try:
        answer = OneLogin_Saml2_Response(bridge.sp.saml_settings, encode(xml))
        if not answer.is_valid(bridge.sp._request_data, request_id=request_id):
            return None
        return {"name_id": answer.get_nameid(), "format": answer.get_nameid_format(),
                "session_index": answer.get_session_index(),
                "attributes": answer.get_attributes(),
                "friendly": answer.get_friendlyname_attributes(),
                "assertion_id": answer.get_assertion_id()}
    except Exception:  # a refusal, whichever way python3-saml says it
        return None


def _bridge(bridge: Bridge, xml: str, request_id: str | None = REQUEST_ID) -> dict[str, Any] | None:
    """The bridge's validation and reading, the attribute map (scopes, EID rules) left out."""
    posted = encode(xml)
    validator = bridge.sp.default.validator
    try:
        valid = validator.validate(posted, checks.precheck(posted, 1_000_000).document,
                                   request_id, time.time())
    except SamlError:
        return None
    a = valid.assertion
    return {"name_id": a.name_id, "format": a.name_id_format, "session_index": a.session_index,
            "attributes": a.attributes, "friendly": a.friendly_attributes,
            "assertion_id": valid.assertion_id}


def _same(bridge: Bridge, xml: str) -> dict[str, Any] | None:
    ours, theirs = _bridge(bridge, xml), _python3_saml(bridge, xml)
    assert ours == theirs
    return ours


HOSTILE: list[Callable[[str], str]] = [
    attacks.xsw1, attacks.xsw2, attacks.xsw3, attacks.xsw4, attacks.xsw5, attacks.xsw6,
    attacks.xsw7, attacks.xsw8, attacks.second_assertion_appended, attacks.assertion_in_advice,
    attacks.decoy_id_in_extensions, attacks.strip_signatures, attacks.empty_signature_value,
    attacks.edit_name_id_after_signing, attacks.xxe_file, attacks.billion_laughs,
    attacks.doctype_internal_attlist, attacks.doctype_external_system,
]


def test_a_genuine_response_reads_the_same(bridge: Bridge) -> None:
    seen = _same(bridge, bridge.response(REQUEST_ID))
    assert seen is not None and seen["name_id"] == "alice@example.org"
    assert seen["attributes"] and seen["friendly"]


def test_friendly_names_and_basic_name_format_read_the_same(bridge: Bridge) -> None:
    assert _same(bridge, bridge.response(REQUEST_ID, attribute_name_format="basic"))


def test_repeated_attribute_names_read_the_same(bridge: Bridge) -> None:
    """Keycloak sends one Attribute per role; python3-saml (allowRepeatAttributeName) merges
    them in document order, and so does the bridge."""
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                    in_response_to=REQUEST_ID,
                                    attributes={EPPN: ["keycloak@example.org"],
                                                "Role": ["student"]})
    role = xml[xml.index('<saml:Attribute Name="Role"'):]
    role = role[:role.index("</saml:Attribute>") + len("</saml:Attribute>")]
    xml = xml.replace(role, role + role.replace(">student<", ">tutor<"))
    seen = _same(bridge, bridge.idp.sign(xml))
    assert seen is not None and seen["attributes"]["Role"] == ["student", "tutor"]


def test_unusual_attribute_values_read_the_same(bridge: Bridge) -> None:
    """Empty and blank values, a value with surrounding space, a nested NameID
    (eduPersonTargetedID), an Attribute without values."""
    saml = "urn:oasis:names:tc:SAML:2.0:assertion"
    extra = (
        f'<saml:Attribute xmlns:saml="{saml}" Name="urn:oid:1.3.6.1.4.1.5923.1.1.1.10" '
        'FriendlyName="eduPersonTargetedID"><saml:AttributeValue><saml:NameID '
        'Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent" '
        'NameQualifier="https://idp.test.example/idp">opaque-id</saml:NameID>'
        '</saml:AttributeValue></saml:Attribute>'
        f'<saml:Attribute xmlns:saml="{saml}" Name="urn:x:blank"><saml:AttributeValue/>'
        '<saml:AttributeValue>   </saml:AttributeValue>'
        '<saml:AttributeValue>  kept  </saml:AttributeValue></saml:Attribute>'
        f'<saml:Attribute xmlns:saml="{saml}" Name="urn:x:none" FriendlyName="none"/>')
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                    in_response_to=REQUEST_ID)
    xml = xml.replace("</saml:AttributeStatement>", extra + "</saml:AttributeStatement>", 1)
    seen = _same(bridge, bridge.idp.sign(xml))
    assert seen is not None
    assert seen["attributes"]["urn:x:blank"] == ["kept"]
    assert seen["attributes"]["urn:x:none"] == seen["friendly"]["none"] == []
    assert seen["friendly"]["eduPersonTargetedID"][0]["NameID"]["value"] == "opaque-id"


@pytest.mark.parametrize("attack", HOSTILE, ids=lambda f: f.__name__)
def test_both_refuse_the_hostile_catalogue(bridge: Bridge, attack: Callable[[str], str]) -> None:
    assert _same(bridge, attack(bridge.response(REQUEST_ID))) is None


@pytest.mark.parametrize("injection", ["comment", "cdata", "pi"])
def test_split_values_read_the_same(bridge: Bridge, injection: str) -> None:
    signed = bridge.response(REQUEST_ID, name_id="victim@example.org.evil.org",
                             attributes={EPPN: ["victim@example.org.evil.org"]})
    seen = _same(bridge, attacks.comment_in_name_id(signed, "victim@example.org",
                                                    injection))  # type: ignore[arg-type]
    if seen is not None:  # a PI breaks the signature; comments and CDATA do not
        assert seen["name_id"] == "victim@example.org.evil.org"


@pytest.mark.parametrize("kwargs", [
    {"sign_assertion": False}, {"sign_response": False}, {"algorithm": "sha1"},
    {"conditions_not_on_or_after": -900}, {"conditions_not_before": 900},
    {"status_code": REQUESTER}, {"session_not_on_or_after": -10}, {"issuer": "https://evil"},
    {"in_response_to": "_other"}, {"audience": "https://other-sp"},
    {"name_id_sp_name_qualifier": "https://other-sp"}, {"scd_not_on_or_after": -10},
    {"sign_response": False, "sign_assertion": False},
], ids=["unsigned-assertion", "unsigned-response", "sha1", "expired", "not-yet-valid",
        "status", "session-over", "issuer", "in-response-to", "audience", "spnq",
        "scd-expired", "unsigned"])
def test_both_judge_bad_fields_alike(bridge: Bridge, kwargs: dict[str, Any]) -> None:
    xml = bridge.response(kwargs.pop("in_response_to", REQUEST_ID), **kwargs)
    seen = _same(bridge, xml)
    # Both signatures are required by the bridge's defaults, so one missing is a refusal too.
    assert seen is None


@pytest.mark.parametrize("kwargs", [
    {"audience": None}, {"recipient": ACS + "/x"}, {"recipient": None},
    {"destination": ACS + "/x"}, {"destination": None}, {"scd_not_on_or_after": None},
    {"scd_not_on_or_after": 365 * 86400}, {"issue_instant": -7200},
    {"conditions_not_on_or_after": -200},
], ids=["no-audience", "recipient-suffix", "no-recipient", "destination-suffix",
        "no-destination", "scd-without-not-on-or-after", "valid-for-a-year", "two-hours-old",
        "expired-within-python3-saml-s-drift-but-not-the-configured-skew"])
def test_the_bridge_alone_refuses_what_its_stricter_checks_name(
        bridge: Bridge, kwargs: dict[str, Any]) -> None:
    xml = bridge.response(REQUEST_ID, **kwargs)
    assert _python3_saml(bridge, xml) is not None
    assert _bridge(bridge, xml) is None


def test_an_encrypted_assertion_reads_the_same(make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True)
    idp = bridge.idp
    sp_cert = bridge.settings.path(bridge.settings.sp.certificate_file).read_text()
    for name_id in ("alice@example.org", "victim@example.org.evil.org"):
        xml = idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=REQUEST_ID,
                                 name_id=name_id)
        signed = idp.sign(xml, response=False, assertion=True)
        if name_id.startswith("victim"):  # a comment inside the encrypted NameID
            signed = attacks.comment_in_name_id(signed, "victim@example.org", "comment")
        encrypted = idp.sign(encrypt_assertion(signed, sp_cert), response=True, assertion=False)
        seen = _same(bridge, encrypted)
        assert seen is not None and seen["name_id"] == name_id


def test_the_parser_has_python3_saml_s_settings() -> None:
    from onelogin.saml2.xmlparser import GlobalParserTLS

    assert GlobalParserTLS.parser_config == checks.PARSER_OPTIONS


def test_a_clock_skew_above_python3_saml_s_drift_is_refused_at_start_up(
        tmp_path: Any, test_idp: Any) -> None:
    """python3-saml allows a fixed 300 s on Conditions: a larger setting would loosen only the
    bridge's own checks, so it is a configuration error naming the key."""
    from onelogin.saml2.constants import OneLogin_Saml2_Constants

    from sso_bridge.errors import ConfigError
    from tests.saml.conftest import build_bridge

    assert OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT == 300  # settings.py's limit
    with pytest.raises(ConfigError, match="'idp.clock_skew_seconds': at most 300 seconds"):
        build_bridge(tmp_path, test_idp, {"clock_skew_seconds": 301})
    bridge = build_bridge(tmp_path, test_idp, {"clock_skew_seconds": 300})
    xml = bridge.response(REQUEST_ID, conditions_not_on_or_after=-320)  # beyond 300
    assert _python3_saml(bridge, xml) is None
    assert _bridge(bridge, xml) is None


def test_an_encrypted_name_id_reads_the_same(bridge: Bridge) -> None:
    from tests.samlfactory.encrypt import encrypt_name_id

    idp = bridge.idp
    sp_cert = bridge.settings.path(bridge.settings.sp.certificate_file).read_text()
    xml = idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=REQUEST_ID,
                             name_id="hidden@example.org")
    signed = idp.sign(encrypt_name_id(xml, sp_cert), response=True, assertion=True)
    assert "EncryptedID" in signed and "<saml:NameID" not in signed
    seen = _same(bridge, signed)
    assert seen is not None and seen["name_id"] == "hidden@example.org"


def test_the_bridge_alone_refuses_a_solicited_assertion_posted_as_unsolicited(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(allow_unsolicited=True, want_response_signed=False)
    xml = attacks.solicited_assertion_posted_unsolicited(
        bridge.response("_victims_request", sign_response=False))
    assert _python3_saml(bridge, xml, request_id=None) is not None
    assert _bridge(bridge, xml, request_id=None) is None
