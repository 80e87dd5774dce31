"""Two real SimpleSAMLphp IdPs behind one bridge, configured as ``sso-bridge demo`` runs them:
the University (scoped eduPersonPrincipalName, preset simplesamlphp) as ``[idp]`` and the
Partner organisation (EIDs from its bare ``uid`` plus ``@partner``) as ``[idps.partner]``."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
import requests

from sso_bridge.demo.organisations import PARTNER, PARTNER_SCOPE, UNIVERSITY, person
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import bridge_login, sim_users, whoami
from tests.support import require_simplesamlphp

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
