"""The real SimpleSAMLphp IdP encrypts its assertion using only the bridge's published metadata
(issue 11): the XML as fetched from ``/saml/metadata`` is all the IdP knows of the bridge, and
assertion encryption is switched on for that SP on the IdP side (SP-remote option
``assertion.encryption``). The bridge wants encrypted assertions.

SimpleSAMLphp 1.19 encrypts to a certificate from metadata with RSA-OAEP key transport and
always AES-128-CBC content (saml2 4.6, ``EncryptedAssertion::setAssertion``; its
``sharedkey_algorithm`` option only applies to a pre-shared symmetric key), so the login works
where ``idp.allow_cbc_encryption`` admits CBC, and is refused, changing nothing in Sakai, where
it does not. The posted response is captured to show the assertion really was encrypted.
"""

from __future__ import annotations

from base64 import b64decode
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from lxml import etree

from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import idp_response_for, sim_users, whoami

NS = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion",
      "xenc": "http://www.w3.org/2001/04/xmlenc#",
      "md": "urn:oasis:names:tc:SAML:2.0:metadata"}
RSA_OAEP = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"


@contextmanager
def encrypting_stack(workdir: Path, *, allow_cbc: bool) -> Iterator[DemoStack]:
    """A stack whose IdP knows the bridge only from the XML its /saml/metadata serves."""
    SimpleSamlIdp.check_installed()
    with DemoStack(workdir, bridge_extra={"idp": {"want_assertions_encrypted": True,
                                                  "allow_cbc_encryption": allow_cbc}}) as stack:
        published = requests.get(stack.bridge_url + "/saml/metadata", timeout=5)
        published.raise_for_status()
        stack.idp.register_sp("bridge", published.content, encrypt_assertions=True)
        yield stack


@pytest.fixture(scope="module")
def cbc_admitted(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoStack]:
    with encrypting_stack(tmp_path_factory.mktemp("enc-cbc"), allow_cbc=True) as stack:
        yield stack


def posted_response(stack: DemoStack, username: str,
                    browser: requests.Session) -> tuple[str, dict[str, str], etree._Element]:
    action, fields = idp_response_for(stack, username, browser=browser)
    return action, fields, etree.fromstring(b64decode(fields["SAMLResponse"]))


def test_the_idp_encrypts_to_the_key_of_the_published_metadata(cbc_admitted: DemoStack) -> None:
    stack = cbc_admitted
    registered = etree.parse(str(stack.idp.workdir / "metadata" / "sp-bridge.xml")).getroot()
    assert registered.find(".//md:KeyDescriptor[@use='encryption']", NS) is not None
    browser = requests.Session()
    action, fields, response = posted_response(stack, "alice", browser)
    assert response.find("saml:Assertion", NS) is None  # nothing in the clear
    encrypted = response.find("saml:EncryptedAssertion/xenc:EncryptedData", NS)
    assert encrypted is not None
    assert encrypted.find("xenc:EncryptionMethod", NS).get("Algorithm") == AES128_CBC
    key = encrypted.find(".//xenc:EncryptedKey/xenc:EncryptionMethod", NS)
    assert key is not None and key.get("Algorithm") == RSA_OAEP
    assert b"alice" not in b64decode(fields["SAMLResponse"])

    reply = browser.post(action, data=fields, allow_redirects=False, timeout=20)
    assert reply.status_code == 302, reply.text
    assert reply.headers["Location"] == stack.sakai.url + "/portal"
    assert whoami(stack, browser)["userEid"] == "alice@example.org"
    account = sim_users(stack)["alice@example.org"]
    assert (account["first"], account["last"], account["email"]) == (
        "Alice", "Anderson", "alice@example.org")


def test_cbc_from_the_idp_is_refused_unless_admitted(tmp_path: Path) -> None:
    with encrypting_stack(tmp_path, allow_cbc=False) as stack:
        browser = requests.Session()
        action, fields, response = posted_response(stack, "bob", browser)
        assert response.find("saml:EncryptedAssertion", NS) is not None
        reply = browser.post(action, data=fields, allow_redirects=False, timeout=20)
        assert reply.status_code == 400, reply.text
        assert "(saml_deprecated_algorithm)" in reply.text
        assert "bob@example.org" not in sim_users(stack)
