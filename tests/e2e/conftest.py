"""End-to-end fixtures: the real SimpleSAMLphp IdP, the Sakai simulator and the bridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import lxml.html
import pytest
import requests

from sso_bridge.demo.idp import DEFAULT_USERS, DemoUser
from sso_bridge.demo.sakai_sim.config import DEFAULT_ALLOW, SimConfig
from sso_bridge.demo.stack import DemoStack
from tests.support import require_simplesamlphp


def learner(name: str, affiliation: str = "student") -> DemoUser:
    return DemoUser(name, name + "pass", {
        "uid": [name], "mail": [f"{name}@example.org"], "givenName": [name.title()],
        "sn": ["Tester"], "eduPersonAffiliation": ["member", affiliation],
        "eduPersonPrincipalName": [f"{name}@example.org"]})


# One learner per test that needs a fresh account, so tests do not depend on their order.
E2E_USERS = (*DEFAULT_USERS, *(learner(n) for n in (
    "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter")))
# The learners of the single-logout browser tests (test_learner_browser.py).
E2E_USERS = (*E2E_USERS, learner("aigerim"), learner("dilnoza"))


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_simplesamlphp()
    demo = DemoStack(Path(tmp_path_factory.mktemp("stack")), users=E2E_USERS,
                     bridge_extra={"sakai": {"read_timeout_seconds": 2.0,
                                             "readiness_cache_seconds": 0}},
                     sim_config=SimConfig(hang_seconds=4.0))
    with demo:
        yield demo


def sim_control(stack: DemoStack, route: str, payload: dict[str, Any] | None = None) -> Any:
    """Talk to the simulator's test-only control API."""
    url = f"{stack.sakai.url}/_sim/{route}"
    reply = requests.post(url, json=payload, timeout=5) if payload is not None else \
        requests.get(url, timeout=5)
    reply.raise_for_status()
    return reply.json()


def sim_users(stack: DemoStack) -> dict[str, dict[str, object]]:
    users = sim_control(stack, "users")
    assert isinstance(users, list)
    return {u["eid"]: u for u in users}


def sim_calls(stack: DemoStack) -> dict[str, int]:
    return dict(sim_control(stack, "calls"))  # type: ignore[call-overload]


@pytest.fixture
def sim(stack: DemoStack) -> Iterator[DemoStack]:
    """The stack, with the simulator's failure knobs reset after the test."""
    yield stack
    sim_control(stack, "config", {"allowlogin": True, "latency_ms": 0, "down": False,
                                  "allow": list(DEFAULT_ALLOW)})


def idp_sign_in(browser: requests.Session, page: requests.Response, username: str,
                password: str) -> tuple[str, dict[str, str]]:
    """Fill in the IdP's login form; return the auto-submit form's action and fields."""
    form = lxml.html.fromstring(page.text).forms[0]
    if "SAMLResponse" not in form.fields:  # no IdP session yet: the login form
        data = dict(form.form_values(), username=username, password=password)
        page = browser.post(urljoin(page.url, form.action), data=data, timeout=10)
        page.raise_for_status()
        form = lxml.html.fromstring(page.text).forms[0]
    assert "SAMLResponse" in form.fields, f"the IdP did not answer with a response: {page.text}"
    return str(form.action), dict(form.form_values())


def idp_response_for(stack: DemoStack, username: str, *, target: str | None = None,
                     browser: requests.Session | None = None,
                     idp: str | None = None) -> tuple[str, dict[str, str]]:
    """Start at the bridge (at ``/saml/login?idp=<idp>`` when given an entity ID), sign in at
    the IdP; return the form the IdP wants posted."""
    browser = browser if browser is not None else requests.Session()
    params = {"target": target} if target else {}
    params |= {"idp": idp} if idp else {}
    page = browser.get(stack.bridge_url + "/saml/login", params=params, timeout=10)
    page.raise_for_status()
    return idp_sign_in(browser, page, username, username + "pass")


def bridge_login(stack: DemoStack, username: str, *, target: str | None = None,
                 browser: requests.Session | None = None,
                 idp: str | None = None) -> requests.Response:
    """A learner's whole SP-initiated login; returns the bridge's answer to the IdP's POST."""
    browser = browser if browser is not None else requests.Session()
    action, fields = idp_response_for(stack, username, target=target, browser=browser, idp=idp)
    return browser.post(action, data=fields, allow_redirects=False, timeout=20)


def whoami(stack: DemoStack, browser: requests.Session) -> dict[str, object]:
    reply = browser.get(stack.sakai.url + "/direct/session/current.json", timeout=5)
    reply.raise_for_status()
    return dict(reply.json())
