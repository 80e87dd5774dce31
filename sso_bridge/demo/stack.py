"""The local demo stack: real SimpleSAMLphp IdPs, the Sakai simulator and the bridge, on loopback.

Used by ``sso-bridge demo`` and by the end-to-end tests. NOT FOR PRODUCTION: generated keys,
plain HTTP, a simulated Sakai.
"""

from __future__ import annotations

import shutil
import signal
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from sso_bridge.app import create_app
from sso_bridge.demo.configfile import merge, write_config
from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.demo.organisations import (
    DEFAULT_USERS,
    DEMO_ORGANISATIONS,
    UNIVERSITY,
    DemoUser,
    Organisation,
)
from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from sso_bridge.services import Services
from sso_bridge.settings import load_settings


class ThreadedServer:
    """A WSGI app served by werkzeug in a daemon thread (port 0 picks a free port)."""

    def __init__(self, app: Any, host: str = "127.0.0.1", port: int = 0) -> None:
        self.server: BaseWSGIServer = make_server(host, port, app, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True,
                                       name=f"wsgi-{self.server.server_port}")
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.server.host}:{self.server.server_port}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def _free_port(host: str) -> int:
    import socket

    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


class DemoStack:
    """Real SimpleSAMLphp IdPs, the Sakai simulator and the bridge trusting every IdP.

    ``organisations``: the IdPs, the first one as ``[idp]`` (``self.idp``), the others as
    ``[idps.<key>]``; ``self.idps`` holds them all in that order. Without it: one IdP knowing
    ``users``, trusted with the bridge's default policy (the shape most tests use).
    ``sso-bridge demo`` runs :data:`DEMO_ORGANISATIONS`. ``ports``: ``bridge``, ``sakai``,
    ``idp`` (the first IdP) and ``<key>_idp`` for the others; a missing one is a free port.
    """

    def __init__(self, workdir: Path, *, host: str = "127.0.0.1",
                 ports: dict[str, int] | None = None, bridge_extra: dict[str, Any] | None = None,
                 sim_config: SimConfig | None = None,
                 users: Sequence[DemoUser] = DEFAULT_USERS,
                 organisations: Sequence[Organisation] | None = None) -> None:
        ports = ports or {}
        self.workdir = workdir
        self.host = host
        self.bridge_port = ports.get("bridge") or _free_port(host)
        self.bridge_url = f"http://{host}:{self.bridge_port}"
        self.organisations = tuple(organisations or
                                   (replace(UNIVERSITY, users=tuple(users), policy={}),))
        self.idps = tuple(self._idp(i, org, ports) for i, org in enumerate(self.organisations))
        self.idp = self.idps[0]
        self.sakai = SakaiSimulator(sim_config or SimConfig())
        self._sakai_port = ports.get("sakai", 0)
        self.bridge_extra = bridge_extra or {}
        self.bridge: ThreadedServer | None = None
        self.services: Services | None = None

    def _idp(self, index: int, org: Organisation, ports: dict[str, int]) -> SimpleSamlIdp:
        # Each IdP signs its metadata and the bridge checks that signature against the IdP's
        # certificate, as an admin should set it up when metadata travels over plain HTTP.
        first = index == 0
        return SimpleSamlIdp(
            self.workdir / ("idp" if first else f"idp-{org.key}"), host=self.host,
            port=ports.get("idp" if first else f"{org.key}_idp", 0),
            trusted_domains=[f"{self.host}:{self.bridge_port}"], users=org.users,
            sign_metadata=True, display_name=org.display_name, scope=org.scope,
            cookie_prefix="SimpleSAML" if first else f"SimpleSAML{org.key.title()}")

    def start(self) -> DemoStack:
        SimpleSamlIdp.check_installed()
        for idp in self.idps:
            idp.configure()
            idp.start()
        self.sakai.serve(self.host, self._sakai_port)
        tables = self._trust_tables(self.workdir / "bridge")
        self.config_path, self.env = write_config(
            self.workdir / "bridge", base_url=self.bridge_url, sakai_url=self.sakai.url,
            idp=tables.pop("idp"), extra=merge(tables, self.bridge_extra),
            sakai_password=self.sakai.config.admin_password,
            server_id=self.sakai.config.server_id)
        settings = load_settings(self.config_path, self.env)
        app = create_app(settings)
        self.services = app.extensions["sso_bridge"]
        self.bridge = ThreadedServer(app, self.host, self.bridge_port)
        for idp in self.idps:
            idp.register_sp("bridge", self.services.sp.metadata().encode())
        return self

    def _trust_tables(self, folder: Path) -> dict[str, Any]:
        """The config tables trusting each IdP: ``idp`` (+ ``attributes``), ``idps.<key>``."""
        folder.mkdir(parents=True, exist_ok=True)
        tables: dict[str, Any] = {}
        for index, (org, idp) in enumerate(zip(self.organisations, self.idps, strict=True)):
            signer = "idp-metadata-signer.crt" if index == 0 else f"{org.key}-metadata-signer.crt"
            (folder / signer).write_text(idp.certificate_pem)
            table = {"metadata_url": idp.metadata_url, "metadata_allow_http": True,
                     "metadata_signing_certificate": signer, **org.policy}
            if index > 0:
                tables.setdefault("idps", {})[org.key] = table
                continue
            tables["idp"] = table
            if "attributes" in table:  # the top-level [attributes] belongs to [idp]
                tables["attributes"] = table.pop("attributes")
        return tables

    def stop(self) -> None:
        if self.bridge is not None:
            self.bridge.stop()
            self.bridge = None
        self.sakai.stop()
        for idp in self.idps:
            idp.stop()

    def __enter__(self) -> DemoStack:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def run_demo(workdir: str | None, *, host: str, ports: dict[str, int]) -> None:
    """``sso-bridge demo``: start everything, print where it is, run until Ctrl-C."""
    path = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="sso-bridge-demo-"))
    stack = DemoStack(path, host=host, ports=ports, organisations=DEMO_ORGANISATIONS)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    try:
        stack.start()
        _print_lines(stack)
        print("open the bridge URL in a browser; Ctrl-C stops everything", flush=True)
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        if not workdir:
            shutil.rmtree(path, ignore_errors=True)
        print("demo stopped", flush=True)


def _print_lines(stack: DemoStack) -> None:
    """One ``idp`` line per IdP, then Sakai, the bridge and each IdP's users."""
    for idp in stack.idps:
        print(f"idp {idp.base_url}", flush=True)
    print(f"sakai {stack.sakai.url}/portal", flush=True)
    print(f"bridge {stack.bridge_url}/saml/login", flush=True)
    for org in stack.organisations:
        for user in org.users:
            affiliation = user.attributes.get("eduPersonAffiliation", ["?"])[-1]
            print(f"user {user.username} / {user.password} ({affiliation}, {org.name()})",
                  flush=True)
