"""Sakai's EID normalisation (BaseUserDirectoryService.cleanEid), reproduced exactly."""

from __future__ import annotations

import pytest

from sso_bridge.errors import IdentityError
from sso_bridge.identity import SakaiSession, normalise_eid


@pytest.mark.parametrize(("raw", "eid"), [
    ("JDoe@Example.edu", "jdoe@example.edu"),
    ("  jdoe@example.edu\t", "jdoe@example.edu"),
    ("j<d>o,e;:\\/@x.edu", "jdoe@x.edu"),
    ("jdoe@x.edu <", "jdoe@x.edu "),  # trimmed before the characters go, as Sakai does
    ("Ünïcode@Example.EDU", "ünïcode@example.edu"),
])
def test_eid_normalisation_matches_sakai(raw: str, eid: str) -> None:
    assert normalise_eid(raw) == eid


@pytest.mark.parametrize("raw", ["", "   ", "<>,;:\\/", "a" * 256])
def test_unusable_eids_are_refused(raw: str) -> None:
    with pytest.raises(IdentityError):
        normalise_eid(raw)


def test_session_ids_stay_out_of_reprs() -> None:
    session = SakaiSession("0b9d7e21-3c44-4f0e-8f55-71a2c9d3e6ab", "node1", "jdoe")
    assert "0b9d7e21" not in repr(session)
