"""No two IdPs can claim the same Sakai account (saml-hardening.md B18): a configuration in
which two IdPs could produce the same EID is refused, naming both and the way out."""

from __future__ import annotations

import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.accounts import EidShape, account_clashes, check_distinct_accounts
from sso_bridge.saml.metadata import Scope

UNI = EidShape("https://idp.uni.example/idp", scoped=True, scopes=(Scope("uni.example"),))
PARTNER = EidShape("https://partner.example/idp", scoped=True,
                   scopes=(Scope("partner.example"),))


def clash(*shapes: EidShape) -> str:
    with pytest.raises(ConfigError) as caught:
        check_distinct_accounts(shapes)
    return caught.value.detail


def test_scoped_idps_with_disjoint_scopes_may_share_a_deployment() -> None:
    check_distinct_accounts([UNI, PARTNER])
    assert account_clashes([UNI]) == []


def test_two_idps_asserting_the_same_unscoped_uid_are_refused() -> None:
    """The attack: the partner's IdP asserts uid=alice, and is in as the university's alice."""
    a = EidShape("https://idp.uni.example/idp", scoped=False)
    b = EidShape("https://partner.example/idp", scoped=False)
    detail = clash(a, b)
    assert "https://idp.uni.example/idp and https://partner.example/idp" in detail
    assert "gives unscoped EIDs" in detail and "distinct EID prefix or suffix" in detail


def test_an_unscoped_idp_beside_a_scoped_one_without_affixes_is_refused() -> None:
    assert "https://partner.example/idp gives unscoped EIDs" in clash(
        UNI, EidShape("https://partner.example/idp", scoped=False))


def test_a_scope_claimed_by_two_idps_is_refused() -> None:
    """A partner whose metadata also lists the university's scope could assert its learners."""
    greedy = EidShape("https://partner.example/idp", scoped=True,
                      scopes=(Scope("partner.example"), Scope("UNI.example")))
    assert "their scopes overlap (uni.example~UNI.example)" in clash(UNI, greedy)


@pytest.mark.parametrize("pattern, clashes", [
    (r"^.+\.uni\.example$", False),
    (r"(.+\.)?uni\.example", True),
])
def test_a_regexp_scope_clashes_with_a_literal_one_it_matches(pattern: str,
                                                              clashes: bool) -> None:
    wide = EidShape("https://partner.example/idp", scoped=True, scopes=(Scope(pattern, True),))
    assert bool(account_clashes([UNI, wide])) is clashes


def test_two_regexp_scopes_are_taken_to_overlap() -> None:
    a = EidShape("a", scoped=True, scopes=(Scope(r".+\.a\.example", True),))
    b = EidShape("b", scoped=True, scopes=(Scope(r".+\.b\.example", True),))
    assert "their scopes overlap" in clash(a, b)


def test_distinct_prefixes_keep_unscoped_idps_apart() -> None:
    check_distinct_accounts([EidShape("a", scoped=False, prefix="uni-"),
                             EidShape("b", scoped=False, prefix="partner-"),
                             EidShape("c", scoped=False, prefix="guest-", suffix="#g")])


def test_a_prefix_beside_a_suffix_does_not_keep_idps_apart() -> None:
    """``uni-`` + ``alice#guest`` is ``uni-alice`` + ``#guest``."""
    assert "do not keep them apart" in clash(EidShape("a", scoped=False, prefix="uni-"),
                                              EidShape("c", scoped=False, suffix="#guest"))


@pytest.mark.parametrize("a, b", [
    (("p-", ""), ("p-x", "")),   # p- + xalice == p-x + alice
    (("", ""), ("partner-", "")),  # no prefix: its uid may begin with partner-
    (("", "@uni"), ("", "x@uni")),
    (("Uni-", ""), ("uni-", "")),  # Sakai finds an EID whatever its case
])
def test_affixes_that_one_extends_do_not_keep_idps_apart(a: tuple[str, str],
                                                         b: tuple[str, str]) -> None:
    first = EidShape("a", scoped=False, prefix=a[0], suffix=a[1])
    second = EidShape("b", scoped=False, prefix=b[0], suffix=b[1])
    assert account_clashes([first, second])


def test_scoped_idps_with_the_same_affix_are_judged_by_their_scopes() -> None:
    a = EidShape("a", scoped=True, scopes=(Scope("a.example"),), prefix="x:")
    b = EidShape("b", scoped=True, scopes=(Scope("b.example"),), prefix="x:")
    check_distinct_accounts([a, b])
    assert account_clashes([a, EidShape("c", scoped=True, scopes=(), prefix="x:")])


def test_the_same_idp_twice_is_refused_and_every_clash_is_listed() -> None:
    unscoped = EidShape("https://guest.example/idp", scoped=False)
    with pytest.raises(ConfigError) as caught:
        check_distinct_accounts([UNI, UNI, unscoped])
    assert len(caught.value.problems) == 3
    assert "the same IdP is configured twice" in caught.value.problems[0]
