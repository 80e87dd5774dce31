"""Issue 10, hole 2: nothing a learner or an IdP sends can forge a log line.

Through the bridge's real ACS route, with the handler ``logs.configure`` installs (text and
JSON) and the audit log: a response whose root namespace carries a newline and a fake log
line, and an EID with one, leave exactly the lines the bridge wrote.
"""

from __future__ import annotations

import base64
import io
import json
import logging
from collections.abc import Iterator

import pytest

from sso_bridge import logs
from sso_bridge.app import create_app
from sso_bridge.logs import AuditLog
from sso_bridge.services import build_services
from tests.accounts.conftest import Bridge

FORGED = "2026-01-01 00:00:00,000 INFO [-] sso_bridge.web: login of admin complete"


@pytest.fixture(params=[False, True], ids=["text", "json"])
def captured(request: pytest.FixtureRequest) -> Iterator[tuple[io.StringIO, bool]]:
    stream = io.StringIO()
    handler = logs.make_handler(as_json=request.param, stream=stream)
    logger = logging.getLogger("sso_bridge")
    level = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield stream, request.param
    logger.removeHandler(handler)
    logger.setLevel(level)


def _lines(stream: io.StringIO, as_json: bool) -> list[str]:
    lines = stream.getvalue().splitlines()
    assert lines, "nothing was logged"
    if as_json:  # each line one JSON object, and no decoded value holds a line break
        values = [str(v) for line in lines for v in json.loads(line).values()]
        assert not [v for v in values if "\n" in v or "\r" in v]
    return lines


def test_log_injection_through_the_root_namespace_forges_no_line(
        bridge: Bridge, captured: tuple[io.StringIO, bool]) -> None:
    stream, as_json = captured
    xml = (f'<samlp:Response xmlns:samlp="urn:x&#10;{FORGED}&#13;&#10;{FORGED}&#x2028;" '
           'ID="_x" Version="2.0"/>')
    reply = bridge.client.post("/saml/acs", data={
        "SAMLResponse": base64.b64encode(xml.encode()).decode(), "RelayState": "r" * 20})
    assert reply.status_code == 400
    assert "(saml_malformed)" in reply.text
    lines = _lines(stream, as_json)
    assert not [line for line in lines if line.startswith(FORGED[:10])]
    assert "\\n" + FORGED[:10] in stream.getvalue()  # logged, escaped: the admin sees it
    assert "\r" not in stream.getvalue() and "\u2028" not in stream.getvalue()


def test_log_injection_through_an_idp_supplied_eid_forges_no_line(
        bridge: Bridge, captured: tuple[io.StringIO, bool]) -> None:
    stream, as_json = captured
    audit = io.StringIO()
    services = build_services(bridge.services.settings, audit=AuditLog(stream=audit))
    bridge.client = create_app(services.settings, services).test_client()
    bridge.services = services
    bridge.login(f"mallory@example.org\n{FORGED}\u2028{FORGED}")
    lines = _lines(stream, as_json)
    assert not [line for line in lines if line.startswith(FORGED[:10])]
    assert "\u2028" not in stream.getvalue()
    (audit_line,) = audit.getvalue().splitlines()
    eid = json.loads(audit_line)["eid"]
    assert eid is None or ("\n" not in eid and "\\n" + FORGED[:10] in eid)


def test_escaping_leaves_ordinary_text_alone() -> None:
    text = "login of jane.doe@example.org (Zoë Ünal, 名前) complete in 12.5 ms"
    assert logs.escape_controls(text) == text
    assert logs.escape_controls("a\nb\tc\x00d\u202ee\u200bf") == "a\\nb\\tc\\x00d\\u202ee\\u200bf"
