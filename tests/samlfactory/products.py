"""Responses in the documented default shape of seven IdP products, signed (and encrypted) by a
``TestIdp`` key at test time.

Each ``Shape`` records what the product does out of the box, with the source of each quirk:
namespace prefixes (a default namespace for Microsoft's), which element is signed, the NameID,
the attribute names and NameFormats, where ``xs``/``xsi`` are declared (and so whether the
signature needs an ``ec:InclusiveNamespaces``), and the encryption.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Literal

from lxml import etree

from .encrypt import encrypt_assertion
from .idp import BEARER, NS, STATUS_SUCCESS, TRANSIENT, TestIdp, sign_element

SAMLP, SAML, XS, XSI = NS["samlp"], NS["saml"], NS["xs"], NS["xsi"]
UNSPECIFIED = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
EMAIL = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"
PASSWORD = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"


@dataclass(frozen=True)
class Attr:
    name: str
    values: tuple[str, ...]
    name_format: str | None = None
    friendly_name: str | None = None


@dataclass(frozen=True)
class Shape:
    product: str
    entity_id: str
    protocol_prefix: str | None
    assertion_prefix: str | None
    """None: the default namespace (Entra ID and AD FS write ``<Assertion xmlns="...">``)."""
    sign_response: bool
    sign_assertion: bool
    name_id: str
    name_id_format: str | None
    attributes: tuple[Attr, ...] = ()
    typed_values: Literal["none", "value", "assertion"] = "none"
    """Where xs/xsi are declared for ``xsi:type="xs:string"``: not at all, on each
    AttributeValue, or (as well) on the Assertion."""
    type_prefix: str = "xs"
    prefix_list: str | None = None
    """An ``ec:InclusiveNamespaces PrefixList`` in the assertion signature's exc-c14n."""
    ds_prefix: str | None = "ds"
    encryption: str | None = None
    authn_context: str = PPT
    name_id_qualifiers: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def _q(namespace: str, tag: str) -> str:
    return f"{{{namespace}}}{tag}"


def _ts(now: datetime, offset: int) -> str:
    return (now + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _element(parent: etree._Element | None, namespace: str, tag: str, prefix: str | None,
             text: str | None = None, **attrs: str) -> etree._Element:
    """An element in ``namespace``, declared (with ``prefix``, None: default namespace) on it
    unless its parent already has it in scope, as these IdPs write it."""
    in_scope = parent is not None and namespace in parent.nsmap.values()
    nsmap = None if in_scope else {prefix: namespace}
    el = (etree.Element(_q(namespace, tag), nsmap=nsmap) if parent is None
          else etree.SubElement(parent, _q(namespace, tag), nsmap=nsmap))
    for key, value in attrs.items():
        el.set(key, value)
    if text is not None:
        el.text = text
    return el


def build(shape: Shape, idp: TestIdp, *, acs_url: str, sp_entity_id: str,
          in_response_to: str, sp_cert_pem: str = "", now: datetime | None = None) -> str:
    """The signed (and, if the shape says so, encrypted) Response, as XML text."""
    now = now or datetime.now(UTC)
    p, a = shape.protocol_prefix, shape.assertion_prefix
    response = _element(None, SAMLP, "Response", p, ID="_" + uuid.uuid4().hex, Version="2.0",
                        IssueInstant=_ts(now, 0), Destination=acs_url,
                        InResponseTo=in_response_to)
    _element(response, SAML, "Issuer", a, shape.entity_id)
    status = _element(response, SAMLP, "Status", p)
    _element(status, SAMLP, "StatusCode", p, Value=STATUS_SUCCESS)
    assertion = _assertion(response, shape, acs_url, sp_entity_id, in_response_to, now)
    if shape.sign_assertion:
        sign_element(assertion, key_pem=idp.key_pem, cert_pem=idp.cert_pem,
                     prefix_list=shape.prefix_list, ds_prefix=shape.ds_prefix)
    xml = etree.tostring(response, encoding="unicode")
    if shape.encryption:
        xml = encrypt_assertion(xml, sp_cert_pem, data=shape.encryption)
    if shape.sign_response:
        root = etree.fromstring(xml.encode())
        sign_element(root, key_pem=idp.key_pem, cert_pem=idp.cert_pem,
                     ds_prefix=shape.ds_prefix)
        xml = etree.tostring(root, encoding="unicode")
    return xml


def _assertion(response: etree._Element, shape: Shape, acs_url: str, sp_entity_id: str,
               in_response_to: str, now: datetime) -> etree._Element:
    a = shape.assertion_prefix
    nsmap: dict[str | None, str] = {a: SAML}
    if shape.typed_values == "assertion":
        nsmap[shape.type_prefix] = XS
    assertion = etree.SubElement(response, _q(SAML, "Assertion"), nsmap=nsmap)
    assertion.attrib.update({"ID": "_" + uuid.uuid4().hex, "IssueInstant": _ts(now, 0),
                             "Version": "2.0"})
    _element(assertion, SAML, "Issuer", a, shape.entity_id)
    subject = _element(assertion, SAML, "Subject", a)
    name_id = _element(subject, SAML, "NameID", a, shape.name_id)
    if shape.name_id_format:
        name_id.set("Format", shape.name_id_format)
    if shape.name_id_qualifiers:
        name_id.set("NameQualifier", shape.entity_id)
        name_id.set("SPNameQualifier", sp_entity_id)
    confirmation = _element(subject, SAML, "SubjectConfirmation", a, Method=BEARER)
    _element(confirmation, SAML, "SubjectConfirmationData", a, InResponseTo=in_response_to,
             NotOnOrAfter=_ts(now, 300), Recipient=acs_url)
    conditions = _element(assertion, SAML, "Conditions", a, NotBefore=_ts(now, -60),
                          NotOnOrAfter=_ts(now, 300))
    _element(_element(conditions, SAML, "AudienceRestriction", a), SAML, "Audience", a,
             sp_entity_id)
    authn = _element(assertion, SAML, "AuthnStatement", a, AuthnInstant=_ts(now, -5),
                     SessionIndex="_" + uuid.uuid4().hex)
    _element(_element(authn, SAML, "AuthnContext", a), SAML, "AuthnContextClassRef", a,
             shape.authn_context)
    if shape.attributes:
        _attribute_statement(assertion, shape)
    return assertion


def _attribute_statement(assertion: etree._Element, shape: Shape) -> None:
    a = shape.assertion_prefix
    statement = _element(assertion, SAML, "AttributeStatement", a)
    for attr in shape.attributes:
        node = _element(statement, SAML, "Attribute", a, Name=attr.name)
        if attr.name_format:
            node.set("NameFormat", attr.name_format)
        if attr.friendly_name:
            node.set("FriendlyName", attr.friendly_name)
        for value in attr.values:
            nsmap = {shape.type_prefix: XS, "xsi": XSI} if shape.typed_values != "none" else None
            el = etree.SubElement(node, _q(SAML, "AttributeValue"), nsmap=nsmap)
            if nsmap:
                el.set(_q(XSI, "type"), f"{shape.type_prefix}:string")
            el.text = value


# --- the seven products --------------------------------------------------------------------
# The learner: Jane Doe, jane.doe@example.org (login jdoe), a student.

GIVEN, FAMILY, MAIL, LOGIN = "Jane", "Doe", "jane.doe@example.org", "jdoe"


def _eduperson(name_format: str, friendly_only: bool) -> tuple[Attr, ...]:
    oids = [("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName", f"{LOGIN}@example.org"),
            ("urn:oid:0.9.2342.19200300.100.1.3", "mail", MAIL),
            ("urn:oid:2.5.4.42", "givenName", GIVEN), ("urn:oid:2.5.4.4", "sn", FAMILY),
            ("urn:oid:2.16.840.1.113730.3.1.241", "displayName", f"{GIVEN} {FAMILY}"),
            ("urn:oid:1.3.6.1.4.1.5923.1.1.1.9", "eduPersonScopedAffiliation",
             "student@example.org")]
    if friendly_only:  # SimpleSAMLphp: Name is the friendly name, NameFormat basic
        return (*(Attr(friendly, (value,), name_format) for _, friendly, value in oids),
                Attr("uid", (LOGIN,), name_format),
                Attr("eduPersonAffiliation", ("member", "student"), name_format))
    return tuple(Attr(oid, (value,), name_format, friendly) for oid, friendly, value in oids)


SHAPES: dict[str, Shape] = {
    # Entra ID: learn.microsoft.com/entra/identity-platform/single-sign-on-saml-protocol
    # (sample Response: samlp prefix, <Assertion xmlns="urn:...:assertion"> and <Signature
    # xmlns="http://www.w3.org/2000/09/xmldsig#"> in the default namespace, assertion signed
    # only) and .../reference-saml-tokens (claim URIs, AttributeValue without xsi:type, no
    # NameFormat); the default "Unique User Identifier" is user.userprincipalname.
    "entra": Shape(
        "entra", "https://sts.windows.net/7f1d2c3b-0000-4a5e-9c1d-3e2f1a0b9c8d/", "samlp", None,
        sign_response=False, sign_assertion=True, name_id=MAIL, name_id_format=EMAIL,
        ds_prefix=None, authn_context=PASSWORD, attributes=(
            Attr("http://schemas.microsoft.com/identity/claims/tenantid",
                 ("7f1d2c3b-0000-4a5e-9c1d-3e2f1a0b9c8d",)),
            Attr("http://schemas.microsoft.com/identity/claims/objectidentifier",
                 ("0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",)),
            Attr("http://schemas.microsoft.com/identity/claims/displayname", ("Jane Doe",)),
            Attr(CLAIMS + "givenname", (GIVEN,)), Attr(CLAIMS + "surname", (FAMILY,)),
            Attr(CLAIMS + "emailaddress", (MAIL,)), Attr(CLAIMS + "name", (MAIL,)))),
    # AD FS: learn.microsoft.com/windows-server/identity/ad-fs/operations (relying party
    # SamlResponseSignature "AssertionOnly" default; "Send LDAP Attributes as Claims" rule
    # giving upn/emailaddress/givenname/surname claim URIs; a "Transform an Incoming Claim"
    # rule for the Name ID); the same default-namespace serialisation as Entra (WIF).
    "adfs": Shape(
        "adfs", "http://adfs.example.org/adfs/services/trust", "samlp", None,
        sign_response=False, sign_assertion=True, name_id=MAIL, name_id_format=EMAIL,
        ds_prefix=None, attributes=(
            Attr(CLAIMS + "upn", (MAIL,)), Attr(CLAIMS + "emailaddress", (MAIL,)),
            Attr(CLAIMS + "givenname", (GIVEN,)), Attr(CLAIMS + "surname", (FAMILY,)))),
    # Okta: published Okta responses (e.g. the sample in tjwoods' spring-security-saml
    # GiveTokenForTestFilter): saml2p/saml2 prefixes re-declared on children, Response and
    # assertion both signed, NameID format unspecified holding the username (an email);
    # attribute statements (firstName, lastName, email, NameFormat unspecified) with
    # xmlns:xs on the Assertion, so the assertion's exc-c14n transform carries
    # <ec:InclusiveNamespaces PrefixList="xs"/> (issue 11).
    "okta": Shape(
        "okta", "http://www.okta.com/exk1a2b3c4d5e6f7g8h9", "saml2p", "saml2",
        sign_response=True, sign_assertion=True, name_id=MAIL, name_id_format=UNSPECIFIED,
        typed_values="assertion", prefix_list="xs", attributes=(
            Attr("firstName", (GIVEN,), "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"),
            Attr("lastName", (FAMILY,), "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"),
            Attr("email", (MAIL,), "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"))),
    # Google Workspace: support.google.com/a/answer/6087519 (custom SAML app: NameID "Basic
    # information > Primary email", format EMAIL when chosen; "Signed response" off, so the
    # assertion alone is signed; no attribute mapping, so no AttributeStatement).
    "google": Shape(
        "google", "https://accounts.google.com/o/saml2?idpid=C01abc2de", "saml2p", "saml2",
        sign_response=False, sign_assertion=True, name_id=MAIL, name_id_format=EMAIL,
        authn_context="urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"),
    # Shibboleth IdP 4/5: shibboleth.atlassian.net/wiki/spaces/IDP4 (RelyingPartyConfiguration
    # SAML2.SSO defaults: signResponses true, signAssertions false, encryptAssertions true;
    # AES-128-GCM data encryption since IdP 4; transient NameID; attributes by OID, NameFormat
    # uri, FriendlyName; OpenSAML writes xsi:type="xsd:string" with xmlns:xsd on each value).
    "shibboleth": Shape(
        "shibboleth", "https://idp.example.org/idp/shibboleth", "saml2p", "saml2",
        sign_response=True, sign_assertion=False, name_id="AAdzZWNyZXQx" + uuid.uuid4().hex,
        name_id_format=TRANSIENT, name_id_qualifiers=True, typed_values="value",
        type_prefix="xsd", encryption="aes128-gcm", attributes=_eduperson(URI, False)),
    # Keycloak: keycloak.org/docs/latest/server_admin (SAML client defaults: "Sign documents"
    # on, "Sign assertions" off, Name ID format username; the role list mapper's "Single Role
    # Attribute" off, so one <Attribute Name="Role"> per role: RoleListMapper javadoc; the
    # predefined "X500 email/givenName/surname" mappers send OIDs, NameFormat uri).
    "keycloak": Shape(
        "keycloak", "https://kc.example.org/realms/university", "samlp", "saml",
        sign_response=True, sign_assertion=False, name_id=LOGIN, name_id_format=UNSPECIFIED,
        typed_values="value", ds_prefix="dsig", attributes=(
            Attr("urn:oid:1.2.840.113549.1.9.1", (MAIL,), URI, "email"),
            Attr("urn:oid:2.5.4.42", (GIVEN,), URI, "givenName"),
            Attr("urn:oid:2.5.4.4", (FAMILY,), URI, "surname"),
            Attr("Role", ("student",), BASIC), Attr("Role", ("offline_access",), BASIC),
            Attr("Role", ("default-roles-university",), BASIC))),
    # SimpleSAMLphp 1.19 (Debian 12), modules/saml/lib/IdP/SAML2.php: saml20.sign.response and
    # saml20.sign.assertion default true, attribute NameFormat basic by default; transient
    # NameID (simplesamlphp-reference-idp-hosted); SAML2\Assertion declares xmlns:xs and
    # xmlns:xsi on the Assertion for xsi:type values; vendor/simplesamlphp/saml2
    # EncryptedAssertion.php encrypts with AES-128-CBC to an RSA key.
    "simplesamlphp": Shape(
        "simplesamlphp", "https://idp.example.org/simplesaml/saml2/idp/metadata.php", "samlp",
        "saml", sign_response=True, sign_assertion=True, name_id="_" + uuid.uuid4().hex,
        name_id_format=TRANSIENT, typed_values="assertion",
        attributes=_eduperson(BASIC, True)),
}
