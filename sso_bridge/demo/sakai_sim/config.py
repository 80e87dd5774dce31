"""Configuration of the Sakai simulator. NOT FOR PRODUCTION.

Every field mirrors a Sakai setting (named in the comment) or is a test/bench knob. The runtime
copy of these settings can be changed through the control API (``POST /_sim/config``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Spring default of ``webservices.allow`` (contract §1.1): Java regexes, matched in full.
DEFAULT_ALLOW: tuple[str, ...] = (
    r"localhost",
    r"127\.0\.0\.1",
    r"192\.168\.[0-9.]+",
    r"10\.[0-9.]+",
    r"172\.1[6-9]\.[0-9.]+",
    r"172\.2[0-9]\.[0-9.]+",
    r"172\.3[0-1]\.[0-9.]+",
)


@dataclass
class SimConfig:
    """Settings of one simulated Sakai node."""

    server_id: str = "sakai"  # serverId / sakai.serverId: the cookie suffix of this node
    cookie_name: str = "JSESSIONID"  # sakai.cookieName
    admin_eid: str = "admin"  # a super user that exists from the start
    admin_password: str = "admin"
    # webservices.allowlogin: real Sakai defaults to false; the simulator to true for the demo.
    allowlogin: bool = True
    allow: tuple[str, ...] = DEFAULT_ALLOW  # webservices.allow
    deny: tuple[str, ...] = ()  # webservices.deny
    session_parameter_allow: bool = False  # session.parameter.allow
    inactive_seconds: float = 1800.0  # SessionManager inactive interval
    # webservices.directurl (else serverUrl): the node URL loginToServer returns; empty: the
    # URL the request came in on
    direct_url: str = ""
    login_sets_cookie: bool = True  # newer SakaiLogin sets the cookie; older versions do not
    # --- test / bench knobs -------------------------------------------------------------
    latency_ms: int = 0  # added to every SOAP call
    # PBKDF2 rounds for stored passwords, as Sakai hashes them. The benchmark lowers it: real
    # Sakai spends that CPU on its own servers, the simulator on the bridge's machine.
    password_hash_rounds: int = 10_000
    down: bool = False  # every non-/_sim/ request answers HTTP 503
    hang_seconds: float = 30.0  # how long an injected "timeout" failure stalls
    control_api: bool = True  # serve /_sim/ (tests only)
    # Extra users present from the start: dicts with eid, first, last, email, type,
    # password, properties (dict), super_user (bool).
    users: tuple[dict[str, Any], ...] = field(default_factory=tuple)

    def public(self) -> dict[str, Any]:
        """The settings as JSON, without the admin password."""
        return {
            "server_id": self.server_id, "cookie_name": self.cookie_name,
            "admin_eid": self.admin_eid, "allowlogin": self.allowlogin,
            "allow": list(self.allow), "deny": list(self.deny),
            "session_parameter_allow": self.session_parameter_allow,
            "inactive_seconds": self.inactive_seconds, "latency_ms": self.latency_ms,
            "password_hash_rounds": self.password_hash_rounds,
            "down": self.down, "hang_seconds": self.hang_seconds,
            "direct_url": self.direct_url, "login_sets_cookie": self.login_sets_cookie,
        }
