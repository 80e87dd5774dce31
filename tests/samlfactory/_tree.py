"""lxml helpers shared by the attack builders (kept apart to keep modules small)."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from typing import Concatenate, ParamSpec

from lxml import etree

from .idp import NS

P = ParamSpec("P")


def q(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def parse(xml: str) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return etree.fromstring(xml.encode("utf-8"), parser)


def dump(root: etree._Element) -> str:
    return etree.tostring(root, encoding="unicode")


def mutator(
    fn: Callable[Concatenate[etree._Element, P], None],
) -> Callable[Concatenate[str, P], str]:
    """Turn an in-place mutation of the parsed Response into ``signed_xml -> hostile_xml``."""

    @functools.wraps(fn)
    def wrapper(signed_xml: str, /, *args: P.args, **kwargs: P.kwargs) -> str:
        root = parse(signed_xml)
        fn(root, *args, **kwargs)
        return dump(root)

    return wrapper


def assertion_of(root: etree._Element) -> etree._Element:
    node = root.find(q("saml", "Assertion"))
    if node is None:
        raise ValueError("no saml:Assertion directly under the Response")
    return node


def signature_of(parent: etree._Element) -> etree._Element:
    sig = parent.find(q("ds", "Signature"))
    if sig is None:
        raise ValueError(f"{etree.QName(parent).localname} is not signed")
    return sig


def unsigned_copy(element: etree._Element) -> etree._Element:
    clone = copy.deepcopy(element)
    sig = clone.find(q("ds", "Signature"))
    if sig is not None:
        clone.remove(sig)
    return clone


def after_conditions(assertion: etree._Element, element: etree._Element) -> None:
    """Insert ``element`` where saml:Advice goes (after Conditions, else after Subject)."""
    anchor = assertion.find(q("saml", "Conditions"))
    if anchor is None:
        anchor = assertion.find(q("saml", "Subject"))
    if anchor is None:
        raise ValueError("assertion has neither Conditions nor Subject")
    anchor.addnext(element)


def insert_extensions(root: etree._Element) -> etree._Element:
    """A samlp:Extensions at its schema-valid place (after Issuer and Signature)."""
    ext = etree.Element(q("samlp", "Extensions"))
    anchor = root.find(q("ds", "Signature"))
    if anchor is None:
        anchor = root.find(q("saml", "Issuer"))
    if anchor is None:
        root.insert(0, ext)
    else:
        anchor.addnext(ext)
    return ext
