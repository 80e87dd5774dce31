"""Issue 12, accounts kept right: full logins through the bridge's ACS, counted at the simulator.

A disabled account is refused at its next login; a deleted one is created again (not a 502);
the Sakai user type follows the affiliation; a name Sakai stores differently (markup) is not
rewritten at every full check.
"""

from __future__ import annotations

from collections.abc import Callable

import requests

from tests.accounts.conftest import Bridge, spent

EID = "learner@example.org"


def test_returning_learner_costs_two_sakai_calls(bridge: Bridge) -> None:
    assert bridge.login(EID).status_code == 302
    before = bridge.calls()
    reply = bridge.login(EID)
    assert reply.status_code == 302
    assert spent(before, bridge.calls()) == {"getUserProperty": 1, "getSessionForUser": 1}
    assert len(bridge.sessions_of(EID)) == 2


def test_disabled_after_login_is_refused_at_the_next_login(bridge: Bridge) -> None:
    assert bridge.login(EID).status_code == 302
    bridge.set_properties(EID, disabled="true")  # an admin disables the account in Sakai
    before = bridge.calls()
    reply = bridge.login(EID)
    assert reply.status_code == 403
    assert "Your Sakai account is disabled" in reply.text and "(account_disabled)" in reply.text
    assert "JSESSIONID" not in reply.headers.get("Set-Cookie", "")
    assert spent(before, bridge.calls()) == {"getUserProperty": 1}  # no session minted
    assert len(bridge.sessions_of(EID)) == 1  # the first login's only
    bridge.set_properties(EID, disabled=None)  # enabled again: let in again
    assert bridge.login(EID).status_code == 302


def test_disabled_after_login_is_let_in_only_with_the_opt_in_account_cache(
        make_bridge: Callable[..., Bridge]) -> None:
    """The documented trade-off of sakai.account_cache_seconds: one call, no disabled check."""
    bridge = make_bridge(account_cache_seconds=300)
    assert bridge.login(EID).status_code == 302
    bridge.set_properties(EID, disabled="true")
    before = bridge.calls()
    assert bridge.login(EID).status_code == 302
    assert spent(before, bridge.calls()) == {"getSessionForUser": 1}
    assert make_bridge().login(EID).status_code == 403  # the default checks, same store


def test_deleted_after_login_is_checked_again_and_recreated(bridge: Bridge) -> None:
    assert bridge.login(EID).status_code == 302
    requests.delete(f"{bridge.sim.url}/_sim/users/{EID}", timeout=5).raise_for_status()
    before = bridge.calls()
    reply = bridge.login(EID)
    assert reply.status_code == 302, reply.text
    assert spent(before, bridge.calls()) == {
        "getUserProperty": 2, "addNewUser": 1, "setUserProperty": 1, "getSessionForUser": 1}
    assert bridge.user(EID)["first"] == "Jane"
    assert len(bridge.sessions_of(EID)) == 2


def test_deleted_after_login_with_the_account_cache_is_recreated_not_a_502(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(account_cache_seconds=300)
    assert bridge.login(EID).status_code == 302
    requests.delete(f"{bridge.sim.url}/_sim/users/{EID}", timeout=5).raise_for_status()
    before = bridge.calls()
    reply = bridge.login(EID)
    assert reply.status_code == 302, reply.text
    assert spent(before, bridge.calls()) == {
        "getSessionForUser": 2, "getUserProperty": 1, "addNewUser": 1, "setUserProperty": 1}
    assert bridge.user(EID) != {}
    before = bridge.calls()
    assert bridge.login(EID).status_code == 302  # and remembered again: one call
    assert spent(before, bridge.calls()) == {"getSessionForUser": 1}


def test_type_change_follows_the_affiliation(bridge: Bridge) -> None:
    assert bridge.login(EID, affiliation="student").status_code == 302
    assert bridge.user(EID)["type"] == "student"
    before = bridge.calls()
    reply = bridge.login(EID, affiliation="faculty")  # student -> faculty at the IdP
    assert reply.status_code == 302
    assert bridge.user(EID)["type"] == "maintain"
    assert spent(before, bridge.calls()) == {
        "getUserProperty": 2, "getUserType": 1, "getUserDisplayName": 1, "getUserEmail": 1,
        "changeUserType": 1, "getSessionForUser": 1}


def test_type_change_can_be_turned_off(make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(sync_user_type=False)
    assert bridge.login(EID, affiliation="student").status_code == 302
    before = bridge.calls()
    assert bridge.login(EID, affiliation="faculty").status_code == 302
    assert bridge.user(EID)["type"] == "student"
    assert "changeUserType" not in spent(before, bridge.calls())


def test_markup_names_are_stored_as_sakai_does_and_not_rewritten(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(full_check_seconds=0)  # a full check at every login
    for _ in range(3):
        reply = bridge.login(EID, given="Jane <b>", family="Smith <Jr>")
        assert reply.status_code == 302
    account = bridge.user(EID)
    assert (account["first"], account["last"]) == ("Jane ", "Smith ")  # SAK-20226 plain text
    assert bridge.calls().get("changeUserName", 0) == 0
    before = bridge.calls()
    assert bridge.login(EID, given="Jane &amp; Co", family="Smith").status_code == 302
    assert spent(before, bridge.calls()).get("changeUserName") == 1  # a real change is made
    assert (bridge.user(EID)["first"], bridge.user(EID)["last"]) == ("Jane & Co", "Smith")


def test_an_unchanged_name_is_never_rewritten_at_a_full_check(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(full_check_seconds=0)
    assert bridge.login(EID, given="", family="Mononym").status_code == 302
    before = bridge.calls()
    assert bridge.login(EID, given="", family="Mononym").status_code == 302
    assert spent(before, bridge.calls()) == {
        "getUserProperty": 2, "getUserType": 1, "getUserDisplayName": 1, "getUserEmail": 1,
        "getSessionForUser": 1}
