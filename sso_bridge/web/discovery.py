"""The bridge's own IdP discovery service, and the way to a discovery service from the login.

The OASIS Identity Provider Discovery Service Protocol and Profile (2008), both ways:

``redirect_to_discovery(target)``  ``/saml/login`` without ``?idp=``: the browser goes to the
                                   external service (``discovery.external_url``) or to the page
                                   below, with ``entityID``, ``return`` and ``returnIDParam=idp``;
``GET /saml/discovery``            the page: a search form that works without JavaScript, the
                                   remembered organisation(s) first, every IdP when there are
                                   few; ``isPassive=true`` answers at once;
``GET /saml/discovery/search``     the same search as JSON, for ``static/discovery.js``;
``GET /saml/discovery/choose``     the learner's choice: remembered in a cookie, then back to
                                   ``return`` with ``<returnIDParam>=<entityID>``.

``return`` must be the bridge's own ``<base_url>/saml/login`` (its published
DiscoveryResponse): anything else is refused, so the page is never an open redirect. The page's
Content-Security-Policy allows its one script, its JSON and the IdPs' https logos; every other
page keeps the strict one.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from flask import (
    Blueprint,
    current_app,
    g,
    get_template_attribute,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.sansio.blueprints import BlueprintSetupState
from flask_babel import get_locale
from werkzeug.wrappers import Response

from sso_bridge import errors
from sso_bridge.saml.federation.discovery import Choice
from sso_bridge.services import Services
from sso_bridge.web.targets import resolve_target

discovery_bp = Blueprint("discovery", __name__)
REMEMBERED_COOKIE = "sso_bridge_idp"
SINGLE_POLICY = "urn:oasis:names:tc:SAML:profiles:SSO:idp-discovery-protocol:single"
SHOW_ALL_UP_TO = 12
"""With this many IdPs or fewer the page lists them all; with more, the learner searches."""
MAX_RESULTS = 10
MAX_REMEMBERED = 3
MAX_QUERY = 200
MAX_RETURN = 4096
CSP = ("default-src 'none'; script-src 'self'; connect-src 'self'; img-src 'self' https:; "
       "style-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
_PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


def services() -> Services:
    """As ``web.views.services`` (which imports this module for ``/saml/login``)."""
    return current_app.extensions["sso_bridge"]  # type: ignore[no-any-return]


@dataclass(frozen=True)
class DiscoveryRequest:
    """A checked discovery request: where the answer goes and under which parameter."""

    entity_id: str
    return_url: str
    return_param: str
    passive: bool = False

    def answer(self, entity_id: str | None) -> str:
        """``return`` with the chosen IdP appended (none: the protocol's "no choice")."""
        if entity_id is None:
            return self.return_url
        joiner = "&" if urlsplit(self.return_url).query else "?"
        return self.return_url + joiner + urlencode({self.return_param: entity_id})

    def params(self) -> dict[str, str]:
        """The request again, for the form's hidden fields and the page's links."""
        return {"entityID": self.entity_id, "return": self.return_url,
                "returnIDParam": self.return_param}


@dataclass(frozen=True)
class Shown:
    """An IdP as the page and the JSON show it."""

    entity_id: str
    name: str
    logo: str
    href: str


def read_request(args: Any) -> DiscoveryRequest:
    """The protocol's parameters from ``args``; BadRequest or BadTarget when unacceptable."""
    s = services().settings
    entity_id = args.get("entityID", "")
    if entity_id != s.sp_entity_id:
        raise errors.BadRequest(f"discovery request for the SP {entity_id[:200]!r}, not this "
                                "bridge's entityID")
    own = s.bridge.base_url + "/saml/login"
    return_url = args.get("return") or own
    _check_return(return_url, own)
    return_param = args.get("returnIDParam") or "entityID"
    if not _PARAM_NAME.fullmatch(return_param):
        raise errors.BadRequest(f"returnIDParam {return_param[:80]!r} is not a parameter name")
    if return_param in _query_names(return_url):
        raise errors.BadTarget(f"discovery return URL already carries {return_param!r}")
    policy = args.get("policy") or SINGLE_POLICY
    if policy != SINGLE_POLICY:
        raise errors.BadRequest(f"discovery policy {policy[:200]!r} is not supported")
    passive = args.get("isPassive", "false")
    if passive not in ("true", "false"):
        raise errors.BadRequest(f"isPassive {passive[:20]!r} is neither true nor false")
    return DiscoveryRequest(entity_id, return_url, return_param, passive == "true")


def _check_return(value: str, own: str) -> None:
    """Only the bridge's own login URL (any query, no fragment): never an open redirect."""
    if len(value) > MAX_RETURN or any(ord(c) < 0x21 or c == "\\" for c in value):
        raise errors.BadTarget("discovery return URL is too long or holds a control "
                               "character, space or backslash")
    parts, mine = urlsplit(value), urlsplit(own)
    same = (parts.scheme, parts.netloc.lower(), parts.path) == (
        mine.scheme, mine.netloc.lower(), mine.path)
    if not same or parts.fragment or "#" in value:
        raise errors.BadTarget(f"discovery return URL {value[:200]!r} is not {own}")


def _query_names(url: str) -> set[str]:
    return {name for name, _ in parse_qsl(urlsplit(url).query, keep_blank_values=True)}


def redirect_to_discovery(target: str) -> Response:
    """The browser to the discovery service, asking for an IdP for a login to ``target``."""
    s = services().settings
    params = urlencode({
        "entityID": s.sp_entity_id,
        "return": s.bridge.base_url + "/saml/login?" + urlencode({"target": target}),
        "returnIDParam": "idp"})
    service = s.discovery.external_url or s.bridge.base_url + "/saml/discovery"
    return redirect(service + ("&" if urlsplit(service).query else "?") + params, code=302)


def _language() -> str:
    return str(get_locale() or "en")


def _remembered() -> list[str]:
    value = request.cookies.get(REMEMBERED_COOKIE, "")
    try:
        found = json.loads(base64.urlsafe_b64decode(value.encode() + b"==")) if value else []
    except (ValueError, binascii.Error):
        return []
    if not isinstance(found, list):
        return []
    return [e for e in found if isinstance(e, str) and e][:MAX_REMEMBERED]


def _remember(response: Response, entity_id: str) -> None:
    s = services().settings
    days = s.discovery.remember_days
    if days <= 0:
        return
    kept = [entity_id, *(e for e in _remembered() if e != entity_id)][:MAX_REMEMBERED]
    while len(kept) > 1 and len(json.dumps(kept)) > 2400:  # a cookie stays under 4 KB
        kept.pop()
    value = base64.urlsafe_b64encode(json.dumps(kept).encode()).decode().rstrip("=")
    response.set_cookie(REMEMBERED_COOKIE, value, max_age=days * 86400, httponly=True,
                        secure=s.bridge.base_url.startswith("https://"), samesite="Lax",
                        path=urlsplit(s.bridge.base_url).path.rstrip("/") + "/saml/")


def _shown(choice: Choice, discovery: DiscoveryRequest) -> Shown:
    href = url_for("discovery.choose") + "?" + urlencode(
        {**discovery.params(), "choice": choice.entity_id})
    logo = choice.logo if choice.logo.startswith("https://") and len(choice.logo) < 2048 else ""
    return Shown(choice.entity_id, choice.name, logo, href)


@dataclass(frozen=True)
class Found:
    """What the page shows under the search field, and what the JSON carries."""

    query: str
    shown: list[Shown]
    status: str


def _find(discovery: DiscoveryRequest, query: str, skip: set[str]) -> Found:
    idps, language = services().idps, _language()
    many = idps.count() > SHOW_ALL_UP_TO
    if query:
        choices = idps.search(query, language, MAX_RESULTS)
    elif not many:
        choices = [c for c in idps.listed(language, SHOW_ALL_UP_TO) if c.entity_id not in skip]
    else:
        choices = []
    status = get_template_attribute("discovery_parts.html", "status")
    text = status(query=query, found=len(choices), many=many)
    return Found(query, [_shown(c, discovery) for c in choices], str(text.unescape()))


def _query() -> str:
    return " ".join(request.args.get("q", "")[:MAX_QUERY].split())


def _with_csp(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    return response


def render_discovery() -> Response:
    """The page for this request's parameters, in this request's language."""
    discovery = read_request(request.args)
    idps, language = services().idps, _language()
    remembered = [c for c in (idps.choice(e, language) for e in _remembered()) if c]
    found = _find(discovery, _query(), {c.entity_id for c in remembered})
    switch = {"page": "discovery", **discovery.params(), "q": found.query}
    body = render_template("discovery.html", found=found, protocol=discovery.params(),
                           remembered=[_shown(c, discovery) for c in remembered],
                           switch=switch)
    return _with_csp(Response(body, status=200, mimetype="text/html"))


@discovery_bp.get("/saml/discovery")
def page() -> Response:
    discovery = read_request(request.args)
    if discovery.passive:
        idps = services().idps
        trusted = next((e for e in _remembered() if idps.get(e) is not None), None)
        return redirect(discovery.answer(trusted), code=302)
    return render_discovery()


@discovery_bp.get("/saml/discovery/search")
def search() -> Response:
    lang = request.args.get("lang", "")
    if lang in {x.code for x in current_app.extensions["sso_bridge_lang"]}:
        g.language = lang
    found = _find(read_request(request.args), _query(), set(_remembered()))
    return _with_csp(jsonify(query=found.query, status=found.status, results=[
        {"entityID": s.entity_id, "name": s.name, "logo": s.logo, "href": s.href}
        for s in found.shown]))


@discovery_bp.get("/saml/discovery/choose")
def choose() -> Response:
    discovery = read_request(request.args)
    chosen = request.args.get("choice", "")
    if not chosen or services().idps.get(chosen) is None:
        raise errors.IdpUnknown(f"discovery choice {chosen[:200]!r} is not a trusted IdP")
    response = redirect(discovery.answer(chosen), code=302)
    _remember(response, chosen)
    return response


@discovery_bp.record_once
def _register(state: BlueprintSetupState) -> None:
    """The page, for the language switcher to show again in another language."""
    state.app.extensions.setdefault("sso_bridge_pages", {})["discovery"] = render_discovery


@discovery_bp.app_context_processor
def discovery_link() -> dict[str, Any]:
    """``choose_idp_url``: the discovery page for this request's login, for the error page
    of an IdP the bridge does not trust."""
    def choose_idp_url() -> str:
        target = request.args.get("target") if request.endpoint == "bridge.login" else None
        s = services().settings
        try:
            resolved = resolve_target(target, s.sakai.url, s.sakai.portal_path, s.sakai_origins)
        except errors.BadTarget:
            resolved = resolve_target(None, s.sakai.url, s.sakai.portal_path, s.sakai_origins)
        return str(redirect_to_discovery(resolved).location)
    return {"choose_idp_url": choose_idp_url}
