"""Attribute map: the attributes of a validated assertion → a neutral :class:`Identity`.

IdPs name attributes by OID (``urn:oid:1.3.6.1.4.1.5923.1.1.1.6``, NameFormat uri) or by
friendly name (``eduPersonPrincipalName``, NameFormat basic, as SimpleSAMLphp does by default).
The config names attributes by their friendly name or OID; both spellings are looked up.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sso_bridge.errors import ConfigError, IdentityError, IdentityScopeError
from sso_bridge.identity import Identity, normalise_eid
from sso_bridge.saml.metadata import Scope
from sso_bridge.settings import AttributesSection

FRIENDLY_TO_OID = {
    "eduPersonPrincipalName": "urn:oid:1.3.6.1.4.1.5923.1.1.1.6",
    "eduPersonAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.1",
    "eduPersonScopedAffiliation": "urn:oid:1.3.6.1.4.1.5923.1.1.1.9",
    "eduPersonTargetedID": "urn:oid:1.3.6.1.4.1.5923.1.1.1.10",
    "eduPersonUniqueId": "urn:oid:1.3.6.1.4.1.5923.1.1.1.13",
    "uid": "urn:oid:0.9.2342.19200300.100.1.1",
    "mail": "urn:oid:0.9.2342.19200300.100.1.3",
    "givenName": "urn:oid:2.5.4.42",
    "sn": "urn:oid:2.5.4.4",
    "cn": "urn:oid:2.5.4.3",
    "displayName": "urn:oid:2.16.840.1.113730.3.1.241",
    "subject-id": "urn:oasis:names:tc:SAML:attribute:subject-id",
    "pairwise-id": "urn:oasis:names:tc:SAML:attribute:pairwise-id",
}
OID_TO_FRIENDLY = {oid: name for name, oid in FRIENDLY_TO_OID.items()}
SCOPED = frozenset({"eduPersonPrincipalName", "eduPersonScopedAffiliation", "subject-id",
                    "pairwise-id"})
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
NAMEID_SOURCE = "nameid"
EMAIL_FORMATS = frozenset({"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                           "urn:oasis:names:tc:SAML:2.0:nameid-format:emailAddress"})


@dataclass(frozen=True)
class Assertion:
    """What the bridge reads from a validated assertion (``saml/response.py``)."""

    idp_entity_id: str
    name_id: str
    name_id_format: str | None
    session_index: str | None
    attributes: Mapping[str, Sequence[str]]
    friendly_attributes: Mapping[str, Sequence[str]]


class AttributeMap:
    """``scopes``: where a scoped identifier (subject-id, pairwise-id, eppn) used as the EID
    must be from (saml-hardening.md B18), as Shibboleth's attribute filter insists: the IdP's
    shibmd:Scope values, or ``idp.scopes`` when its metadata declares none. Without either, a
    scoped EID source is a configuration error: the IdP could otherwise assert accounts of
    another organisation.

    Attributes whose ``Name`` the IdP repeats (Keycloak's role list sends one Attribute per
    role) arrive merged, as python3-saml's ``allowRepeatAttributeName`` merges them: a
    multi-valued attribute sent in pieces. The EID attribute must still hold one value, so a
    repeated EID attribute with a second, different value is refused."""

    def __init__(self, config: AttributesSection, scopes: tuple[Scope, ...] = (),
                 configured_scopes: tuple[str, ...] = (), idp: str = "the IdP", *,
                 key: str = "idp", affixes: tuple[str, str] = ("", ""),
                 user_types: Mapping[str, str] | None = None) -> None:
        """``key``: the IdP's settings table; ``affixes``: its EID prefix and suffix;
        ``user_types``: its own affiliation → Sakai user type table, if it has one."""
        self.config = config
        self.scopes = scopes or tuple(Scope(s) for s in configured_scopes)
        self.prefix, self.suffix = affixes
        self.user_types = tuple((user_types or {}).items())
        scoped = [s for s in config.eid if is_scoped(s)]
        if scoped and not self.scopes:
            raise ConfigError(f"'{key}.scopes': the metadata of {idp} declares no shibmd:Scope, "
                              f"so the scope of {', '.join(scoped)} cannot be checked; name "
                              f"the IdP's domains in '{key}.scopes' (e.g. [\"example.edu\"])")

    def values(self, assertion: Assertion, name: str) -> list[str]:
        """Every value of attribute ``name``, whichever spelling the IdP used."""
        for candidate in _spellings(name):
            for table in (assertion.attributes, assertion.friendly_attributes):
                found = table.get(candidate)
                if found:
                    return [str(v) for v in found if isinstance(v, str)]
        return []

    def first(self, assertion: Assertion, name: str) -> str:
        if name == NAMEID_SOURCE:
            return self._name_id(assertion) or ""
        found = self.values(assertion, name)
        return found[0].strip() if found else ""

    def eid(self, assertion: Assertion) -> str:
        """The Sakai EID: the first EID source present, with the IdP's prefix and suffix."""
        eid = self._eid(assertion)
        return normalise_eid(self.prefix + eid + self.suffix) if self.prefix or self.suffix \
            else eid

    def _eid(self, assertion: Assertion) -> str:
        for source in self.config.eid:
            if source == NAMEID_SOURCE:
                name_id = self._name_id(assertion)
                if name_id:
                    return normalise_eid(name_id)
                continue
            # Sakai's form of each value (invisible characters refused first): a value the
            # IdP repeats, even in another case, is one EID; two different ones are refused.
            found = list(dict.fromkeys(normalise_eid(v) for v in self.values(assertion, source)))
            if len(found) > 1:
                raise IdentityError(f"attribute {source} carries {len(found)} different values "
                                    "(a second EID); an EID needs exactly one")
            if found:
                self._check_scope(source, found[0])
                return found[0]
        raise IdentityError("the assertion carries none of the EID sources "
                            f"{', '.join(self.config.eid)}; released: "
                            f"{', '.join(sorted(assertion.attributes)) or 'nothing'}")

    @staticmethod
    def _name_id(assertion: Assertion) -> str | None:
        """The NameID, if it names the learner lastingly (never a transient one); an email
        format NameID must be an address."""
        if not assertion.name_id or assertion.name_id_format == TRANSIENT:
            return None
        value = assertion.name_id.strip()
        if assertion.name_id_format in EMAIL_FORMATS:
            local, at, domain = value.rpartition("@")
            if not (local and at and domain):
                raise IdentityError(f"the emailAddress NameID {value[:100]!r} is no address")
        return value

    @staticmethod
    def _email_name_id(assertion: Assertion) -> str:
        """Without an email attribute, a NameID that is an address (Google's, Okta's)."""
        value = (assertion.name_id or "").strip()
        if assertion.name_id_format == TRANSIENT or not _ADDRESS.fullmatch(value):
            return ""
        return value

    def _check_scope(self, name: str, value: str) -> None:
        if not ({name, *_spellings(name)} & _SCOPED_SPELLINGS):
            return
        _, at, scope = value.strip().rpartition("@")
        if not at or not any(s.matches(scope) for s in self.scopes):
            allowed = ", ".join(s.value for s in self.scopes)
            raise IdentityScopeError(f"{name} {value[:100]!r} is not in the IdP's scopes "
                                     f"({allowed})")

    def identity(self, assertion: Assertion) -> Identity:
        c = self.config
        given, family = self.first(assertion, c.given_name), self.first(assertion, c.family_name)
        if not (given or family):
            given, family = _split_display_name(self.first(assertion, c.display_name))
        affiliations = tuple(dict.fromkeys(v.strip().lower()
                                           for v in self.values(assertion, c.affiliation)))
        return Identity(
            eid=self.eid(assertion),
            given_name=given,
            family_name=family,
            email=self.first(assertion, c.email) or self._email_name_id(assertion),
            affiliations=affiliations,
            idp_entity_id=assertion.idp_entity_id,
            name_id=assertion.name_id,
            name_id_format=assertion.name_id_format,
            session_index=assertion.session_index,
            idp_user_types=self.user_types,
        )


_ADDRESS = re.compile(r"[^@\s]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_SCOPED_SPELLINGS = frozenset(SCOPED | {FRIENDLY_TO_OID[n] for n in SCOPED})


def is_scoped(name: str) -> bool:
    """Whether the EID source ``name`` (any spelling) carries a scope the bridge checks."""
    return bool({name, *_spellings(name)} & _SCOPED_SPELLINGS)


def _spellings(name: str) -> list[str]:
    other = FRIENDLY_TO_OID.get(name) or OID_TO_FRIENDLY.get(name)
    return [name, other] if other else [name]


def _split_display_name(display: str) -> tuple[str, str]:
    first, _, rest = display.partition(" ")
    return first, rest
