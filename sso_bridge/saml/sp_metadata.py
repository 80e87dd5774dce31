"""The SP metadata that IdPs and federations accept, from the settings alone.

python3-saml's ``OneLogin_Saml2_Metadata`` builds the skeleton (EntityDescriptor, SPSSODescriptor,
ACS, SingleLogoutService, NameIDFormat), adds the KeyDescriptors and signs; lxml adds what it
cannot: a second SingleLogoutService binding, EncryptionMethod preferences, mdui:UIInfo, the
idpdisc:DiscoveryResponse (``/saml/login``, where a discovery service returns the learner),
RequestedAttributes, mdattr:EntityAttributes, Organization and ContactPersons (a REFEDS security
contact among them), every text escaped. The result is checked against the SAML metadata schema
together with the mdui and mdattr schemas that python3-saml ships; :func:`federation_gaps` names
what InCommon's Baseline Expectations and eduGAIN/REFEDS look for and the config does not say.
"""

from __future__ import annotations

import re
import threading
import weakref
from collections.abc import Iterator, Mapping
from urllib.parse import urlsplit
from xml.sax.saxutils import escape

from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.metadata import OneLogin_Saml2_Metadata
from onelogin.saml2.settings import OneLogin_Saml2_Settings

from sso_bridge.errors import ConfigError
from sso_bridge.saml.attributes import FRIENDLY_TO_OID, NAMEID_SOURCE, OID_TO_FRIENDLY
from sso_bridge.saml.python3_saml_caches import SCHEMA_DIR
from sso_bridge.settings import AttributesSection, ContactSection, MetadataSection, Settings

MD = "urn:oasis:names:tc:SAML:2.0:metadata"
SAML = "urn:oasis:names:tc:SAML:2.0:assertion"
MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
MDATTR = "urn:oasis:names:tc:SAML:metadata:attribute"
REMD = "http://refeds.org/metadata"
IDPDISC = "urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
REFEDS_SECURITY = "http://refeds.org/metadata/contactType/security"
SIRTFI = "https://refeds.org/sirtfi"
NAMESPACES = {"md": MD, "saml": SAML, "mdui": MDUI, "mdattr": MDATTR, "remd": REMD,
              "idpdisc": IDPDISC}
URI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
BASIC = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
UNSPECIFIED = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
SLO_BINDINGS = (Constants.BINDING_HTTP_REDIRECT, Constants.BINDING_HTTP_POST)
# Preferred first: IdPs that read EncryptionMethod (Shibboleth IdP) pick from these.
GCM_METHODS = ("http://www.w3.org/2009/xmlenc11#aes256-gcm",
               "http://www.w3.org/2009/xmlenc11#aes128-gcm")
CBC_METHODS = ("http://www.w3.org/2001/04/xmlenc#aes256-cbc",
               "http://www.w3.org/2001/04/xmlenc#aes128-cbc")
KEY_TRANSPORT_METHODS = ("http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p",)
_NAME_TOKEN = re.compile(r"[A-Za-z_][\w.-]*")

_published: weakref.WeakKeyDictionary[OneLogin_Saml2_Settings, str] = \
    weakref.WeakKeyDictionary()


def published(settings: Settings, saml_settings: OneLogin_Saml2_Settings) -> str:
    """The metadata for ``saml_settings`` (replaced when the IdP's metadata is refreshed),
    built and checked once: it has no validUntil, and a signature over it never changes."""
    xml = _published.get(saml_settings)
    if xml is None:
        xml = _published[saml_settings] = build(settings, saml_settings)
    return xml


def build(settings: Settings, saml_settings: OneLogin_Saml2_Settings) -> str:
    """The SP metadata XML; ConfigError if it would not be schema-valid."""
    m = settings.metadata
    security = saml_settings.get_security_data()
    xml = OneLogin_Saml2_Metadata.builder(
        _skeleton(settings, saml_settings.get_sp_data()["NameIDFormat"]),
        security["authnRequestsSigned"], security["wantAssertionsSigned"],
        valid_until="", cache_duration="")  # federations set validity, SimpleSAMLphp drops expired
    for cert in (saml_settings.get_sp_cert_new(), saml_settings.get_sp_cert()):
        xml = OneLogin_Saml2_Metadata.add_x509_key_descriptors(
            xml, cert, add_encryption=m.publish_encryption_key)
    root = etree.fromstring(xml, etree.XMLParser(remove_blank_text=True))
    _extend(root, settings)
    etree.cleanup_namespaces(root, top_nsmap={**NAMESPACES, "ds": Constants.NS_DS})
    xml = etree.tostring(root, pretty_print=True, xml_declaration=True, encoding="UTF-8")
    if settings.sp.sign_metadata:
        xml = OneLogin_Saml2_Metadata.sign_metadata(
            xml, saml_settings.get_sp_key(), saml_settings.get_sp_cert(),
            Constants.RSA_SHA256, Constants.SHA256)
    text = xml.decode() if isinstance(xml, bytes) else str(xml)
    problems = [*schema_problems(text), *saml_settings.validate_metadata(text)]
    if problems:
        raise ConfigError([f"SP metadata: {p}" for p in problems])
    return text


def _skeleton(settings: Settings, name_id_format: str) -> dict[str, object]:
    """python3-saml's builder formats values into XML unescaped: escape them here."""
    def attr(value: str) -> str:
        return escape(value, {'"': "&quot;"})

    return {
        "entityId": attr(settings.sp_entity_id),
        "assertionConsumerService": {"url": attr(settings.acs_url),
                                     "binding": Constants.BINDING_HTTP_POST},
        "singleLogoutService": {"url": attr(slo_url(settings)), "binding": SLO_BINDINGS[0]},
        "NameIDFormat": name_id_format,
    }


def slo_url(settings: Settings) -> str:
    return settings.bridge.base_url + "/saml/slo"


def _extend(root: etree._Element, settings: Settings) -> None:
    m = settings.metadata
    sp = root.find("md:SPSSODescriptor", NAMESPACES)
    assert sp is not None
    content = GCM_METHODS + (CBC_METHODS if settings.idp.allow_cbc_encryption else ())
    for key in sp.iterfind("md:KeyDescriptor[@use='encryption']", NAMESPACES):
        for algorithm in content + KEY_TRANSPORT_METHODS:  # only what saml/encryption.py admits
            etree.SubElement(key, f"{{{MD}}}EncryptionMethod", Algorithm=algorithm)
    first_slo = sp.find("md:SingleLogoutService", NAMESPACES)
    assert first_slo is not None
    first_slo.addnext(etree.Element(f"{{{MD}}}SingleLogoutService", Binding=SLO_BINDINGS[1],
                                    Location=slo_url(settings)))
    ui = _ui_info(m)
    if ui is not None:
        _extensions(sp).append(ui)
    _extensions(sp).append(_discovery_response(settings))
    sp.append(_attribute_consuming_service(settings))
    if m.entity_attributes:
        _extensions(root).append(_entity_attributes(m.entity_attributes))
    if all(vars(m.organization).values()):
        root.append(_organization(m))
    for kind, contact in vars(m.contacts).items():
        if contact.email:
            root.append(_contact(kind, contact))


def _extensions(parent: etree._Element) -> etree._Element:
    """The parent's md:Extensions, which comes first (after a ds:Signature)."""
    found = parent.find("md:Extensions", NAMESPACES)
    if found is None:
        found = etree.Element(f"{{{MD}}}Extensions")
        parent.insert(0, found)
    return found


def _texts(parent: etree._Element, tag: str, per_language: Mapping[str, str]) -> None:
    for lang, text in per_language.items():
        etree.SubElement(parent, tag, {XML_LANG: lang}).text = text.strip()


def _ui_info(m: MetadataSection) -> etree._Element | None:
    ui = etree.Element(f"{{{MDUI}}}UIInfo", nsmap={"mdui": MDUI})
    _texts(ui, f"{{{MDUI}}}DisplayName", m.ui.display_name)
    _texts(ui, f"{{{MDUI}}}Description", m.ui.description)
    _texts(ui, f"{{{MDUI}}}InformationURL", m.ui.information_url)
    _texts(ui, f"{{{MDUI}}}PrivacyStatementURL", m.ui.privacy_statement_url)
    logo = m.ui.logo
    if logo.url:
        element = etree.SubElement(ui, f"{{{MDUI}}}Logo", height=str(logo.height),
                                   width=str(logo.width))
        if logo.lang:
            element.set(XML_LANG, logo.lang)
        element.text = logo.url
    return ui if len(ui) else None


def _discovery_response(settings: Settings) -> etree._Element:
    """Where a discovery service (the bridge's own or an external one) may send the learner
    back with the chosen IdP: ``/saml/login``, the only ``return`` either accepts."""
    return etree.Element(f"{{{IDPDISC}}}DiscoveryResponse", nsmap={"idpdisc": IDPDISC},
                         Binding=IDPDISC, Location=settings.bridge.base_url + "/saml/login",
                         index="1")


def _attribute_consuming_service(settings: Settings) -> etree._Element:
    """What the attribute map reads, each attribute once, the EID's source required."""
    service = etree.Element(f"{{{MD}}}AttributeConsumingService", index="1")
    names = settings.metadata.ui.display_name or {
        "en": f"Sakai single sign-on ({urlsplit(settings.bridge.base_url).hostname})"}
    _texts(service, f"{{{MD}}}ServiceName", names)
    _texts(service, f"{{{MD}}}ServiceDescription", settings.metadata.ui.description)
    for name, required in requested_attributes(settings.attributes):
        service.append(_requested_attribute(name, required))
    return service


def requested_attributes(config: AttributesSection) -> list[tuple[str, bool]]:
    """(attribute name, isRequired), in the order the attribute map reads them.

    The EID's source is required when it is the only one: with alternatives (subject-id,
    pairwise-id or eppn) any one will do, so none of them is marked required.
    """
    eid = [source for source in config.eid if source != NAMEID_SOURCE]
    only_source = len(config.eid) == 1
    wanted: dict[str, bool] = {}
    for i, name in enumerate([*eid, config.given_name, config.family_name, config.email,
                              config.affiliation, config.display_name]):
        key = FRIENDLY_TO_OID.get(name, name)
        if name and key not in wanted:
            wanted[key] = i == 0 and bool(eid) and only_source
    return list(wanted.items())


def _requested_attribute(name: str, required: bool) -> etree._Element:
    """By OID with its friendly name where known; a URI as a uri name; else a plain name."""
    element = etree.Element(f"{{{MD}}}RequestedAttribute", Name=name)
    if name in OID_TO_FRIENDLY:
        element.set("NameFormat", URI)
        element.set("FriendlyName", OID_TO_FRIENDLY[name])
    elif ":" in name:
        element.set("NameFormat", URI)
    else:
        element.set("NameFormat", BASIC if _NAME_TOKEN.fullmatch(name) else UNSPECIFIED)
    if required:
        element.set("isRequired", "true")
    return element


def _entity_attributes(attributes: Mapping[str, list[str]]) -> etree._Element:
    wrapper = etree.Element(f"{{{MDATTR}}}EntityAttributes", nsmap={"mdattr": MDATTR})
    for name, values in attributes.items():
        attribute = etree.SubElement(wrapper, f"{{{SAML}}}Attribute", Name=name.strip(),
                                     NameFormat=URI, nsmap={"saml": SAML})
        for value in values:
            etree.SubElement(attribute, f"{{{SAML}}}AttributeValue").text = value.strip()
    return wrapper


def _organization(m: MetadataSection) -> etree._Element:
    organization = etree.Element(f"{{{MD}}}Organization")
    _texts(organization, f"{{{MD}}}OrganizationName", m.organization.name)
    _texts(organization, f"{{{MD}}}OrganizationDisplayName", m.organization.display_name)
    _texts(organization, f"{{{MD}}}OrganizationURL", m.organization.url)
    return organization


def _contact(kind: str, contact: ContactSection) -> etree._Element:
    """A ContactPerson; the security contact as REFEDS defines it (an ``other`` contact)."""
    if kind == "security":
        element = etree.Element(f"{{{MD}}}ContactPerson", nsmap={"remd": REMD},
                                contactType="other")
        element.set(f"{{{REMD}}}contactType", REFEDS_SECURITY)
    else:
        element = etree.Element(f"{{{MD}}}ContactPerson", contactType=kind)
    if contact.name:
        etree.SubElement(element, f"{{{MD}}}GivenName").text = contact.name.strip()
    email = contact.email.strip().removeprefix("mailto:")
    etree.SubElement(element, f"{{{MD}}}EmailAddress").text = "mailto:" + email
    return element


# --- checks ---------------------------------------------------------------------------------

_SCHEMA_IMPORTS = {MD: "saml-schema-metadata-2.0.xsd", MDUI: "sstc-saml-metadata-ui-v1.0.xsd",
                   MDATTR: "sstc-metadata-attr.xsd"}
_schema_lock = threading.Lock()
_schema: list[etree.XMLSchema] = []


def schema_problems(xml: str) -> list[str]:
    """The metadata checked against the SAML metadata, mdui and mdattr schemas together
    (python3-saml's own check skips the extension elements, for want of their schemas)."""
    with _schema_lock:  # an lxml validator is not shared between threads; this runs rarely
        if not _schema:
            imports = "".join(f'<xs:import namespace="{ns}" schemaLocation="'
                              f'{(SCHEMA_DIR / name).as_uri()}"/>'
                              for ns, name in _SCHEMA_IMPORTS.items())
            _schema.append(etree.XMLSchema(etree.fromstring(
                f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>')))
        schema = _schema[0]
        if schema.validate(etree.fromstring(xml.encode())):
            return []
        return [f"line {e.line}: {e.message}" for e in schema.error_log]  # type: ignore[attr-defined]


def federation_gaps(m: MetadataSection) -> list[str]:
    """What InCommon (Baseline Expectations) and eduGAIN/REFEDS registrations look for in SP
    metadata and this configuration does not provide, each naming the key to set."""
    return list(_gaps(m))


def _gaps(m: MetadataSection) -> Iterator[str]:
    wants = {"technical": "InCommon, eduGAIN", "administrative": "InCommon",
             "support": "eduGAIN", "security": "InCommon Baseline, REFEDS SIRTFI"}
    for kind, who in wants.items():
        if not getattr(m.contacts, kind).email:
            yield (f"SP metadata has no {kind} contact ({who}): set "
                   f"'metadata.contacts.{kind}.email'")
    ui = {"display_name": "InCommon, eduGAIN, REFEDS R&S", "description": "eduGAIN",
          "information_url": "eduGAIN, REFEDS R&S",
          "privacy_statement_url": "InCommon, eduGAIN, GÉANT CoCo"}
    for key, who in ui.items():
        values = getattr(m.ui, key)
        if not values:
            yield f"SP metadata has no mdui {key} ({who}): set 'metadata.ui.{key}'"
        elif "en" not in values:
            yield f"SP metadata has no English mdui {key} (eduGAIN): set 'metadata.ui.{key}.en'"
    if not m.ui.logo.url:
        yield "SP metadata has no mdui Logo (InCommon): set 'metadata.ui.logo.url'"
    elif not m.ui.logo.url.startswith("https://"):
        yield "SP metadata's logo is not on https (InCommon): fix 'metadata.ui.logo.url'"
    if not m.organization.name:
        yield ("SP metadata has no Organization (eduGAIN): set 'metadata.organization.name', "
               "'display_name' and 'url'")
    sirtfi = SIRTFI in m.entity_attributes.get(
        "urn:oasis:names:tc:SAML:attribute:assurance-certification", [])
    if sirtfi and not m.contacts.security.email:
        yield ("SP metadata claims SIRTFI, which requires a security contact: set "
               "'metadata.contacts.security.email'")
