"""What may be decrypted (saml-hardening.md B15), and keeping decrypted text out of every log.

python3-saml decrypts an EncryptedAssertion in its constructor, before any signature is
checked, and an EncryptedID when the NameID is read, with whatever libxmlsec1 supports. RSA
PKCS#1 v1.5 key transport (Bleichenbacher) and CBC content encryption (Jager & Somorovsky) are
open to oracle attacks, so only RSA-OAEP and AES-GCM are accepted; ``idp.allow_cbc_encryption``
admits AES-CBC for IdPs that cannot do GCM (ADFS).

libxmlsec1 parses the decrypted text with libxml2, and python3-saml decrypts an EncryptedID
out of its document, where the ``saml`` prefix is not declared: libxml2 then reports a
namespace error quoting the decrypted NameID element, through its generic error handler, which
writes to file descriptor 2 (stderr, so the server's log). python-xmlsec links its own copy of
libxml2, whose handlers lxml's error log never sees. :func:`quiet_libxml2` gives that copy a
structured error handler that drops the message, in each thread that decrypts (libxml2 keeps
its handlers per thread). A refusal is still raised by python-xmlsec: only the text is gone.
"""

from __future__ import annotations

import ctypes
import threading
from typing import Any

import xmlsec

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
ENCRYPTED_ELEMENTS = ("EncryptedAssertion", "EncryptedID")


def check_encryption(document: Any, *, allow_cbc: bool) -> None:
    """Refuse an EncryptedAssertion or EncryptedID using algorithms outside the allow-list,
    before anything is decrypted."""
    content = GCM | CBC if allow_cbc else GCM
    for what in ENCRYPTED_ELEMENTS:  # one tag per iter(): python3-saml's element class
        for encrypted in document.iter(f"{{{SAML}}}{what}"):  # takes no more
            data = encrypted.findall(f"{{{XENC}}}EncryptedData")
            if len(data) != 1:
                raise SamlMalformed(f"an {what} must hold exactly one EncryptedData")
            _allowed(data[0], content, "content encryption")
            keys = list(encrypted.iter(f"{{{XENC}}}EncryptedKey"))
            if not keys:
                raise SamlMalformed(f"an {what} carries no EncryptedKey")
            for key in keys:
                _allowed(key, KEY_TRANSPORT, "key transport")


def _allowed(element: Any, allowed: frozenset[str], what: str) -> None:
    method = element.find(f"{{{XENC}}}EncryptionMethod")
    algorithm = method.get("Algorithm") if method is not None else None
    if algorithm not in allowed:
        raise SamlDeprecatedAlgorithm(f"{what} algorithm {str(algorithm)[:100]!r} is not allowed")


# --- libxml2's messages about decrypted text ------------------------------------------------

_ERROR_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)


@_ERROR_HANDLER
def _drop(_context: Any, _error: Any) -> None:
    """libxml2's structured error handler: the message may quote decrypted text; drop it."""


def _libxml2_of_xmlsec() -> Any:
    """``xmlSetStructuredErrorFunc`` of the libxml2 python-xmlsec uses, or None."""
    try:
        function = ctypes.CDLL(xmlsec.__file__).xmlSetStructuredErrorFunc
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_void_p, _ERROR_HANDLER]
    function.restype = None
    return function


_set_structured_error_handler = _libxml2_of_xmlsec()
_threads = threading.local()


def quiet_libxml2() -> bool:
    """Keep python-xmlsec's libxml2 from printing to stderr in this thread (idempotent; cheap
    enough for every request). False if that libxml2 offers no handler to set."""
    if getattr(_threads, "quiet", False):
        return True
    if _set_structured_error_handler is None:
        return False
    _set_structured_error_handler(None, _drop)
    _threads.quiet = True
    return True
