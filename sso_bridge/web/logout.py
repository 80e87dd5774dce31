"""Single logout's routes: the learner's (Sakai's loggedOutUrl) and the IdP's.

``GET /saml/logout``   Sakai's ``loggedOutUrl``: end the Sakai session this browser was handed,
                       then a signed LogoutRequest to the IdP (when it has an SLO endpoint);
``GET /saml/slo``      the IdP's LogoutResponse to it (then "you are signed out"), or the IdP's
                       own LogoutRequest over HTTP-Redirect;
``POST /saml/slo``     the IdP's LogoutRequest over HTTP-POST.
The SAML work is ``saml.logout``'s; this module only moves cookies and picks the page.
"""

from __future__ import annotations

import logging

from flask import Blueprint, redirect, render_template, request
from werkzeug.wrappers import Response

from sso_bridge import errors
from sso_bridge.web.browser_state import LOGOUT_TOKEN, PENDING_LOGOUT
from sso_bridge.web.errors import N_, Page
from sso_bridge.web.views import browser_state, services, single_logout

log = logging.getLogger("sso_bridge.web")
logout_bp = Blueprint("logout", __name__)

SIGNED_OUT = Page(200, N_("You are signed out"),
                  N_("You have signed out of Sakai and of your university's sign-in service."),
                  N_("To keep your account safe on a shared device, close the browser."))
SIGNED_OUT_OF_SAKAI = Page(200, N_("You are signed out of Sakai"),
                           N_("Your sign-in service may still remember you, so the next "
                              "sign-in may not ask for your password."),
                           N_("To sign out completely, close all browser windows."))
SIGNED_OUT_PAGES = {"signed_out": SIGNED_OUT, "signed_out_of_sakai": SIGNED_OUT_OF_SAKAI}


def signed_out_page(key: str) -> Response:
    body = render_template("signed_out.html", page=SIGNED_OUT_PAGES[key], switch={"page": key})
    return Response(body, status=200, mimetype="text/html")


@logout_bp.get("/saml/logout")
def logout() -> Response:
    start = single_logout().begin(request.cookies.get(LOGOUT_TOKEN))
    state = browser_state()
    if start.redirect_url:
        response = redirect(start.redirect_url, code=302)
        state.set(response, PENDING_LOGOUT, start.state,
                  services().settings.store.login_timeout_seconds, cross_site=False)
    else:
        response = signed_out_page("signed_out_of_sakai")
    state.set(response, LOGOUT_TOKEN, None, None)
    return response


@logout_bp.route("/saml/slo", methods=["GET", "POST"])
def slo() -> Response:
    slo = single_logout()
    query = request.args.to_dict()
    raw_query = request.query_string.decode("latin-1")
    if request.method == "POST":
        saml_request = request.form.get("SAMLRequest")
        if not saml_request:
            raise errors.BadRequest("POST to the SLO endpoint without a SAMLRequest")
        return redirect(slo.idp_post(saml_request, request.form.get("RelayState")), code=302)
    if "SAMLRequest" in query:
        return redirect(slo.idp_redirect(query, raw_query), code=302)
    if "SAMLResponse" not in query:
        raise errors.BadRequest("GET of the SLO endpoint without a SAML message")
    complete = slo.finish(query, raw_query, request.cookies.get(PENDING_LOGOUT))
    response = signed_out_page("signed_out" if complete else "signed_out_of_sakai")
    browser_state().set(response, PENDING_LOGOUT, None, None)
    return response


def register(app_extensions: dict[str, object]) -> None:
    """The signed-out pages, for the language switcher to show again."""
    app_extensions["sso_bridge_pages"] = {key: (lambda k=key: signed_out_page(k))
                                          for key in SIGNED_OUT_PAGES}

