"""The SAML service provider: AuthnRequests out, validated responses in.

python3-saml builds and signs the AuthnRequests and the SP metadata, and validates responses
(its strict ``is_valid``, then the bridge's stricter checks: ``saml/validation.py``). No
Flask: the web layer keeps the pending login's signed state in a cookie of the browser that
started it, passes in the posted form fields and that cookie, and gets back an
:class:`Identity` and the learner's target, or a :class:`SamlError` with a stable code.

A pending login is not server state: its AuthnRequest ID and target travel in the browser's
cookie, signed with ``SSO_BRIDGE_SECRET_KEY`` and timestamped, so starting a login writes
nothing and any instance can finish it. It is single-use all the same: a completed login
records its request ID, with the assertion ID, in the replay cache.
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner
from onelogin.saml2.auth import OneLogin_Saml2_Auth
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso_bridge import errors
from sso_bridge.identity import Identity
from sso_bridge.saml import checks, python3_saml_caches, sp_metadata, strict_checks, xmlsec_policy
from sso_bridge.saml.attributes import AttributeMap
from sso_bridge.saml.encryption import quiet_libxml2
from sso_bridge.saml.metadata import IdpMetadata
from sso_bridge.saml.trust import (
    IdpTrust,
    Lookup,
    build_saml_settings,
    response_issuer,
    shown_issuer,
)
from sso_bridge.saml.validation import ResponseValidator, Validated
from sso_bridge.settings import AttributesSection, IdpPolicy, Settings
from sso_bridge.store import Store

__all__ = ["IdpTrust", "LoginResult", "LoginStart", "ServiceProvider", "build_saml_settings"]
log = logging.getLogger("sso_bridge.saml")
REPLAY_PREFIX = "assertion:"
REQUEST_PREFIX = "request:"
PROTOCOL_SCHEMA = "saml-schema-protocol-2.0.xsd"


@dataclass(frozen=True)
class LoginStart:
    redirect_url: str
    """Where to send the browser: the IdP's SSO URL with an AuthnRequest."""
    request_id: str
    relay_token: str
    """The RelayState: an opaque token naming this pending login."""
    state: str
    """The pending login, signed and timestamped: for a cookie of this browser only."""


@dataclass(frozen=True)
class LoginResult:
    identity: Identity
    target: str
    unsolicited: bool


class ServiceProvider:
    """``saml_settings``: python3-saml's settings (``build_saml_settings``); during an SP key
    rollover ``next_key_settings``, the same with the next private key, decrypts what the
    current key cannot.

    The IdP given here is the first configured one (``key``, ``policy`` and ``attributes``:
    default ``[idp]``); ``add`` trusts more (``[idps.<name>]``), and ``others`` finds the IdPs
    of federations by entityID (``idps.Idps`` sets it)."""

    def __init__(self, settings: Settings, idp: IdpMetadata | None,
                 saml_settings: OneLogin_Saml2_Settings, store: Store,
                 next_key_settings: OneLogin_Saml2_Settings | None = None, *,
                 key: str = "idp", policy: IdpPolicy | None = None,
                 attributes: AttributesSection | None = None) -> None:
        xmlsec_policy.install()
        self.caches_active = python3_saml_caches.install()
        # libxml2's XSD types set up before any fork, caches or not
        python3_saml_caches.schema(PROTOCOL_SCHEMA)
        if not quiet_libxml2():
            log.warning("libxml2 messages about decrypted text cannot be kept off stderr: "
                        "python-xmlsec's libxml2 has no xmlSetStructuredErrorFunc")
        self.settings = settings
        self.store = store
        # itsdangerous' signer alone: its serializer layer (which also tries zlib on every
        # value) cost 50 µs per login start for a three-string payload.
        self._pending_logins = TimestampSigner(settings.secrets.flask_secret_key,
                                               salt="sso-bridge pending login",
                                               digest_method=hashlib.sha256)
        # The URL python3-saml compares against comes from configuration, never from the
        # request's Host or X-Forwarded-* headers.
        acs = urlsplit(settings.acs_url)
        https = acs.scheme == "https"
        self._request_data: dict[str, Any] = {
            "https": "on" if https else "off", "http_host": acs.hostname,
            "server_port": str(acs.port or (443 if https else 80)),
            "script_name": acs.path, "get_data": {}, "post_data": {}}
        self._trusts: dict[str, IdpTrust] = {}
        self.default_key = key
        self.others: Lookup = lambda entity_id: None
        self._sp_settings = saml_settings  # the SP's part never changes: its metadata
        if idp is not None:
            self.add(key, policy or settings.idp, attributes or settings.attributes, idp,
                     saml_settings, next_key_settings)

    @property
    def default(self) -> IdpTrust:
        """The first configured IdP; IdpUnknown when every IdP comes from a federation."""
        trust = self._trusts.get(self.default_key)
        if trust is None:
            raise errors.IdpUnknown("no IdP named: every IdP comes from a federation")
        return trust

    @property
    def idp(self) -> IdpMetadata:
        return self.default.idp

    @property
    def saml_settings(self) -> OneLogin_Saml2_Settings:
        return self.default.saml_settings

    def configured(self) -> list[IdpTrust]:
        """The configured IdPs (``[idp]``, ``[idps.<name>]``), first the default."""
        return list(self._trusts.values())

    def find(self, entity_id: str) -> IdpTrust | None:
        """The trusted IdP with this entityID: a configured one, else a federation's.
        IdpMetadataUnavailable when a configured IdP's metadata expired (no refresh brought a
        valid copy): its keys are no longer vouched for, as a federation's are not."""
        for trust in self._trusts.values():
            if trust.idp.entity_id == entity_id:
                if trust.idp.expired():
                    raise errors.IdpMetadataUnavailable(
                        f"the metadata of {entity_id} [{trust.key}] expired "
                        f"(validUntil passed) and no refresh brought a valid copy")
                return trust
        return self.others(entity_id)

    def add(self, key: str, policy: IdpPolicy, attributes: AttributesSection, idp: IdpMetadata,
            saml_settings: OneLogin_Saml2_Settings,
            next_key_settings: OneLogin_Saml2_Settings | None = None) -> None:
        """Trust one more configured IdP (``key``: its table)."""
        self._trusts[key] = self.make_trust(key, policy, attributes, idp, saml_settings,
                                            next_key_settings)

    def trust(self, idp: IdpMetadata, saml_settings: OneLogin_Saml2_Settings,
              next_key_settings: OneLogin_Saml2_Settings | None = None,
              key: str | None = None) -> None:
        """Trust refreshed metadata of the IdP of table ``key`` (default: the first) from now
        on (one atomic swap; logins in flight finish with what they started with)."""
        old = self._trusts[key or self.default_key]
        self._trusts[old.key] = self.make_trust(old.key, old.policy, old.attribute_map.config,
                                                idp, saml_settings, next_key_settings)

    def make_trust(self, key: str, policy: IdpPolicy, attributes: AttributesSection,
                   idp: IdpMetadata, saml_settings: OneLogin_Saml2_Settings,
                   next_key_settings: OneLogin_Saml2_Settings | None = None) -> IdpTrust:
        s = self.settings
        expected = strict_checks.Expected(
            sp_entity_id=s.sp_entity_id, acs_url=s.acs_url,
            clock_skew=policy.clock_skew_seconds, max_age=policy.max_assertion_age_seconds,
            require_destination=policy.require_destination)
        by_key = tuple(k for k in (saml_settings, next_key_settings) if k is not None)
        validator = ResponseValidator(by_key, self._request_data, expected, idp.entity_id,
                                      allow_cbc=policy.allow_cbc_encryption)
        attribute_map = AttributeMap(attributes, idp.scopes, tuple(policy.scopes),
                                     idp.entity_id, key=key,
                                     affixes=(policy.eid_prefix, policy.eid_suffix),
                                     user_types=policy.user_types)
        return IdpTrust(key, policy, idp, saml_settings, attribute_map, validator)

    # --- starting a login -----------------------------------------------------------------

    def begin_login(self, target: str, trust: IdpTrust | None = None) -> LoginStart:
        """An AuthnRequest to ``trust``'s IdP (default: the first) for ``target``, and the
        pending login's state for the browser."""
        trust = trust or self.default
        auth = OneLogin_Saml2_Auth(self._request_data, old_settings=trust.saml_settings)
        relay_token = secrets.token_urlsafe(24)
        url = auth.login(return_to=relay_token, set_nameid_policy=True)
        request_id = auth.get_last_request_id()
        payload = json.dumps([relay_token, request_id, target, trust.entity_id]).encode()
        state = self._pending_logins.sign(base64.urlsafe_b64encode(payload)).decode()
        return LoginStart(redirect_url=url, request_id=request_id, relay_token=relay_token,
                          state=state)

    def metadata(self) -> str:
        return sp_metadata.published(self.settings, self._sp_settings)

    # --- completing a login ---------------------------------------------------------------

    def complete_login(self, saml_response: str, relay_state: str | None,
                       pending_state: str | None, now: float | None = None) -> LoginResult:
        """``pending_state``: the browser's cookie for the login named by ``relay_state``."""
        now = time.time() if now is None else now
        parsed = checks.precheck(saml_response, self.settings.limits.max_saml_response_bytes)
        pending = self._pending(relay_state, parsed.document.get("InResponseTo"), pending_state)
        trust = self._answering(pending, parsed.document)
        request_id = pending["request"] if pending else None
        valid, identity = self.validate(saml_response, parsed, request_id, now, trust)
        self._check_replay(valid, request_id, now, trust.policy.clock_skew_seconds)
        # For an unsolicited login the RelayState is the IdP's suggestion; the web layer
        # accepts it only if it is on the Sakai allow-list.
        target = pending["target"] if pending else (relay_state or "")
        return LoginResult(identity=identity, target=target, unsolicited=pending is None)

    def _answering(self, pending: dict[str, str] | None, document: Any) -> IdpTrust:
        """The IdP a response must come from: the one the pending login's AuthnRequest went
        to, or, unsolicited, the one its Issuer names (if that IdP accepts unsolicited
        responses). python3-saml then checks every Issuer against it."""
        if pending is not None:
            trust = self.find(pending["idp"]) if pending["idp"] else self.default
            if trust is None:
                raise errors.SamlInvalid(f"the IdP {pending['idp'][:200]} this login went to is "
                                         "no longer trusted")
            return trust
        issuer = response_issuer(document)
        trust = self.find(issuer) if issuer else None
        if trust is None or not trust.policy.allow_unsolicited:
            raise errors.SamlUnsolicited(
                f"unsolicited response (no InResponseTo) from {shown_issuer(issuer)}, and no "
                "trusted IdP of that entityID allows them (allow_unsolicited)")
        return trust

    def validate(self, saml_response: str, parsed: checks.Parsed, request_id: str | None,
                 now: float, trust: IdpTrust | None = None) -> tuple[Validated, Identity]:
        """The response's own checks (``saml/validation.py``) and the learner it names;
        ``parsed``: ``checks.precheck(saml_response)``; ``trust``: the IdP it must come from
        (default: the first configured).

        Only the pending login and the replay cache are left to :meth:`complete_login`.
        """
        trust = trust or self.default
        valid = trust.validator.validate(saml_response, parsed.document, request_id, now)
        return valid, trust.attribute_map.identity(valid.assertion)

    def _pending(self, relay_state: str | None, in_response_to: str | None,
                 pending_state: str | None) -> dict[str, str] | None:
        if in_response_to is None:
            return None  # unsolicited: ``_answering`` decides whether its IdP allows it
        if not relay_state:
            raise errors.SamlInResponseTo("a solicited response came back without our RelayState")
        limit = self.settings.limits.max_relay_state_bytes
        if len(relay_state.encode()) > limit:
            raise errors.SamlRelayStateTooLong(
                f"the RelayState is {len(relay_state.encode())} bytes, more than "
                f"limits.max_relay_state_bytes ({limit})")
        if not pending_state:
            raise errors.LoginStateMissing("this browser holds no pending login for this "
                                           "RelayState (expired, already used, started in "
                                           "another browser, or never started here)")
        try:
            payload = self._pending_logins.unsign(
                pending_state, max_age=self.settings.store.login_timeout_seconds)
            relay, request, target, *idp = json.loads(base64.urlsafe_b64decode(payload))
        except SignatureExpired as exc:
            raise errors.LoginStateMissing("the pending login expired") from exc
        except (BadSignature, ValueError) as exc:
            raise errors.LoginStateForged(
                "the pending login's cookie fails its signature: tampered with, or signed by "
                "an instance with another SSO_BRIDGE_SECRET_KEY (compare the secret_key "
                "fingerprint in each instance's /readyz)") from exc
        # A login started before an upgrade names no IdP: it went to the first one.
        pending = {"relay": relay, "request": request, "target": target,
                   "idp": str(idp[0]) if idp else ""}
        if pending["relay"] != relay_state:
            raise errors.SamlInResponseTo("the pending login is not the one the RelayState names")
        if pending["request"] != in_response_to:
            raise errors.SamlInResponseTo("InResponseTo does not match the pending AuthnRequest")
        return pending

    def _check_replay(self, valid: Validated, request_id: str | None, now: float,
                      skew: int) -> None:
        """Record the assertion ID (and the AuthnRequest ID it answers) once only."""
        ttl = int(max(valid.expires - now, 0)) + skew + 1
        keys = [REPLAY_PREFIX + _digest(valid.assertion_id)]
        if request_id is not None:
            keys.append(REQUEST_PREFIX + _digest(request_id))
            ttl = max(ttl, self.settings.store.login_timeout_seconds + skew + 1)
        if not self.store.add_once(*keys, ttl=ttl):
            raise errors.SamlReplay(f"assertion {valid.assertion_id[:80]} or the AuthnRequest "
                                    "it answers was already used")


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
