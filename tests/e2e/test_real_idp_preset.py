"""The real SimpleSAMLphp IdP with nothing configured but ``idp.preset = "simplesamlphp"``:
its metadata's shibmd:Scope is what the EID's scope is checked against (issue 10, hole 1), and
an EID it releases with an invisible character is refused (hole 3)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import E2E_USERS, bridge_login, learner, sim_users, whoami
from tests.support import require_simplesamlphp


@pytest.fixture(scope="module")
def preset_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    require_simplesamlphp()
    demo = DemoStack(Path(tmp_path_factory.mktemp("preset-stack")), users=E2E_USERS,
                     bridge_extra={"idp": {"preset": "simplesamlphp"}})
    with demo:
        yield demo


def test_simplesamlphp_preset_logs_in_with_the_scope_from_its_metadata(
        preset_stack: DemoStack) -> None:
    assert preset_stack.services is not None
    assert [s.value for s in preset_stack.services.idp.scopes] == ["example.org"]
    assert preset_stack.services.settings.preset_values["idp.want_response_signed"] is False
    browser = requests.Session()
    reply = bridge_login(preset_stack, "alice", browser=browser)
    assert reply.status_code == 302, reply.text
    assert whoami(preset_stack, browser)["userEid"] == "alice@example.org"


def _released(stack: DemoStack, name: str, eppn: str) -> requests.Response:
    attributes = learner(name).attributes | {"eduPersonPrincipalName": [eppn]}
    stack.idp.set_user_attributes(name, attributes)
    return bridge_login(stack, name)


def test_an_eppn_outside_the_idps_scope_is_refused(preset_stack: DemoStack) -> None:
    reply = _released(preset_stack, "erin", "admin@evil.example")
    assert reply.status_code == 403 and "(identity_scope)" in reply.text
    assert "admin@evil.example" not in sim_users(preset_stack)


def test_hole3_a_zero_width_eppn_from_the_real_idp_is_refused(preset_stack: DemoStack) -> None:
    assert bridge_login(preset_stack, "frank").status_code == 302
    before = set(sim_users(preset_stack))
    reply = _released(preset_stack, "frank", "frank\u200b@example.org")
    assert reply.status_code == 403 and "(eid_invalid_characters)" in reply.text
    assert set(sim_users(preset_stack)) == before
