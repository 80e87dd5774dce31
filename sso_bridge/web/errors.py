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


@dataclass(frozen=True)
class Page:
    status: int
    title: str
    advice: str


_RESTART = "Go back to Sakai and sign in again."
_SIGNIN_FAILED = Page(400, "We could not sign you in",
                      "The answer from your university's sign-in service could not be accepted. "
                      + _RESTART)

PAGES: dict[type[errors.BridgeError], Page] = {
    errors.BadTarget: Page(400, "That link cannot be used to sign in",
                           "The page you asked for is not part of Sakai. Open Sakai from its "
                           "usual address and sign in there."),
    errors.BadRequest: Page(400, "Incomplete sign-in request", _RESTART),
    errors.NotFound: Page(404, "There is no such page here",
                          "To sign in to Sakai, open Sakai and choose 'Log in'."),
    errors.LoginStateMissing: Page(400, "Your sign-in took too long or was already used",
                                   "Sign-in links work once and for a few minutes only. "
                                   + _RESTART),
    errors.SamlUnsolicited: Page(403, "Please start signing in from Sakai",
                                 "This sign-in did not start here. Open Sakai and choose "
                                 "'Log in'."),
    errors.SamlInResponseTo: Page(403, "This sign-in belongs to another browser window",
                                  "Close other sign-in windows, then " + _RESTART[0].lower()
                                  + _RESTART[1:]),
    errors.SamlReplay: Page(403, "This sign-in was already used", _RESTART),
    errors.SamlExpired: Page(403, "Your sign-in has expired",
                             "It may also mean this computer's clock is wrong. " + _RESTART),
    errors.SamlTooOld: Page(403, "Your sign-in has expired", _RESTART),
    errors.SamlStatus: Page(403, "Sign-in was not completed",
                            "Your university's sign-in service did not confirm who you are "
                            "(perhaps the sign-in was cancelled). " + _RESTART),
    errors.SamlTooLarge: Page(413, "We could not sign you in", _RESTART),
    errors.IdentityScopeError: Page(403, "Your sign-in service cannot vouch for this account",
                                    "The account you signed in with belongs to another "
                                    "organisation than your sign-in service. Contact the "
                                    "helpdesk with the error id."),
    errors.IdentityCharacters: Page(403, "Your username cannot be used in Sakai",
                                    "The username your sign-in service sent contains invisible "
                                    "or control characters. Contact the helpdesk with the "
                                    "error id."),
    errors.SamlRelayStateTooLong: Page(400, "The sign-in link was too long",
                                       "The sign-in service sent back more than Sakai's sign-in "
                                       "accepts. " + _RESTART),
    errors.IdentityError: Page(403, "Your account details are incomplete",
                               "Your university did not send the details Sakai needs "
                               "(such as your username). Contact the helpdesk with the error id."),
    errors.SamlError: _SIGNIN_FAILED,
    errors.AccountDisabled: Page(403, "Your Sakai account is disabled",
                                 "Contact the helpdesk with the error id to have it re-enabled."),
    errors.AccountProtected: Page(403, "This account cannot sign in here",
                                  "This Sakai account is reserved for administrators and cannot "
                                  "be used through single sign-on. Contact the helpdesk with "
                                  "the error id."),
    errors.AccountLinkRefused: Page(403, "Your Sakai account needs to be connected by support",
                                    "A Sakai account with your username already exists, and it "
                                    "was not created through this sign-in. Contact the helpdesk "
                                    "with the error id so they can connect it for you."),
    errors.SakaiSlow: Page(503, "Sakai is slow right now",
                           "Sakai did not answer in time. This is not a problem with your "
                           "account. Please try again in a few minutes."),
    errors.SakaiOperationFailed: Page(502, "Sakai could not set up your account",
                                      "This is not something you can fix. Contact the helpdesk "
                                      "with the error id."),
    errors.SakaiError: Page(503, "Sakai is unavailable right now",
                            "This is not a problem with your account. Please try again in a few "
                            "minutes."),
    errors.StoreUnavailable: Page(503, "Sign-in is briefly unavailable",
                                  "Please try again shortly."),
}
DEFAULT_PAGE = Page(500, "Something went wrong on our side",
                    "Please try again in a few minutes. If it keeps happening, contact the "
                    "helpdesk with the error id.")


def page_for(error: BaseException) -> Page:
    for cls in type(error).__mro__:
        if cls in PAGES:
            return PAGES[cls]  # type: ignore[index]
    return DEFAULT_PAGE


def render_error(error: BaseException) -> Response:
    """Log the reason under the request id and render the learner's page."""
    page = page_for(error)
    code = getattr(error, "code", "internal_error")
    error_id = getattr(g, "request_id", "-")
    if isinstance(error, errors.BridgeError) and page.status < 500:
        log.warning("refused: %s: %s", code, error.detail,
                    extra={"error_code": code, "error_id": error_id})
    elif isinstance(error, errors.BridgeError):
        log.error("failed: %s: %s", code, error.detail,
                  extra={"error_code": code, "error_id": error_id})
    else:
        log.exception("unexpected error", extra={"error_code": code, "error_id": error_id})
    g.error_code = code
    body = render_template("error.html", page=page, code=code, error_id=error_id)
    return Response(body, status=page.status, mimetype="text/html")
