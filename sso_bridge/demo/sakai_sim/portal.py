"""The simulated portal and /direct/session: how the browser's session is found (RequestFilter).

NOT FOR PRODUCTION. The cookie ``<cookieName>=<sid>.<serverId>`` is accepted only when its value
ends with this node's ``.serverId``; everything after the first ``.`` is dropped before the lookup.
With ``session_parameter_allow`` the ``sakai.session`` parameter (query or form) wins over the
cookie when its session has a user, and the proper cookie is set on the response. With no
session found, a new anonymous one is started and its cookie issued, as Sakai does.
"""

from __future__ import annotations

import html
import json

from werkzeug.wrappers import Request, Response

from sso_bridge.demo.sakai_sim.state import SimSession, SimState

SESSION_PARAMETER = "sakai.session"


def set_session_cookie(
    state: SimState, *, request_secure: bool, response: Response, session_id: str
) -> None:
    settings = state.settings
    response.set_cookie(
        settings.cookie_name, f"{session_id}.{settings.server_id}", path="/",
        secure=request_secure, httponly=True, samesite="Lax",
    )


def _from_parameter(state: SimState, request: Request) -> SimSession | None:
    if not state.settings.session_parameter_allow:
        return None
    raw = request.values.get(SESSION_PARAMETER)
    if not raw:
        return None
    session = state.get_session(raw.split(".", 1)[0], touch=True)
    return session if session is not None and session.user_id else None


def _from_cookie(state: SimState, request: Request) -> SimSession | None:
    suffix = "." + state.settings.server_id
    for value in request.cookies.getlist(state.settings.cookie_name):
        if value.endswith(suffix):
            return state.get_session(value.split(".", 1)[0], touch=True)
    return None


def resolve(state: SimState, request: Request) -> tuple[SimSession, bool]:
    """(the request's session, whether the response must (re)issue its cookie)."""
    session = _from_parameter(state, request)
    if session is not None:
        return session, True
    session = _from_cookie(state, request)
    if session is not None:
        return session, False
    return state.start_session(None), True


def _finish(state: SimState, request: Request, response: Response,
            session: SimSession, issue_cookie: bool) -> Response:
    response.headers["Cache-Control"] = "no-store"
    if issue_cookie:
        set_session_cookie(state, request_secure=request.is_secure, response=response,
                           session_id=session.id)
    return response


def _who(state: SimState, session: SimSession) -> str:
    if not session.user_id:
        return "Not logged in"
    with state.lock:
        user = state.users.get(session.user_id)
    name = user.display_name() if user else session.user_eid or ""
    return f"Logged in as {name} ({session.user_eid})"


def _html(title: str, *lines: str) -> str:
    body = "".join(f"<p>{html.escape(line)}</p>" for line in lines)
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
            f"</title></head><body><h1>{html.escape(title)}</h1>{body}"
            "<p><em>Sakai simulator - NOT FOR PRODUCTION</em></p></body></html>")


def page(state: SimState, request: Request) -> Response:
    session, issue_cookie = resolve(state, request)
    who = _who(state, session)
    lines = [who, f"Requested path: {request.path}", f"Server: {state.settings.server_id}"]
    response = Response(_html("Sakai portal", *lines), content_type="text/html; charset=utf-8")
    return _finish(state, request, response, session, issue_cookie)


def logout(state: SimState, request: Request) -> Response:
    session, _ = resolve(state, request)
    state.invalidate(session.id)
    body = _html("Sakai portal", "You have been logged out.", "Not logged in")
    response = Response(body, content_type="text/html; charset=utf-8")
    response.headers["Cache-Control"] = "no-store"
    return response


def current_session(state: SimState, request: Request) -> Response:
    """``/direct/session/current.json``: the session without its id (SAK-19669)."""
    session, issue_cookie = resolve(state, request)
    data = {
        "entityReference": "/session", "entityTitle": "current",
        "userEid": session.user_eid, "userId": session.user_id,
        "active": True, "maxInactiveInterval": int(state.settings.inactive_seconds),
    }
    response = Response(json.dumps(data), content_type="application/json")
    return _finish(state, request, response, session, issue_cookie)
