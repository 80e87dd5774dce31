"""Two real SimpleSAMLphp IdPs behind one bridge, configured as ``sso-bridge demo`` runs them:
the University (scoped eduPersonPrincipalName, preset simplesamlphp) as ``[idp]`` and the
Partner organisation (EIDs from its bare ``uid`` plus ``@partner``) as ``[idps.partner]``."""

from __future__ import annotations

import json
import re
import zlib
from base64 import b64decode
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import parse_qs, urljoin

import lxml.html
import pytest
import requests
from lxml import etree

from sso_bridge.demo.organisations import PARTNER, PARTNER_SCOPE, UNIVERSITY, person
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import bridge_login, idp_sign_in, sim_calls, sim_users, whoami
from tests.e2e.test_browser import ARTIFACTS, CHROMIUM, FLAGS
from tests.e2e.test_server import counter
from tests.support import require_simplesamlphp

SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
# Partner learners whose uid is a University learner's EID local part, or a whole University EID.
PARTNER_ALICE = person("alice", "Alicia", "Pereira", "student", PARTNER_SCOPE)
_BOBBY = person("bobby", "Robert", "Impostor", "student", PARTNER_SCOPE)
PARTNER_BOBBY = replace(_BOBBY, attributes=_BOBBY.attributes | {"uid": ["bob@example.org"]})


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_simplesamlphp()
    partner = replace(PARTNER, users=(*PARTNER.users, PARTNER_ALICE, PARTNER_BOBBY))
    with DemoStack(Path(tmp_path_factory.mktemp("two-idps")),
                   organisations=(UNIVERSITY, partner)) as demo:
        yield demo


def _login(stack: DemoStack, idp_index: int, username: str) -> requests.Session:
    """A learner's whole login at ``/saml/login?idp=<entityID>``; their browser, in Sakai."""
    browser = requests.Session()
    reply = bridge_login(stack, username, browser=browser, idp=stack.idps[idp_index].entity_id)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"] == stack.sakai.url + "/portal"
    return browser


def _person_of(stack: DemoStack, eid: str) -> tuple[object, ...]:
    account = sim_users(stack)[eid]
    return account["first"], account["last"], account["email"], account["type"]


def test_a_university_learner_signs_in_with_a_scoped_eid(two: DemoStack) -> None:
    browser = _login(two, 0, "alice")
    assert whoami(two, browser)["userEid"] == "alice@example.org"
    assert _person_of(two, "alice@example.org") == (
        "Alice", "Anderson", "alice@example.org", "student")


def test_a_partner_learner_signs_in_with_the_partner_suffix(two: DemoStack) -> None:
    browser = _login(two, 1, "partner1")
    assert whoami(two, browser)["userEid"] == "partner1@partner"
    assert _person_of(two, "partner1@partner") == (
        "Petra", "Novak", "partner1@partner.example", "student")
    assert "partner1@partner.example" not in sim_users(two)  # the eppn is not its EID


def test_each_idp_knows_only_its_own_learners(two: DemoStack) -> None:
    for index, stranger in ((0, "partner1"), (1, "bob")):
        browser = requests.Session()
        page = browser.get(two.bridge_url + "/saml/login",
                           params={"idp": two.idps[index].entity_id}, timeout=10)
        assert page.url.startswith(two.idps[index].base_url)
        form = lxml.html.fromstring(page.text).forms[0]
        fields = dict(form.form_values(), username=stranger, password=stranger + "pass")
        again = browser.post(urljoin(page.url, form.action), data=fields, timeout=10)
        assert "SAMLResponse" not in again.text and 'name="password"' in again.text


def test_partner_uid_equal_to_a_university_local_part_gets_its_own_account(
        two: DemoStack) -> None:
    _login(two, 0, "alice")
    university_alice = sim_users(two)["alice@example.org"]
    browser = _login(two, 1, "alice")  # the Partner's alice (uid "alice")
    assert whoami(two, browser)["userEid"] == "alice@partner"
    assert _person_of(two, "alice@partner") == (
        "Alicia", "Pereira", "alice@partner.example", "student")
    assert sim_users(two)["alice@example.org"] == university_alice


def test_partner_uid_spelling_a_university_eid_cannot_take_that_account(
        two: DemoStack) -> None:
    _login(two, 0, "bob")
    university_bob = sim_users(two)["bob@example.org"]
    browser = _login(two, 1, "bobby")  # uid "bob@example.org" at the Partner
    assert whoami(two, browser)["userEid"] == "bob@example.org@partner"
    assert sim_users(two)["bob@example.org"] == university_bob



@pytest.mark.parametrize(("index", "username"), [(0, "carol"), (1, "partner2")])
def test_logout_goes_to_the_idp_the_learner_signed_in_with(two: DemoStack, index: int,
                                                           username: str) -> None:
    idp = two.idps[index]
    browser = _login(two, index, username)
    out = browser.get(two.bridge_url + "/saml/logout", allow_redirects=False, timeout=10)
    assert out.status_code == 302
    assert out.headers["Location"].startswith(idp.base_url + "saml2/idp/SingleLogoutService.php?")
    assert whoami(two, browser)["userEid"] is None  # Sakai's session ended first
    back = browser.get(out.headers["Location"], timeout=10)  # the IdP answers to /saml/slo
    assert back.url.startswith(two.bridge_url + "/saml/slo?SAMLResponse=")
    assert back.status_code == 200, back.text  # the pending logout's cookie came back whole
    again = browser.get(two.bridge_url + "/saml/login", params={"idp": idp.entity_id},
                        timeout=10)
    assert again.url.startswith(idp.base_url) and 'name="password"' in again.text


@pytest.mark.parametrize(("index", "username"), [(0, "bob"), (1, "partner1")])
def test_logout_started_at_either_idp_ends_the_sakai_session(two: DemoStack, index: int,
                                                             username: str) -> None:
    idp = two.idps[index]
    browser = _login(two, index, username)
    assert whoami(two, browser)["userEid"] is not None
    back = two.bridge_url + "/healthz"
    done = browser.get(idp.base_url + "saml2/idp/initSLO.php", params={"RelayState": back},
                       timeout=10)
    assert done.url == back
    assert whoami(two, browser)["userEid"] is None


@pytest.mark.browser
@pytest.mark.parametrize(("index", "locale", "typed", "username", "eid"), [
    (0, "en-GB", "univ", "carol", "carol@example.org"),
    (1, "ru-RU", "Партн", "partner2", "partner2@partner"),  # the Russian mdui:DisplayName
])
def test_a_learner_of_each_idp_finds_it_on_the_discovery_page_and_lands_in_sakai(
        two: DemoStack, index: int, locale: str, typed: str, username: str, eid: str) -> None:
    """Chromium: /saml/login without ?idp= shows the discovery page; the learner types part of
    their IdP's name in the labelled search box, picks the IdP by its display name in their
    language, signs in there and lands in Sakai as themselves."""
    sync_api = pytest.importorskip("playwright.sync_api")
    name = two.organisations[index].display_name[locale[:2]]
    target = two.sakai.url + "/portal/site/welcome"
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_context(locale=locale).new_page()
            page.goto(f"{two.bridge_url}/saml/login?target={target}")
            assert page.url.startswith(two.bridge_url + "/saml/discovery"), page.url
            search = page.get_by_role("searchbox")
            sync_api.expect(search).to_have_accessible_name(re.compile(r"\S{3}"))
            search.fill(typed)
            with page.expect_navigation():  # the server's search: with or without script
                search.press("Enter")
            choice = page.get_by_role("link", name=name).or_(
                page.get_by_role("button", name=name))
            other = two.organisations[1 - index].display_name[locale[:2]]
            sync_api.expect(page.get_by_role("link", name=other)).to_have_count(0)
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / f"two-idps-discovery-{index}.png"))
            choice.first.click()
            page.wait_for_url(two.idps[index].base_url + "**", timeout=15_000)
            page.fill("input[name=username]", username)
            page.fill("input[name=password]", username + "pass")
            page.press("input[name=password]", "Enter")
            page.wait_for_url(target, timeout=15_000)
            page.goto(two.sakai.url + "/direct/session/current.json")
            assert json.loads(page.inner_text("body"))["userEid"] == eid
        finally:
            browser.close()


def test_idp_mix_up_the_partners_answer_to_a_login_sent_to_the_university_is_refused(
        two: DemoStack) -> None:
    """The bridge's signed AuthnRequest for the University, carried to the Partner's IdP: the
    Partner answers it (InResponseTo matches), signed with its own key; the bridge checks the
    answer against the IdP the login went to and refuses it."""
    university, partner = two.idps
    browser = requests.Session()
    start = browser.get(two.bridge_url + "/saml/login", params={"idp": university.entity_id},
                        allow_redirects=False, timeout=10)
    assert start.headers["Location"].startswith(university.sso_url + "?")
    query = start.headers["Location"][len(university.sso_url):]
    page = browser.get(partner.sso_url + query, timeout=10)
    action, fields = idp_sign_in(browser, page, "partner2", "partner2pass")
    answer = etree.fromstring(b64decode(fields["SAMLResponse"]))
    request = zlib.decompress(b64decode(parse_qs(query[1:])["SAMLRequest"][0]), -15)
    assert answer.get("InResponseTo") == etree.fromstring(request).get("ID")
    assert answer.findtext(f"{{{SAML}}}Issuer") == partner.entity_id
    before_users, before_calls = sim_users(two), sim_calls(two)
    refused = _refusals(two, "saml_invalid")
    reply = browser.post(action, data=fields, allow_redirects=False, timeout=10)
    assert reply.status_code == 400 and "Traceback" not in reply.text
    assert _refusals(two, "saml_invalid") == refused + 1
    assert sim_users(two) == before_users and sim_calls(two) == before_calls
    assert whoami(two, browser)["userEid"] is None


def _refusals(stack: DemoStack, code: str) -> float:
    """Failed logins with the error ``code`` so far, from the bridge's /metrics."""
    metrics = requests.get(stack.bridge_url + "/metrics", timeout=5).text
    return counter(metrics, "sso_bridge_login_attempts_total", outcome="refused", code=code)
