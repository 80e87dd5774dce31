"""What the bridge keeps in the learner's browser besides the pending login itself.

* a cookie test: set with every login start, looked for at the ACS, so a browser that keeps
  no cookies is told so (instead of "your sign-in took too long");
* the completed login's marker: the back button re-posts the IdP's form, and the same browser
  posting the same response with the same RelayState again is sent on to its Sakai target,
  without a Sakai call and without a new session (the replay cache still refuses the response
  anywhere else); signed and short-lived;
* the key fingerprint: instances that must read each other's cookies need the same
  SSO_BRIDGE_SECRET_KEY, and ``/readyz`` shows this fingerprint of it to compare.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from urllib.parse import urlsplit

from itsdangerous import BadSignature, TimestampSigner
from werkzeug.wrappers import Request, Response

from sso_bridge.settings import Settings

COOKIE_TEST = "sso_bridge_cookies"
COMPLETED = "sso_bridge_done"
LOGOUT_TOKEN = "sso_bridge_slo"
PENDING_LOGOUT = "sso_bridge_logout"


def key_fingerprint(secret_key: str) -> str:
    """A short hash of an HMAC of a constant: equal keys give equal fingerprints, and it
    tells nothing about the key."""
    mac = hmac.new(secret_key.encode(), b"sso-bridge key fingerprint", hashlib.sha256).digest()
    return hashlib.sha256(mac).hexdigest()[:12]


class BrowserState:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        base = urlsplit(settings.bridge.base_url)
        self.https = base.scheme == "https"
        self.path = base.path.rstrip("/") + "/saml/"
        self._completed = TimestampSigner(settings.secrets.flask_secret_key,
                                          salt="sso-bridge completed login",
                                          digest_method=hashlib.sha256)

    def set(self, response: Response, name: str, value: str | None, max_age: int | None,
            cross_site: bool = True) -> None:
        """A cookie for the bridge's /saml/ paths (None: drop it). ``cross_site``: it must come
        back on the IdP's cross-site POST (SameSite=None over HTTPS, Lax on plain HTTP)."""
        samesite = "None" if cross_site and self.https else "Lax"
        response.set_cookie(name, value or "", max_age=max_age if value is not None else 0,
                            httponly=True, secure=self.https, samesite=samesite,
                            path=self.path)

    def cookies_work(self, request: Request) -> bool:
        return COOKIE_TEST in request.cookies

    def mark_completed(self, response: Response, saml_response: str, relay_state: str | None,
                       target: str) -> None:
        payload = json.dumps([_digest(saml_response, relay_state), target]).encode()
        value = self._completed.sign(base64.urlsafe_b64encode(payload)).decode()
        self.set(response, COMPLETED, value, self.settings.store.login_timeout_seconds)

    def completed_target(self, request: Request, saml_response: str,
                         relay_state: str | None) -> str | None:
        """The target of this browser's completed login of exactly this response, if any."""
        value = request.cookies.get(COMPLETED)
        if not value:
            return None
        try:
            payload = self._completed.unsign(value,
                                             max_age=self.settings.store.login_timeout_seconds)
            digest, target = json.loads(base64.urlsafe_b64decode(payload))
        except (BadSignature, ValueError):
            return None
        same = hmac.compare_digest(str(digest), _digest(saml_response, relay_state))
        return str(target) if same else None


def _digest(saml_response: str, relay_state: str | None) -> str:
    return hashlib.sha256(f"{saml_response}\n{relay_state or ''}".encode()).hexdigest()
