"""The serving stack alone: a server and Flask answering a login's two requests, no bridge work.

Run by ``run.py`` (``--skip-skeleton`` leaves it out) as reference rows, one per server
(``--engine``): ``granian``, as ``sso-bridge serve`` runs it (``server.run_granian``: the
configuration's workers and threads, the access log), and gunicorn as the bridge ran it before
(``gunicorn-gthread``: the same workers and threads, a lean access line) and with its ``sync``
workers (``gunicorn-sync``); a Flask app whose two routes answer like the bridge's, with the
same shapes and sizes, and do nothing else:

* ``GET /saml/login`` → 302 to an IdP URL carrying a fixed, deflated AuthnRequest, and a
  pending-login cookie;
* ``POST /saml/acs`` → reads the posted form (the signed SAMLResponse, about 11 kB), 302 to the
  Sakai portal with a ``JSESSIONID`` cookie, and drops the pending-login cookie.

No SAML, no Sakai, no store, no audit line. Its CPU per login is what the bridge cannot go
below on that server and Flask.

    .venv/bin/python bench/skeleton.py --config bridge.toml --bind 127.0.0.1:8000 \
        [--engine granian|gunicorn-gthread|gunicorn-sync] [--bridge]

With ``--bridge`` it serves the whole bridge (``create_app``) on the chosen server instead:
the benchmark's "before" rows, the bridge on gunicorn as it ran before granian.
"""

from __future__ import annotations

import argparse
import base64
import secrets
import sys
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import Flask, redirect, request
from werkzeug.wrappers import Response

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from sso_bridge.settings import Settings, load_settings  # noqa: E402

ENGINES = ("granian", "gunicorn-gthread", "gunicorn-sync")
_AUTHN_REQUEST = (
    '<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
    'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="ONELOGIN_{id}" Version="2.0" '
    'IssueInstant="2026-01-01T00:00:00Z" Destination="{sso}" '
    'ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" '
    'AssertionConsumerServiceURL="{acs}"><saml:Issuer>{sp}</saml:Issuer>'
    '<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" '
    'AllowCreate="true"/></samlp:AuthnRequest>')


def create_skeleton_app(settings: Settings) -> Flask:
    sso = "https://idp.example.org/idp/profile/SAML2/Redirect/SSO"
    xml = _AUTHN_REQUEST.format(id=secrets.token_hex(20), sso=sso, acs=settings.acs_url,
                                sp=settings.sp_entity_id)
    deflated = zlib.compress(xml.encode())[2:-4]  # raw deflate, as the Redirect binding wants
    landing = settings.sakai.url.rstrip("/") + settings.sakai.portal_path
    app = Flask(__name__)

    @app.get("/healthz")
    def healthz() -> Response:
        return Response("ok")

    @app.get("/saml/login")
    def login() -> Response:
        relay = secrets.token_urlsafe(24)
        query = urlencode({"SAMLRequest": base64.b64encode(deflated), "RelayState": relay})
        response = redirect(f"{sso}?{query}", code=302)
        response.set_cookie("sso_bridge_login_" + relay, "x" * 215, max_age=600, httponly=True,
                            samesite="Lax", path="/saml/")
        return response

    @app.post("/saml/acs")
    def acs() -> Response:
        if not request.form.get("SAMLResponse"):
            return Response("no SAMLResponse", status=400)
        response = redirect(landing, code=302)
        response.set_cookie("JSESSIONID", secrets.token_hex(16) + ".sakai", path="/",
                            httponly=True, samesite="Lax")
        response.set_cookie("sso_bridge_login_" + str(request.form.get("RelayState")), "",
                            max_age=0, httponly=True, samesite="Lax", path="/saml/")
        return response

    return app


def run_gunicorn(app: Flask, settings: Settings, bind: str, worker_class: str) -> None:
    """gunicorn as ``sso-bridge serve`` ran it before granian: preloaded app, lean access line."""
    from gunicorn.app.base import BaseApplication
    from gunicorn.glogging import Logger

    class Lean(Logger):  # type: ignore[misc]
        def access(self, resp: Any, req: Any, environ: dict[str, Any], rt: Any) -> None:
            self.access_log.info('%s "%s %s" %s %s', environ.get("REMOTE_ADDR"),
                                 environ.get("REQUEST_METHOD"), environ.get("PATH_INFO"),
                                 resp.status, rt.microseconds // 1000)

    options = {"bind": bind, "workers": settings.server.worker_count(),
               "threads": settings.server.threads, "worker_class": worker_class,
               "preload_app": True, "accesslog": "-", "logger_class": Lean, "keepalive": 5,
               "control_socket_disable": True}  # gunicorn >= 23: none in ~/.gunicorn

    class Server(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Flask:
            return app

    Server().run()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    parser.add_argument("--bind", required=True)
    parser.add_argument("--engine", default="granian", choices=ENGINES)
    parser.add_argument("--bridge", action="store_true",
                        help="serve the whole bridge (create_app) instead of the skeleton")
    args = parser.parse_args()
    settings = load_settings(args.config)
    if args.bridge:
        from sso_bridge.server import prepare_metrics_dir

        prepare_metrics_dir()
        from sso_bridge.app import create_app

        app = create_app(settings)
    else:
        app = create_skeleton_app(settings)
    if args.engine == "granian":
        from sso_bridge.server import run_granian

        run_granian(app, settings, bind=args.bind)
    else:
        run_gunicorn(app, settings, args.bind, args.engine.split("-", 1)[1])


if __name__ == "__main__":
    main()
