"""Encrypting a signed assertion for the SP, as an IdP does (sign, encrypt, then sign Response)."""

from __future__ import annotations

import xmlsec
from lxml import etree

from .idp import NS

C = xmlsec.constants
DATA = {"aes256-gcm": C.TransformAes256Gcm, "aes128-gcm": C.TransformAes128Gcm,
        "aes128-cbc": C.TransformAes128Cbc, "aes256-cbc": C.TransformAes256Cbc}
KEY = {"rsa-oaep": C.TransformRsaOaep, "rsa-1_5": C.TransformRsaPkcs1}


def encrypt_assertion(xml: str, sp_cert_pem: str, *, data: str = "aes256-gcm",
                      key: str = "rsa-oaep") -> str:
    """Replace the (signed) saml:Assertion of ``xml`` by an EncryptedAssertion for the SP."""
    root = etree.fromstring(xml.encode())
    assertion = root.find(f"{{{NS['saml']}}}Assertion")
    assert assertion is not None
    _encrypt(root, assertion, "EncryptedAssertion", sp_cert_pem, data, key)
    return etree.tostring(root, encoding="unicode")


def encrypt_name_id(xml: str, sp_cert_pem: str) -> str:
    """Replace the Subject's NameID of ``xml`` (before signing) by an EncryptedID for the SP."""
    root = etree.fromstring(xml.encode())
    name_id = root.find(f".//{{{NS['saml']}}}Subject/{{{NS['saml']}}}NameID")
    assert name_id is not None
    _encrypt(root, name_id, "EncryptedID", sp_cert_pem, "aes256-gcm", "rsa-oaep")
    return etree.tostring(root, encoding="unicode")


def _encrypt(root: etree._Element, element: etree._Element, wrapper_name: str,
             sp_cert_pem: str, data: str, key: str) -> None:
    template = xmlsec.template.encrypted_data_create(root, DATA[data], type=C.TypeEncElement,
                                                     ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, KEY[key])
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_cert_pem, C.KeyDataFormatCertPem, None))
    context = xmlsec.EncryptionContext(manager)
    bits = 256 if data.startswith("aes256") else 128
    context.key = xmlsec.Key.generate(C.KeyDataAes, bits, C.KeyDataTypeSession)
    encrypted = context.encrypt_xml(template, element)
    wrapper = etree.Element(f"{{{NS['saml']}}}{wrapper_name}")
    encrypted.addprevious(wrapper)
    wrapper.append(encrypted)


def encrypt_text_as_assertion(xml: str, plaintext: bytes, sp_cert_pem: str) -> str:
    """Replace the saml:Assertion of ``xml`` by an EncryptedAssertion whose plaintext is
    ``plaintext`` as given (anyone holding the SP's certificate can make one)."""
    root = etree.fromstring(xml.encode())
    assertion = root.find(f"{{{NS['saml']}}}Assertion")
    assert assertion is not None
    template = xmlsec.template.encrypted_data_create(root, C.TransformAes256Gcm,
                                                     type=C.TypeEncElement, ns="xenc")
    xmlsec.template.encrypted_data_ensure_cipher_value(template)
    key_info = xmlsec.template.encrypted_data_ensure_key_info(template, ns="dsig")
    encrypted_key = xmlsec.template.add_encrypted_key(key_info, C.TransformRsaOaep)
    xmlsec.template.encrypted_data_ensure_cipher_value(encrypted_key)
    manager = xmlsec.KeysManager()
    manager.add_key(xmlsec.Key.from_memory(sp_cert_pem, C.KeyDataFormatCertPem, None))
    context = xmlsec.EncryptionContext(manager)
    context.key = xmlsec.Key.generate(C.KeyDataAes, 256, C.KeyDataTypeSession)
    wrapper = etree.Element(f"{{{NS['saml']}}}EncryptedAssertion")
    assertion.addprevious(wrapper)
    wrapper.append(context.encrypt_binary(template, plaintext))
    root.remove(assertion)
    return etree.tostring(root, encoding="unicode")
