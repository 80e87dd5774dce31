"""Prometheus metrics, correct with several server workers.

Under ``sso-bridge serve`` every worker writes its samples to ``PROMETHEUS_MULTIPROC_DIR`` and
``/metrics`` adds them up; without it (tests, ``--dev``) the process's own registry is used.
A worker that died (killed, crashed, recycled) is marked dead at the next scrape, so its live
gauges (``sso_bridge_sakai_circuit_open``) stop counting; its counters stay in the sums.

Metrics:
  sso_bridge_login_attempts_total{outcome,code,idp}   every POST to the ACS
  sso_bridge_acs_seconds                               ACS latency, Sakai included
  sso_bridge_sakai_call_seconds{operation}             each Sakai SOAP call
  sso_bridge_sakai_errors_total{kind}                  Sakai failures by error code
  sso_bridge_accounts_created_total / _updated_total   Sakai accounts
  sso_bridge_replay_refusals_total                     assertions refused as replays
  sso_bridge_sp_certificate_days_to_expiry             SP certificate
  sso_bridge_idp_metadata_age_seconds                  since the IdP metadata was loaded
  sso_bridge_idp_metadata_refresh_failures_total       refreshes that kept the last good copy
  sso_bridge_sakai_circuit_open                        1 while a worker's breaker is open
  sso_bridge_python3_saml_caches_active                0 when python3-saml's caches are off
  sso_bridge_metadata_source_ready{source}             1 while an IdP source's metadata is valid
  sso_bridge_metadata_source_age_seconds{source}       since the source was last loaded
  sso_bridge_metadata_source_idps{source}              IdPs the source trusts
  sso_bridge_metadata_source_refreshes_total{source,outcome}  refreshes that ran (ok/failed)

A source is a configured IdP's table (``idp``, ``idps.<name>``) or a federation's
(``federations.<name>``); the ``idp`` label of login attempts is the entityID of a configured
IdP, and the source for a federation's IdPs (thousands of entityIDs would be as many series).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from sso_bridge.saml import python3_saml_caches
from sso_bridge.saml.federation.source import Readiness, RefreshEvent

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_GAUGE_FILE = re.compile(r"gauge_live[a-z]*_(\d+)\.db")
_LATENCY = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LOGIN_ATTEMPTS = Counter("sso_bridge_login_attempts", "Login attempts at the ACS",
                         ["outcome", "code", "idp"])
ACS_SECONDS = Histogram("sso_bridge_acs_seconds", "Time to answer a POST to the ACS",
                        buckets=_LATENCY)
SAKAI_SECONDS = Histogram("sso_bridge_sakai_call_seconds", "Sakai web-service calls",
                          ["operation"], buckets=_LATENCY)
SAKAI_ERRORS = Counter("sso_bridge_sakai_errors", "Sakai failures by kind", ["kind"])
ACCOUNTS_CREATED = Counter("sso_bridge_accounts_created", "Sakai accounts created")
ACCOUNTS_UPDATED = Counter("sso_bridge_accounts_updated", "Sakai accounts updated")
REPLAY_REFUSALS = Counter("sso_bridge_replay_refusals", "Assertions refused as replays")
CERT_DAYS = Gauge("sso_bridge_sp_certificate_days_to_expiry", "SP certificate days left",
                  multiprocess_mode="mostrecent")
METADATA_AGE = Gauge("sso_bridge_idp_metadata_age_seconds", "Age of the loaded IdP metadata",
                     multiprocess_mode="mostrecent")
METADATA_REFRESH_FAILURES = Counter("sso_bridge_idp_metadata_refresh_failures",
                                    "IdP metadata refreshes that failed (last good copy kept)")
CIRCUIT_OPEN = Gauge("sso_bridge_sakai_circuit_open", "1 while the Sakai breaker is open",
                     multiprocess_mode="livemax")
SAML_CACHES_ACTIVE = Gauge("sso_bridge_python3_saml_caches_active",
                           "1 while python3-saml's caches are in force (0: stock, slower)",
                           multiprocess_mode="mostrecent")

SOURCE_READY = Gauge("sso_bridge_metadata_source_ready",
                     "1 while the source's IdP metadata is valid", ["source"],
                     multiprocess_mode="mostrecent")
SOURCE_AGE = Gauge("sso_bridge_metadata_source_age_seconds",
                   "Since the source's IdP metadata was loaded", ["source"],
                   multiprocess_mode="mostrecent")
SOURCE_IDPS = Gauge("sso_bridge_metadata_source_idps", "IdPs the source trusts", ["source"],
                    multiprocess_mode="mostrecent")
SOURCE_REFRESHES = Counter("sso_bridge_metadata_source_refreshes",
                           "Refreshes of a source's IdP metadata that ran", ["source", "outcome"])


def observe_sakai_call(operation: str, seconds: float, error: str | None) -> None:
    """The Sakai client's ``on_call`` hook."""
    SAKAI_SECONDS.labels(operation).observe(seconds)
    if error is not None:
        SAKAI_ERRORS.labels(error).inc()


def observe_metadata_refresh(ok: bool, source: str = "idp") -> None:
    if not ok:
        METADATA_REFRESH_FAILURES.inc()
    SOURCE_REFRESHES.labels(source, "ok" if ok else "failed").inc()


def observe_federation_refresh(event: RefreshEvent) -> None:
    """A federation source's refresh hook."""
    SOURCE_REFRESHES.labels(event.source, "ok" if event.ok else "failed").inc()


def observe_sources(sources: list[Readiness]) -> None:
    """Every IdP source's state, set when /metrics is read."""
    for source in sources:
        SOURCE_READY.labels(source.source).set(1 if source.ready else 0)
        if source.age_seconds is not None:
            SOURCE_AGE.labels(source.source).set(source.age_seconds)
        SOURCE_IDPS.labels(source.source).set(source.idp_count)


def observe_circuit(state: str) -> None:
    CIRCUIT_OPEN.set(1 if state == "open" else 0)


def observe_login(*, outcome: str, code: str, idp: str, seconds: float, created: bool,
                  updated: bool) -> None:
    LOGIN_ATTEMPTS.labels(outcome, code, idp).inc()
    ACS_SECONDS.observe(seconds)
    if created:
        ACCOUNTS_CREATED.inc()
    if updated:
        ACCOUNTS_UPDATED.inc()
    if code == "saml_replay":
        REPLAY_REFUSALS.inc()


def render(cert_days: float, metadata_age: float) -> tuple[bytes, str]:
    CERT_DAYS.set(cert_days)
    METADATA_AGE.set(metadata_age)
    SAML_CACHES_ACTIVE.set(1 if python3_saml_caches.installed() else 0)
    folder = os.environ.get(MULTIPROC_ENV)
    if folder:
        mark_dead_workers(Path(folder))
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


def mark_dead_workers(folder: Path) -> None:
    """``multiprocess.mark_process_dead`` for every process whose live gauges are in the
    folder and that no longer runs (the server itself has no hook for a worker's exit)."""
    for path in folder.glob("gauge_live*_*.db"):
        match = _LIVE_GAUGE_FILE.fullmatch(path.name)
        if match and not _running(int(match.group(1))):
            multiprocess.mark_process_dead(int(match.group(1)), str(folder))  # type: ignore[no-untyped-call]


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
