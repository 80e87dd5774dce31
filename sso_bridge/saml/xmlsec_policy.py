"""Belt and braces for the XML-DSig profile: libxmlsec1 itself refuses transforms SAML never uses.

``checks.precheck`` already refuses such signatures before python3-saml runs; this second line
makes python3-saml's own calls into libxmlsec1 (``OneLogin_Saml2_Utils.validate_node_sign``)
use a ``SignatureContext`` whose reference and signature transforms are allow-listed, as the
W3C XML Signature Best Practices recommend. python3-saml is pinned to 1.16.0, and
``tests/saml/test_xmlsec_policy.py`` proves the patch is in force, so a change upstream that
bypasses it fails the tests instead of silently dropping the protection.

The allow-list names transforms by their libxmlsec1 id. Okta's ``ec:InclusiveNamespaces``
is not a transform but a parameter the exclusive c14n transform reads itself, so it needs no
entry here (``tests/saml/test_inclusive_namespaces.py`` verifies such a signature through
python3-saml); libxmlsec1 refuses to process a second one or a foreign element beside it, and
``checks.check_signature`` refuses it anywhere but in a Reference's exclusive c14n transform.
"""

from __future__ import annotations

import types
from typing import Any

import onelogin.saml2.utils as saml_utils
import xmlsec

_T = xmlsec.constants
REFERENCE_TRANSFORMS = (
    _T.TransformEnveloped, _T.TransformExclC14N, _T.TransformInclC14N,
    # In libxmlsec1 the digest methods count as reference transforms.
    _T.TransformSha256, _T.TransformSha384, _T.TransformSha512,
)
SIGNATURE_TRANSFORMS = (
    _T.TransformExclC14N, _T.TransformInclC14N,
    _T.TransformRsaSha256, _T.TransformRsaSha384, _T.TransformRsaSha512,
    _T.TransformEcdsaSha256, _T.TransformEcdsaSha384, _T.TransformEcdsaSha512,
)


class RestrictedSignatureContext(xmlsec.SignatureContext):  # type: ignore[misc]
    """A SignatureContext that only runs the transforms the SAML signature profile uses."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for transform in REFERENCE_TRANSFORMS:
            self.enable_reference_transform(transform)
        for transform in SIGNATURE_TRANSFORMS:
            self.enable_signature_transform(transform)


def verified_by_any(signature: Any, keys: tuple[xmlsec.Key, ...]) -> bool:
    """Whether libxmlsec1 verifies ``signature`` with one of ``keys``, in the restricted
    context, the key given and never one from the signature's own KeyInfo."""
    for key in keys:
        context = RestrictedSignatureContext()
        context.key = key  # libxmlsec1 works on a duplicate
        context.set_enabled_key_data([xmlsec.constants.KeyDataX509])
        try:
            context.verify(signature)
            return True
        except xmlsec.Error:
            continue
    return False


def _restricted_xmlsec() -> types.ModuleType:
    module = types.ModuleType("xmlsec_restricted", xmlsec.__doc__)
    module.__dict__.update({k: v for k, v in vars(xmlsec).items() if not k.startswith("__")})
    module.SignatureContext = RestrictedSignatureContext  # type: ignore[attr-defined]
    return module


def install() -> None:
    """Make python3-saml's signature checks use the restricted context (idempotent)."""
    if getattr(saml_utils.xmlsec, "SignatureContext", None) is not RestrictedSignatureContext:
        saml_utils.xmlsec = _restricted_xmlsec()  # type: ignore[attr-defined]


def installed() -> bool:
    return saml_utils.xmlsec.SignatureContext is RestrictedSignatureContext
