"""The SAML service provider: python3-saml in strict mode, plus every check it leaves to us.

The only module (with ``saml/checks.py``) that touches ``onelogin``. No Flask: the web layer
passes in the posted form fields and the browser's binding cookie, and gets back an
:class:`Identity` and the learner's target, or a :class:`SamlError` with a stable code.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from copy import deepcopy
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.errors import OneLogin_Saml2_ValidationError as VError
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso_bridge import errors
from sso_bridge.identity import Identity
from sso_bridge.saml import checks, speedups, xmlsec_policy
from sso_bridge.saml.attributes import Assertion, AttributeMap
from sso_bridge.saml.encryption import check_encryption
from sso_bridge.saml.metadata import IdpMetadata
from sso_bridge.settings import Settings
from sso_bridge.store import Store

PENDING_PREFIX = "login:"
REPLAY_PREFIX = "assertion:"

_VALIDATION_ERRORS: dict[int, type[errors.SamlError]] = {
    VError.WRONG_AUDIENCE: errors.SamlAudience,
    VError.WRONG_DESTINATION: errors.SamlDestination,
    VError.EMPTY_DESTINATION: errors.SamlDestination,
    VError.WRONG_INRESPONSETO: errors.SamlInResponseTo,
    VError.ASSERTION_EXPIRED: errors.SamlExpired,
    VError.ASSERTION_TOO_EARLY: errors.SamlExpired,
    VError.SESSION_EXPIRED: errors.SamlExpired,
    VError.RESPONSE_EXPIRED: errors.SamlExpired,
    VError.WRONG_SUBJECTCONFIRMATION: errors.SamlRecipient,
    VError.STATUS_CODE_IS_NOT_SUCCESS: errors.SamlStatus,
    VError.DEPRECATED_SIGNATURE_METHOD: errors.SamlDeprecatedAlgorithm,
    VError.DEPRECATED_DIGEST_METHOD: errors.SamlDeprecatedAlgorithm,
}


@dataclass(frozen=True)
class LoginStart:
    redirect_url: str
    """Where to send the browser: the IdP's SSO URL with a signed AuthnRequest."""
    request_id: str
    relay_token: str


@dataclass(frozen=True)
class LoginResult:
    identity: Identity
    target: str
    unsolicited: bool


def build_saml_settings(settings: Settings, idp: IdpMetadata,
                        sp_cert: str) -> OneLogin_Saml2_Settings:
    """python3-saml's settings, built once at start-up (never per request)."""
    c = settings.idp
    data: dict[str, Any] = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": settings.sp_entity_id,
            "assertionConsumerService": {"url": settings.acs_url,
                                         "binding": Constants.BINDING_HTTP_POST},
            "NameIDFormat": Constants.NAMEID_UNSPECIFIED,
            "x509cert": sp_cert,
            "privateKey": settings.secrets.sp_private_key,
        },
        "idp": idp.settings,
        "security": {
            "authnRequestsSigned": sign_requests(settings, idp),
            "wantMessagesSigned": c.want_response_signed,
            "wantAssertionsSigned": c.want_assertion_signed,
            "wantAssertionsEncrypted": c.want_assertions_encrypted,
            "wantNameId": True,
            "wantAttributeStatement": c.want_attribute_statement,
            "requestedAuthnContext": list(c.requested_authn_context) or False,
            "requestedAuthnContextComparison": c.authn_context_comparison,
            "failOnAuthnContextMismatch": bool(c.requested_authn_context),
            "rejectDeprecatedAlgorithm": True,
            "signatureAlgorithm": Constants.RSA_SHA256,
            "digestAlgorithm": Constants.SHA256,
            "signMetadata": settings.sp.sign_metadata,
            "metadataValidUntil": "",
            "metadataCacheDuration": "",
        },
    }
    return OneLogin_Saml2_Settings(data, sp_validation_only=False)


def sign_requests(settings: Settings, idp: IdpMetadata) -> bool:
    """Whether AuthnRequests are signed (``sp.sign_authn_requests``)."""
    policy = settings.sp.sign_authn_requests
    if policy == "never" and idp.wants_signed_requests:
        raise errors.ConfigError(
            f"'sp.sign_authn_requests': is \"never\" but the metadata of {idp.entity_id} "
            "sets WantAuthnRequestsSigned=\"true\"; use \"auto\" or \"always\"")
    return policy == "always" or (policy == "auto" and idp.wants_signed_requests)


class _ParsedResponse(speedups.MemoizedQueries):  # type: ignore[misc]
    """A python3-saml Response built on our one parse of the XML (no second parser).

    Its XPath queries are answered once each (``speedups.MemoizedQueries``).
    """

    def __init__(self, saml_settings: OneLogin_Saml2_Settings, parsed: checks.Parsed) -> None:
        self._settings = saml_settings
        self._error = None
        self.response = parsed.xml
        self.document = parsed.document
        self.decrypted_document = None
        self.encrypted = None
        self.valid_scd_not_on_or_after = None
        if self._query("/samlp:Response/saml:EncryptedAssertion"):
            self.encrypted = True
            self.decrypted_document = self._decrypt_assertion(deepcopy(self.document))


@dataclass(frozen=True)
class Trust:
    """What the SP trusts about the IdP, replaced as one piece when the metadata is refreshed."""

    idp: IdpMetadata
    saml_settings: OneLogin_Saml2_Settings
    attribute_map: AttributeMap


class ServiceProvider:
    def __init__(self, settings: Settings, idp: IdpMetadata,
                 saml_settings: OneLogin_Saml2_Settings, store: Store) -> None:
        xmlsec_policy.install()
        speedups.install()
        self.settings = settings
        self.store = store
        self._trust = Trust(idp, saml_settings, AttributeMap(settings.attributes, idp.scopes))
        self.policy = checks.Policy(
            acs_url=settings.acs_url, sp_entity_id=settings.sp_entity_id,
            clock_skew=settings.idp.clock_skew_seconds,
            max_age=settings.idp.max_assertion_age_seconds,
            require_destination=settings.idp.require_destination)
        # The URL python3-saml compares against comes from configuration, never from the
        # request's Host or X-Forwarded-* headers.
        acs = urlsplit(settings.acs_url)
        https = acs.scheme == "https"
        self._request_data: dict[str, Any] = {
            "https": "on" if https else "off", "http_host": acs.hostname,
            "server_port": str(acs.port or (443 if https else 80)),
            "script_name": acs.path, "get_data": {}, "post_data": {}}

    @property
    def idp(self) -> IdpMetadata:
        return self._trust.idp

    @property
    def saml_settings(self) -> OneLogin_Saml2_Settings:
        return self._trust.saml_settings

    def trust(self, idp: IdpMetadata, saml_settings: OneLogin_Saml2_Settings) -> None:
        """Trust refreshed IdP metadata from now on (one atomic swap; logins in flight finish
        with what they started with)."""
        self._trust = Trust(idp, saml_settings,
                            AttributeMap(self.settings.attributes, idp.scopes))

    # --- starting a login -----------------------------------------------------------------

    def begin_login(self, target: str, browser_key: str) -> LoginStart:
        """A signed AuthnRequest for ``target``, remembered for this browser only."""
        auth = OneLogin_Saml2_Auth(self._request_data, old_settings=self.saml_settings)
        relay_token = secrets.token_urlsafe(24)
        url = auth.login(return_to=relay_token, set_nameid_policy=True)
        request_id = auth.get_last_request_id()
        record = {"request_id": request_id, "target": target, "browser": _digest(browser_key),
                  "created": time.time()}
        self.store.put(PENDING_PREFIX + relay_token, json.dumps(record),
                       self.settings.store.login_timeout_seconds)
        return LoginStart(redirect_url=url, request_id=request_id, relay_token=relay_token)

    def metadata(self) -> str:
        xml = self.saml_settings.get_sp_metadata()
        problems = self.saml_settings.validate_metadata(xml)
        if problems:
            raise errors.ConfigError([f"SP metadata: {p}" for p in problems])
        return xml.decode() if isinstance(xml, bytes) else str(xml)

    # --- completing a login ---------------------------------------------------------------

    def complete_login(self, saml_response: str, relay_state: str | None,
                       browser_key: str | None, now: float | None = None) -> LoginResult:
        now = time.time() if now is None else now
        parsed = checks.precheck(saml_response, self.settings.limits.max_saml_response_bytes)
        check_encryption(parsed.document, allow_cbc=self.settings.idp.allow_cbc_encryption)
        in_response_to = parsed.document.get("InResponseTo")
        pending = self._pending(relay_state, in_response_to, browser_key)
        trust = self._trust
        response = self._validate(parsed, pending["request_id"] if pending else None,
                                  trust.saml_settings)
        scd_expiry = checks.postcheck(response, self.policy, now)
        assertion = self._read(response, trust.idp)
        self._check_replay(response, scd_expiry, now)
        identity = trust.attribute_map.identity(assertion)
        # For an unsolicited login the RelayState is the IdP's suggestion; the web layer
        # accepts it only if it is on the Sakai allow-list.
        target = pending["target"] if pending else (relay_state or "")
        return LoginResult(identity=identity, target=target, unsolicited=pending is None)

    def _pending(self, relay_state: str | None, in_response_to: str | None,
                 browser_key: str | None) -> dict[str, Any] | None:
        if in_response_to is None:
            if not self.settings.idp.allow_unsolicited:
                raise errors.SamlUnsolicited(
                    "unsolicited response (no InResponseTo) and idp.allow_unsolicited is off")
            return None
        if not relay_state or len(relay_state) > self.settings.limits.max_relay_state_bytes:
            raise errors.SamlInResponseTo("a solicited response came back without our RelayState")
        raw = self.store.take(PENDING_PREFIX + relay_state)
        if raw is None:
            raise errors.LoginStateMissing("no pending login for this RelayState "
                                           "(expired, already used, or never started here)")
        pending: dict[str, Any] = json.loads(raw)
        if pending["request_id"] != in_response_to:
            raise errors.SamlInResponseTo("InResponseTo does not match the pending AuthnRequest")
        if not browser_key or not secrets.compare_digest(pending["browser"],
                                                         _digest(browser_key)):
            raise errors.SamlInResponseTo("the response was posted by another browser than the "
                                          "one that started the login")
        return pending

    def _validate(self, parsed: checks.Parsed, request_id: str | None,
                  saml_settings: OneLogin_Saml2_Settings) -> Any:
        try:
            response = _ParsedResponse(saml_settings, parsed)
            if response.decrypted_document is not None:
                for signature in response.decrypted_document.iter(f"{{{checks.DS}}}Signature"):
                    checks.check_signature(signature, response.decrypted_document)
            response.is_valid(self._request_data, request_id=request_id, raise_exceptions=True)
        except errors.SamlError:
            raise
        except VError as exc:
            raise _VALIDATION_ERRORS.get(exc.code, errors.SamlInvalid)(str(exc)) from exc
        except Exception as exc:  # xmlsec.Error, decryption failures: one uniform refusal
            raise errors.SamlInvalid(f"{exc.__class__.__name__}: {exc}") from exc
        return response

    def _read(self, response: Any, idp: IdpMetadata) -> Assertion:
        issuers = response.get_issuers()
        return Assertion(
            idp_entity_id=issuers[0] if issuers else idp.entity_id,
            name_id=response.get_nameid() or "",
            name_id_format=response.get_nameid_format(),
            session_index=response.get_session_index(),
            attributes=response.get_attributes(),
            friendly_attributes=response.get_friendlyname_attributes(),
        )

    def _check_replay(self, response: Any, scd_expiry: float, now: float) -> None:
        ttl = int(max(scd_expiry - now, 0)) + self.policy.clock_skew + 1
        assertion_id = response.get_assertion_id()
        if not self.store.add_once(REPLAY_PREFIX + _digest(assertion_id), ttl):
            raise errors.SamlReplay(f"assertion {assertion_id[:80]} was already used")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
