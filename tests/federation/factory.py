"""Federation metadata of eduGAIN's shape, generated and signed at test time.

``aggregate_xml`` writes an ``md:EntitiesDescriptor`` of IdPs and SPs as a federation
publishes it: each IdP with signing (and encryption) certificates, ``shibmd:Scope``,
mdui DisplayName/Description/Keywords/Logo in two languages, an ``mdrpi:RegistrationInfo``
and entity categories; each SP with endpoints and requested attributes. ``sign_aggregate``
signs the root with the federation's key, as the federation does. Dates are offsets from now,
so nothing rots.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape, quoteattr

from lxml import etree

from tests.samlfactory.idp import cert_body, generate_key_and_cert, sign_element

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
REDIRECT = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
POST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
SIRTFI = "https://refeds.org/sirtfi"
SOAP = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"
SHIB1 = "urn:mace:shibboleth:1.0:profiles:AuthnRequest"
NAME_ID_FORMATS = ("urn:oasis:names:tc:SAML:2.0:nameid-format:transient",
                   "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
                   "urn:mace:shibboleth:1.0:nameIdentifier")
RANDS = "http://refeds.org/category/research-and-scholarship"
CATEGORY = "http://macedir.org/entity-category"
SUPPORT = "http://macedir.org/entity-category-support"
NAMESPACES = (
    'xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" '
    'xmlns:ds="http://www.w3.org/2000/09/xmldsig#" '
    'xmlns:shibmd="urn:mace:shibboleth:metadata:1.0" '
    'xmlns:mdui="urn:oasis:names:tc:SAML:metadata:ui" '
    'xmlns:mdrpi="urn:oasis:names:tc:SAML:metadata:rpi" '
    'xmlns:mdattr="urn:oasis:names:tc:SAML:metadata:attribute" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
    'xmlns:remd="http://refeds.org/metadata"'
)


def stamp(offset: timedelta) -> str:
    return (datetime.now(UTC) + offset).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Idp:
    """One IdP of the aggregate; every field has a generated default."""

    entity_id: str
    scopes: Sequence[str] = ()
    names: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    keywords: dict[str, str] = field(default_factory=dict)
    logo: str = ""
    authority: str = "https://www.example-federation.org"
    categories: Sequence[str] = ()
    certs: Sequence[str] = ()
    """Signing certificates (PEM); the encryption one is the first again."""
    sso: str = ""
    slo: str = ""
    want_signed_requests: bool = False
    valid_until: str = ""


def idp_xml(idp: Idp) -> str:
    host = idp.entity_id.split("/")[2] if "//" in idp.entity_id else "idp.example"
    sso = idp.sso or f"https://{host}/idp/profile/SAML2/Redirect/SSO"
    slo = idp.slo or f"https://{host}/idp/profile/SAML2/Redirect/SLO"
    valid = f" validUntil={quoteattr(idp.valid_until)}" if idp.valid_until else ""
    parts = [f"<md:EntityDescriptor entityID={quoteattr(idp.entity_id)}{valid}>",
             "<md:Extensions>",
             f"<mdrpi:RegistrationInfo registrationAuthority={quoteattr(idp.authority)} "
             'registrationInstant="2019-05-02T10:00:00Z">'
             '<mdrpi:RegistrationPolicy xml:lang="en">'
             "https://www.example-federation.org/policy</mdrpi:RegistrationPolicy>"
             "</mdrpi:RegistrationInfo>"]
    if idp.categories:
        parts.append('<mdattr:EntityAttributes><saml:Attribute Name="'
                     f'{SUPPORT}" NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri">')
        parts += [f"<saml:AttributeValue>{escape(c)}</saml:AttributeValue>"
                  for c in idp.categories]
        parts.append("</saml:Attribute></mdattr:EntityAttributes>")
    parts.append("</md:Extensions>")
    signed = "true" if idp.want_signed_requests else "false"
    parts.append('<md:IDPSSODescriptor protocolSupportEnumeration='
                 f'"urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="{signed}">'
                 "<md:Extensions>")
    parts += [f"<shibmd:Scope regexp=\"false\">{escape(s)}</shibmd:Scope>" for s in idp.scopes]
    parts.append("<mdui:UIInfo>")
    parts += [f"<mdui:DisplayName xml:lang={quoteattr(lang)}>{escape(text)}</mdui:DisplayName>"
              for lang, text in idp.names.items()]
    parts += [f"<mdui:Description xml:lang={quoteattr(lang)}>{escape(text)}</mdui:Description>"
              for lang, text in idp.descriptions.items()]
    parts += [f"<mdui:Keywords xml:lang={quoteattr(lang)}>{escape(text)}</mdui:Keywords>"
              for lang, text in idp.keywords.items()]
    if idp.logo:
        parts.append(f'<mdui:Logo height="80" width="80">{escape(idp.logo)}</mdui:Logo>')
    parts += [f'<mdui:InformationURL xml:lang="{lang}">https://{host}/about/{lang}'
              f'</mdui:InformationURL><mdui:PrivacyStatementURL xml:lang="{lang}">'
              f"https://{host}/privacy/{lang}</mdui:PrivacyStatementURL>"
              for lang in idp.names]
    parts.append("</mdui:UIInfo></md:Extensions>")
    parts += [_key(use, cert) for use, cert in
              [*(("signing", c) for c in idp.certs), ("encryption", idp.certs[0])]]
    parts += [f'<md:ArtifactResolutionService Binding="{SOAP}" index="{i}" '
              f'Location="https://{host}:8443/idp/profile/SAML{i}/SOAP/ArtifactResolution"/>'
              for i in (1, 2)]
    parts += [f'<md:SingleLogoutService Binding="{REDIRECT}" Location={quoteattr(slo)}/>',
              f'<md:SingleLogoutService Binding="{POST}" Location={quoteattr(slo)}/>']
    parts += [f"<md:NameIDFormat>{f}</md:NameIDFormat>" for f in NAME_ID_FORMATS]
    parts += [f'<md:SingleSignOnService Binding="{SHIB1}" '
              f'Location="https://{host}/idp/profile/Shibboleth/SSO"/>',
              f'<md:SingleSignOnService Binding="{POST}" Location={quoteattr(sso)}/>',
              f'<md:SingleSignOnService Binding="{REDIRECT}" Location={quoteattr(sso)}/>',
              "</md:IDPSSODescriptor>",
              '<md:AttributeAuthorityDescriptor protocolSupportEnumeration='
              '"urn:oasis:names:tc:SAML:2.0:protocol"><md:Extensions>',
              *(f"<shibmd:Scope regexp=\"false\">{escape(s)}</shibmd:Scope>"
                for s in idp.scopes),
              "</md:Extensions>", _key("signing", idp.certs[0]),
              f'<md:AttributeService Binding="{SOAP}" '
              f'Location="https://{host}:8443/idp/profile/SAML2/SOAP/AttributeQuery"/>',
              "</md:AttributeAuthorityDescriptor>",
              _organization(idp.names.get("en", host)),
              "</md:EntityDescriptor>"]
    return "".join(parts)


def _key(use: str, cert: str) -> str:
    """A KeyDescriptor, its certificate wrapped at 64 columns as federations publish it."""
    body = cert_body(cert)
    wrapped = "\n".join(body[i:i + 64] for i in range(0, len(body), 64))
    return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data>'
            f"<ds:X509Certificate>\n{wrapped}\n</ds:X509Certificate>"
            "</ds:X509Data></ds:KeyInfo></md:KeyDescriptor>")


def sp_xml(entity_id: str, cert: str) -> str:
    host = entity_id.split("/")[2]
    attributes = "".join(
        f'<md:RequestedAttribute FriendlyName="{name}" Name="urn:oid:{oid}" '
        'NameFormat="urn:oasis:names:tc:SAML:2.0:attrname-format:uri" isRequired="true"/>'
        for name, oid in (("eduPersonPrincipalName", "1.3.6.1.4.1.5923.1.1.1.6"),
                          ("mail", "0.9.2342.19200300.100.1.3"), ("givenName", "2.5.4.42"),
                          ("sn", "2.5.4.4"), ("displayName", "2.16.840.1.113730.3.1.241"),
                          ("eduPersonAffiliation", "1.3.6.1.4.1.5923.1.1.1.1"),
                          ("eduPersonEntitlement", "1.3.6.1.4.1.5923.1.1.1.7"),
                          ("schacHomeOrganization", "1.3.6.1.4.1.25178.1.2.9")))
    return (f"<md:EntityDescriptor entityID={quoteattr(entity_id)}><md:Extensions>"
            '<mdrpi:RegistrationInfo registrationAuthority="https://www.example-federation.org"'
            ' registrationInstant="2020-01-01T00:00:00Z"/></md:Extensions>'
            '<md:SPSSODescriptor protocolSupportEnumeration='
            '"urn:oasis:names:tc:SAML:2.0:protocol"><md:Extensions><mdui:UIInfo>'
            f'<mdui:DisplayName xml:lang="en">Service {escape(host)}</mdui:DisplayName>'
            f'<mdui:Description xml:lang="en">A research service at {escape(host)}'
            "</mdui:Description>"
            f'<mdui:InformationURL xml:lang="en">https://{host}/about</mdui:InformationURL>'
            f'<mdui:PrivacyStatementURL xml:lang="en">https://{host}/privacy'
            "</mdui:PrivacyStatementURL></mdui:UIInfo>"
            '<idpdisc:DiscoveryResponse xmlns:idpdisc='
            '"urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol" Binding='
            '"urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol" '
            f'Location="https://{host}/Shibboleth.sso/Login" index="1"/></md:Extensions>'
            + _key("signing", cert) + _key("encryption", cert)
            + f'<md:SingleLogoutService Binding="{REDIRECT}" '
            f'Location="https://{host}/Shibboleth.sso/SLO/Redirect"/>'
            + "".join(f'<md:AssertionConsumerService Binding="{POST}" '
                      f'Location="https://{host}/Shibboleth.sso/SAML2/POST{i}" index="{i}"/>'
                      for i in range(1, 4))
            + '<md:AttributeConsumingService index="1"><md:ServiceName xml:lang="en">'
            f"Service {escape(host)}</md:ServiceName>{attributes}"
            "</md:AttributeConsumingService></md:SPSSODescriptor>"
            + _organization(f"Service {host}") + "</md:EntityDescriptor>")


def _organization(name: str) -> str:
    return ("<md:Organization>"
            f'<md:OrganizationName xml:lang="en">{escape(name)}</md:OrganizationName>'
            f'<md:OrganizationDisplayName xml:lang="en">{escape(name)}'
            "</md:OrganizationDisplayName>"
            '<md:OrganizationURL xml:lang="en">https://www.example.org/</md:OrganizationURL>'
            "</md:Organization>"
            '<md:ContactPerson contactType="technical"><md:GivenName>Ops</md:GivenName>'
            "<md:EmailAddress>mailto:ops@example.org</md:EmailAddress></md:ContactPerson>"
            '<md:ContactPerson contactType="other" remd:contactType='
            '"http://refeds.org/metadata/contactType/security"><md:GivenName>CERT'
            "</md:GivenName><md:EmailAddress>mailto:cert@example.org</md:EmailAddress>"
            "</md:ContactPerson>")


def aggregate_xml(entities: Iterable[str], *, valid_for: timedelta | None = timedelta(days=14),
                  name: str = "urn:example:federation") -> bytes:
    """The unsigned EntitiesDescriptor around ``entities`` (each one's XML)."""
    valid = f' validUntil="{stamp(valid_for)}"' if valid_for is not None else ""
    head = (f'<?xml version="1.0" encoding="UTF-8"?>\n<md:EntitiesDescriptor {NAMESPACES} '
            f'ID="_{uuid.uuid4().hex}" Name={quoteattr(name)}{valid}>\n')
    return (head + "\n".join(entities) + "\n</md:EntitiesDescriptor>\n").encode()


def sign_aggregate(xml: bytes, key_pem: str) -> bytes:
    """The aggregate with an enveloped RSA-SHA256 signature on its root (huge_tree: eduGAIN)."""
    root = etree.fromstring(xml, etree.XMLParser(huge_tree=True, remove_blank_text=False))
    sign_element(root, key_pem=key_pem, cert_pem=None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def signed_entity(entity: str, key_pem: str, *, valid_for: timedelta | None = timedelta(days=1),
                  cache_duration: str = "") -> bytes:
    """One EntityDescriptor signed on its root, as an MDQ service answers."""
    root = etree.fromstring(entity.replace("<md:EntityDescriptor ",
                                           f"<md:EntityDescriptor {NAMESPACES} ", 1).encode())
    root.set("ID", f"_{uuid.uuid4().hex}")
    if valid_for is not None:
        root.set("validUntil", stamp(valid_for))
    if cache_duration:
        root.set("cacheDuration", cache_duration)
    sign_element(root, key_pem=key_pem, cert_pem=None)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def key_pair(name: str) -> tuple[str, str]:
    """(key PEM, certificate PEM), freshly generated."""
    return generate_key_and_cert(name, days=30)
