"""``create_app``: the one place where the bridge is assembled."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from flask import Flask, Request, Response, g, request
from flask.sessions import SessionInterface, SessionMixin
from jinja2 import ChoiceLoader, FileSystemLoader
from werkzeug.exceptions import HTTPException, RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from sso_bridge import errors, logs, metrics
from sso_bridge.identity import Identity
from sso_bridge.saml.logout import SingleLogout
from sso_bridge.services import Services, build_services
from sso_bridge.settings import BridgeSection, Settings
from sso_bridge.web import logout, ops_access
from sso_bridge.web.branding import Branding
from sso_bridge.web.browser_state import BrowserState
from sso_bridge.web.discovery import discovery_bp
from sso_bridge.web.errors import render_error
from sso_bridge.web.i18n import init_i18n
from sso_bridge.web.pages import STATIC_MAX_AGE, pages
from sso_bridge.web.views import bp

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

# The bridge's pages are static HTML with their CSS and logo from the bridge itself: nothing
# else may load, and no script at all may run.
_CSP = ("default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'; "
        "form-action 'none'; base-uri 'none'")
# Set on every response by ``finish_request``; lower case, to spot them among a response's own.
_OWN_HEADERS = frozenset({"x-request-id", "cache-control", "x-content-type-options",
                          "x-frame-options", "content-security-policy"})
_HTTP_ERRORS = {
    404: errors.NotFound("no such page"),
    405: errors.BadRequest("method not allowed"),
}


def create_app(settings: Settings, services: Services | None = None) -> Flask:
    logs.configure(settings.logging.level, settings.logging.json)
    services = services or build_services(settings)
    app = Flask(__name__.rsplit(".", 1)[0] + ".web", static_folder=None)
    app.config.update(
        SECRET_KEY=settings.secrets.flask_secret_key,
        MAX_CONTENT_LENGTH=settings.limits.max_saml_response_bytes * 2 + 8192,
        MAX_FORM_MEMORY_SIZE=settings.limits.max_saml_response_bytes * 2 + 8192,
        SESSION_COOKIE_SECURE=settings.bridge.base_url.startswith("https://"),
    )
    app.session_interface = NoSession()
    app.extensions["sso_bridge"] = services
    prefix = urlsplit(settings.bridge.base_url).path.rstrip("/")
    if prefix:
        app.wsgi_app = PathPrefix(app.wsgi_app, prefix)  # type: ignore[method-assign]
    if settings.server.trusted_proxy_hops:
        hops = settings.server.trusted_proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops)  # type: ignore[method-assign]
    app.register_blueprint(bp)
    app.register_blueprint(pages)
    app.register_blueprint(logout.logout_bp)
    app.extensions["sso_bridge_browser"] = BrowserState(settings)
    app.extensions["sso_bridge_logout"] = SingleLogout(settings, services.sp, services.store,
                                                       services.sakai.logout_session)
    logout.register(app.extensions)
    app.register_blueprint(discovery_bp)  # after logout.register: it adds its page there
    _learner_pages(app, settings)
    _register_hooks(app, services)
    ops_access.install(app, settings.server)  # /readyz and /metrics: operations only
    return app


class PathPrefix:
    """Serve the routes under ``bridge.base_url``'s path (``/sso/saml/acs``) as well as without
    it (``/saml/acs``), for a reverse proxy that passes the prefix on or one that strips it.

    A request under the prefix has it moved from PATH_INFO to SCRIPT_NAME, as WSGI defines;
    anything else is passed on unchanged. SAML checks never use the request's URL (the ACS URL
    comes from ``bridge.base_url``), so either path is equally safe.
    """

    def __init__(self, app: WSGIApplication, prefix: str) -> None:
        self.app, self.prefix = app, prefix

    def __call__(self, environ: WSGIEnvironment,
                 start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + self.prefix
            environ["PATH_INFO"] = path[len(self.prefix):] or "/"
        return self.app(environ, start_response)


def _learner_pages(app: Flask, settings: Settings) -> None:
    """Languages and an organisation's branding for the learner's pages."""
    folder = settings.bridge.branding_dir
    branding = Branding(settings.path(folder) if folder else None)
    if branding.templates is not None and branding.templates.is_dir():
        app.jinja_loader = ChoiceLoader([FileSystemLoader(branding.templates),
                                         app.jinja_loader])  # type: ignore[list-item]
    app.extensions["sso_bridge_branding"] = branding
    app.extensions["sso_bridge_lang"] = init_i18n(app, branding)
    brand_css = branding.static is not None and (branding.static / "brand.css").is_file()
    default_contact = BridgeSection.error_contact
    contact = settings.bridge.error_contact

    @app.context_processor
    def branding_context() -> dict[str, Any]:
        return {"brand_css": brand_css, "contact_is_default": contact == default_contact}


class NoSession(SessionInterface):
    """The bridge keeps no Flask session: no session cookie is read, signed or set.

    A pending login is its own signed cookie (``web.views``). Flask's signed-cookie session
    would still build an itsdangerous serializer on every request, for nothing; with this
    interface ``flask.session`` is a NullSession, which refuses writes.
    """

    def open_session(self, app: Flask, request: Request) -> None:
        return None

    def save_session(self, app: Flask, session: SessionMixin, response: Response) -> None:
        return None


def _security_headers(response: Response, request_id: str) -> None:
    """X-Request-Id and Cache-Control replace a response's own, the others only fill in.

    The bridge's responses carry none of these yet, so they are simply appended (werkzeug's
    ``set``/``setdefault`` would scan the header list once per header, for the same result).
    """
    headers = response.headers
    if any(key.lower() in _OWN_HEADERS for key, _ in headers):
        headers["X-Request-Id"] = request_id
        headers["Cache-Control"] = "no-store"
        headers.setdefault("X-Content-Type-Options", "nosniff")
        headers.setdefault("X-Frame-Options", "DENY")
        if response.mimetype == "text/html":
            headers.setdefault("Content-Security-Policy", _CSP)
        return
    headers.add("X-Request-Id", request_id)
    headers.add("Cache-Control", "no-store")
    headers.add("X-Content-Type-Options", "nosniff")
    headers.add("X-Frame-Options", "DENY")
    if response.mimetype == "text/html":
        headers.add("Content-Security-Policy", _CSP)


def _register_hooks(app: Flask, services: Services) -> None:
    @app.before_request
    def start_request() -> None:
        services.ensure_refreshing()
        g.request_id = request_id = secrets.token_hex(8)
        g.started = time.perf_counter()
        logs.request_id_var.set(request_id)

    @app.after_request
    def finish_request(response: Response) -> Response:
        _security_headers(response, g.get("request_id", "-"))
        if request.endpoint == "pages.static_file" and response.status_code == 200:
            response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
        if request.endpoint == "bridge.acs":
            _audit(services, response)
        return response

    @app.errorhandler(errors.BridgeError)
    def bridge_error(error: errors.BridgeError) -> Response:
        return render_error(error)

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> Response:
        if isinstance(error, RequestEntityTooLarge):
            return render_error(errors.SamlTooLarge("the POST is larger than the bridge accepts"))
        mapped = _HTTP_ERRORS.get(error.code or 0)
        response = render_error(mapped or errors.BadRequest(str(error)))
        response.status_code = error.code or 400
        return response

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> Response:
        return render_error(error)

    @app.context_processor
    def page_context() -> dict[str, Any]:
        s = services.settings
        return {"sakai_url": s.sakai.url.rstrip("/") + s.sakai.portal_path,
                "contact": s.bridge.error_contact}


def _idp_label(services: Services, identity: Identity | None) -> str:
    """The IdP of a login for the audit log and metrics: its entityID, or for a refusal
    before the IdP is known, the one configured IdP ('-' with several)."""
    if identity is not None:
        return identity.idp_entity_id
    only = services.idps.only()
    return only.entity_id if only else "-"


def _audit(services: Services, response: Response) -> None:
    """One audit line and the metrics for every POST to the ACS, whatever its outcome."""
    identity = g.get("identity")
    session = g.get("sakai_session")
    idp = _idp_label(services, identity)
    outcome = "success" if response.status_code == 302 else (
        "error" if response.status_code >= 500 else "refused")
    if g.get("repeated_login"):  # the back button: no login happened
        outcome = "repeated"
    created = bool(session and session.account_created)
    updated = bool(session and session.account_updated)
    services.audit.record(
        request_id=g.get("request_id"), idp=idp, eid=identity.eid if identity else None,
        outcome=outcome, error_code=g.get("error_code"), account_created=created,
        account_updated=updated, client=request.remote_addr)
    metrics.observe_login(outcome=outcome, code=g.get("error_code") or "ok", idp=idp,
                          seconds=time.perf_counter() - g.get("started", time.perf_counter()),
                          created=created, updated=updated)
