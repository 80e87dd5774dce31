"""No two IdPs may claim the same Sakai account.

Each IdP's learners get Sakai EIDs of a known shape: ``prefix + value + suffix``, where the
value is scoped (``local@scope``, its scope checked against the IdP's ``shibmd:Scope``) or not
(``uid``, anything the IdP says). Two IdPs could produce the same EID unless their shapes keep
them apart:

* their affixes do: neither prefix begins the other, or neither ending ends the other (so
  ``p-`` and ``p-x`` do not: ``p-`` + ``xalice`` is ``p-x`` + ``alice``; and an empty prefix
  begins every prefix). A scoped EID's ending is ``@<scope>`` and its suffix, since its scope
  is checked: ``@uni.example`` and ``@partner`` keep a university's scoped EIDs apart from a
  partner's unscoped ones with the suffix ``@partner``;
* or, with the very same affixes, both are scoped and no scope of one can be a scope of the
  other (a regular-expression scope is assumed to overlap any other regular expression, and a
  literal scope it matches).

``account_clashes`` lists every pair that could clash, each with the reason and the fix;
``check_distinct_accounts`` raises them as one ConfigError, for ``check-config``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations

from sso_bridge.errors import ConfigError
from sso_bridge.saml.metadata import Scope


@dataclass(frozen=True)
class EidShape:
    """How one IdP's learners get their Sakai EID."""

    idp: str
    """The IdP's entityID (or its name in the settings)."""
    scoped: bool
    """The EID is a scoped value whose scope is checked against ``scopes``."""
    scopes: tuple[Scope, ...] = ()
    prefix: str = ""
    suffix: str = ""


def affixes_apart(a: EidShape, b: EidShape) -> bool:
    """Whether no EID of ``a`` can be an EID of ``b`` by their beginnings or endings. Sakai
    finds an EID whatever its case, so they are compared without it."""
    pa, pb = a.prefix.lower(), b.prefix.lower()
    if not (pa.startswith(pb) or pb.startswith(pa)):
        return True
    return all(not (x.endswith(y) or y.endswith(x)) for x in endings(a) for y in endings(b))


def endings(shape: EidShape) -> list[str]:
    """What every EID of ``shape`` ends with: ``@<scope><suffix>`` for each literal scope when
    the EID is scoped (its scope checked, so an EID ends with one of them), else the suffix."""
    if shape.scoped and shape.scopes and not any(s.regexp for s in shape.scopes):
        return [f"@{s.value.lower()}{shape.suffix.lower()}" for s in shape.scopes]
    return [shape.suffix.lower()]


def _scopes_overlap(a: Scope, b: Scope) -> bool:
    if a.regexp and b.regexp:
        return True
    if a.regexp or b.regexp:
        pattern, literal = (a, b) if a.regexp else (b, a)
        return pattern.matches(literal.value)
    return a.value.lower() == b.value.lower()


def _clash(a: EidShape, b: EidShape) -> str:
    """Why ``a`` and ``b`` could produce the same EID ('' when they cannot)."""
    if a.idp == b.idp:
        return "the same IdP is configured twice"
    if affixes_apart(a, b):
        return ""
    if (a.prefix.lower(), a.suffix.lower()) != (b.prefix.lower(), b.suffix.lower()):
        return (f"their EID prefixes {a.prefix!r}/{b.prefix!r} and suffixes "
                f"{a.suffix!r}/{b.suffix!r} do not keep them apart")
    for shape in (a, b):
        if not shape.scoped or not shape.scopes:
            return f"{shape.idp} gives unscoped EIDs and the two share their prefix and suffix"
    shared = [f"{x.value}~{y.value}" if x.value != y.value else x.value
              for x in a.scopes for y in b.scopes if _scopes_overlap(x, y)]
    if shared:
        return f"their scopes overlap ({', '.join(shared)})"
    return ""


def account_clashes(shapes: Sequence[EidShape]) -> list[str]:
    """Every pair of IdPs that could produce the same EID, each with the reason."""
    problems = []
    for a, b in combinations(shapes, 2):
        reason = _clash(a, b)
        if reason:
            problems.append(f"IdPs {a.idp} and {b.idp} could both claim the same Sakai "
                            f"account: {reason}; give each a distinct EID prefix or suffix, or "
                            "take EIDs from scoped identifiers with disjoint scopes")
    return problems


def check_distinct_accounts(shapes: Sequence[EidShape]) -> None:
    problems = account_clashes(shapes)
    if problems:
        raise ConfigError(problems)
