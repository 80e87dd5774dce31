"""Handing the learner's new Sakai session to their browser (sakai-contract.md §5.2, §5.3).

``cookie`` (default): the bridge is served on Sakai's host or a parent domain and sets
``JSESSIONID=<sid>.<serverId>`` itself; the session id never appears in a URL.
``url``: redirect with ``?sakai.session=<sid>``, for Sakai installs with
``session.parameter.allow=true``. The id then sits in a URL (access logs, history, Referer), and
the switch lets anyone hand a victim their own session: use it only when the cookie cannot work.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import redirect
from werkzeug.wrappers import Response

from sso_bridge.identity import SakaiSession
from sso_bridge.settings import SakaiSection


def handoff_response(config: SakaiSection, session: SakaiSession, target: str) -> Response:
    if config.handoff == "url":
        parts = urlsplit(target)
        query = "&".join(q for q in (parts.query, urlencode({"sakai.session": session.session_id}))
                         if q)
        response = redirect(urlunsplit(parts._replace(query=query)), code=302)
    else:
        response = redirect(target, code=302)
        cookie = config.cookie
        response.set_cookie(cookie.name, f"{session.session_id}.{session.server_id}",
                            domain=cookie.domain or None, path=cookie.path,
                            secure=cookie.secure, httponly=cookie.httponly,
                            samesite=cookie.samesite)
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
