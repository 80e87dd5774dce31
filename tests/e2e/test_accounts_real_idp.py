"""Accounts kept right (issue 12) with the real SimpleSAMLphp IdP: a learner's attributes come
from the IdP's own login, the account lives in the Sakai simulator, the session is checked the
way a browser's would be."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.idp import DemoUser
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import bridge_login, sim_calls, sim_control, sim_users, whoami
from tests.support import require_simplesamlphp


def person(name: str, sn: str = "Tester", affiliation: str = "student",
           mail: str | None = None) -> dict[str, list[str]]:
    return {"uid": [name], "mail": [mail or f"{name}@example.org"], "givenName": [name.title()],
            "sn": [sn], "eduPersonAffiliation": ["member", affiliation],
            "eduPersonPrincipalName": [f"{name}@example.org"]}


USERS = tuple(DemoUser(name, name + "pass", person(name)) for name in ("uma", "vic"))
MARKUP = DemoUser("wes", "wespass", person("wes", sn="Smith <Jr>"))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_simplesamlphp()
    with DemoStack(Path(tmp_path_factory.mktemp("accounts")), users=(*USERS, MARKUP)) as demo:
        yield demo


def spent(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {op: n - before.get(op, 0) for op, n in after.items() if n != before.get(op, 0)}


def test_disabled_after_login_is_refused_at_the_next_real_login(stack: DemoStack) -> None:
    assert bridge_login(stack, "uma").status_code == 302
    sim_control(stack, "users/uma@example.org/properties", {"disabled": "true"})
    browser = requests.Session()
    before = sim_calls(stack)
    reply = bridge_login(stack, "uma", browser=browser)
    assert reply.status_code == 403
    assert "Your Sakai account is disabled" in reply.text
    assert spent(before, sim_calls(stack)) == {"getUserProperty": 1}
    assert whoami(stack, browser)["userEid"] is None


def test_type_change_follows_the_affiliation_at_the_real_idp(stack: DemoStack) -> None:
    assert bridge_login(stack, "vic").status_code == 302
    assert sim_users(stack)["vic@example.org"]["type"] == "student"
    stack.idp.set_user_attributes("vic", person("vic", affiliation="faculty"))
    browser = requests.Session()
    assert bridge_login(stack, "vic", browser=browser).status_code == 302
    assert sim_users(stack)["vic@example.org"]["type"] == "maintain"
    assert whoami(stack, browser)["userEid"] == "vic@example.org"


def test_markup_name_from_the_real_idp_is_not_rewritten(stack: DemoStack) -> None:
    assert bridge_login(stack, "wes").status_code == 302
    assert sim_users(stack)["wes@example.org"]["last"] == "Smith "  # as Sakai stores it
    # A new email makes the next login a full check; the name, unchanged, is left alone.
    stack.idp.set_user_attributes("wes", person("wes", sn="Smith <Jr>",
                                                mail="wes.new@example.org"))
    before = sim_calls(stack)
    assert bridge_login(stack, "wes").status_code == 302
    calls = spent(before, sim_calls(stack))
    assert calls["changeUserEmail"] == 1 and calls["getUserDisplayName"] == 1
    assert "changeUserName" not in calls
