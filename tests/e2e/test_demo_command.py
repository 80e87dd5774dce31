"""`sso-bridge demo` (the README's first command) starts two IdPs, lets a learner of each in, and
cleans up."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from lxml import etree

from tests.e2e.conftest import idp_sign_in

MDUI = "urn:oasis:names:tc:SAML:metadata:ui"
MD = "urn:oasis:names:tc:SAML:2.0:metadata"
DS = "http://www.w3.org/2000/09/xmldsig#"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def _read_lines(demo: subprocess.Popen[str]) -> dict[str, list[str]]:
    """The demo's start-up lines by their first word, up to the "open the bridge URL" line."""
    lines: dict[str, list[str]] = {}
    deadline = time.monotonic() + 60
    assert demo.stdout is not None
    while "open" not in lines:
        assert time.monotonic() < deadline, f"demo did not start: {lines}"
        line = demo.stdout.readline()
        assert line, f"demo exited early: {lines}"
        key, _, value = line.strip().partition(" ")
        lines.setdefault(key, []).append(value)
    return lines


def _published(metadata_url: str) -> tuple[dict[str, str], str]:
    """An IdP's metadata: its mdui:DisplayName by language, and its signing certificate."""
    reply = requests.get(metadata_url, timeout=10)
    assert reply.status_code == 200
    root = etree.fromstring(reply.content)
    assert root.get("entityID") == metadata_url
    names = {name.get(XML_LANG): name.text for name in root.iter(f"{{{MDUI}}}DisplayName")}
    certificate = root.findtext(f".//{{{MD}}}KeyDescriptor[@use='signing']//{{{DS}}}"
                                "X509Certificate")
    assert certificate
    return names, "".join(certificate.split())


def _signs_in(bridge: str, entity_id: str, username: str) -> str:
    """A learner's login at ``/saml/login?idp=``; the Sakai page they land on."""
    browser = requests.Session()
    page = browser.get(bridge, params={"idp": entity_id}, timeout=10)
    action, fields = idp_sign_in(browser, page, username, username + "pass")
    return browser.post(action, data=fields, timeout=10).text


def test_demo_runs_until_interrupted_and_cleans_up(tmp_path: Path) -> None:
    ports = {"bridge": free_port(), "idp": free_port(), "partner-idp": free_port(),
             "sakai": free_port()}
    command = [sys.executable, "-m", "sso_bridge.cli", "demo",
               "--bridge-port", str(ports["bridge"]), "--idp-port", str(ports["idp"]),
               "--partner-idp-port", str(ports["partner-idp"]),
               "--sakai-port", str(ports["sakai"])]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=tmp_path)
    try:
        lines = _read_lines(demo)
        idps = [f"http://127.0.0.1:{ports[key]}/simplesaml/" for key in ("idp", "partner-idp")]
        assert lines["idp"] == idps
        entity_ids = [idp + "saml2/idp/metadata.php" for idp in idps]
        (university, university_key), (partner, partner_key) = map(_published, entity_ids)
        assert (university["en"], university["ru"]) == ("University", "Университет")
        assert (partner["en"], partner["ru"]) == ("Partner organisation",
                                                  "Партнёрская организация")
        assert university_key != partner_key  # each IdP signs with its own key
        assert lines["sakai"] == [f"http://127.0.0.1:{ports['sakai']}/portal"]
        assert "alice / alicepass (student, University)" in lines["user"]
        assert "partner1 / partner1pass (student, Partner organisation)" in lines["user"]
        (bridge,) = lines["bridge"]
        first = requests.get(bridge, allow_redirects=False, timeout=10)  # two IdPs: which?
        assert first.status_code == 302
        assert first.headers["Location"].startswith(
            f"http://127.0.0.1:{ports['bridge']}/saml/discovery?")
        assert "Logged in as Alice Anderson" in _signs_in(bridge, entity_ids[0], "alice")
        assert "Logged in as Petra Novak" in _signs_in(bridge, entity_ids[1], "partner1")
        with pytest.raises(AssertionError, match="did not answer with a response"):
            _signs_in(bridge, entity_ids[1], "alice")  # each IdP has its own users
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=20)
    assert all(port_is_free(port) for port in ports.values())
