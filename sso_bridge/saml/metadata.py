"""The IdP's metadata: loaded at start-up (and refreshed) from a file or an HTTPS URL, checked.

A metadata problem is a :class:`ConfigError` that says what is wrong and where, at start-up,
not at the first login.

With ``idp.metadata_signing_certificate`` the metadata must be signed by that certificate's
key (a federation's metadata signer, or the IdP's own), as Shibboleth's signature filter
insists: the root element carries one enveloped XML signature over the whole document, and it
is verified before anything in the document is read (saml-hardening.md B19). Whoever can
change the metadata on its way, or where it is kept, could otherwise swap the IdP's signing
key for their own and sign in as anyone. ``idp.metadata_max_validity_days`` bounds how far
ahead the metadata's validUntil may lie, so that an old copy, signed before a key was
replaced, is not good for long.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import xmlsec
from cryptography import x509
from lxml import etree
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge.errors import ConfigError, SamlError
from sso_bridge.httpclient import HttpClient, ReplyTooLarge, TransportError
from sso_bridge.saml.checks import DS, check_signature
from sso_bridge.saml.xmlsec_policy import verified_by_any

MAX_METADATA_BYTES = 20 * 1024 * 1024
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
_NS = {"md": "urn:oasis:names:tc:SAML:2.0:metadata", "shibmd": "urn:mace:shibboleth:metadata:1.0"}
SIGNER_KEY = "idp.metadata_signing_certificate"
VALIDITY_KEY = "idp.metadata_max_validity_days"


@dataclass(frozen=True)
class Scope:
    """A ``shibmd:Scope`` of the IdP: the domains its scoped identifiers may carry."""

    value: str
    regexp: bool = False

    def matches(self, scope: str) -> bool:
        if self.regexp:
            return re.fullmatch(self.value, scope) is not None
        return scope.lower() == self.value.lower()

    @classmethod
    def read(cls, element: Any) -> Scope | None:
        """A ``shibmd:Scope`` element's scope (None when it is empty); ValueError naming the
        value when it claims to be a regular expression and is none."""
        regexp = (element.get("regexp") or "false").strip().lower() in ("true", "1")
        value = (element.text or "").strip()
        if regexp:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"shibmd:Scope {value!r} is not a valid regular expression: "
                                 f"{exc}") from exc
        return cls(value, regexp) if value else None


@dataclass(frozen=True)
class IdpMetadata:
    entity_id: str
    sso_url: str
    signing_certs: tuple[str, ...]
    settings: dict[str, Any] = field(repr=False)
    """The ``idp`` part of python3-saml's settings."""
    source: str = ""
    loaded_at: float = 0.0
    valid_until: float | None = None
    scopes: tuple[Scope, ...] = ()
    wants_signed_requests: bool = False
    """The IDPSSODescriptor's WantAuthnRequestsSigned."""
    display_names: dict[str, str] = field(default_factory=dict)
    """mdui:DisplayName per language (the discovery page's name for the IdP)."""
    keywords: dict[str, tuple[str, ...]] = field(default_factory=dict)
    logo: str = ""
    """The first https mdui:Logo, if any."""

    def expired(self, now: float | None = None) -> bool:
        return self.valid_until is not None and (now or time.time()) >= self.valid_until


@dataclass(frozen=True)
class MetadataSigner:
    """The certificate whose key must have signed the metadata; ``setting``, the key it was
    configured by, is named in every problem (``idp.metadata_signing_certificate``,
    ``idps.partner...``, a federation's ``signing_certificate``)."""

    path: str
    key: xmlsec.Key = field(repr=False)
    setting: str = SIGNER_KEY

    @classmethod
    def load(cls, path: Path, setting: str = SIGNER_KEY) -> MetadataSigner:
        try:
            pem = path.read_bytes()
        except OSError as exc:
            raise ConfigError(f"'{setting}': cannot read {path}: {exc.strerror}") from exc
        try:
            x509.load_pem_x509_certificate(pem)
            key = xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem, None)
        except (ValueError, xmlsec.Error) as exc:
            raise ConfigError(f"'{setting}': {path} is not a PEM certificate") from exc
        return cls(str(path), key, setting)

    def verify(self, doc: Any, source: str) -> None:
        """Refuse metadata whose root element is not signed by this key."""
        signatures = list(doc.iterchildren(f"{{{DS}}}Signature"))
        if len(signatures) != 1:
            raise ConfigError(f"'{self.setting}': the metadata from {source} is not signed"
                              if not signatures else
                              f"'{self.setting}': the metadata from {source} carries "
                              f"{len(signatures)} signatures on its root element")
        try:  # one Reference, to the root by its ID; enveloped + c14n transforms; SHA-2
            check_signature(signatures[0], doc)
        except SamlError as exc:
            raise ConfigError(f"'{self.setting}': the signature of the metadata from {source} "
                              f"is outside the SAML profile: {exc.detail}") from exc
        root_id = doc.get("ID")
        if sum(1 for e in doc.iter(etree.Element) if e.get("ID") == root_id) != 1:
            raise ConfigError(f"'{self.setting}': the metadata from {source} uses the ID of its "
                              "signed root element twice")
        xmlsec.tree.add_ids(doc, ["ID"])
        if not verified_by_any(signatures[0], (self.key,)):
            raise ConfigError(f"'{self.setting}': the metadata from {source} is not signed by "
                              f"the key of {self.path} (or was changed after signing)")


def load_idp_metadata(*, file: Path | None = None, url: str = "", entity_id: str = "",
                      timeout: float = 10.0, signer: MetadataSigner | None = None,
                      max_validity_days: int = 0, table: str = "idp") -> IdpMetadata:
    """Read, parse and check the IdP metadata; ConfigError names the key and the cause
    (``table``: the IdP's settings table, ``idp`` or ``idps.<name>``)."""
    if file is not None:
        key, source = f"{table}.metadata_file", str(file)
        try:
            xml = file.read_bytes()
        except OSError as exc:
            raise ConfigError(f"'{key}': cannot read {file}: {exc.strerror}") from exc
    else:
        key, source = f"{table}.metadata_url", url
        xml = _fetch(url, timeout, key)
    return parse_idp_metadata(xml, source=source, key=key, entity_id=entity_id, signer=signer,
                              max_validity_days=max_validity_days, table=table)


def _fetch(url: str, timeout: float, key: str = "idp.metadata_url") -> bytes:
    """GET the metadata over the bridge's one HTTP stack (system trust store, hostname checks,
    no redirects, at most MAX_METADATA_BYTES)."""
    parts = urlsplit(url)
    client = HttpClient(f"{parts.scheme}://{parts.netloc}", connect_timeout=timeout,
                        read_timeout=timeout, max_reply_bytes=MAX_METADATA_BYTES, pool_size=1)
    target = parts.path or "/"
    try:
        reply = client.get(f"{target}?{parts.query}" if parts.query else target,
                           {"Accept": "application/samlmetadata+xml, application/xml"})
    except ReplyTooLarge:
        raise ConfigError(f"'{key}': {url} is larger than {MAX_METADATA_BYTES} "
                          "bytes") from None
    except TransportError as exc:
        raise ConfigError(f"'{key}': cannot fetch {url}: {exc}") from None
    finally:
        client.close()
    if reply.status != 200:
        raise ConfigError(f"'{key}': {url} answered HTTP {reply.status}")
    return reply.body


def parse_idp_metadata(xml: bytes, *, source: str, key: str, entity_id: str = "",
                       signer: MetadataSigner | None = None, max_validity_days: int = 0,
                       table: str = "idp") -> IdpMetadata:
    try:
        doc = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:  # the parser raises lxml and defusedxml-style errors alike
        raise ConfigError(f"'{key}': {source} is not well-formed XML metadata: {exc}") from exc
    if signer is not None:
        # python3-saml reads the same bytes again below with the same parser, so what it
        # reads is what was verified.
        signer.verify(doc, source)
    entity_ids = [e.get("entityID") for e in doc.iter(f"{{{_NS['md']}}}EntityDescriptor")
                  if e.find("md:IDPSSODescriptor", _NS) is not None]
    if not entity_ids:
        raise ConfigError(f"'{key}': {source} describes no IdP (no IDPSSODescriptor)")
    if entity_id and entity_id not in entity_ids:
        raise ConfigError(f"'{table}.entity_id': {entity_id} is not in {source}")
    if not entity_id and len(entity_ids) > 1:
        raise ConfigError(f"'{table}.entity_id': {source} describes {len(entity_ids)} IdPs; "
                          "name the one to trust")
    chosen = entity_id or str(entity_ids[0])
    parsed = OneLogin_Saml2_IdPMetadataParser.parse(xml, entity_id=chosen,
                                                    required_sso_binding=REDIRECT_BINDING)
    idp = parsed.get("idp") or {}
    certs = _signing_certs(idp)
    sso = (idp.get("singleSignOnService") or {}).get("url", "")
    if not sso:
        raise ConfigError(f"'{key}': {chosen} has no HTTP-Redirect SingleSignOnService")
    if not certs:
        raise ConfigError(f"'{key}': {chosen} publishes no signing certificate")
    valid_until = _valid_until(doc)
    if valid_until is not None and valid_until <= time.time():
        raise ConfigError(f"'{key}': the metadata of {chosen} expired at {_date(valid_until)}")
    if max_validity_days:
        _check_validity_window(valid_until, max_validity_days, chosen,
                               f"{table}.metadata_max_validity_days")
    idp.pop("x509cert", None)
    idp["x509certMulti"] = {"signing": list(certs)}
    names, keywords, logo = _ui(doc, chosen)
    return IdpMetadata(entity_id=chosen, sso_url=sso, signing_certs=certs, settings=idp,
                       source=source, loaded_at=time.time(), valid_until=valid_until,
                       scopes=_scopes(doc, chosen, key),
                       wants_signed_requests=_wants_signed_requests(doc, chosen),
                       display_names=names, keywords=keywords, logo=logo)


def _ui(doc: Any, entity_id: str) -> tuple[dict[str, str], dict[str, tuple[str, ...]], str]:
    """The IdP's mdui names, keywords and logo, read as a federation's IdPs are read."""
    from sso_bridge.saml.federation.records import EntityProblem, read_idp

    for entity in doc.iter(f"{{{_NS['md']}}}EntityDescriptor"):
        if entity.get("entityID") == entity_id:
            try:
                record = read_idp(entity)
            except EntityProblem:
                break
            return (record.display_names, record.keywords,
                    record.logos[0].url if record.logos else "")
    return {}, {}, ""


def _scopes(doc: Any, entity_id: str, key: str) -> tuple[Scope, ...]:
    """The IdP's shibmd:Scope values (entity or IDPSSODescriptor extensions)."""
    found: list[Scope] = []
    for entity in doc.iter(f"{{{_NS['md']}}}EntityDescriptor"):
        if entity.get("entityID") != entity_id:
            continue
        for element in entity.iterfind(".//md:Extensions/shibmd:Scope", _NS):
            try:
                scope = Scope.read(element)
            except ValueError as exc:
                raise ConfigError(f"'{key}': {exc}") from exc
            if scope is not None:
                found.append(scope)
    return tuple(found)


def _wants_signed_requests(doc: Any, entity_id: str) -> bool:
    for entity in doc.iter(f"{{{_NS['md']}}}EntityDescriptor"):
        if entity.get("entityID") == entity_id:
            descriptor = entity.find("md:IDPSSODescriptor", _NS)
            value = descriptor.get("WantAuthnRequestsSigned", "") if descriptor is not None else ""
            return value.strip().lower() in ("true", "1")
    return False


def _signing_certs(idp: dict[str, Any]) -> tuple[str, ...]:
    multi = (idp.get("x509certMulti") or {}).get("signing") or []
    single = [idp["x509cert"]] if idp.get("x509cert") else []
    return tuple(dict.fromkeys(c.strip() for c in [*multi, *single] if c.strip()))


def _check_validity_window(valid_until: float | None, days: int, entity_id: str,
                           setting: str = VALIDITY_KEY) -> None:
    """A copy of signed metadata is good until its validUntil, even after its signer's key was
    replaced: a bound on validUntil bounds how long an old, once genuine copy can be replayed
    (Shibboleth's RequireValidUntil with maxValidityInterval)."""
    if valid_until is None:
        raise ConfigError(f"'{setting}': the metadata of {entity_id} carries no "
                          "validUntil, and one is required")
    if valid_until - time.time() > days * 86400:
        raise ConfigError(f"'{setting}': the metadata of {entity_id} is valid until "
                          f"{_date(valid_until)}, more than {days} days ahead")


def _date(stamp: float) -> str:
    return f"{datetime.fromtimestamp(stamp, UTC):%Y-%m-%d %H:%M}Z"


def _valid_until(doc: Any) -> float | None:
    stamps = [e.get("validUntil") for e in doc.iter() if isinstance(e.tag, str)
              and e.get("validUntil")]
    if not stamps:
        return None
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    return float(min(OneLogin_Saml2_Utils.parse_SAML_to_time(s) for s in stamps))
