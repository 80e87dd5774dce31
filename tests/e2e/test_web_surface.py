"""The bridge's HTTP surface: metadata, readiness, and clean pages for bad requests."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import requests
from lxml import etree

from sso_bridge.demo.stack import DemoStack
from tests.e2e.conftest import sim_control


def test_metadata_is_served_with_the_saml_content_type(stack: DemoStack) -> None:
    reply = requests.get(stack.bridge_url + "/saml/metadata", timeout=5)
    assert reply.status_code == 200
    assert reply.headers["Content-Type"].startswith("application/samlmetadata+xml")
    root = etree.fromstring(reply.content)
    assert root.get("entityID") == stack.bridge_url + "/saml/metadata"
    acs = root.find(".//{urn:oasis:names:tc:SAML:2.0:metadata}AssertionConsumerService")
    assert acs is not None and acs.get("Location") == stack.bridge_url + "/saml/acs"


def test_health_and_readiness(stack: DemoStack) -> None:
    assert requests.get(stack.bridge_url + "/healthz", timeout=5).json() == {"status": "ok"}
    ready = requests.get(stack.bridge_url + "/readyz", timeout=5)
    assert ready.status_code == 200, ready.text
    body = ready.json()
    assert body["ready"] is True
    assert body["checks"]["sakai"]["ok"] and body["checks"]["store"]["ok"]
    assert body["checks"]["idp_metadata"]["entity_id"] == stack.idp.entity_id
    assert 0 < body["checks"]["sp_certificate"]["days_to_expiry"] <= 30


def test_readiness_turns_red_when_sakai_is_down_and_recovers(sim: DemoStack) -> None:
    sim_control(sim, "expire-sessions", {"scope": "admin"})
    sim_control(sim, "config", {"down": True})
    reply = requests.get(sim.bridge_url + "/readyz", timeout=15)
    assert reply.status_code == 503
    sakai = reply.json()["checks"]["sakai"]
    assert (sakai["ok"], sakai["error"]) == (False, "sakai_unavailable")
    sim_control(sim, "config", {"down": False})
    assert requests.get(sim.bridge_url + "/readyz", timeout=15).status_code == 200


def test_bad_requests_get_pages_not_stack_traces(stack: DemoStack) -> None:
    cases = [
        (requests.get(stack.bridge_url + "/no/such/page", timeout=5), 404),
        (requests.get(stack.bridge_url + "/saml/acs", timeout=5), 405),
        (requests.post(stack.bridge_url + "/saml/acs", data={"RelayState": "x"}, timeout=5), 400),
        (requests.post(stack.bridge_url + "/saml/acs",
                       data={"SAMLResponse": "A" * 2_000_000}, timeout=5), 413),
        (requests.post(stack.bridge_url + "/saml/acs",
                       data={"SAMLResponse": "bm90IHhtbA==", "RelayState": "x"}, timeout=5),
         400),
    ]
    for reply, status in cases:
        assert reply.status_code == status, (reply.url, reply.status_code)
        assert reply.headers["Content-Type"].startswith("text/html")
        assert "error id" in reply.text and reply.headers["X-Request-Id"] in reply.text
        assert "Traceback" not in reply.text
        assert reply.headers["Cache-Control"] == "no-store"


def test_the_pending_login_cookie_is_scoped_signed_and_http_only(stack: DemoStack) -> None:
    reply = requests.get(stack.bridge_url + "/saml/login", allow_redirects=False, timeout=5)
    relay = parse_qs(urlsplit(reply.headers["Location"]).query)["RelayState"][0]
    cookie = reply.headers["Set-Cookie"]
    assert cookie.startswith(f"sso_bridge_login_{relay}=")
    assert "HttpOnly" in cookie and "Path=/saml/" in cookie and "Max-Age=600" in cookie
    assert "SameSite=Lax" in cookie  # plain-HTTP demo; over HTTPS it is SameSite=None; Secure
    value = cookie.split(";", 1)[0].split("=", 1)[1]
    assert value.count(".") >= 2  # itsdangerous: payload, timestamp, signature


def test_pages_forbid_scripts_and_framing(stack: DemoStack) -> None:
    reply = requests.get(stack.bridge_url + "/no/such/page", timeout=5)
    assert "There is no such page here" in reply.text
    csp = reply.headers["Content-Security-Policy"]
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert reply.headers["X-Frame-Options"] == "DENY"
