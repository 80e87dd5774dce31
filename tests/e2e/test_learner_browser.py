"""The learner's pages in Chromium (Debian's, through Playwright) on a phone-sized screen:
every page in every language (screenshots in test-artifacts/pages/<lang>/<page>.png), axe-core
with zero WCAG 2.2 AA violations, keyboard-only use, the discovery page (searched as you type,
an IdP chosen with the keyboard alone), and single logout both ways with the real SimpleSAMLphp
IdP, ending the Sakai session."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest

from sso_bridge.demo.stack import DemoStack
from sso_bridge.web.errors import BY_KEY
from sso_bridge.web.i18n import shipped_languages
from sso_bridge.web.logout import SIGNED_OUT_PAGES
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, FLAGS

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}
PAGES = sorted(BY_KEY) + sorted(SIGNED_OUT_PAGES) + ["discovery"]
LANGUAGES = [lang.code for lang in shipped_languages()]
ERROR_ID = "4f2a9c0d1e7b3a56"
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS,
                                              headless=True)
        yield chromium
        chromium.close()


def _axe_violations(page: Any) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    return [f"{v['id']}: {[n['target'] for n in v['nodes']]}"
            for v in results.response["violations"]]


@pytest.mark.parametrize("lang", LANGUAGES)
def test_every_page_in_every_language_on_a_phone_passes_axe(stack: DemoStack, browser: Any,
                                                            lang: str) -> None:
    context = browser.new_context(viewport=PHONE, device_scale_factor=2, is_mobile=True)
    page = context.new_page()
    folder = ARTIFACTS / "pages" / lang
    folder.mkdir(parents=True, exist_ok=True)
    problems = {}
    try:
        for key in PAGES:
            query = discovery_request(stack) if key == "discovery" else {"code": key,
                                                                         "id": ERROR_ID}
            page.goto(f"{stack.bridge_url}/saml/language/{lang}?"
                      + urlencode({"page": key, **query}))
            assert page.locator("html").get_attribute("lang").startswith(lang)
            page.screenshot(path=str(folder / f"{key}.png"), full_page=True)
            if key in BY_KEY:
                assert page.locator("code").inner_text() == ERROR_ID
            assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
            violations = _axe_violations(page)
            if violations:
                problems[key] = violations
    finally:
        context.close()
    assert not problems


def discovery_request(stack: DemoStack, target: str = "") -> dict[str, str]:
    """The discovery request ``/saml/login`` makes when the learner has IdPs to choose from."""
    back = f"{stack.bridge_url}/saml/login?" + urlencode(
        {"target": target or stack.sakai.url + "/portal"})
    return {"entityID": f"{stack.bridge_url}/saml/metadata", "return": back,
            "returnIDParam": "idp"}


def test_keyboard_only_choosing_an_idp_on_the_discovery_page(stack: DemoStack,
                                                             browser: Any) -> None:
    """Typed into the search field, the results come as you type; Tab to the organisation,
    Enter: the IdP's login; and next time the choice is offered first."""
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    target = stack.sakai.url + "/portal/site/discovery"
    discovery = f"{stack.bridge_url}/saml/discovery?" + urlencode(
        discovery_request(stack, target))
    try:
        page.goto(discovery)
        name = page.locator("#found a").first.inner_text()
        for _ in range(12):  # Tab along the page to the search field
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.id") == "q":
                break
        page.keyboard.type("zzz")  # as you type: the list updates, no page load
        page.wait_for_selector("#status:has-text('No organisation matches')")
        assert page.locator("#found a").count() == 0
        for _ in range(3):
            page.keyboard.press("Backspace")
        page.keyboard.type(name[:4].lower())
        page.wait_for_selector("#status:has-text('Organisations found: 1')")
        assert page.url == discovery
        assert page.locator("#found a").first.inner_text() == name
        page.keyboard.press("ArrowDown")
        assert page.evaluate("document.activeElement.textContent") == name
        page.keyboard.press("Shift+Tab")
        page.keyboard.press("Tab")  # back on the first result with Tab alone
        assert page.evaluate("document.activeElement.textContent") == name
        page.keyboard.press("Enter")
        page.wait_for_selector("input[name=username]", timeout=15_000)  # the IdP's login
        page.keyboard.type("aigerim")
        page.keyboard.press("Tab")
        page.keyboard.type("aigerimpass")
        page.keyboard.press("Enter")
        page.wait_for_url(target, timeout=15_000)
        page.goto(discovery)
        assert page.locator("#remembered").inner_text() == "Used last time"
        assert page.locator("ul.idps a").first.inner_text() == name
    finally:
        context.close()


def test_keyboard_only_the_error_page_and_the_language_switcher(stack: DemoStack,
                                                                browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, locale="en-GB")
    page = context.new_page()
    try:
        page.goto(f"{stack.bridge_url}/saml/no-such-page")
        error_id = page.locator("code").inner_text()
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        page.keyboard.press("Shift+Tab")  # back to the switcher, one link at a time
        focused = set()
        for _ in range(8):
            page.keyboard.press("Tab")
            focused.add(page.evaluate("document.activeElement.textContent"))
        assert {"Русский", "Қазақша", "Кыргызча"} <= focused
        page.goto(f"{stack.bridge_url}/saml/no-such-page")
        error_id = page.locator("code").inner_text()
        for _ in range(10):  # Tab along the page to the Kazakh link, then Enter
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.textContent") == "Қазақша":
                break
        page.keyboard.press("Enter")
        page.wait_for_load_state()
        assert page.locator("html").get_attribute("lang") == "kk"
        assert page.locator("h1").inner_text() == "Мұнда мұндай бет жоқ"
        assert page.locator("code").inner_text() == error_id  # the same error, in Kazakh
        page.goto(f"{stack.bridge_url}/saml/no-such-page")  # the choice is remembered
        assert page.locator("html").get_attribute("lang") == "kk"
    finally:
        context.close()


def test_accept_language_picks_russian_in_a_russian_browser(stack: DemoStack,
                                                           browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, locale="ru-RU")
    try:
        page = context.new_page()
        page.goto(f"{stack.bridge_url}/saml/no-such-page")
        assert page.locator("html").get_attribute("lang") == "ru"
        assert page.locator("h1").inner_text() == "Такой страницы здесь нет"
    finally:
        context.close()


def _sign_in(stack: DemoStack, page: Any, user: str) -> None:
    target = stack.sakai.url + "/portal/site/welcome"
    page.goto(f"{stack.bridge_url}/saml/login?target={target}")
    page.fill("input[name=username]", user)
    page.fill("input[name=password]", user + "pass")
    page.press("input[name=password]", "Enter")
    page.wait_for_url(target, timeout=15_000)


def _sakai_user(stack: DemoStack, context: Any) -> object:
    reply = context.request.get(stack.sakai.url + "/direct/session/current.json")
    return reply.json().get("userEid")


def test_learner_logout_ends_sakai_and_the_idp_session(stack: DemoStack, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE, locale="kk-KZ")
    page = context.new_page()
    try:
        _sign_in(stack, page, "aigerim")
        assert _sakai_user(stack, context) == "aigerim@example.org"
        page.goto(f"{stack.bridge_url}/saml/logout")  # Sakai's loggedOutUrl
        page.wait_for_url(f"{stack.bridge_url}/saml/slo*", timeout=15_000)
        assert page.locator("h1").inner_text() == "Сіз жүйеден шықтыңыз"
        page.screenshot(path=str(ARTIFACTS / "pages" / "slo-learner-kk.png"), full_page=True)
        assert _sakai_user(stack, context) is None
        page.goto(f"{stack.bridge_url}/saml/login")  # the IdP asks for the password again
        page.wait_for_selector("input[name=password]")
    finally:
        context.close()


def test_idp_initiated_logout_ends_the_sakai_session(stack: DemoStack, browser: Any) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    try:
        _sign_in(stack, page, "dilnoza")
        assert _sakai_user(stack, context) == "dilnoza@example.org"
        back = f"{stack.bridge_url}/healthz"
        page.goto(f"{stack.idp.base_url}saml2/idp/initSLO.php?RelayState={back}")
        page.wait_for_url(back, timeout=15_000)
        assert _sakai_user(stack, context) is None
    finally:
        context.close()
