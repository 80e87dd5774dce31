"""A federation's signed aggregate read into the records of the IdPs the admin admits.

Order matters (saml-hardening.md B19): the file is parsed once with the bridge's defused
parser settings, the root's signature is verified against the federation's signing
certificate (``MetadataSigner.verify`` of ``saml/metadata.py``, the same check as for one
IdP's signed metadata) before anything in it is read, then the root's validUntil must be
present (with a validity bound), in the future and at most that many days ahead. Only then are
the entities walked, and only the admitted IdPs are read into records.

xmlsec verifies a signature over a whole document held in memory, so streaming the parse
(``iterparse`` with ``clear()``) cannot come first; this whole step runs in a short-lived
child process (``build.py``) whose memory goes back to the system when it exits.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from lxml import etree

from sso_bridge.errors import ConfigError
from sso_bridge.saml.checks import PARSER_OPTIONS
from sso_bridge.saml.federation.records import (
    MD,
    EntityProblem,
    IdpRecord,
    entity_categories,
    idp_descriptor,
    read_idp,
    registration_authority,
    valid_until,
)
from sso_bridge.saml.metadata import MetadataSigner

_ENTITY, _ENTITIES = f"{{{MD}}}EntityDescriptor", f"{{{MD}}}EntitiesDescriptor"


@dataclass(frozen=True)
class Admission:
    """Which IdPs of an aggregate are trusted. Every criterion given must hold; an empty one
    does not restrict (so ``Admission()`` admits every IdP: the settings make that explicit)."""

    entity_ids: frozenset[str] = frozenset()
    registration_authorities: frozenset[str] = frozenset()
    entity_categories: frozenset[str] = frozenset()

    def admits(self, entity: Any) -> bool:
        """An aggregate's EntityDescriptor (its extensions read only when a list needs them)."""
        if self.entity_ids and entity.get("entityID") not in self.entity_ids:
            return False
        return self._holds(
            registration_authority(entity) if self.registration_authorities else "",
            entity_categories(entity) if self.entity_categories else ())

    def admits_record(self, record: IdpRecord) -> bool:
        """An IdP already read (an MDQ answer)."""
        if self.entity_ids and record.entity_id not in self.entity_ids:
            return False
        return self._holds(record.registration_authority, record.entity_categories)

    def _holds(self, authority: str, categories: Iterable[str]) -> bool:
        if self.registration_authorities and authority not in self.registration_authorities:
            return False
        return not self.entity_categories or bool(self.entity_categories.intersection(categories))


@dataclass(frozen=True)
class Trust:
    """How an aggregate (or an MDQ answer) must be signed and dated."""

    signer: MetadataSigner
    setting: str
    """The setting the signer came from, named in every problem."""
    max_validity_days: int = 0


@dataclass
class Aggregate:
    source: str
    valid_until: float
    idps: list[IdpRecord] = field(default_factory=list)
    idps_seen: int = 0
    entities_seen: int = 0
    problems: list[str] = field(default_factory=list)
    """Admitted IdPs left out (expired, duplicated, no SSO endpoint...): the rest still load."""


def read_aggregate(path: Path, *, source: str, trust: Trust, admission: Admission) -> Aggregate:
    """Parse, verify and read the aggregate at ``path``; ConfigError names what is wrong."""
    root = parse_document(path, source, trust.setting)
    if root.tag != _ENTITIES:
        raise ConfigError(f"{source} is not an aggregate (its root is {root.tag})")
    verify(root, source, trust)
    aggregate = Aggregate(source, checked_validity(root, source, trust))
    ids: set[str] = set()
    now = time.time()
    for entity in _entities(root, aggregate):
        descriptor = idp_descriptor(entity)
        if descriptor is None:
            continue
        aggregate.idps_seen += 1
        if not admission.admits(entity):
            continue
        try:
            record = read_idp(entity, descriptor)
        except EntityProblem as exc:
            aggregate.problems.append(str(exc))
            continue
        if record.valid_until is not None and record.valid_until <= now:
            aggregate.problems.append(f"{record.entity_id}: expired at {date(record.valid_until)}")
        elif record.entity_id in ids:
            aggregate.problems.append(f"{record.entity_id}: described twice; the first kept")
        else:
            ids.add(record.entity_id)
            aggregate.idps.append(record)
    return aggregate


def _entities(root: Any, aggregate: Aggregate) -> Iterator[Any]:
    """Every EntityDescriptor, in nested EntitiesDescriptors too (unless the group expired)."""
    for element in root.iterchildren(_ENTITY, _ENTITIES):
        if element.tag == _ENTITIES:
            try:
                until = valid_until(element)
            except EntityProblem as exc:
                aggregate.problems.append(f"the group {element.get('Name', '')!r}: {exc}")
                continue
            if until is not None and until <= time.time():
                aggregate.problems.append(f"the group {element.get('Name', '')!r} expired at "
                                          f"{date(until)}; its entities left out")
                continue
            yield from _entities(element, aggregate)
        else:
            aggregate.entities_seen += 1
            yield element


def parse_document(path: Path, source: str, setting: str) -> Any:
    """The root element of the XML file; a DOCTYPE (so any entity declaration) is refused."""
    try:
        tree = etree.parse(str(path), etree.XMLParser(**PARSER_OPTIONS))
    except OSError as exc:
        raise ConfigError(f"'{setting}': cannot read {source}: {exc}") from exc
    except etree.XMLSyntaxError as exc:
        raise ConfigError(f"'{setting}': {source} is not well-formed XML: {exc}") from exc
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise ConfigError(f"'{setting}': {source} carries a DOCTYPE")
    return tree.getroot()


def verify(root: Any, source: str, trust: Trust) -> None:
    """The root's one signature, by the signer's key, before anything else is read."""
    trust.signer.verify(root, source)


def load_signer(path: Path, setting: str) -> MetadataSigner:
    """The signing certificate at ``path``; its problems name ``setting``."""
    return MetadataSigner.load(path, setting)


def checked_validity(root: Any, source: str, trust: Trust) -> float:
    """The document's validUntil: required, in the future, at most max_validity_days ahead."""
    try:
        until = valid_until(root)
    except EntityProblem as exc:
        raise ConfigError(f"{source}: {exc}") from exc
    if until is None:
        raise ConfigError(f"{source} carries no validUntil on its root, and one is required "
                          "(an old signed copy could be replayed forever)")
    if until <= time.time():
        raise ConfigError(f"{source} expired at {date(until)}")
    if trust.max_validity_days and until - time.time() > trust.max_validity_days * 86400:
        raise ConfigError(f"{source} is valid until {date(until)}, more than "
                          f"{trust.max_validity_days} days ahead")
    return until


def date(stamp: float) -> str:
    return f"{datetime.fromtimestamp(stamp, UTC):%Y-%m-%d %H:%M}Z"
