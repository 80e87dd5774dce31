"""SakaiLogin and SakaiScript operations, as Sakai's Java code behaves. NOT FOR PRODUCTION.

Each handler returns the ``<return>`` value (``None`` = the Java method returned null, which
CXF turns into the R2211 fault) or raises :class:`SoapFaultError` (an exception thrown by the
Java method). Fault texts follow sakai-contract.md; where the contract gives only the start of a
message ("Permission denied…") the rest is the simulator's best reading of the source.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from dataclasses import dataclass

from sso_bridge.demo.sakai_sim.state import JavaException, SimSession, SimState, SimUser
from sso_bridge.demo.sakai_sim.wire import OperationSpec, SoapFaultError


@dataclass
class CallContext:
    state: SimState
    remote_addr: str
    host_url: str = ""  # the URL the request came in on (serverUrl when none is configured)
    login_session: SimSession | None = None  # set by login: the response carries its cookie


Handler = Callable[[CallContext, dict[str, str]], "str | None"]
Service = dict[str, tuple[OperationSpec, Handler]]
_BR_RE = re.compile(r"<\s*br.*?>")
_TAG_RE = re.compile(r"<.*?>", re.DOTALL)
NPE = "java.lang.NullPointerException"


def _plain(text: str) -> str:
    """``FormattedText.convertFormattedTextToPlaintext``, which ``BaseUserEdit.setFirstName``
    and ``setLastName`` apply to every name (SAK-20226): ``<br>`` becomes a newline, every
    ``<...>`` is dropped, character references are decoded. Nothing is trimmed, so
    ``"Smith <Jr>"`` is stored as ``"Smith "``."""
    return html.unescape(_TAG_RE.sub("", _BR_RE.sub("\n", text)))


def _fault(message: str) -> SoapFaultError:
    return SoapFaultError(message)


def establish(ctx: CallContext, sid: str) -> SimSession:
    """``AbstractWebService.establishSession``."""
    session = ctx.state.get_session(sid, touch=True)
    if session is None:
        raise _fault(f'Session "{sid}" is not active')
    return session


def _require_super(ctx: CallContext, session: SimSession, message: str) -> None:
    if not ctx.state.is_super(session):
        raise _fault(message)


# --- SakaiLogin -------------------------------------------------------------------------------


def login(ctx: CallContext, p: dict[str, str]) -> str:
    if not ctx.state.settings.allowlogin:
        raise _fault("Web Services Login Disabled")
    user = ctx.state.authenticate(p["id"], p["pw"])
    if user is None:
        raise _fault("Unable to login")
    session = ctx.state.start_session(user)
    ctx.login_session = session
    return session.id


def login_to_server(ctx: CallContext, p: dict[str, str]) -> str:
    """``"<sid>,<webservices.directurl or serverUrl>"``: the node that holds the session."""
    node_url = ctx.state.settings.direct_url or ctx.host_url.rstrip("/")
    return f"{login(ctx, p)},{node_url}"


def logout(ctx: CallContext, p: dict[str, str]) -> str:
    sid = p["sessionid"]
    if ctx.state.get_session(sid) is None:
        raise _fault(f"Session {sid} is not active")
    ctx.state.invalidate(sid)
    return "true"


# --- SakaiScript: lookups ---------------------------------------------------------------------


def check_session(ctx: CallContext, p: dict[str, str]) -> str:
    return p["sessionid"] if ctx.state.get_session(p["sessionid"]) else ""


def is_super_user(ctx: CallContext, p: dict[str, str]) -> str:
    return "true" if ctx.state.is_super(establish(ctx, p["sessionid"])) else "false"


def check_for_user(ctx: CallContext, p: dict[str, str]) -> str:
    establish(ctx, p["sessionid"])
    return "true" if ctx.state.find_user(p["eid"]) else "false"


def get_user_id(ctx: CallContext, p: dict[str, str]) -> str:
    session = establish(ctx, p["sessionid"])
    if not ctx.state.is_super(session) and p["eid"] != session.user_eid:
        raise _fault("WS getUserId(): Permission denied. Restricted to super users or own user.")
    user = ctx.state.find_user(p["eid"])
    return user.id if user else ""


def _user_field(getter: Callable[[SimUser], str]) -> Handler:
    def handler(ctx: CallContext, p: dict[str, str]) -> str:
        establish(ctx, p["sessionid"])
        user = ctx.state.find_user(p["userid"])  # the part is "userid" but it is an EID
        return getter(user) if user else ""

    return handler


def get_user_property(ctx: CallContext, p: dict[str, str]) -> str | None:
    establish(ctx, p["sessionid"])
    user = ctx.state.find_user(p["eid"])
    if user is None:
        return ""
    return user.properties.get(p["propertyName"])  # None -> the R2211 fault


# --- SakaiScript: mutators --------------------------------------------------------------------


def set_user_property(ctx: CallContext, p: dict[str, str]) -> str:
    session = establish(ctx, p["sessionid"])
    _require_super(ctx, session, "WS setUserProperty(): Permission denied. Restricted to "
                                 "super users.")
    user = ctx.state.find_user(p["eid"])
    if user is None:
        return "failure"
    with ctx.state.lock:
        user.properties[p["key"]] = p["value"]
    return "success"


def add_new_user(ctx: CallContext, p: dict[str, str]) -> str:
    session = establish(ctx, p["sessionid"])
    _require_super(ctx, session, f"NonSuperUser trying to add accounts: {session.user_id}")
    try:
        ctx.state.add_user(
            p["eid"], _plain(p["firstname"]), _plain(p["lastname"]), p["email"], p["type"],
            p["password"],
        )
    except JavaException as exc:
        return exc.as_result()
    return "success"


def _editable_user(ctx: CallContext, session: SimSession, eid: str) -> SimUser:
    """getUserByEid + editUser; any failure leaves userEdit null, so cancelEdit(null) NPEs."""
    user = ctx.state.find_user(eid)
    if user is None or not (ctx.state.is_super(session) or user.id == session.user_id):
        raise _fault(NPE)
    return user


def _editor(apply: Callable[[SimUser, dict[str, str]], None]) -> Handler:
    def handler(ctx: CallContext, p: dict[str, str]) -> str:
        session = establish(ctx, p["sessionid"])
        user = _editable_user(ctx, session, p["eid"])
        with ctx.state.lock:
            apply(user, p)
        return "success"

    return handler


def _set_name(user: SimUser, p: dict[str, str]) -> None:
    user.first, user.last = _plain(p["firstname"]), _plain(p["lastname"])


def _set_email(user: SimUser, p: dict[str, str]) -> None:
    user.email = p["email"]


def _set_type(user: SimUser, p: dict[str, str]) -> None:
    user.type = p["type"]


def _set_info(user: SimUser, p: dict[str, str]) -> None:
    _set_name(user, p)
    _set_email(user, p)
    user.type = p["type"]
    user.set_password(p["password"])


def remove_user(ctx: CallContext, p: dict[str, str]) -> str:
    session = establish(ctx, p["sessionid"])
    try:
        user = ctx.state.user_by_eid(p["eid"])
    except JavaException as exc:
        return exc.as_result()
    if not ctx.state.is_super(session):
        return f"org.sakaiproject.user.api.UserPermissionException : {session.user_id}"
    ctx.state.remove_user(user)
    return "success"


def get_session_for_user(ctx: CallContext, p: dict[str, str]) -> str:
    session = establish(ctx, p["sessionid"])
    _require_super(ctx, session, "WS getSessionForUser(): Permission denied. Restricted to "
                                 "super users.")
    eid = p["eid"]
    if not eid.strip():
        return "java.lang.RuntimeException : WS failed. Param eid empty."
    wsonly = p["wsonly"].strip() in ("true", "1")
    if wsonly:
        reused = _axis_session_of(ctx, eid)
        if reused is not None:
            return reused.id
    new_session = ctx.state.start_session(None)
    try:
        user = ctx.state.user_by_eid(eid)
    except JavaException as exc:
        return exc.as_result()  # the empty session is left behind, as in Sakai
    with ctx.state.lock:
        # Sakai stores the eid as passed (setUserEid(eid)), not the cleaned one.
        new_session.user_id, new_session.user_eid = user.id, eid
        if wsonly:
            new_session.attributes["origin"] = "sakai-axis"
    return new_session.id


def _axis_session_of(ctx: CallContext, eid: str) -> SimSession | None:
    with ctx.state.lock:
        for session in ctx.state.sessions.values():
            if session.user_eid == eid and session.attributes.get("origin") == "sakai-axis":
                return session
    return None


def _spec(*parts: str, booleans: tuple[str, ...] = ()) -> OperationSpec:
    return OperationSpec(parts, frozenset(booleans))


_LOGIN = _spec("id", "pw")
LOGIN_SERVICE: Service = {
    "login": (_LOGIN, login), "loginGET": (_LOGIN, login),
    "loginToServer": (_LOGIN, login_to_server), "loginToServerGET": (_LOGIN, login_to_server),
    "logout": (_spec("sessionid"), logout), "logoutGET": (_spec("sessionid"), logout),
}
_INFO = ("sessionid", "eid", "firstname", "lastname", "email", "type", "password")
SCRIPT_SERVICE: Service = {
    "checkSession": (_spec("sessionid"), check_session),
    "isSuperUser": (_spec("sessionid"), is_super_user),
    "checkForUser": (_spec("sessionid", "eid"), check_for_user),
    "getUserId": (_spec("sessionid", "eid"), get_user_id),
    "getUserEmail": (_spec("sessionid", "userid"), _user_field(lambda u: u.email)),
    "getUserDisplayName": (_spec("sessionid", "userid"), _user_field(SimUser.display_name)),
    "getUserType": (_spec("sessionid", "userid"), _user_field(lambda u: u.type)),
    "getUserProperty": (_spec("sessionid", "eid", "propertyName"), get_user_property),
    "setUserProperty": (_spec("sessionid", "eid", "key", "value"), set_user_property),
    "addNewUser": (_spec(*_INFO), add_new_user),
    "changeUserName": (_spec("sessionid", "eid", "firstname", "lastname"), _editor(_set_name)),
    "changeUserEmail": (_spec("sessionid", "eid", "email"), _editor(_set_email)),
    "changeUserType": (_spec("sessionid", "eid", "type"), _editor(_set_type)),
    "changeUserInfo": (_spec(*_INFO), _editor(_set_info)),
    "getSessionForUser": (
        _spec("sessionid", "eid", "wsonly", booleans=("wsonly",)), get_session_for_user
    ),
    "removeUser": (_spec("sessionid", "eid"), remove_user),
}
