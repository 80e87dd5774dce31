"""Issue 10 through the server operations run (granian, two workers, multiprocess metrics):
hole 4, nothing decrypted in the bridge's log; and python3-saml's caches reported in force."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from tests.e2e.processes import Learner, Rig, running_rig
from tests.samlfactory.encrypt import encrypt_name_id
from tests.samlfactory.idp import default_attributes, encode

LOGINS = 12


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    with running_rig(Path(tmp_path_factory.mktemp("decrypting"))) as running:
        yield running


def test_hole4_encrypted_name_ids_leave_no_trace_in_the_server_log(rig: Rig) -> None:
    sp_cert = (rig.bridge.config.parent / "sp.crt").read_text()
    url = rig.bridge.url

    def login(i: int) -> int:
        learner: Learner = rig.learner(f"hidden{i}")
        request_id, relay = learner.start(url)
        xml = rig.idp.build_response(
            acs_url=learner.acs_url, sp_entity_id=learner.sp_entity_id,
            in_response_to=request_id, name_id=f"secret-name-{i}@example.org",
            attributes=default_attributes(learner.eid))
        signed = rig.idp.sign(encrypt_name_id(xml, sp_cert))
        return learner.post(url, encode(signed), relay).status_code

    with ThreadPoolExecutor(max_workers=6) as pool:  # several worker threads decrypt
        assert list(pool.map(login, range(LOGINS))) == [302] * LOGINS
    log = rig.bridge.log()
    assert "login of hidden0@example.org complete" in log  # the log is the server's
    assert "namespace error" not in log and "secret-name-" not in log
    assert "SPNameQualifier" not in log


def test_the_caches_gauge_and_readyz_under_the_server(rig: Rig) -> None:
    metrics = requests.get(rig.bridge.url + "/metrics", timeout=10).text
    assert "sso_bridge_python3_saml_caches_active 1.0" in metrics
    ready = requests.get(rig.bridge.url + "/readyz", timeout=10).json()
    assert ready["checks"]["python3_saml_caches"] == {"ok": True, "active": True}
