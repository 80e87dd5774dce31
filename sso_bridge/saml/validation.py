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
   missing or empty NameID, or one qualified for another SP), the attributes and the
   SessionIndex;
6. runs the bridge's stricter checks on the document python3-saml validated
   (``strict_checks.check``).

python3-saml's ``OneLogin_Saml2_ValidationError`` codes become the bridge's error classes, so
learners get the page that fits (expired, wrong audience, ...); any other exception
(``xmlsec.Error``, a failed decryption) is one uniform refusal.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as V
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso_bridge import errors
from sso_bridge.saml import strict_checks
from sso_bridge.saml.attributes import Assertion
from sso_bridge.saml.encryption import check_encryption, quiet_libxml2
from sso_bridge.saml.strict_checks import Expected, shown

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
            return Validated(
                assertion=Assertion(
                    idp_entity_id=self.idp_entity_id,
                    name_id=name_id["Value"],
                    name_id_format=name_id.get("Format"),
                    session_index=response.get_session_index(),
                    attributes=response.get_attributes(),
                    friendly_attributes=response.get_friendlyname_attributes()),
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
