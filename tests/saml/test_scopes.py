"""Scoped identifiers must carry a scope the IdP declares (saml-hardening.md B18), and the EID
comes from a scoped identifier unless the admin opts in (issue 10, hole 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.errors import ConfigError
from sso_bridge.saml.metadata import parse_idp_metadata
from sso_bridge.settings import load_settings
from tests.saml.conftest import BASE, SAKAI, Bridge, build_bridge
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
SUBJECT_ID = "urn:oasis:names:tc:SAML:attribute:subject-id"
UID = "urn:oid:0.9.2342.19200300.100.1.1"


def ScopedIdp(*scopes: tuple[str, bool]) -> TestIdp:  # noqa: N802 - reads as a class
    return TestIdp(scopes=scopes)


def login_as(bridge: Bridge, eppn: str) -> str:
    return bridge.login(attributes={EPPN: [eppn]}).identity.eid


def test_metadata_scopes_are_read(tmp_path: Path) -> None:
    idp = ScopedIdp(("example.org", False), (r"^.*\.example\.org$", True))
    metadata = parse_idp_metadata(idp.metadata_xml().encode(), source="x", key="k")
    assert [(s.value, s.regexp) for s in metadata.scopes] == [
        ("example.org", False), (r"^.*\.example\.org$", True)]


def test_an_eppn_in_the_idps_scope_is_accepted(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp(("example.org", False)))
    assert login_as(bridge, "jane@Example.ORG") == "jane@example.org"


def test_an_eppn_of_another_organisation_is_refused(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp(("example.org", False)))
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "dean@other-university.edu")
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "dean@example.org.evil.example")


def test_a_subject_id_of_another_organisation_is_refused(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp(("example.org", False)))
    with pytest.raises(errors.IdentityScopeError):
        bridge.login(attributes={SUBJECT_ID: ["1234@other-university.edu"]})
    assert bridge.login(attributes={SUBJECT_ID: ["1234@example.org"]}).identity.eid == \
        "1234@example.org"


def test_a_regexp_scope_admits_subdomains(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp((r"^(.*\.)?example\.org$", True)))
    assert login_as(bridge, "x@physics.example.org") == "x@physics.example.org"
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "x@example.org.evil")


def test_a_broken_regexp_scope_is_a_config_error() -> None:
    idp = ScopedIdp(("([", True))
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_idp_metadata(idp.metadata_xml().encode(), source="x", key="idp.metadata_file")


def test_without_any_known_scope_a_scoped_eid_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'idp.scopes'.*declares no shibmd:Scope"):
        build_bridge(tmp_path, ScopedIdp())


def test_config_scopes_stand_in_when_the_metadata_declares_none(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp(), {"scopes": ["example.org"]})
    assert login_as(bridge, "ann@example.org") == "ann@example.org"
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "ann@elsewhere.example")


def test_metadata_scopes_win_over_config_scopes(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp(("example.org", False)),
                          {"scopes": ["elsewhere.example"]})
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "ann@elsewhere.example")


def _config(tmp_path: Path, attributes: dict[str, object]) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                        idp={"metadata_file": "idp.xml"}, extra={"attributes": attributes})


def test_hole1_an_unscoped_uid_eid_is_refused_without_opt_in(tmp_path: Path) -> None:
    """Issue 10 hole 1: with the old example config's unscoped uid fallback, an IdP user
    whose uid is "admin" became Sakai's administrator. Now the config is refused."""
    path, env = _config(tmp_path, {"eid": ["eduPersonPrincipalName", "uid"]})
    with pytest.raises(ConfigError, match=r"'attributes.eid': uid carries no scope"):
        load_settings(path, env)


def test_hole1_an_unscoped_nameid_eid_is_refused_without_opt_in(tmp_path: Path) -> None:
    path, env = _config(tmp_path, {"eid": ["nameid"]})
    with pytest.raises(ConfigError, match=r"allow_unscoped_eid"):
        load_settings(path, env)


def test_hole1_uid_admin_cannot_become_the_eid_by_default(tmp_path: Path) -> None:
    """With the default EID sources, a response that carries only uid=admin (no scoped
    identifier) names nobody."""
    bridge = build_bridge(tmp_path, TestIdp())
    with pytest.raises(errors.IdentityError, match="none of the EID sources"):
        bridge.login(attributes={UID: ["admin"]})


def test_an_opted_in_unscoped_uid_is_taken(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, TestIdp(), extra={
        "attributes": {"eid": ["uid"], "allow_unscoped_eid": True}})
    assert bridge.login(attributes={UID: ["Jdoe"]}).identity.eid == "jdoe"


def test_a_transient_nameid_is_never_an_eid(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, TestIdp(), extra={
        "attributes": {"eid": ["nameid"], "allow_unscoped_eid": True}})
    with pytest.raises(errors.IdentityError, match="none of the EID sources"):
        bridge.login(attributes={UID: ["jdoe"]})  # the factory's NameID is transient


def test_hole1_the_example_config_takes_the_eid_from_scoped_identifiers_only() -> None:
    """The shipped example fell back to an unscoped uid; an admin copying it must not."""
    import tomllib

    from sso_bridge.eid_sources import unscoped
    from sso_bridge.settings import AttributesSection

    example = Path(__file__).parents[2] / "config" / "bridge.example.toml"
    attributes = tomllib.loads(example.read_text())["attributes"]
    assert attributes["allow_unscoped_eid"] is False
    assert unscoped(AttributesSection(eid=attributes["eid"])) == []


def test_hole1_an_email_nameid_that_is_no_address_cannot_name_admin(tmp_path: Path) -> None:
    """With the NameID as EID (Google, Okta presets), an emailAddress-format NameID must be an
    address: "admin" in that format would otherwise name Sakai's administrator."""
    bridge = build_bridge(tmp_path, TestIdp(), extra={
        "attributes": {"eid": ["nameid"], "allow_unscoped_eid": True}})
    email = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    with pytest.raises(errors.IdentityError, match="is no address"):
        bridge.login(name_id="admin", name_id_format=email, attributes={UID: ["x"]})
    identity = bridge.login(name_id="Ann@Example.org", name_id_format=email,
                            attributes={UID: ["x"]}).identity
    assert (identity.eid, identity.email) == ("ann@example.org", "Ann@Example.org")


def test_a_config_scope_that_is_no_domain_is_named(tmp_path: Path) -> None:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                             idp={"metadata_file": "idp.xml", "scopes": ["example.org", "*"]})
    with pytest.raises(ConfigError, match=r"'idp.scopes': '\*' is not a domain"):
        load_settings(path, env)
