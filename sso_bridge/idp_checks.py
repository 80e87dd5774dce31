"""Checks across the keys of every IdP table: ``[idp]``, ``[idps.*]``, ``[federations.*]``.

Run by ``settings_checks.validate`` when the settings are loaded; every problem names its key.
Which IdPs could claim the same Sakai account needs their metadata (the scopes), so that check
runs when the IdPs are loaded (``idps.py``), not here.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sso_bridge import eid_sources
from sso_bridge.settings import FederationSection, IdpPolicy, IdpSection, Settings


def problems(s: Settings) -> list[str]:
    found: list[str] = []
    idps = s.configured_idps()
    if not idps and not s.federations:
        found.append("'idp': set exactly one of 'idp.metadata_file' and 'idp.metadata_url' "
                     "(or configure IdPs in [idps.<name>] or [federations.<name>])")
    elif not s.idp.configured and _written(s.idp):
        found.append("'idp': set exactly one of 'idp.metadata_file' and 'idp.metadata_url'")
    for idp in idps:
        c, key = idp.section, idp.key
        if c.metadata_file and c.metadata_url:
            found.append(f"'{key}': set exactly one of '{key}.metadata_file' and "
                         f"'{key}.metadata_url'")
        elif idp.key != "idp" and not c.configured:
            found.append(f"'{key}': set one of '{key}.metadata_file' and '{key}.metadata_url'")
        if c.metadata_url and not (c.metadata_url.startswith("https://")
                                   or c.metadata_allow_http):
            found.append(f"'{key}.metadata_url': must be https:// (or set "
                         f"{key}.metadata_allow_http for a test IdP on loopback)")
        for name in ("metadata_max_validity_days", "metadata_refresh_seconds"):
            if getattr(c, name) < 0:
                found.append(f"'{key}.{name}': must be 0 (off) or positive")
        attributes_key = "attributes" if key == "idp" else f"{key}.attributes"
        found += _policy_problems(key, c)
        found += eid_sources.problems(idp.attributes, c, attributes_key, key)
    for name, federation in s.federations.items():
        found += _federation_problems(f"federations.{name}", federation)
    return found


def _written(c: IdpPolicy) -> bool:
    """Whether ``[idp]`` holds anything but defaults (a table half written is a mistake)."""
    return c != IdpSection(preset=c.preset)


def _policy_problems(key: str, c: IdpPolicy) -> list[str]:
    found = []
    if not (c.want_response_signed or c.want_assertion_signed):
        found.append(f"'{key}': at least one of '{key}.want_response_signed' and "
                     f"'{key}.want_assertion_signed' must be true")
    if c.clock_skew_seconds < 0:
        found.append(f"'{key}.clock_skew_seconds': must be positive, got {c.clock_skew_seconds}")
    if c.clock_skew_seconds > 300:
        found.append(f"'{key}.clock_skew_seconds': at most 300 seconds (python3-saml's own, "
                     "fixed clock drift: a larger value could loosen none of its checks)")
    if c.max_assertion_age_seconds <= 0:
        found.append(f"'{key}.max_assertion_age_seconds': must be positive, got "
                     f"{c.max_assertion_age_seconds}")
    for affix in ("eid_prefix", "eid_suffix"):
        value = getattr(c, affix)
        if value != value.strip() or any(not ch.isprintable() for ch in value):
            found.append(f"'{key}.{affix}': {value!r} must not begin or end with a space, "
                         "nor hold control characters (Sakai trims EIDs)")
    return found


def _federation_problems(key: str, f: FederationSection) -> list[str]:
    found = _policy_problems(key, f)
    sources = [name for name in ("file", "url", "mdq_url") if getattr(f, name)]
    if len(sources) != 1:
        found.append(f"'{key}': set exactly one of '{key}.file', '{key}.url' and "
                     f"'{key}.mdq_url'")
    for name in ("url", "mdq_url"):
        url = getattr(f, name)
        if url and urlsplit(url).scheme != "https" and not f.allow_http:
            found.append(f"'{key}.{name}': must be https:// (or set {key}.allow_http for a "
                         "test service on loopback)")
    if not f.signing_certificate:
        found.append(f"'{key}.signing_certificate': required: the federation's metadata "
                     "signing certificate (PEM); federation metadata is never trusted unsigned")
    if f.max_validity_days <= 0:
        found.append(f"'{key}.max_validity_days': must be positive (a signed copy is good "
                     "until its validUntil, so a bound is required)")
    if f.refresh_seconds < 0 or f.max_bytes <= 0 or f.timeout_seconds <= 0:
        found.append(f"'{key}': refresh_seconds must be 0 or positive, max_bytes and "
                     "timeout_seconds positive")
    if f.scopes:
        found.append(f"'{key}.scopes': a federation's IdPs declare their own scopes "
                     "(shibmd:Scope); remove it")
    if eid_sources.unscoped(f.attributes):
        found.append(f"'{key}.attributes.eid': {', '.join(eid_sources.unscoped(f.attributes))} "
                     "carries no scope: any of the federation's IdPs could then name any "
                     "Sakai account; a federation's EIDs must come from scoped identifiers "
                     "(subject-id, pairwise-id, eduPersonPrincipalName)")
    elif not f.attributes.eid:
        found.append(f"'{key}.attributes.eid': name at least one attribute")
    return found
