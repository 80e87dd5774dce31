"""One ``[federations.<name>]`` at run time: its IdPs found by entityID when a login needs one.

A signed aggregate is indexed once per instance (``saml/federation/source.py``: built at
start-up before the workers fork, refreshed in the background by whichever worker gets the
instance's lock, the last good index kept); an MDQ service is asked per entity
(``saml/federation/mdq.py``). Either way an IdP's record becomes an :class:`IdpTrust` (its
python3-saml settings built once) on first use, kept in a bounded cache until the index is
replaced or the MDQ answer's validity ends.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sso_bridge import errors, metrics
from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.aggregate import Admission, Trust, load_signer
from sso_bridge.saml.federation.build import BuildSpec
from sso_bridge.saml.federation.discovery import Discovery, LiveDiscovery
from sso_bridge.saml.federation.index import UNREADABLE
from sso_bridge.saml.federation.mdq import MdqClient
from sso_bridge.saml.federation.records import IdpRecord
from sso_bridge.saml.federation.source import AggregateSource, Readiness
from sso_bridge.saml.metadata import REDIRECT_BINDING, IdpMetadata
from sso_bridge.saml.sp import IdpTrust
from sso_bridge.settings import FederationSection

log = logging.getLogger("sso_bridge.saml")
TRUST_CACHE_SIZE = 1024
"""IdPs of one federation whose python3-saml settings a worker keeps built (about 30 KB each)."""

TrustBuilder = Callable[[str, FederationSection, IdpMetadata], IdpTrust]
"""Builds the trust in one of the federation's IdPs (``key``, policy, metadata)."""


def idp_metadata(record: IdpRecord, source: str, loaded_at: float) -> IdpMetadata:
    """A federation IdP's record as the metadata python3-saml's settings are built from;
    ConfigError if it has no HTTP-Redirect SingleSignOnService (the binding the bridge uses)."""
    sso = record.sso_url(REDIRECT_BINDING)
    if not sso:
        raise ConfigError(f"{record.entity_id} has no HTTP-Redirect SingleSignOnService")
    settings: dict[str, Any] = {
        "entityId": record.entity_id,
        "singleSignOnService": {"url": sso, "binding": REDIRECT_BINDING},
        "x509certMulti": {"signing": list(record.signing_certs)},
    }
    slo = next((e for e in record.slo if e.binding == REDIRECT_BINDING), None)
    if slo is not None:
        settings["singleLogoutService"] = {"url": slo.location, "binding": slo.binding}
    return IdpMetadata(entity_id=record.entity_id, sso_url=sso,
                       signing_certs=record.signing_certs, settings=settings, source=source,
                       loaded_at=loaded_at, valid_until=record.valid_until,
                       scopes=record.scopes, wants_signed_requests=record.wants_signed_requests,
                       display_names=record.display_names, keywords=record.keywords,
                       logo=record.logos[0].url if record.logos else "")


class Federation:
    def __init__(self, key: str, section: FederationSection, config_dir: Path, state_dir: Path,
                 build_trust: TrustBuilder, languages: tuple[str, ...] = ("en",)) -> None:
        self.key, self.section = key, section
        self._build_trust = build_trust
        self.admission = Admission(frozenset(section.entity_ids),
                                   frozenset(section.registration_authorities),
                                   frozenset(section.entity_categories))
        setting = f"{key}.signing_certificate"
        trust = Trust(load_signer(config_dir / section.signing_certificate, setting), setting,
                      section.max_validity_days)
        self.mdq: MdqClient | None = None
        self.source: AggregateSource | None = None
        self.discovery: LiveDiscovery | None = None
        ca_file = str(config_dir / section.ca_certificate_file) \
            if section.ca_certificate_file else ""
        if section.mdq_url:
            self.mdq = MdqClient(section.mdq_url, trust, setting=f"{key}.mdq_url",
                                 timeout=section.timeout_seconds, allow_http=section.allow_http,
                                 ca_file=ca_file)
        else:
            name = key.removeprefix("federations.")
            spec = BuildSpec(
                name=key, index=str(state_dir / "federations" / f"{name}.sqlite3"),
                signing_certificate=str(config_dir / section.signing_certificate),
                file=str(config_dir / section.file) if section.file else "", url=section.url,
                max_validity_days=section.max_validity_days,
                entity_ids=tuple(section.entity_ids),
                registration_authorities=tuple(section.registration_authorities),
                entity_categories=tuple(section.entity_categories),
                max_bytes=section.max_bytes, timeout=section.timeout_seconds,
                allow_http=section.allow_http, ca_file=ca_file)
            self.source = AggregateSource(spec, interval=section.refresh_seconds,
                                          hooks=(metrics.observe_federation_refresh,))
            self.discovery = LiveDiscovery(self.source.index, languages)
        self._trusts: OrderedDict[str, tuple[Any, IdpTrust]] = OrderedDict()
        self._validity: tuple[Any, float] | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Before the workers fork: the aggregate's index built (or found fresh); ConfigError
        when there is none and none can be built."""
        if self.source is None:
            return
        try:
            self.source.start()
        except ConfigError as exc:  # the engine names the file; the admin needs the table
            raise ConfigError([p if p.startswith(f"'{self.key}") else f"'{self.key}': {p}"
                               for p in exc.problems]) from exc

    def ensure_running(self) -> None:
        if self.source is not None:
            self.source.ensure_running()

    def record(self, entity_id: str) -> tuple[IdpRecord, Any] | None:
        """The admitted IdP's record and the generation it is of (None: not admitted);
        IdpMetadataUnavailable when the metadata it would come from cannot be trusted now."""
        if self.mdq is not None:
            return self._mdq_record(entity_id)
        assert self.source is not None
        try:
            generation = self.source.index.generation
            record = self.source.index.find(entity_id)
            if record is None:
                return None
            until = self._valid_until(generation)
        except UNREADABLE:
            return None
        if until <= time.time():  # no good copy since: its keys are no longer vouched for
            raise errors.IdpMetadataUnavailable(
                f"{self.key}: the federation metadata expired at "
                f"{time.strftime('%Y-%m-%d %H:%M:%SZ', time.gmtime(until))} and no good "
                f"copy has come since; {entity_id[:200]} cannot be trusted until one does")
        return record, generation

    def _valid_until(self, generation: Any) -> float:
        """The index's validUntil, read once per index generation."""
        assert self.source is not None
        cached = self._validity
        if cached is None or cached[0] != generation:
            cached = self._validity = (generation, self.source.index.summary().valid_until)
        return float(cached[1])

    def _mdq_record(self, entity_id: str) -> tuple[IdpRecord, Any] | None:
        assert self.mdq is not None
        if self.admission.entity_ids and entity_id not in self.admission.entity_ids:
            return None  # not admitted: the MDQ service need not be asked
        try:
            record = self.mdq.lookup(entity_id)
        except ConfigError as exc:
            raise errors.IdpMetadataUnavailable(
                f"{self.key}: no trustworthy metadata for {entity_id[:200]}: "
                f"{exc.detail}") from exc
        if record is None or not self.admission.admits_record(record):
            return None
        return record, record.valid_until

    def trust(self, entity_id: str,
              scopes_left: Callable[[Federation, IdpRecord], IdpRecord]) -> IdpTrust | None:
        """The IdP's trust, built on first use; ``scopes_left``: the record with the scopes
        another IdP also claims taken away (``idps.Idps``)."""
        found = self.record(entity_id)
        if found is None:
            return None
        record, generation = found
        with self._lock:
            cached = self._trusts.get(entity_id)
            if cached is not None and cached[0] == generation:
                self._trusts.move_to_end(entity_id)
                return cached[1]
        kept = scopes_left(self, record)
        if record.scopes and not kept.scopes:
            log.warning("%s: IdP %s cannot be used: every scope it declares is another IdP's "
                        "too, or a regular expression, so it can vouch for no account",
                        self.key, entity_id[:200])
            return None
        try:
            loaded_at = time.time() if self.source is None else self.source.index.summary().built_at
            trust = self._build_trust(self.key, self.section,
                                      idp_metadata(kept, self.section.source, loaded_at))
        except ConfigError as exc:
            log.warning("%s: IdP %s cannot be used: %s", self.key, entity_id[:200], exc.detail)
            return None
        with self._lock:
            self._trusts[entity_id] = (generation, trust)
            while len(self._trusts) > TRUST_CACHE_SIZE:
                self._trusts.popitem(last=False)
        return trust

    def scope_owners(self, scopes: Iterable[str]) -> list[tuple[str, str]]:
        """(scope, entityID) of this aggregate's IdPs declaring these literal scopes (an MDQ
        service's IdPs cannot be listed: none)."""
        if self.source is None:
            return []
        try:
            return self.source.index.scope_owners(scopes)
        except UNREADABLE:
            return []

    def current_discovery(self) -> Discovery | None:
        """The aggregate's IdPs to search (None for MDQ, or before an index exists)."""
        if self.discovery is None:
            return None
        try:
            return self.discovery.current()
        except UNREADABLE:
            return None

    def readiness(self) -> Readiness:
        if self.source is not None:
            return self.source.readiness()
        return Readiness(self.key, True, None, 0, None, "")
