"""What ``sso-bridge idps`` shows: every trusted IdP source as the admin checks it.

One entry per configured IdP (``[idp]``, ``[idps.<name>]``): its entityID, where its metadata
came from, its earliest signing-certificate expiry, when it was loaded, and any problem. One
per federation (``[federations.<name>]``): its source, how many IdPs it admits, its
validUntil, its last good refresh and last error; with ``members``, each admitted IdP's
entityID and display name. A problem is anything that stops logins or will: metadata or a
signing certificate out of date, a federation without a usable index or whose last refresh
failed.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import time
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any

from cryptography import x509

from sso_bridge.federations import Federation
from sso_bridge.saml.sp import IdpTrust
from sso_bridge.services import Services

CERTIFICATE_WARNING_DAYS = 30
"""check-config warns about an IdP signing certificate expiring within this many days."""


@dataclass(frozen=True)
class IdpEntry:
    key: str
    entity_id: str
    source: str
    certificate_expiry: float | None
    """The earliest notAfter of the IdP's signing certificates (None: none readable)."""
    loaded_at: float
    problem: str = ""


@dataclass(frozen=True)
class FederationEntry:
    key: str
    source: str
    idps: int | None
    """IdPs admitted (None: an MDQ service, whose IdPs are fetched when a login needs one)."""
    valid_until: float | None
    last_refresh: float | None
    last_error: str = ""
    problem: str = ""
    members: list[tuple[str, str]] = field(default_factory=list)
    """With ``members``: (entityID, display name) of each admitted IdP."""


@dataclass(frozen=True)
class Report:
    idps: list[IdpEntry]
    federations: list[FederationEntry]

    @property
    def problems(self) -> list[str]:
        entries: list[IdpEntry | FederationEntry] = [*self.idps, *self.federations]
        return [f"[{e.key}] {e.problem}" for e in entries if e.problem]


def certificate_expiry(certificates: Iterable[str]) -> float | None:
    """The earliest notAfter (a timestamp) of base64 DER certificates, as metadata has them."""
    found = []
    for body in certificates:
        try:
            der = base64.b64decode("".join(body.split()), validate=True)
            found.append(x509.load_der_x509_certificate(der).not_valid_after_utc.timestamp())
        except (ValueError, binascii.Error):
            continue
    return min(found, default=None)


def when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return f"{dt.datetime.fromtimestamp(stamp, dt.UTC):%Y-%m-%d %H:%M} UTC"


def _idp_entry(trust: IdpTrust, now: float) -> IdpEntry:
    expiry = certificate_expiry(trust.idp.signing_certs)
    problem = ""
    if trust.idp.expired(now):
        problem = f"its metadata expired at {when(trust.idp.valid_until)}"
    elif expiry is not None and expiry <= now:
        problem = f"its signing certificate expired at {when(expiry)}"
    return IdpEntry(trust.key, trust.entity_id, trust.idp.source, expiry, trust.idp.loaded_at,
                    problem)


def _members(federation: Federation) -> list[tuple[str, str]]:
    if federation.source is None:
        return []
    entries = sorted(federation.source.index.discovery_entries())
    return [(entity_id, _name(entry.get("names") or {})) for entity_id, entry in entries]


def _name(names: dict[str, str]) -> str:
    return names.get("en") or next(iter(names.values()), "")


def _federation_entry(federation: Federation, members: bool, now: float) -> FederationEntry:
    ready = federation.readiness()
    mdq = federation.mdq is not None
    problem = ""
    if not ready.ready:
        problem = ready.last_error or "no valid metadata"
    elif ready.last_error:
        problem = f"its last refresh failed (the last good copy is in use): {ready.last_error}"
    return FederationEntry(
        federation.key, federation.section.source, None if mdq else ready.idp_count,
        ready.valid_until, None if ready.age_seconds is None or mdq else now - ready.age_seconds,
        ready.last_error, problem, _members(federation) if members else [])


def report(services: Services, *, members: bool = False, now: float | None = None) -> Report:
    now = time.time() if now is None else now
    return Report([_idp_entry(t, now) for t in services.sp.configured()],
                  [_federation_entry(f, members, now) for f in services.idps.federations])


def lines(found: Report) -> list[str]:
    """The report as text, one line per IdP and per federation (members indented)."""
    out = []
    for e in found.idps:
        out.append(f"[{e.key}] {e.entity_id} from {e.source}; signing certificate until "
                   f"{when(e.certificate_expiry)}; loaded {when(e.loaded_at)}; "
                   + (f"PROBLEM: {e.problem}" if e.problem else "ok"))
    for f in found.federations:
        count = "IdPs fetched per login (MDQ)" if f.idps is None else f"{f.idps} IdPs admitted"
        out.append(f"[{f.key}] from {f.source}: {count}; valid until {when(f.valid_until)}; "
                   f"refreshed {when(f.last_refresh)}; "
                   + (f"PROBLEM: {f.problem}" if f.problem else "ok"))
        out += [f"    {entity_id}  {name}" for entity_id, name in f.members]
    return out


def as_json(found: Report) -> dict[str, Any]:
    return {"idps": [asdict(e) for e in found.idps],
            "federations": [{**asdict(f), "members": [
                {"entity_id": e, "name": n} for e, n in f.members]} for f in found.federations],
            "problems": found.problems}
