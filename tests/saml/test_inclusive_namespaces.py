"""The XML-DSig profile admits ``ec:InclusiveNamespaces`` (Okta, OpenSAML) exactly where the
exclusive c14n recommendation puts it, and nothing else inside a transform (issue 11).

Hostile shapes are signed genuinely by the IdP's key (the ``template`` hook changes the
signature template before signing), so each refusal comes from the profile check and not from a
broken signature; each is named by the attack and asserts the error code.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from lxml import etree
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso_bridge import errors
from sso_bridge.saml import xmlsec_policy
from tests.saml.conftest import ACS, SP_ENTITY, Bridge
from tests.samlfactory.idp import EXC_C14N, NS, inclusive_namespaces, sign_element

DS = NS["ds"]
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
ENVELOPED = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"
Template = Callable[[etree._Element], None]


def _okta_like(bridge: Bridge, request_id: str, *, prefix_list: str | None = "xs",
               template: Template | None = None, after: Template | None = None) -> str:
    """The assertion signed with an InclusiveNamespaces PrefixList (and xmlns:xs declared on
    the Assertion, as Okta writes it), then the Response. ``after`` changes the assertion's
    signature once signed: for shapes libxmlsec1 itself refuses to sign (an attacker's
    edit, which the profile check must refuse before any signature is verified)."""
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY,
                                    in_response_to=request_id)
    root = etree.fromstring(xml.encode())
    assertion = root.find(f"{{{NS['saml']}}}Assertion")
    assert assertion is not None
    with_xs = etree.Element(assertion.tag, nsmap={**assertion.nsmap, "xs": NS["xs"]},
                            attrib=dict(assertion.attrib))
    with_xs.extend(list(assertion))
    root.replace(assertion, with_xs)
    for node in (with_xs, root):
        sign_element(node, key_pem=bridge.idp.key_pem, cert_pem=bridge.idp.cert_pem,
                     prefix_list=prefix_list if node is with_xs else None,
                     template=template if node is with_xs else None)
    if after is not None:
        after(with_xs.find(f"{{{DS}}}Signature"))
    return etree.tostring(root, encoding="unicode")


def _login(bridge: Bridge, respond: Callable[[str], str]) -> str:
    start = bridge.start()
    return bridge.post(respond(start.request_id), start.relay_token).identity.eid


def _refused(bridge: Bridge, respond: Callable[[str], str],
             code: type[errors.BridgeError]) -> errors.BridgeError:
    start = bridge.start()
    with pytest.raises(code) as refusal:
        bridge.post(respond(start.request_id), start.relay_token)
    return refusal.value


def _transforms(signature: etree._Element) -> list[etree._Element]:
    return signature.findall(f".//{{{DS}}}Transform")


def _c14n_method(signature: etree._Element) -> etree._Element:
    method = signature.find(f".//{{{DS}}}CanonicalizationMethod")
    assert method is not None
    return method


# --- what standard IdPs send --------------------------------------------------------------


def test_inclusive_namespaces_in_the_exc_c14n_reference_transform_is_accepted(
        bridge: Bridge) -> None:
    assert _login(bridge, lambda rid: _okta_like(bridge, rid)) == "alice@example.org"


def test_inclusive_namespaces_in_the_canonicalization_method_is_refused(
        bridge: Bridge) -> None:
    """The exc-c14n recommendation allows it under CanonicalizationMethod too, but no IdP in
    issue 11 sends it there and python3-saml's XSD (xmldsig's strict wildcard) refuses it:
    the bridge names the refusal instead of reporting a schema error."""
    def in_signed_info(signature: etree._Element) -> None:
        inclusive_namespaces(_c14n_method(signature), "xs")

    _refused(bridge, lambda rid: _okta_like(bridge, rid, prefix_list=None,
                                            template=in_signed_info),
             errors.SamlForbiddenTransform)


def test_okta_shape_verifies_in_python3_saml_with_the_restricted_libxmlsec_context(
        bridge: Bridge) -> None:
    """No change to the allow-list inside libxmlsec1 is needed: InclusiveNamespaces is a
    parameter the exc-c14n transform reads, not a transform of its own."""
    assert xmlsec_policy.installed()
    xml = _okta_like(bridge, "_x")
    assert OneLogin_Saml2_Utils.validate_sign(xml, bridge.idp.cert_pem, raise_exceptions=True)


# --- in the wrong place -------------------------------------------------------------------


def _under(algorithm: str) -> Template:
    def move(signature: etree._Element) -> None:
        for transform in _transforms(signature):
            if transform.get("Algorithm") == algorithm:
                inclusive_namespaces(transform, "xs")
    return move


def _inclusive_c14n_with_prefixes(signature: etree._Element) -> None:
    transform = _transforms(signature)[-1]
    transform.set("Algorithm", C14N)
    inclusive_namespaces(transform, "xs")


def _inclusive_c14n_method_with_prefixes(signature: etree._Element) -> None:
    method = _c14n_method(signature)
    method.set("Algorithm", C14N)
    inclusive_namespaces(method, "xs")


@pytest.mark.parametrize("template", [
    _under(ENVELOPED), _inclusive_c14n_with_prefixes, _inclusive_c14n_method_with_prefixes,
], ids=["under-enveloped-signature", "under-inclusive-c14n-transform",
        "under-inclusive-c14n-canonicalization-method"])
def test_inclusive_namespaces_outside_exclusive_c14n_is_refused(bridge: Bridge,
                                                                template: Template) -> None:
    refusal = _refused(bridge, lambda rid: _okta_like(bridge, rid, prefix_list=None,
                                                      template=template),
                       errors.SamlForbiddenTransform)
    assert refusal.code == "saml_forbidden_transform"


def _second_inclusive_namespaces(signature: etree._Element) -> None:
    inclusive_namespaces(_transforms(signature)[-1], "xsi")


def _xpath_beside_it(signature: etree._Element) -> None:
    etree.SubElement(_transforms(signature)[-1], f"{{{DS}}}XPath").text = "not(self::x)"


def _foreign_element_beside_it(signature: etree._Element) -> None:
    etree.SubElement(_transforms(signature)[-1], "{urn:x-evil}payload").text = "x"


def _wrapped_in_another_element(signature: etree._Element) -> None:
    transform = _transforms(signature)[-1]
    (inclusive,) = list(transform)
    wrapper = etree.SubElement(transform, "{urn:x-evil}wrap")
    wrapper.append(inclusive)


@pytest.mark.parametrize("template", [
    _second_inclusive_namespaces, _xpath_beside_it, _foreign_element_beside_it,
    _wrapped_in_another_element,
], ids=["two-inclusive-namespaces", "xpath-beside-it", "foreign-element-beside-it",
        "wrapped-in-another-element"])
def test_more_than_one_inclusive_namespaces_child_is_refused(bridge: Bridge,
                                                             template: Template) -> None:
    """libxmlsec1 will not even sign these; added by an attacker, they are refused by name."""
    _refused(bridge, lambda rid: _okta_like(bridge, rid, after=template),
             errors.SamlForbiddenTransform)


# --- its PrefixList -----------------------------------------------------------------------


def _prefix_list(value: str | None, **extra: str) -> Template:
    def set_it(signature: etree._Element) -> None:
        (inclusive,) = list(_transforms(signature)[-1])
        if value is None:
            del inclusive.attrib["PrefixList"]
        else:
            inclusive.set("PrefixList", value)
        inclusive.attrib.update(extra)
    return set_it


@pytest.mark.parametrize("template", [
    _prefix_list("xs <evil>"), _prefix_list("xs x:y"), _prefix_list("1xs"),
    _prefix_list(" ".join(f"p{i}" for i in range(17))), _prefix_list("p" * 600),
    _prefix_list(None), _prefix_list("xs", Extra="1"),
], ids=["markup", "qname", "not-an-ncname", "17-prefixes", "600-characters",
        "missing", "extra-attribute"])
def test_a_malformed_prefix_list_is_refused(bridge: Bridge, template: Template) -> None:
    _refused(bridge, lambda rid: _okta_like(bridge, rid, after=template),
             errors.SamlForbiddenTransform)


def test_a_prefix_list_edited_after_signing_breaks_the_signature(bridge: Bridge) -> None:
    """PrefixList is part of SignedInfo: widening it to pull another namespace into the
    canonical form changes the signed bytes."""
    def respond(rid: str) -> str:
        return _okta_like(bridge, rid).replace('PrefixList="xs"', 'PrefixList="xs xsi"', 1)

    _refused(bridge, respond, errors.SamlInvalid)


def test_a_prefix_list_removed_after_signing_breaks_the_signature(bridge: Bridge) -> None:
    def respond(rid: str) -> str:
        root = etree.fromstring(_okta_like(bridge, rid).encode())
        for inclusive in root.iter(f"{{{EXC_C14N}}}InclusiveNamespaces"):
            inclusive.getparent().remove(inclusive)
        return etree.tostring(root, encoding="unicode")

    _refused(bridge, respond, errors.SamlInvalid)


def test_rebinding_a_listed_prefix_after_signing_breaks_the_signature(bridge: Bridge) -> None:
    """With PrefixList="xs" the xs declaration is signed even where xs appears only inside
    attribute values (xsi:type="xs:string"): pointing xs at another namespace, to change what
    a typed value means, no longer canonicalises to the signed bytes."""
    def respond(rid: str) -> str:
        return _okta_like(bridge, rid).replace(
            'xmlns:xs="http://www.w3.org/2001/XMLSchema" ID=',
            'xmlns:xs="urn:x-evil:types" ID=', 1)

    xml = _okta_like(bridge, "_probe")
    assert 'xmlns:xs="http://www.w3.org/2001/XMLSchema" ID=' in xml  # on the Assertion
    _refused(bridge, respond, errors.SamlInvalid)
