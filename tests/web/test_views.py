"""The Flask layer through its test client, for a production-shaped (HTTPS, /sso) deployment."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

BASE = "https://lms.example.edu/sso"


@pytest.fixture
def client(tmp_path: Path) -> FlaskClient:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    return create_app(load_settings(path, env)).test_client()


def test_binding_cookie_survives_the_idps_cross_site_post(client: FlaskClient) -> None:
    reply = client.get("/saml/login?target=https://lms.example.edu/portal/site/x")
    assert reply.status_code == 302
    cookie = reply.headers["Set-Cookie"]
    assert "SameSite=None" in cookie and "Secure" in cookie and "HttpOnly" in cookie
    assert "Path=/sso/saml/" in cookie
    assert "lms.example.edu" not in reply.headers["Location"].split("RelayState=")[1]


def test_pending_login_cookies_stay_few_however_often_login_is_clicked(
        client: FlaskClient) -> None:
    from sso_bridge.web.views import LOGIN_COOKIE_PREFIX, MAX_PENDING_LOGINS

    jar: dict[str, str] = {}  # the browser's cookies for /sso/saml/ (the proxy strips /sso)
    seen = []
    for _ in range(3 * MAX_PENDING_LOGINS):
        for name, value in jar.items():
            client.set_cookie(name, value, path="/")
        reply = client.get("/saml/login")
        assert reply.status_code == 302
        for header in reply.headers.getlist("Set-Cookie"):
            name, value = header.split(";", 1)[0].split("=", 1)
            client.delete_cookie(name, path="/")
            if "Max-Age=0" in header:
                jar.pop(name, None)
            else:
                jar[name] = value
        seen.append(sum(1 for name in jar if name.startswith(LOGIN_COOKIE_PREFIX)))
    assert max(seen) == MAX_PENDING_LOGINS
    assert seen[:MAX_PENDING_LOGINS] == list(range(1, MAX_PENDING_LOGINS + 1))


def test_a_forged_host_header_changes_nothing(client: FlaskClient) -> None:
    reply = client.get("/saml/login", headers={"Host": "evil.example",
                                               "X-Forwarded-Host": "evil.example"})
    assert reply.status_code == 302
    assert "evil.example" not in reply.headers["Location"]
    metadata = client.get("/saml/metadata", headers={"Host": "evil.example"}).text
    assert "evil.example" not in metadata and BASE + "/saml/acs" in metadata


@pytest.mark.parametrize("form", [
    {},
    {"SAMLResponse": ""},
    {"SAMLResponse": "###"},
    {"SAMLResponse": base64.b64encode(b"\x00\xff\xfe binary").decode()},
    {"SAMLResponse": base64.b64encode(b"<a>not saml</a>").decode(), "RelayState": "x"},
    {"SAMLResponse": base64.b64encode(b"<samlp:Response xmlns:samlp='urn:oasis:names:tc:"
                                      b"SAML:2.0:protocol' ID='x' Version='2.0'/>").decode(),
     "RelayState": "x" * 10_000},
    {"SAMLResponse": base64.b64encode(b"<?xml version='1.0' encoding='utf-16'?><a/>").decode()},
], ids=["empty-form", "empty-response", "not-base64", "binary", "not-saml",
        "huge-relay-state", "wrong-encoding"])
def test_junk_at_the_acs_is_a_4xx_page_never_a_500(client: FlaskClient,
                                                    form: dict[str, str]) -> None:
    reply = client.post("/saml/acs", data=form)
    assert 400 <= reply.status_code < 500, reply.status_code
    assert "error id" in reply.text and "Traceback" not in reply.text


def test_the_wsgi_module_builds_the_app_from_the_environment(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    for name, value in {**env, "SSO_BRIDGE_CONFIG": str(path)}.items():
        monkeypatch.setenv(name, value)
    sys.modules.pop("sso_bridge.wsgi", None)
    wsgi = importlib.import_module("sso_bridge.wsgi")
    reply = wsgi.app.test_client().get("/healthz")
    assert reply.json == {"status": "ok"}
