"""Sakai's EID normalisation (BaseUserDirectoryService.cleanEid), reproduced exactly."""

from __future__ import annotations

import pytest

from sso_bridge.errors import IdentityCharacters, IdentityError
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


# --- issue 10, hole 3: "exactly as Sakai does" --------------------------------------------
# Expected values checked against Java 17's String.toLowerCase().trim() on this machine.


@pytest.mark.parametrize(("raw", "eid"), [
    ("\u00a0jdoe@x.edu", None),  # NBSP: Java's trim keeps it, so Sakai would keep it: refused
    ("\x00\x1fjdoe@x.edu\x0b", "jdoe@x.edu"),  # every character up to U+0020 is trimmed
    ("ΟΔΟΣ@X.EDU", "οδος@x.edu"),  # final sigma, as Java lower-cases it
    ("İpek@x.edu", "i\u0307pek@x.edu"),  # dotted capital I: two characters, as in Java
])
def test_hole3_trim_and_lower_case_as_java(raw: str, eid: str | None) -> None:
    if eid is None:
        with pytest.raises(IdentityCharacters):
            normalise_eid(raw)
    else:
        assert normalise_eid(raw) == eid


@pytest.mark.parametrize("raw", [
    "jdoe\u200b@x.edu",  # zero-width space (Cf)
    "\u200djdoe@x.edu",  # zero-width joiner (Cf)
    "jdoe@x.edu\u2060",  # word joiner (Cf)
    "\u202ejdoe@x.edu",  # right-to-left override (Cf)
    "jd\u2066oe@x.edu",  # left-to-right isolate (Cf)
    "jdoe\u00ad@x.edu",  # soft hyphen (Cf)
    "\ufeffjdoe@x.edu",  # byte order mark (Cf): Java's trim keeps it
    "jdoe\n@x.edu",  # line feed inside (Cc)
    "jdoe\x7f@x.edu",  # DEL (Cc)
    "jdoe\x85@x.edu",  # next line (Cc)
    "jdoe\u2028@x.edu",  # line separator (Zl)
    "jdoe\u2029@x.edu",  # paragraph separator (Zp)
    "jdoe\u3000@x.edu",  # ideographic space (Zs): not trimmed by Java
])
def test_hole3_invisible_and_control_characters_are_refused(raw: str) -> None:
    with pytest.raises(IdentityCharacters) as refused:
        normalise_eid(raw)
    assert refused.value.code == "eid_invalid_characters"
    assert "\n" not in str(refused.value) and "\u2028" not in str(refused.value)


def test_hole3_the_length_limit_counts_utf16_units_as_java_does() -> None:
    assert normalise_eid("\U0001d4b6" * 127 + "a")  # 255 UTF-16 code units
    with pytest.raises(IdentityError, match="256 characters"):
        normalise_eid("\U0001d4b6" * 128)
