"""Issue 10, hole 4, through the server operations run: gunicorn workers and their threads
decrypt NameIDs, and the bridge's log (its stdout and stderr) holds nothing decrypted."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from tests.e2e.processes import Learner, running_rig
from tests.samlfactory.encrypt import encrypt_name_id
from tests.samlfactory.idp import default_attributes, encode

LOGINS = 12


def test_hole4_encrypted_name_ids_leave_no_trace_in_the_server_log(tmp_path: Path) -> None:
    with running_rig(tmp_path) as rig:
        sp_cert = (tmp_path / "sp.crt").read_text()
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
