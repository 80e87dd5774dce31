"""The trusted IdPs at run time: found by entityID, searched by learners, kept apart.

* The configured IdPs (``[idp]``, ``[idps.<name>]``) live in the ServiceProvider, each with its
  own policy and its own metadata refresh; the federations' (``[federations.<name>]``) are
  found when a login needs them (``federations.py``).
* No two IdPs may claim the same Sakai account. Configured IdPs are checked when they are
  loaded (``check_distinct``: start-up and check-config refuse a clash). A federation's IdP
  loses every scope that another trusted IdP also declares (unless their EID prefixes or
  suffixes keep them apart) and every regular-expression scope, so it can vouch only for
  the domains it alone declares.
* The discovery page searches the configured IdPs and the aggregates' (an MDQ service's IdPs
  cannot be listed: a learner reaches them by ``?idp=`` or an external discovery service).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from itertools import combinations

from sso_bridge.federations import Federation
from sso_bridge.saml import attributes
from sso_bridge.saml.federation.accounts import EidShape, account_clashes, affixes_apart
from sso_bridge.saml.federation.discovery import Choice, Discovery
from sso_bridge.saml.federation.records import IdpRecord
from sso_bridge.saml.federation.source import Readiness
from sso_bridge.saml.metadata import Scope
from sso_bridge.saml.sp import IdpTrust, ServiceProvider

_MATCH_ORDER = {"email": 0, "name": 1, "keyword": 2, "text": 3}


def eid_shape(trust: IdpTrust) -> EidShape:
    """How the IdP's learners get their EIDs (scoped only if every EID source is scoped)."""
    scoped = all(attributes.is_scoped(source) for source in trust.attribute_map.config.eid)
    return EidShape(trust.entity_id, scoped, trust.attribute_map.scopes,
                    trust.policy.eid_prefix, trust.policy.eid_suffix)


def check_distinct(trusts: Iterable[IdpTrust]) -> list[str]:
    """Every pair of configured IdPs that could claim the same Sakai account, each problem
    naming both tables (``[idp] and [idps.partner]: ...``)."""
    return [f"[{a.key}] and [{b.key}]: {problem}" for a, b in combinations(list(trusts), 2)
            for problem in account_clashes([eid_shape(a), eid_shape(b)])]


class Idps:
    def __init__(self, sp: ServiceProvider, federations: list[Federation]) -> None:
        self.sp = sp
        self.federations = federations
        self._configured: tuple[object, Discovery] | None = None
        sp.others = self._federation_idp

    # --- finding an IdP -------------------------------------------------------------------

    def get(self, entity_id: str) -> IdpTrust | None:
        """Any trusted IdP by entityID: a configured one first, else a federation's."""
        return self.sp.find(entity_id)

    def only(self) -> IdpTrust | None:
        """The one IdP, when exactly one is configured and no federation: no discovery."""
        configured = self.sp.configured()
        return configured[0] if len(configured) == 1 and not self.federations else None

    def _federation_idp(self, entity_id: str) -> IdpTrust | None:
        for federation in self.federations:
            trust = federation.trust(entity_id, self._scopes_left)
            if trust is not None:
                return trust
        return None

    def _scopes_left(self, federation: Federation, record: IdpRecord) -> IdpRecord:
        """The record without the scopes it cannot have alone (see the module's text)."""
        literal = [s for s in record.scopes if not s.regexp]
        owners = self._owners_of([s.value for s in literal])
        prefix, suffix = federation.section.eid_prefix, federation.section.eid_suffix
        kept = tuple(s for s in literal if not any(
            other.idp != record.entity_id
            and not affixes_apart(EidShape(record.entity_id, True, (s,), prefix, suffix), other)
            for other in owners.get(s.value.lower(), ())))
        return dataclasses.replace(record, scopes=kept)

    def _owners_of(self, scopes: list[str]) -> dict[str, list[EidShape]]:
        """Literal scope → the IdPs declaring it, for these scopes only: the configured IdPs,
        and each aggregate's by its index (a lookup, not a walk over its IdPs, so a login
        right after a refresh does not wait for the whole federation to be read)."""
        owners: dict[str, list[EidShape]] = {}
        wanted = {scope.lower() for scope in scopes}
        for trust in self.sp.configured():
            shape = eid_shape(trust)
            for scope in shape.scopes:
                if scope.value.lower() in wanted:
                    owners.setdefault(scope.value.lower(), []).append(
                        dataclasses.replace(shape, scopes=(scope,)))
        for federation in self.federations:
            s = federation.section
            for value, entity_id in federation.scope_owners(wanted):
                owners.setdefault(value, []).append(
                    EidShape(entity_id, True, (Scope(value),), s.eid_prefix, s.eid_suffix))
        return owners

    def scopes_lost(self) -> dict[str, tuple[str, list[str]]]:
        """Each indexed federation IdP that loses a scope it declares (``_scopes_left``):
        entityID → (its federation's table, the scopes lost), for check-config."""
        lost: dict[str, tuple[str, list[str]]] = {}
        for federation in self.federations:
            discovery = federation.current_discovery()
            for entity_id, scopes in discovery.scopes() if discovery is not None else ():
                record = IdpRecord(entity_id, (), (), scopes=scopes)
                kept = self._scopes_left(federation, record).scopes
                gone = [s.value for s in scopes if s not in kept]
                if gone:
                    lost[entity_id] = (federation.key, gone)
        return lost

    # --- what the discovery page shows ----------------------------------------------------

    def _discoveries(self) -> list[Discovery]:
        found = [self._configured_discovery()]
        found += [d for f in self.federations if (d := f.current_discovery()) is not None]
        return found

    def _configured_discovery(self) -> Discovery:
        trusts = self.sp.configured()
        version = tuple(id(t) for t in trusts)
        cached = self._configured
        if cached is not None and cached[0] == version:
            return cached[1]
        entries = [(t.entity_id, {
            "names": {**t.idp.display_names, **t.policy.display_name},
            "keywords": t.idp.keywords,
            "scopes": [[s.value, s.regexp] for s in t.attribute_map.scopes],
            "logo": t.idp.logo}) for t in trusts]
        discovery = Discovery(entries)
        self._configured = (version, discovery)
        return discovery

    def search(self, query: str, language: str, limit: int = 10) -> list[Choice]:
        """The IdPs matching what the learner typed, best first (names, keywords, and an
        email address's domain against the IdPs' scopes)."""
        found: dict[str, Choice] = {}
        for discovery in self._discoveries():
            for choice in discovery.search(query, language, limit):
                found.setdefault(choice.entity_id, choice)
        ranked = sorted(found.values(), key=lambda c: _MATCH_ORDER.get(c.matched, 9))
        return ranked[:limit]

    def choice(self, entity_id: str, language: str) -> Choice | None:
        """One listable IdP as the discovery page shows it (a remembered choice)."""
        for discovery in self._discoveries():
            found = discovery.choice(entity_id, language)
            if found is not None:
                return found
        return None

    def listed(self, language: str, limit: int) -> list[Choice]:
        """Every listable IdP by name, at most ``limit``."""
        found: dict[str, Choice] = {}
        for discovery in self._discoveries():
            for choice in discovery.listed(language, limit):
                found.setdefault(choice.entity_id, choice)
        return sorted(found.values(), key=lambda c: c.name.casefold())[:limit]

    def count(self) -> int:
        return sum(len(d) for d in self._discoveries())

    # --- operations -----------------------------------------------------------------------

    def ensure_running(self) -> None:
        for federation in self.federations:
            federation.ensure_running()

    def readiness(self) -> list[Readiness]:
        return [f.readiness() for f in self.federations]
