"""Scoped identifiers must carry a scope the IdP's metadata declares (saml-hardening.md B18)."""

from __future__ import annotations

from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.errors import ConfigError
from sso_bridge.saml.metadata import parse_idp_metadata
from tests.saml.conftest import Bridge, build_bridge
from tests.samlfactory.idp import TestIdp

EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"


class ScopedIdp(TestIdp):
    __test__ = False

    def __init__(self, *scopes: tuple[str, bool]) -> None:
        super().__init__()
        self.scopes = scopes

    def metadata_xml(self) -> str:
        extensions = "".join(
            f'<shibmd:Scope xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" '
            f'regexp="{str(regexp).lower()}">{value}</shibmd:Scope>'
            for value, regexp in self.scopes)
        xml = super().metadata_xml()
        head, tag, rest = xml.partition("<md:IDPSSODescriptor")
        opening, close, body = rest.partition(">")
        return f"{head}{tag}{opening}{close}<md:Extensions>{extensions}</md:Extensions>{body}"


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


def test_a_regexp_scope_admits_subdomains(tmp_path: Path) -> None:
    bridge = build_bridge(tmp_path, ScopedIdp((r"^(.*\.)?example\.org$", True)))
    assert login_as(bridge, "x@physics.example.org") == "x@physics.example.org"
    with pytest.raises(errors.IdentityScopeError):
        login_as(bridge, "x@example.org.evil")


def test_a_broken_regexp_scope_is_a_config_error() -> None:
    idp = ScopedIdp(("([", True))
    with pytest.raises(ConfigError, match="not a valid regular expression"):
        parse_idp_metadata(idp.metadata_xml().encode(), source="x", key="idp.metadata_file")


def test_without_declared_scopes_any_eppn_is_taken(bridge: Bridge) -> None:
    assert login_as(bridge, "someone@anywhere.example") == "someone@anywhere.example"
