"""`sso-bridge demo` (the README's first command) starts, lets a learner in, and cleans up."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

from tests.e2e.conftest import idp_sign_in


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_is_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


def test_demo_runs_until_interrupted_and_cleans_up(tmp_path: Path) -> None:
    ports = {"bridge": free_port(), "idp": free_port(), "sakai": free_port()}
    command = [sys.executable, "-m", "sso_bridge.cli", "demo",
               "--bridge-port", str(ports["bridge"]), "--idp-port", str(ports["idp"]),
               "--sakai-port", str(ports["sakai"])]
    demo = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            text=True, cwd=tmp_path)
    try:
        lines: dict[str, str] = {}
        deadline = time.monotonic() + 60
        assert demo.stdout is not None
        while "bridge" not in lines or "user" not in lines:
            assert time.monotonic() < deadline, f"demo did not start: {lines}"
            line = demo.stdout.readline()
            assert line, "demo exited early"
            key, _, value = line.strip().partition(" ")
            lines.setdefault(key, value)
        assert lines["idp"] == f"http://127.0.0.1:{ports['idp']}/simplesaml/"
        assert lines["sakai"] == f"http://127.0.0.1:{ports['sakai']}/portal"
        assert lines["user"] == "alice / alicepass (student)"
        browser = requests.Session()
        page = browser.get(lines["bridge"], timeout=10)
        action, fields = idp_sign_in(browser, page, "alice", "alicepass")
        portal = browser.post(action, data=fields, timeout=10)
        assert "Logged in as Alice Anderson" in portal.text
    finally:
        demo.send_signal(signal.SIGINT)
        demo.wait(timeout=20)
    assert all(port_is_free(port) for port in ports.values())
