"""Errors that say what happened, and single logout, through the bridge's routes (test
client, the Sakai simulator, a test IdP that signs with its own keys)."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding
from flask import Flask
from flask.testing import FlaskClient
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from sso_bridge.settings import Settings, load_settings
from sso_bridge.web.browser_state import key_fingerprint
from tests.samlfactory.idp import TestIdp, default_attributes, encode, sign_element
from tests.support import write_config

BASE = "http://127.0.0.1:9"
IDP_SLO = "https://idp.test.example/slo"
TARGET = "/portal/site/course-1"


@pytest.fixture(scope="module")
def sim() -> Iterator[SakaiSimulator]:
    simulator = SakaiSimulator().serve()
    yield simulator
    simulator.stop()


@pytest.fixture(scope="module")
def idp() -> TestIdp:
    return TestIdp()


def _settings(tmp_path: Path, idp: TestIdp, sim: SakaiSimulator, slo: bool = True,
              secret: str | None = None) -> Settings:
    metadata = idp.metadata_xml()
    if slo:
        metadata = metadata.replace("<md:NameIDFormat", f'<md:SingleLogoutService Binding='
                                    f'"{C.BINDING_HTTP_REDIRECT}" Location="{IDP_SLO}"/>\n'
                                    "<md:NameIDFormat", 1)
    (tmp_path / "idp.xml").write_text(metadata)
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=sim.url,
                             idp={"metadata_file": "idp.xml"},
                             sakai_password=sim.config.admin_password)
    if secret:
        env["SSO_BRIDGE_SECRET_KEY"] = secret
    return load_settings(path, env)


@pytest.fixture
def settings(tmp_path: Path, idp: TestIdp, sim: SakaiSimulator) -> Settings:
    return _settings(tmp_path, idp, sim)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


class Learner:
    """One browser: the test client with its cookies."""

    def __init__(self, app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator,
                 eid: str) -> None:
        self.client: FlaskClient = app.test_client()
        self.idp, self.settings, self.sim, self.eid = idp, settings, sim, eid
        self.session_index = "_idpsession_" + eid.split("@")[0]

    def start(self) -> tuple[str, str]:
        reply = self.client.get(f"/saml/login?target={self.sim.url}{TARGET}")
        query = parse_qs(urlsplit(reply.headers["Location"]).query)
        authn = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
        return authn.split(' ID="', 1)[1].split('"', 1)[0], query["RelayState"][0]

    def response(self, request_id: str) -> str:
        xml = self.idp.signed_response(acs_url=self.settings.acs_url,
                                       sp_entity_id=self.settings.sp_entity_id,
                                       in_response_to=request_id, name_id=self.eid,
                                       attributes=default_attributes(self.eid),
                                       session_index=self.session_index)
        return encode(xml)

    def post(self, saml: str, relay: str) -> object:
        return self.client.post("/saml/acs", data={"SAMLResponse": saml, "RelayState": relay})

    def sakai_sid(self, reply: object) -> str:
        cookie = next(c for c in reply.headers.getlist("Set-Cookie")  # type: ignore[attr-defined]
                      if c.startswith("JSESSIONID="))
        return cookie.split("=", 1)[1].split(";")[0].rsplit(".", 1)[0]


def _code(reply: object) -> str:
    match = re.search(r'<span class="code">\((\w+)\)</span>', reply.text)  # type: ignore[attr-defined]
    assert match, reply.text  # type: ignore[attr-defined]
    return match.group(1)


# --- errors that say what happened ----------------------------------------------------------


def test_blocked_cookies_are_named_as_such(app: Flask, idp: TestIdp, settings: Settings,
                                           sim: SakaiSimulator) -> None:
    learner = Learner(app, idp, settings, sim, "nocookies@example.org")
    request_id, relay = learner.start()
    learner.client._cookies.clear()  # type: ignore[union-attr]  # the browser kept none
    reply = learner.post(learner.response(request_id), relay)
    assert reply.status_code == 400 and _code(reply) == "cookies_blocked"  # type: ignore[attr-defined]
    assert "Allow cookies" in reply.text  # type: ignore[attr-defined]


def test_an_expired_login_with_cookies_working_is_not_called_blocked_cookies(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner = Learner(app, idp, settings, sim, "slowpoke@example.org")
    request_id, relay = learner.start()
    learner.client.delete_cookie("sso_bridge_login_" + relay, path="/saml/")
    reply = learner.post(learner.response(request_id), relay)
    assert _code(reply) == "login_expired"


def test_a_tampered_pending_login_cookie_says_start_again_and_logs_the_key_hint(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator,
        caplog: pytest.LogCaptureFixture) -> None:
    learner = Learner(app, idp, settings, sim, "tamper@example.org")
    request_id, relay = learner.start()
    other = create_app(_settings(Path(settings.config_dir), idp, sim, secret="x" * 40))
    _, other_relay = Learner(other, idp, settings, sim, "x@example.org").start()
    # The cookie another instance (another SSO_BRIDGE_SECRET_KEY) signed for this RelayState:
    foreign = other.test_client()
    foreign.get(f"/saml/login?target={sim.url}{TARGET}")
    value = next(c.value for c in foreign._cookies.values()  # type: ignore[union-attr]
                 if c.key.startswith("sso_bridge_login_"))
    learner.client.set_cookie("sso_bridge_login_" + relay, value, path="/saml/")
    reply = learner.post(learner.response(request_id), relay)
    assert reply.status_code == 400 and _code(reply) == "login_state_bad_signature"  # type: ignore[attr-defined]
    assert "sign in again" in reply.text  # type: ignore[attr-defined]
    assert "SSO_BRIDGE_SECRET_KEY" in caplog.text and "/readyz" in caplog.text
    assert other_relay


def test_readyz_shows_a_fingerprint_of_the_key_never_the_key(app: Flask,
                                                             settings: Settings) -> None:
    body = app.test_client().get("/readyz").get_json()
    fingerprint = body["checks"]["secret_key"]["fingerprint"]
    assert re.fullmatch(r"[0-9a-f]{12}", fingerprint)
    assert fingerprint == key_fingerprint(settings.secrets.flask_secret_key)
    assert fingerprint != key_fingerprint(settings.secrets.flask_secret_key + "x")
    assert settings.secrets.flask_secret_key not in str(body)


def test_the_back_button_after_a_login_sends_the_learner_on_without_a_new_session(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner = Learner(app, idp, settings, sim, "backbutton@example.org")
    request_id, relay = learner.start()
    saml = learner.response(request_id)
    first = learner.post(saml, relay)
    assert first.status_code == 302  # type: ignore[attr-defined]
    logins = sim.state.calls["getSessionForUser"]
    again = learner.post(saml, relay)  # the IdP's auto-submitting form, re-posted
    assert again.status_code == 302  # type: ignore[attr-defined]
    assert again.headers["Location"] == f"{sim.url}{TARGET}"  # type: ignore[attr-defined]
    assert "JSESSIONID" not in str(again.headers.getlist("Set-Cookie"))  # type: ignore[attr-defined]
    assert sim.state.calls["getSessionForUser"] == logins
    # The same response from another browser is still a replay: no session.
    thief = Learner(app, idp, settings, sim, "backbutton@example.org")
    _, thief_relay = thief.start()
    stolen = thief.post(saml, thief_relay)
    assert stolen.status_code == 403 and _code(stolen) in (  # type: ignore[attr-defined]
        "saml_in_response_to", "saml_replay")
    assert sim.state.calls["getSessionForUser"] == logins


# --- single logout --------------------------------------------------------------------------


def _logged_in(app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator,
               eid: str) -> tuple[Learner, str]:
    learner = Learner(app, idp, settings, sim, eid)
    request_id, relay = learner.start()
    reply = learner.post(learner.response(request_id), relay)
    assert reply.status_code == 302, reply.text  # type: ignore[attr-defined]
    sid = learner.sakai_sid(reply)
    assert sim.state.get_session(sid) is not None
    return learner, sid


def _now() -> str:
    return str(OneLogin_Saml2_Utils.parse_time_to_SAML(OneLogin_Saml2_Utils.now()))


def _logout_request(idp: TestIdp, settings: Settings, name_id: str, session_index: str, *,
                    issuer: str | None = None, destination: str | None = None,
                    issued: str | None = None) -> str:
    return (
        f'<samlp:LogoutRequest xmlns:samlp="{C.NS_SAMLP}" xmlns:saml="{C.NS_SAML}" '
        f'ID="{OneLogin_Saml2_Utils.generate_unique_id()}" Version="2.0" '
        f'IssueInstant="{issued or _now()}" '
        f'Destination="{destination or settings.bridge.base_url + "/saml/slo"}">'
        f"<saml:Issuer>{issuer or idp.entity_id}</saml:Issuer>"
        f'<saml:NameID Format="{C.NAMEID_TRANSIENT}">{name_id}</saml:NameID>'
        f"<samlp:SessionIndex>{session_index}</samlp:SessionIndex></samlp:LogoutRequest>")


def _redirect_query(xml: str, key_pem: str | None) -> str:
    deflated = base64.b64encode(zlib.compress(xml.encode())[2:-4]).decode()
    query = urlencode({"SAMLRequest": deflated, "RelayState": "r",
                       "SigAlg": C.RSA_SHA256})
    if key_pem is None:
        return urlencode({"SAMLRequest": deflated})
    key = serialization.load_pem_private_key(key_pem.encode(), None)
    signature = key.sign(query.encode(), padding.PKCS1v15(), hashes.SHA256())  # type: ignore[union-attr,call-arg,arg-type]
    return query + "&" + urlencode({"Signature": base64.b64encode(signature).decode()})


def _post_form(xml: str, key_pem: str, cert_pem: str) -> dict[str, str]:
    root = etree.fromstring(xml.encode())
    sign_element(root, key_pem=key_pem, cert_pem=cert_pem)
    return {"SAMLRequest": base64.b64encode(etree.tostring(root)).decode()}


def test_idp_logout_over_redirect_ends_the_sakai_session_and_answers_signed(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner, sid = _logged_in(app, idp, settings, sim, "slo-redirect@example.org")
    xml = _logout_request(idp, settings, learner.eid, learner.session_index)
    reply = app.test_client().get("/saml/slo?" + _redirect_query(xml, idp.key_pem))
    assert reply.status_code == 302, reply.text
    answer = parse_qs(urlsplit(reply.headers["Location"]).query)
    assert reply.headers["Location"].startswith(IDP_SLO)
    assert answer["Signature"] and answer["SigAlg"] == [C.RSA_SHA256]
    assert sim.state.get_session(sid) is None


def test_idp_logout_over_post_ends_the_sakai_session(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner, sid = _logged_in(app, idp, settings, sim, "slo-post@example.org")
    xml = _logout_request(idp, settings, learner.eid, learner.session_index)
    reply = app.test_client().post("/saml/slo", data=_post_form(xml, idp.key_pem, idp.cert_pem))
    assert reply.status_code == 302, reply.text
    assert "Signature=" in reply.headers["Location"]
    assert sim.state.get_session(sid) is None


def _hostile(app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator, eid: str,
             **kwargs: str) -> tuple[Learner, str, str]:
    learner, sid = _logged_in(app, idp, settings, sim, eid)
    return learner, sid, _logout_request(idp, settings, learner.eid, learner.session_index,
                                         **kwargs)


def _refused(reply: object, sim: SakaiSimulator, sid: str) -> None:
    assert reply.status_code == 400, reply.text  # type: ignore[attr-defined]
    assert _code(reply) == "slo_invalid"
    assert sim.state.get_session(sid) is not None


def test_attack_unsigned_logout_request_ends_nothing(app: Flask, idp: TestIdp,
                                                     settings: Settings,
                                                     sim: SakaiSimulator) -> None:
    _, sid, xml = _hostile(app, idp, settings, sim, "unsigned@example.org")
    _refused(app.test_client().get("/saml/slo?" + _redirect_query(xml, None)), sim, sid)
    unsigned_post = {"SAMLRequest": base64.b64encode(xml.encode()).decode()}
    _refused(app.test_client().post("/saml/slo", data=unsigned_post), sim, sid)


def test_attack_logout_request_signed_by_another_key_ends_nothing(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    _, sid, xml = _hostile(app, idp, settings, sim, "forgedkey@example.org")
    attacker = TestIdp()
    _refused(app.test_client().get("/saml/slo?" + _redirect_query(xml, attacker.key_pem)),
             sim, sid)
    forged = _post_form(xml, attacker.key_pem, attacker.cert_pem)
    _refused(app.test_client().post("/saml/slo", data=forged), sim, sid)


def test_attack_logout_request_from_another_idp_ends_nothing(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    _, sid, xml = _hostile(app, idp, settings, sim, "otheridp@example.org",
                           issuer="https://evil.example/idp")
    _refused(app.test_client().get("/saml/slo?" + _redirect_query(xml, idp.key_pem)), sim, sid)


def test_attack_logout_request_for_another_destination_ends_nothing(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    _, sid, xml = _hostile(app, idp, settings, sim, "otherdest@example.org",
                           destination=settings.bridge.base_url + "/saml/slo-other")
    _refused(app.test_client().get("/saml/slo?" + _redirect_query(xml, idp.key_pem)), sim, sid)
    _refused(app.test_client().post("/saml/slo", data=_post_form(xml, idp.key_pem,
                                                                 idp.cert_pem)), sim, sid)


def test_attack_expired_logout_request_ends_nothing(app: Flask, idp: TestIdp,
                                                    settings: Settings,
                                                    sim: SakaiSimulator) -> None:
    _, sid, xml = _hostile(app, idp, settings, sim, "expiredslo@example.org",
                           issued="2020-01-01T00:00:00Z")
    _refused(app.test_client().get("/saml/slo?" + _redirect_query(xml, idp.key_pem)), sim, sid)


def test_attack_replayed_logout_request_ends_nothing_the_second_time(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner, sid, xml = _hostile(app, idp, settings, sim, "replayslo@example.org")
    query = _redirect_query(xml, idp.key_pem)
    assert app.test_client().get("/saml/slo?" + query).status_code == 302
    assert sim.state.get_session(sid) is None
    request_id, relay = learner.start()  # the learner signs in again, same IdP session
    reply = learner.post(learner.response(request_id), relay)
    new_sid = learner.sakai_sid(reply)
    _refused(app.test_client().get("/saml/slo?" + query), sim, new_sid)


def test_attack_logout_request_for_another_session_index_ends_nothing(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner, sid = _logged_in(app, idp, settings, sim, "othersession@example.org")
    xml = _logout_request(idp, settings, learner.eid, "_some_other_idp_session")
    reply = app.test_client().get("/saml/slo?" + _redirect_query(xml, idp.key_pem))
    assert reply.status_code == 302  # answered, but nobody of that session was signed in
    assert sim.state.get_session(sid) is not None


def test_learner_logout_ends_sakai_and_asks_the_idp_with_a_signed_request(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator) -> None:
    learner, sid = _logged_in(app, idp, settings, sim, "bye@example.org")
    learner.client.set_cookie("sso_bridge_slo", next(
        c.value for c in learner.client._cookies.values()  # type: ignore[union-attr]
        if c.key == "sso_bridge_slo"), path="/saml/")
    reply = learner.client.get("/saml/logout")
    assert reply.status_code == 302 and reply.headers["Location"].startswith(IDP_SLO)
    query = parse_qs(urlsplit(reply.headers["Location"]).query)
    assert query["Signature"] and query["SigAlg"] == [C.RSA_SHA256]
    request_xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    assert learner.eid in request_xml and learner.session_index in request_xml
    assert sim.state.get_session(sid) is None


def test_learner_logout_with_an_idp_without_slo_still_ends_sakai(
        tmp_path: Path, idp: TestIdp, sim: SakaiSimulator) -> None:
    settings = _settings(tmp_path, idp, sim, slo=False)
    app = create_app(settings)
    learner, sid = _logged_in(app, idp, settings, sim, "noslo@example.org")
    reply = learner.client.get("/saml/logout", headers={"Accept-Language": "en"})
    assert reply.status_code == 200
    assert "You are signed out of Sakai" in reply.text and "may still remember you" in reply.text
    assert sim.state.get_session(sid) is None


def test_attack_logout_response_nobody_asked_for_is_refused(app: Flask) -> None:
    """A LogoutResponse without this browser's pending logout (a forged or stray one)."""
    response = ('<samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
                'ID="_r" Version="2.0" IssueInstant="2026-01-01T00:00:00Z"/>')
    deflated = base64.b64encode(zlib.compress(response.encode())[2:-4]).decode()
    reply = app.test_client().get("/saml/slo?" + urlencode({"SAMLResponse": deflated}))
    assert reply.status_code == 400 and _code(reply) == "slo_invalid"
    assert app.test_client().get("/saml/slo").status_code == 400  # no message at all


def test_learner_logout_after_sakai_ended_the_session_itself_still_reaches_the_idp(
        app: Flask, idp: TestIdp, settings: Settings, sim: SakaiSimulator,
        caplog: pytest.LogCaptureFixture) -> None:
    """Sakai's own logout has already invalidated the session when it sends the browser to
    its loggedOutUrl: that counts as ended, and the IdP is still asked."""
    learner, sid = _logged_in(app, idp, settings, sim, "sakaifirst@example.org")
    sim.state.invalidate(sid)  # what /portal/logout did
    reply = learner.client.get("/saml/logout")
    assert reply.status_code == 302 and reply.headers["Location"].startswith(IDP_SLO)
    assert "had already ended" in caplog.text
