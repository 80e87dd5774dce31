"""Issue 11: every IdP product's default response logs in, with nothing configured but
``idp.preset`` (and the IdP's metadata). Each response is built in the product's documented
default shape (tests/samlfactory/products.py cites the source of each quirk), posted through a
solicited login at /saml/acs, and the Sakai simulator must then hold the learner's account
with the EID, names and email a Sakai admin would expect."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from sso_bridge.demo.sakai_sim import SakaiSimulator
from tests.interop.conftest import ACS, SP_ENTITY, InteropBridge, make_bridge
from tests.samlfactory import products
from tests.samlfactory.idp import TestIdp


def _product_bridge(tmp_path: Path, sim: SakaiSimulator, product: str,
                    scopes: tuple[str, ...] = ()) -> InteropBridge:
    shape = products.SHAPES[product]
    idp = TestIdp(entity_id=shape.entity_id, scopes=scopes)
    return make_bridge(tmp_path, sim, idp, {"preset": product})


def _logs_in(bridge: InteropBridge, product: str, eid: str, *, given: str = products.GIVEN,
             family: str = products.FAMILY, email: str = products.MAIL,
             shape: products.Shape | None = None) -> None:
    shape = shape or products.SHAPES[product]
    login = bridge.login(lambda request_id: products.build(
        shape, bridge.idp, acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=request_id,
        sp_cert_pem=bridge.sp_cert_pem))
    assert login.status == 302, login.text
    assert login.location.startswith(bridge.sim.url + "/portal"), login.location
    user = bridge.user(eid)
    assert (user.eid, user.first, user.last, user.email) == (eid, given, family, email)


def test_entra_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    _logs_in(_product_bridge(tmp_path, sim, "entra"), "entra", products.MAIL)


def test_adfs_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    _logs_in(_product_bridge(tmp_path, sim, "adfs"), "adfs", products.MAIL)


def test_okta_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    """Okta's assertion signature carries <ec:InclusiveNamespaces PrefixList="xs"/>."""
    _logs_in(_product_bridge(tmp_path, sim, "okta"), "okta", products.MAIL)


def test_google_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    """No AttributeStatement: the EID and the email come from the NameID; no names."""
    _logs_in(_product_bridge(tmp_path, sim, "google"), "google", products.MAIL,
             given="", family="")


def test_shibboleth_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    """Response signed, assertion encrypted (AES-128-GCM) to the bridge's certificate; the EID
    is the eppn, in the scope the IdP's metadata declares."""
    bridge = _product_bridge(tmp_path, sim, "shibboleth", scopes=("example.org",))
    _logs_in(bridge, "shibboleth", "jdoe@example.org")


def test_keycloak_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    """One <Attribute Name="Role"> per role, merged; the EID is the username (NameID)."""
    bridge = _product_bridge(tmp_path, sim, "keycloak")
    _logs_in(bridge, "keycloak", "jdoe")
    assert bridge.user("jdoe").type == "student"  # the "student" role, via sakai.user_types


def test_simplesamlphp_default_response_logs_in(tmp_path: Path, sim: SakaiSimulator) -> None:
    bridge = _product_bridge(tmp_path, sim, "simplesamlphp", scopes=("example.org",))
    _logs_in(bridge, "simplesamlphp", "jdoe@example.org")


# --- their encryption ---------------------------------------------------------------------


def _encrypted(product: str, data: str) -> products.Shape:
    return dataclasses.replace(products.SHAPES[product], encryption=data)


def test_simplesamlphp_encrypting_with_aes128_cbc_logs_in_through_its_preset(
        tmp_path: Path, sim: SakaiSimulator) -> None:
    """With assertion.encryption on, SimpleSAMLphp 1.19 encrypts with AES-128-CBC."""
    bridge = _product_bridge(tmp_path, sim, "simplesamlphp", scopes=("example.org",))
    _logs_in(bridge, "simplesamlphp", "jdoe@example.org",
             shape=_encrypted("simplesamlphp", "aes128-cbc"))


def test_adfs_encrypting_with_aes256_cbc_logs_in_through_its_preset(
        tmp_path: Path, sim: SakaiSimulator) -> None:
    """AD FS encrypts with AES-256-CBC once the relying party has an encryption certificate,
    which the bridge's metadata publishes."""
    _logs_in(_product_bridge(tmp_path, sim, "adfs"), "adfs", products.MAIL,
             shape=_encrypted("adfs", "aes256-cbc"))


def test_cbc_stays_refused_where_the_preset_does_not_admit_it(
        tmp_path: Path, sim: SakaiSimulator) -> None:
    bridge = _product_bridge(tmp_path, sim, "keycloak")
    shape = _encrypted("keycloak", "aes256-cbc")
    login = bridge.login(lambda rid: products.build(
        shape, bridge.idp, acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=rid,
        sp_cert_pem=bridge.sp_cert_pem))
    assert "(saml_deprecated_algorithm)" in login.text and 400 <= login.status < 500, login.text
    assert "jdoe" not in bridge.eids()
