"""What python3-saml 1.16.0 leaves to us (saml-hardening.md, section D).

``precheck`` runs before python3-saml sees a byte: size cap before decoding, strict base64, one
parse with python3-saml's own defused parser (so no second parser can disagree), no DOCTYPE, and
an XML-DSig profile allow-list: one Reference per Signature pointing at an ID in the document,
only the enveloped-signature and (exclusive) c14n transforms, no ``ds:Object`` or ``Manifest``,
no SHA-1. The XSLT pre-authentication CPU attack (B14) is refused here in microseconds.

``postcheck`` runs after python3-saml said "valid", on data read through its getters only:
Audience present and ours, Destination and Recipient equal to our ACS URL, a bearer
SubjectConfirmationData with NotOnOrAfter, timestamps within our skew and a maximum age.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any

from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge.errors import (
    SamlAudience,
    SamlDeprecatedAlgorithm,
    SamlDestination,
    SamlExpired,
    SamlForbiddenTransform,
    SamlForbiddenXml,
    SamlMalformed,
    SamlRecipient,
    SamlTooLarge,
    SamlTooOld,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

ALLOWED_TRANSFORMS = frozenset({
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
})
ALLOWED_C14N = frozenset({
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
})
ALLOWED_SIGNATURE_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
})
ALLOWED_DIGESTS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})


@dataclass(frozen=True)
class Parsed:
    xml: bytes
    document: Any  # the lxml root python3-saml will validate: the one and only parse


def precheck(saml_response: str, max_bytes: int) -> Parsed:
    """Decode and parse the posted SAMLResponse, refusing what SAML never needs."""
    if len(saml_response) > (max_bytes * 4) // 3 + 8:
        raise SamlTooLarge(f"SAMLResponse is {len(saml_response)} characters of base64; "
                           f"the limit is {max_bytes} bytes decoded")
    try:
        xml = base64.b64decode("".join(saml_response.split()), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SamlMalformed(f"SAMLResponse is not base64: {exc}") from exc
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise SamlForbiddenXml("the response carries a DOCTYPE or entity declaration")
    try:
        document = OneLogin_Saml2_XML.to_etree(xml)
    except etree.XMLSyntaxError as exc:
        raise SamlMalformed(f"the response is not well-formed XML: {exc}") from exc
    except ValueError as exc:  # DTDForbidden, EntitiesForbidden, NotSupportedError
        raise SamlForbiddenXml(f"forbidden XML construct: {exc.__class__.__name__}") from exc
    if document.tag != f"{{{SAMLP}}}Response":
        raise SamlMalformed(f"the root element is {document.tag}, not samlp:Response")
    for signature in document.iter(f"{{{DS}}}Signature"):
        check_signature(signature, document)
    return Parsed(xml=xml, document=document)


def check_signature(signature: Any, document: Any) -> None:
    """Refuse a ds:Signature outside the SAML profile (also used on decrypted assertions)."""
    if signature.find(f"{{{DS}}}Object") is not None or any(
            True for _ in signature.iter(f"{{{DS}}}Manifest")):
        raise SamlForbiddenTransform("a signature carries ds:Object or ds:Manifest")
    signed_info = signature.find(f"{{{DS}}}SignedInfo")
    if signed_info is None:
        raise SamlMalformed("a signature has no SignedInfo")
    _allowed(signed_info, "CanonicalizationMethod", ALLOWED_C14N, SamlForbiddenTransform)
    _allowed(signed_info, "SignatureMethod", ALLOWED_SIGNATURE_METHODS, SamlDeprecatedAlgorithm)
    references = signed_info.findall(f"{{{DS}}}Reference")
    if len(references) != 1:
        raise SamlForbiddenTransform(f"a signature has {len(references)} References; SAML uses 1")
    reference = references[0]
    uri = reference.get("URI", "")
    if not uri.startswith("#") or len(uri) < 2:
        raise SamlForbiddenTransform(f"a Reference points outside the document: {uri[:80]!r}")
    parent = signature.getparent()
    if parent is None or parent.get("ID") != uri[1:]:
        raise SamlForbiddenTransform("a signature does not sign the element that holds it")
    for transform in reference.iter(f"{{{DS}}}Transform"):
        if transform.get("Algorithm") not in ALLOWED_TRANSFORMS or len(transform):
            raise SamlForbiddenTransform(
                f"signature transform {str(transform.get('Algorithm'))[:100]!r} is not allowed")
    _allowed(reference, "DigestMethod", ALLOWED_DIGESTS, SamlDeprecatedAlgorithm)


def _allowed(parent: Any, name: str, allowed: frozenset[str], error: type[Exception]) -> None:
    found = parent.findall(f"{{{DS}}}{name}")
    if len(found) != 1 or found[0].get("Algorithm") not in allowed:
        algorithm = found[0].get("Algorithm") if found else None
        raise error(f"{name} {str(algorithm)[:100]!r} is not allowed")


# --- after python3-saml's validation ------------------------------------------------------


@dataclass(frozen=True)
class Policy:
    acs_url: str
    sp_entity_id: str
    clock_skew: int
    max_age: int
    require_destination: bool


def postcheck(response: Any, policy: Policy, now: float) -> float:
    """Checks on a response python3-saml accepted; returns when the assertion stops being valid."""
    audiences = response.get_audiences()
    if not audiences:
        raise SamlAudience("the assertion has no AudienceRestriction")
    if policy.sp_entity_id not in audiences:
        raise SamlAudience(f"the assertion is for {audiences}, not {policy.sp_entity_id}")
    destination = response.document.get("Destination")
    if destination is None and policy.require_destination:
        raise SamlDestination("the response has no Destination")
    if destination is not None and destination != policy.acs_url:
        raise SamlDestination(f"Destination {destination[:200]!r} is not {policy.acs_url}")
    scd_expiry = _bearer_confirmation(response, policy, now)
    assertion = response._query_assertion("")[0]  # the signed assertion python3-saml checked
    _check_age(assertion.get("IssueInstant"), "assertion IssueInstant", policy, now)
    _check_age(response.document.get("IssueInstant"), "response IssueInstant", policy, now)
    conditions = response._query_assertion("/saml:Conditions")
    if conditions:
        not_before = conditions[0].get("NotBefore")
        if not_before and _time(not_before) > now + policy.clock_skew:
            raise SamlExpired(f"the assertion is not valid before {not_before}")
        not_after = conditions[0].get("NotOnOrAfter")
        if not_after and _time(not_after) + policy.clock_skew <= now:
            raise SamlExpired(f"the assertion expired at {not_after}")
    return scd_expiry


def _bearer_confirmation(response: Any, policy: Policy, now: float) -> float:
    nodes = response._query_assertion(
        f"/saml:Subject/saml:SubjectConfirmation[@Method='{BEARER}']/saml:SubjectConfirmationData")
    if not nodes:
        raise SamlRecipient("the assertion has no bearer SubjectConfirmationData")
    problem = ""
    for scd in nodes:
        recipient, not_after = scd.get("Recipient"), scd.get("NotOnOrAfter")
        if recipient != policy.acs_url:
            problem = f"Recipient {str(recipient)[:200]!r} is not {policy.acs_url}"
            continue
        if not not_after:
            raise SamlExpired("the bearer SubjectConfirmationData has no NotOnOrAfter")
        expiry = _time(not_after)
        if expiry + policy.clock_skew <= now:
            raise SamlExpired(f"the bearer confirmation expired at {not_after}")
        if expiry > now + policy.max_age + policy.clock_skew:
            raise SamlTooOld(f"the bearer confirmation is valid until {not_after}, longer than "
                             f"the {policy.max_age} s the bridge accepts")
        return expiry
    raise SamlRecipient(problem)


def _check_age(stamp: str | None, what: str, policy: Policy, now: float) -> None:
    if not stamp:
        raise SamlMalformed(f"{what} is missing")
    issued = _time(stamp)
    if issued > now + policy.clock_skew:
        raise SamlExpired(f"{what} {stamp} is in the future")
    if issued + policy.max_age + policy.clock_skew < now:
        raise SamlTooOld(f"{what} {stamp} is older than {policy.max_age} s")


def _time(stamp: str) -> float:
    try:
        return float(OneLogin_Saml2_Utils.parse_SAML_to_time(stamp))
    except ValueError as exc:
        raise SamlMalformed(f"bad timestamp {stamp[:40]!r}") from exc
