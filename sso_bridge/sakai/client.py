"""SakaiClient: Sakai's SOAP web services, on one Sakai or a cluster of them.

Two ways sites run a Sakai cluster, both with failover:

* ``nodes`` (``sakai.nodes``): the bridge talks to each node's own URL, keeps an admin session
  per node (:class:`~sso_bridge.sakai.node.SakaiNode`), and spreads calls round robin over the
  nodes whose breaker is closed. A node that cannot be reached (or whose breaker is open) is
  skipped and the call goes to the next one, so when a node dies mid-storm logins move on. A
  learner's session is minted on the node that answers ``getSessionForUser`` and carries that
  node's serverId.
* one URL (``sakai.url``, a single node or the balancer): the admin session's calls carry the
  cookie Sakai's login set, so a sticky balancer keeps them on that node; when that node dies
  the balancer sends them elsewhere, Sakai answers "not active", and the admin logs in again
  there, learning the new node's serverId.

What Sakai may answer, and how each answer is classified, is :mod:`sso_bridge.sakai.soap`'s;
a node's admin session, serverId, transport and breaker are :mod:`sso_bridge.sakai.node`'s;
the per-login deadline and the bound on concurrent calls are :mod:`sso_bridge.sakai.gate`'s.
Cookies are refused except that routing cookie: nothing Sakai sets is ever passed on.
"""

from __future__ import annotations

import itertools
import ssl
import threading
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
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
from sso_bridge.httpclient import HttpClient
from sso_bridge.sakai import soap
from sso_bridge.sakai.breaker import CircuitBreaker
from sso_bridge.sakai.gate import CallGate
from sso_bridge.sakai.node import (
    LOGIN_PATH,
    LOGIN_REFUSALS,
    SAFE_TO_REPEAT,
    SCRIPT_PATH,
    SESSION_ID_RE,
    NodeOptions,
    OnCall,
    Parser,
    Parts,
    SakaiNode,
)
from sso_bridge.sakai.probe import Handover, ReadinessCache, verify_node

__all__ = ["LOGIN_PATH", "SAFE_TO_REPEAT", "SCRIPT_PATH", "SakaiClient"]
T = TypeVar("T")


def _checked_base_url(base_url: str, key: str = "Sakai base URL") -> str:
    parts = urlsplit(base_url)
    problems = []
    if parts.scheme not in ("http", "https") or not parts.hostname:
        problems.append(f"{key} {base_url!r} must be an absolute http(s) URL")
    if parts.username is not None or parts.password is not None:
        problems.append(f"{key} must not carry credentials")
    if parts.query or parts.fragment:
        problems.append(f"{key} must not have a query or fragment")
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
        nodes: Sequence[str] = (),
        cookie_name: str = "JSESSIONID",
        server_id: str = "",
        gate: CallGate | None = None,
        breaker_factory: Callable[[], CircuitBreaker] | None = None,
        handover: Handover | None = None,
        readiness_cache_seconds: float = 10.0,
    ) -> None:
        """``base_url``: where browsers reach Sakai (the balancer in a cluster); ``nodes``: the
        nodes' own URLs, when the bridge is to pick one per call. ``server_id``: the serverId
        Sakai must turn out to use (empty: learned). ``ca_file``: the PEM CA certificates to
        trust for Sakai's https (empty: the system's); ConfigError if it does not load.
        ``handover``: how browsers get the session, for :meth:`check_handoff`."""
        self.base_url = _checked_base_url(base_url)
        self.handover = handover or Handover(cookie_name=cookie_name)
        self._browser_options = (connect_timeout, read_timeout, ca_file)
        self._readiness = ReadinessCache(lambda: self.check_handoff(tolerate_down=True),
                                         readiness_cache_seconds)
        self._admin_user = admin_user
        self.gate = gate or CallGate()
        self.call_counts: Counter[str] = Counter()
        self._counts_lock = threading.Lock()
        options = NodeOptions(admin_user, admin_password, cookie_name, server_id)
        urls = [_checked_base_url(u, "'sakai.nodes' entry") for u in nodes] or [self.base_url]
        make_breaker = breaker_factory or (lambda: CircuitBreaker(failures=0))
        self.nodes = [
            SakaiNode(url, self._http(url, connect_timeout, read_timeout, ca_file), options,
                      breaker=breaker if breaker is not None and len(urls) == 1
                      else make_breaker(),
                      gate=self.gate, sticky=not nodes, count=self._count, on_call=on_call)
            for url in urls]
        self._turn = itertools.count()

    def _http(self, url: str, connect: float, read: float, ca_file: str) -> HttpClient:
        try:
            return HttpClient(url, connect_timeout=connect, read_timeout=read, ca_file=ca_file,
                              pool_size=max(self.gate.max_concurrent, 16))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"'sakai.ca_certificate_file': cannot load CA certificates from "
                              f"{ca_file}: {getattr(exc, 'strerror', None) or exc}") from exc

    def __repr__(self) -> str:
        return f"SakaiClient(base_url={self.base_url!r}, admin_user={self._admin_user!r})"

    @property
    def breaker(self) -> CircuitBreaker:
        """The first node's breaker (the only one with a single Sakai URL)."""
        return self.nodes[0].breaker

    @property
    def on_call(self) -> OnCall | None:
        return self.nodes[0].on_call

    @on_call.setter
    def on_call(self, hook: OnCall | None) -> None:
        for node in self.nodes:
            node.on_call = hook

    def close(self) -> None:
        for node in self.nodes:
            node.http.close()

    def login_window(self) -> AbstractContextManager[None]:
        """``with client.login_window():`` around everything one login asks of Sakai: one
        deadline for all of it (``sakai.login_deadline_seconds``)."""
        return self.gate.login()

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

    # --- account type and marks -------------------------------------------------------------

    def get_user_type(self, eid: str) -> str:
        """The user's Sakai type (``registered``, ``guest`` ...), ``''`` if unknown or unset
        (the part is ``userid``; it is an EID)."""
        return self._admin_call("getUserType", [("userid", eid)])

    def change_user_type(self, eid: str, user_type: str) -> None:
        """Set the user type (the user must exist: Sakai faults with an NPE otherwise)."""
        self._expect_success("changeUserType", [("eid", eid), ("type", user_type)])

    def set_user_property(self, eid: str, name: str, value: str) -> bool:
        """Set a user property (super user only); False when Sakai answers ``failure`` (the
        user has no record Sakai can edit)."""
        parts = [("eid", eid), ("key", name), ("value", value)]
        result = soap.check_string_result(self._admin_call("setUserProperty", parts))
        if result not in ("success", "failure"):
            got = soap.redact_session_ids(result)[:80]
            raise SakaiProtocolError(f"Sakai setUserProperty: expected 'success' or 'failure', "
                                     f"got {got!r}")
        return result == "success"

    # --- sessions --------------------------------------------------------------------------

    def session_for_user(self, eid: str) -> tuple[str, str]:
        """A new Sakai session for the user, for the browser (``wsonly=false``, always), and
        the serverId of the node that holds it (learned from Sakai)."""
        parts = [("eid", eid), ("wsonly", "false")]
        value, admin = self._on_a_node(lambda node: node.admin_call(
            soap.parse_response, "getSessionForUser", parts))
        value = soap.check_string_result(value)
        if not SESSION_ID_RE.match(value):
            raise SakaiProtocolError(
                "Sakai getSessionForUser returned something that is not a session id"
            )
        return value, admin.server_id

    def get_session_for_user(self, eid: str) -> str:
        """:meth:`session_for_user` without the serverId."""
        return self.session_for_user(eid)[0]

    def check_session(self, session_id: str) -> bool:
        """Whether the session exists on the Sakai node that answers (no admin session needed)."""
        value = self.nodes[0].invoke(soap.parse_response, SCRIPT_PATH, "checkSession",
                                     [("sessionid", session_id)])
        return bool(value) and value == session_id

    def logout_session(self, session_id: str, server_id: str | None = None) -> bool:
        """Log a Sakai session out. False if it was already gone (expired or logged out).
        With nodes, the node of ``server_id`` is asked first, then the others."""
        nodes = sorted(self.nodes, key=lambda n: n.server_id != server_id)
        for node in nodes:
            try:
                value = node.invoke(soap.parse_response, LOGIN_PATH, "logout",
                                    [("sessionid", session_id)], cookie="")
            except (SakaiSessionInactive, SakaiUnavailable):
                continue
            return soap.parse_boolean("logout", value)
        return False

    def check_handoff(self, tolerate_down: bool = False) -> list[str]:
        """Prove on every node that a session the bridge mints is accepted through the URL
        browsers use (:mod:`sso_bridge.sakai.probe`); one line per node that passed.
        ``tolerate_down``: nodes that cannot be reached are fine while another one passes."""
        browser = self._http(self.base_url, *self._browser_options)
        passed: list[str] = []
        down: SakaiUnavailable | None = None
        try:
            for node in self.nodes:
                try:
                    passed.append(verify_node(node, browser, self.base_url, self.handover))
                except SakaiUnavailable as exc:
                    if not tolerate_down:
                        raise
                    down = exc
        finally:
            browser.close()
        if down is not None and not passed:
            raise down
        return passed

    def readiness(self) -> None:
        """:meth:`check_handoff`'s verdict, re-checked at most every
        ``readiness_cache_seconds`` (raises the cached failure)."""
        self._readiness.check()

    def check_admin(self) -> None:
        """The admin can log in (or its session is live) and is a super user."""
        if not soap.parse_boolean("isSuperUser", self._admin_call("isSuperUser", [])):
            raise SakaiAdminAuthFailed(
                f"the Sakai admin account {self._admin_user!r} is not a super user; "
                "addNewUser and getSessionForUser need one"
            )

    # --- machinery -------------------------------------------------------------------------

    def _count(self, operation: str) -> None:
        with self._counts_lock:
            self.call_counts[operation] += 1

    def _expect_success(self, operation: str, parts: Parts) -> None:
        value = soap.check_string_result(self._admin_call(operation, parts))
        if value != "success":
            got = soap.redact_session_ids(value)[:80]
            raise SakaiProtocolError(f"Sakai {operation}: expected 'success', got {got!r}")

    def _admin_call(self, operation: str, parts: Parts) -> str:
        return self._admin_call_with(soap.parse_response, operation, parts)

    def _admin_call_with(self, parse: Parser[T], operation: str, parts: Parts) -> T:
        return self._on_a_node(lambda node: node.admin_call(parse, operation, parts)[0])

    def _on_a_node(self, call: Callable[[SakaiNode], T]) -> T:
        """``call`` on the next node in turn; on to the next while a node is unavailable or
        refuses the bridge's admin login (a misconfigured node: readiness names it)."""
        failures: list[SakaiError] = []
        for node in self._order():
            try:
                return call(node)
            except (SakaiUnavailable, *LOGIN_REFUSALS) as exc:
                failures.append(exc)
        refusals = [f for f in failures if not isinstance(f, SakaiUnavailable)]
        raise (refusals or failures)[0]

    def _order(self) -> list[SakaiNode]:
        """Round robin, nodes with a closed breaker first."""
        if len(self.nodes) == 1:
            return self.nodes
        start = next(self._turn) % len(self.nodes)
        turn = self.nodes[start:] + self.nodes[:start]
        return sorted(turn, key=lambda node: node.breaker.state != "closed")

