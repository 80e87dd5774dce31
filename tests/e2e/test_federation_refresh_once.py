"""A federation's aggregate is fetched once per instance per refresh interval, not once per
worker: ``sso-bridge serve`` (granian, 2 workers) with ``[federations.fed] url`` on the test
file server over https, whose GETs are counted."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from tests.e2e.processes import BridgeProcess, free_port
from tests.federation.bridge import signed_aggregate
from tests.federation.factory import key_pair
from tests.federation.servers import file_server
from tests.sakai.tls import localhost_certificate, server_context
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

INTERVAL = 2
WATCHED = 12.0


def touch_every_worker(url: str) -> None:
    """Requests enough, in parallel, that each worker serves some (and so starts its
    background refresh thread, as a worker does at its first request)."""
    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(lambda _: requests.get(url + "/healthz", timeout=5).ok,
                                range(64)))
    assert all(replies)


def test_two_workers_fetch_the_aggregate_once_per_interval(tmp_path: Path) -> None:
    signer_key, signer_cert = key_pair("federation")
    www = tmp_path / "www"
    www.mkdir()
    (www / "aggregate.xml").write_bytes(signed_aggregate(signer_key))
    (tmp_path / "federation.crt").write_text(signer_cert)
    idp = TestIdp()
    (tmp_path / "idp.xml").write_text(idp.metadata_xml())
    cert, key = localhost_certificate(tmp_path)
    hits: Counter[str] = Counter()
    port = free_port()
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as sakai, \
            file_server(www, server_context(cert, key), host="localhost", hits=hits) as base:
        config, env = write_config(
            tmp_path, base_url=f"http://127.0.0.1:{port}", sakai_url=sakai.url,
            idp={"metadata_file": "idp.xml"}, sakai_password=sakai.config.admin_password,
            extra={"federations": {"fed": {
                "url": f"{base}/aggregate.xml", "signing_certificate": "federation.crt",
                "max_validity_days": 14, "refresh_seconds": INTERVAL}},
                "store": {"state_directory": str(tmp_path / "state")}})
        bridge = BridgeProcess(config, {**env, "SSL_CERT_FILE": str(cert)}, port=port,
                               workers=2).start()
        try:
            started = time.monotonic()
            touch_every_worker(bridge.url)
            assert len(bridge.worker_pids()) == 2
            time.sleep(WATCHED)
            elapsed = time.monotonic() - started
            ready = requests.get(bridge.url + "/readyz", timeout=5).json()
        finally:
            bridge.stop()
    fetched = hits["/aggregate.xml"]
    source = ready["checks"]["idp_sources"]["federations.fed"]
    assert source["ok"] and source["idps"] == 4 and "last_error" not in source
    # once at start-up, then at most once per interval for the instance (each worker
    # refreshing on its own would fetch about twice as often)
    assert 2 <= fetched <= 2 + elapsed / INTERVAL, (fetched, elapsed, bridge.log()[-3000:])
