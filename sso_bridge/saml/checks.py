"""What the bridge checks before a SAMLResponse is validated (saml-hardening.md, section D).

``precheck``: size cap before decoding, strict base64, one parse (so no second parser can
disagree) with the settings of python3-saml's defused parser, no DOCTYPE, and an XML-DSig
profile allow-list: one Reference per Signature pointing at an ID in the document, only the
enveloped-signature and (exclusive) c14n transforms, empty but for one
``ec:InclusiveNamespaces`` PrefixList in a Reference's exclusive c14n transform (Okta's shape),
no ``ds:Object`` or ``Manifest``, no SHA-1.
The XSLT pre-authentication CPU attack (B14) is refused here in microseconds. The checks after
it, python3-saml's and the bridge's, are in ``saml/response.py``.
"""

from __future__ import annotations

import binascii
import re
import threading
from dataclasses import dataclass
from typing import Any

from lxml import etree

from sso_bridge.errors import (
    SamlDeprecatedAlgorithm,
    SamlForbiddenTransform,
    SamlForbiddenXml,
    SamlMalformed,
    SamlTooLarge,
)

DS = "http://www.w3.org/2000/09/xmldsig#"
EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
SAMLP = "urn:oasis:names:tc:SAML:2.0:protocol"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

ALLOWED_TRANSFORMS = frozenset({
    "http://www.w3.org/2000/09/xmldsig#enveloped-signature",
    EXC_C14N,
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
})
ALLOWED_C14N = frozenset({
    EXC_C14N,
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
})
ALLOWED_SIGNATURE_METHODS = frozenset({
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384",
    "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha512",
})
ALLOWED_DIGESTS = frozenset({
    "http://www.w3.org/2001/04/xmlenc#sha256",
    "http://www.w3.org/2001/04/xmldsig-more#sha384",
    "http://www.w3.org/2001/04/xmlenc#sha512",
})


# python3-saml's parser settings (onelogin/saml2/xmlparser.py, from defusedxml): no entities,
# no network, comments and processing instructions dropped while parsing. Its element class,
# which hides entity, comment and PI nodes from Python iteration, is left out: with these
# settings and no DOCTYPE there are none, and the class costs a Python generator per iteration.
PARSER_OPTIONS = {"resolve_entities": False, "remove_comments": True, "no_network": True,
                  "remove_pis": True, "huge_tree": False}
_parsers = threading.local()  # an lxml parser is not safe to share between threads
_OBJECT, _MANIFEST = f"{{{DS}}}Object", f"{{{DS}}}Manifest"
_SIGNED_INFO, _REFERENCE, _TRANSFORM = (f"{{{DS}}}SignedInfo", f"{{{DS}}}Reference",
                                        f"{{{DS}}}Transform")
_INCLUSIVE_NAMESPACES = f"{{{EXC_C14N}}}InclusiveNamespaces"
MAX_PREFIXES, MAX_PREFIX_LIST = 16, 512
_NCNAME = re.compile(r"[A-Za-z_][A-Za-z0-9._-]{0,63}")


def parse(xml: bytes) -> Any:
    """The root element of ``xml``; a DOCTYPE (so any entity declaration) is refused."""
    parser = getattr(_parsers, "parser", None)
    if parser is None:
        parser = _parsers.parser = etree.XMLParser(**PARSER_OPTIONS)
    root = etree.fromstring(xml, parser)
    docinfo = root.getroottree().docinfo
    if docinfo.doctype or docinfo.internalDTD is not None or docinfo.externalDTD is not None:
        raise SamlForbiddenXml("the response carries a DOCTYPE")
    return root


@dataclass(frozen=True)
class Parsed:
    document: Any
    """The lxml root of the response: the one and only parse, pre-checked."""


def precheck(saml_response: str, max_bytes: int) -> Parsed:
    """Decode and parse the posted SAMLResponse, refusing what SAML never needs."""
    if len(saml_response) > (max_bytes * 4) // 3 + 8:
        raise SamlTooLarge(f"SAMLResponse is {len(saml_response)} characters of base64; "
                           f"the limit is {max_bytes} bytes decoded")
    try:
        xml = _decode(saml_response)
    except (binascii.Error, ValueError) as exc:
        raise SamlMalformed(f"SAMLResponse is not base64: {exc}") from exc
    if b"<!DOCTYPE" in xml or b"<!ENTITY" in xml:
        raise SamlForbiddenXml("the response carries a DOCTYPE or entity declaration")
    try:
        document = parse(xml)
    except etree.XMLSyntaxError as exc:
        raise SamlMalformed(f"the response is not well-formed XML: {exc}") from exc
    if document.tag != f"{{{SAMLP}}}Response":
        raise SamlMalformed(f"the root element is {document.tag}, not samlp:Response")
    for signature in document.iter(f"{{{DS}}}Signature"):
        check_signature(signature, document)
    return Parsed(document=document)


def _decode(saml_response: str) -> bytes:
    """Strict base64; line breaks and spaces (some IdPs wrap at 76 columns) are allowed."""
    try:
        return binascii.a2b_base64(saml_response, strict_mode=True)
    except (binascii.Error, ValueError):
        return binascii.a2b_base64("".join(saml_response.split()), strict_mode=True)


def children(element: Any) -> dict[str, list[Any]]:
    """The child elements of ``element`` by tag, in document order: one walk instead of a
    ``find`` per tag."""
    found: dict[str, list[Any]] = {}
    for child in element.iterchildren(etree.Element):
        found.setdefault(child.tag, []).append(child)
    return found


def check_signature(signature: Any, document: Any) -> None:
    """Refuse a ds:Signature outside the SAML profile (also used on decrypted assertions)."""
    parts = children(signature)
    if _OBJECT in parts or next(signature.iter(_MANIFEST), None) is not None:
        raise SamlForbiddenTransform("a signature carries ds:Object or ds:Manifest")
    if _SIGNED_INFO not in parts:
        raise SamlMalformed("a signature has no SignedInfo")
    signed_info = children(parts[_SIGNED_INFO][0])
    _allowed(signed_info, "CanonicalizationMethod", ALLOWED_C14N, SamlForbiddenTransform)
    if len(signed_info[f"{{{DS}}}CanonicalizationMethod"][0]):
        # python3-saml's XSD refuses it there too (xmldsig's strict wildcard): Okta and
        # OpenSAML put InclusiveNamespaces only in the Reference's transform.
        raise SamlForbiddenTransform("a CanonicalizationMethod has content")
    _allowed(signed_info, "SignatureMethod", ALLOWED_SIGNATURE_METHODS, SamlDeprecatedAlgorithm)
    references = signed_info.get(_REFERENCE, [])
    if len(references) != 1:
        raise SamlForbiddenTransform(f"a signature has {len(references)} References; SAML uses 1")
    reference = references[0]
    uri = reference.get("URI", "")
    if not uri.startswith("#") or len(uri) < 2:
        raise SamlForbiddenTransform(f"a Reference points outside the document: {uri[:80]!r}")
    parent = signature.getparent()
    if parent is None or parent.get("ID") != uri[1:]:
        raise SamlForbiddenTransform("a signature does not sign the element that holds it")
    for transform in reference.iter(_TRANSFORM):
        if transform.get("Algorithm") not in ALLOWED_TRANSFORMS:
            raise SamlForbiddenTransform(
                f"signature transform {str(transform.get('Algorithm'))[:100]!r} is not allowed")
        _check_transform_content(transform)
    _allowed(children(reference), "DigestMethod", ALLOWED_DIGESTS, SamlDeprecatedAlgorithm)


def _check_transform_content(method: Any) -> None:
    """A Transform holds nothing, except that an exclusive c14n one may hold one
    ``ec:InclusiveNamespaces`` with a PrefixList (Okta and OpenSAML send it there), and no
    text at all."""
    if (method.text or "").strip():
        raise SamlForbiddenTransform("a signature transform carries text")
    content = list(method)  # comments and PIs are dropped by the parser
    if not content:
        return
    algorithm = str(method.get("Algorithm"))[:100]
    if len(content) > 1 or content[0].tag != _INCLUSIVE_NAMESPACES or algorithm != EXC_C14N:
        what = ", ".join(sorted({str(c.tag)[:100] for c in content}))
        raise SamlForbiddenTransform(f"signature transform {algorithm!r} carries {what}; only "
                                     "one ec:InclusiveNamespaces in exclusive c14n is allowed")
    _check_prefix_list(content[0])


def _check_prefix_list(inclusive: Any) -> None:
    if len(inclusive) or (inclusive.text or "").strip():
        raise SamlForbiddenTransform("ec:InclusiveNamespaces has content")
    if set(inclusive.attrib) != {"PrefixList"}:
        raise SamlForbiddenTransform("ec:InclusiveNamespaces carries attributes other than "
                                     "PrefixList")
    prefix_list = inclusive.get("PrefixList")
    prefixes = prefix_list.split()
    if len(prefix_list) > MAX_PREFIX_LIST or len(prefixes) > MAX_PREFIXES:
        raise SamlForbiddenTransform(f"ec:InclusiveNamespaces lists {len(prefixes)} prefixes "
                                     f"in {len(prefix_list)} characters (at most {MAX_PREFIXES})")
    bad = [p for p in prefixes if p != "#default" and not _NCNAME.fullmatch(p)]
    if bad:
        raise SamlForbiddenTransform(f"ec:InclusiveNamespaces PrefixList holds {bad[0][:40]!r}, "
                                     "not a namespace prefix")


def _allowed(parts: dict[str, list[Any]], name: str, allowed: frozenset[str],
             error: type[Exception]) -> None:
    found = parts.get(f"{{{DS}}}{name}", [])
    if len(found) != 1 or found[0].get("Algorithm") not in allowed:
        algorithm = found[0].get("Algorithm") if found else None
        raise error(f"{name} {str(algorithm)[:100]!r} is not allowed")
