"""The discovery page in Chromium with several IdPs: the real SimpleSAMLphp IdP (configured,
named by ``idp.display_name``) beside a federation's signed aggregate. A learner is sent there
by ``/saml/login``, finds their organisation by typing (search as you type) or, without
JavaScript, with the server's search, chooses it with the keyboard alone, signs in at the real
IdP and lands in Sakai; next time their organisation is offered first. axe-core finds no WCAG
2.2 AA violation with results on screen."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import learner
from tests.e2e.test_browser import ARTIFACTS
from tests.e2e.test_learner_browser import PHONE, _axe_violations, browser  # noqa: F401
from tests.federation.factory import aggregate_xml, idp_xml, sign_aggregate
from tests.support import require_simplesamlphp
from tests.web.discovery_fixtures import FEDERATION, FEW

pytestmark = pytest.mark.browser
NAMES = {"en": "Example University", "ru": "Пример университета"}


@pytest.fixture(scope="module")
def several(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_simplesamlphp()
    workdir = Path(tmp_path_factory.mktemp("discovery-stack"))
    (workdir / "bridge").mkdir()
    key, cert = FEDERATION
    (workdir / "bridge" / "partners.crt").write_text(cert)
    (workdir / "bridge" / "partners.xml").write_bytes(
        sign_aggregate(aggregate_xml([idp_xml(i) for i in FEW]), key))
    stack = DemoStack(workdir, users=(learner("zarina"),), bridge_extra={
        "idp": {"display_name": NAMES},
        "federations": {"partners": {"file": "partners.xml",
                                     "signing_certificate": "partners.crt"}},
        "store": {"state_directory": "state"}})
    with stack:
        yield stack


def _tab_to(page: Any, check: str, tries: int = 20) -> None:
    for _ in range(tries):
        page.keyboard.press("Tab")
        if page.evaluate(check):
            return
    raise AssertionError(f"Tab never reached {check}")


def _sign_in_with_keyboard(page: Any, user: str, target: str) -> None:
    page.wait_for_selector("input[name=username]", timeout=15_000)  # the real IdP's form
    page.keyboard.type(user)
    page.keyboard.press("Tab")
    page.keyboard.type(user + "pass")
    page.keyboard.press("Enter")
    page.wait_for_url(target, timeout=15_000)


def test_a_learner_finds_their_idp_as_they_type_and_signs_in_with_the_keyboard(
        several: DemoStack, browser: Any) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    page = context.new_page()
    target = several.sakai.url + "/portal/site/chemistry"
    try:
        page.goto(f"{several.bridge_url}/saml/login?target={target}")
        assert "/saml/discovery?" in page.url  # several IdPs: the learner chooses
        assert page.locator("h1").inner_text() == "Выберите свою организацию"
        assert page.locator("#found a").count() == 4  # few IdPs: all of them
        assert page.locator("#found img").count() == 2  # the https logos (http: not offered)
        assert _axe_violations(page) == []
        _tab_to(page, "document.activeElement.id === 'q'")
        page.keyboard.type("приме")  # the Russian display_name, half typed
        page.wait_for_selector("#status:has-text('Найдено организаций: 1')")
        assert page.locator("#found a").all_inner_texts() == [NAMES["ru"]]
        page.screenshot(path=str(ARTIFACTS / "pages" / "discovery-typed-ru.png"), full_page=True)
        assert _axe_violations(page) == []
        page.keyboard.press("Tab")  # from the field: the search button, then the result
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent") == NAMES["ru"]
        page.keyboard.press("Enter")
        _sign_in_with_keyboard(page, "zarina", target)
        page.goto(f"{several.bridge_url}/saml/login?target={target}")  # next time
        assert page.locator("#remembered").inner_text() == "Использовалась в прошлый раз"
        assert page.locator("ul.idps a").first.inner_text() == NAMES["ru"]
        _tab_to(page, "document.activeElement.closest && "
                      "document.activeElement.closest('ul.idps') !== null")
        assert page.evaluate("document.activeElement.textContent") == NAMES["ru"]
        page.keyboard.press("Enter")  # the IdP still knows zarina: straight back to Sakai
        page.wait_for_url(target, timeout=15_000)
    finally:
        context.close()


def test_without_javascript_the_server_searches(several: DemoStack, browser: Any) -> None:  # noqa: F811
    context = browser.new_context(viewport=PHONE, locale="en-GB", java_script_enabled=False)
    page = context.new_page()
    target = several.sakai.url + "/portal/site/history"
    try:
        page.goto(f"{several.bridge_url}/saml/login?target={target}")
        _tab_to(page, "document.activeElement.id === 'q'")
        page.keyboard.type("nowhere")
        with page.expect_navigation():
            page.keyboard.press("Enter")  # the form: the server answers
        assert "q=nowhere" in page.url
        assert "No organisation matches your search" in page.locator("#status").inner_text()
        page.fill("#q", "timur@example.org")  # the email-domain hint: the IdP's shibmd:Scope
        with page.expect_navigation():
            page.press("#q", "Enter")
        assert page.locator("#found a").all_inner_texts() == [NAMES["en"]]
        page.screenshot(path=str(ARTIFACTS / "pages" / "discovery-no-js-en.png"), full_page=True)
        _tab_to(page, "document.activeElement.textContent === 'Example University'")
        page.keyboard.press("Enter")  # on to the real IdP (whose own pages need JavaScript)
        page.wait_for_selector("input[name=username]", timeout=15_000)
        assert page.url.startswith(several.idp.base_url)
    finally:
        context.close()
