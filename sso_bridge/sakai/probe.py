"""Proving the hand-over before a learner needs it (``check-config`` and ``/readyz``).

On each node the bridge talks to: log in as the web-services account, mint a session for that
same account (``getSessionForUser``, as for a learner), read it back through the URL browsers
use, ``/direct/session/current.json``, carrying it exactly as the browser would get it (the
cookie ``<sakai.cookie.name>=<sid>.<learned serverId>``, or ``?sakai.session=<sid>`` with
``handoff = "url"``), then log it out. Each way this can fail is named with the setting to
change, most of them in sakai.properties:

=============================================  =================================================
what happens                                   raised
=============================================  =================================================
Sakai cannot be reached                        SakaiUnavailable (sakai.url / sakai.nodes)
``Web Services Login Disabled``                SakaiLoginDisabled (``webservices.allowlogin``)
``Unable to login``                            SakaiAdminAuthFailed (the account, its password)
HTTP 403 / ``Not permitted``                   SakaiForbidden (``webservices.allow``)
serverId other than ``sakai.server_id``        SakaiServerIdMismatch (``serverId``)
the session is not found through the URL       SakaiHandoffRefused (``serverId`` per node, the
                                               balancer's route, ``sakai.cookie.*``), or
                                               (url hand-over) ``session.parameter.allow``
=============================================  =================================================

:class:`ReadinessCache` keeps the verdict for a few seconds: at most one probe per period per
worker process, however often ``/readyz`` is asked.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlencode

from sso_bridge.errors import (
    BridgeError,
    SakaiError,
    SakaiHandoffRefused,
    SakaiUnavailable,
)
from sso_bridge.httpclient import HttpClient, ReplyTooLarge, TransportError
from sso_bridge.sakai import soap
from sso_bridge.sakai.node import CURRENT_SESSION_PATH, LOGIN_PATH, SakaiNode


@dataclass(frozen=True)
class Handover:
    """How the bridge hands a session to browsers (``sakai.handoff``, ``sakai.cookie.*``)."""

    mode: Literal["cookie", "url"] = "cookie"
    cookie_name: str = "JSESSIONID"
    cookie_path: str = "/"


def verify_node(node: SakaiNode, browser: HttpClient, browser_url: str,
                handover: Handover) -> str:
    """Mint a session on ``node``, find it through ``browser_url``; a line saying what passed."""
    if not CURRENT_SESSION_PATH.startswith(handover.cookie_path.rstrip("/") + "/"):
        raise SakaiHandoffRefused(
            f"'sakai.cookie.path' is {handover.cookie_path!r}: browsers would not send the "
            f"session cookie to all of Sakai ({CURRENT_SESSION_PATH}, its tools); Sakai's own "
            "cookie path is '/'")
    user = node.options.admin_user
    value, admin = node.admin_call(soap.parse_response, "getSessionForUser",
                                   [("eid", user), ("wsonly", "false")])
    sid = soap.check_string_result(value)
    try:
        seen = _session_user(browser, browser_url, handover, sid, admin.server_id)
    finally:
        with contextlib.suppress(SakaiError):
            node.invoke(soap.parse_response, LOGIN_PATH, "logout", [("sessionid", sid)])
    if seen is None or seen.lower() != user.lower():
        raise _refused(node, browser_url, handover, admin.server_id)
    how = (f"cookie {handover.cookie_name}=<session>.{admin.server_id}"
           if handover.mode == "cookie" else "?sakai.session=<session>")
    return (f"Sakai {node.url} (serverId {admin.server_id!r}): a session minted by the bridge "
            f"was accepted through {browser_url} ({how})")


def _session_user(browser: HttpClient, browser_url: str, handover: Handover, sid: str,
                  server_id: str) -> str | None:
    """The ``userEid`` of ``/direct/session/current.json`` as the browser would see it."""
    if handover.mode == "url":
        path, headers = f"{CURRENT_SESSION_PATH}?{urlencode({'sakai.session': sid})}", {}
    else:
        path = CURRENT_SESSION_PATH
        headers = {"Cookie": f"{handover.cookie_name}={sid}.{server_id}"}
    try:
        reply = browser.get(path, {"Accept": "application/json", **headers})
    except (TransportError, ReplyTooLarge) as exc:
        raise SakaiUnavailable(f"Sakai at {browser_url} (the URL browsers use, 'sakai.url') "
                               f"cannot be reached: {exc}") from None
    if reply.status != 200:
        raise SakaiHandoffRefused(f"{browser_url}{CURRENT_SESSION_PATH} answered HTTP "
                                  f"{reply.status}: is 'sakai.url' Sakai's address?")
    try:
        data = json.loads(reply.body)
    except ValueError:
        raise SakaiHandoffRefused(f"{browser_url}{CURRENT_SESSION_PATH} did not answer JSON: "
                                  "is 'sakai.url' Sakai's address?") from None
    user = data.get("userEid") if isinstance(data, dict) else None
    return user if isinstance(user, str) else None


def _refused(node: SakaiNode, browser_url: str, handover: Handover,
             server_id: str) -> SakaiHandoffRefused:
    if handover.mode == "url":
        return SakaiHandoffRefused(
            f"Sakai ignored the session handed over as ?sakai.session= through {browser_url}: "
            "set session.parameter.allow=true in sakai.properties (or use the cookie hand-over, "
            "sakai.handoff = \"cookie\")")
    return SakaiHandoffRefused(
        f"a session minted on {node.url} was not recognised through {browser_url} with the "
        f"cookie {handover.cookie_name}=<session>.{server_id}: give each Sakai node its own "
        f"serverId in sakai.properties, make the balancer route the suffix {server_id!r} to "
        f"that node (Apache: BalancerMember ... route={server_id}), and keep "
        "'sakai.cookie.name' equal to Sakai's cookie name (sakai.cookieName)")


class ReadinessCache:
    """The last verdict of ``probe``, for ``max_age`` seconds; one probe at a time."""

    def __init__(self, probe: Callable[[], object], max_age: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._probe = probe
        self.max_age = max_age
        self._clock = clock
        self._lock = threading.Lock()
        self._checked_at: float | None = None
        self._error: BridgeError | None = None
        self.probes = 0

    def check(self) -> None:
        """Raise the cached failure, if the last probe failed."""
        with self._lock:
            now = self._clock()
            if self._checked_at is None or now - self._checked_at >= self.max_age:
                self.probes += 1
                try:
                    self._probe()
                    self._error = None
                except BridgeError as exc:
                    self._error = exc
                self._checked_at = self._clock()
            error = self._error
        if error is not None:  # a fresh exception each time: tracebacks do not pile up
            raise type(error)(error.detail)
