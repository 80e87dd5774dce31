"""The IdP metadata comes over the bridge's one HTTP stack (sso_bridge.httpclient): https with
the system's trust store and hostname checks, no redirects followed, a size cap."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.saml import metadata
from sso_bridge.saml.metadata import load_idp_metadata
from tests.sakai.test_http_client import Scripted
from tests.sakai.tls import localhost_certificate, server_context
from tests.samlfactory.idp import TestIdp


def reply(body: bytes, status: str = "200 OK", extra: str = "") -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/samlmetadata+xml\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n").encode() + body


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Scripted, Path]]:
    cert_path, key_path = localhost_certificate(tmp_path)
    server = Scripted(tls=server_context(cert_path, key_path))
    yield server, cert_path
    server.stop()


def test_metadata_over_https_from_a_trusted_server(tls_server: tuple[Scripted, Path],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert_path = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # the system trust store, in a test
    idp = TestIdp()
    server.answer(reply(idp.metadata_xml().encode()))
    loaded = load_idp_metadata(url=f"https://localhost:{server.port}/idp.xml?v=1", timeout=5)
    assert loaded.entity_id == idp.entity_id
    assert server.requests[0].startswith(b"GET /idp.xml?v=1 HTTP/1.1")


def test_metadata_from_an_untrusted_server_is_refused(tls_server: tuple[Scripted, Path]) -> None:
    server, _ = tls_server
    server.answer(reply(TestIdp().metadata_xml().encode()))
    with pytest.raises(errors.ConfigError, match="'idp.metadata_url': cannot fetch .*TLS"):
        load_idp_metadata(url=f"https://localhost:{server.port}/idp.xml", timeout=5)
    assert server.requests == []


def test_a_redirect_is_not_followed() -> None:
    server = Scripted()
    server.answer(reply(b"", "302 Found", "Location: http://attacker.invalid/idp.xml\r\n"))
    try:
        with pytest.raises(errors.ConfigError, match="answered HTTP 302"):
            load_idp_metadata(url=f"http://127.0.0.1:{server.port}/idp.xml", timeout=5)
    finally:
        server.stop()


def test_metadata_over_the_size_cap_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(metadata, "MAX_METADATA_BYTES", 1000)
    server = Scripted()
    server.answer(reply(TestIdp().metadata_xml().encode() + b" " * 1000), close=True)
    try:
        with pytest.raises(errors.ConfigError, match="larger than 1000 bytes"):
            load_idp_metadata(url=f"http://127.0.0.1:{server.port}/idp.xml", timeout=5)
    finally:
        server.stop()
