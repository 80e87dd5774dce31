"""python3-saml's caches are in force, and change no result (pinned python3-saml 1.16.0).

Each replaced function is compared with the original it replaces, on genuine and hostile
input. If the
installed python3-saml is not byte-for-byte the one the caches were written for, the first
test fails and the bridge falls back to stock python3-saml
(``tests/web/test_python3_saml_caches_status.py``: and says so).
"""

from __future__ import annotations

import base64
import random
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import onelogin.saml2.utils as saml_utils
import pytest
import xmlsec
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge.saml import python3_saml_caches as caches
from sso_bridge.saml import xmlsec_policy
from tests.saml.conftest import ACS, SP_ENTITY, Bridge, build_bridge
from tests.samlfactory import attacks
from tests.samlfactory.idp import TestIdp

ORIGINAL_QUERY = caches.ORIGINALS["query"]
ORIGINAL_VALIDATE_XML = caches.ORIGINALS["validate_xml"]
ORIGINAL_PARSE_TIME = caches.ORIGINALS["parse_SAML_to_time"]


def test_python3_saml_is_the_version_and_the_code_the_caches_were_written_for() -> None:
    assert version("python3-saml") == caches.PINNED_VERSION == "1.16.0"
    assert caches.source_fingerprints() == caches.FINGERPRINTS
    assert caches.problems() == []


def test_the_service_provider_installs_every_cache(bridge: Bridge) -> None:
    assert caches.installed()
    assert OneLogin_Saml2_XML.validate_xml is caches.validate_xml
    assert OneLogin_Saml2_XML.query is caches.query
    assert OneLogin_Saml2_Utils.parse_SAML_to_time is caches.parse_saml_to_time
    assert saml_utils.xmlsec.Key is caches.CachedKey
    # ...on top of the libxmlsec1 transform allow-list, which stays in force.
    assert xmlsec_policy.installed()


# --- compiled schemas ----------------------------------------------------------------------


def _responses(idp: TestIdp) -> dict[str, str]:
    good = idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="_r1")
    return {
        "genuine": good,
        "unknown-element": good.replace("<saml:Conditions", "<saml:Bogus/><saml:Conditions", 1),
        "missing-version": good.replace(' Version="2.0"', "", 1),
        "missing-id": good.replace(' ID="', ' XID="', 1),
        "bad-datetime": good.replace('IssueInstant="', 'IssueInstant="x', 1),
        "not-xml": "<samlp:Response",
    }


@pytest.mark.parametrize("case", ["genuine", "unknown-element", "missing-version",
                                  "missing-id", "bad-datetime", "not-xml"])
def test_cached_schema_validation_gives_the_original_verdict(test_idp: TestIdp,
                                                              case: str) -> None:
    xml = _responses(test_idp)[case].encode()
    for _ in range(2):  # the first call compiles, the second uses the cache
        ours = caches.validate_xml(xml, "saml-schema-protocol-2.0.xsd")
        theirs = ORIGINAL_VALIDATE_XML(xml, "saml-schema-protocol-2.0.xsd")
        assert isinstance(ours, str) == isinstance(theirs, str)
        if isinstance(ours, str):
            assert ours == theirs
    assert (case == "genuine") == (not isinstance(ours, str))


def test_metadata_is_checked_against_the_metadata_schema(bridge: Bridge) -> None:
    xml = bridge.sp.saml_settings.get_sp_metadata()
    assert bridge.sp.saml_settings.validate_metadata(xml) == []
    broken = xml.replace(b"<md:SPSSODescriptor", b"<md:Nonsense/><md:SPSSODescriptor", 1)
    assert caches.validate_xml(broken, "saml-schema-metadata-2.0.xsd") == "invalid_xml"
    assert ORIGINAL_VALIDATE_XML(broken, "saml-schema-metadata-2.0.xsd") == "invalid_xml"


def test_each_thread_compiles_its_own_schema_once(test_idp: TestIdp) -> None:
    xml = _responses(test_idp)["genuine"].encode()
    seen: list[Any] = []

    def validate() -> None:
        for _ in range(3):
            assert not isinstance(caches.validate_xml(xml, "saml-schema-protocol-2.0.xsd"), str)
        seen.append(caches.schema("saml-schema-protocol-2.0.xsd"))

    threads = [threading.Thread(target=validate) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({id(schema) for schema in seen}) == 4


# --- compiled XPath ------------------------------------------------------------------------


QUERIES = [
    "/samlp:Response/saml:Issuer", "//saml:Assertion", "//ds:Signature",
    "//saml:EncryptedAssertion",
    OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH, OneLogin_Saml2_Utils.ASSERTION_SIGNATURE_XPATH,
    "/samlp:Response/saml:Assertion/ds:Signature/ds:SignedInfo/ds:Reference",
    "/samlp:Response/saml:Assertion[@ID=$tagid]/saml:Subject/saml:NameID",
    "/samlp:Response/saml:Assertion[@ID=$tagid]/saml:AttributeStatement/saml:Attribute",
    "/samlp:Response[@ID=$tagid]/saml:Assertion/saml:Conditions",
]


@pytest.mark.parametrize("attack", [None, attacks.xsw1, attacks.xsw3, attacks.xsw7,
                                    attacks.second_assertion_appended])
def test_compiled_xpath_finds_exactly_what_element_xpath_finds(
        test_idp: TestIdp, attack: Callable[[str], str] | None) -> None:
    xml = test_idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="_r1")
    document = OneLogin_Saml2_XML.to_etree((attack(xml) if attack else xml).encode())
    ids = [None, *(e.get("ID") for e in document.iter() if e.get("ID"))]
    for expression in QUERIES:
        for tagid in ids if "$tagid" in expression else [None]:
            ours = _outcome(caches.query, document, expression, None, tagid)
            theirs = _outcome(ORIGINAL_QUERY, document, expression, None, tagid)
            assert ours == theirs, (expression, tagid)
    signature = document.find(f"{{{Constants.NS_DS}}}Signature")
    assert caches.query(document, ".//ds:Reference", signature) == \
        ORIGINAL_QUERY(document, ".//ds:Reference", signature)


# --- timestamps ----------------------------------------------------------------------------


def _outcome(function: Callable[..., Any], *args: Any) -> Any:
    try:
        return function(*args)
    except Exception as exc:  # e.g. ValueError, a bare Exception, XPathEvalError
        return type(exc)


TIMESTAMPS = [
    "2024-02-29T12:00:00Z", "2023-02-29T12:00:00Z", "2024-13-01T00:00:00Z",
    "2024-12-31T24:00:00Z", "2016-12-31T23:59:60Z", "2024-01-01T00:00:00.123Z",
    "2024-01-01T00:00:00.123456789Z", "2024-02-30T00:00:00.5Z", "2024-01-01T00:00:00.Z",
    "2024-01-01T00:00:00", "2024-01-01T00:00:00z",
    "2024-01-01 00:00:00Z", "2024-1-01T00:00:00Z", "\u0662\u0660\u0662\u0664-01-01T00:00:00Z",
    "1970-01-01T00:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z", "",
    "2024-01-01T00:00:00Z\n", " 2024-01-01T00:00:00Z", "2024-01-01T00:00:00+01:00",
]


@pytest.mark.parametrize("value", TIMESTAMPS)
def test_fast_time_parsing_agrees_with_strptime(value: str) -> None:
    assert _outcome(caches.parse_saml_to_time, value) == _outcome(ORIGINAL_PARSE_TIME, value)


def test_fast_time_parsing_agrees_on_random_instants() -> None:
    rng = random.Random(5)
    start = datetime(1971, 1, 1, tzinfo=UTC)
    for _ in range(2000):
        instant = start + timedelta(seconds=rng.randrange(0, 4_000_000_000))
        value = instant.strftime("%Y-%m-%dT%H:%M:%SZ")
        assert caches.parse_saml_to_time(value) == ORIGINAL_PARSE_TIME(value) == \
            int(instant.timestamp())
        with_fraction = value[:-1] + f".{rng.randrange(0, 10**9)}Z"
        assert caches.parse_saml_to_time(with_fraction) == ORIGINAL_PARSE_TIME(with_fraction)


# --- IdP public keys -----------------------------------------------------------------------


def _verdicts(xml: str, cert: str) -> list[bool]:
    verdicts = []
    for xpath in (OneLogin_Saml2_Utils.RESPONSE_SIGNATURE_XPATH,
                  OneLogin_Saml2_Utils.ASSERTION_SIGNATURE_XPATH):
        document = OneLogin_Saml2_XML.to_etree(xml.encode())
        verdicts.append(bool(OneLogin_Saml2_Utils.validate_sign(document, cert, xpath=xpath)))
    return verdicts


def test_signatures_get_the_same_verdict_with_the_cached_public_key(
        bridge: Bridge, monkeypatch: pytest.MonkeyPatch) -> None:
    idp, cert = bridge.idp, bridge.idp.cert_pem
    genuine = bridge.response("_r1")
    cases = {
        "genuine": genuine,
        "foreign-key": TestIdp().sign(idp.build_response(
            acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="_r1"), cert_pem=cert),
        "edited": attacks.edit_name_id_after_signing(genuine),
        "empty-value": attacks.empty_signature_value(genuine),
        "sha1": bridge.response("_r1", algorithm="sha1"),
    }
    ours = {name: _verdicts(xml, cert) for name, xml in cases.items()}
    # The same checks with the stock xmlsec.Key (certificate parsed by libxmlsec1 each time),
    # still behind the transform allow-list.
    monkeypatch.setattr(saml_utils, "xmlsec", xmlsec_policy._restricted_xmlsec())
    theirs = {name: _verdicts(xml, cert) for name, xml in cases.items()}
    assert ours == theirs
    assert ours["genuine"] == [True, True]
    assert ours["foreign-key"] == ours["edited"] == [False, False]


def test_keys_are_parsed_once_and_every_caller_gets_its_own_copy(test_idp: TestIdp) -> None:
    pem, cert_pem = xmlsec.constants.KeyDataFormatPem, xmlsec.constants.KeyDataFormatCertPem
    first = caches.CachedKey.from_memory(test_idp.key_pem, pem)
    second = caches.CachedKey.from_memory(test_idp.key_pem, pem)
    assert first is not second  # duplicates: add_sign loads a certificate into its own
    assert caches.load_key.cache_info().currsize >= 1
    second.load_cert_from_memory(test_idp.cert_pem, cert_pem)
    context = xmlsec.SignatureContext()
    context.key = caches.CachedKey.from_memory(test_idp.key_pem, pem)
    signature = context.sign_binary(b"message", xmlsec.constants.TransformRsaSha256)
    verifier = xmlsec.SignatureContext()
    verifier.key = caches.CachedKey.from_memory(test_idp.cert_pem, cert_pem)
    verifier.verify_binary(b"message", xmlsec.constants.TransformRsaSha256,
                           signature)  # raises when the signature does not verify
    with pytest.raises(xmlsec.Error):
        verifier.verify_binary(b"other", xmlsec.constants.TransformRsaSha256, signature)


def test_broken_keys_fail_exactly_as_before() -> None:
    broken = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----"
    with pytest.raises(xmlsec.Error):
        caches.CachedKey.from_memory(broken, xmlsec.constants.KeyDataFormatCertPem)
    with pytest.raises(xmlsec.Error):
        caches.CachedKey.from_memory("not a key", xmlsec.constants.KeyDataFormatPem)


def test_authn_requests_are_still_signed_with_the_sp_key(tmp_path: Path,
                                                        test_idp: TestIdp) -> None:
    bridge = build_bridge(tmp_path, test_idp, extra={"sp": {"sign_authn_requests": "always"}})
    start = bridge.start()
    query = parse_qs(urlsplit(start.redirect_url).query)
    signed = urlencode({"SAMLRequest": query["SAMLRequest"][0],
                        "RelayState": query["RelayState"][0],
                        "SigAlg": query["SigAlg"][0]}).encode()
    cert = bridge.sp.saml_settings.get_sp_cert()
    assert OneLogin_Saml2_Utils.validate_binary_sign(
        signed, base64.b64decode(query["Signature"][0]), cert, query["SigAlg"][0])
