"""Checks across settings that types alone cannot express, and the risks of a working one.

``validate`` runs once when the settings are loaded (``settings.load_settings``); every problem
names its key. ``risks`` are settings that work but expose something: check-config warnings,
or errors with ``bridge.mode = "production"``.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

from sso_bridge import idp_checks
from sso_bridge.settings import MetadataSection, SakaiSection, Settings


def validate(s: Settings) -> list[str]:
    """Checks across keys that types alone cannot express."""
    problems = [*_check_url("bridge.base_url", s.bridge.base_url),
                *_check_url("sakai.url", s.sakai.url)]
    if s.bridge.base_url.endswith("/"):
        problems.append("'bridge.base_url': must not end with '/'")
    for i, node in enumerate(s.sakai.nodes):
        problems.extend(_check_url(f"sakai.nodes[{i}]", node))
    for key, number in [("sakai.login_deadline_seconds", s.sakai.login_deadline_seconds),
                        ("sakai.max_concurrent_calls", s.sakai.max_concurrent_calls),
                        ("sakai.readiness_cache_seconds", s.sakai.readiness_cache_seconds)]:
        if number < 0:
            problems.append(f"'{key}': must be 0 (off) or positive, got {number}")
    if s.sakai.login_deadline_seconds >= s.server.timeout_seconds:
        problems.append(f"'sakai.login_deadline_seconds': must be below 'server.timeout_seconds' "
                        f"({s.server.timeout_seconds}), or the worker is killed before the "
                        "learner gets the 'Sakai is slow' page")
    if s.sakai.nodes and s.sakai.server_id:
        problems.append("'sakai.server_id': leave it empty with 'sakai.nodes': each node has "
                        "its own serverId, learned from Sakai")
    for i, origin in enumerate(s.sakai.allowed_origins):
        problems.extend(_check_url(f"sakai.allowed_origins[{i}]", origin))
    problems.extend(idp_checks.problems(s))
    if not s.sakai.portal_path.startswith("/"):
        problems.append("'sakai.portal_path': must start with '/'")
    if s.sakai.cookie.samesite == "None" and not s.sakai.cookie.secure:
        problems.append("'sakai.cookie.samesite': 'None' requires 'sakai.cookie.secure = true'")
    if s.store.url and not s.store.url.startswith(("sqlite:///", "redis://", "rediss://")):
        problems.append("'store.url': must start with sqlite:///, redis:// or rediss://")
    problems.extend(_check_accounts(s.sakai))
    if s.sakai.ca_certificate_file and not s.sakai.url.startswith("https://"):
        problems.append("'sakai.ca_certificate_file': set, but 'sakai.url' is not https")
    if s.sp.next_certificate_file and not s.secrets.sp_next_private_key:
        problems.append("secret missing: set SSO_BRIDGE_SP_NEXT_KEY or SSO_BRIDGE_SP_NEXT_KEY_FILE "
                        "(the key of 'sp.next_certificate_file')")
    if s.secrets.sp_next_private_key and not s.sp.next_certificate_file:
        problems.append("'sp.next_certificate_file': SSO_BRIDGE_SP_NEXT_KEY is set, but no next "
                        "certificate")
    problems.extend(metadata_problems(s.metadata))
    for key, value in [("store.login_timeout_seconds", s.store.login_timeout_seconds),
                       ("store.slo_session_seconds", s.store.slo_session_seconds),
                       ("server.threads", s.server.threads),
                       ("limits.max_saml_response_bytes", s.limits.max_saml_response_bytes)]:
        if value <= 0:
            problems.append(f"'{key}': must be positive, got {value}")
    if s.server.workers < 0:
        problems.append(f"'server.workers': must be 0 (two per CPU) or positive, "
                        f"got {s.server.workers}")
    problems.extend(_check_networks("server.ops_allow", s.server.ops_allow))
    if s.bridge.mode == "production":
        problems.extend(f"{risk} (an error with bridge.mode = \"production\")"
                        for risk in risks(s))
    return problems


_LANGUAGE = re.compile(r"[a-zA-Z]{2,3}(-[a-zA-Z0-9]{1,8})*")


def metadata_problems(m: MetadataSection) -> list[str]:
    """What would make the SP metadata wrong (missing items are check-config warnings)."""
    problems = []
    texts = {f"metadata.organization.{k}": v for k, v in vars(m.organization).items()}
    texts |= {f"metadata.ui.{k}": v for k, v in vars(m.ui).items() if isinstance(v, dict)}
    for key, per_language in texts.items():
        for lang, value in per_language.items():
            if not _LANGUAGE.fullmatch(lang):
                problems.append(f"'{key}.{lang}': {lang!r} is not a language code (en, de-CH)")
            if not value.strip():
                problems.append(f"'{key}.{lang}': empty")
            elif key.endswith("url"):
                problems.extend(_check_url(f"{key}.{lang}", value))
    if any(vars(m.organization).values()) and not all(vars(m.organization).values()):
        problems.append("'metadata.organization': set all of name, display_name and url")
    logo = m.ui.logo
    if logo.url and not logo.url.startswith("data:image/"):
        problems.extend(_check_url("metadata.ui.logo.url", logo.url))
    if logo.url and (logo.width <= 0 or logo.height <= 0):
        problems.append("'metadata.ui.logo': set width and height (pixels) of the logo")
    if logo.lang and not _LANGUAGE.fullmatch(logo.lang):
        problems.append(f"'metadata.ui.logo.lang': {logo.lang!r} is not a language code")
    for kind, contact in vars(m.contacts).items():
        email = contact.email.removeprefix("mailto:")
        if contact.name and not email:
            problems.append(f"'metadata.contacts.{kind}.email': missing (the contact has a name)")
        if email and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", email):
            problems.append(f"'metadata.contacts.{kind}.email': {email!r} is not an address")
    for name, values in m.entity_attributes.items():
        if not name.strip() or not values or not all(v.strip() for v in values):
            problems.append(f"'metadata.entity_attributes': {name!r} needs a name and values")
    return problems


def _check_accounts(c: SakaiSection) -> list[str]:
    problems = []
    for i, eid in enumerate(c.protected_eids):
        if not eid.strip():
            problems.append(f"'sakai.protected_eids[{i}]': must not be empty")
    for key, value in (("sakai.full_check_seconds", c.full_check_seconds),
                       ("sakai.account_cache_seconds", c.account_cache_seconds)):
        if value < 0:
            problems.append(f"'{key}': must be 0 (off) or positive, got {value}")
    if c.account_cache_seconds > c.full_check_seconds:
        problems.append("'sakai.account_cache_seconds': must not exceed "
                        f"'sakai.full_check_seconds' ({c.full_check_seconds})")
    return problems


def _check_networks(key: str, values: list[str]) -> list[str]:
    problems = []
    for i, value in enumerate(values):
        try:
            ipaddress.ip_network(value)
        except ValueError as exc:
            problems.append(f"'{key}[{i}]': {value!r} is not a network ({exc})")
    return problems


def risks(s: Settings) -> list[str]:
    """Settings that work but expose something: warnings, or errors in production mode."""
    found = []
    if urlsplit(s.sakai.url).scheme == "http":
        found.append(f"'sakai.url': {s.sakai.url} is plain http: the Sakai admin password and "
                     "every learner's session id cross the network in clear; use https")
    base = urlsplit(s.bridge.base_url)
    if base.scheme == "http" and not _is_loopback(base.hostname or ""):
        found.append(f"'bridge.base_url': {s.bridge.base_url} is plain http on a host other "
                     "than loopback: SAML responses and the login cookie cross the network in "
                     "clear and can be stolen; use https")
    return found


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_url(key: str, value: str) -> list[str]:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return [f"'{key}': {value!r} is not an absolute http(s) URL"]
    if parts.query or parts.fragment:
        return [f"'{key}': must not carry a query or fragment"]
    return []
