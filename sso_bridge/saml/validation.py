"""Validating a SAML Response: python3-saml's strict ``is_valid``, then the bridge's checks.

After ``checks.precheck`` (size, base64, DOCTYPE, the XML-DSig profile: the caller's first
step), :meth:`ResponseValidator.validate`:

1. refuses encryption algorithms outside the allow-list, before anything is decrypted
   (``encryption.check_encryption``), and keeps libxml2 from printing decrypted text;
2. hands the posted SAMLResponse to ``OneLogin_Saml2_Response``, which parses it with its own
   defused parser (the same settings as ``precheck``'s) and decrypts an EncryptedAssertion.
   During an SP key rollover there are two settings objects, built once, alike but for the
   private key: what the current key cannot decrypt is tried with the next one;
3. holds signatures that were encrypted to the XML-DSig profile
   (``strict_checks.check_decrypted_signatures``);
4. calls ``is_valid(request_data, request_id, raise_exceptions=True)``: python3-saml's strict
   validation, signatures verified by libxmlsec1 in ``xmlsec_policy``'s restricted context;
5. reads the NameID with python3-saml's own getter (it decrypts an EncryptedID and refuses a
   missing or empty NameID, or one qualified for another SP);
6. runs the bridge's stricter checks on the document python3-saml validated
   (``strict_checks.check``), and reads the attributes and the SessionIndex from its
   assertion as python3-saml's getters read them (``test_response_parity.py`` holds the two
   readings equal), in one walk instead of the getters' two (about 70 µs each).

python3-saml's ``OneLogin_Saml2_ValidationError`` codes become the bridge's error classes, so
learners get the page that fits (expired, wrong audience, ...); any other exception
(``xmlsec.Error``, a failed decryption) is one uniform refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as V
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge import errors
from sso_bridge.saml import strict_checks
from sso_bridge.saml.attributes import Assertion
from sso_bridge.saml.encryption import check_encryption, quiet_libxml2
from sso_bridge.saml.strict_checks import SAML_XPATH, Expected, shown

# python3-saml's refusals with a class of their own; every other code is SamlInvalid.
ERROR_CLASSES: dict[int, type[errors.SamlError]] = {
    V.STATUS_CODE_IS_NOT_SUCCESS: errors.SamlStatus,
    V.WRONG_INRESPONSETO: errors.SamlInResponseTo,
    V.ASSERTION_TOO_EARLY: errors.SamlExpired,
    V.ASSERTION_EXPIRED: errors.SamlExpired,
    V.SESSION_EXPIRED: errors.SamlExpired,
    V.RESPONSE_EXPIRED: errors.SamlExpired,
    V.WRONG_DESTINATION: errors.SamlDestination,
    V.EMPTY_DESTINATION: errors.SamlDestination,
    V.WRONG_AUDIENCE: errors.SamlAudience,
    V.WRONG_SUBJECTCONFIRMATION: errors.SamlRecipient,
    V.DEPRECATED_SIGNATURE_METHOD: errors.SamlDeprecatedAlgorithm,
    V.DEPRECATED_DIGEST_METHOD: errors.SamlDeprecatedAlgorithm,
}


@dataclass(frozen=True)
class Validated:
    assertion: Assertion
    assertion_id: str
    expires: float
    """The bearer confirmation's NotOnOrAfter: how long the assertion ID must be remembered."""


class ResponseValidator:
    """Validates responses for one IdP with python3-saml settings built once.

    ``saml_settings``: the settings holding the current SP key, then, during a key rollover,
    the same settings holding the next one. ``request_data``: what python3-saml compares
    Destination and Recipient with, from configuration (never from the request's headers).
    """

    def __init__(self, saml_settings: tuple[OneLogin_Saml2_Settings, ...],
                 request_data: dict[str, Any], expected: Expected, idp_entity_id: str,
                 allow_cbc: bool) -> None:
        self.saml_settings = saml_settings
        self.request_data = request_data
        self.expected = expected
        self.idp_entity_id = idp_entity_id
        self.allow_cbc = allow_cbc

    def validate(self, saml_response: str, document: Any, request_id: str | None,
                 now: float) -> Validated:
        """``document``: ``precheck``'s parse of ``saml_response``; the first failure raises."""
        quiet_libxml2()
        check_encryption(document, allow_cbc=self.allow_cbc)
        try:
            response, name_id = self._library_validated(saml_response, request_id, now)
            assertion = strict_checks.the_assertion(response.get_xml_document())
            expires = strict_checks.check(response.document, assertion, self.expected, now)
            by_name, by_friendly_name = attributes(assertion)
            return Validated(
                assertion=Assertion(
                    idp_entity_id=self.idp_entity_id,
                    name_id=name_id["Value"],
                    name_id_format=name_id.get("Format"),
                    session_index=session_index(assertion),
                    attributes=by_name,
                    friendly_attributes=by_friendly_name),
                assertion_id=str(assertion.get("ID")),
                expires=expires)
        except V as exc:
            raise ERROR_CLASSES.get(exc.code, errors.SamlInvalid)(
                f"python3-saml: {shown(str(exc))}") from exc
        except errors.SamlError:
            raise
        except Exception as exc:  # xmlsec.Error, failed decryption...: one uniform refusal
            raise errors.SamlInvalid(f"{exc.__class__.__name__}: {shown(str(exc))}") from exc

    def _library_validated(self, saml_response: str, request_id: str | None,
                           now: float) -> tuple[OneLogin_Saml2_Response, dict[str, str]]:
        """python3-saml's Response, valid, and its NameID data, with the first settings whose
        SP key decrypts what is encrypted; else the first key's decryption error."""
        failure: Exception | None = None
        for settings in self.saml_settings:
            try:
                response = OneLogin_Saml2_Response(settings, saml_response)
            except V:
                raise
            except Exception as exc:  # the assertion is not for this key
                failure = failure or exc
                continue
            if response.encrypted:
                strict_checks.check_decrypted_signatures(response.decrypted_document)
                check_encryption(response.decrypted_document, allow_cbc=self.allow_cbc)
            self._is_valid(response, request_id, now)
            try:
                return response, response.get_nameid_data()
            except V:
                raise
            except Exception as exc:  # an EncryptedID that is not for this key
                failure = failure or exc
        raise failure or errors.SamlInvalid("no SP key to decrypt with")

    def _is_valid(self, response: OneLogin_Saml2_Response, request_id: str | None,
                  now: float) -> None:
        try:
            response.is_valid(self.request_data, request_id, raise_exceptions=True)
        except V as exc:
            if exc.code == V.WRONG_SUBJECTCONFIRMATION:
                # Which refusal it is (expired, or another Recipient or request) decides the
                # learner's page; the bridge's bearer check, stricter, names it.
                assertion = strict_checks.the_assertion(response.get_xml_document())
                strict_checks.bearer_expiry(assertion, response.document.get("InResponseTo"),
                                            self.expected, now)
            raise


# --- what the bridge reads from the validated assertion -------------------------------------

_SESSIONS = SAML_XPATH("saml:AuthnStatement[@SessionIndex]")
_VALUES = SAML_XPATH("saml:AttributeStatement/saml:Attribute/saml:AttributeValue")
_NAMELESS = SAML_XPATH("saml:AttributeStatement/saml:Attribute[not(saml:AttributeValue)]")
_NAME_ID = f"{{{OneLogin_Saml2_Constants.NS_SAML}}}NameID"


def session_index(assertion: Any) -> str | None:
    """``get_session_index``: the first AuthnStatement's SessionIndex."""
    found = _SESSIONS(assertion)
    return found[0].get("SessionIndex") if found else None


def attributes(assertion: Any) -> tuple[dict[str, list[Any]], dict[str, list[Any]]]:
    """``get_attributes`` and ``get_friendlyname_attributes`` (repeated names allowed): the
    values of each Attribute by its Name and by its FriendlyName, merged in document order,
    each text value stripped and left out when empty, a nested NameID as a dict."""
    by_name: dict[str, list[Any]] = {}
    by_friendly_name: dict[str, list[Any]] = {}
    for attribute in _NAMELESS(assertion):  # an Attribute without values still has a key
        for table, key in ((by_name, "Name"), (by_friendly_name, "FriendlyName")):
            if name := attribute.get(key):
                table.setdefault(name, [])
    for value in _VALUES(assertion):
        attribute = value.getparent()
        read = _value(value)
        for table, key in ((by_name, "Name"), (by_friendly_name, "FriendlyName")):
            if name := attribute.get(key):
                table.setdefault(name, []).extend(read)
    return by_name, by_friendly_name


def _value(value: Any) -> list[Any]:
    text = OneLogin_Saml2_XML.element_text(value)
    read: list[Any] = [text] if text and (text := text.strip()) else []
    if len(value):  # a nested NameID (eduPersonTargetedID)
        read.extend({"NameID": {"Format": n.get("Format"), "NameQualifier":
                                n.get("NameQualifier"), "value": n.text}}
                    for n in value.iterchildren(_NAME_ID))
    return read
