"""The bridge's checks beyond python3-saml's strict ``is_valid`` (saml-hardening.md, section D).

python3-saml 1.16.0 in strict mode accepts a response without AudienceRestriction, with a
Destination or bearer Recipient that merely starts with or contains the ACS URL, or with
either absent, a bearer confirmation without NotOnOrAfter or valid for a year, assertions of
any age, a fixed clock drift of 300 s, and an InResponseTo on the confirmation of a response
that claims to be unsolicited. The functions here refuse all of that, reading the document
python3-saml validated (its ``document``, and its ``decrypted_document`` when the assertion
was encrypted):

* :func:`check_decrypted_signatures`, before ``is_valid``: a signature that was encrypted is
  held to the XML-DSig profile ``checks.precheck`` holds the others to.
* :func:`check`, after ``is_valid`` (so on a document whose signatures verified): Destination,
  Audience, Conditions within the configured skew, the bearer confirmation, IssueInstants.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge import errors
from sso_bridge.saml import python3_saml_caches
from sso_bridge.saml.checks import BEARER, check_signature


def SAML_XPATH(expression: str) -> etree.XPath:  # noqa: N802 (a constructor, like XPath)
    """Compiled XPath with python3-saml's prefixes: its element class filters every
    Python-level walk (find, iter) through a generator; XPath runs in libxml2."""
    return etree.XPath(expression, namespaces=OneLogin_Saml2_Constants.NSMAP, regexp=False)


_ASSERTION = SAML_XPATH("/samlp:Response/saml:Assertion")
_CONDITIONS = SAML_XPATH("saml:Conditions")
_AUDIENCES = SAML_XPATH("saml:Conditions/saml:AudienceRestriction/saml:Audience")
_BEARER_CONFIRMATIONS = SAML_XPATH("saml:Subject/saml:SubjectConfirmation[@Method=$method]"
                               "/saml:SubjectConfirmationData[1]")
_SIGNATURES = SAML_XPATH("//ds:Signature")


@dataclass(frozen=True)
class Expected:
    """What a response must match beyond python3-saml's settings."""

    sp_entity_id: str
    acs_url: str
    clock_skew: int
    """Seconds; at most python3-saml's 300 (``settings`` refuses more)."""
    max_age: int
    require_destination: bool


def check_decrypted_signatures(decrypted: Any) -> None:
    """The signatures libxmlsec1 found inside the encrypted assertion, held to the profile."""
    for signature in _SIGNATURES(decrypted):
        check_signature(signature, decrypted)


def check(document: Any, assertion: Any, expected: Expected, now: float) -> float:
    """Every check of the module docstring after ``is_valid``; the bearer confirmation's
    NotOnOrAfter, which says how long the assertion ID must be remembered."""
    _check_destination(document.get("Destination"), expected)
    conditions = _CONDITIONS(assertion)  # python3-saml has required exactly one
    _check_audience(assertion, expected)
    _check_conditions(conditions[0], expected, now)
    expires = bearer_expiry(assertion, document.get("InResponseTo"), expected, now)
    _check_age(assertion.get("IssueInstant"), "assertion IssueInstant", expected, now)
    _check_age(document.get("IssueInstant"), "response IssueInstant", expected, now)
    return expires


def the_assertion(work: Any) -> Any:
    """The one Assertion, a child of the (decrypted) Response, as python3-saml reads it."""
    found = _ASSERTION(work)
    if len(found) != 1:
        raise errors.SamlInvalid("the Response must hold one assertion as its child")
    return found[0]


def saml_time(stamp: str) -> float:
    try:
        return float(python3_saml_caches.parse_saml_to_time(stamp))
    except ValueError as exc:
        raise errors.SamlMalformed(f"bad timestamp {stamp[:40]!r}") from exc


def shown(value: str) -> str:
    """A value from the response, for a log line: quoted (no line breaks) and cut short."""
    return repr(value[:200])


def _check_destination(destination: str | None, expected: Expected) -> None:
    if destination is None and expected.require_destination:
        raise errors.SamlDestination("the response has no Destination")
    if destination is not None and destination != expected.acs_url:
        raise errors.SamlDestination(f"Destination {shown(destination)} is not "
                                     f"{expected.acs_url}")


def _check_audience(assertion: Any, expected: Expected) -> None:
    audiences = [text for audience in _AUDIENCES(assertion)
                 if (text := OneLogin_Saml2_XML.element_text(audience)) is not None]
    if not audiences:
        raise errors.SamlAudience("the assertion has no AudienceRestriction")
    if expected.sp_entity_id not in audiences:  # python3-saml has refused it already
        raise errors.SamlAudience(f"the assertion is for {shown(' '.join(audiences))}, not "
                                  f"{expected.sp_entity_id}")


def _check_conditions(conditions: Any, expected: Expected, now: float) -> None:
    """NotBefore and NotOnOrAfter within the configured skew (python3-saml: 300 s)."""
    skew = expected.clock_skew
    not_before = conditions.get("NotBefore")
    if not_before and saml_time(not_before) > now + skew:
        raise errors.SamlExpired(f"the assertion is not valid before {shown(not_before)}")
    not_after = conditions.get("NotOnOrAfter")
    if not_after and saml_time(not_after) + skew <= now:
        raise errors.SamlExpired(f"the assertion expired at {shown(not_after)}")


def bearer_expiry(assertion: Any, in_response_to: str | None, expected: Expected,
                  now: float) -> float:
    """The NotOnOrAfter of the first bearer confirmation that holds; else the reason none does.

    Stricter than python3-saml: the Recipient is the ACS URL exactly, NotOnOrAfter is present
    and no further away than the maximum age, and an InResponseTo on the confirmation must be
    the Response's, also when the Response has none: an assertion issued for an AuthnRequest
    is never accepted as unsolicited (a Response that is not signed loses its InResponseTo
    freely, and with it the binding to the browser that started the login).
    """
    confirmations = _BEARER_CONFIRMATIONS(assertion, method=BEARER)
    if not confirmations:
        raise errors.SamlRecipient("the assertion has no bearer SubjectConfirmationData")
    problem: errors.SamlError = errors.SamlRecipient("no SubjectConfirmationData holds")
    for data in confirmations:
        irt, recipient = data.get("InResponseTo"), data.get("Recipient")
        not_after, not_before = data.get("NotOnOrAfter"), data.get("NotBefore")
        if irt is not None and irt != in_response_to:
            problem = errors.SamlInResponseTo(
                "the SubjectConfirmationData answers another request" if in_response_to else
                "the assertion answers an AuthnRequest but the Response is unsolicited")
        elif recipient != expected.acs_url:
            problem = errors.SamlRecipient(f"Recipient {shown(str(recipient))} is not "
                                           f"{expected.acs_url}")
        elif not not_after:
            raise errors.SamlExpired("the bearer SubjectConfirmationData has no NotOnOrAfter")
        elif (expiry := saml_time(not_after)) <= now:  # no skew here, as in python3-saml
            problem = errors.SamlExpired(f"the bearer confirmation expired at {shown(not_after)}")
        elif not_before and saml_time(not_before) > now:
            problem = errors.SamlExpired(f"the bearer confirmation is not valid before "
                                         f"{shown(not_before)}")
        elif expiry > now + expected.max_age + expected.clock_skew:
            raise errors.SamlTooOld(f"the bearer confirmation is valid until {shown(not_after)}"
                                    f", longer than the {expected.max_age} s the bridge accepts")
        else:
            return expiry
    raise problem


def _check_age(stamp: str | None, what: str, expected: Expected, now: float) -> None:
    if not stamp:
        raise errors.SamlMalformed(f"{what} is missing")
    issued = saml_time(stamp)
    if issued > now + expected.clock_skew:
        raise errors.SamlExpired(f"{what} {shown(stamp)} is in the future")
    if issued + expected.max_age + expected.clock_skew < now:
        raise errors.SamlTooOld(f"{what} {shown(stamp)} is older than {expected.max_age} s")
