"""The neutral values that cross the middle of the bridge: who signed in, their Sakai session."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sso_bridge.errors import IdentityCharacters, IdentityError

EID_MAX_LENGTH = 255
_EID_STRIPPED = str.maketrans("", "", "<>,;:\\/")
_JAVA_TRIMMED = "".join(chr(c) for c in range(0x21))
"""Java's ``String.trim()`` strips every character up to U+0020, and nothing else."""
_REFUSED_CATEGORIES = frozenset({"Zl", "Zp"})
"""Besides every ``C*`` category (control, format, private use, surrogate, unassigned)."""


def normalise_eid(raw: str) -> str:
    """Normalise an EID exactly as Sakai's ``BaseUserDirectoryService.cleanEid`` does.

    In Sakai's order: lower-cased (``String.toLowerCase``: Python's ``lower`` gives the same
    result, final sigma and dotted capital I included), trimmed as Java's ``String.trim`` trims
    (characters up to U+0020 only, not other Unicode whitespace), then the characters
    ``< > , ; : \\ /`` removed (so ``"jdoe@x.edu <"`` keeps its inner space, as Sakai keeps
    it); at most 255 UTF-16 code units, as Java counts. Empty after normalisation, or too
    long, is an :class:`IdentityError`.

    Sakai would keep control, format (zero-width, bidi overrides), line-separator and
    non-ASCII space characters, so ``"jdoe\\u200b@x.edu"`` would become a second account that
    looks like ``jdoe@x.edu``: such EIDs are refused (:class:`IdentityCharacters`).
    """
    eid = raw.lower().strip(_JAVA_TRIMMED).translate(_EID_STRIPPED)
    if not eid.strip(_JAVA_TRIMMED):
        raise IdentityError(f"EID {raw[:100]!r} is empty after Sakai's normalisation")
    length = len(eid.encode("utf-16-le")) // 2  # Java's String.length(): UTF-16 code units
    if length > EID_MAX_LENGTH:
        raise IdentityError(f"EID is {length} characters long; Sakai allows {EID_MAX_LENGTH}")
    refused = sorted({f"U+{ord(c):04X}" for c in eid if _invisible(c)})
    if refused:
        raise IdentityCharacters(f"EID {raw[:100]!r} holds invisible or control characters "
                                 f"({', '.join(refused[:5])})")
    return eid


def _invisible(char: str) -> bool:
    category = unicodedata.category(char)
    return (category[0] == "C" or category in _REFUSED_CATEGORIES
            or (category == "Zs" and char != " "))


@dataclass(frozen=True)
class Identity:
    """A learner as the IdP vouched for them, already in Sakai's terms."""

    eid: str
    given_name: str
    family_name: str
    email: str
    affiliations: tuple[str, ...]
    idp_entity_id: str
    name_id: str
    name_id_format: str | None = None
    session_index: str | None = None
    idp_user_types: tuple[tuple[str, str], ...] = ()
    """The IdP's own affiliation → Sakai user type table (empty: ``sakai.user_types``)."""


@dataclass(frozen=True)
class SakaiSession:
    """A Sakai session created for one learner, ready to hand to their browser."""

    session_id: str
    server_id: str
    eid: str
    account_created: bool = False
    account_updated: bool = False

    def __repr__(self) -> str:  # the session id is a bearer secret: keep it out of logs
        return (
            f"SakaiSession(eid={self.eid!r}, server_id={self.server_id!r}, "
            f"account_created={self.account_created}, account_updated={self.account_updated})"
        )
