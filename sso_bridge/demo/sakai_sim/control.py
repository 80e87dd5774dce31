"""The simulator's control API under ``/_sim/`` (JSON; for tests and benches only).

NOT FOR PRODUCTION: it is unauthenticated. Routes::

    GET  /_sim/config                  current settings (no password)
    POST /_sim/config                  change knobs: latency_ms, down, allowlogin, allow, deny,
                                       session_parameter_allow, inactive_seconds, hang_seconds,
                                       password_hash_rounds, admin_eid + admin_password,
                                       server_id, cookie_name, direct_url, login_sets_cookie,
                                       fail_next
    POST /_sim/fail-next               {"<operation>|*": spec | [spec, ...]} (queued, used once)
    GET  /_sim/users                   [{eid, id, first, last, email, type, properties, ...}]
    POST /_sim/users                   create {eid, first, last, email, type, password,
                                       properties, super_user}
    GET  /_sim/users/<eid>             one user
    POST /_sim/users/<eid>/properties  {"name": "value" | null}  (null removes)
    DELETE /_sim/users/<eid>           remove the user, as an admin would in Sakai
    GET  /_sim/calls                   {"<operation>": count}
    GET  /_sim/concurrency             {"in_flight": n, "max_in_flight": n} (SOAP calls)
    POST /_sim/concurrency             reset max_in_flight
    GET  /_sim/sessions                [{user_eid, user_id, origin}] (never the ids)
    POST /_sim/expire-sessions         {"scope": "admin" | "all"} -> {"expired": n}
    POST /_sim/reset                   back to the start-up configuration

Failure specs: "timeout" (stall hang_seconds, then answer), "http500"/"http403"/"http503"/...
(a bare HTTP error, no SOAP), "garbage" (200, not XML), "empty" (200, empty body),
"inactive" (the session fault), "result:<text>" (200 with that return value), anything else =
a SOAP fault with that faultstring.
"""

from __future__ import annotations

import json
from typing import Any

from werkzeug.wrappers import Request, Response

from sso_bridge.demo.sakai_sim.state import JavaException, SimState

_KNOBS = {
    "latency_ms": int, "down": bool, "allowlogin": bool, "session_parameter_allow": bool,
    "inactive_seconds": float, "hang_seconds": float, "password_hash_rounds": int,
    "server_id": str, "cookie_name": str, "direct_url": str, "login_sets_cookie": bool,
}


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data, sort_keys=True), status=status,
                    content_type="application/json")


def _body(request: Request) -> dict[str, Any]:
    data = request.get_json(force=True, silent=True)
    return data if isinstance(data, dict) else {}


def _set_admin(state: SimState, data: dict[str, Any]) -> None:
    eid = data.get("admin_eid", state.settings.admin_eid)
    password = data.get("admin_password")
    with state.lock:
        user = state.find_user(eid)
        if user is None:
            user = state.add_user(eid, "Sakai", "Administrator", "", "", password)
        elif password is not None:
            user.set_password(password)
        user.super_user = True
        state.settings.admin_eid = user.eid


def update_config(state: SimState, data: dict[str, Any]) -> dict[str, Any]:
    with state.lock:
        for name, kind in _KNOBS.items():
            if name in data:
                setattr(state.settings, name, kind(data[name]))
        for name in ("allow", "deny"):
            if name in data:
                setattr(state.settings, name, tuple(data[name]))
        if "admin_eid" in data or "admin_password" in data:
            _set_admin(state, data)
        if "fail_next" in data:
            state.add_failures(data["fail_next"])
        return state.settings.public()


def _create_user(state: SimState, data: dict[str, Any]) -> Response:
    try:
        user = state.add_user(
            data.get("eid"), data.get("first", ""), data.get("last", ""), data.get("email", ""),
            data.get("type", ""), data.get("password", ""),
        )
    except JavaException as exc:
        return _json({"error": exc.as_result()}, 409)
    with state.lock:
        user.properties.update(data.get("properties", {}))
        user.super_user = bool(data.get("super_user", False))
        return _json(user.public(), 201)


def _user_routes(state: SimState, request: Request, rest: list[str]) -> Response:
    if not rest:
        if request.method == "POST":
            return _create_user(state, _body(request))
        with state.lock:
            return _json([u.public() for u in state.users.values()])
    user = state.find_user(rest[0])
    if user is None:
        return _json({"error": "no such user"}, 404)
    if not rest[1:] and request.method == "DELETE":
        state.remove_user(user)
        return _json({"removed": user.eid})
    if rest[1:] == ["properties"] and request.method == "POST":
        with state.lock:
            for name, value in _body(request).items():
                if value is None:
                    user.properties.pop(name, None)
                else:
                    user.properties[name] = str(value)
    with state.lock:
        return _json(user.public())


def _sessions(state: SimState) -> Response:
    with state.lock:
        live = [state.get_session(sid) for sid in list(state.sessions)]
        return _json([
            {"user_eid": s.user_eid, "user_id": s.user_id, "origin": s.attributes.get("origin")}
            for s in live if s is not None
        ])


def handle(state: SimState, request: Request) -> Response:
    parts = [p for p in request.path.split("/")[2:] if p]
    head, rest = (parts[0] if parts else ""), parts[1:]
    post = request.method == "POST"
    if head == "config":
        return _json(update_config(state, _body(request)) if post else state.settings.public())
    if head == "fail-next" and post:
        state.add_failures(_body(request))
        return _json({"queued": {k: list(v) for k, v in state.failures.items()}})
    if head == "users":
        return _user_routes(state, request, rest)
    if head == "calls":
        with state.lock:
            return _json(dict(state.calls))
    if head == "concurrency":
        return _json(state.concurrency(reset=post))
    if head == "sessions":
        return _sessions(state)
    if head == "expire-sessions" and post:
        return _json({"expired": state.expire_sessions(_body(request).get("scope", "admin"))})
    if head == "reset" and post:
        state.reset()
        return _json({"reset": True})
    return _json({"error": f"unknown control route {request.path}"}, 404)
