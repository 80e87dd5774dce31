"""The settings of the IdPs: ``[idp]``, ``[idps.<name>]``, ``[federations.<name>]``, their
``attributes`` tables and ``[discovery]`` (typed, frozen; read by ``settings.load_settings``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sso_bridge import eid_sources
from sso_bridge.presets import PresetName


@dataclass(frozen=True)
class IdpPolicy:
    """How one IdP's responses are checked and its learners' accounts are named: the keys
    shared by ``[idp]``, ``[idps.<name>]`` and ``[federations.<name>]``."""

    allow_unsolicited: bool = False
    want_response_signed: bool = True
    want_assertion_signed: bool = True
    want_assertions_encrypted: bool = False
    allow_cbc_encryption: bool = False
    """Admit AES-CBC content encryption (open to oracle attacks) for IdPs without AES-GCM."""
    want_attribute_statement: bool = True
    requested_authn_context: list[str] = field(default_factory=list)
    authn_context_comparison: Literal["exact", "minimum", "maximum", "better"] = "exact"
    clock_skew_seconds: int = 120
    max_assertion_age_seconds: int = 600
    require_destination: bool = True
    preset: PresetName = "generic"
    """The IdP product (``sso_bridge/presets.py``): its defaults fill every key not written."""
    scopes: list[str] = field(default_factory=list)
    """The scopes (domains) of the IdP's scoped identifiers, when its metadata declares no
    shibmd:Scope."""
    eid_prefix: str = ""
    """Put before every EID this IdP's learners get (keeps two IdPs' accounts apart)."""
    eid_suffix: str = ""
    """Put after every EID this IdP's learners get (``@partner``)."""
    display_name: dict[str, str] = field(default_factory=dict)
    """The IdP's name on the discovery page, per language, when its metadata has no
    mdui:DisplayName (or to replace it)."""
    user_types: dict[str, str] = field(default_factory=dict)
    """Affiliation → Sakai user type for this IdP's learners (empty: ``sakai.user_types``)."""


@dataclass(frozen=True)
class IdpSection(IdpPolicy):
    metadata_file: str = ""
    metadata_url: str = ""
    entity_id: str = ""
    metadata_timeout_seconds: float = 10.0
    metadata_allow_http: bool = False
    metadata_refresh_seconds: int = 3600
    """Reload the metadata this often, keeping the last good copy (0: only at start-up)."""
    metadata_signing_certificate: str = ""
    """A PEM certificate whose key must have signed the metadata (a federation's signer, or
    the IdP's own). Empty: the metadata is trusted as read."""
    metadata_max_validity_days: int = 0
    """Require a validUntil at most this many days ahead (0: not required)."""

    @property
    def configured(self) -> bool:
        return bool(self.metadata_file or self.metadata_url)


@dataclass(frozen=True)
class AttributesSection:
    eid: list[str] = field(default_factory=lambda: list(eid_sources.SCOPED_DEFAULT))
    """Where the Sakai EID comes from, first present wins: attribute names, or ``nameid``."""
    given_name: str = "givenName"
    family_name: str = "sn"
    email: str = "mail"
    affiliation: str = "eduPersonAffiliation"
    display_name: str = "displayName"
    allow_unscoped_eid: bool = False
    """Accept an EID source without a scope (uid, the NameID): the IdP may then assert any
    account name, a Sakai administrator's included."""


@dataclass(frozen=True)
class OtherIdpSection(IdpSection):
    """``[idps.<name>]``: one more IdP, with every key of ``[idp]`` and its own attributes."""

    attributes: AttributesSection = field(default_factory=AttributesSection)


@dataclass(frozen=True)
class FederationSection(IdpPolicy):
    """``[federations.<name>]``: the IdPs of a signed aggregate, or of an MDQ service, each
    under the same policy (the keys of IdpPolicy)."""

    file: str = ""
    url: str = ""
    mdq_url: str = ""
    """A Metadata Query Protocol service: each IdP's metadata fetched when a login needs it."""
    signing_certificate: str = ""
    """The federation's metadata signing certificate (PEM): required."""
    max_validity_days: int = 28
    """The aggregate's (or an MDQ answer's) validUntil may lie at most this many days ahead."""
    refresh_seconds: int = 3600
    max_bytes: int = 200 * 1024 * 1024
    """The largest aggregate fetched by ``url`` (streamed to disk)."""
    timeout_seconds: float = 30.0
    allow_http: bool = False
    entity_ids: list[str] = field(default_factory=list)
    """Admit only these IdPs (empty: any; all admission lists given must hold)."""
    registration_authorities: list[str] = field(default_factory=list)
    entity_categories: list[str] = field(default_factory=list)
    attributes: AttributesSection = field(default_factory=AttributesSection)
    ca_certificate_file: str = ""
    """PEM CA certificates that alone are trusted for ``url``'s or ``mdq_url``'s https (an
    internal CA); empty: the system's trust store."""

    @property
    def source(self) -> str:
        return self.file or self.url or self.mdq_url


@dataclass(frozen=True)
class DiscoverySection:
    external_url: str = ""
    """An external discovery service (SeamlessAccess, Shibboleth's EDS) to send learners to
    when there is more than one IdP. Empty: the bridge's own discovery page."""
    remember_days: int = 90
    """How long a learner's chosen IdP is remembered and offered first (0: not remembered)."""


@dataclass(frozen=True)
class IdpConfig:
    """One configured IdP's settings, whatever its table: ``key`` names it in problems."""

    key: str
    section: IdpSection
    attributes: AttributesSection
