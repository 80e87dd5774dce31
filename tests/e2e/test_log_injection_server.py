"""Issue 10, hole 2, as operations run the bridge: granian's access log and the bridge's own
lines, text format, to one stream. A request path or an EID carrying a newline forges no line."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.processes import Rig, running_rig, wait_until

FORGED = "2026-01-01 00:00:00 +0000 INFO forged: login of admin complete"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with running_rig(Path(tmp_path_factory.mktemp("loginjection"))) as running:
        yield running


def _raw_get(url: str, path: str) -> bytes:
    """A GET whose request line carries ``path`` exactly (percent-escapes and all)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
                     "Connection: close\r\n\r\n".encode())
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def test_log_injection_through_the_request_path_forges_no_access_line(rig: Rig) -> None:
    path = "/saml/x%0A" + FORGED.replace(" ", "%20") + "%0D%0A%1B%5B2J"
    reply = _raw_get(rig.bridge.url, path)
    assert reply.startswith(b"HTTP/1.1 404"), reply[:200]
    wait_until(lambda: "forged:" in rig.bridge.log(), 10, "the access line")
    log = rig.bridge.log()
    assert not [line for line in log.splitlines() if line.startswith(FORGED[:10])]
    assert "/saml/x\\n2026-01-01" in log
    assert "\x1b" not in log


def test_log_injection_through_an_eid_forges_no_line(rig: Rig) -> None:
    start = len(rig.bridge.log())
    learner = rig.learner(f"mallory\n{FORGED}")
    learner.login(rig.bridge.url)
    wait_until(lambda: "forged" in rig.bridge.log()[start:].lower(), 10, "the login's lines")
    log = rig.bridge.log()[start:]
    assert not [line for line in log.splitlines() if line.startswith(FORGED[:10])]
    assert "mallory\\n2026-01-01" in log  # logged, escaped (EID lower-cased, ':' removed)
