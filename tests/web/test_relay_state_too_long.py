"""Issue 10, hole 9: an over-long RelayState at the ACS gets its own page and error code."""

from __future__ import annotations

import base64
import zlib
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from sso_bridge.app import create_app
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp, encode
from tests.support import write_config

BASE = "https://lms.example.edu/sso"


def test_hole9_an_over_long_relay_state_gets_the_too_long_page(tmp_path: Path) -> None:
    idp = TestIdp()
    (tmp_path / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    settings = load_settings(path, env)
    client = create_app(settings).test_client()
    started = client.get("/saml/login")
    query = parse_qs(urlsplit(started.headers["Location"]).query)
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    request_id = request.split(' ID="', 1)[1].split('"', 1)[0]
    xml = idp.signed_response(acs_url=settings.acs_url, sp_entity_id=settings.sp_entity_id,
                              in_response_to=request_id)
    relay_state = query["RelayState"][0] + "x" * settings.limits.max_relay_state_bytes
    reply = client.post("/saml/acs", data={"SAMLResponse": encode(xml),
                                           "RelayState": relay_state})
    assert reply.status_code == 400
    assert "The sign-in link was too long" in reply.text
    assert "(relay_state_too_long)" in reply.text
    assert "RelayState" not in reply.text  # what the log holds, not the learner
