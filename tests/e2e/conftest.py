"""End-to-end fixtures: the real SimpleSAMLphp IdP, the Sakai simulator and the bridge."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
import requests

from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.demo.stack import DemoStack


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    try:
        SimpleSamlIdp.check_installed()
    except RuntimeError as exc:  # pragma: no cover - CI installs it (scripts/setup.sh)
        pytest.fail(str(exc))
    demo = DemoStack(Path(tmp_path_factory.mktemp("stack")))
    with demo:
        yield demo


@pytest.fixture(autouse=False)
def sim(stack: DemoStack) -> Iterator[DemoStack]:
    """The stack, with the simulator's failure knobs reset after the test."""
    yield stack
    requests.post(stack.sakai.url + "/_sim/config", json={
        "allowlogin": True, "latency_ms": 0, "down": False}, timeout=5)


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


def bridge_login(stack: DemoStack, username: str, password: str, *, target: str | None = None,
                 browser: requests.Session | None = None) -> requests.Response:
    """A learner's whole SP-initiated login; returns the bridge's answer to the IdP's POST."""
    browser = browser or requests.Session()
    params = {"target": target} if target else {}
    page = browser.get(stack.bridge_url + "/saml/login", params=params, timeout=10)
    page.raise_for_status()
    action, fields = idp_sign_in(browser, page, username, password)
    return browser.post(action, data=fields, allow_redirects=False, timeout=20)


def whoami(stack: DemoStack, browser: requests.Session) -> dict[str, object]:
    reply = browser.get(stack.sakai.url + "/direct/session/current.json", timeout=5)
    reply.raise_for_status()
    return dict(reply.json())
