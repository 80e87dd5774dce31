"""Assembly of everything the bridge needs, from validated settings, once, at start-up.

Each step reports its problems as a ConfigError; ``build_services`` runs every independent step
and reports all problems together, so an admin fixes the configuration in one pass.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from sso_bridge import eid_sources, metrics
from sso_bridge.deps import check_libxml2
from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.keys import SpCredentials, load_credentials
from sso_bridge.logs import AuditLog
from sso_bridge.provisioning import Provisioner
from sso_bridge.sakai.breaker import CircuitBreaker
from sso_bridge.sakai.client import SakaiClient
from sso_bridge.sakai.gate import CallGate
from sso_bridge.sakai.probe import Handover
from sso_bridge.saml import python3_saml_caches
from sso_bridge.saml.metadata import IdpMetadata, MetadataSigner, load_idp_metadata
from sso_bridge.saml.refresh import MetadataRefresher
from sso_bridge.saml.sp import ServiceProvider, build_saml_settings
from sso_bridge.settings import Settings
from sso_bridge.settings_checks import risks
from sso_bridge.store import Store, open_store

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
    refresher: MetadataRefresher
    warnings: list[str]
    """What works but deserves a look (check-config prints them; serve too). The SP
    certificates' expiry is checked by ``config_check.certificates``."""
    next_credentials: SpCredentials | None = None
    """During an SP key rollover: the next certificate."""

    @property
    def idp(self) -> IdpMetadata:
        """The IdP metadata in force (refreshed periodically)."""
        return self.sp.idp


def _step(problems: list[str], build: Callable[[], T]) -> T | None:
    try:
        return build()
    except ConfigError as exc:
        problems.extend(exc.problems)
    except BridgeError as exc:
        problems.append(exc.detail)
    return None


def _load_metadata(settings: Settings) -> IdpMetadata:
    c = settings.idp
    signer = MetadataSigner.load(settings.path(c.metadata_signing_certificate)) \
        if c.metadata_signing_certificate else None
    return load_idp_metadata(file=settings.path(c.metadata_file) if c.metadata_file else None,
                             url=c.metadata_url, entity_id=c.entity_id,
                             timeout=c.metadata_timeout_seconds, signer=signer,
                             max_validity_days=c.metadata_max_validity_days)


def _saml_settings(settings: Settings, idp: IdpMetadata, cert: str,
                   next_cert: str) -> tuple[Any, Any]:
    """python3-saml's settings objects, built once per IdP metadata: the current SP key's and,
    during an SP key rollover, the same with the next key, which decrypts what the current
    one cannot."""
    current = build_saml_settings(settings, idp, cert, next_cert)
    next_key = build_saml_settings(settings, idp, cert, next_cert,
                                   private_key=settings.secrets.sp_next_private_key) \
        if next_cert else None
    return current, next_key


def _refresher(settings: Settings, sp: ServiceProvider, cert: str,
               next_cert: str) -> MetadataRefresher:
    def apply(idp: IdpMetadata) -> None:
        sp.trust(idp, *_saml_settings(settings, idp, cert, next_cert))

    return MetadataRefresher(lambda: _load_metadata(settings), apply,
                             settings.idp.metadata_refresh_seconds,
                             on_result=metrics.observe_metadata_refresh)


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
                   sakai: SakaiClient | None = None) -> Services:
    problems: list[str] = []
    _step(problems, check_libxml2)
    credentials = _step(problems, lambda: load_credentials(
        settings.path(settings.sp.certificate_file), settings.secrets.sp_private_key))
    next_credentials = _step(problems, lambda: load_credentials(
        settings.path(settings.sp.next_certificate_file), settings.secrets.sp_next_private_key,
        cert_key="sp.next_certificate_file", key_name="SSO_BRIDGE_SP_NEXT_KEY")) \
        if settings.sp.next_certificate_file else None
    next_cert = next_credentials.certificate_base64 if next_credentials else ""
    idp = _step(problems, lambda: _load_metadata(settings))
    sakai = sakai or _step(problems, lambda: _sakai_client(settings))
    store = _step(problems, lambda: _open_store(settings))
    if problems or credentials is None or idp is None or store is None or sakai is None:
        raise ConfigError(problems)
    saml_settings: Any = _step(problems, lambda: _saml_settings(
        settings, idp, credentials.certificate_base64, next_cert))
    if saml_settings is None:
        raise ConfigError(problems)
    warnings = []
    if settings.idp.metadata_url.startswith("http://") and \
            not settings.idp.metadata_signing_certificate:
        warnings.append(f"the IdP metadata comes over plain HTTP ({settings.idp.metadata_url}) "
                        "and unsigned: anyone on the way can replace the IdP's keys; set "
                        "'idp.metadata_signing_certificate' or use https")
    unscoped = eid_sources.unscoped_warning(settings)
    if unscoped:
        warnings.append(unscoped)
    if settings.bridge.mode != "production":  # there, validate() made them errors
        warnings.extend(risks(settings))
    current_key_settings, next_key_settings = saml_settings
    sp = ServiceProvider(settings, idp, current_key_settings, store, next_key_settings)
    if not sp.caches_active:
        warnings.append("python3-saml's caches are off, so logins cost more CPU (no check is "
                        f"lost): {'; '.join(python3_saml_caches.problems())}")
    return Services(
        settings=settings, credentials=credentials, sp=sp, store=store, sakai=sakai,
        provisioner=Provisioner(sakai, store, settings.sakai),
        audit=audit or AuditLog(settings.logging.audit_file),
        refresher=_refresher(settings, sp, credentials.certificate_base64, next_cert),
        warnings=warnings, next_credentials=next_credentials)
