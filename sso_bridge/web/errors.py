"""The one table that maps each error code to an HTTP status and a page a learner understands.

The learner sees what happened, what to do next, and an error id; the log line under that id has
the detailed reason. Never a stack trace, never a 500 for bad input.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Response, g, render_template

from sso_bridge import errors

log = logging.getLogger("sso_bridge.web")


def N_(message: str) -> str:
    """Marks a text for the catalogues (``pybabel extract -k N_``); the template translates it."""
    return message


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    advice: str
    then: str = ""
    """What to do next, when it is a sentence of its own. Title, advice and this are English:
    the msgids of the learner's catalogues (the template shows their translation)."""
    choose_idp: bool = False
    """The page's button leads to the discovery page (instead of back to Sakai)."""

    @property
    def sends_to_helpdesk(self) -> bool:
        """The page itself tells the learner to give the helpdesk the error id (so the
        footer need not say it again)."""
        return "helpdesk" in self.advice + self.then


_RESTART = N_("Go back to Sakai and sign in again.")
_HELPDESK = N_("Contact the helpdesk and give them the error id below.")
_SIGNIN_FAILED = Page(400, N_("We could not sign you in"),
                      N_("The answer from your sign-in service could not be accepted. "
                         "Go back to Sakai and sign in again."))

PAGES: dict[type[errors.BridgeError], Page] = {
    errors.BadTarget: Page(400, N_("That link cannot be used to sign in"),
                           N_("The page you asked for is not part of Sakai. Open Sakai at its "
                              "usual address and sign in there.")),
    errors.BadRequest: Page(400, N_("The sign-in request was incomplete"), _RESTART),
    errors.NotFound: Page(404, N_("There is no such page here"),
                          N_("To sign in, open Sakai and choose \u201cLog in\u201d.")),
    errors.IdpUnknown: Page(400, N_("This organisation cannot sign you in here"),
                            N_("This organisation is not one this site trusts. Choose yours "
                               "from the list."), choose_idp=True),
    errors.CookiesBlocked: Page(400, N_("Your browser is blocking cookies"),
                                N_("Sakai needs cookies to sign you in. Allow cookies for this "
                                   "site in your browser settings (also in private mode), "
                                   "then sign in again.")),
    errors.LoginStateMissing: Page(400, N_("Your sign-in took too long or was already used"),
                                   N_("A sign-in works only once and only for a few minutes. "
                                      "Go back to Sakai and sign in again.")),
    errors.LoginStateForged: Page(400, N_("Please start signing in again"),
                                  N_("This sign-in could not be finished. Go back to Sakai and "
                                     "sign in again.")),
    errors.SamlUnsolicited: Page(403, N_("Please start signing in from Sakai"),
                                 N_("This sign-in did not start here. Open Sakai and choose "
                                    "\u201cLog in\u201d.")),
    errors.SamlInResponseTo: Page(403, N_("This sign-in belongs to another window"),
                                  N_("Close the other sign-in windows, go back to Sakai and "
                                     "sign in again.")),
    errors.SamlReplay: Page(403, N_("This sign-in was already used"), _RESTART),
    errors.SamlExpired: Page(403, N_("Your sign-in has expired"),
                             N_("Go back to Sakai and sign in again. If this keeps happening, "
                                "check the date and time on your device.")),
    errors.SamlTooOld: Page(403, N_("Your sign-in has expired"), _RESTART),
    errors.SamlStatus: Page(403, N_("Sign-in was not completed"),
                            N_("Your sign-in service did not confirm who you are (perhaps "
                               "the sign-in was cancelled). Go back to Sakai and sign in "
                               "again.")),
    errors.SamlTooLarge: Page(413, _SIGNIN_FAILED.title, _SIGNIN_FAILED.advice),
    errors.SamlLogoutInvalid: Page(400, N_("We could not sign you out"),
                                   N_("This sign-out request could not be accepted. You may "
                                      "still be signed in: close your browser to be sure.")),
    errors.IdentityScopeError: Page(403, N_("Your sign-in service cannot vouch for this account"),
                                    N_("This account belongs to another organisation than your "
                                       "sign-in service."), _HELPDESK),
    errors.IdentityCharacters: Page(403, N_("Your username cannot be used in Sakai"),
                                    N_("The username from your sign-in service contains "
                                       "invisible or control characters."), _HELPDESK),
    errors.SamlRelayStateTooLong: Page(400, N_("The sign-in link was too long"),
                                       N_("Your sign-in service sent back more than Sakai's "
                                          "sign-in accepts."), _RESTART),
    errors.IdentityError: Page(403, N_("Your account details are incomplete"),
                               N_("Your sign-in service did not send the details Sakai needs "
                                  "(such as your username)."), _HELPDESK),
    errors.SamlError: _SIGNIN_FAILED,
    errors.AccountDisabled: Page(403, N_("Your Sakai account is disabled"),
                                 N_("Contact the helpdesk with the error id below to have it "
                                    "turned on again.")),
    errors.AccountProtected: Page(403, N_("This account cannot sign in here"),
                                  N_("This Sakai account is reserved for administrators and "
                                     "cannot be used with single sign-on."), _HELPDESK),
    errors.AccountLinkRefused: Page(403, N_("Your Sakai account must be connected by support"),
                                    N_("A Sakai account with your username already exists, but "
                                       "it was not created through this sign-in. Contact the "
                                       "helpdesk with the error id below so they can connect "
                                       "it for you.")),
    errors.SakaiSlow: Page(503, N_("Sakai is slow right now"),
                           N_("Sakai did not answer in time. Your account is fine. Please try "
                              "again in a few minutes.")),
    errors.SakaiOperationFailed: Page(502, N_("Sakai could not set up your account"),
                                      N_("This is not something you can fix."), _HELPDESK),
    errors.SakaiError: Page(503, N_("Sakai is unavailable right now"),
                            N_("Your account is fine. Please try again in a few minutes.")),
    errors.StoreUnavailable: Page(503, N_("Sign-in is briefly unavailable"),
                                  N_("Please try again in a minute.")),
}
DEFAULT_PAGE = Page(500, N_("Something went wrong on our side"),
                    N_("Please try again in a few minutes. If it keeps happening, contact the "
                       "helpdesk with the error id below."))
BY_KEY: dict[str, Page] = {cls.code: page for cls, page in PAGES.items()} | {
    errors.BridgeError.code: DEFAULT_PAGE}
"""Every page by the code of its class in PAGES: what the language switcher shows again."""


def page_key(error: BaseException) -> str:
    """The key in BY_KEY of the page for ``error``: the code of its nearest class in PAGES."""
    for cls in type(error).__mro__:
        if cls in PAGES:
            return str(cls.code)  # type: ignore[attr-defined]
    return errors.BridgeError.code


def page_for(error: BaseException) -> Page:
    return BY_KEY[page_key(error)]


def render_error(error: BaseException) -> Response:
    """Log the reason under the request id and render the learner's page."""
    key = page_key(error)
    code = getattr(error, "code", "internal_error")
    error_id = getattr(g, "request_id", "-")
    status = BY_KEY[key].status
    if isinstance(error, errors.BridgeError) and status < 500:
        log.warning("refused: %s: %s", code, error.detail,
                    extra={"error_code": code, "error_id": error_id})
    elif isinstance(error, errors.BridgeError):
        log.error("failed: %s: %s", code, error.detail,
                  extra={"error_code": code, "error_id": error_id})
    else:
        log.exception("unexpected error", extra={"error_code": code, "error_id": error_id})
    g.error_code = code
    return render_page(key, code, error_id)


def render_page(key: str, code: str, error_id: str, status: int | None = None) -> Response:
    """The learner's page ``key`` (of BY_KEY), in the language of this request."""
    page = BY_KEY[key]
    switch = {"page": key, "code": code, "id": error_id}
    body = render_template("error.html", page=page, code=code, error_id=error_id,
                           switch=switch)
    return Response(body, status=page.status if status is None else status,
                    mimetype="text/html")
