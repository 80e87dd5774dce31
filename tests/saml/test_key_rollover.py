"""SP key rollover without an outage (saml-hardening.md A17): while ``sp.next_certificate_file``
is set, the SP metadata publishes both certificates and an assertion (or NameID) encrypted to
either decrypts. An IdP that has fetched the new metadata may use the new key at once; one that
has not yet still uses the old one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from sso_bridge import errors
from sso_bridge.keys import generate
from sso_bridge.services import Services, build_services
from sso_bridge.settings import load_settings
from tests.saml.conftest import ACS, BASE, SAKAI, SP_ENTITY
from tests.samlfactory.encrypt import encrypt_assertion, encrypt_name_id
from tests.samlfactory.idp import NS, TestIdp, encode
from tests.support import write_config

IDP = TestIdp()


def configure(tmp_path: Path, *, next_cert: str | None = "next.crt",
              next_key: str | None = "next.key",
              encrypted_assertions: bool = True) -> tuple[Path, dict[str, str]]:
    """The IdP metadata, a next and an unrelated key pair, and a bridge configuration."""
    (tmp_path / "idp.xml").write_text(IDP.metadata_xml())
    for name in ("next", "other"):
        if not (tmp_path / f"{name}.key").exists():
            generate(tmp_path / f"{name}.key", tmp_path / f"{name}.crt", common_name=name,
                     bits=2048, days=30)
    extra = {"sp": {"next_certificate_file": next_cert}} if next_cert else None
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, extra=extra,
                             idp={"metadata_file": "idp.xml",
                                  "want_assertions_encrypted": encrypted_assertions})
    if next_key:
        env["SSO_BRIDGE_SP_NEXT_KEY_FILE"] = str(tmp_path / next_key)
    return path, env


def start(tmp_path: Path, **rollover: Any) -> Services:
    return build_services(load_settings(*configure(tmp_path, **rollover)))


def login(services: Services, encrypt_to: Path, *, name_id_too: bool = False,
          assertion_too: bool = True) -> str:
    """A login whose assertion (and/or NameID) is encrypted to the certificate in
    ``encrypt_to``."""
    sp = services.sp
    begun = sp.begin_login(SAKAI + "/portal")
    xml = IDP.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=begun.request_id,
                             name_id="rolled@example.org")
    cert = encrypt_to.read_text()
    if name_id_too:
        xml = encrypt_name_id(xml, cert)
    signed_assertion = IDP.sign(xml, response=False, assertion=True)
    if assertion_too:
        signed_assertion = encrypt_assertion(signed_assertion, cert)
    posted = IDP.sign(signed_assertion, response=True, assertion=False)
    result = sp.complete_login(encode(posted), begun.relay_token, begun.state)
    return result.identity.name_id


def test_both_certificates_are_published_for_encryption(tmp_path: Path) -> None:
    services = start(tmp_path)
    metadata = etree.fromstring(services.sp.metadata().encode())
    published = {"".join(c.text.split()) for c in metadata.iterfind(
        ".//md:KeyDescriptor[@use='encryption']//ds:X509Certificate", NS)}
    for cert in ("sp.crt", "next.crt"):
        body = "".join((tmp_path / cert).read_text().split("-----")[2].split())
        assert body in published


@pytest.mark.parametrize("encrypt_to", ["sp.crt", "next.crt"])
def test_an_assertion_encrypted_to_either_key_is_read(tmp_path: Path, encrypt_to: str) -> None:
    services = start(tmp_path)
    assert login(services, tmp_path / encrypt_to) == "rolled@example.org"


def test_an_encrypted_name_id_for_the_next_key_is_read(tmp_path: Path) -> None:
    services = start(tmp_path)
    assert login(services, tmp_path / "next.crt", name_id_too=True) == "rolled@example.org"


def test_a_plain_assertion_with_a_name_id_encrypted_to_the_next_key_is_read(
        tmp_path: Path) -> None:
    """Nothing for the current key to decrypt at first: the EncryptedID fails with it when the
    NameID is read, and the next key's settings read it."""
    services = start(tmp_path, encrypted_assertions=False)
    assert login(services, tmp_path / "next.crt", name_id_too=True,
                 assertion_too=False) == "rolled@example.org"


def test_an_assertion_for_a_key_the_sp_does_not_hold_is_refused(tmp_path: Path) -> None:
    services = start(tmp_path)
    with pytest.raises(errors.SamlInvalid):
        login(services, tmp_path / "other.crt")


def test_without_a_next_key_only_the_current_one_decrypts(tmp_path: Path) -> None:
    services = start(tmp_path, next_cert=None, next_key=None)
    assert login(services, tmp_path / "sp.crt") == "rolled@example.org"
    with pytest.raises(errors.SamlInvalid):
        login(services, tmp_path / "next.crt")


@pytest.mark.parametrize("next_cert, next_key, expected", [
    ("next.crt", None, "SSO_BRIDGE_SP_NEXT_KEY"),
    (None, "next.key", "'sp.next_certificate_file'"),
    ("next.crt", "other.key", "SSO_BRIDGE_SP_NEXT_KEY: the SP private key does not match"),
    ("missing.crt", "next.key", "'sp.next_certificate_file': cannot read"),
])
def test_a_half_configured_rollover_is_named_at_start_up(
        tmp_path: Path, next_cert: str | None, next_key: str | None, expected: str) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        start(tmp_path, next_cert=next_cert, next_key=next_key)
    assert any(expected in problem for problem in caught.value.problems), caught.value.problems


def test_check_config_reports_the_rollover(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sso_bridge.cli import main

    path, env = configure(tmp_path)
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "SP key rollover in progress: the next certificate next.crt" in result.output
    assert "the SP certificate next.crt expires in" in result.output  # 30-day test certificate
