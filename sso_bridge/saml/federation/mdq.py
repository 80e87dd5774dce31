"""The Metadata Query Protocol (MDQ): one IdP's metadata fetched when a login needs it.

``GET <base>/entities/<entityID, percent-encoded>`` (or ``{sha1}<hex>`` of it, with
``transformed=True``) answers one ``md:EntityDescriptor``. The answer is trusted only if its
root is signed by the MDQ service's signing certificate (verified before it is read, as for an
aggregate), describes the entity asked for (another entity's signed metadata, replayed, is
refused), carries a validUntil in the future and within the validity bound, and is an IdP.
A good answer is cached until its validUntil, or its cacheDuration if that comes first (else
``default_cache_seconds``); a 404 means the service knows no such entity (``None``), and is
remembered for a minute. The cache holds at most ``max_entries``, the oldest dropped first.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from lxml import etree

from sso_bridge.errors import ConfigError
from sso_bridge.saml.checks import PARSER_OPTIONS
from sso_bridge.saml.federation.aggregate import Trust, checked_validity, verify
from sso_bridge.saml.federation.index import sha1_id
from sso_bridge.saml.federation.records import MD, EntityProblem, IdpRecord, read_idp
from sso_bridge.saml.federation.transport import fetch_bytes

MAX_ENTITY_BYTES = 1024 * 1024
ACCEPT = {"Accept": "application/samlmetadata+xml"}
_DURATION = re.compile(r"P(?:(\d+)Y)?(?:(\d+)M)?(?:(\d+)D)?"
                       r"(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?")
_SECONDS = (365 * 86400, 30 * 86400, 86400, 3600, 60, 1)


def duration_seconds(text: str) -> float | None:
    """An xs:duration (``PT6H``, ``P1D``) in seconds; None if it is not one."""
    match = _DURATION.fullmatch(text.strip())
    if match is None or not any(match.groups()):
        return None
    return sum(float(part) * unit for part, unit in zip(match.groups(), _SECONDS, strict=True)
               if part)


@dataclass(frozen=True)
class _Cached:
    record: IdpRecord | None
    """None: the service said it knows no such entity (404)."""
    until: float


class MdqClient:
    """Thread-safe; one per MDQ service, shared by a worker's threads."""

    def __init__(self, base_url: str, trust: Trust, *, setting: str, timeout: float = 10.0,
                 ca_file: str = "", allow_http: bool = False, transformed: bool = False,
                 default_cache_seconds: float = 3600.0, max_entries: int = 10_000,
                 unknown_cache_seconds: float = 60.0) -> None:
        """``unknown_cache_seconds``: how long a 404 is remembered, so that a learner (or a
        script) sending made-up entityIDs in ``?idp=`` does not send a request each to the
        MDQ service."""
        self.base_url = base_url.rstrip("/")
        self.trust, self.setting = trust, setting
        self.timeout, self.ca_file, self.allow_http = timeout, ca_file, allow_http
        self.transformed = transformed
        self.default_cache_seconds, self.max_entries = default_cache_seconds, max_entries
        self.unknown_cache_seconds = unknown_cache_seconds
        self._cache: dict[str, _Cached] = {}
        self._lock = threading.Lock()

    def url_for(self, entity_id: str) -> str:
        name = "{sha1}" + sha1_id(entity_id) if self.transformed else entity_id
        return f"{self.base_url}/entities/{quote(name, safe='')}"

    def lookup(self, entity_id: str) -> IdpRecord | None:
        """The IdP's verified record (cached), None if the service does not know it;
        ConfigError if the service fails or its answer is not to be trusted."""
        now = time.time()
        with self._lock:
            cached = self._cache.get(entity_id)
        if cached is not None and cached.until > now:
            return cached.record
        url = self.url_for(entity_id)
        status, body = fetch_bytes(url, max_bytes=MAX_ENTITY_BYTES, timeout=self.timeout,
                                   setting=self.setting, ca_file=self.ca_file,
                                   allow_http=self.allow_http, headers=ACCEPT)
        if status == 404:
            self._keep(entity_id, _Cached(None, now + self.unknown_cache_seconds))
            return None
        if status != 200:
            raise ConfigError(f"'{self.setting}': {url} answered HTTP {status}")
        record, until = self._read(body, entity_id, url)
        self._keep(entity_id, _Cached(record, until))
        return record

    def _keep(self, entity_id: str, cached: _Cached) -> None:
        with self._lock:
            if entity_id not in self._cache and len(self._cache) >= self.max_entries:
                self._cache.pop(next(iter(self._cache)))  # the oldest
            self._cache[entity_id] = cached

    def _read(self, body: bytes, entity_id: str, url: str) -> tuple[IdpRecord, float]:
        root = _parse(body, url, self.setting)
        if root.tag != f"{{{MD}}}EntityDescriptor":
            raise ConfigError(f"'{self.setting}': {url} is not an EntityDescriptor")
        verify(root, url, self.trust)
        if root.get("entityID") != entity_id:
            raise ConfigError(f"'{self.setting}': {url} describes {root.get('entityID')!r}, "
                              f"not {entity_id!r}")
        valid_until = checked_validity(root, url, self.trust)
        try:
            record = read_idp(root)
        except EntityProblem as exc:
            raise ConfigError(f"'{self.setting}': {url}: {exc}") from exc
        cache = duration_seconds(root.get("cacheDuration") or "")
        return record, min(valid_until, time.time() + (cache or self.default_cache_seconds))


def _parse(body: bytes, url: str, setting: str) -> Any:
    try:
        root = etree.fromstring(body, etree.XMLParser(**PARSER_OPTIONS))
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"'{setting}': {url} is not well-formed XML: {exc}") from exc
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None:
        raise ConfigError(f"'{setting}': {url} carries a DOCTYPE")
    return root
