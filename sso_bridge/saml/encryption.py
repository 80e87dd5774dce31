"""Which XML Encryption algorithms an encrypted assertion may use (saml-hardening.md B15).

python3-saml decrypts in its constructor, before any signature is checked, with whatever
libxmlsec1 supports. RSA PKCS#1 v1.5 key transport (Bleichenbacher) and CBC content encryption
(Jager & Somorovsky) are open to oracle attacks, so only RSA-OAEP and AES-GCM are accepted;
``idp.allow_cbc_encryption`` admits AES-CBC for IdPs that cannot do GCM (ADFS).
"""

from __future__ import annotations

from typing import Any

from sso_bridge.errors import SamlDeprecatedAlgorithm, SamlMalformed

XENC = "http://www.w3.org/2001/04/xmlenc#"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
GCM = frozenset({
    "http://www.w3.org/2009/xmlenc11#aes128-gcm",
    "http://www.w3.org/2009/xmlenc11#aes192-gcm",
    "http://www.w3.org/2009/xmlenc11#aes256-gcm",
})
CBC = frozenset({
    "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes192-cbc",
    "http://www.w3.org/2001/04/xmlenc#aes256-cbc",
})
KEY_TRANSPORT = frozenset({
    "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",
    "http://www.w3.org/2009/xmlenc11#rsa-oaep",
})


def check_encryption(document: Any, *, allow_cbc: bool) -> None:
    """Refuse an EncryptedAssertion using algorithms outside the allow-list, before decryption."""
    content = GCM | CBC if allow_cbc else GCM
    for encrypted in document.iter(f"{{{SAML}}}EncryptedAssertion"):
        data = encrypted.findall(f"{{{XENC}}}EncryptedData")
        if len(data) != 1:
            raise SamlMalformed("an EncryptedAssertion must hold exactly one EncryptedData")
        _allowed(data[0], content, "content encryption")
        keys = list(encrypted.iter(f"{{{XENC}}}EncryptedKey"))
        if not keys:
            raise SamlMalformed("an EncryptedAssertion carries no EncryptedKey")
        for key in keys:
            _allowed(key, KEY_TRANSPORT, "key transport")


def _allowed(element: Any, allowed: frozenset[str], what: str) -> None:
    method = element.find(f"{{{XENC}}}EncryptionMethod")
    algorithm = method.get("Algorithm") if method is not None else None
    if algorithm not in allowed:
        raise SamlDeprecatedAlgorithm(f"{what} algorithm {str(algorithm)[:100]!r} is not allowed")
