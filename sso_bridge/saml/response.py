"""Validating a SAML Response: python3-saml's strict checks and the bridge's, on one parse.

python3-saml's ``OneLogin_Saml2_Response.is_valid`` spends about as long on its own machinery
(some 34 XPath evaluations, getters that re-run them, attribute tables built twice) as libxmlsec1
spends verifying both signatures. :func:`validate` makes every check ``is_valid`` makes in
strict mode with the bridge's settings, in the same order so that a response is refused for
the same reason, plus the bridge's stricter ones (saml-hardening.md, section D), walking the
document once with ``find``/``iter``:

1. SAML version 2.0 and an ID; a Status with one StatusCode, Success.
2. Exactly one assertion, encrypted or not, in the whole document (after decryption too).
3. Signatures only on the Response (the root) and the Assertion (a child of the root), one each
   at most, each referring to its own parent by a unique ID; ``checks.precheck`` has already
   held each of them to the XML-DSig profile (transforms, algorithms, one Reference).
4. The protocol XSD (python3-saml's own schema files); for an encrypted assertion, the
   decrypted document as well.
5. InResponseTo; encryption when required; one Conditions with NotBefore and NotOnOrAfter
   within the clock skew (at most python3-saml's 300 s); one AuthnStatement, its
   SessionNotOnOrAfter, the requested AuthnContext; an AttributeStatement when required and
   no EncryptedAttribute.
6. Destination equal to the ACS URL (python3-saml: a prefix); an Audience, and it is ours
   (python3-saml: only if present); the Issuers equal to the IdP's entity ID (python3-saml
   skips an empty one).
7. A bearer SubjectConfirmationData whose Recipient is the ACS URL (python3-saml: contains
   it), with a NotOnOrAfter (python3-saml: optional) no further away than the maximum age,
   NotBefore passed, and InResponseTo, if given, the response's.
8. The signatures the settings require, at least one in any case; then libxmlsec1 verifies
   each with the IdP's keys (any of them) in ``RestrictedSignatureContext``.
9. IssueInstant of the Response and the Assertion within the maximum age (the bridge's check).
10. The NameID (decrypting an EncryptedID): present, not empty, SPNameQualifier ours;
    values of a repeated attribute name merged; values read as python3-saml reads them.

``tests/saml/test_response_parity.py`` holds this module to python3-saml: on genuine responses
and on every hostile one of ``tests/samlfactory/attacks.py``, both must give the same verdict,
and on genuine ones the same NameID, attributes, session index and assertion ID.
"""

from __future__ import annotations

from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from typing import Any

import xmlsec
from lxml import etree
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso_bridge import errors
from sso_bridge.saml import speedups
from sso_bridge.saml.attributes import Assertion
from sso_bridge.saml.checks import BEARER, DS, SAML, SAMLP, Parsed, check_signature, children
from sso_bridge.saml.xmlsec_policy import verified_by_any

XENC = "http://www.w3.org/2001/04/xmlenc#"
PYTHON3_SAML_DRIFT = 300  # OneLogin_Saml2_Constants.ALLOWED_CLOCK_DRIFT, seconds
SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"

_RESPONSE = f"{{{SAMLP}}}Response"
_STATUS = f"{{{SAMLP}}}Status"
_STATUS_CODE = f"{{{SAMLP}}}StatusCode"
_STATUS_MESSAGE = f"{{{SAMLP}}}StatusMessage"
_ASSERTION = f"{{{SAML}}}Assertion"
_ENCRYPTED_ASSERTION = f"{{{SAML}}}EncryptedAssertion"
_ISSUER = f"{{{SAML}}}Issuer"
_SUBJECT = f"{{{SAML}}}Subject"
_NAME_ID = f"{{{SAML}}}NameID"
_ENCRYPTED_ID = f"{{{SAML}}}EncryptedID"
_SUBJECT_CONFIRMATION = f"{{{SAML}}}SubjectConfirmation"
_SCD = f"{{{SAML}}}SubjectConfirmationData"
_CONDITIONS = f"{{{SAML}}}Conditions"
_AUDIENCE_RESTRICTION = f"{{{SAML}}}AudienceRestriction"
_AUDIENCE = f"{{{SAML}}}Audience"
_AUTHN_STATEMENT = f"{{{SAML}}}AuthnStatement"
_AUTHN_CONTEXT = f"{{{SAML}}}AuthnContext"
_AUTHN_CONTEXT_CLASS_REF = f"{{{SAML}}}AuthnContextClassRef"
_ATTRIBUTE_STATEMENT = f"{{{SAML}}}AttributeStatement"
_ATTRIBUTE = f"{{{SAML}}}Attribute"
_ATTRIBUTE_VALUE = f"{{{SAML}}}AttributeValue"
_ENCRYPTED_ATTRIBUTE = f"{{{SAML}}}EncryptedAttribute"
_SIGNATURE = f"{{{DS}}}Signature"
_ENCRYPTED_DATA = f"{{{XENC}}}EncryptedData"


@dataclass(frozen=True)
class Expected:
    """What a response must match: the IdP, this SP and its policy."""

    idp_entity_id: str
    idp_keys: tuple[xmlsec.Key, ...]
    """The IdP's signing keys (public keys of its metadata certificates), parsed once."""
    sp_entity_id: str
    acs_url: str
    decryption_keys: tuple[str, ...]
    """The SP's private keys (PEM) that decrypt: the current one, then, during a key
    rollover, the next one."""
    want_response_signed: bool
    want_assertion_signed: bool
    want_encrypted: bool
    want_attribute_statement: bool
    requested_authn_contexts: tuple[str, ...]
    clock_skew: int
    max_age: int
    require_destination: bool


@dataclass(frozen=True)
class Validated:
    assertion: Assertion
    assertion_id: str
    expires: float
    """The bearer confirmation's NotOnOrAfter: how long the assertion ID must be remembered."""


def verification_keys(certificates: tuple[str, ...]) -> tuple[xmlsec.Key, ...]:
    """The IdP's certificates (base64 bodies, as in metadata) as keys for libxmlsec1."""
    return tuple(speedups.load_key(OneLogin_Saml2_Utils.format_cert(c),
                                   xmlsec.constants.KeyDataFormatCertPem)
                 for c in certificates)


def validate(parsed: Parsed, expected: Expected, request_id: str | None,
             now: float) -> Validated:
    """Every check of the module docstring, in its order; the first failure raises."""
    document = parsed.document
    top = children(document)
    encrypted = _ENCRYPTED_ASSERTION in top
    work = _decrypted(document, expected) if encrypted else document  # as python3-saml: first
    if document.get("Version") != "2.0":
        raise errors.SamlInvalid("unsupported SAML version")
    if document.get("ID") is None:
        raise errors.SamlInvalid("the Response has no ID")
    _check_status(top.get(_STATUS, []))
    _check_one_assertion(document, work)
    signed_response, signed_assertion = _signed_elements(document, work)
    _check_schema(document, work)
    in_response_to = document.get("InResponseTo")
    if in_response_to is not None and request_id is not None and in_response_to != request_id:
        raise errors.SamlInResponseTo("InResponseTo does not match the AuthnRequest")
    if work is document and expected.want_encrypted:
        raise errors.SamlInvalid("the assertion is not encrypted and the SP requires it")
    assertion = _the_assertion(top if work is document else children(work))
    parts = children(assertion)
    conditions = _exactly_one(parts, _CONDITIONS, "Conditions")
    _check_conditions(conditions, expected, now)
    authn_statement = _exactly_one(parts, _AUTHN_STATEMENT, "AuthnStatement")
    _check_authn_context(authn_statement, expected)
    statements = parts.get(_ATTRIBUTE_STATEMENT, [])
    if expected.want_attribute_statement and not statements:
        raise errors.SamlInvalid("the assertion has no AttributeStatement")
    if any(s.find(_ENCRYPTED_ATTRIBUTE) is not None for s in statements):
        raise errors.SamlInvalid("EncryptedAttribute is not supported")
    _check_destination(document, expected)
    _check_audience(conditions, expected)
    _check_issuers(top.get(_ISSUER, []), parts.get(_ISSUER, []), expected)
    session_end = authn_statement.get("SessionNotOnOrAfter")
    if session_end is not None and saml_time(session_end) <= now:
        raise errors.SamlExpired(f"the session ended at {session_end} (SessionNotOnOrAfter)")
    subject = parts[_SUBJECT][0] if _SUBJECT in parts else None
    expires = _bearer_confirmation(subject, in_response_to, expected, now)
    if expected.want_assertion_signed and signed_assertion is None:
        raise errors.SamlInvalid("the assertion is not signed and the SP requires it")
    if expected.want_response_signed and signed_response is None:
        raise errors.SamlInvalid("the response is not signed and the SP requires it")
    if signed_response is None and signed_assertion is None:
        raise errors.SamlInvalid("no signature found")
    for tree in _trees(document, work):
        xmlsec.tree.add_ids(tree, ["ID"])  # what the References' "#<ID>" resolve to
    if signed_response is not None:
        _verify(signed_response, expected.idp_keys)
    if signed_assertion is not None:
        _verify(signed_assertion, expected.idp_keys)
    _check_age(assertion.get("IssueInstant"), "assertion IssueInstant", expected, now)
    _check_age(document.get("IssueInstant"), "response IssueInstant", expected, now)
    name_id, name_id_format = _name_id(subject, expected)
    attributes, friendly_attributes = _attributes(statements)
    return Validated(
        assertion=Assertion(
            idp_entity_id=expected.idp_entity_id,
            name_id=name_id,
            name_id_format=name_id_format,
            session_index=authn_statement.get("SessionIndex"),
            attributes=attributes,
            friendly_attributes=friendly_attributes,
        ),
        assertion_id=str(assertion.get("ID")),
        expires=expires,
    )


def saml_time(stamp: str) -> float:
    try:
        return float(speedups.parse_saml_to_time(stamp))
    except ValueError as exc:
        raise errors.SamlMalformed(f"bad timestamp {stamp[:40]!r}") from exc


# --- structure -----------------------------------------------------------------------------


def _shown(value: str) -> str:
    """A value from the response, for a log line: quoted (no line breaks) and cut short."""
    return repr(value[:200])


def _exactly_one(parts: dict[str, list[Any]], tag: str, name: str) -> Any:
    found = parts.get(tag, [])
    if len(found) != 1:
        raise errors.SamlInvalid(f"the assertion must hold one {name}, it holds {len(found)}")
    return found[0]


def _text(node: Any) -> str | None:
    """An element's text as python3-saml reads it: up to the first child element, comments
    taken out (the parser drops them; ``_decrypted`` strips those of a decrypted assertion)."""
    return node.text  # type: ignore[no-any-return]


def _check_status(statuses: list[Any]) -> None:
    if len(statuses) != 1:
        raise errors.SamlInvalid("the Response has no Status")
    codes = statuses[0].findall(_STATUS_CODE)
    if len(codes) != 1 or not codes[0].values():
        raise errors.SamlInvalid("the Response has no StatusCode")
    code = codes[0].values()[0]
    if code and code != SUCCESS:
        messages = statuses[0].findall(_STATUS_MESSAGE)
        message = ""
        if len(messages) == 1:
            message = _text(messages[0]) or ""
        elif not messages:
            sub = codes[0].findall(_STATUS_CODE)
            message = sub[0].values()[0] if len(sub) == 1 and sub[0].values() else ""
        detail = f"the IdP answered {_shown(code.rsplit(':', 1)[-1])}"
        raise errors.SamlStatus(f"{detail} -> {_shown(message)}" if message else detail)


def _check_one_assertion(document: Any, work: Any) -> None:
    count = sum(1 for _ in document.iter(_ASSERTION, _ENCRYPTED_ASSERTION))
    if count != 1 or (work is not document and sum(1 for _ in work.iter(_ASSERTION)) != 1):
        raise errors.SamlInvalid("a SAML Response must contain exactly one assertion")


def _the_assertion(top: dict[str, list[Any]]) -> Any:
    """The assertion among the children of the (decrypted) Response."""
    if _ASSERTION not in top:  # the one assertion is somewhere else than under the Response
        raise errors.SamlInvalid("the assertion is not a child of the Response")
    return top[_ASSERTION][0]


def _signed_elements(document: Any, work: Any) -> tuple[Any, Any]:
    """(Response signature, Assertion signature), each None when absent."""
    response_signature = assertion_signature = None
    seen_ids: set[str] = set()
    for signature in work.iter(_SIGNATURE):
        parent = signature.getparent()
        if parent.tag not in (_RESPONSE, _ASSERTION):
            raise errors.SamlInvalid(f"a signature on {_shown(parent.tag)} (only the Response "
                                     "and the Assertion may be signed)")
        element_id = parent.get("ID")
        if not element_id:
            raise errors.SamlInvalid("a signed element has no ID")
        if element_id in seen_ids:
            raise errors.SamlInvalid("two signed elements share an ID")
        seen_ids.add(element_id)
        if parent.tag == _RESPONSE:
            if response_signature is not None or parent is not work:
                raise errors.SamlInvalid("unexpected Response signature")
            response_signature = signature
        else:
            if assertion_signature is not None or parent.getparent() is not work:
                raise errors.SamlInvalid("unexpected Assertion signature")
            assertion_signature = signature
    if response_signature is not None and work is not document:
        # the decrypted copy's Response signature is checked on the document as received
        response_signature = document.find(_SIGNATURE)
    return response_signature, assertion_signature


def _trees(document: Any, work: Any) -> tuple[Any, ...]:
    """The document as received, and its decrypted copy if there is one."""
    return (document,) if work is document else (document, work)


def _check_schema(document: Any, work: Any) -> None:
    schema = speedups.schema(PROTOCOL_SCHEMA)
    for tree in _trees(document, work):
        if not schema.validate(tree):
            raise errors.SamlInvalid("the response does not match saml-schema-protocol-2.0.xsd")


# --- decryption ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _OneKey:
    """All that python3-saml's decryption reads from its settings: one SP key, no debug."""

    key: str

    def get_sp_key(self) -> str:
        return self.key

    def is_debug_active(self) -> bool:
        return False


class _Decryptor(OneLogin_Saml2_Response):  # type: ignore[misc]
    """python3-saml's own assertion decryption with one given SP key, without its
    constructor's second parse (``tests/saml/test_speedups.py`` pins the source it relies on)."""

    def __init__(self, key: str) -> None:
        self._settings = _OneKey(key)


def _with_any_key(decrypt: Callable[[str], Any], keys: tuple[str, ...]) -> Any:
    """``decrypt(key)`` with the first of ``keys`` that works; the first key's error if none."""
    first: Exception | None = None
    for key in keys:
        try:
            return decrypt(key)
        except Exception as exc:  # the caller refuses uniformly, whatever failed
            first = first or exc
    raise first or errors.SamlInvalid("no SP key to decrypt with")


def _decrypted(document: Any, expected: Expected) -> Any:
    """A copy of the document with the assertion decrypted, its signatures profile-checked."""
    decrypted = _with_any_key(lambda key: _Decryptor(key)._decrypt_assertion(deepcopy(document)),
                              expected.decryption_keys)
    # libxmlsec1 parsed the plaintext, keeping comments: take them out as python3-saml's
    # element_text does before it reads a value (canonical XML without comments, which the
    # signature covers, is the same with or without them).
    etree.strip_tags(decrypted, etree.Comment)
    for signature in decrypted.iter(_SIGNATURE):
        check_signature(signature, decrypted)
    return decrypted


# --- conditions, audience, issuers, confirmation ------------------------------------------


def _check_conditions(conditions: Any, expected: Expected, now: float) -> None:
    skew = min(expected.clock_skew, PYTHON3_SAML_DRIFT)
    not_before = conditions.get("NotBefore")
    if not_before and saml_time(not_before) > now + skew:
        raise errors.SamlExpired(f"the assertion is not valid before {not_before}")
    not_after = conditions.get("NotOnOrAfter")
    if not_after and saml_time(not_after) + skew <= now:
        raise errors.SamlExpired(f"the assertion expired at {not_after}")


def _check_authn_context(authn_statement: Any, expected: Expected) -> None:
    if not expected.requested_authn_contexts:
        return
    found = [_text(ref) for context in authn_statement.findall(_AUTHN_CONTEXT)
             for ref in context.findall(_AUTHN_CONTEXT_CLASS_REF)]
    unmatched = {str(f) for f in found} - set(expected.requested_authn_contexts)
    if unmatched:
        raise errors.SamlInvalid(f"AuthnContext {_shown(', '.join(sorted(unmatched)))} was not "
                                 "requested")


def _check_destination(document: Any, expected: Expected) -> None:
    destination = document.get("Destination")
    if destination is None and expected.require_destination:
        raise errors.SamlDestination("the response has no Destination")
    if destination is not None and destination != expected.acs_url:
        raise errors.SamlDestination(f"Destination {destination[:200]!r} is not "
                                     f"{expected.acs_url}")


def _check_audience(conditions: Any, expected: Expected) -> None:
    audiences = [text for restriction in conditions.findall(_AUDIENCE_RESTRICTION)
                 for audience in restriction.findall(_AUDIENCE)
                 if (text := _text(audience)) is not None]
    if not audiences:
        raise errors.SamlAudience("the assertion has no AudienceRestriction")
    if expected.sp_entity_id not in audiences:
        raise errors.SamlAudience(f"the assertion is for {_shown(' '.join(audiences))}, not "
                                  f"{expected.sp_entity_id}")


def _check_issuers(response_issuers: list[Any], assertion_issuers: list[Any],
                   expected: Expected) -> None:
    if len(response_issuers) > 1:
        raise errors.SamlInvalid("the Response has several Issuers")
    if len(assertion_issuers) != 1:
        raise errors.SamlInvalid("the assertion must have one Issuer")
    for issuer, required in ((response_issuers[0] if response_issuers else None, False),
                             (assertion_issuers[0], True)):
        value = _text(issuer) if issuer is not None else None
        if (value or required) and value != expected.idp_entity_id:
            raise errors.SamlInvalid(f"the Issuer {str(value)[:200]!r} is not "
                                     f"{expected.idp_entity_id}")


def _bearer_confirmation(subject: Any, in_response_to: str | None, expected: Expected,
                         now: float) -> float:
    """The NotOnOrAfter of the first bearer confirmation that holds; else the reason none does."""
    confirmations = [] if subject is None else [
        data for confirmation in subject.findall(_SUBJECT_CONFIRMATION)
        if confirmation.get("Method") == BEARER
        for data in confirmation.findall(_SCD)[:1]]
    if not confirmations:
        raise errors.SamlRecipient("the assertion has no bearer SubjectConfirmationData")
    problem: errors.SamlError = errors.SamlRecipient("no SubjectConfirmationData holds")
    for data in confirmations:
        irt, recipient = data.get("InResponseTo"), data.get("Recipient")
        not_after, not_before = data.get("NotOnOrAfter"), data.get("NotBefore")
        if in_response_to and irt and irt != in_response_to:
            problem = errors.SamlRecipient("SubjectConfirmationData is for another request")
        elif recipient != expected.acs_url:
            problem = errors.SamlRecipient(f"Recipient {str(recipient)[:200]!r} is not "
                                           f"{expected.acs_url}")
        elif not not_after:
            raise errors.SamlExpired("the bearer SubjectConfirmationData has no NotOnOrAfter")
        elif (expiry := saml_time(not_after)) <= now:  # no skew here, as in python3-saml
            problem = errors.SamlExpired(f"the bearer confirmation expired at {not_after}")
        elif not_before and saml_time(not_before) > now:
            problem = errors.SamlExpired(f"the bearer confirmation is not valid before "
                                         f"{not_before}")
        elif expiry > now + expected.max_age + expected.clock_skew:
            raise errors.SamlTooOld(f"the bearer confirmation is valid until {not_after}, "
                                    f"longer than the {expected.max_age} s the bridge accepts")
        else:
            return expiry
    raise problem


def _check_age(stamp: str | None, what: str, expected: Expected, now: float) -> None:
    if not stamp:
        raise errors.SamlMalformed(f"{what} is missing")
    issued = saml_time(stamp)
    if issued > now + expected.clock_skew:
        raise errors.SamlExpired(f"{what} {stamp} is in the future")
    if issued + expected.max_age + expected.clock_skew < now:
        raise errors.SamlTooOld(f"{what} {stamp} is older than {expected.max_age} s")


# --- signatures ----------------------------------------------------------------------------


def _verify(signature: Any, keys: tuple[xmlsec.Key, ...]) -> None:
    """libxmlsec1 verifies ``signature`` with any of the IdP's keys, or the response is refused."""
    if not verified_by_any(signature, keys):
        raise errors.SamlInvalid("signature validation failed")


# --- what the bridge reads -----------------------------------------------------------------


def _name_id(subject: Any, expected: Expected) -> tuple[str, str | None]:
    name_id = None
    if subject is not None:
        encrypted = subject.find(f"{_ENCRYPTED_ID}/{_ENCRYPTED_DATA}")
        if encrypted is not None:
            name_id = _with_any_key(
                lambda key: OneLogin_Saml2_Utils.decrypt_element(encrypted, key),
                expected.decryption_keys)
        else:
            name_id = subject.find(_NAME_ID)
    if name_id is None:
        raise errors.SamlInvalid("the assertion has no NameID")
    value = _text(name_id)
    if not value:
        raise errors.SamlInvalid("the NameID is empty")
    qualifier = name_id.get("SPNameQualifier")
    if qualifier and qualifier != expected.sp_entity_id:
        raise errors.SamlInvalid("the NameID's SPNameQualifier is not this SP")
    return value, name_id.get("Format") or None


def _attributes(statements: list[Any]) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """The attributes by ``Name`` and by ``FriendlyName``, as python3-saml's ``_get_attributes``
    reads them with ``allowRepeatAttributeName``: the values of a repeated name are merged,
    empty values are left out."""
    by_name: dict[str, list[Any]] = {}
    by_friendly_name: dict[str, list[Any]] = {}
    for statement in statements:
        for attribute in statement.iterchildren(_ATTRIBUTE):
            name, friendly_name = attribute.get("Name"), attribute.get("FriendlyName")
            values = _values(attribute)
            if name:
                by_name.setdefault(name, []).extend(values)
            if friendly_name:
                by_friendly_name.setdefault(friendly_name, []).extend(values)
    return by_name, by_friendly_name


def _values(attribute: Any) -> list[Any]:
    values: list[Any] = []
    for value in attribute.iterchildren(_ATTRIBUTE_VALUE):
        text = _text(value)
        if text and (text := text.strip()):
            values.append(text)
        if len(value):  # a nested NameID (eduPersonTargetedID), as python3-saml reads it
            values.extend({"NameID": {"Format": n.get("Format"),
                                      "NameQualifier": n.get("NameQualifier"), "value": n.text}}
                          for n in value.iterchildren(_NAME_ID))
    return values
