"""The libxmlsec1 transform allow-list is really in force inside python3-saml (pinned 1.16.0)."""

from __future__ import annotations

import time
from importlib.metadata import version

import onelogin.saml2.utils as saml_utils
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso_bridge.saml import xmlsec_policy
from tests.saml.conftest import ACS, SP_ENTITY, Bridge
from tests.samlfactory import attacks


def test_pinned_versions_are_the_ones_installed() -> None:
    assert version("python3-saml") == "1.16.0"
    assert version("lxml") == "6.1.3"
    assert version("xmlsec") == "1.3.17"


def test_the_service_provider_installs_the_restricted_context(bridge: Bridge) -> None:
    assert xmlsec_policy.installed()
    assert saml_utils.xmlsec.SignatureContext is xmlsec_policy.RestrictedSignatureContext


def test_genuine_signatures_still_verify_through_python3_saml(bridge: Bridge) -> None:
    xml = bridge.idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="x")
    assert OneLogin_Saml2_Utils.validate_sign(xml, bridge.idp.cert_pem, raise_exceptions=True)


def test_xslt_in_a_reference_fails_fast_inside_libxmlsec(bridge: Bridge) -> None:
    """Even if the pre-check were bypassed, libxmlsec1 itself refuses to run the XSLT."""
    signed = bridge.idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="x")
    xml = attacks.xslt_transform(signed, payload_padding=5_000)
    began = time.process_time()
    assert not OneLogin_Saml2_Utils.validate_sign(xml, bridge.idp.cert_pem)
    assert time.process_time() - began < 1.0


def test_sha1_signature_method_is_refused_inside_libxmlsec(bridge: Bridge) -> None:
    xml = bridge.idp.signed_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to="x",
                                     algorithm="sha1")
    assert not OneLogin_Saml2_Utils.validate_sign(xml, bridge.idp.cert_pem)
