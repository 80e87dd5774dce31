"""The neutral values that cross the middle of the bridge: who signed in, their Sakai session."""

from __future__ import annotations

from dataclasses import dataclass

from sso_bridge.errors import IdentityError

EID_MAX_LENGTH = 255
_EID_STRIPPED = str.maketrans("", "", "<>,;:\\/")


def normalise_eid(raw: str) -> str:
    """Normalise an EID exactly as Sakai's ``BaseUserDirectoryService.cleanEid`` does.

    In Sakai's order: lower-cased, trimmed, then the characters ``< > , ; : \\ /`` removed
    (so ``"jdoe@x.edu <"`` keeps its inner space, as Sakai keeps it); at most 255 characters.
    Empty after normalisation, or too long, is an :class:`IdentityError`.
    """
    eid = raw.lower().strip().translate(_EID_STRIPPED)
    if not eid.strip():
        raise IdentityError(f"EID {raw!r} is empty after Sakai's normalisation")
    if len(eid) > EID_MAX_LENGTH:
        raise IdentityError(f"EID is {len(eid)} characters long; Sakai allows {EID_MAX_LENGTH}")
    return eid


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
