"""A learner signs in through the real IdP and lands in (simulated) Sakai as themselves."""

from __future__ import annotations

import threading
from base64 import b64decode, b64encode

import requests

from sso_bridge.demo.stack import DemoStack
from sso_bridge.provisioning import MARK
from tests.e2e.conftest import (
    bridge_login,
    idp_response_for,
    idp_sign_in,
    sim_calls,
    sim_control,
    sim_users,
    whoami,
)


def test_first_login_creates_the_account_and_hands_over_a_session(stack: DemoStack) -> None:
    browser = requests.Session()
    reply = bridge_login(stack, "alice", browser=browser)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"] == stack.sakai.url + "/portal"
    assert whoami(stack, browser)["userEid"] == "alice@example.org"
    account = sim_users(stack)["alice@example.org"]
    assert (account["first"], account["last"], account["email"]) == (
        "Alice", "Anderson", "alice@example.org")
    assert account["type"] == "student"
    portal = browser.get(reply.headers["Location"], timeout=5)
    assert "Alice Anderson" in portal.text
    # The pending login's cookie was used up and dropped.
    assert not [c.name for c in browser.cookies if c.name.startswith("sso_bridge_login_")]


def test_idp_metadata_was_loaded_from_its_url(stack: DemoStack) -> None:
    assert stack.services is not None
    assert stack.services.idp.source == stack.idp.metadata_url
    assert stack.services.idp.entity_id == stack.idp.entity_id


def test_faculty_get_the_mapped_sakai_type(stack: DemoStack) -> None:
    assert bridge_login(stack, "bob").status_code == 302
    assert sim_users(stack)["bob@example.org"]["type"] == "maintain"


def test_changed_attributes_update_the_account_without_a_second_one(stack: DemoStack) -> None:
    assert bridge_login(stack, "dave").status_code == 302
    stack.idp.set_user_attributes("dave", {
        "uid": ["dave"], "mail": ["dave.new@example.org"], "givenName": ["David"],
        "sn": ["Tester-Smith"], "eduPersonAffiliation": ["member", "student"],
        "eduPersonPrincipalName": ["dave@example.org"]})
    browser = requests.Session()  # a new IdP session, so the IdP releases the new attributes
    reply = bridge_login(stack, "dave", browser=browser)
    assert reply.status_code == 302, reply.text
    assert whoami(stack, browser)["userEid"] == "dave@example.org"
    daves = [u for eid, u in sim_users(stack).items() if eid.startswith("dave")]
    assert len(daves) == 1
    assert (daves[0]["first"], daves[0]["last"], daves[0]["email"]) == (
        "David", "Tester-Smith", "dave.new@example.org")


def test_returning_learner_with_unchanged_attributes_costs_two_sakai_calls(
        stack: DemoStack) -> None:
    assert bridge_login(stack, "grace").status_code == 302
    before = sim_calls(stack)
    assert bridge_login(stack, "grace").status_code == 302
    after = sim_calls(stack)
    spent = {op: after[op] - before.get(op, 0) for op in after if after[op] != before.get(op)}
    assert spent == {"getUserProperty": 1, "getSessionForUser": 1}  # disabled?, session


def test_deep_link_target_survives_the_trip_through_the_idp(stack: DemoStack) -> None:
    target = stack.sakai.url + "/portal/site/math101/tool/abc?panel=Main"
    browser = requests.Session()
    reply = bridge_login(stack, "erin", target=target, browser=browser)
    assert reply.status_code == 302
    assert reply.headers["Location"] == target
    page = browser.get(target, timeout=5)
    assert "/portal/site/math101/tool/abc" in page.text
    assert "Erin Tester" in page.text


def test_off_site_target_is_refused_with_a_page_for_the_learner(stack: DemoStack) -> None:
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example",
                   stack.sakai.url + ".evil.example/portal", "javascript:alert(1)"):
        reply = requests.get(stack.bridge_url + "/saml/login", params={"target": target},
                             allow_redirects=False, timeout=5)
        assert reply.status_code == 400, target
        assert "That link cannot be used to sign in" in reply.text
        assert reply.headers["X-Request-Id"] in reply.text  # the error id the helpdesk finds


def test_disabled_account_is_refused_with_a_clear_page(stack: DemoStack) -> None:
    sim_control(stack, "users", {"eid": "frank@example.org", "first": "Frank",
                                 "last": "Tester", "email": "frank@example.org",
                                 "type": "student", "properties": {
                                     "disabled": "true", MARK: "created"}})
    browser = requests.Session()
    reply = bridge_login(stack, "frank", browser=browser)
    assert reply.status_code == 403
    assert "Your Sakai account is disabled" in reply.text
    assert "JSESSIONID" not in reply.headers.get("Set-Cookie", "")
    assert whoami(stack, browser)["userEid"] is None


def test_forged_response_touches_no_account_and_yields_no_session(stack: DemoStack) -> None:
    browser = requests.Session()
    action, fields = idp_response_for(stack, "heidi", browser=browser)
    xml = b64decode(fields["SAMLResponse"])
    forged = b64encode(xml.replace(b"heidi@example.org", b"alice@example.org")).decode()
    before_users, before_calls = sim_users(stack), sim_calls(stack)
    reply = browser.post(action, data={**fields, "SAMLResponse": forged},
                         allow_redirects=False, timeout=10)
    assert reply.status_code == 400
    assert "We could not sign you in" in reply.text
    assert "Traceback" not in reply.text
    assert sim_users(stack) == before_users
    assert sim_calls(stack) == before_calls
    assert whoami(stack, browser)["userEid"] is None


def test_idp_initiated_login_is_refused_by_default(stack: DemoStack) -> None:
    assert stack.services is not None
    browser = requests.Session()
    page = browser.get(stack.idp.idp_initiated_url(stack.services.settings.sp_entity_id,
                                                   stack.sakai.url + "/portal"), timeout=10)
    action, fields = idp_sign_in(browser, page, "ivan", "ivanpass")
    reply = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert reply.status_code == 403
    assert "Please start signing in from Sakai" in reply.text
    assert "ivan@example.org" not in sim_users(stack)


def test_concurrent_first_logins_of_one_learner_make_one_account(stack: DemoStack) -> None:
    browsers = [requests.Session() for _ in range(4)]
    forms = [idp_response_for(stack, "judy", browser=b) for b in browsers]
    replies: list[requests.Response] = []
    barrier = threading.Barrier(len(browsers))

    def post(browser: requests.Session, form: tuple[str, dict[str, str]]) -> None:
        barrier.wait()
        replies.append(browser.post(form[0], data=form[1], allow_redirects=False, timeout=20))

    pairs = zip(browsers, forms, strict=True)
    threads = [threading.Thread(target=post, args=pair) for pair in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [r.status_code for r in replies] == [302] * len(browsers)
    assert [eid for eid in sim_users(stack) if eid.startswith("judy")] == ["judy@example.org"]
    assert [whoami(stack, b)["userEid"] for b in browsers] == ["judy@example.org"] * 4


def test_the_real_idp_wants_signed_requests_and_refuses_an_unsigned_one(
        stack: DemoStack) -> None:
    assert stack.services is not None
    assert stack.services.idp.wants_signed_requests  # read from the IdP's own metadata
    start = requests.get(stack.bridge_url + "/saml/login", allow_redirects=False, timeout=10)
    location = start.headers["Location"]
    assert "&Signature=" in location and "&SigAlg=" in location
    base, query = location.split("?", 1)
    unsigned = "&".join(p for p in query.split("&") if not p.startswith(("Signature=", "SigAlg=")))
    refused = requests.get(f"{base}?{unsigned}", timeout=10)
    assert "no signature found on message" in refused.text
    assert 'name="password"' not in refused.text
    assert 'name="password"' in requests.get(location, timeout=10).text  # signed: login form
