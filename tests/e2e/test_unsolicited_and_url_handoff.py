"""A second deployment shape: IdP-initiated logins allowed, session handed over in the URL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import E2E_USERS, bridge_login, idp_sign_in, whoami


@pytest.fixture(scope="module")
def url_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    demo = DemoStack(Path(tmp_path_factory.mktemp("url-stack")), users=E2E_USERS,
                     bridge_extra={"idp": {"allow_unsolicited": True},
                                   "sakai": {"handoff": "url"}},
                     sim_config=SimConfig(session_parameter_allow=True))
    with demo:
        yield demo


def test_url_handoff_puts_the_session_in_the_target_url(url_stack: DemoStack) -> None:
    target = url_stack.sakai.url + "/portal/site/bio200?x=1"
    browser = requests.Session()
    reply = bridge_login(url_stack, "alice", target=target, browser=browser)
    assert reply.status_code == 302
    assert "JSESSIONID" not in reply.headers.get("Set-Cookie", "")
    location = urlsplit(reply.headers["Location"])
    assert location.path == "/portal/site/bio200"
    query = parse_qs(location.query)
    assert query["x"] == ["1"] and len(query["sakai.session"][0]) >= 32
    assert reply.headers["Referrer-Policy"] == "no-referrer"
    page = browser.get(reply.headers["Location"], timeout=5)
    assert "Alice Anderson" in page.text
    assert whoami(url_stack, browser)["userEid"] == "alice@example.org"  # Sakai set its cookie


def test_idp_initiated_login_is_accepted_when_enabled(url_stack: DemoStack) -> None:
    assert url_stack.services is not None
    target = url_stack.sakai.url + "/portal/site/chem300"
    browser = requests.Session()
    page = browser.get(url_stack.idp.idp_initiated_url(
        url_stack.services.settings.sp_entity_id, target), timeout=10)
    action, fields = idp_sign_in(browser, page, "bob", "bobpass")
    reply = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"].startswith(target + "?sakai.session=")


def test_idp_initiated_off_site_relay_state_lands_on_the_portal(url_stack: DemoStack) -> None:
    assert url_stack.services is not None
    browser = requests.Session()
    page = browser.get(url_stack.idp.idp_initiated_url(
        url_stack.services.settings.sp_entity_id, "https://evil.example/phish"), timeout=10)
    action, fields = idp_sign_in(browser, page, "carol", "carolpass")
    reply = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    assert reply.headers["Location"].startswith(url_stack.sakai.url + "/portal?sakai.session=")
