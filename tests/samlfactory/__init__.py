"""Test-time SAML IdP and hostile-response builders.

``idp`` generates keys at test time, builds realistic SAML 2.0 Responses and signs them the way
python3-saml expects; ``attacks`` mutates genuinely signed responses into the attack catalogue of
docs/saml-hardening.md (B1-B4, B10, B14).
"""

from .idp import (
    DEFAULT,
    DEFAULT_NAME_ID,
    EVIL_NAME_ID,
    NS,
    TestIdp,
    default_attributes,
    encode,
    generate_key_and_cert,
)

__all__ = [
    "DEFAULT",
    "DEFAULT_NAME_ID",
    "EVIL_NAME_ID",
    "NS",
    "TestIdp",
    "default_attributes",
    "encode",
    "generate_key_and_cert",
]
