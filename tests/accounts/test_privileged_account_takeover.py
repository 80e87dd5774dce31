"""Issue 10, hole 1 (provisioning side): privileged Sakai accounts cannot be taken over.

An IdP user whose EID is ``admin``, the web-services account's or one matching a protected
pattern, and an existing account the bridge may not link: each is refused with its error code,
and the simulator shows the account untouched and no session minted for it.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable

import pytest
import requests

from sso_bridge.errors import ConfigError
from sso_bridge.provisioning import MARK
from tests.accounts.conftest import WS_ACCOUNT, Bridge, spent

UNSCOPED_UID = {"eid": ["uid"], "allow_unscoped_eid": True}
"""The deployment hole 1 is about: an IdP's unscoped uid, opted in. With the default scoped
EIDs an IdP cannot assert ``admin`` at all (tests/interop/test_identity_attacks.py); the
protected set must hold even where an admin opted in to uid."""

READ_ONLY = {"getUserProperty", "getUserType", "getUserEmail", "getUserDisplayName",
             "checkForUser", "login"}


@pytest.fixture
def make_bridge(make_bridge: Callable[..., Bridge]) -> Callable[..., Bridge]:
    return functools.partial(make_bridge, attributes=UNSCOPED_UID)


def assert_refused_untouched(bridge: Bridge, eid: str, code: str, page: str) -> None:
    before_user, before_calls = bridge.user(eid), bridge.calls()
    reply = bridge.login(eid, given="Mallory", family="Attacker", email="mallory@evil.example")
    assert reply.status_code == 403, reply.text
    assert page in reply.text
    assert f"({code})" in reply.text and reply.headers["X-Request-Id"] in reply.text
    assert "JSESSIONID" not in reply.headers.get("Set-Cookie", "")
    assert bridge.user(eid) == before_user  # names, email, type, properties: unchanged
    assert set(spent(before_calls, bridge.calls())) <= READ_ONLY  # nothing modified or minted
    assert bridge.sessions_of(eid) == []


def test_privileged_account_takeover_idp_user_named_admin_is_refused(bridge: Bridge) -> None:
    before = bridge.calls()
    assert_refused_untouched(bridge, "admin", "account_protected",
                             "This account cannot sign in here")
    assert spent(before, bridge.calls()) == {}  # refused before any Sakai call at all


def test_privileged_account_takeover_the_web_services_account_is_refused(bridge: Bridge) -> None:
    assert_refused_untouched(bridge, WS_ACCOUNT, "account_protected",
                             "This account cannot sign in here")


def test_privileged_account_takeover_case_and_sakai_normalisation_do_not_bypass(
        bridge: Bridge) -> None:
    for eid in ("ADMIN", " Admin ", "ad<min>", "SVC-Bridge"):
        reply = bridge.login(eid)
        assert reply.status_code == 403, eid
        assert "This account cannot sign in here" in reply.text
    assert bridge.sessions_of("admin") == [] and bridge.sessions_of(WS_ACCOUNT) == []


def test_privileged_account_takeover_protected_pattern_match_is_refused(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(protected_eids=["*-admin@example.org", "root@example.org"])
    bridge.add_user("jdoe-admin@example.org", first="Jane", last="Doe", type="maintain",
                    email="jdoe@example.org", properties={MARK: "created"})
    assert_refused_untouched(bridge, "jdoe-admin@example.org", "account_protected",
                             "This account cannot sign in here")
    assert_refused_untouched(bridge, "root@example.org", "account_protected",
                             "This account cannot sign in here")
    assert bridge.user("root@example.org") == {}  # and was not created
    assert bridge.login("jdoe@example.org").status_code == 302  # others sign in


@pytest.mark.parametrize("sakai_type", ["registered", "guest", ""])
def test_privileged_account_takeover_existing_account_link_refused_by_default(
        bridge: Bridge, sakai_type: str) -> None:
    """A local account an admin made (or a guest invited by email): not the bridge's."""
    bridge.add_user("prof@example.org", first="Pat", last="Prof", email="pat@example.org",
                    type=sakai_type, password="local-pw")
    assert_refused_untouched(bridge, "prof@example.org", "account_link_refused",
                             "Your Sakai account must be connected by support")


def test_existing_account_of_a_listed_type_is_linked_marked_and_kept_in_step(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(link_existing_types=["guest"])
    bridge.add_user("visitor@example.org", first="Vi", last="Sitor", type="guest",
                    email="visitor@example.org")
    bridge.add_user("prof@example.org", first="Pat", last="Prof", type="maintain")
    assert bridge.login("visitor@example.org", given="Vi", family="Sitor").status_code == 302
    linked = bridge.user("visitor@example.org")
    assert linked["properties"][MARK] == "linked"
    assert linked["type"] == "student"  # then kept in step with the affiliation
    assert len(bridge.sessions_of("visitor@example.org")) == 1
    # Its type is no longer "guest", but the bridge knows it linked it: still signed in.
    again = make_bridge(link_existing_types=["guest"], full_check_seconds=0)
    assert again.login("visitor@example.org", given="Vi", family="Sitor").status_code == 302
    # A type not listed is still refused.
    assert_refused_untouched(bridge, "prof@example.org", "account_link_refused",
                             "Your Sakai account must be connected by support")


def test_accounts_the_bridge_creates_are_marked_as_its_own(bridge: Bridge) -> None:
    before = bridge.calls()
    assert bridge.login("new@example.org").status_code == 302
    assert spent(before, bridge.calls()) == {
        "login": 1, "getUserProperty": 1, "addNewUser": 1, "setUserProperty": 1,
        "getSessionForUser": 1}
    assert bridge.user("new@example.org")["properties"] == {MARK: "created"}


def test_a_second_login_while_the_first_is_creating_the_account_is_not_refused(
        bridge: Bridge) -> None:
    """The bridge's account exists, unmarked, between addNewUser and setUserProperty; another
    login of the same learner in that moment must not take it for someone else's account."""
    eid = "twice@example.org"
    requests.post(bridge.sim.url + "/_sim/config", timeout=5, json={
        "hang_seconds": 1.5, "fail_next": {"setUserProperty": "timeout"}}).raise_for_status()
    replies: list[int] = []
    first = threading.Thread(target=lambda: replies.append(bridge.login(eid).status_code))
    first.start()
    deadline = time.monotonic() + 5
    while not bridge.user(eid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert bridge.user(eid) and MARK not in bridge.user(eid)["properties"]  # the moment
    other = bridge.client.application.test_client()
    second = Bridge(bridge.services, other, bridge.idp, bridge.sim).login(eid)
    first.join(timeout=10)
    assert (second.status_code, replies) == (302, [302])
    assert bridge.user(eid)["properties"] == {MARK: "created"}
    assert len(bridge.sessions_of(eid)) == 2


@pytest.mark.parametrize(("sakai", "problem"), [
    ({"protected_eids": ["ok", " "]}, "'sakai.protected_eids[1]': must not be empty"),
    ({"protected_eids": ["<>"]}, "'sakai.protected_eids'"),
    ({"account_cache_seconds": 600, "full_check_seconds": 300},
     "'sakai.account_cache_seconds': must not exceed 'sakai.full_check_seconds' (300)"),
    ({"full_check_seconds": -1}, "'sakai.full_check_seconds': must be 0 (off) or positive"),
    ({"link_existing_types": "guest"}, "'sakai.link_existing_types': expected a list"),
])
def test_wrong_account_settings_are_named_at_start_up(
        make_bridge: Callable[..., Bridge], sakai: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError) as info:
        make_bridge(**sakai)
    assert any(problem in p for p in info.value.problems), info.value.problems


def test_an_account_sakai_cannot_mark_is_not_linked(make_bridge: Callable[..., Bridge]) -> None:
    """A directory provider's user has no local record: setUserProperty answers failure."""
    bridge = make_bridge(link_existing_types=["*"])
    bridge.add_user("ldap@example.org", first="Lee", last="Dap", type="student")
    requests.post(bridge.sim.url + "/_sim/fail-next", json={"setUserProperty": "result:failure"},
                  timeout=5).raise_for_status()
    reply = bridge.login("ldap@example.org")
    assert reply.status_code == 403 and "(account_link_refused)" in reply.text
    assert bridge.sessions_of("ldap@example.org") == []
    assert bridge.user("ldap@example.org")["first"] == "Lee"
