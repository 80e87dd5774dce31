"""Identity attacks through the real interface (/saml/login, /saml/acs, the Sakai simulator):
each is named by the attack, asserts the learner's page and error code, and that Sakai was
left as it was."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from sso_bridge.demo.sakai_sim import SakaiSimulator
from tests.interop.conftest import ACS, SP_ENTITY, InteropBridge, Login, make_bridge
from tests.samlfactory import products
from tests.samlfactory.idp import TestIdp
from tests.samlfactory.products import BASIC, Attr

SSP = products.SHAPES["simplesamlphp"]
EPPN = "eduPersonPrincipalName"


@pytest.fixture
def bridge(tmp_path: Path, sim: SakaiSimulator) -> InteropBridge:
    """SimpleSAMLphp's shape, the generic preset: the EID from the scoped eppn."""
    return make_bridge(tmp_path, sim, TestIdp(entity_id=SSP.entity_id, scopes=("example.org",)),
                       {"want_response_signed": False})


def _login(bridge: InteropBridge, *attributes: Attr) -> Login:
    shape = dataclasses.replace(SSP, attributes=(
        *attributes, Attr("givenName", ("Jane",), BASIC), Attr("sn", ("Doe",), BASIC)))
    return bridge.login(lambda rid: products.build(shape, bridge.idp, acs_url=ACS,
                                                   sp_entity_id=SP_ENTITY, in_response_to=rid))


def _refused(login: Login, code: str) -> None:
    assert login.status == 403, login.text
    assert f"({code})" in login.text and "error id" in login.text


def test_repeated_eid_attribute_smuggling_a_second_eid_is_refused(
        bridge: InteropBridge) -> None:
    before = bridge.eids()
    login = _login(bridge, Attr(EPPN, ("jane@example.org",), BASIC),
                   Attr(EPPN, ("victim@example.org",), BASIC))
    _refused(login, "identity_incomplete")
    assert bridge.eids() == before


def test_a_repeated_eid_attribute_with_the_same_value_is_merged(bridge: InteropBridge) -> None:
    login = _login(bridge, Attr(EPPN, ("jane@example.org",), BASIC),
                   Attr(EPPN, ("Jane@Example.org",), BASIC))
    assert login.status == 302, login.text
    assert bridge.user("jane@example.org").first == "Jane"


def test_repeated_affiliations_are_merged(bridge: InteropBridge) -> None:
    login = _login(bridge, Attr(EPPN, ("jane@example.org",), BASIC),
                   Attr("eduPersonAffiliation", ("member",), BASIC),
                   Attr("eduPersonAffiliation", ("student",), BASIC))
    assert login.status == 302, login.text
    assert bridge.user("jane@example.org").type == "student"


@pytest.mark.parametrize("lookalike", [
    "jane\u200b@example.org",  # zero-width space
    "\u200djane@example.org",  # zero-width joiner
    "\u202ejane@example.org",  # right-to-left override
    "jane@example.org\u2066",  # left-to-right isolate
], ids=["zero-width-space", "zero-width-joiner", "bidi-override", "bidi-isolate"])
def test_hole3_an_invisible_character_eid_does_not_create_a_second_account(
        bridge: InteropBridge, lookalike: str) -> None:
    assert _login(bridge, Attr(EPPN, ("jane@example.org",), BASIC)).status == 302
    accounts = bridge.eids()
    _refused(_login(bridge, Attr(EPPN, (lookalike,), BASIC)), "eid_invalid_characters")
    assert bridge.eids() == accounts


def test_hole1_an_idp_user_whose_uid_is_admin_does_not_become_sakais_admin(
        bridge: InteropBridge) -> None:
    """The old example config took the EID from uid when no eppn came: an IdP account named
    "admin" signed in as Sakai's administrator. By default only scoped identifiers count."""
    admin = dataclasses.asdict(bridge.user("admin"))
    _refused(_login(bridge, Attr("uid", ("admin",), BASIC)), "identity_incomplete")
    assert dataclasses.asdict(bridge.user("admin")) == admin
    assert not [s for s in bridge.sim.state.sessions.values() if s.user_eid == "admin"]


def test_hole1_an_eppn_named_admin_of_another_scope_is_refused(bridge: InteropBridge) -> None:
    _refused(_login(bridge, Attr(EPPN, ("admin@evil.example",), BASIC)), "identity_scope")
    assert "admin@evil.example" not in bridge.eids()
