"""A learner signs in through the real IdP and lands in (simulated) Sakai as themselves."""

from __future__ import annotations

import requests

from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import bridge_login, whoami


def sim_users(stack: DemoStack) -> dict[str, dict[str, object]]:
    users = requests.get(stack.sakai.url + "/_sim/users", timeout=5).json()
    return {u["eid"]: u for u in users}


def test_first_login_creates_the_account_and_hands_over_a_session(stack: DemoStack) -> None:
    browser = requests.Session()
    reply = bridge_login(stack, "alice", "alicepass", browser=browser)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"] == stack.sakai.url + "/portal"
    assert whoami(stack, browser)["userEid"] == "alice@example.org"
    account = sim_users(stack)["alice@example.org"]
    assert (account["first"], account["last"], account["email"]) == (
        "Alice", "Anderson", "alice@example.org")
    assert account["type"] == "student"
    portal = browser.get(reply.headers["Location"], timeout=5)
    assert "Alice Anderson" in portal.text
