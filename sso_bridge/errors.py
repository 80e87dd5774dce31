"""The bridge's one exception tree.

Every failure the bridge can meet is raised as a subclass of :class:`BridgeError`, never
signalled by ``None`` or ``False``. Each class carries a stable ``code``: it appears in the
learner's error page, the log line and the metrics. The mapping from code to HTTP status and
to the learner's page lives in ``sso_bridge.web.errors``; nothing here knows about HTTP.

::

    BridgeError
    ├── ConfigError                    configuration or keys are wrong (start-up)
    ├── DependencyError                lxml / xmlsec built against different libxml2
    ├── LoginError                     the browser's login flow is not acceptable
    │   ├── BadTarget                  target is not on the Sakai allow-list
    │   ├── LoginStateMissing          no pending login for this browser (expired / reused)
    │   ├── CookiesBlocked             ... because the browser keeps no cookies for the bridge
    │   ├── LoginStateForged           the pending login's cookie fails its signature
    │   ├── BadRequest                 a required form field is missing or malformed
    │   └── NotFound                   no such page
    ├── SamlError                      the IdP's response is refused
    │   ├── SamlTooLarge, SamlMalformed, SamlForbiddenXml, SamlForbiddenTransform,
    │   ├── SamlInvalid (python3-saml refused it), SamlDeprecatedAlgorithm
    │   ├── SamlAudience, SamlDestination, SamlRecipient, SamlExpired, SamlTooOld
    │   ├── SamlUnsolicited, SamlInResponseTo, SamlReplay, SamlStatus
    │   ├── SamlRelayStateTooLong      the RelayState is longer than limits.max_relay_state_bytes
    │   ├── SamlLogoutInvalid          a LogoutRequest or LogoutResponse is refused
    │   └── IdentityError              the assertion lacks a usable Sakai EID
    │       ├── IdentityScopeError     ... or its scope is not the IdP's (shibmd:Scope)
    │       └── IdentityCharacters     ... or it holds control or format characters
    ├── SakaiError                     Sakai web services failed
    │   ├── SakaiUnavailable           connection refused, timeout, 5xx without SOAP
    │   ├── SakaiForbidden             HTTP 403: web-service IP allow-list
    │   ├── SakaiLoginDisabled         webservices.allowlogin is off
    │   ├── SakaiAdminAuthFailed       the admin account or password is wrong
    │   ├── SakaiSessionInactive       the admin session expired (retried once)
    │   ├── SakaiFault                 any other SOAP fault
    │   ├── SakaiOperationFailed       a "<ExceptionClass> : <message>" string result
    │   │   └── SakaiUserExists        UserAlreadyDefinedException
    │   ├── SakaiProtocolError         the reply is not the SOAP we expect
    │   ├── SakaiSlow                  the login's Sakai deadline passed
    │   ├── SakaiServerIdMismatch      sakai.server_id disagrees with the serverId Sakai uses
    │   └── SakaiHandoffRefused        a session the bridge minted is not accepted by Sakai
    ├── AccountDisabled                the Sakai account has disabled=true
    ├── AccountProtected               a protected account (admin, the web-services account ...)
    ├── AccountLinkRefused             an existing account the bridge may not link
    └── StoreUnavailable               the state store cannot be reached
"""

from __future__ import annotations


class BridgeError(Exception):
    """Base of every bridge failure. ``detail`` is for the log, never for the learner."""

    code = "internal_error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(detail or self.code)
        self.detail = detail or self.code


class ConfigError(BridgeError):
    """One or more configuration problems; ``problems`` lists every one of them."""

    code = "config_invalid"

    def __init__(self, problems: list[str] | str) -> None:
        self.problems = [problems] if isinstance(problems, str) else list(problems)
        super().__init__("; ".join(self.problems))


class DependencyError(BridgeError):
    code = "dependency_mismatch"


# --- the learner's login flow -------------------------------------------------------------


class LoginError(BridgeError):
    code = "login_invalid"


class BadTarget(LoginError):
    code = "bad_target"


class LoginStateMissing(LoginError):
    code = "login_expired"


class CookiesBlocked(LoginStateMissing):
    """No pending login and no test cookie either: the browser does not keep our cookies."""

    code = "cookies_blocked"


class LoginStateForged(LoginError):
    """The pending login's cookie is not signed with this instance's SSO_BRIDGE_SECRET_KEY."""

    code = "login_state_bad_signature"


class BadRequest(LoginError):
    code = "bad_request"


class NotFound(LoginError):
    code = "not_found"


class IdpUnknown(LoginError):
    """``/saml/login?idp=`` names an IdP the bridge does not trust (or no longer does)."""

    code = "idp_unknown"


# --- SAML ---------------------------------------------------------------------------------


class SamlError(BridgeError):
    code = "saml_invalid"


class SamlTooLarge(SamlError):
    code = "saml_too_large"


class SamlMalformed(SamlError):
    code = "saml_malformed"


class SamlForbiddenXml(SamlError):
    """DOCTYPE, entities and other XML features SAML never needs."""

    code = "saml_forbidden_xml"


class SamlForbiddenTransform(SamlError):
    """A signature uses a transform, reference or object outside the SAML profile."""

    code = "saml_forbidden_transform"


class SamlInvalid(SamlError):
    """python3-saml's own strict validation refused the response (signature, issuer, ...)."""

    code = "saml_invalid"


class SamlDeprecatedAlgorithm(SamlError):
    code = "saml_deprecated_algorithm"


class SamlAudience(SamlError):
    code = "saml_audience"


class SamlDestination(SamlError):
    code = "saml_destination"


class SamlRecipient(SamlError):
    code = "saml_recipient"


class SamlExpired(SamlError):
    code = "saml_expired"


class SamlTooOld(SamlError):
    code = "saml_too_old"


class SamlUnsolicited(SamlError):
    code = "saml_unsolicited"


class SamlInResponseTo(SamlError):
    code = "saml_in_response_to"


class SamlReplay(SamlError):
    code = "saml_replay"


class SamlStatus(SamlError):
    """The IdP answered with a non-success status (the learner cancelled, no passive...)."""

    code = "saml_status"


class SamlRelayStateTooLong(SamlError):
    code = "relay_state_too_long"


class SamlLogoutInvalid(SamlError):
    """A LogoutRequest or LogoutResponse that is unsigned, badly signed, not the IdP's, not
    for us, expired, replayed or naming nobody we know: it ends no session."""

    code = "slo_invalid"


class IdentityError(SamlError):
    code = "identity_incomplete"


class IdentityScopeError(IdentityError):
    """A scoped identifier (eppn, subject-id) outside the scopes the IdP's metadata declares."""

    code = "identity_scope"


class IdentityCharacters(IdentityError):
    """The EID holds control, format (zero-width, bidi) or line-break characters."""

    code = "eid_invalid_characters"


# --- Sakai --------------------------------------------------------------------------------


class SakaiError(BridgeError):
    code = "sakai_error"


class SakaiUnavailable(SakaiError):
    code = "sakai_unavailable"


class SakaiForbidden(SakaiError):
    code = "sakai_forbidden"


class SakaiLoginDisabled(SakaiError):
    code = "sakai_login_disabled"


class SakaiAdminAuthFailed(SakaiError):
    code = "sakai_admin_auth"


class SakaiSessionInactive(SakaiError):
    code = "sakai_session_inactive"


class SakaiFault(SakaiError):
    code = "sakai_fault"


class SakaiOperationFailed(SakaiError):
    code = "sakai_operation_failed"

    def __init__(self, detail: str = "", exception_class: str = "") -> None:
        super().__init__(detail)
        self.exception_class = exception_class


class SakaiUserExists(SakaiOperationFailed):
    code = "sakai_user_exists"


class SakaiProtocolError(SakaiError):
    code = "sakai_protocol"


class SakaiSlow(SakaiError):
    """The login's overall Sakai deadline passed (``sakai.login_deadline_seconds``)."""

    code = "sakai_slow"


class SakaiServerIdMismatch(SakaiError):
    """The serverId learned from Sakai's cookie is not the configured ``sakai.server_id``."""

    code = "sakai_server_id"


class SakaiHandoffRefused(SakaiError):
    """Readiness: a session minted by the bridge is not accepted through the browsers' URL."""

    code = "sakai_handoff_refused"


class AccountDisabled(BridgeError):
    code = "account_disabled"


class AccountProtected(BridgeError):
    """The EID is protected: admin, the web-services account or ``sakai.protected_eids``."""

    code = "account_protected"


class AccountLinkRefused(BridgeError):
    """An existing Sakai account of a kind the bridge is configured not to link."""

    code = "account_link_refused"


class StoreUnavailable(BridgeError):
    code = "store_unavailable"


class IdpMetadataUnavailable(StoreUnavailable):
    """An MDQ service did not answer (or not with metadata to trust) for a learner's IdP."""

    code = "idp_metadata_unavailable"
