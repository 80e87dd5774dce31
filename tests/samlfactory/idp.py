"""A test-time SAML 2.0 IdP: keys, metadata, Response builder and XML-DSig signing.

Everything is generated at test time (design.md item 12): keys and certificates are fresh per
``TestIdp``, and every timestamp is an offset in seconds from ``now``, so fixtures never rot.
"""

from __future__ import annotations

import base64
import enum
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Literal

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from xmlsec import constants as xc

NS = {
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "xs": "http://www.w3.org/2001/XMLSchema",
    "xsi": "http://www.w3.org/2001/XMLSchema-instance",
}
SHIBMD = "urn:mace:shibboleth:metadata:1.0"
TRANSIENT = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
STATUS_SUCCESS = "urn:oasis:names:tc:SAML:2.0:status:Success"
PPT = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
BEARER = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
REDIRECT_BINDING = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
NAME_FORMATS = {
    "uri": "urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
    "basic": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic",
}
# OID name -> friendly name of the default eduPerson attributes.
OIDS = {
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": "eduPersonPrincipalName",
    "urn:oid:0.9.2342.19200300.100.1.3": "mail",
    "urn:oid:2.5.4.42": "givenName",
    "urn:oid:2.5.4.4": "sn",
    "urn:oid:0.9.2342.19200300.100.1.1": "uid",
    "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": "eduPersonAffiliation",
}
EPPN_NAMES = ("urn:oid:1.3.6.1.4.1.5923.1.1.1.6", "eduPersonPrincipalName")
DEFAULT_NAME_ID = "alice@example.org"
EVIL_NAME_ID = "victim@example.org"


class _Default(enum.Enum):
    TOKEN = "DEFAULT"


DEFAULT = _Default.TOKEN
"""Sentinel: "use the natural value" (the ACS URL, the SP entity ID...); ``None`` means omit."""


def _ns(prefix: str, tag: str) -> str:
    return f"{{{NS[prefix]}}}{tag}"


def _new_id() -> str:
    return "_" + uuid.uuid4().hex


def _ts(now: datetime, offset: int | None) -> str | None:
    """``now + offset`` seconds as SAML dateTime, or ``None`` (omit) for ``None``."""
    if offset is None:
        return None
    return (now + timedelta(seconds=offset)).strftime("%Y-%m-%dT%H:%M:%SZ")


def cert_body(cert_pem: str) -> str:
    """The base64 body of a PEM certificate, as it appears in ds:X509Certificate."""
    lines = cert_pem.strip().splitlines()
    return "".join(line for line in lines if not line.startswith("-----"))


def generate_key_and_cert(common_name: str, *, days: int = 365,
                          key_size: int = 2048) -> tuple[str, str]:
    """A fresh RSA key and a self-signed SHA-256 certificate: ``(key PEM, cert PEM)``."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=key_size)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def default_attributes(identity: str = DEFAULT_NAME_ID,
                       name_format: Literal["uri", "basic"] = "uri") -> dict[str, list[str]]:
    """~6 eduPerson attributes for ``identity``; OID names for "uri", friendly names for "basic"."""
    local = identity.split("@", 1)[0]
    values = [[identity], [identity], [local.capitalize()], ["Tester"], [local],
              ["member", "student"]]
    names = list(OIDS) if name_format == "uri" else list(OIDS.values())
    return dict(zip(names, values, strict=True))


def encode(xml: str) -> str:
    """Base64, as posted in the SAMLResponse form field (HTTP-POST binding)."""
    return base64.b64encode(xml.encode("utf-8")).decode("ascii")


def _sub(parent: etree._Element | None, prefix: str, tag: str, text: str | None = None,
         nsmap: dict[str, str] | None = None, **attrs: str | None) -> etree._Element:
    """A child (or, with ``parent=None``, a root) element; ``None`` attributes are omitted."""
    if parent is None:
        el = etree.Element(_ns(prefix, tag), nsmap=nsmap)
    else:
        el = etree.SubElement(parent, _ns(prefix, tag), nsmap=nsmap)
    for key, value in attrs.items():
        if value is not None:
            el.set(key, value)
    if text is not None:
        el.text = text
    return el


def _pick(value: str | None | _Default, default: str) -> str | None:
    return default if value is DEFAULT else value  # type: ignore[return-value]


EXC_C14N = "http://www.w3.org/2001/10/xml-exc-c14n#"


def inclusive_namespaces(parent: etree._Element, prefix_list: str) -> etree._Element:
    """An ``ec:InclusiveNamespaces PrefixList=...`` child of a c14n Transform or
    CanonicalizationMethod, as Okta and OpenSAML write it."""
    return etree.SubElement(parent, f"{{{EXC_C14N}}}InclusiveNamespaces",
                            nsmap={"ec": EXC_C14N}, PrefixList=prefix_list)


def sign_element(
    element: etree._Element,
    *,
    key_pem: str,
    cert_pem: str | None,
    algorithm: Literal["sha256", "sha1"] = "sha256",
    prefix_list: str | None = None,
    template: Callable[[etree._Element], None] | None = None,
    ds_prefix: str | None = "ds",
) -> etree._Element:
    """Add an enveloped signature to ``element`` (in place) right after its saml:Issuer.

    Exclusive c14n, enveloped-signature + exc-c14n transforms, Reference URI="#<ID>". With
    ``cert_pem`` the certificate is embedded in ds:KeyInfo/ds:X509Data. ``prefix_list``: an
    ``ec:InclusiveNamespaces`` in the Reference's exc-c14n transform (Okta's shape);
    ``template`` may change the ds:Signature template before it is signed (hostile shapes
    signed genuinely).
    """
    sig_alg, digest_alg = {
        "sha256": (xc.TransformRsaSha256, xc.TransformSha256),
        "sha1": (xc.TransformRsaSha1, xc.TransformSha1),
    }[algorithm]
    signature = xmlsec.template.create(element, xc.TransformExclC14N, sig_alg, ns=ds_prefix)
    issuer = element.find(_ns("saml", "Issuer"))
    if issuer is None:
        element.insert(0, signature)
    else:
        issuer.addnext(signature)
        signature.tail = issuer.tail
    ref = xmlsec.template.add_reference(signature, digest_alg, uri="#" + element.get("ID", ""))
    xmlsec.template.add_transform(ref, xc.TransformEnveloped)
    c14n = xmlsec.template.add_transform(ref, xc.TransformExclC14N)
    if prefix_list is not None:
        inclusive_namespaces(c14n, prefix_list)
    if template is not None:
        template(signature)
    key = xmlsec.Key.from_memory(key_pem, xc.KeyDataFormatPem)
    if cert_pem is not None:
        x509_data = xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
        xmlsec.template.x509_data_add_certificate(x509_data)
        key.load_cert_from_memory(cert_pem, xc.KeyDataFormatCertPem)
    xmlsec.tree.add_ids(element.getroottree().getroot(), ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = key
    ctx.sign(signature)
    return signature


class TestIdp:
    """A SAML IdP living only inside the test process, with a freshly generated key."""

    __test__ = False  # not a pytest test class

    def __init__(
        self,
        entity_id: str = "https://idp.test.example/idp",
        sso_url: str = "https://idp.test.example/sso",
        want_signed_requests: bool = False,
        scopes: tuple[str | tuple[str, bool], ...] = ("example.org", "example.edu"),
    ) -> None:
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.want_signed_requests = want_signed_requests
        self.scopes = tuple((s, False) if isinstance(s, str) else s for s in scopes)
        """shibmd:Scope values of the metadata, ``(value, regexp)``; empty: none declared."""
        self.key_pem, self.cert_pem = generate_key_and_cert("idp.test.example")

    def idp_settings(self) -> dict[str, object]:
        """The ``idp`` block of python3-saml settings trusting this IdP."""
        return {
            "entityId": self.entity_id,
            "singleSignOnService": {"url": self.sso_url, "binding": REDIRECT_BINDING},
            "x509cert": cert_body(self.cert_pem),
        }

    def metadata_xml(self) -> str:
        root = _sub(None, "md", "EntityDescriptor", nsmap={"md": NS["md"], "ds": NS["ds"]},
                    entityID=self.entity_id)
        idp = _sub(root, "md", "IDPSSODescriptor",
                   protocolSupportEnumeration=NS["samlp"],
                   WantAuthnRequestsSigned=str(self.want_signed_requests).lower())
        if self.scopes:
            extensions = _sub(idp, "md", "Extensions")
            for value, regexp in self.scopes:
                scope = etree.SubElement(extensions, f"{{{SHIBMD}}}Scope", nsmap={"shibmd": SHIBMD})
                scope.set("regexp", str(regexp).lower())
                scope.text = value
        key_info = _sub(_sub(idp, "md", "KeyDescriptor", use="signing"), "ds", "KeyInfo")
        _sub(_sub(key_info, "ds", "X509Data"), "ds", "X509Certificate", cert_body(self.cert_pem))
        _sub(idp, "md", "NameIDFormat", TRANSIENT)
        _sub(idp, "md", "SingleSignOnService", Binding=REDIRECT_BINDING, Location=self.sso_url)
        return etree.tostring(root, pretty_print=True, encoding="unicode")

    def build_response(
        self,
        *,
        acs_url: str,
        sp_entity_id: str,
        in_response_to: str | None,
        name_id: str = DEFAULT_NAME_ID,
        name_id_format: str | None = TRANSIENT,
        name_id_sp_name_qualifier: str | None | _Default = DEFAULT,
        attributes: dict[str, list[str]] | None = None,
        attribute_name_format: Literal["uri", "basic"] = "uri",
        destination: str | None | _Default = DEFAULT,
        recipient: str | None | _Default = DEFAULT,
        audience: str | None | _Default = DEFAULT,
        scd_not_on_or_after: int | None = 300,
        conditions_not_before: int | None = -60,
        conditions_not_on_or_after: int | None = 300,
        issue_instant: int = 0,
        authn_instant: int = 0,
        session_not_on_or_after: int | None = None,
        session_index: str | None | _Default = DEFAULT,
        issuer: str | None = None,
        status_code: str = STATUS_SUCCESS,
        response_id: str | None = None,
        assertion_id: str | None = None,
        now: datetime | None = None,
    ) -> str:
        """An unsigned Response (XML text) with one bearer Assertion.

        ``DEFAULT`` means: Destination/Recipient = ``acs_url``, Audience and SPNameQualifier =
        ``sp_entity_id``, a fresh SessionIndex. ``None`` omits the attribute/element
        (``audience=None`` drops the whole AudienceRestriction). Times are offsets in seconds
        from ``now`` (``None`` omits them). ``in_response_to`` goes on the Response and on the
        SubjectConfirmationData. A non-Success ``status_code`` yields a Response without
        Assertion. ``attributes`` defaults to
        ``default_attributes(name_id, attribute_name_format)``.
        """
        now = now or datetime.now(UTC)
        issuer = issuer or self.entity_id
        response = _sub(None, "samlp", "Response",
                        nsmap={"samlp": NS["samlp"], "saml": NS["saml"]},
                        ID=response_id or _new_id(), Version="2.0",
                        IssueInstant=_ts(now, issue_instant),
                        Destination=_pick(destination, acs_url), InResponseTo=in_response_to)
        _sub(response, "saml", "Issuer", issuer)
        _sub(_sub(response, "samlp", "Status"), "samlp", "StatusCode", Value=status_code)
        if status_code != STATUS_SUCCESS:
            return etree.tostring(response, pretty_print=True, encoding="unicode")

        assertion = _sub(response, "saml", "Assertion", ID=assertion_id or _new_id(),
                         Version="2.0", IssueInstant=_ts(now, issue_instant))
        _sub(assertion, "saml", "Issuer", issuer)
        subject = _sub(assertion, "saml", "Subject")
        _sub(subject, "saml", "NameID", name_id, Format=name_id_format,
             NameQualifier=self.entity_id,
             SPNameQualifier=_pick(name_id_sp_name_qualifier, sp_entity_id))
        confirmation = _sub(subject, "saml", "SubjectConfirmation", Method=BEARER)
        _sub(confirmation, "saml", "SubjectConfirmationData",
             NotOnOrAfter=_ts(now, scd_not_on_or_after),
             Recipient=_pick(recipient, acs_url), InResponseTo=in_response_to)
        conditions = _sub(assertion, "saml", "Conditions",
                          NotBefore=_ts(now, conditions_not_before),
                          NotOnOrAfter=_ts(now, conditions_not_on_or_after))
        audience_value = _pick(audience, sp_entity_id)
        if audience_value is not None:
            restriction = _sub(conditions, "saml", "AudienceRestriction")
            _sub(restriction, "saml", "Audience", audience_value)
        authn = _sub(assertion, "saml", "AuthnStatement", AuthnInstant=_ts(now, authn_instant),
                     SessionIndex=_pick(session_index, _new_id()),
                     SessionNotOnOrAfter=_ts(now, session_not_on_or_after))
        _sub(_sub(authn, "saml", "AuthnContext"), "saml", "AuthnContextClassRef", PPT)
        if attributes is None:
            attributes = default_attributes(name_id, attribute_name_format)
        statement = _sub(assertion, "saml", "AttributeStatement")
        for name, values in attributes.items():
            attr = _sub(statement, "saml", "Attribute", Name=name,
                        NameFormat=NAME_FORMATS[attribute_name_format],
                        FriendlyName=OIDS.get(name))
            for value in values:  # Shibboleth-style: xs/xsi declared on each AttributeValue
                _sub(attr, "saml", "AttributeValue", value,
                     nsmap={"xs": NS["xs"], "xsi": NS["xsi"]}, **{_ns("xsi", "type"): "xs:string"})
        return etree.tostring(response, pretty_print=True, encoding="unicode")

    def sign(self, xml: str, *, response: bool = True, assertion: bool = True,
             algorithm: Literal["sha256", "sha1"] = "sha256", key_pem: str | None = None,
             cert_pem: str | None = None, prefix_list: str | None = None,
             template: Callable[[etree._Element], None] | None = None) -> str:
        """Sign the Assertion (first) and then the Response, each right after its Issuer.

        ``key_pem`` signs with another key (e.g. one not in metadata); ``cert_pem`` is the
        certificate embedded in KeyInfo (default: this IdP's certificate, even with another key).
        """
        root = etree.fromstring(xml.encode("utf-8"))
        targets = root.findall(_ns("saml", "Assertion")) if assertion else []
        for node in [*targets, root] if response else targets:
            sign_element(node, key_pem=key_pem or self.key_pem,
                         cert_pem=cert_pem or self.cert_pem, algorithm=algorithm,
                         prefix_list=prefix_list, template=template)
        return etree.tostring(root, encoding="unicode")

    def signed_response(self, *, sign_response: bool = True, sign_assertion: bool = True,
                        algorithm: Literal["sha256", "sha1"] = "sha256",
                        **kwargs: object) -> str:
        """``build_response(**kwargs)`` then ``sign`` (both signatures by default)."""
        xml = self.build_response(**kwargs)  # type: ignore[arg-type]
        return self.sign(xml, response=sign_response, assertion=sign_assertion,
                         algorithm=algorithm)
