"""Where a learner who has not named an IdP is sent (the discovery page lands here next)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import current_app, redirect
from werkzeug.wrappers import Response


def redirect_to_discovery(target: str) -> Response:
    """The IdP Discovery Protocol request: to ``discovery.external_url``, else the bridge's."""
    s = current_app.extensions["sso_bridge"].settings
    back = f"{s.bridge.base_url}/saml/login?{urlencode({'target': target})}"
    service = s.discovery.external_url or f"{s.bridge.base_url}/saml/discovery"
    query = urlencode({"entityID": s.sp_entity_id, "return": back, "returnIDParam": "idp"})
    return redirect(f"{service}?{query}", code=302)
