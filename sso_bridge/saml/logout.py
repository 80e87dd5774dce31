"""Single logout (SAML 2.0 SLO), both ways, with python3-saml's own logout classes. No Flask.

python3-saml builds, signs and verifies the logout messages (``OneLogin_Saml2_Auth.logout``,
``process_slo``, ``OneLogin_Saml2_Logout_Request``/``_Response``), always with
``wantMessagesSigned`` (it accepts unsigned ones by default: saml-hardening.md A20, B17). Beside
it, before anyone's session ends, an IdP's LogoutRequest must also: name the IdP as Issuer,
carry exactly our SLO URL as Destination, be recent (IssueInstant) and new (its ID is recorded
once), and name a NameID and SessionIndex a login of this bridge remembered.

A completed login is remembered in the shared store (hashed keys, expiring): under a random
token the browser keeps (for the learner's own logout), and under the IdP's NameID (for the
IdP's). Each holds the Sakai session the bridge handed over, which a logout ends.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, TimestampSigner
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.logout_request import OneLogin_Saml2_Logout_Request
from onelogin.saml2.logout_response import OneLogin_Saml2_Logout_Response
from onelogin.saml2.settings import OneLogin_Saml2_Settings
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge import errors
from sso_bridge.identity import Identity, SakaiSession
from sso_bridge.saml.sp import IdpTrust, ServiceProvider
from sso_bridge.settings import Settings
from sso_bridge.store import Store

log = logging.getLogger("sso_bridge.saml.logout")
BROWSER_PREFIX = "slo-browser:"
SUBJECT_PREFIX = "slo-subject:"
REQUEST_PREFIX = "slo-request:"
MAX_DERIVED = 256
"""IdPs whose logout settings are kept built (cleared when more are needed)."""
MAX_SESSIONS_PER_SUBJECT = 20
"""The Sakai sessions remembered per NameID (the latest): the record stays small."""
_SIGNATURE_XPATH = "/samlp:LogoutRequest/ds:Signature"
_REFERENCE_XPATH = _SIGNATURE_XPATH + "/ds:SignedInfo/ds:Reference"


@dataclass(frozen=True)
class LogoutStart:
    """The learner's logout, begun: their Sakai session has ended."""

    redirect_url: str | None
    """The IdP's SLO URL with our signed LogoutRequest; None when the IdP cannot take one."""
    state: str
    """The LogoutRequest's ID, signed: for a cookie of this browser (``finish``)."""


def _digest(*parts: str) -> str:
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


class SingleLogout:
    def __init__(self, settings: Settings, sp: ServiceProvider, store: Store,
                 end_sakai_session: Callable[[str], bool]) -> None:
        self.settings = settings
        self.sp = sp
        self.store = store
        self._end_sakai = end_sakai_session
        self._ttl = settings.store.slo_session_seconds
        self._pending = TimestampSigner(settings.secrets.flask_secret_key,
                                        salt="sso-bridge pending logout",
                                        digest_method=hashlib.sha256)
        self.slo_url = settings.bridge.base_url + "/saml/slo"
        slo = urlsplit(self.slo_url)
        https = slo.scheme == "https"
        self._request_data: dict[str, Any] = {
            "https": "on" if https else "off", "http_host": slo.hostname,
            "server_port": str(slo.port or (443 if https else 80)), "script_name": slo.path,
            "get_data": {}, "post_data": {}, "validate_signature_from_qs": True}
        self._derived: dict[int, tuple[object, tuple[OneLogin_Saml2_Settings,
                                                      OneLogin_Saml2_Settings]]] = {}

    # --- python3-saml's settings for logout: signed messages, both ways ----------------------

    def _logout_settings(self, trust: IdpTrust) -> OneLogin_Saml2_Settings:
        return self._settings_pair(trust)[0]

    def _settings_pair(self, trust: IdpTrust) -> tuple[OneLogin_Saml2_Settings,
                                                       OneLogin_Saml2_Settings]:
        """(settings requiring signed messages, the same for an embedded signature checked
        first) for the IdP of ``trust``; rebuilt only when its metadata was refreshed."""
        base = trust.saml_settings
        cached = self._derived.get(id(base))
        if cached is not None and cached[0] is base:
            return cached[1]
        security = {**base.get_security_data(), "wantMessagesSigned": True,
                     "logoutRequestSigned": True, "logoutResponseSigned": True}
        data = {"strict": True, "debug": False, "sp": base.get_sp_data(),
                "idp": base.get_idp_data(), "security": security}
        embedded = {**data, "security": {**security, "wantMessagesSigned": False}}
        pair = (OneLogin_Saml2_Settings(data, sp_validation_only=False),
                OneLogin_Saml2_Settings(embedded, sp_validation_only=False))
        if len(self._derived) >= MAX_DERIVED:
            self._derived.clear()
        self._derived[id(base)] = (base, pair)
        return pair

    @staticmethod
    def idp_slo_url(trust: IdpTrust) -> str:
        return str((trust.idp.settings.get("singleLogoutService") or {}).get("url") or "")

    def _issuer_of(self, xml: bytes | str) -> IdpTrust:
        """The trusted IdP a LogoutRequest names as its Issuer (read before it is verified,
        only to pick the keys it must be verified with)."""
        try:
            issuer = OneLogin_Saml2_Logout_Request.get_issuer(OneLogin_Saml2_XML.to_etree(xml))
        except Exception as exc:  # bad XML: python3-saml's own parser errors
            raise errors.SamlLogoutInvalid(f"the LogoutRequest is not XML: {exc}") from exc
        trust = self.sp.find(str(issuer or ""))
        if trust is None:
            raise errors.SamlLogoutInvalid(f"LogoutRequest from {str(issuer)[:100]!r}, not a "
                                           "trusted IdP")
        return trust

    # --- remembering a login -------------------------------------------------------------

    def remember(self, identity: Identity, session: SakaiSession) -> str:
        """Remember a completed login; the token is for the learner's browser."""
        token = secrets.token_urlsafe(32)
        record = {"sid": session.session_id, "idp": identity.idp_entity_id,
                  "name_id": identity.name_id, "format": identity.name_id_format,
                  "session_index": identity.session_index, "browser": _digest(token)}
        self.store.put(BROWSER_PREFIX + _digest(token), json.dumps(record), self._ttl)
        subject = SUBJECT_PREFIX + _digest(identity.idp_entity_id, identity.name_id)
        records = [r for r in self._records(subject) if r["sid"] != session.session_id]
        records = [*records, record][-MAX_SESSIONS_PER_SUBJECT:]
        self.store.put(subject, json.dumps(records), self._ttl)
        return token

    def _records(self, key: str) -> list[dict[str, Any]]:
        raw = self.store.get(key)
        return list(json.loads(raw)) if raw else []

    def _forget(self, record: dict[str, Any]) -> None:
        self.store.put(BROWSER_PREFIX + record["browser"], "", 1)
        subject = SUBJECT_PREFIX + _digest(record["idp"], record["name_id"])
        left = [r for r in self._records(subject) if r["sid"] != record["sid"]]
        self.store.put(subject, json.dumps(left), self._ttl)

    def _end(self, record: dict[str, Any]) -> None:
        """End the Sakai session of ``record`` (one already gone counts as ended)."""
        try:
            if not self._end_sakai(record["sid"]):
                log.info("the Sakai session of a logout had already ended")
        except errors.SakaiError as exc:
            log.error("could not end a Sakai session at logout: %s: %s", exc.code, exc.detail)
        self._forget(record)

    # --- the learner's logout (from Sakai's loggedOutUrl) ----------------------------------

    def begin(self, token: str | None) -> LogoutStart:
        raw = self.store.get(BROWSER_PREFIX + _digest(token)) if token else None
        record = json.loads(raw) if raw else None
        if record is None:
            log.info("logout of a browser the bridge remembers no login of")
            return LogoutStart(None, "")
        self._end(record)
        try:
            trust = self.sp.find(record["idp"])
        except errors.BridgeError as exc:  # its metadata expired, its MDQ service is down
            log.warning("logout: Sakai session ended; the IdP cannot be reached: %s", exc.detail)
            trust = None
        if trust is None or not self.idp_slo_url(trust):
            log.info("logout: Sakai session ended; the IdP has no SLO endpoint")
            return LogoutStart(None, "")
        auth = OneLogin_Saml2_Auth(self._request_data, old_settings=self._logout_settings(trust))
        url = auth.logout(name_id=record["name_id"],
                          session_index=record["session_index"],
                          name_id_format=record["format"])
        # base64url: a cookie value may hold no quote or comma (RFC 6265)
        payload = json.dumps([auth.get_last_request_id(), trust.entity_id]).encode()
        state = self._pending.sign(base64.urlsafe_b64encode(payload)).decode()
        return LogoutStart(url, state)

    def finish(self, query: dict[str, str], query_string: str, state: str | None) -> bool:
        """The IdP's LogoutResponse to our request: True if it logged the learner out."""
        try:
            request_id, idp = json.loads(base64.urlsafe_b64decode(self._pending.unsign(
                state or "", max_age=self.settings.store.login_timeout_seconds)))
        except (BadSignature, ValueError) as exc:
            raise errors.SamlLogoutInvalid("a LogoutResponse without this browser's pending "
                                           "logout (expired, or never started here)") from exc
        trust = self.sp.find(idp)
        if trust is None:
            raise errors.SamlLogoutInvalid(f"the IdP {idp[:100]!r} of this logout is no longer "
                                           "trusted")
        auth = OneLogin_Saml2_Auth(self._request(query, query_string),
                                   old_settings=self._logout_settings(trust))
        auth.process_slo(keep_local_session=True, request_id=request_id)
        problems = auth.get_errors()
        if problems == ["logout_not_success"]:
            log.warning("the IdP answered our LogoutRequest with a non-success status")
            return False
        if problems:
            raise errors.SamlLogoutInvalid(f"LogoutResponse refused: {problems}: "
                                           f"{auth.get_last_error_reason()}")
        return True

    def _request(self, query: dict[str, str], query_string: str,
                 form: dict[str, str] | None = None) -> dict[str, Any]:
        return {**self._request_data, "get_data": query, "query_string": query_string,
                "post_data": form or {}}

    # --- the IdP's logout ----------------------------------------------------------------

    def idp_redirect(self, query: dict[str, str], query_string: str) -> str:
        """A LogoutRequest over HTTP-Redirect; returns where the signed LogoutResponse goes."""
        try:
            xml = OneLogin_Saml2_Utils.decode_base64_and_inflate(query.get("SAMLRequest", ""))
        except Exception as exc:  # not base64, not deflated
            raise errors.SamlLogoutInvalid(f"the LogoutRequest cannot be read: {exc}") from exc
        trust = self._issuer_of(xml)
        auth = OneLogin_Saml2_Auth(self._request(query, query_string),
                                   old_settings=self._logout_settings(trust))
        url = auth.process_slo(delete_session_cb=lambda: self._end_subject(
            auth.get_last_request_xml(), trust))
        if auth.get_errors() or not url:
            raise errors.SamlLogoutInvalid(f"LogoutRequest refused: {auth.get_errors()}: "
                                           f"{auth.get_last_error_reason()}")
        return str(url)

    def idp_post(self, saml_request: str, relay_state: str | None) -> str:
        """A LogoutRequest over HTTP-POST (its signature embedded); python3-saml verifies the
        signature and the request, then answers over HTTP-Redirect as for ``idp_redirect``."""
        if len(saml_request) > self.settings.limits.max_saml_response_bytes:
            raise errors.SamlLogoutInvalid("the LogoutRequest is too large")
        try:
            trust = self._issuer_of(OneLogin_Saml2_Utils.b64decode(saml_request))
        except errors.SamlLogoutInvalid:
            raise
        except Exception as exc:  # not base64
            raise errors.SamlLogoutInvalid(f"the LogoutRequest cannot be read: {exc}") from exc
        strict, embedded = self._settings_pair(trust)
        try:
            request = OneLogin_Saml2_Logout_Request(embedded, saml_request)
            xml = request.get_xml()
            self._check_embedded_signature(xml, trust)
            request.is_valid(self._request({}, ""), raise_exceptions=True)
        except errors.SamlLogoutInvalid:
            raise
        except Exception as exc:  # python3-saml's validation errors, bad base64, bad XML
            raise errors.SamlLogoutInvalid(f"LogoutRequest refused: {exc}") from exc
        self._end_subject(xml, trust)
        response = OneLogin_Saml2_Logout_Response(strict)
        response.build(request.id)
        parameters = {"SAMLResponse": response.get_response()}
        if relay_state:
            parameters["RelayState"] = relay_state
        auth = OneLogin_Saml2_Auth(self._request({}, ""), old_settings=strict)
        auth.add_response_signature(parameters, strict.get_security_data()["signatureAlgorithm"])
        return str(auth.redirect_to(auth.get_slo_response_url(), parameters))

    def _check_embedded_signature(self, xml: str, trust: IdpTrust) -> None:
        root = OneLogin_Saml2_XML.to_etree(xml)
        references = OneLogin_Saml2_XML.query(root, _REFERENCE_XPATH)
        if len(references) != 1 or references[0].get("URI") != "#" + (root.get("ID") or "-"):
            raise errors.SamlLogoutInvalid("the LogoutRequest's signature is missing or does "
                                           "not cover the request itself")
        if not OneLogin_Saml2_Utils.validate_sign(root, xpath=_SIGNATURE_XPATH,
                                                  multicerts=[
                OneLogin_Saml2_Utils.format_cert(c) for c in trust.idp.signing_certs]):
            raise errors.SamlLogoutInvalid("the LogoutRequest's signature is not the IdP's")

    def _end_subject(self, xml: str, trust: IdpTrust) -> None:
        """Our own checks of a LogoutRequest python3-saml accepted, then end its sessions."""
        root = OneLogin_Saml2_XML.to_etree(xml)
        self._check_request(root, trust)
        key = self.settings.secrets.sp_private_key
        name_id = OneLogin_Saml2_Logout_Request.get_nameid_data(root, key)
        indexes = set(OneLogin_Saml2_Logout_Request.get_session_indexes(root))
        idp = trust.entity_id
        records = [r for r in self._records(SUBJECT_PREFIX + _digest(idp, name_id["Value"]))
                   if not indexes or r["session_index"] in indexes]
        if not records:
            log.info("IdP logout for a NameID and SessionIndex with no login here to end")
        for record in records:
            self._end(record)
        log.info("IdP logout ended %d Sakai session(s)", len(records))

    def _check_request(self, root: Any, trust: IdpTrust) -> None:
        issuer = OneLogin_Saml2_Logout_Request.get_issuer(root)
        if issuer != trust.entity_id:
            raise errors.SamlLogoutInvalid(f"LogoutRequest from {str(issuer)[:100]!r}, not the IdP")
        if root.get("Destination") != self.slo_url:
            raise errors.SamlLogoutInvalid("the LogoutRequest's Destination is not our SLO URL")
        skew, max_age = trust.policy.clock_skew_seconds, trust.policy.max_assertion_age_seconds
        try:
            issued = OneLogin_Saml2_Utils.parse_SAML_to_time(root.get("IssueInstant"))
        except (TypeError, ValueError) as exc:
            raise errors.SamlLogoutInvalid("the LogoutRequest has no valid IssueInstant") from exc
        age = time.time() - issued
        if age > max_age + skew or age < -skew:
            raise errors.SamlLogoutInvalid(f"the LogoutRequest was issued {age:.0f} s ago")
        ttl = max_age + 2 * skew + 1
        if not self.store.add_once(REQUEST_PREFIX + _digest(root.get("ID") or ""), ttl=ttl):
            raise errors.SamlLogoutInvalid("the LogoutRequest was already used (a replay)")
