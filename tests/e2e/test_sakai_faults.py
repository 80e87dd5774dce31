"""When Sakai misbehaves the learner gets the right page (or a transparent retry), never a
stack trace, and no account is half-created."""

from __future__ import annotations

import time

import pytest
import requests

from sso_bridge.demo.sakai_sim.config import DEFAULT_ALLOW
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import bridge_login, sim_calls, sim_control, sim_users
from tests.e2e.processes import wait_until


def expire_admin_session(stack: DemoStack) -> None:
    sim_control(stack, "expire-sessions", {"scope": "admin"})


def assert_page(reply: requests.Response, status: int, title: str, code: str) -> None:
    assert reply.status_code == status, reply.text
    assert title in reply.text
    assert f"({code})" in reply.text
    assert "Traceback" not in reply.text


@pytest.mark.parametrize(("user", "knobs", "code"), [
    ("mallory", {"allowlogin": False}, "sakai_login_disabled"),
    ("niaj", {"admin_password": "not-the-bridge-password"}, "sakai_admin_auth"),
    ("olivia", {"allow": [r"10\.9\.9\.9"]}, "sakai_forbidden"),
], ids=["allowlogin-off", "wrong-admin-password", "ip-allow-list-403"])
def test_sakai_configuration_faults_show_sakai_unavailable(
        sim: DemoStack, user: str, knobs: dict[str, object], code: str) -> None:
    expire_admin_session(sim)
    sim_control(sim, "config", knobs)
    try:
        reply = bridge_login(sim, user)
    finally:
        sim_control(sim, "config", {"admin_password": sim.sakai.config.admin_password,
                                    "allowlogin": True, "allow": list(DEFAULT_ALLOW)})
    assert_page(reply, 503, "Sakai is unavailable right now", code)
    assert f"{user}@example.org" not in sim_users(sim)
    # A refused admin login is backed off (1 s, doubling): the bridge is ready again after it.
    wait_until(lambda: requests.get(sim.bridge_url + "/readyz", timeout=5).ok, 10,
               "readiness once the admin login's back-off is over")


def test_timeout_is_bounded_and_creates_nothing(sim: DemoStack) -> None:
    sim_control(sim, "fail-next", {"getUserProperty": "timeout"})
    began = time.monotonic()
    reply = bridge_login(sim, "peggy")
    assert_page(reply, 503, "Sakai is unavailable right now", "sakai_unavailable")
    assert time.monotonic() - began < 10  # read timeout 2 s; the simulator stalls 4 s
    assert "peggy@example.org" not in sim_users(sim)


def test_exception_string_result_shows_account_page_and_creates_nothing(sim: DemoStack) -> None:
    sim_control(sim, "fail-next", {"addNewUser": "result:org.sakaiproject.user.api."
                                                 "UserIdInvalidException : Eid is too long"})
    reply = bridge_login(sim, "rupert")
    assert_page(reply, 502, "Sakai could not set up your account", "sakai_operation_failed")
    assert "rupert@example.org" not in sim_users(sim)


def test_soap_fault_on_session_creation_shows_sakai_unavailable(sim: DemoStack) -> None:
    sim_control(sim, "fail-next", {"getSessionForUser": "java.lang.IllegalStateException"})
    reply = bridge_login(sim, "sybil")
    assert_page(reply, 503, "Sakai is unavailable right now", "sakai_fault")


def test_expired_admin_session_is_renewed_transparently(sim: DemoStack) -> None:
    bridge_login(sim, "alice")
    expire_admin_session(sim)
    logins_before = sim_calls(sim).get("login", 0)
    reply = bridge_login(sim, "trent")
    assert reply.status_code == 302, reply.text
    assert sim_calls(sim)["login"] == logins_before + 1
    assert "trent@example.org" in sim_users(sim)


def test_connection_refused_shows_sakai_unavailable(sim: DemoStack) -> None:
    port = sim.sakai.port
    sim.sakai.stop()
    try:
        reply = bridge_login(sim, "victor")
    finally:
        sim.sakai.serve(sim.host, port)
    assert_page(reply, 503, "Sakai is unavailable right now", "sakai_unavailable")
    assert "victor@example.org" not in sim_users(sim)
    assert bridge_login(sim, "victor").status_code == 302  # and it recovers by itself
