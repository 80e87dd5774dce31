"""Assembly of everything the bridge needs, from validated settings, once, at start-up.

Each step reports its problems as a ConfigError; ``build_services`` runs every independent step
and reports all problems together, so an admin fixes the configuration in one pass.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from sso_bridge import eid_sources, metrics
from sso_bridge.deps import check_libxml2
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.federations import Federation
from sso_bridge.idps import Idps, check_distinct
from sso_bridge.keys import SpCredentials, load_credentials
from sso_bridge.logs import AuditLog
from sso_bridge.provisioning import Provisioner
from sso_bridge.sakai.breaker import CircuitBreaker
from sso_bridge.sakai.client import SakaiClient
from sso_bridge.sakai.gate import CallGate
from sso_bridge.sakai.probe import Handover
from sso_bridge.saml import python3_saml_caches
from sso_bridge.saml.federation.source import Readiness
from sso_bridge.saml.metadata import IdpMetadata, MetadataSigner, load_idp_metadata
from sso_bridge.saml.refresh import MetadataRefresher
from sso_bridge.saml.sp import IdpTrust, ServiceProvider, build_saml_settings
from sso_bridge.settings import FederationSection, IdpConfig, IdpPolicy, Settings
from sso_bridge.settings_checks import risks
from sso_bridge.store import Store, open_store
from sso_bridge.store.folder import default_folder, private_folder

T = TypeVar("T")


@dataclass
class Services:
    settings: Settings
    credentials: SpCredentials
    sp: ServiceProvider
    store: Store
    sakai: SakaiClient
    provisioner: Provisioner
    audit: AuditLog
    refreshers: list[MetadataRefresher]
    """One per configured IdP, in the order of ``sp.configured()``."""
    warnings: list[str]
    """What works but deserves a look (check-config prints them; serve too). The SP
    certificates' expiry is checked by ``config_check.certificates``."""
    idps: Idps
    next_credentials: SpCredentials | None = None
    """During an SP key rollover: the next certificate."""

    @property
    def idp(self) -> IdpMetadata:
        """The first configured IdP's metadata in force (refreshed periodically)."""
        return self.sp.idp

    @property
    def refresher(self) -> MetadataRefresher:
        """The first configured IdP's refresher."""
        return self.refreshers[0]

    def ensure_refreshing(self) -> None:
        """This worker's background refreshes (threads do not survive the fork)."""
        for refresher in self.refreshers:
            refresher.ensure_running()
        self.idps.ensure_running()

    def sources(self) -> list[Readiness]:
        """Every IdP source's state: each configured IdP's metadata, each federation."""
        now = time.time()
        configured = [Readiness(t.key, not t.idp.expired(now), now - t.idp.loaded_at, 1,
                                t.idp.valid_until, "") for t in self.sp.configured()]
        return configured + self.idps.readiness()


def _step(problems: list[str], build: Callable[[], T]) -> T | None:
    try:
        return build()
    except ConfigError as exc:
        problems.extend(exc.problems)
    except BridgeError as exc:
        problems.append(exc.detail)
    return None


def _load_metadata(settings: Settings, config: IdpConfig | None = None) -> IdpMetadata:
    """The metadata of a configured IdP (default ``[idp]``), its problems naming its keys."""
    key, c = (config.key, config.section) if config else ("idp", settings.idp)
    signer = MetadataSigner.load(settings.path(c.metadata_signing_certificate),
                                 f"{key}.metadata_signing_certificate") \
        if c.metadata_signing_certificate else None
    return load_idp_metadata(
        file=settings.path(c.metadata_file) if c.metadata_file else None,
        url=c.metadata_url, entity_id=c.entity_id, timeout=c.metadata_timeout_seconds,
        signer=signer, max_validity_days=c.metadata_max_validity_days, table=key)


def _saml_settings(settings: Settings, idp: IdpMetadata, cert: str, next_cert: str,
                   policy: IdpPolicy | None = None) -> tuple[Any, Any]:
    """python3-saml's settings objects, built once per IdP metadata: the current SP key's and,
    during an SP key rollover, the same with the next key, which decrypts what the current
    one cannot."""
    current = build_saml_settings(settings, idp, cert, next_cert, policy=policy)
    next_key = build_saml_settings(settings, idp, cert, next_cert, policy=policy,
                                   private_key=settings.secrets.sp_next_private_key) \
        if next_cert else None
    return current, next_key


def _refresher(settings: Settings, sp: ServiceProvider, config: IdpConfig, cert: str,
               next_cert: str) -> MetadataRefresher:
    def apply(idp: IdpMetadata) -> None:
        sp.trust(idp, *_saml_settings(settings, idp, cert, next_cert, config.section),
                 key=config.key)

    return MetadataRefresher(lambda: _load_metadata(settings, config), apply,
                             config.section.metadata_refresh_seconds,
                             on_result=lambda ok: metrics.observe_metadata_refresh(
                                 ok, config.key), name=config.key)


def _sakai_client(settings: Settings) -> SakaiClient:
    c = settings.sakai

    def breaker() -> CircuitBreaker:
        return CircuitBreaker(failures=c.breaker_failures, cooldown=c.breaker_cooldown_seconds,
                              on_change=metrics.observe_circuit)

    return SakaiClient(c.url, c.admin_user, settings.secrets.sakai_admin_password,
                       connect_timeout=c.connect_timeout_seconds,
                       read_timeout=c.read_timeout_seconds,
                       on_call=metrics.observe_sakai_call, breaker_factory=breaker,
                       ca_file=str(settings.path(c.ca_certificate_file))
                       if c.ca_certificate_file else "",
                       nodes=c.nodes, cookie_name=c.cookie.name, server_id=c.server_id,
                       gate=CallGate(c.max_concurrent_calls, c.login_deadline_seconds),
                       handover=Handover(c.handoff, c.cookie.name, c.cookie.path),
                       readiness_cache_seconds=c.readiness_cache_seconds)


def _open_store(settings: Settings) -> Store:
    c = settings.store
    folder = str(settings.path(c.state_directory)) if c.state_directory else ""
    return open_store(c.url, password=settings.secrets.redis_password, tls=c.redis_tls,
                      state_directory=folder)


def build_services(settings: Settings, *, audit: AuditLog | None = None,
                   sakai: SakaiClient | None = None, start_federations: bool = True) -> Services:
    """``start_federations``: build (or find fresh) each aggregate's index now, as the server
    does before it forks its workers."""
    problems: list[str] = []
    _step(problems, check_libxml2)
    credentials = _step(problems, lambda: load_credentials(
        settings.path(settings.sp.certificate_file), settings.secrets.sp_private_key))
    next_credentials = _step(problems, lambda: load_credentials(
        settings.path(settings.sp.next_certificate_file), settings.secrets.sp_next_private_key,
        cert_key="sp.next_certificate_file", key_name="SSO_BRIDGE_SP_NEXT_KEY")) \
        if settings.sp.next_certificate_file else None
    next_cert = next_credentials.certificate_base64 if next_credentials else ""
    configs = settings.configured_idps()
    loaded = [_step(problems, partial(_load_metadata, settings, c)) for c in configs]
    sakai = sakai or _step(problems, lambda: _sakai_client(settings))
    store = _step(problems, lambda: _open_store(settings))
    if problems or credentials is None or store is None or sakai is None:
        raise ConfigError(problems)
    cert = credentials.certificate_base64
    sp = _service_provider(settings, store, configs, loaded, cert, next_cert, problems)
    federations = [f for f in (_step(problems, partial(
        _federation, settings, sp, name, section, cert, next_cert, start_federations))
        for name, section in settings.federations.items()) if f is not None]
    if sp is not None:
        problems += check_distinct(sp.configured())
    if problems or sp is None:
        raise ConfigError(problems)
    idps = Idps(sp, federations)
    return Services(
        settings=settings, credentials=credentials, sp=sp, store=store, sakai=sakai,
        provisioner=Provisioner(sakai, store, settings.sakai),
        audit=audit or AuditLog(settings.logging.audit_file),
        refreshers=[_refresher(settings, sp, c, cert, next_cert) for c in configs],
        warnings=_warnings(settings, sp), idps=idps, next_credentials=next_credentials)


def _service_provider(settings: Settings, store: Store, configs: list[IdpConfig],
                      loaded: list[IdpMetadata | None], cert: str, next_cert: str,
                      problems: list[str]) -> ServiceProvider | None:
    """The SP trusting every configured IdP (none: every IdP comes from a federation)."""
    built = [(c, idp, _step(problems, partial(_saml_settings, settings, idp, cert, next_cert,
                                              c.section)))
             for c, idp in zip(configs, loaded, strict=True) if idp is not None]
    if problems:
        return None
    trusts = [(c, idp, ss) for c, idp, ss in built if ss is not None]
    if not trusts:  # every IdP comes from a federation
        return _step(problems, lambda: ServiceProvider(
            settings, None, build_saml_settings(settings, None, cert, next_cert), store))
    (first, idp, (current, next_key)), *others = trusts
    sp = _step(problems, lambda: ServiceProvider(
        settings, idp, current, store, next_key, key=first.key, policy=first.section,
        attributes=first.attributes))
    if sp is None:
        return None
    for c, idp, (current, next_key) in others:
        _step(problems, partial(sp.add, c.key, c.section, c.attributes, idp, current, next_key))
    return sp


def _federation(settings: Settings, sp: ServiceProvider | None, key: str,
                section: FederationSection, cert: str, next_cert: str,
                start: bool) -> Federation:
    def build_trust(key: str, policy: FederationSection, idp: IdpMetadata) -> IdpTrust:
        assert sp is not None
        current, next_key = _saml_settings(settings, idp, cert, next_cert, policy)
        return sp.make_trust(key, policy, policy.attributes, idp, current, next_key)

    state = _state_folder(settings)
    federation = Federation(f"federations.{key}", section, Path(settings.config_dir),
                            private_folder(state), build_trust,
                            )
    if start:
        federation.start()
    return federation


def _state_folder(settings: Settings) -> Path:
    """Where the instance keeps its files (federation indexes): ``store.state_directory``,
    else beside a configured SQLite store, else the default private state folder."""
    c = settings.store
    if c.state_directory:
        return settings.path(c.state_directory)
    if c.url.startswith("sqlite:///"):
        return Path(c.url.removeprefix("sqlite:///")).parent
    return default_folder()


def _warnings(settings: Settings, sp: ServiceProvider) -> list[str]:
    warnings = []
    for c in settings.configured_idps():
        url = c.section.metadata_url
        if url.startswith("http://") and not c.section.metadata_signing_certificate:
            warnings.append(f"the IdP metadata of [{c.key}] comes over plain HTTP ({url}) and "
                            f"unsigned: anyone on the way can replace the IdP's keys; set "
                            f"'{c.key}.metadata_signing_certificate' or use https")
    warnings += eid_sources.unscoped_warnings(settings)
    if settings.bridge.mode != "production":  # there, validate() made them errors
        warnings.extend(risks(settings))
    if not sp.caches_active:
        warnings.append("python3-saml's caches are off, so logins cost more CPU (no check is "
                        f"lost): {'; '.join(python3_saml_caches.problems())}")
    return warnings
