"""What the SP trusts about one IdP (:class:`IdpTrust`), and python3-saml's settings for it.

python3-saml's settings are built once per IdP metadata (at start-up, at a refresh, or at a
federation IdP's first login), never per request; the SP's own part is the same for every IdP.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso_bridge import errors
from sso_bridge.saml.attributes import AttributeMap
from sso_bridge.saml.metadata import IdpMetadata
from sso_bridge.saml.validation import ResponseValidator
from sso_bridge.settings import IdpPolicy, Settings


def build_saml_settings(settings: Settings, idp: IdpMetadata | None, sp_cert: str,
                        next_sp_cert: str = "", private_key: str | None = None,
                        policy: IdpPolicy | None = None) -> OneLogin_Saml2_Settings:
    """python3-saml's settings for one IdP, built once per IdP metadata (never per request).
    ``next_sp_cert``: during an SP key rollover, the next certificate, published in the SP
    metadata too. ``private_key``: another SP key than ``SSO_BRIDGE_SP_KEY`` (the next one, to
    decrypt). ``policy``: the IdP's table (default ``[idp]``). ``idp`` None: the SP's part
    alone (its metadata, when every IdP comes from a federation)."""
    c = settings.idp if policy is None else policy
    data: dict[str, Any] = {
        "strict": True,
        "debug": False,
        "sp": {
            "entityId": settings.sp_entity_id,
            "assertionConsumerService": {"url": settings.acs_url,
                                         "binding": Constants.BINDING_HTTP_POST},
            "singleLogoutService": {"url": settings.bridge.base_url + "/saml/slo",
                                    "binding": Constants.BINDING_HTTP_REDIRECT},
            "NameIDFormat": Constants.NAMEID_UNSPECIFIED,
            "x509cert": sp_cert,
            "privateKey": settings.secrets.sp_private_key if private_key is None
            else private_key,
        },
        "idp": idp.settings if idp else {},
        "security": {
            "authnRequestsSigned": sign_requests(settings, idp) if idp else False,
            "wantMessagesSigned": c.want_response_signed,
            "wantAssertionsSigned": c.want_assertion_signed,
            "wantAssertionsEncrypted": c.want_assertions_encrypted,
            "wantNameId": True,
            "wantAttributeStatement": c.want_attribute_statement,
            # Keycloak sends one <Attribute Name="Role"> per role: python3-saml merges the values
            # of repeated names (saml/attributes.py decides what a repeated EID source means).
            "allowRepeatAttributeName": True,
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
    if next_sp_cert:
        data["sp"]["x509certNew"] = next_sp_cert
    return OneLogin_Saml2_Settings(data, sp_validation_only=idp is None)


def sign_requests(settings: Settings, idp: IdpMetadata) -> bool:
    """Whether AuthnRequests are signed (``sp.sign_authn_requests``)."""
    policy = settings.sp.sign_authn_requests
    if policy == "never" and idp.wants_signed_requests:
        raise errors.ConfigError(
            f"'sp.sign_authn_requests': is \"never\" but the metadata of {idp.entity_id} "
            "sets WantAuthnRequestsSigned=\"true\"; use \"auto\" or \"always\"")
    return policy == "always" or (policy == "auto" and idp.wants_signed_requests)


@dataclass(frozen=True)
class IdpTrust:
    """What the SP trusts about one IdP, replaced as one piece when its metadata is refreshed.

    ``key``: its settings table (``idp``, ``idps.<name>``, ``federations.<name>``);
    ``policy``: that table, how its responses are checked and its accounts named."""

    key: str
    policy: IdpPolicy
    idp: IdpMetadata
    saml_settings: OneLogin_Saml2_Settings
    attribute_map: AttributeMap
    validator: ResponseValidator

    @property
    def entity_id(self) -> str:
        return self.idp.entity_id


Lookup = Callable[[str], "IdpTrust | None"]



_ISSUER = f"{{{Constants.NS_SAML}}}Issuer"
_ASSERTION = f"{{{Constants.NS_SAML}}}Assertion"


def response_issuer(document: Any) -> str:
    """The Response's Issuer, else its (unencrypted) assertion's: '' when it names none."""
    issuer = document.find(_ISSUER)
    if issuer is None:
        assertion = document.find(_ASSERTION)
        issuer = assertion.find(_ISSUER) if assertion is not None else None
    return (issuer.text or "").strip() if issuer is not None else ""


def shown_issuer(issuer: str) -> str:
    return repr(issuer[:200]) if issuer else "an unnamed issuer"
