"""Where the Sakai EID may come from (issue 10, hole 1): the checks on ``attributes.eid``.

The EID is the key to a Sakai account, so the IdP must not be able to name just any account.
Scoped identifiers (subject-id, pairwise-id, eduPersonPrincipalName) carry ``local@scope``,
and the bridge checks the scope (``saml/attributes.py``); any other source (uid, the NameID)
lets the IdP name any account, Sakai's ``admin`` included, and is refused unless the admin opts
in with ``attributes.allow_unscoped_eid``, which ``check-config`` then warns about.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sso_bridge.settings import AttributesSection, IdpConfig, IdpPolicy, Settings

SCOPED_DEFAULT: tuple[str, ...] = ("subject-id", "pairwise-id", "eduPersonPrincipalName")
SCOPED_NAMES = frozenset({*SCOPED_DEFAULT, "urn:oasis:names:tc:SAML:attribute:subject-id",
                          "urn:oasis:names:tc:SAML:attribute:pairwise-id",
                          "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"})
"""The EID sources that carry a scope the bridge checks, by friendly name and by Name."""
_DOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?")


def unscoped(attributes: AttributesSection) -> list[str]:
    return [source for source in attributes.eid if source not in SCOPED_NAMES]


def problems(attributes: AttributesSection, idp: IdpPolicy, attributes_key: str = "attributes",
             idp_key: str = "idp") -> list[str]:
    """What is wrong with ``attributes.eid`` and ``idp.scopes``, each naming its key (the
    keys of another IdP's tables: ``attributes_key``, ``idp_key``)."""
    if not attributes.eid:
        return [f"'{attributes_key}.eid': name at least one attribute (or 'nameid')"]
    found = []
    if unscoped(attributes) and not attributes.allow_unscoped_eid:
        found.append(f"'{attributes_key}.eid': {', '.join(unscoped(attributes))} carries no "
                     "scope, so the IdP could name any Sakai account (an 'admin' included); "
                     "use subject-id, pairwise-id or eduPersonPrincipalName, or set "
                     f"'{attributes_key}.allow_unscoped_eid = true'")
    found += [f"'{idp_key}.scopes': {scope!r} is not a domain" for scope in idp.scopes
              if not _DOMAIN.fullmatch(scope)]
    return found


def unscoped_warnings(s: Settings) -> list[str]:
    """check-config's warnings, one per IdP whose EID may come from a source without a scope."""
    return [w for idp in s.configured_idps() if (w := unscoped_warning(s, idp))]


def unscoped_warning(s: Settings, idp: IdpConfig) -> str | None:
    sources = unscoped(idp.attributes)
    if not (sources and idp.attributes.allow_unscoped_eid):
        return None
    key = "attributes" if idp.key == "idp" else f"{idp.key}.attributes"
    origin = " (from the preset)" if f"{key}.allow_unscoped_eid" in s.preset_values else ""
    who = "the IdP" if idp.key == "idp" else f"the IdP of [{idp.key}]"
    prefix, suffix = idp.section.eid_prefix, idp.section.eid_suffix
    which = f"any Sakai account named {prefix}…{suffix}" if prefix or suffix \
        else "any Sakai account"
    return (f"the EID may come from {', '.join(sources)}, which carries no scope "
            f"({key}.allow_unscoped_eid = true{origin}): {who} can name {which}, so keep "
            "Sakai's administrators in the protected set")
