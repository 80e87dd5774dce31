"""The SP metadata that IdPs and federations accept (issue 11), read as an IdP or a federation's
registration would: through ``/saml/metadata`` and ``sso-bridge metadata``, checked against the
SAML metadata schema with the mdui and mdattr schemas python3-saml ships, and for what InCommon
(Baseline Expectations) and eduGAIN/REFEDS look for, each gap named by ``check-config``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from lxml import etree

from sso_bridge import errors
from sso_bridge.app import create_app
from sso_bridge.cli import main
from sso_bridge.keys import generate
from sso_bridge.saml.encryption import CBC, GCM, KEY_TRANSPORT
from sso_bridge.saml.metadata import MetadataSigner
from sso_bridge.saml.sp_metadata import NAMESPACES, REFEDS_SECURITY, schema_problems
from sso_bridge.services import build_services
from sso_bridge.settings import load_settings
from tests.saml.conftest import ACS, BASE, SAKAI, SP_ENTITY
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

IDP = TestIdp()
NS = {**NAMESPACES, "ds": "http://www.w3.org/2000/09/xmldsig#"}
LANG = "{http://www.w3.org/XML/1998/namespace}lang"
SIRTFI = {"urn:oasis:names:tc:SAML:attribute:assurance-certification": ["https://refeds.org/sirtfi"]}
RS = "http://refeds.org/category/research-and-scholarship"
FEDERATION_READY: dict[str, Any] = {
    "organization": {"name": {"en": "Example University", "de": "Beispiel-Universität"},
                     "display_name": {"en": "Example U", "de": "Beispiel-Uni"},
                     "url": {"en": "https://www.example.edu/", "de": "https://www.example.edu/de/"}},
    "contacts": {"technical": {"name": "LMS operations", "email": "lms-ops@example.edu"},
                 "administrative": {"name": "Teaching services", "email": "mailto:ts@example.edu"},
                 "support": {"name": "Service Desk", "email": "help@example.edu"},
                 "security": {"name": "CSIRT", "email": "csirt@example.edu"}},
    "ui": {"display_name": {"en": "Example LMS", "de": "Beispiel-LMS"},
           "description": {"en": "Courses & grades <Sakai>", "de": "Kurse und Noten"},
           "information_url": {"en": "https://lms.example.edu/about"},
           "privacy_statement_url": {"en": "https://lms.example.edu/privacy",
                                     "de": "https://lms.example.edu/datenschutz"},
           "logo": {"url": "https://lms.example.edu/logo.png", "width": 80, "height": 60}},
    "entity_attributes": {"http://macedir.org/entity-category": [RS], **SIRTFI},
}


def configure(tmp_path: Path, metadata: dict[str, Any] | None = None, *,
              sp: dict[str, Any] | None = None, idp: dict[str, Any] | None = None,
              extra: dict[str, Any] | None = None) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(IDP.metadata_xml())
    more: dict[str, Any] = {"metadata": metadata} if metadata is not None else {}
    more |= {"sp": sp} if sp else {}
    return write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, extra=more | (extra or {}),
                        idp={"metadata_file": "idp.xml", **(idp or {})})


def served(tmp_path: Path, metadata: dict[str, Any] | None = None, **kwargs: Any) -> str:
    """The metadata as an IdP fetches it from ``/saml/metadata``."""
    settings = load_settings(*configure(tmp_path, metadata, **kwargs))
    reply = create_app(settings).test_client().get("/saml/metadata")
    assert reply.status_code == 200
    assert reply.mimetype == "application/samlmetadata+xml"
    return reply.get_data(as_text=True)


def parsed(xml: str) -> Any:
    assert schema_problems(xml) == []
    return etree.fromstring(xml.encode())


def certificates(root: Any, use: str) -> set[str]:
    return {"".join(c.text.split()) for c in root.iterfind(
        f"md:SPSSODescriptor/md:KeyDescriptor[@use='{use}']//ds:X509Certificate", NS)}


def body(pem_file: Path) -> str:
    return "".join(pem_file.read_text().split("-----")[2].split())


# --- without a [metadata] section -------------------------------------------------------------


def test_a_config_without_the_metadata_section_yields_valid_metadata(tmp_path: Path) -> None:
    root = parsed(served(tmp_path))
    assert root.get("entityID") == SP_ENTITY
    assert root.get("validUntil") is None  # SimpleSAMLphp drops expired SP metadata
    sp = root.find("md:SPSSODescriptor", NS)
    acs = sp.find("md:AssertionConsumerService", NS)
    assert (acs.get("Location"), acs.get("Binding")) == (
        ACS, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
    service = sp.find("md:AttributeConsumingService", NS)
    assert service.findtext("md:ServiceName", namespaces=NS) == \
        "Sakai single sign-on (lms.example.edu)"
    assert root.find("md:Organization", NS) is None
    assert root.find("md:ContactPerson", NS) is None


def test_the_sp_key_is_published_for_encryption_as_well_as_signing(tmp_path: Path) -> None:
    root = parsed(served(tmp_path))
    assert certificates(root, "signing") == certificates(root, "encryption") == \
        {body(tmp_path / "sp.crt")}
    offered = [m.get("Algorithm") for m in root.iterfind(".//md:EncryptionMethod", NS)]
    assert offered[0] in GCM  # IdPs that read the preferences pick GCM first
    assert set(offered) <= GCM | KEY_TRANSPORT  # nothing the bridge would refuse


def test_cbc_is_offered_only_when_the_bridge_admits_it(tmp_path: Path) -> None:
    root = parsed(served(tmp_path, idp={"allow_cbc_encryption": True}))
    offered = [m.get("Algorithm") for m in root.iterfind(".//md:EncryptionMethod", NS)]
    assert set(offered) & CBC and set(offered) & GCM
    assert min(offered.index(a) for a in GCM & set(offered)) < \
        min(offered.index(a) for a in CBC & set(offered))


def test_the_encryption_key_can_be_withheld(tmp_path: Path) -> None:
    root = parsed(served(tmp_path, {"publish_encryption_key": False}))
    assert certificates(root, "signing") == {body(tmp_path / "sp.crt")}
    assert certificates(root, "encryption") == set()


def test_both_certificates_sign_and_encrypt_during_a_rollover(tmp_path: Path) -> None:
    generate(tmp_path / "next.key", tmp_path / "next.crt", common_name="next", bits=2048, days=30)
    path, env = configure(tmp_path, sp={"next_certificate_file": "next.crt"})
    env["SSO_BRIDGE_SP_NEXT_KEY_FILE"] = str(tmp_path / "next.key")
    root = parsed(create_app(load_settings(path, env)).test_client()
                  .get("/saml/metadata").get_data(as_text=True))
    both = {body(tmp_path / "sp.crt"), body(tmp_path / "next.crt")}
    assert certificates(root, "signing") == certificates(root, "encryption") == both


def test_single_logout_is_published_for_both_bindings(tmp_path: Path) -> None:
    root = parsed(served(tmp_path))
    slo = {(s.get("Binding"), s.get("Location"))
           for s in root.iterfind("md:SPSSODescriptor/md:SingleLogoutService", NS)}
    assert slo == {("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect", BASE + "/saml/slo"),
                   ("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST", BASE + "/saml/slo")}


# --- requested attributes ---------------------------------------------------------------------


def requested(root: Any) -> dict[str, tuple[str | None, str | None, str | None]]:
    return {a.get("Name"): (a.get("NameFormat"), a.get("FriendlyName"), a.get("isRequired"))
            for a in root.iterfind(".//md:RequestedAttribute", NS)}


def test_requested_attributes_follow_the_attribute_map_by_oid(tmp_path: Path) -> None:
    uri = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
    assert requested(parsed(served(tmp_path))) == {
        # the default EID sources are alternatives: any one will do, so none is required
        "urn:oasis:names:tc:SAML:attribute:subject-id": (uri, "subject-id", None),
        "urn:oasis:names:tc:SAML:attribute:pairwise-id": (uri, "pairwise-id", None),
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6": (uri, "eduPersonPrincipalName", None),
        "urn:oid:2.5.4.42": (uri, "givenName", None),
        "urn:oid:2.5.4.4": (uri, "sn", None),
        "urn:oid:0.9.2342.19200300.100.1.3": (uri, "mail", None),
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.1": (uri, "eduPersonAffiliation", None),
        "urn:oid:2.16.840.1.113730.3.1.241": (uri, "displayName", None),
    }


def test_a_single_eid_source_is_requested_as_required(tmp_path: Path) -> None:
    found = requested(parsed(served(tmp_path, extra={
        "attributes": {"eid": ["eduPersonPrincipalName"]}})))
    assert found["urn:oid:1.3.6.1.4.1.5923.1.1.1.6"][2] == "true"
    assert {name for name, (_, _, required) in found.items() if required} == {
        "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"}


def test_claim_uris_and_plain_names_are_requested_as_configured(tmp_path: Path) -> None:
    claim = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
    attributes = {"eid": ["nameid", "urn:oid:0.9.2342.19200300.100.1.1", "mail"],
                  "email": "mail", "given_name": "first name", "family_name": "lastName",
                  "affiliation": claim, "display_name": "", "allow_unscoped_eid": True}
    found = requested(parsed(served(tmp_path, extra={"attributes": attributes})))
    assert found == {
        "urn:oid:0.9.2342.19200300.100.1.1": ("urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                                              "uid", None),
        "urn:oid:0.9.2342.19200300.100.1.3": ("urn:oasis:names:tc:SAML:2.0:attrname-format:uri",
                                              "mail", None),
        "first name": ("urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified", None, None),
        "lastName": ("urn:oasis:names:tc:SAML:2.0:attrname-format:basic", None, None),
        claim: ("urn:oasis:names:tc:SAML:2.0:attrname-format:uri", None, None),
    }


# --- a federation-ready configuration ---------------------------------------------------------


def test_a_federation_ready_config_publishes_organization_contacts_ui_and_categories(
        tmp_path: Path) -> None:
    root = parsed(served(tmp_path, FEDERATION_READY))
    ui = root.find("md:SPSSODescriptor/md:Extensions/mdui:UIInfo", NS)
    names = {e.get(LANG): e.text for e in ui.iterfind("mdui:DisplayName", NS)}
    assert names == {"en": "Example LMS", "de": "Beispiel-LMS"}
    descriptions = {e.get(LANG): e.text for e in ui.iterfind("mdui:Description", NS)}
    assert descriptions["en"] == "Courses & grades <Sakai>"  # escaped out, intact in
    assert len(ui.findall("mdui:PrivacyStatementURL", NS)) == 2
    assert ui.findtext("mdui:InformationURL", namespaces=NS) == "https://lms.example.edu/about"
    logo = ui.find("mdui:Logo", NS)
    assert (logo.text, logo.get("width"), logo.get("height")) == (
        "https://lms.example.edu/logo.png", "80", "60")
    org = root.find("md:Organization", NS)
    assert [e.get(LANG) for e in org.iterfind("md:OrganizationName", NS)] == ["en", "de"]
    assert org.findtext("md:OrganizationURL", namespaces=NS) == "https://www.example.edu/"
    categories = root.find("md:Extensions/mdattr:EntityAttributes", NS)
    assert [v.text for v in categories.iterfind(
        "saml:Attribute[@Name='http://macedir.org/entity-category']/saml:AttributeValue",
        NS)] == [RS]
    contacts = {c.get("contactType") + (c.get(f"{{{NS['remd']}}}contactType") or ""):
                c.findtext("md:EmailAddress", namespaces=NS)
                for c in root.iterfind("md:ContactPerson", NS)}
    assert contacts == {"technical": "mailto:lms-ops@example.edu",
                        "administrative": "mailto:ts@example.edu",
                        "support": "mailto:help@example.edu",
                        "other" + REFEDS_SECURITY: "mailto:csirt@example.edu"}


def test_the_extensions_are_checked_against_their_schemas(tmp_path: Path) -> None:
    """The check is real: an mdui Logo without its height, or stray content in an entity
    attribute, is named, though python3-saml's own metadata check would pass both."""
    xml = served(tmp_path, FEDERATION_READY)
    no_height = xml.replace(' height="60"', "")
    assert any("'height' is required" in p for p in schema_problems(no_height))
    stray = xml.replace("<saml:AttributeValue>", "<saml:Issuer>x</saml:Issuer>"
                        "<saml:AttributeValue>", 1)
    assert schema_problems(stray)


def test_config_text_cannot_inject_metadata_elements(tmp_path: Path) -> None:
    """Markup in an entity ID or a display name stays text (the builder formats unescaped)."""
    injected = '</md:SPSSODescriptor><md:IDPSSODescriptor x="'
    root = parsed(served(tmp_path, {"ui": {"display_name": {"en": injected}}},
                         sp={"entity_id": f'urn:example:sp"{injected}'}))
    assert root.get("entityID") == f'urn:example:sp"{injected}'
    assert root.findtext(".//mdui:DisplayName", namespaces=NS) == injected
    assert root.find(".//md:IDPSSODescriptor", NS) is None


def test_signed_metadata_verifies_with_the_sp_certificate(tmp_path: Path) -> None:
    root = parsed(served(tmp_path, FEDERATION_READY, sp={"sign_metadata": True}))
    assert etree.QName(root[0]).localname == "Signature"  # first, before md:Extensions
    MetadataSigner.load(tmp_path / "sp.crt").verify(root, "/saml/metadata")
    other = tmp_path / "other"
    generate(other / "o.key", other / "o.crt", common_name="other", bits=2048, days=2)
    with pytest.raises(errors.ConfigError, match="is not signed by the key"):
        MetadataSigner.load(other / "o.crt").verify(root, "/saml/metadata")


# --- the CLI ----------------------------------------------------------------------------------


def test_the_cli_prints_what_the_route_serves(tmp_path: Path) -> None:
    path, env = configure(tmp_path, FEDERATION_READY)
    result = CliRunner().invoke(main, ["metadata", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    route = create_app(load_settings(path, env)).test_client().get("/saml/metadata")
    assert result.output.strip() == route.get_data(as_text=True).strip()
    assert parsed(result.output).find(".//mdui:UIInfo", NS) is not None


def check_config(tmp_path: Path, metadata: dict[str, Any] | None) -> str:
    path, env = configure(tmp_path, metadata)
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_check_config_names_every_item_a_federation_will_miss(tmp_path: Path) -> None:
    warnings = [line for line in check_config(tmp_path, None).splitlines()
                if line.startswith("warning: SP metadata has no")]
    keys = ["contacts.technical.email", "contacts.administrative.email",
            "contacts.support.email", "contacts.security.email", "ui.display_name",
            "ui.description", "ui.information_url", "ui.privacy_statement_url", "ui.logo.url",
            "organization.name"]
    assert len(warnings) == len(keys)
    for key, warning in zip(keys, warnings, strict=True):
        assert f"set 'metadata.{key}'" in warning


def test_check_config_is_quiet_about_a_federation_ready_config(tmp_path: Path) -> None:
    assert "SP metadata" not in check_config(tmp_path, FEDERATION_READY)


def test_check_config_names_a_missing_english_text_a_plain_http_logo_and_a_sirtfi_claim(
        tmp_path: Path) -> None:
    logo = {"url": "http://lms.example.edu/logo.png", "width": 80, "height": 60}
    config = {**FEDERATION_READY, "ui": {**FEDERATION_READY["ui"], "logo": logo,
                                         "display_name": {"de": "Beispiel-LMS"}},
              "contacts": {**FEDERATION_READY["contacts"], "security": {}}}
    output = check_config(tmp_path, config)
    assert "set 'metadata.ui.display_name.en'" in output
    assert "logo is not on https (InCommon): fix 'metadata.ui.logo.url'" in output
    assert "claims SIRTFI, which requires a security contact" in output


# --- wrong settings are named at start-up -----------------------------------------------------


@pytest.mark.parametrize("metadata, key", [
    ({"ui": {"display_name": {"english": "LMS"}}}, "'metadata.ui.display_name.english'"),
    ({"ui": {"information_url": {"en": "/about"}}}, "'metadata.ui.information_url.en'"),
    ({"ui": {"logo": {"url": "https://x.example/l.png"}}}, "'metadata.ui.logo'"),
    ({"organization": {"name": {"en": "Example U"}}}, "'metadata.organization'"),
    ({"contacts": {"security": {"email": "not an address"}}},
     "'metadata.contacts.security.email'"),
    ({"contacts": {"support": {"name": "Desk"}}}, "'metadata.contacts.support.email'"),
    ({"entity_attributes": {"http://macedir.org/entity-category": []}},
     "'metadata.entity_attributes'"),
    ({"entity_attributes": {"http://macedir.org/entity-category": RS}},
     "'metadata.entity_attributes': expected a table of lists of strings"),
    ({"contact": {"email": "a@b.example"}}, "unknown key 'metadata.contact'"),
])
def test_a_wrong_metadata_setting_is_named_at_start_up(
        tmp_path: Path, metadata: dict[str, Any], key: str) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        build_services(load_settings(*configure(tmp_path, metadata)))
    assert any(key in problem for problem in caught.value.problems), caught.value.problems


def test_the_documented_example_leaves_a_federation_nothing_to_miss(tmp_path: Path) -> None:
    from sso_bridge.saml.sp_metadata import federation_gaps

    example = Path(__file__).parent.parent.parent / "config" / "bridge.example.toml"
    generate(tmp_path / "sp.key", tmp_path / "sp.crt", common_name="x", bits=2048)
    env = {"SSO_BRIDGE_SECRET_KEY": "x" * 40, "SSO_BRIDGE_SP_KEY_FILE": str(tmp_path / "sp.key"),
           "SSO_BRIDGE_SAKAI_PASSWORD": "secret"}
    settings = load_settings(example, env)
    assert settings.metadata.contacts.security.email == "csirt@example.edu"
    assert federation_gaps(settings.metadata) == []


def test_an_idp_encrypting_from_the_published_metadata_alone_gets_its_learner_in(
        tmp_path: Path) -> None:
    """As Shibboleth IdP does by default, with no encryption setting on the bridge: the key
    and the algorithm (its first EncryptionMethod) come from the metadata, nothing else."""
    from tests.samlfactory.encrypt import encrypt_assertion
    from tests.samlfactory.idp import encode

    services = build_services(load_settings(*configure(tmp_path)))
    root = parsed(services.sp.metadata())
    key = root.find("md:SPSSODescriptor/md:KeyDescriptor[@use='encryption']", NS)
    cert = key.findtext(".//ds:X509Certificate", namespaces=NS)
    pem = "-----BEGIN CERTIFICATE-----\n" + "".join(cert.split()) + "\n-----END CERTIFICATE-----\n"
    algorithm = key.find("md:EncryptionMethod", NS).get("Algorithm").rpartition("#")[2]
    begun = services.sp.begin_login(SAKAI + "/portal")
    xml = IDP.build_response(acs_url=ACS, sp_entity_id=SP_ENTITY, in_response_to=begun.request_id)
    encrypted = encrypt_assertion(IDP.sign(xml, response=False, assertion=True), pem,
                                  data=algorithm)
    posted = IDP.sign(encrypted, response=True, assertion=False)
    assert "EncryptedAssertion" in posted and "alice@example.org" not in posted
    result = services.sp.complete_login(encode(posted), begun.relay_token, begun.state)
    assert result.identity.eid == "alice@example.org"
