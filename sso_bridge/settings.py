"""Typed, frozen settings, read from one TOML file and the environment, validated once at start-up.

Every problem is collected and reported together (``ConfigError.problems``), each naming the key
it is about. Unknown keys and wrong types are errors. Secrets never come from the TOML file: they
are read from ``SSO_BRIDGE_<NAME>`` or from the file named by ``SSO_BRIDGE_<NAME>_FILE``.
"""

from __future__ import annotations

import math
import os
import tomllib
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from sso_bridge import presets
from sso_bridge.errors import ConfigError
from sso_bridge.idp_settings import (
    AttributesSection,
    DiscoverySection,
    FederationSection,
    IdpConfig,
    IdpPolicy,
    IdpSection,
    OtherIdpSection,
)
from sso_bridge.metadata_settings import (
    ContactSection,
    ContactsSection,
    LogoSection,
    MetadataSection,
    OrganizationSection,
    UiSection,
)
from sso_bridge.typed_config import read_dataclass

__all__ = [  # the sections live in idp_settings.py and metadata_settings.py
    "AttributesSection", "ContactSection", "ContactsSection", "DiscoverySection",
    "FederationSection", "IdpConfig", "IdpPolicy", "IdpSection", "LogoSection",
    "MetadataSection", "OrganizationSection", "OtherIdpSection", "Settings", "UiSection",
    "load_settings",
]

CONFIG_ENV = "SSO_BRIDGE_CONFIG"


@dataclass(frozen=True)
class BridgeSection:
    base_url: str
    """Public URL of the bridge, e.g. https://lms.example.edu/sso (no trailing slash)."""
    error_contact: str = "your IT helpdesk"
    mode: Literal["standard", "production"] = "standard"
    """production: every risk ``risks`` names (plain http to Sakai or for learners) is an
    error at start-up instead of a warning."""
    branding_dir: str = ""
    """A folder overriding the learner's pages: templates/, static/ (logo.svg, brand.css) and
    texts/<lang>.po (docs/learners.md). Empty: the bridge's own look."""


@dataclass(frozen=True)
class SpSection:
    certificate_file: str
    next_certificate_file: str = ""
    """During an SP key rollover: the next certificate (its key in SSO_BRIDGE_SP_NEXT_KEY),
    published in the SP metadata and tried for decryption after the current one."""
    entity_id: str = ""
    sign_metadata: bool = False
    sign_authn_requests: Literal["auto", "always", "never"] = "auto"
    """auto: sign when the IdP's metadata says WantAuthnRequestsSigned (as Shibboleth SP does)."""


@dataclass(frozen=True)
class CookieSection:
    name: str = "JSESSIONID"
    domain: str = ""
    path: str = "/"
    secure: bool = True
    httponly: bool = True
    samesite: Literal["Lax", "Strict", "None"] = "Lax"


@dataclass(frozen=True)
class SakaiSection:
    url: str
    """Sakai's origin, e.g. https://lms.example.edu. Targets must be on it (or allowed_origins)."""
    admin_user: str = "admin"
    allowed_origins: list[str] = field(default_factory=list)
    portal_path: str = "/portal"
    server_id: str = ""
    """The serverId Sakai must turn out to use (empty: learned from Sakai, the usual way; a
    value that disagrees with what Sakai says is an error at start-up and in readiness)."""
    handoff: Literal["cookie", "url"] = "cookie"
    connect_timeout_seconds: float = 3.0
    read_timeout_seconds: float = 10.0
    default_user_type: str = "registered"
    user_types: dict[str, str] = field(default_factory=dict)
    """Affiliation → Sakai user type, first affiliation of the learner found here wins."""
    account_cache_seconds: int = 0
    """Opt-in: for this long after a check, a returning learner costs one Sakai call and an
    account disabled in Sakai is let in (0: the disabled check runs at every login)."""
    breaker_failures: int = 5
    """Consecutive unavailability errors that open the circuit (0: no breaker)."""
    breaker_cooldown_seconds: float = 30.0
    ca_certificate_file: str = ""
    """PEM CA certificates that alone are trusted for Sakai's https (an internal CA);
    empty: the system's trust store."""
    cookie: CookieSection = field(default_factory=CookieSection)
    protected_eids: list[str] = field(default_factory=list)
    """EIDs the bridge never signs in or modifies, besides ``admin`` and ``admin_user``: exact
    EIDs or shell-style patterns (``*-admin``), compared after Sakai's EID normalisation."""
    link_existing_types: list[str] = field(default_factory=list)
    """Sakai user types of existing accounts the bridge did not create that it may take over
    (``"*"``: any). Empty: only accounts the bridge created or linked before."""
    sync_user_type: bool = True
    """Keep the Sakai user type in step with the learner's affiliation (``user_types``)."""
    full_check_seconds: int = 86400
    """After a full account check, a returning learner with unchanged attributes gets the
    light check (disabled? deleted?) for this long; 0: a full check at every login."""
    nodes: list[str] = field(default_factory=list)
    """A Sakai cluster's node URLs, for the bridge to pick one per call (with failover);
    ``url`` stays the address browsers use. Empty: ``url`` only (one node, or the balancer)."""
    login_deadline_seconds: float = 20.0
    """All of one login's Sakai calls must be done within this (0: no deadline)."""
    max_concurrent_calls: int = 16
    """At most this many Sakai calls in flight per worker process (0: no bound)."""
    readiness_cache_seconds: float = 10.0
    """/readyz re-checks the hand-over to Sakai at most this often per worker."""


@dataclass(frozen=True)
class StoreSection:
    url: str = ""
    """sqlite:///<path> (one machine, many workers) or redis://host:port/db (many machines).
    Empty: SQLite in the bridge's private state folder (``state_directory``)."""
    login_timeout_seconds: int = 600
    redis_tls: bool = False
    state_directory: str = ""
    """The private folder (0700) of the SQLite store. Empty: $STATE_DIRECTORY (systemd's
    StateDirectory=), else /var/lib/sso-bridge when writable, else ~/.local/state/sso-bridge."""
    slo_session_seconds: int = 43200
    """How long a login is remembered for single logout (its Sakai session, NameID and
    SessionIndex): at least as long as a Sakai session may last."""


@dataclass(frozen=True)
class LimitsSection:
    max_saml_response_bytes: int = 256 * 1024
    max_relay_state_bytes: int = 256


@dataclass(frozen=True)
class ServerSection:
    bind: str = "127.0.0.1:8000"
    workers: int = 0
    """Server worker processes; 0: two per CPU this process may use (at most 16)."""
    threads: int = 8
    """Threads per worker: logins waiting on Sakai leave the CPU to the others."""
    timeout_seconds: int = 30
    graceful_timeout_seconds: int = 30
    trusted_proxy_hops: int = 0
    ops_allow: list[str] = field(default_factory=lambda: ["127.0.0.0/8", "::1/128"])
    """Networks whose peers may read ``/readyz`` and ``/metrics`` on the learners' port; every
    other peer, and any request a proxy forwarded unless ``trusted_proxy_hops`` names it, gets
    404. ``/healthz`` stays open to load balancers."""
    ops_bind: str = ""
    """A separate address (``127.0.0.1:9100``) where ``/readyz``, ``/metrics`` and ``/healthz``
    answer to anyone who reaches it, and nothing else does; ``ops_allow`` still rules the
    learners' port."""

    def worker_count(self) -> int:
        """``workers``, with 0 resolved to two per usable CPU, at least 2 and at most 16."""
        return self.workers or min(16, max(2, 2 * usable_cpus()))


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> int:
    """The CPUs this process may use: its affinity, capped by a container's cgroup CPU quota
    (a container sees every CPU of its host, and would otherwise start a worker for each)."""
    cpus = len(os.sched_getaffinity(0))
    quota = _cgroup_cpu_quota(cgroup)
    return max(1, min(cpus, math.ceil(quota))) if quota else cpus


def _cgroup_cpu_quota(cgroup: Path) -> float | None:
    try:  # cgroup v2: "<quota|max> <period>"
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
        return None if quota == "max" else int(quota) / int(period)
    except (OSError, ValueError):
        pass
    try:  # cgroup v1: a quota of -1 means none
        quota_us = int((cgroup / "cpu" / "cpu.cfs_quota_us").read_text())
        period_us = int((cgroup / "cpu" / "cpu.cfs_period_us").read_text())
        return quota_us / period_us if quota_us > 0 and period_us > 0 else None
    except (OSError, ValueError):
        return None


@dataclass(frozen=True)
class LoggingSection:
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    json: bool = False
    audit_file: str = ""
    """Where the one-JSON-line-per-login audit log goes; empty means standard output."""


@dataclass(frozen=True)
class Secrets:
    flask_secret_key: str
    sp_private_key: str
    sakai_admin_password: str
    redis_password: str
    sp_next_private_key: str = ""

    def __repr__(self) -> str:
        return "Secrets(<redacted>)"


@dataclass(frozen=True)
class Settings:
    bridge: BridgeSection
    sp: SpSection
    idp: IdpSection
    sakai: SakaiSection
    attributes: AttributesSection = field(default_factory=AttributesSection)
    store: StoreSection = field(default_factory=StoreSection)
    limits: LimitsSection = field(default_factory=LimitsSection)
    server: ServerSection = field(default_factory=ServerSection)
    logging: LoggingSection = field(default_factory=LoggingSection)
    secrets: Secrets = field(default_factory=lambda: Secrets("", "", "", ""), repr=False)
    config_dir: str = "."
    metadata: MetadataSection = field(default_factory=MetadataSection)
    preset_values: dict[str, Any] = field(default_factory=dict)
    """What each preset set, by dotted key (the keys the admin did not write)."""
    idps: dict[str, OtherIdpSection] = field(default_factory=dict)
    federations: dict[str, FederationSection] = field(default_factory=dict)
    discovery: DiscoverySection = field(default_factory=DiscoverySection)

    def configured_idps(self) -> list[IdpConfig]:
        """``[idp]`` (when it names metadata) and every ``[idps.<name>]``, in that order."""
        found = [IdpConfig("idp", self.idp, self.attributes)] if self.idp.configured else []
        return found + [IdpConfig(f"idps.{name}", idp, idp.attributes)
                        for name, idp in self.idps.items()]

    @property
    def acs_url(self) -> str:
        return self.bridge.base_url + "/saml/acs"

    @property
    def sp_entity_id(self) -> str:
        return self.sp.entity_id or self.bridge.base_url + "/saml/metadata"

    @property
    def sakai_origins(self) -> tuple[str, ...]:
        return tuple(_origin(u) for u in [self.sakai.url, *self.sakai.allowed_origins])

    def path(self, value: str) -> Path:
        """A path from the config file, relative to the file's folder."""
        return Path(self.config_dir, value) if value else Path()


# --- loading ------------------------------------------------------------------------------


def load_settings(path: str | os.PathLike[str] | None = None,
                  environ: typing.Mapping[str, str] | None = None) -> Settings:
    """Read, type-check and validate the configuration; raise ConfigError listing every problem."""
    environ = os.environ if environ is None else environ
    path = path or environ.get(CONFIG_ENV)
    if not path:
        raise ConfigError(f"no configuration file: pass --config or set {CONFIG_ENV}")
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read configuration file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    problems: list[str] = []
    if "idp" not in raw and (raw.get("idps") or raw.get("federations")):
        raw["idp"] = {}  # no [idp]: the IdPs are all in [idps.*] and [federations.*]
    preset_values = presets.apply(raw)
    values = read_dataclass(Settings, raw, "", problems,
                            skip={"secrets", "config_dir", "preset_values"})
    secrets = _read_secrets(environ, problems)
    if problems:
        raise ConfigError(problems)
    settings = Settings(**values, secrets=secrets, config_dir=str(Path(path).resolve().parent),
                        preset_values=preset_values)
    from sso_bridge.settings_checks import validate  # the checks import these dataclasses

    problems.extend(validate(settings))
    if problems:
        raise ConfigError(problems)
    return settings


SECRET_NAMES = {
    "flask_secret_key": "SSO_BRIDGE_SECRET_KEY",
    "sp_private_key": "SSO_BRIDGE_SP_KEY",
    "sakai_admin_password": "SSO_BRIDGE_SAKAI_PASSWORD",
    "redis_password": "SSO_BRIDGE_REDIS_PASSWORD",
    "sp_next_private_key": "SSO_BRIDGE_SP_NEXT_KEY",
}
REQUIRED_SECRETS = ("flask_secret_key", "sp_private_key", "sakai_admin_password")


def _read_secrets(environ: typing.Mapping[str, str], problems: list[str]) -> Secrets:
    values = {}
    for name, var in SECRET_NAMES.items():
        values[name] = _read_secret(var, environ, problems, required=name in REQUIRED_SECRETS)
    if values["flask_secret_key"] and len(values["flask_secret_key"]) < 32:
        problems.append("SSO_BRIDGE_SECRET_KEY: must be at least 32 characters "
                        "(use a random value)")
    return Secrets(**values)


def _read_secret(var: str, environ: typing.Mapping[str, str], problems: list[str],
                 required: bool) -> str:
    file_var = var + "_FILE"
    if environ.get(file_var):
        try:
            return Path(environ[file_var]).read_text(encoding="utf-8").strip()
        except OSError as exc:
            problems.append(f"{file_var}: cannot read {environ[file_var]}: {exc.strerror}")
            return ""
    if environ.get(var):
        return environ[var]
    if required:
        problems.append(f"secret missing: set {var} or {file_var}")
    return ""


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()

