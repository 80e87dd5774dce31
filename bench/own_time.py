"""The bridge's own time per login, Sakai's time taken out (issue 3's figure).

One process, no HTTP server: Flask's test client drives ``/saml/login`` and ``/saml/acs`` of an
app built by ``create_app`` against the Sakai simulator at 0 ms latency (in a thread of this
process). The time inside the WSGI app is measured (the test client's own work is not), each
Sakai call is timed by the client's ``on_call`` hook and subtracted; what is left is the
bridge: form parsing, SAML, provisioning logic, store, Flask.

    .venv/bin/python bench/own_time.py [--logins 300]
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from client import saml_request_id
from common import percentile  # noqa: I001 - puts the repository on sys.path

from sso_bridge.app import create_app
from sso_bridge.demo.configfile import write_config
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp, default_attributes, encode

_sakai_seconds = threading.local()
_app_seconds = threading.local()


def _timed(wsgi_app: Any) -> Any:
    def app(environ: Any, start_response: Any) -> Any:
        began = time.perf_counter()
        try:
            return list(wsgi_app(environ, start_response))
        finally:
            _app_seconds.total = getattr(_app_seconds, "total", 0.0) + (
                time.perf_counter() - began)
    return app


def _on_call(operation: str, seconds: float, error: str | None) -> None:
    _sakai_seconds.total = getattr(_sakai_seconds, "total", 0.0) + seconds


def measure(logins: int) -> dict[str, dict[str, float]]:
    work = Path(tempfile.mkdtemp(prefix="sso-bridge-own-time-"))
    idp, sim = TestIdp(), SakaiSimulator().serve()
    (work / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(work, base_url="http://127.0.0.1:9", sakai_url=sim.url,
                             idp={"metadata_file": "idp.xml"},
                             sakai_password=sim.config.admin_password,
                             extra={"logging": {"level": "WARNING",
                                                "audit_file": str(work / "audit.jsonl")}})
    settings = load_settings(path, env)
    app = create_app(settings)
    app.extensions["sso_bridge"].sakai.on_call = _on_call
    app.wsgi_app = _timed(app.wsgi_app)  # type: ignore[method-assign]
    client = app.test_client()
    eids = [f"own{i}@example.org" for i in range(logins)]
    try:
        return {kind: _round(client, idp, settings, eids, sim.url) for kind in
                ("first-time", "returning")}
    finally:
        sim.stop()


def _round(client: object, idp: TestIdp, settings: object, eids: list[str],
           sakai_url: str) -> dict[str, float]:
    own: list[float] = []
    for eid in eids:
        _sakai_seconds.total = _app_seconds.total = 0.0
        start = client.get("/saml/login")  # type: ignore[attr-defined]
        request_id, relay = saml_request_id(start.headers["Location"])
        xml = idp.signed_response(acs_url=settings.acs_url,  # type: ignore[attr-defined]
                                  sp_entity_id=settings.sp_entity_id,  # type: ignore[attr-defined]
                                  in_response_to=request_id, name_id=eid,
                                  attributes=default_attributes(eid))
        reply = client.post("/saml/acs",  # type: ignore[attr-defined]
                            data={"SAMLResponse": encode(xml), "RelayState": relay})
        assert reply.status_code == 302, reply.text
        own.append(_app_seconds.total - _sakai_seconds.total)
    return {"median_ms": round(percentile(own, 50) * 1000, 2),
            "p95_ms": round(percentile(own, 95) * 1000, 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logins", type=int, default=300)
    args = parser.parse_args()
    for kind, figures in measure(args.logins).items():
        print(f"{kind}: bridge's own time per login (Sakai excluded) median "
              f"{figures['median_ms']} ms, p95 {figures['p95_ms']} ms")


if __name__ == "__main__":
    main()
