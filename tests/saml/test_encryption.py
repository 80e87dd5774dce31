"""Encrypted assertions: decrypted with the SP key, and only with algorithms safe from oracles."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest

from sso_bridge import errors
from tests.saml.conftest import ACS, SP_ENTITY, Bridge
from tests.samlfactory.encrypt import encrypt_assertion


def encrypted_response(bridge: Bridge, request_id: str, **algorithms: str) -> str:
    idp = bridge.idp
    xml = idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=request_id)
    signed_assertion = idp.sign(xml, response=False, assertion=True)
    sp_cert = bridge.settings.path(bridge.settings.sp.certificate_file).read_text()
    return idp.sign(encrypt_assertion(signed_assertion, sp_cert, **algorithms),
                    response=True, assertion=False)


def test_an_encrypted_assertion_is_decrypted_and_accepted(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True)
    start = bridge.start()
    result = bridge.post(encrypted_response(bridge, start.request_id), start.relay_token)
    assert result.identity.eid == "alice@example.org"


def test_a_plain_assertion_is_refused_when_encryption_is_required(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True)
    start = bridge.start()
    with pytest.raises(errors.SamlInvalid, match="not encrypted"):
        bridge.post(bridge.response(start.request_id), start.relay_token)


@pytest.mark.parametrize("algorithms", [{"key": "rsa-1_5"}, {"data": "aes128-cbc"}],
                         ids=["rsa-pkcs1-v1.5-key-transport", "aes-cbc-content"])
def test_oracle_prone_algorithms_are_refused_before_decryption(
        make_bridge: Callable[..., Bridge], algorithms: dict[str, str]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True)
    start = bridge.start()
    with pytest.raises(errors.SamlDeprecatedAlgorithm):
        bridge.post(encrypted_response(bridge, start.request_id, **algorithms),
                    start.relay_token)


def test_cbc_can_be_admitted_for_an_idp_without_gcm(make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True, allow_cbc_encryption=True)
    start = bridge.start()
    result = bridge.post(encrypted_response(bridge, start.request_id, data="aes128-cbc"),
                         start.relay_token)
    assert result.identity.eid == "alice@example.org"


def test_garbage_ciphertext_gets_the_uniform_refusal(make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(want_assertions_encrypted=True)
    start = bridge.start()
    xml = encrypted_response(bridge, start.request_id)
    head, _, tail = xml.partition("<xenc:CipherValue>")
    value, _, rest = tail.partition("</xenc:CipherValue>")
    tampered = f"{head}<xenc:CipherValue>{'A' * len(value)}</xenc:CipherValue>{rest}"
    with pytest.raises(errors.SamlInvalid):
        bridge.post(tampered, start.relay_token)


def test_hole4_a_decrypted_name_id_never_reaches_stderr_or_the_log(
        bridge: Bridge, capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """python3-saml decrypts an EncryptedID out of its document, where the ``saml`` prefix is
    undeclared; libxml2 (python-xmlsec's copy) then reports a namespace error quoting the
    decrypted NameID element on file descriptor 2. The login goes through, and neither stderr
    nor the log holds a byte of what was decrypted."""
    from tests.samlfactory.encrypt import encrypt_name_id

    caplog.set_level(logging.DEBUG)
    start = bridge.start()
    qualifier = "urn:decrypted-only:qualifier"
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                    in_response_to=start.request_id,
                                    name_id="hidden@example.org",
                                    name_id_sp_name_qualifier=None)
    xml = xml.replace('<saml:NameID ', f'<saml:NameID NameQualifier="{qualifier}" ', 1)
    xml = xml.replace(f' NameQualifier="{bridge.idp.entity_id}"', "", 1)
    sp_cert = bridge.settings.path(bridge.settings.sp.certificate_file).read_text()
    signed = bridge.idp.sign(encrypt_name_id(xml, sp_cert), response=True, assertion=True)
    assert "EncryptedID" in signed and qualifier not in signed
    capfd.readouterr()
    result = bridge.post(signed, start.relay_token)
    assert result.identity.name_id == "hidden@example.org"
    printed = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for output in (printed.err, printed.out, logged):
        assert "namespace error" not in output and "NameID" not in output
        assert qualifier not in output and "hidden@example.org" not in output


def test_hole4_malformed_decrypted_text_never_reaches_stderr_or_the_log(
        make_bridge: Callable[..., Bridge], capfd: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    """Anyone with the SP's certificate can encrypt text of their choosing: libxml2's parser
    error would print it raw (line breaks included). The refusal is uniform and silent."""
    from tests.samlfactory.encrypt import encrypt_text_as_assertion

    caplog.set_level(logging.DEBUG)
    bridge = make_bridge(want_assertions_encrypted=True)
    start = bridge.start()
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                    in_response_to=start.request_id)
    sp_cert = bridge.settings.path(bridge.settings.sp.certificate_file).read_text()
    secret = b"<saml:Assertion>top-secret\n2026-11-28 INFO forged line</oops>"
    posted = bridge.idp.sign(encrypt_text_as_assertion(xml, secret, sp_cert),
                             response=True, assertion=False)
    capfd.readouterr()
    with pytest.raises(errors.SamlInvalid):
        bridge.post(posted, start.relay_token)
    printed = capfd.readouterr()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for output in (printed.err, printed.out, logged):
        assert "top-secret" not in output and "forged line" not in output
        assert "parser error" not in output
