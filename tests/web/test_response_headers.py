"""What every response carries, and what none does: a Flask session cookie."""

from __future__ import annotations

import base64
import re
import zlib
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from flask import Flask, Response, session
from flask.sessions import NullSession
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from sso_bridge.app import create_app
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from sso_bridge.settings import Settings, load_settings
from tests.samlfactory.idp import TestIdp, default_attributes, encode
from tests.support import write_config

CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
       "form-action 'none'; base-uri 'none'")
OWN = ("X-Request-Id", "Cache-Control", "X-Content-Type-Options", "X-Frame-Options")


@pytest.fixture(scope="module")
def sim() -> Iterator[SakaiSimulator]:
    simulator = SakaiSimulator().serve()
    yield simulator
    simulator.stop()


@pytest.fixture
def idp() -> TestIdp:
    return TestIdp()


@pytest.fixture
def settings(tmp_path: Path, idp: TestIdp, sim: SakaiSimulator) -> Settings:
    (tmp_path / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(tmp_path, base_url="http://127.0.0.1:9", sakai_url=sim.url,
                             idp={"metadata_file": "idp.xml"},
                             sakai_password=sim.config.admin_password,
                             extra={"logging": {"audit_file": str(tmp_path / "audit.jsonl")}})
    return load_settings(path, env)


@pytest.fixture
def app(settings: Settings) -> Flask:
    return create_app(settings)


def _login(client: FlaskClient, idp: TestIdp, settings: Settings,
           eid: str) -> tuple[TestResponse, TestResponse]:
    start = client.get("/saml/login")
    query = parse_qs(urlsplit(start.headers["Location"]).query)
    authn = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    request_id = authn.split(' ID="', 1)[1].split('"', 1)[0]
    xml = idp.signed_response(acs_url=settings.acs_url, sp_entity_id=settings.sp_entity_id,
                              in_response_to=request_id, name_id=eid,
                              attributes=default_attributes(eid))
    reply = client.post("/saml/acs", data={"SAMLResponse": encode(xml),
                                           "RelayState": query["RelayState"][0]})
    return start, reply  # type: ignore[return-value]


def _cookie_names(response: Response | TestResponse) -> list[str]:
    return [c.split("=", 1)[0] for c in response.headers.getlist("Set-Cookie")]


def _assert_own_headers(response: Response | TestResponse, html: bool) -> None:
    names = [k.lower() for k, _ in response.headers]
    for name in (*OWN, "Content-Security-Policy"):
        assert names.count(name.lower()) == (1 if html or name in OWN else 0), (name, names)
    assert re.fullmatch(r"[0-9a-f]{16}", response.headers["X-Request-Id"])
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    if html:
        assert response.headers["Content-Security-Policy"] == CSP


def test_a_login_sets_no_session_cookie_even_when_the_browser_sends_one(
        app: Flask, idp: TestIdp, settings: Settings) -> None:
    client = app.test_client()
    client.set_cookie("session", "eyJ4IjoxfQ.aGVsbG8.c2lnbmF0dXJl")  # a stale Flask session
    start, reply = _login(client, idp, settings, "nosession@example.org")
    assert start.status_code == 302 and reply.status_code == 302, reply.text
    assert "JSESSIONID" in _cookie_names(reply)
    for response in (start, reply):
        assert app.config["SESSION_COOKIE_NAME"] not in _cookie_names(response)
        assert "Vary" not in response.headers
        _assert_own_headers(response, html=True)  # a redirect's body is a small HTML page
    assert reply.headers["Referrer-Policy"] == "no-referrer"


def test_a_refused_post_to_the_acs_sets_no_session_cookie(app: Flask) -> None:
    reply = app.test_client().post("/saml/acs", data={"SAMLResponse": "###"})
    assert reply.status_code == 400
    assert app.config["SESSION_COOKIE_NAME"] not in _cookie_names(reply)
    assert "Vary" not in reply.headers
    _assert_own_headers(reply, html=True)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/saml/metadata", "/metrics"])
def test_every_other_response_carries_the_headers_once(app: Flask, path: str) -> None:
    reply = app.test_client().get(path)
    assert _cookie_names(reply) == []
    _assert_own_headers(reply, html=False)


def test_request_ids_differ(app: Flask) -> None:
    client = app.test_client()
    ids = {client.get("/healthz").headers["X-Request-Id"] for _ in range(20)}
    assert len(ids) == 20


def test_flask_session_is_a_null_session_that_refuses_writes(app: Flask) -> None:
    with app.test_request_context("/saml/login"):
        app.preprocess_request()
        assert isinstance(session._get_current_object(), NullSession)  # type: ignore[attr-defined]
        with pytest.raises(RuntimeError):
            session["x"] = 1


def test_a_views_own_headers_are_overridden_or_kept_as_before(app: Flask) -> None:
    """Cache-Control and X-Request-Id always win; the others only fill in."""
    @app.get("/_own_headers")
    def own_headers() -> Response:
        response = Response("<p>hi</p>", mimetype="text/html")
        response.headers["Cache-Control"] = "public, max-age=60"
        response.headers["X-Request-Id"] = "forged"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Content-Security-Policy"] = "default-src 'self'"
        return response

    reply = app.test_client().get("/_own_headers")
    assert reply.headers.getlist("Cache-Control") == ["no-store"]
    assert re.fullmatch(r"[0-9a-f]{16}", reply.headers["X-Request-Id"])
    assert reply.headers.getlist("X-Frame-Options") == ["SAMEORIGIN"]
    assert reply.headers.getlist("Content-Security-Policy") == ["default-src 'self'"]
    assert reply.headers.getlist("X-Content-Type-Options") == ["nosniff"]
    assert [k for k, _ in reply.headers][-1] == "X-Content-Type-Options"
