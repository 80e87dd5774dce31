"""One Sakai endpoint the bridge speaks SOAP to (a node, or the balancer in front of the nodes)
with its own admin session, breaker and learned serverId.

* The admin session is created lazily by ``SakaiLogin.login`` and shared by every thread; a
  lock makes sure concurrent threads log in once. When Sakai says the session is no longer
  active, the node logs in again once and the call is retried once. When the node is
  unreachable its admin session is dropped (a restarted Tomcat has forgotten it).
* The serverId is **learned**, never trusted from configuration: it is the suffix of the
  ``<cookie>=<sid>.<serverId>`` that Sakai's ``login`` sets (newer Sakai, contract §3), or, when
  login sets none, of the cookie Sakai's RequestFilter sets on ``/direct/session/current.json``.
  A configured ``sakai.server_id`` that disagrees is :class:`SakaiServerIdMismatch`.
* ``sticky`` (the balancer's URL): the login's cookie is sent back on the admin session's own
  calls, so the balancer keeps them on the node that holds the session, as a browser's would.
  No other cookie ever goes back.
* Every network failure becomes :class:`SakaiUnavailable`; every Sakai answer is classified by
  :mod:`sso_bridge.sakai.soap`. Nothing here logs or raises the admin password or a session id.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.cookies import CookieError, SimpleCookie
from typing import TypeVar

from sso_bridge.errors import (
    SakaiAdminAuthFailed,
    SakaiError,
    SakaiForbidden,
    SakaiLoginDisabled,
    SakaiProtocolError,
    SakaiServerIdMismatch,
    SakaiSessionInactive,
    SakaiSlow,
    SakaiUnavailable,
)
from sso_bridge.httpclient import HttpClient, Reply, ReplyTooLarge, TransportError
from sso_bridge.sakai import soap
from sso_bridge.sakai.breaker import CircuitBreaker
from sso_bridge.sakai.gate import CallGate

log = logging.getLogger("sso_bridge.sakai.client")

LOGIN_PATH = "/sakai-ws/soap/login"
SCRIPT_PATH = "/sakai-ws/soap/sakai"
CURRENT_SESSION_PATH = "/direct/session/current.json"
SAFE_TO_REPEAT = frozenset({"checkForUser", "getUserProperty", "getUserEmail",
                            "getUserDisplayName", "getUserType", "checkSession", "isSuperUser"})
SESSION_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{15,127}$")
_SERVER_ID_RE = re.compile(r"^[0-9A-Za-z_.:-]{1,64}$")

OnCall = Callable[[str, float, str | None], None]
Parts = list[tuple[str, str]]
T = TypeVar("T")
Parser = Callable[[str, int, bytes], T]
LOGIN_REFUSALS = (SakaiAdminAuthFailed, SakaiLoginDisabled, SakaiForbidden, SakaiServerIdMismatch)


@dataclass(frozen=True)
class AdminSession:
    sid: str = field(repr=False)
    server_id: str
    cookie: str = field(default="", repr=False)
    """``<name>=<sid>.<route>``, sent back on the admin's calls (sticky mode only)."""


@dataclass(frozen=True)
class NodeOptions:
    admin_user: str
    admin_password: str = field(repr=False)
    cookie_name: str = "JSESSIONID"
    expected_server_id: str = ""
    """``sakai.server_id``; empty: whatever Sakai says."""
    expected_key: str = "sakai.server_id"


class SakaiNode:
    def __init__(self, url: str, http: HttpClient, options: NodeOptions, *,
                 breaker: CircuitBreaker, gate: CallGate, sticky: bool,
                 count: Callable[[str], None], on_call: OnCall | None = None) -> None:
        self.url = url
        self.http = http
        self.options = options
        self.breaker = breaker
        self.gate = gate
        self.sticky = sticky
        self._count = count
        self.on_call = on_call
        self._login_lock = threading.Lock()
        self._admin: AdminSession | None = None
        self._route = ""
        """The last login's cookie (sticky mode): the next login goes to the same node."""

    def __repr__(self) -> str:
        return f"SakaiNode({self.url!r})"

    @property
    def server_id(self) -> str | None:
        """The serverId learned at the last admin login (None before one)."""
        admin = self._admin
        return admin.server_id if admin is not None else None

    # --- calls as the admin ----------------------------------------------------------------

    def admin_call(self, parse: Parser[T], operation: str,
                   parts: Parts) -> tuple[T, AdminSession]:
        """A SakaiScript call as the admin; logs in again once if the session expired."""
        admin = self.admin_session()
        try:
            return self._as(admin, parse, operation, parts), admin
        except SakaiSessionInactive:
            log.info("Sakai admin session on %s no longer active; logging in again (%s)",
                     self.url, operation)
        admin = self._renew(stale=admin)
        return self._as(admin, parse, operation, parts), admin

    def _as(self, admin: AdminSession, parse: Parser[T], operation: str, parts: Parts) -> T:
        return self.invoke(parse, SCRIPT_PATH, operation, [("sessionid", admin.sid), *parts],
                           cookie=admin.cookie)

    def admin_session(self) -> AdminSession:
        with self._login_lock:
            if self._admin is None:
                self._admin = self._login()
            return self._admin

    def _renew(self, stale: AdminSession) -> AdminSession:
        with self._login_lock:
            if self._admin is None or self._admin is stale:
                self._admin = None
                self._admin = self._login()
            return self._admin

    def drop_admin_session(self) -> None:
        """Forget the admin session (no lock: a failing login, holding it, calls this too)."""
        self._admin = None

    # --- admin login and the serverId --------------------------------------------------------

    def _login(self) -> AdminSession:
        self.breaker.before_login()
        o = self.options
        route = self._route
        try:
            sid, reply = self._invoke(soap.parse_response, LOGIN_PATH, "login",
                                      [("id", o.admin_user), ("pw", o.admin_password)], route)
            if not SESSION_ID_RE.match(sid):
                raise SakaiProtocolError("Sakai login returned something that is not a "
                                         "session id")
            admin = self._learn(sid, reply)
        except LOGIN_REFUSALS as exc:
            refusal = type(exc)(f"{exc.detail} (account {o.admin_user!r} at {self.url})")
            self.breaker.login_refused(refusal)
            raise refusal from None
        self.breaker.login_ok()
        log.info("logged in to Sakai web services at %s as %r (serverId %r)", self.url,
                 o.admin_user, admin.server_id)
        return admin

    def _learn(self, sid: str, reply: Reply) -> AdminSession:
        found = _session_cookie(reply.set_cookies, sid)
        if found is None:
            found = self._cookie_of_direct_request()
        name, value = found
        server_id = value.split(".", 1)[1]
        o = self.options
        if name != o.cookie_name:
            self._forget(sid)
            raise SakaiServerIdMismatch(
                f"Sakai at {self.url} names its session cookie {name!r}, but "
                f"'sakai.cookie.name' is {o.cookie_name!r}: set it to {name!r}")
        if o.expected_server_id and server_id != o.expected_server_id:
            self._forget(sid)
            raise SakaiServerIdMismatch(
                f"Sakai at {self.url} uses serverId {server_id!r} (the suffix of its session "
                f"cookie), but '{o.expected_key}' is {o.expected_server_id!r}: browsers would "
                f"land logged out. Remove '{o.expected_key}' (the bridge learns it), or set "
                f"serverId={o.expected_server_id} in that node's sakai.properties")
        if self.sticky:
            self._route = f"{name}={value}"
        return AdminSession(sid, server_id, self._route)

    def _cookie_of_direct_request(self) -> tuple[str, str]:
        """Older Sakai sets no cookie on login: its RequestFilter sets one on any request."""
        try:
            reply = self._request("direct-session", lambda deadline: self.http.get(
                CURRENT_SESSION_PATH, {"Accept": "application/json"}, deadline=deadline))
        except _Broken:
            reply = None
        if reply is None:
            raise SakaiUnavailable(f"Sakai {CURRENT_SESSION_PATH} at {self.url}: the "
                                   "connection broke before an answer")
        found = _session_cookie(reply.set_cookies, None)
        if found is None:
            raise SakaiProtocolError(
                f"Sakai at {self.url} set no session cookie, on login or on "
                f"{CURRENT_SESSION_PATH}: the serverId cannot be learned")
        return found

    def _forget(self, sid: str) -> None:
        with contextlib.suppress(SakaiError):
            self.invoke(soap.parse_response, LOGIN_PATH, "logout", [("sessionid", sid)])

    # --- one SOAP round trip -------------------------------------------------------------------

    def invoke(self, parse: Parser[T], path: str, operation: str, parts: Parts,
               cookie: str = "") -> T:
        return self._invoke(parse, path, operation, parts, cookie)[0]

    def _invoke(self, parse: Parser[T], path: str, operation: str, parts: Parts,
                cookie: str = "") -> tuple[T, Reply]:
        """Count it, time it, classify the outcome, feed the breaker."""
        self.breaker.before_call(operation)
        self._count(operation)
        started = time.perf_counter()
        error: str | None = None
        try:
            envelope = soap.build_envelope(operation, parts)
            reply = self._post(path, operation, envelope, cookie)
            result = parse(operation, reply.status, reply.body)
        except SakaiSlow as exc:  # our own deadline: no verdict on Sakai
            error = exc.code
            self.breaker.abandon()
            raise
        except SakaiUnavailable as exc:
            error = exc.code
            self.breaker.failure()
            self.drop_admin_session()
            raise
        except SakaiError as exc:  # Sakai answered: it is up, whatever it said
            error = exc.code
            self.breaker.success()
            raise
        except BaseException:  # no verdict on Sakai (a bug, bad input): free the trial
            error = "internal_error"
            self.breaker.abandon()
            raise
        finally:
            self._report(operation, time.perf_counter() - started, error)
        self.breaker.success()
        return result, reply

    def _post(self, path: str, operation: str, envelope: bytes, cookie: str) -> Reply:
        """A read-only call is sent again once if the connection broke (a kept-alive
        connection the server closed). Calls with effects are never repeated here."""
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""', "Accept": "text/xml"}
        if cookie:
            headers["Cookie"] = cookie
        attempts = 2 if operation in SAFE_TO_REPEAT else 1
        for _ in range(attempts):
            try:
                return self._request(operation, lambda deadline: self.http.post(
                    path, envelope, headers, deadline=deadline))
            except _Broken:
                pass
        raise SakaiUnavailable(f"Sakai {operation} at {self.url}{path}: the connection broke "
                               "before an answer")

    def _request(self, operation: str, send: Callable[[float | None], Reply]) -> Reply:
        """One HTTP exchange inside a concurrency slot and the login's deadline. The errors
        are raised outside the handlers, so they carry no chained transport exception."""
        with self.gate.slot(operation):
            deadline = self.gate.deadline()
            try:
                return send(deadline)
            except ReplyTooLarge as exc:
                failure: SakaiError | _Broken = SakaiProtocolError(f"Sakai {operation}: {exc}")
            except TransportError as exc:
                failure = self._transport_failure(operation, exc.kind, deadline)
        raise failure

    def _transport_failure(self, operation: str, kind: str,
                           deadline: float | None) -> SakaiError | _Broken:
        if kind == "broken":
            return _Broken()
        if deadline is not None and time.monotonic() >= deadline - 0.01:
            return SakaiSlow(f"Sakai {operation} at {self.url}: no answer before the login's "
                             "deadline")
        timeout = self.http.timeout
        reason = (f"no answer within {timeout.connect_timeout}s connect / "
                  f"{timeout.read_timeout}s read") if kind == "timeout" else \
            "cannot connect (refused, unreachable or DNS failure)"
        return SakaiUnavailable(f"Sakai {operation} at {self.url}: {reason}")

    def _report(self, operation: str, seconds: float, error: str | None) -> None:
        log.debug("Sakai %s took %.3fs (%s)", operation, seconds, error or "ok")
        if self.on_call is None:
            return
        try:
            self.on_call(operation, seconds, error)
        except Exception:  # a metrics hook must never break a login
            log.exception("the Sakai on_call hook failed")


class _Broken(Exception):
    """The connection broke before an answer (may be sent again if read-only)."""


def _session_cookie(set_cookies: tuple[str, ...], sid: str | None) -> tuple[str, str] | None:
    """(name, value) of a ``Set-Cookie`` whose value is ``<sid>.<serverId>`` (``sid`` None:
    any session-shaped id)."""
    for header in set_cookies:
        try:
            jar: SimpleCookie = SimpleCookie(header)
        except CookieError:
            continue
        for name, morsel in jar.items():
            head, dot, suffix = morsel.value.partition(".")
            if not dot or not _SERVER_ID_RE.match(suffix):
                continue
            if head == sid or (sid is None and SESSION_ID_RE.match(head)):
                return name, morsel.value
    return None
