"""A fresh admin following only docs/getting-started.md reaches a working login.

The blocks marked ``tested`` run in order in bash, as written, with ``sso-bridge`` on PATH;
the ``tested: background`` block is the server. Against a real SimpleSAMLphp IdP and the Sakai
simulator (whose service account is the documented ``svc-sso-bridge``) on loopback, the test
changes only what loopback forces, listed in LOOPBACK: plain http instead of https (so the
production mode becomes standard and the IdP's metadata may come over http), and free ports
and folders instead of the documented ones. The IdP registration is the file the documented
``metadata`` command wrote, placed among SimpleSAMLphp's metadata sources.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.docs.blocks import ROOT, blocks
from tests.e2e.conftest import idp_sign_in
from tests.e2e.processes import free_port, wait_until

pytestmark = pytest.mark.e2e
GUIDE = ROOT / "docs" / "getting-started.md"
PASSWORD = "svc-Pa55-getting-started"


def loopback(*, bridge_port: int, sakai: str, idp_metadata: str,
             state: Path) -> list[tuple[str, str]]:
    """What a test on one machine without TLS must change in the documented text."""
    return [
        ('mode = "production"', 'mode = "standard"'),
        ('metadata_url = "https://idp.example.edu/idp/shibboleth"',
         f'metadata_url = "{idp_metadata}"\nmetadata_allow_http = true'),
        ("https://lms.example.edu/sso", f"http://127.0.0.1:{bridge_port}/sso"),
        ("https://lms.example.edu", sakai),
        ("127.0.0.1:8000", f"127.0.0.1:{bridge_port}"),
        ("/var/lib/sso-bridge", str(state)),
    ]


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[SimpleSamlIdp, SakaiSimulator, int]]:
    bridge_port = free_port()
    sakai = SakaiSimulator(SimConfig(admin_eid="svc-sso-bridge",
                                     admin_password=PASSWORD)).serve()
    idp = SimpleSamlIdp(tmp_path / "idp", trusted_domains=[f"127.0.0.1:{bridge_port}"])
    try:
        idp.configure()
        idp.start()
        yield idp, sakai, bridge_port
    finally:
        idp.stop()
        sakai.stop()


def test_the_getting_started_guide_ends_in_a_login(
        tmp_path: Path, world: tuple[SimpleSamlIdp, SakaiSimulator, int]) -> None:
    idp, sakai, port = world
    guide = [b for b in blocks(GUIDE) if b.marker.startswith("tested")]
    steps = [b for b in guide if b.marker == "tested"]
    server = [b for b in guide if b.marker == "tested: background"]
    assert len(steps) >= 4 and len(server) == 1
    sso_dir, state = tmp_path / "etc-sso-bridge", tmp_path / "var-lib-sso-bridge"

    changes = loopback(bridge_port=port, sakai=sakai.url, idp_metadata=idp.metadata_url,
                       state=state)
    documented = "".join(b.body for b in guide)
    assert all(text in documented for text, _ in changes)

    def script(body: str) -> str:
        for text, here in changes:
            body = body.replace(text, here)
        return body

    env = {**os.environ, "SSO_DIR": str(sso_dir), "SAKAI_ADMIN_PASSWORD": PASSWORD,
           "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for name in [k for k in env if k.startswith("SSO_BRIDGE_")]:
        del env[name]  # only what the guide sets
    done = subprocess.run(["bash", "-euo", "pipefail", "-c",
                           "\n".join(script(b.body) for b in steps)], env=env, cwd=ROOT,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "configuration OK" in done.stdout
    assert "problem" not in done.stderr
    metadata = (sso_dir / "sp-metadata.xml").read_bytes()
    assert f'Location="http://127.0.0.1:{port}/sso/saml/acs"'.encode() in metadata
    idp.register_sp("bridge", metadata)

    log = (tmp_path / "serve.log").open("wb")
    serve = subprocess.Popen(["bash", "-euo", "pipefail", "-c", script(server[0].body)],
                             env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    bridge = f"http://127.0.0.1:{port}/sso"
    try:
        wait_until(lambda: requests.get(bridge + "/healthz", timeout=1).ok, 60,
                   f"sso-bridge serve ({(tmp_path / 'serve.log').read_text()[-2000:]})")
        browser = requests.Session()
        page = browser.get(bridge + "/saml/login", timeout=20)
        action, fields = idp_sign_in(browser, page, "alice", "alicepass")
        landed = browser.post(action, data=fields, allow_redirects=False, timeout=30)
        assert landed.status_code == 302, landed.text
        assert landed.headers["Location"] == sakai.url + "/portal"
        cookie = re.search(r"JSESSIONID=([^;]+)", landed.headers.get("Set-Cookie", ""))
        assert cookie and cookie.group(1).endswith(".sakai")
        session = cookie.group(1)
        me = requests.get(sakai.url + "/direct/session/current.json",
                          cookies={"JSESSIONID": session}, timeout=5).json()
        assert me["userEid"] == "alice@example.org"
    finally:
        os.killpg(serve.pid, signal.SIGTERM)
        serve.wait(timeout=30)
        log.close()
