"""The simulator's WSGI application: routing, the web-services gate, SOAP dispatch.

NOT FOR PRODUCTION. Routes::

    POST /sakai-ws/soap/login       SakaiLogin  (login, loginGET, loginToServer, logout, ...)
    POST /sakai-ws/soap/sakai       SakaiScript (checkSession, addNewUser, getSessionForUser, ...)
    GET  /portal[/...]              who is logged in (cookie, or sakai.session when allowed)
    GET  /portal/logout             invalidates the session
    GET  /direct/session/current[.json]
    /_sim/...                       control API for tests (see control.py)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

from werkzeug.wrappers import Request, Response

from sso_bridge.demo.sakai_sim import control, portal
from sso_bridge.demo.sakai_sim.services import (
    LOGIN_SERVICE,
    SCRIPT_SERVICE,
    CallContext,
    Service,
)
from sso_bridge.demo.sakai_sim.state import SimState
from sso_bridge.demo.sakai_sim.wire import (
    NULL_PART,
    OperationSpec,
    SoapFaultError,
    client_fault,
    parse_call,
    render_fault,
    render_return,
)

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIEnvironment

log = logging.getLogger(__name__)

LOGIN_PATH = "/sakai-ws/soap/login"
SCRIPT_PATH = "/sakai-ws/soap/sakai"
_SERVICES: dict[str, Service] = {LOGIN_PATH: LOGIN_SERVICE, SCRIPT_PATH: SCRIPT_SERVICE}
_XML = "text/xml; charset=UTF-8"


def address_allowed(state: SimState, address: str) -> bool:
    """RemoteHostMatcher: deny list first, then allow list; "deny set, allow empty" allows."""
    settings = state.settings
    if any(re.fullmatch(pattern, address) for pattern in settings.deny):
        return False
    if any(re.fullmatch(pattern, address) for pattern in settings.allow):
        return True
    return bool(settings.deny) and not settings.allow


def _fault_response(fault: SoapFaultError) -> Response:
    return Response(render_fault(fault), status=fault.status, content_type=_XML)


class SakaiSimApp:
    """A WSGI callable simulating one Sakai node."""

    def __init__(self, state: SimState) -> None:
        self.state = state

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        request = Request(environ)
        try:
            response = self.route(request)
        except Exception:  # like a servlet container: a bug becomes a 500, not a dead thread
            log.exception("simulator error on %s", request.path)
            response = Response("simulator error", status=500)
        return response(environ, start_response)

    def route(self, request: Request) -> Response:
        path = request.path
        if path.startswith("/_sim/") and self.state.settings.control_api:
            return control.handle(self.state, request)
        if self.state.settings.down:
            return Response("Service Unavailable", status=503)
        if path in _SERVICES:
            return self.soap(request, _SERVICES[path])
        if path == "/portal/logout":
            return portal.logout(self.state, request)
        if path == "/portal" or path.startswith("/portal/"):
            return portal.page(self.state, request)
        if path in ("/direct/session/current", "/direct/session/current.json"):
            return portal.current_session(self.state, request)
        return Response("Not Found", status=404)

    def soap(self, request: Request, service: Service) -> Response:
        address = request.remote_addr or ""
        if not address_allowed(self.state, address):
            self.state.count("<denied>")
            return _fault_response(SoapFaultError("Not permitted", "soap:Client", 403))
        try:
            operation, values = self._read(request, service)
        except SoapFaultError as fault:
            self.state.count("<invalid>")
            return _fault_response(fault)
        self.state.count(operation)
        self.state.entered(+1)
        try:
            self._delay(self.state.settings.latency_ms / 1000.0)
            injected = self._inject(operation, values)
            if injected is not None:
                return injected
            return self._run(operation, values, service, request)
        finally:
            self.state.entered(-1)

    def _read(self, request: Request, service: Service) -> tuple[str, dict[str, str]]:
        if request.method != "POST":
            raise client_fault("The simulator only accepts SOAP over POST (no WSDL served)")
        if request.mimetype != "text/xml":
            raise client_fault(f"Content-Type must be text/xml for SOAP 1.1, got "
                               f"{request.mimetype or 'none'}")
        specs: dict[str, OperationSpec] = {name: spec for name, (spec, _) in service.items()}
        operation, values = parse_call(request.get_data(), specs)
        action = request.headers.get("SOAPAction")
        if action is not None and action.strip('"') not in ("", operation):
            raise client_fault(f"The given SOAPAction {action} does not match an operation.")
        return operation, values

    def _run(
        self, operation: str, values: dict[str, str], service: Service, request: Request
    ) -> Response:
        _, handler = service[operation]
        context = CallContext(self.state, request.remote_addr or "", request.host_url)
        try:
            value = handler(context, values)
        except SoapFaultError as fault:
            return _fault_response(fault)
        if value is None:
            return _fault_response(SoapFaultError(NULL_PART))
        response = Response(render_return(operation, value), content_type=_XML)
        if context.login_session is not None and self.state.settings.login_sets_cookie:
            # newer SakaiLogin also sets the Sakai cookie
            portal.set_session_cookie(self.state, request_secure=request.is_secure,
                                      response=response, session_id=context.login_session.id)
        return response

    def _delay(self, seconds: float) -> None:
        if seconds > 0:
            self.state.stopping.wait(seconds)

    def _inject(self, operation: str, values: dict[str, str]) -> Response | None:
        """Apply the next injected failure for this operation, if any."""
        what = self.state.take_failure(operation)
        if what is None:
            return None
        if what == "timeout":
            self._delay(self.state.settings.hang_seconds)
            return None  # then answer normally, like a slow server (side effects happen)
        if re.fullmatch(r"http[1-5][0-9][0-9]", what):
            return Response(f"<html><body>HTTP {what[4:]}</body></html>",
                            status=int(what[4:]), content_type="text/html")
        if what == "garbage":
            return Response("<html><body>not SOAP</body></html>", content_type="text/html")
        if what == "empty":
            return Response(b"", content_type=_XML)
        if what == "inactive":
            sid = values.get("sessionid", "")
            return _fault_response(SoapFaultError(f'Session "{sid}" is not active'))
        if what.startswith("result:"):
            return Response(render_return(operation, what[len("result:"):]), content_type=_XML)
        return _fault_response(SoapFaultError(what))
