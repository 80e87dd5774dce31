"""The SimpleSAMLphp launcher against the real IdP: metadata, a full signed login, restarts."""

from __future__ import annotations

import base64
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urljoin

import lxml.html
import pytest
import requests
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from sso_bridge.demo import idp as idp_module
from sso_bridge.demo.idp import (
    DEFAULT_USERS,
    INSTALL_COMMAND,
    DemoUser,
    IdpNotInstalled,
    IdpStartError,
    SimpleSamlIdp,
)
from tests.support import require_simplesamlphp

NS = {
    "md": "urn:oasis:names:tc:SAML:2.0:metadata",
    "ds": "http://www.w3.org/2000/09/xmldsig#",
    "samlp": "urn:oasis:names:tc:SAML:2.0:protocol",
    "saml": "urn:oasis:names:tc:SAML:2.0:assertion",
}
SP_ENTITY_ID = "http://127.0.0.1:9/test-sp"
ACS_URL = "http://127.0.0.1:9/saml/acs"
SP_METADATA = f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="{NS["md"]}" entityID="{SP_ENTITY_ID}">
  <md:SPSSODescriptor protocolSupportEnumeration="{NS["samlp"]}">
    <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
        Location="{ACS_URL}" index="1"/>
  </md:SPSSODescriptor>
</md:EntityDescriptor>
""".encode()


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSamlIdp]:
    require_simplesamlphp()
    with SimpleSamlIdp(tmp_path_factory.mktemp("idp")) as server:
        server.register_sp("test", SP_METADATA)
        yield server


def _form(html: str) -> lxml.html.FormElement:
    forms = lxml.html.fromstring(html).forms
    assert len(forms) == 1, html[:2000]
    return forms[0]


def login(
    idp: SimpleSamlIdp,
    username: str,
    password: str,
    relay_state: str | None = None,
    browser: requests.Session | None = None,
) -> tuple[str, dict[str, str]]:
    """IdP-initiated login (in a fresh browser by default); the auto-submit form's (action, fields).

    The login page has one form (``name="f"``, ``action="?"``, POST) with the fields
    ``username``, ``password`` and a hidden ``AuthState``.
    """
    browser = browser or requests.Session()
    page = browser.get(idp.idp_initiated_url(SP_ENTITY_ID, relay_state), timeout=10)
    page.raise_for_status()
    form = _form(page.text)
    assert form.method.upper() == "POST" and {"username", "password"} <= set(form.inputs.keys())
    fields = dict(form.form_values())
    fields.update(username=username, password=password)
    assert "AuthState" in fields
    posted = browser.post(urljoin(page.url, form.action), data=fields, timeout=10)
    posted.raise_for_status()
    auto = _form(posted.text)
    return auto.action, dict(auto.form_values())


def _response(fields: dict[str, str]) -> etree._Element:
    return etree.fromstring(base64.b64decode(fields["SAMLResponse"]))


def _attributes(response: etree._Element) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for attr in response.iterfind(".//saml:Attribute", NS):
        out[attr.get("Name")] = [v.text or "" for v in attr.iterfind("saml:AttributeValue", NS)]
    return out


def _verify(signature: etree._Element, cert_pem: str) -> None:
    """Verify one enveloped signature cryptographically with xmlsec and the IdP's cert."""
    root = signature.getroottree().getroot()
    xmlsec.tree.add_ids(root, ["ID"])
    ctx = xmlsec.SignatureContext()
    ctx.key = xmlsec.Key.from_memory(cert_pem.encode(), xmlsec.constants.KeyDataFormatCertPem)
    ctx.verify(signature)


def test_metadata_is_served_and_carries_the_signing_certificate(idp: SimpleSamlIdp) -> None:
    reply = requests.get(idp.metadata_url, timeout=10)
    assert reply.status_code == 200
    root = etree.fromstring(reply.content)
    assert root.get("entityID") == idp.entity_id == idp.metadata_url
    assert idp.base_url.startswith("http://127.0.0.1:") and idp.base_url.endswith("/simplesaml/")
    sso = root.find(".//md:SingleSignOnService", NS)
    assert sso is not None and sso.get("Location") == idp.sso_url
    b64 = root.findtext(".//md:KeyDescriptor[@use='signing']//ds:X509Certificate", None, NS)
    assert b64 is not None
    published = x509.load_der_x509_certificate(base64.b64decode("".join(b64.split())))
    assert published == x509.load_pem_x509_certificate(idp.certificate_pem.encode())


def test_generated_key_matches_certificate(idp: SimpleSamlIdp) -> None:
    cert = x509.load_pem_x509_certificate(idp.certificate_pem.encode())
    key = serialization.load_pem_private_key(idp.private_key_pem.encode(), password=None)
    assert cert.public_key() == key.public_key()
    assert cert.public_key().key_size == 2048  # type: ignore[union-attr]
    assert cert.signature_hash_algorithm is not None
    assert cert.signature_hash_algorithm.name == "sha256"
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days >= 3649


def test_idp_initiated_login_posts_signed_response_with_alice_attributes(
    idp: SimpleSamlIdp,
) -> None:
    action, fields = login(idp, "alice", "alicepass", relay_state="/portal/site/x")
    assert action == ACS_URL
    assert fields["RelayState"] == "/portal/site/x"
    response = _response(fields)
    assert response.get("Destination") == ACS_URL
    assert response.findtext("saml:Issuer", None, NS) == idp.entity_id
    status = response.find("samlp:Status/samlp:StatusCode", NS)
    assert status is not None and status.get("Value").endswith(":Success")
    assertion = response.find("saml:Assertion", NS)
    assert assertion is not None
    recipient = assertion.find(".//saml:SubjectConfirmationData", NS)
    assert recipient is not None and recipient.get("Recipient") == ACS_URL
    audience = assertion.findtext(".//saml:Audience", None, NS)
    assert audience == SP_ENTITY_ID
    name_id = assertion.find("saml:Subject/saml:NameID", NS)
    assert name_id is not None and name_id.get("Format").endswith(":transient")
    alice = next(u for u in DEFAULT_USERS if u.username == "alice")
    assert _attributes(response) == alice.attributes
    attr = assertion.find(".//saml:Attribute", NS)
    assert attr is not None and attr.get("NameFormat").endswith(":attrname-format:basic")
    for signed in (response, assertion):
        signature = signed.find("ds:Signature", NS)
        assert signature is not None, f"{etree.QName(signed).localname} is not signed"
        method = signature.find("ds:SignedInfo/ds:SignatureMethod", NS)
        assert method is not None and method.get("Algorithm").endswith("#rsa-sha256")
        _verify(signature, idp.certificate_pem)


def test_wrong_password_shows_the_form_again(idp: SimpleSamlIdp) -> None:
    browser = requests.Session()
    page = browser.get(idp.idp_initiated_url(SP_ENTITY_ID), timeout=10)
    form = _form(page.text)
    fields = dict(form.form_values(), username="alice", password="nope")
    again = browser.post(urljoin(page.url, form.action), data=fields, timeout=10)
    assert "SAMLResponse" not in again.text and "password" in _form(again.text).inputs


def test_set_user_attributes_changes_the_next_login(idp: SimpleSamlIdp) -> None:
    tricky = "O'Brien \\ \"q\" $x {$y} é ' ?>"
    new = {"uid": ["carol"], "mail": ["carol.new@example.org"], "sn": [tricky]}
    before = _attributes(_response(login(idp, "carol", "carolpass")[1]))
    assert before["mail"] == ["carol@example.org"]
    idp.set_user_attributes("carol", new)
    after = _attributes(_response(login(idp, "carol", "carolpass")[1]))
    assert after == new
    with pytest.raises(KeyError):
        idp.set_user_attributes("mallory", new)


def test_an_open_idp_session_keeps_the_attributes_it_was_made_with(idp: SimpleSamlIdp) -> None:
    browser = requests.Session()
    login(idp, "bob", "bobpass", browser=browser)
    assert {"SimpleSAMLIdP", "SimpleSAMLAuthToken"} <= set(browser.cookies.keys())
    idp.set_user_attributes("bob", {"uid": ["bob"], "mail": ["bob.changed@example.org"]})
    try:
        again = browser.get(idp.idp_initiated_url(SP_ENTITY_ID), timeout=10)  # no login form
        assert _attributes(_response(dict(_form(again.text).form_values())))["mail"] == [
            "bob@example.org"
        ]
    finally:
        bob = next(u for u in DEFAULT_USERS if u.username == "bob")
        idp.set_user_attributes("bob", bob.attributes)


def test_tricky_credentials_survive_php_quoting(tmp_path: Path) -> None:
    require_simplesamlphp()
    user = DemoUser("dan", "p'a\\ss:wo\"rd$", {"uid": ["dan"], "cn": ["Dan ' \\ \u00e9"]})
    with SimpleSamlIdp(tmp_path, users=[user], trusted_domains=["127.0.0.1:5000"]) as server:
        server.register_sp("test", SP_METADATA)
        _, fields = login(server, "dan", user.password)
        assert _attributes(_response(fields)) == user.attributes


def test_stop_kills_the_process_group_and_frees_the_port(tmp_path: Path) -> None:
    require_simplesamlphp()
    server = SimpleSamlIdp(tmp_path, workers=2)  # forked workers outlive a plain kill
    with server:
        pgid = server.pgid
        assert pgid is not None
        assert requests.get(server.metadata_url, timeout=10).status_code == 200
    with pytest.raises(ProcessLookupError):
        os.killpg(pgid, 0)
    with socket.socket() as sock:  # nothing listens any more (TIME_WAIT is not a listener)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((server.host, server.port))
    server.stop()  # idempotent
    with pytest.raises(requests.ConnectionError):
        requests.get(server.metadata_url, timeout=2)
    server.start()  # restartable on the same port and key
    try:
        assert requests.get(server.metadata_url, timeout=10).status_code == 200
    finally:
        server.stop()


def test_start_reports_a_busy_port(tmp_path: Path) -> None:
    require_simplesamlphp()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        server = SimpleSamlIdp(tmp_path, port=sock.getsockname()[1])
        server.configure()
        with pytest.raises(IdpStartError, match="in use"):
            server.start()
    assert server.pgid is None


def test_start_failure_carries_the_php_log(tmp_path: Path) -> None:
    require_simplesamlphp()
    server = SimpleSamlIdp(tmp_path)
    server.configure()
    (tmp_path / "docroot" / "simplesaml").unlink()
    with pytest.raises(IdpStartError, match="php-server.log"):
        server.start(timeout=1.5)
    assert server.pgid is None


def test_check_installed_names_the_apt_command(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(idp_module, "SSP_WWW", Path("/nonexistent/simplesamlphp/www"))
    with pytest.raises(IdpNotInstalled) as caught:
        SimpleSamlIdp.check_installed()
    assert INSTALL_COMMAND in str(caught.value)
    assert "apt-get install" in INSTALL_COMMAND and "simplesamlphp" in INSTALL_COMMAND


MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
SHIBMD = "urn:mace:shibboleth:metadata:1.0"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def test_metadata_names_the_idp_by_language_and_publishes_its_scope(tmp_path: Path) -> None:
    require_simplesamlphp()
    names = {"en": "Partner organisation", "ru": "Партнёрская организация"}
    with SimpleSamlIdp(tmp_path, display_name=names, scope="partner.example",
                       sign_metadata=True) as server:
        root = etree.fromstring(requests.get(server.metadata_url, timeout=10).content)
    extensions = root.find("md:IDPSSODescriptor/md:Extensions", NS)
    assert extensions is not None
    shown = {e.get(XML_LANG): e.text for e in extensions.iterfind(f"{{{MDUI}}}UIInfo/"
                                                                   f"{{{MDUI}}}DisplayName")}
    assert shown == names
    assert [s.text for s in extensions.iterfind(f"{{{SHIBMD}}}Scope")] == ["partner.example"]
    signature = root.find("ds:Signature", NS)  # the names are under the IdP's signature
    assert signature is not None
    _verify(signature, server.certificate_pem)


def test_an_idp_without_display_name_publishes_no_ui_info(idp: SimpleSamlIdp) -> None:
    root = etree.fromstring(requests.get(idp.metadata_url, timeout=10).content)
    assert root.find(f".//{{{MDUI}}}UIInfo") is None
    assert [s.text for s in root.iterfind(f".//{{{SHIBMD}}}Scope")] == ["example.org"]


def test_two_idps_on_one_host_keep_their_own_sessions_in_one_browser(tmp_path: Path) -> None:
    """Cookies ignore ports: with one cookie name, signing in at the second IdP would replace
    the first IdP's session cookie and the first would ask for the password again."""
    require_simplesamlphp()
    partner_user = DemoUser("partner1", "partner1pass", {"uid": ["partner1"]})
    with SimpleSamlIdp(tmp_path / "a") as first, \
            SimpleSamlIdp(tmp_path / "b", users=[partner_user],
                          cookie_prefix="SimpleSAMLPartner") as second:
        first.register_sp("test", SP_METADATA)
        second.register_sp("test", SP_METADATA)
        browser = requests.Session()
        login(first, "alice", "alicepass", browser=browser)
        login(second, "partner1", "partner1pass", browser=browser)
        assert {"SimpleSAMLIdP", "SimpleSAMLPartnerIdP"} <= set(browser.cookies.keys())
        for server, uid in ((first, "alice"), (second, "partner1")):
            again = browser.get(server.idp_initiated_url(SP_ENTITY_ID), timeout=10)
            fields = dict(_form(again.text).form_values())  # no login form: still signed in
            assert _attributes(_response(fields))["uid"] == [uid]
