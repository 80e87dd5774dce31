"""The learner's pages around the errors: the language switcher and the static files.

The switcher is a row of plain links (no JavaScript, no form): each sets the language cookie
and shows the same page again, with the same error id, in the chosen language.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from flask import Blueprint, current_app, g, redirect, request, send_from_directory
from werkzeug.exceptions import NotFound
from werkzeug.wrappers import Response

from sso_bridge import errors
from sso_bridge.web.errors import BY_KEY, render_page
from sso_bridge.web.i18n import LANGUAGE_COOKIE, Language

pages = Blueprint("pages", __name__)
STATIC = Path(__file__).with_name("static")
LANGUAGE_COOKIE_DAYS = 365
_CODE = re.compile(r"[a-z_]{1,40}")
_ERROR_ID = re.compile(r"[0-9a-f]{16}")
STATIC_MAX_AGE = 86400


def render_other(key: str) -> Response | None:
    """A page that is not an error (the signed-out pages): registered by ``web.logout``."""
    renderers = current_app.extensions.get("sso_bridge_pages", {})
    render = renderers.get(key)
    return render() if render else None


def choose_language(lang: str) -> Response:
    languages: dict[str, Language] = {x.code: x for x in current_app.extensions["sso_bridge_lang"]}
    if lang not in languages:
        raise errors.NotFound(f"no language {lang[:20]!r}")
    g.language = lang
    key = request.args.get("page", "")
    code = request.args.get("code", "")
    error_id = request.args.get("id", "")
    response: Response
    if key in BY_KEY:
        response = render_page(key, code if _CODE.fullmatch(code) else key,
                               error_id if _ERROR_ID.fullmatch(error_id) else "-", status=200)
    else:
        response = render_other(key) or _to_sakai()
    s = current_app.extensions["sso_bridge"].settings
    response.set_cookie(LANGUAGE_COOKIE, lang, max_age=LANGUAGE_COOKIE_DAYS * 86400,
                        httponly=True, samesite="Lax",
                        secure=s.bridge.base_url.startswith("https://"),
                        path=urlsplit(s.bridge.base_url).path.rstrip("/") + "/")
    return response


def _to_sakai() -> Response:
    s = current_app.extensions["sso_bridge"].settings
    return redirect(s.sakai.url.rstrip("/") + s.sakai.portal_path, code=302)


def static_file(name: str) -> Response:
    """The bridge's CSS and logo, a branding folder's own first."""
    branding = current_app.extensions["sso_bridge_branding"]
    for folder in (branding.static, STATIC):
        if folder is not None and (folder / name).is_file():
            return send_from_directory(folder, name, max_age=STATIC_MAX_AGE)
    raise NotFound()


pages.add_url_rule("/saml/language/<lang>", "choose_language", choose_language)
pages.add_url_rule("/saml/static/<path:name>", "static_file", static_file)
