"""The bridge's routes: SAML endpoints, hand-over to Sakai, health and readiness."""

from __future__ import annotations

import logging
import re
import time
from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, jsonify, redirect, request
from werkzeug.wrappers import Response

from sso_bridge import errors, metrics
from sso_bridge.identity import Identity, SakaiSession
from sso_bridge.saml import python3_saml_caches
from sso_bridge.saml.logout import SingleLogout
from sso_bridge.saml.sp import LoginResult
from sso_bridge.services import Services
from sso_bridge.web.browser_state import (
    COOKIE_TEST,
    LOGOUT_TOKEN,
    BrowserState,
    key_fingerprint,
)
from sso_bridge.web.discovery import redirect_to_discovery
from sso_bridge.web.handoff import handoff_response
from sso_bridge.web.targets import resolve_target

log = logging.getLogger("sso_bridge.web")
bp = Blueprint("bridge", __name__)
LOGIN_COOKIE_PREFIX = "sso_bridge_login_"
"""+ the RelayState: one cookie per pending login, so logins started in two tabs both work."""
_RELAY_TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")
MAX_PENDING_LOGINS = 5
"""More pending-login cookies than this (a learner clicking "Log in" again and again) are
dropped, so the Cookie header never grows past what servers accept."""


def services() -> Services:
    return current_app.extensions["sso_bridge"]  # type: ignore[no-any-return]


def browser_state() -> BrowserState:
    return current_app.extensions["sso_bridge_browser"]  # type: ignore[no-any-return]


def single_logout() -> SingleLogout:
    return current_app.extensions["sso_bridge_logout"]  # type: ignore[no-any-return]


def _target(value: str | None) -> str:
    s = services().settings
    return resolve_target(value, s.sakai.url, s.sakai.portal_path, s.sakai_origins)


@bp.get("/saml/metadata")
def metadata() -> Response:
    return Response(services().sp.metadata(), mimetype="application/samlmetadata+xml")


@bp.get("/saml/login")
def login() -> Response:
    """``?idp=<entityID>``: straight to that IdP; without it, the one IdP, or discovery."""
    target = _target(request.args.get("target"))
    svc = services()
    # ``entityID``: the IdP Discovery Protocol's default returnIDParam (a hand-made link)
    entity_id = request.args.get("idp") or request.args.get("entityID", "")
    if entity_id:
        trust = svc.idps.get(entity_id)
        if trust is None:
            raise errors.IdpUnknown(f"?idp= names {entity_id[:200]!r}, not a trusted IdP")
    else:
        trust = svc.idps.only()
        if trust is None:
            return redirect_to_discovery(target)
    start = svc.sp.begin_login(target, trust)
    log.debug("login started for a target on %s", urlsplit(target).netloc)
    response = redirect(start.redirect_url, code=302)
    pending = [name.removeprefix(LOGIN_COOKIE_PREFIX) for name in request.cookies
               if name.startswith(LOGIN_COOKIE_PREFIX)]
    if len(pending) >= MAX_PENDING_LOGINS:
        for relay_token in pending:
            _set_login_cookie(response, relay_token, None)
    _set_login_cookie(response, start.relay_token, start.state)
    browser_state().set(response, COOKIE_TEST, "1", None)  # for the browser's session
    return response


def _set_login_cookie(response: Response, relay_token: str, state: str | None) -> None:
    """The pending login's signed state, kept by the browser that started it (None: drop it).

    It must come back on the IdP's cross-site POST to the ACS, so over HTTPS it is
    SameSite=None; Secure. Plain HTTP (a loopback demo) can only use Lax.
    """
    s = services().settings
    https = s.bridge.base_url.startswith("https://")
    response.set_cookie(LOGIN_COOKIE_PREFIX + relay_token, state or "",
                        max_age=s.store.login_timeout_seconds if state else 0, httponly=True,
                        secure=https, samesite="None" if https else "Lax",
                        path=_bridge_path() + "/saml/")


def _login_cookie(relay_state: str | None) -> str | None:
    if not relay_state or not _RELAY_TOKEN.fullmatch(relay_state):
        return None
    return request.cookies.get(LOGIN_COOKIE_PREFIX + relay_state)


def _bridge_path() -> str:
    return urlsplit(services().settings.bridge.base_url).path.rstrip("/")


@bp.post("/saml/acs")
def acs() -> Response:
    started = time.perf_counter()
    saml_response = request.form.get("SAMLResponse")
    if not saml_response:
        raise errors.BadRequest("POST to the ACS without a SAMLResponse field")
    svc, browser = services(), browser_state()
    relay_state = request.form.get("RelayState")
    already = browser.completed_target(request, saml_response, relay_state)
    if already:  # the back button re-posted the IdP's form: no new session, no Sakai call
        log.info("repeated POST of this browser's completed login: sent on to its target")
        g.repeated_login = True
        return redirect(already, code=302)
    result = _complete_login(svc, saml_response, relay_state)
    g.identity = result.identity
    target = _landing(result.target, result.unsolicited)
    with svc.sakai.login_window():  # one deadline for all of the login's Sakai calls
        session = svc.provisioner.ensure_account(result.identity)
    g.sakai_session = session
    log.info("login of %s complete in %.1f ms (account created=%s, updated=%s)",
             result.identity.eid, (time.perf_counter() - started) * 1000,
             session.account_created, session.account_updated)
    response = handoff_response(svc.settings.sakai, session, target)
    if not result.unsolicited and relay_state:
        _set_login_cookie(response, relay_state, None)  # used: the browser may forget it
    browser.mark_completed(response, saml_response, relay_state, target)
    _remember_for_logout(response, result.identity, session)
    return response


def _complete_login(svc: Services, saml_response: str, relay_state: str | None) -> LoginResult:
    try:
        return svc.sp.complete_login(saml_response, relay_state, _login_cookie(relay_state))
    except errors.LoginStateMissing as exc:
        if browser_state().cookies_work(request) or isinstance(exc, errors.CookiesBlocked):
            raise
        raise errors.CookiesBlocked(f"{exc.detail}; and the browser sent no cookie of the "
                                    "bridge's at all: it blocks them") from exc


def _remember_for_logout(response: Response, identity: Identity,
                         session: SakaiSession) -> None:
    """Single logout needs the Sakai session, NameID and SessionIndex of this login."""
    try:
        token = single_logout().remember(identity, session)
    except errors.StoreUnavailable as exc:  # the login itself has succeeded
        log.error("login not remembered for single logout: %s", exc.detail)
        return
    browser_state().set(response, LOGOUT_TOKEN, token,
                        services().settings.store.slo_session_seconds, cross_site=False)


def _landing(target: str, unsolicited: bool) -> str:
    if not unsolicited:
        return target
    try:  # an IdP-suggested RelayState is only a suggestion: never a reason to fail
        return _target(target or None)
    except errors.BadTarget:
        log.warning("ignoring an off-site RelayState from an unsolicited response")
        return _target(None)


@bp.get("/metrics")
def metrics_view() -> Response:
    svc = services()
    sources = svc.sources()
    metrics.observe_sources(sources)
    first_age = sources[0].age_seconds if sources and sources[0].age_seconds else 0.0
    body, content_type = metrics.render(svc.credentials.days_to_expiry, first_age)
    return Response(body, content_type=content_type)


@bp.get("/healthz")
def healthz() -> Response:
    return jsonify(status="ok")


@bp.get("/readyz")
def readyz() -> Response:
    svc = services()
    checks: dict[str, Any] = {}
    ready = True
    # Sakai: the hand-over proven end to end, the verdict cached for a few seconds
    for name, probe in (("sakai", svc.sakai.readiness), ("store", svc.store.ping)):
        try:
            probe()
            checks[name] = {"ok": True}
        except errors.BridgeError as exc:
            checks[name] = {"ok": False, "error": exc.code, "detail": exc.detail}
            ready = False
    sources: dict[str, dict[str, Any]] = {}
    for source in svc.sources():  # each configured IdP's metadata, each federation
        sources[source.source] = {
            "ok": source.ready, "idps": source.idp_count, "valid_until": source.valid_until,
            "age_seconds": None if source.age_seconds is None else round(source.age_seconds)}
        if source.last_error:
            sources[source.source]["last_error"] = source.last_error
        ready = ready and source.ready
    checks["idp_sources"] = sources
    configured = svc.sp.configured()
    if configured:  # the first configured IdP, as before there were several
        first = configured[0].idp
        checks["idp_metadata"] = {"ok": not first.expired(), "entity_id": first.entity_id,
                                  "age_seconds": round(time.time() - first.loaded_at),
                                  "valid_until": first.valid_until}
    days = svc.credentials.days_to_expiry
    checks["sp_certificate"] = {"ok": days > 0, "days_to_expiry": round(days, 1)}
    ready = ready and days > 0
    checks["secret_key"] = {"ok": True, "fingerprint": key_fingerprint(
        svc.settings.secrets.flask_secret_key)}  # equal on every instance, or cookies fail
    checks["python3_saml_caches"] = python3_saml_caches.status()  # slower when off, not unready
    response = jsonify(ready=ready, checks=checks)
    response.status_code = 200 if ready else 503
    return response
