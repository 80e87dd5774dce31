"""SakaiClient: Sakai's SOAP web services, with one reused admin session.

* The admin session is created lazily by ``SakaiLogin.login`` and shared by every call and
  thread; a lock makes sure concurrent threads log in once. When Sakai says the session is no
  longer active, the client logs in again once and retries the call once.
* Every network failure becomes :class:`SakaiUnavailable`; every Sakai answer is classified by
  :mod:`sso_bridge.sakai.soap`. Nothing here logs or raises the admin password or a session id.
* Cookies are refused: the ``Set-Cookie`` that ``login`` may carry (the admin session id) is
  never stored, re-sent or passed on (:mod:`sso_bridge.httpclient` has no cookie jar).
"""

from __future__ import annotations

import logging
import re
import ssl
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import TypeVar
from urllib.parse import urlsplit

from sso_bridge.errors import (
    ConfigError,
    SakaiAdminAuthFailed,
    SakaiError,
    SakaiProtocolError,
    SakaiSessionInactive,
    SakaiUnavailable,
)
from sso_bridge.httpclient import HttpClient, Reply, ReplyTooLarge, TransportError
from sso_bridge.sakai import soap
from sso_bridge.sakai.breaker import CircuitBreaker

log = logging.getLogger(__name__)

LOGIN_PATH = "/sakai-ws/soap/login"
SCRIPT_PATH = "/sakai-ws/soap/sakai"
SAFE_TO_REPEAT = frozenset({"checkForUser", "getUserProperty", "getUserEmail",
                            "getUserDisplayName", "checkSession", "isSuperUser"})
_SESSION_ID_RE = re.compile(r"^[0-9A-Za-z][0-9A-Za-z_-]{15,127}$")

OnCall = Callable[[str, float, str | None], None]
Parts = list[tuple[str, str]]
T = TypeVar("T")
Parser = Callable[[str, int, bytes], T]


def _checked_base_url(base_url: str) -> str:
    parts = urlsplit(base_url)
    problems = []
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"Sakai base URL {base_url!r} must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        problems.append("Sakai base URL must not carry credentials")
    if parts.query or parts.fragment:
        problems.append("Sakai base URL must not have a query or fragment")
    if problems:
        raise ConfigError(problems)
    return base_url.rstrip("/")


class SakaiClient:
    """The bridge's view of Sakai: user lookup, provisioning, sessions. Thread-safe."""

    def __init__(
        self,
        base_url: str,
        admin_user: str,
        admin_password: str,
        *,
        connect_timeout: float = 3.0,
        read_timeout: float = 10.0,
        on_call: OnCall | None = None,
        breaker: CircuitBreaker | None = None,
        ca_file: str = "",
    ) -> None:
        """``ca_file``: the PEM CA certificates to trust for Sakai's https (empty: the system's);
        ConfigError if it does not load."""
        self.base_url = _checked_base_url(base_url)
        self._login_url = self.base_url + LOGIN_PATH
        self._script_url = self.base_url + SCRIPT_PATH
        self._admin_user = admin_user
        self._admin_password = admin_password
        self._timeout = (connect_timeout, read_timeout)
        try:
            self._transport = HttpClient(self.base_url, connect_timeout=connect_timeout,
                                         read_timeout=read_timeout, ca_file=ca_file)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"'sakai.ca_certificate_file': cannot load CA certificates from "
                              f"{ca_file}: {getattr(exc, 'strerror', None) or exc}") from exc
        self.on_call = on_call
        self.breaker = breaker if breaker is not None else CircuitBreaker(failures=0)
        self.call_counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        self._login_lock = threading.Lock()
        self._admin_sid: str | None = None

    def __repr__(self) -> str:
        return f"SakaiClient(base_url={self.base_url!r}, admin_user={self._admin_user!r})"

    def close(self) -> None:
        self._transport.close()

    # --- lookups ---------------------------------------------------------------------------

    def check_for_user(self, eid: str) -> bool:
        """Whether Sakai knows the EID (local or provided user)."""
        value = self._admin_call("checkForUser", [("eid", eid)])
        return soap.parse_boolean("checkForUser", value)

    def get_user_property(self, eid: str, name: str) -> str | None:
        """A user property; ``None`` when the user does not have it, ``''`` for an unknown EID."""
        parts = [("eid", eid), ("propertyName", name)]
        return self._admin_call_with(soap.parse_nullable_response, "getUserProperty", parts)

    def get_user_email(self, eid: str) -> str:
        """The user's email, ``''`` if unknown. (Sakai names this part ``userid``; it is an EID.)"""
        return self._admin_call("getUserEmail", [("userid", eid)])

    def get_user_display_name(self, eid: str) -> str:
        """The user's display name, ``''`` if unknown (the part is ``userid``; it is an EID)."""
        return self._admin_call("getUserDisplayName", [("userid", eid)])

    # --- provisioning ----------------------------------------------------------------------

    def add_new_user(
        self, eid: str, first_name: str, last_name: str, email: str, user_type: str, password: str
    ) -> None:
        """Create a user; :class:`SakaiUserExists` if the EID is taken.

        On the wire ``type`` comes before ``password`` (WSDL order).
        """
        parts = [
            ("eid", eid), ("firstname", first_name), ("lastname", last_name),
            ("email", email), ("type", user_type), ("password", password),
        ]
        self._expect_success("addNewUser", parts)

    def change_user_name(self, eid: str, first_name: str, last_name: str) -> None:
        """Update first and last name (the user must exist: Sakai faults with an NPE otherwise)."""
        parts = [("eid", eid), ("firstname", first_name), ("lastname", last_name)]
        self._expect_success("changeUserName", parts)

    def change_user_email(self, eid: str, email: str) -> None:
        """Update the email (the user must exist)."""
        self._expect_success("changeUserEmail", [("eid", eid), ("email", email)])

    # --- sessions --------------------------------------------------------------------------

    def get_session_for_user(self, eid: str) -> str:
        """A new Sakai session for the user, for the browser (``wsonly=false``, always)."""
        value = soap.check_string_result(
            self._admin_call("getSessionForUser", [("eid", eid), ("wsonly", "false")])
        )
        if not _SESSION_ID_RE.match(value):
            raise SakaiProtocolError(
                "Sakai getSessionForUser returned something that is not a session id"
            )
        return value

    def check_session(self, session_id: str) -> bool:
        """Whether the session exists on the Sakai node that answers (no admin session needed)."""
        value = self._invoke(self._script_url, "checkSession", [("sessionid", session_id)])
        return bool(value) and value == session_id

    def logout_session(self, session_id: str) -> bool:
        """Log a Sakai session out. False if it was already gone (expired or logged out)."""
        try:
            value = self._invoke(self._login_url, "logout", [("sessionid", session_id)])
        except SakaiSessionInactive:
            return False
        return soap.parse_boolean("logout", value)

    def check_admin(self) -> None:
        """For readiness: the admin can log in (or its session is live) and is a super user."""
        if not soap.parse_boolean("isSuperUser", self._admin_call("isSuperUser", [])):
            raise SakaiAdminAuthFailed(
                f"the Sakai admin account {self._admin_user!r} is not a super user; "
                "addNewUser and getSessionForUser need one"
            )

    # --- machinery -------------------------------------------------------------------------

    def _expect_success(self, operation: str, parts: Parts) -> None:
        value = soap.check_string_result(self._admin_call(operation, parts))
        if value != "success":
            got = soap.redact_session_ids(value)[:80]
            raise SakaiProtocolError(f"Sakai {operation}: expected 'success', got {got!r}")

    def _admin_call(self, operation: str, parts: Parts) -> str:
        return self._admin_call_with(soap.parse_response, operation, parts)

    def _admin_call_with(self, parse: Parser[T], operation: str, parts: Parts) -> T:
        """Call a SakaiScript operation as the admin; log in again once if the session expired."""
        url = self._script_url
        sid = self._admin_session()
        try:
            return self._invoke_with(parse, url, operation, [("sessionid", sid), *parts])
        except SakaiSessionInactive:
            log.info("Sakai admin session no longer active; logging in again (%s)", operation)
        sid = self._renew_admin_session(stale=sid)
        return self._invoke_with(parse, url, operation, [("sessionid", sid), *parts])

    def _admin_session(self) -> str:
        with self._login_lock:
            if self._admin_sid is None:
                self._admin_sid = self._login()
            return self._admin_sid

    def _renew_admin_session(self, stale: str) -> str:
        with self._login_lock:
            if self._admin_sid is None or self._admin_sid == stale:
                self._admin_sid = None
                self._admin_sid = self._login()
            return self._admin_sid

    def _login(self) -> str:
        parts = [("id", self._admin_user), ("pw", self._admin_password)]
        try:
            sid = self._invoke(self._login_url, "login", parts)
        except SakaiAdminAuthFailed as exc:
            raise SakaiAdminAuthFailed(f"{exc.detail} (account {self._admin_user!r})") from None
        if not _SESSION_ID_RE.match(sid):
            raise SakaiProtocolError("Sakai login returned something that is not a session id")
        log.info("logged in to Sakai web services as %r", self._admin_user)
        return sid

    def _invoke(self, url: str, operation: str, parts: Parts) -> str:
        return self._invoke_with(soap.parse_response, url, operation, parts)

    def _invoke_with(self, parse: Parser[T], url: str, operation: str, parts: Parts) -> T:
        """One SOAP round trip: count it, time it, classify the outcome, feed the breaker."""
        self.breaker.before_call(operation)
        with self._counts_lock:
            self.call_counts[operation] += 1
        started = time.perf_counter()
        error: str | None = None
        try:
            envelope = soap.build_envelope(operation, parts)
            reply = self._post_classified(url, operation, envelope)
            result = parse(operation, reply.status, reply.body)
        except SakaiUnavailable as exc:
            error = exc.code
            self.breaker.failure()
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
        return result

    def _post(self, url: str, operation: str, envelope: bytes) -> Reply:
        """One POST; a read-only call is sent again once if the connection broke (a kept-alive
        connection the server closed). Calls with effects are never repeated."""
        headers = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""', "Accept": "text/xml"}
        path = url.removeprefix(self.base_url)
        attempts = 2 if operation in SAFE_TO_REPEAT else 1
        for attempt in range(attempts):
            try:
                return self._transport.post(path, envelope, headers)
            except TransportError as exc:
                if attempt + 1 < attempts and exc.kind == "broken":
                    continue
                raise
        raise AssertionError("unreachable")

    def _post_classified(self, url: str, operation: str, envelope: bytes) -> Reply:
        try:
            return self._post(url, operation, envelope)
        except ReplyTooLarge as exc:
            raise SakaiProtocolError(f"Sakai {operation}: {exc}") from None
        except TransportError as exc:
            reason = {
                "timeout": f"no answer within {self._timeout[0]}s connect / "
                           f"{self._timeout[1]}s read",
                "connect": "cannot connect (refused, unreachable or DNS failure)",
            }.get(exc.kind, "the connection broke before an answer")
        raise SakaiUnavailable(f"Sakai {operation} at {url}: {reason}")

    def _report(self, operation: str, seconds: float, error: str | None) -> None:
        log.debug("Sakai %s took %.3fs (%s)", operation, seconds, error or "ok")
        if self.on_call is None:
            return
        try:
            self.on_call(operation, seconds, error)
        except Exception:  # a metrics hook must never break a login
            log.exception("the Sakai on_call hook failed")
