"""What ``sso-bridge check-config`` reports about a configuration that loaded: named checks.

Each check takes the settings and the assembled services and yields findings: ``ok`` (a fact
worth confirming), ``warning`` (works, but look at it) or ``problem`` (fix it: check-config
fails). A new check is one more function in ``CHECKS``.
Any problem makes check-config exit 1 (``cli.EXIT_PROBLEMS``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Literal

from sso_bridge import presets
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.keys import EXPIRY_WARNING_DAYS, SpCredentials
from sso_bridge.saml.sp_metadata import federation_gaps
from sso_bridge.services import Services
from sso_bridge.settings import Settings


@dataclass(frozen=True)
class Finding:
    level: Literal["ok", "warning", "problem"]
    text: str


Check = Callable[[Settings, Services], Iterator[Finding]]


def idp_metadata(settings: Settings, services: Services) -> Iterator[Finding]:
    """Every configured IdP and every federation, with where its metadata came from."""
    configured = services.sp.configured()
    if len(configured) == 1 and not settings.federations:
        yield Finding("ok", f"IdP {services.idp.entity_id}, SP {settings.sp_entity_id}, "
                            f"ACS {settings.acs_url}")
    else:
        yield Finding("ok", f"SP {settings.sp_entity_id}, ACS {settings.acs_url}")
        for trust in configured:
            yield Finding("ok", f"IdP {trust.entity_id} [{trust.key}] from {trust.idp.source}")
    for c in settings.configured_idps():
        if c.section.metadata_signing_certificate:
            whose = "" if c.key == "idp" else f" of [{c.key}]"
            yield Finding("ok", f"IdP metadata{whose} signature verified with "
                                f"{c.section.metadata_signing_certificate}")
    for federation in services.idps.federations:
        ready = federation.readiness()
        if federation.mdq is not None:
            yield Finding("ok", f"federation [{federation.key}]: IdPs fetched from the MDQ "
                                f"service {federation.section.mdq_url} when a login needs them")
        elif ready.ready:
            yield Finding("ok", f"federation [{federation.key}]: {ready.idp_count} IdPs admitted "
                                f"from {federation.section.source}")
        else:
            yield Finding("problem", f"federation [{federation.key}]: "
                                     f"{ready.last_error or 'no valid metadata'}")


def certificates(settings: Settings, services: Services) -> Iterator[Finding]:
    yield certificate_finding(settings.sp.certificate_file, services.credentials)
    if services.next_credentials is not None:
        yield Finding("ok", f"SP key rollover in progress: the next certificate "
                            f"{settings.sp.next_certificate_file} is published with the "
                            "current one, and both keys decrypt")
        yield certificate_finding(settings.sp.next_certificate_file, services.next_credentials)


def certificate_finding(name: str, creds: SpCredentials,
                        now: dt.datetime | None = None) -> Finding:
    """EXPIRED (a problem), expiring within EXPIRY_WARNING_DAYS (a warning), or fine."""
    now = now or dt.datetime.now(dt.UTC)
    until = now + dt.timedelta(days=creds.days_to_expiry)
    date = until.strftime("%Y-%m-%d %H:%M UTC")
    days = creds.days_to_expiry
    if days <= 0:
        return Finding("problem", f"the SP certificate {name} EXPIRED on {date} "
                                  f"({-days:.0f} days ago): create a new key and certificate "
                                  "(docs/keys.md)")
    if days < EXPIRY_WARNING_DAYS:
        return Finding("warning", f"the SP certificate {name} expires in {days:.0f} days "
                                  f"(on {date}): plan a key rollover (docs/keys.md)")
    return Finding("ok", f"the SP certificate {name} is valid until {date} ({days:.0f} days)")


def other_warnings(settings: Settings, services: Services) -> Iterator[Finding]:
    for warning in services.warnings:
        yield Finding("warning", warning)


def idp_preset(settings: Settings, services: Services) -> Iterator[Finding]:
    """Each IdP table's product preset and each value it set (the keys the admin did not
    write)."""
    tables = [(c.key, c.section.preset) for c in settings.configured_idps()]
    tables += [(f"federations.{name}", f.preset) for name, f in settings.federations.items()]
    for key, preset in tables:
        own = key if key != "idp" else ""
        applied = {k: v for k, v in settings.preset_values.items()
                   if (k.startswith(own + ".") if own else k.startswith(("idp.", "attributes.")))}
        lines = presets.describe(preset, applied)
        if len(tables) > 1:
            lines[0] = f"[{key}] {lines[0]}"
        for line in lines:
            yield Finding("ok", line)


def federation_registration(settings: Settings, services: Services) -> Iterator[Finding]:
    """What an InCommon or eduGAIN registration of the SP metadata will miss."""
    for gap in federation_gaps(settings.metadata):
        yield Finding("warning", gap)


def learner_pages(settings: Settings, services: Services) -> Iterator[Finding]:
    """The branding folder loads, and the languages the learner's pages are shipped in."""
    from sso_bridge.web.branding import Branding
    from sso_bridge.web.i18n import shipped_languages

    folder = settings.bridge.branding_dir
    try:
        Branding(settings.path(folder) if folder else None)
    except ConfigError as exc:
        for problem in exc.problems:
            yield Finding("problem", problem)
    yield Finding("ok", "learner pages in: " + ", ".join(
        f"{lang.code} ({lang.name})" for lang in shipped_languages()))


def sakai_handover(settings: Settings, services: Services) -> Iterator[Finding]:
    """Online only: a session the bridge mints is accepted by Sakai through the URL browsers
    use, on every node (``sakai/probe.py``); each failure names the sakai.properties setting."""
    try:
        passed = services.sakai.check_handoff()
    except BridgeError as exc:
        yield Finding("problem", f"Sakai: {exc.detail}")
        return
    finally:
        services.sakai.close()
    for line in passed:
        yield Finding("ok", line)


CHECKS: list[Check] = [idp_metadata, idp_preset, certificates, other_warnings,
                       federation_registration, learner_pages]
ONLINE_CHECKS: list[Check] = [sakai_handover]


def run_checks(settings: Settings, services: Services, checks: list[Check] | None = None,
               online: bool = False) -> list[Finding]:
    """``online``: also the checks that talk to Sakai (check-config, unless --offline)."""
    chosen = checks or [*CHECKS, *(ONLINE_CHECKS if online else [])]
    return [finding for check in chosen for finding in check(settings, services)]
