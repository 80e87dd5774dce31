"""sso_bridge.sakai.soap: envelope shape, parsing with any prefix, failure classification."""

from __future__ import annotations

import pytest
from lxml import etree

from sso_bridge import errors
from sso_bridge.sakai import soap

SID = "6f1c0a52-8d7e-4b43-9a51-2d0e4c7b9f10"
ENV = soap.SOAP_ENV_NS


def _reply(operation: str, inner: str, prefix: str = "ns2") -> bytes:
    return (
        f'<S:Envelope xmlns:S="{ENV}"><S:Body>'
        f'<{prefix}:{operation}Response xmlns:{prefix}="{soap.NS}">{inner}'
        f"</{prefix}:{operation}Response></S:Body></S:Envelope>"
    ).encode()


def _fault(text: str, code: str = "soap:Server") -> bytes:
    return (
        f'<soap:Envelope xmlns:soap="{ENV}"><soap:Body><soap:Fault>'
        f"<faultcode>{code}</faultcode><faultstring>{text}</faultstring>"
        "</soap:Fault></soap:Body></soap:Envelope>"
    ).encode()


# --- build_envelope --------------------------------------------------------------------------


def test_envelope_is_soap11_rpc_literal_with_unqualified_parts_in_order() -> None:
    body = soap.build_envelope("addNewUser", [("sessionid", SID), ("eid", "a"), ("type", ""),
                                              ("password", "p")])
    root = etree.fromstring(body)
    assert root.tag == f"{{{ENV}}}Envelope"
    wrapper = root.find(f"{{{ENV}}}Body")[0]
    assert wrapper.tag == f"{{{soap.NS}}}addNewUser"
    assert [child.tag for child in wrapper] == ["sessionid", "eid", "type", "password"]
    assert [child.text or "" for child in wrapper] == [SID, "a", "", "p"]
    assert body.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")


def test_envelope_escapes_values() -> None:
    body = soap.build_envelope("login", [("id", "a<b&c"), ("pw", "]]></pw><x>")])
    wrapper = etree.fromstring(body)[0][0]
    assert [c.text for c in wrapper] == ["a<b&c", "]]></pw><x>"]
    assert b"<x>" not in body


def test_empty_part_is_still_sent() -> None:
    wrapper = etree.fromstring(soap.build_envelope("changeUserEmail", [("email", "")]))[0][0]
    assert len(wrapper) == 1 and wrapper[0].tag == "email"


# --- parse_response --------------------------------------------------------------------------


@pytest.mark.parametrize("prefix", ["ns2", "ws", "x", "webservices"])
def test_response_matched_by_namespace_not_prefix(prefix: str) -> None:
    assert soap.parse_response("login", 200, _reply("login", f"<return>{SID}</return>",
                                                    prefix)) == SID


def test_default_namespace_wrapper_with_unqualified_return() -> None:
    body = (f'<Envelope xmlns="{ENV}"><Body><checkSessionResponse xmlns="{soap.NS}">'
            f'<return xmlns="">{SID}</return></checkSessionResponse></Body></Envelope>').encode()
    assert soap.parse_response("checkSession", 200, body) == SID


def test_empty_return_is_empty_string() -> None:
    assert soap.parse_response("checkSession", 200, _reply("checkSession", "<return/>")) == ""


def test_wrong_wrapper_namespace_is_protocol_error() -> None:
    body = _reply("login", "<return>x</return>").replace(soap.NS.encode(), b"urn:other")
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_response("login", 200, body)


def test_wrong_operation_wrapper_is_protocol_error() -> None:
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_response("logout", 200, _reply("login", "<return>x</return>"))


def test_qualified_return_is_protocol_error() -> None:
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_response("login", 200, _reply("login", "<ns2:return>x</ns2:return>"))


@pytest.mark.parametrize("body", [b"", b"not xml", b"<html><body>hi</body></html>"])
def test_non_soap_200_is_protocol_error(body: bytes) -> None:
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_response("login", 200, body)


def test_doctype_is_refused() -> None:
    body = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "boom">]>' + _reply(
        "login", "<return>&e;</return>")
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_response("login", 200, body)


def test_5xx_without_fault_is_unavailable() -> None:
    with pytest.raises(errors.SakaiUnavailable):
        soap.parse_response("login", 503, b"<html>Service Unavailable</html>")


def test_http_403_without_fault_is_forbidden_naming_allow_list() -> None:
    with pytest.raises(errors.SakaiForbidden, match="webservices.allow"):
        soap.parse_response("login", 403, b"<html>Forbidden</html>")


def test_other_http_status_is_protocol_error() -> None:
    with pytest.raises(errors.SakaiProtocolError, match="404"):
        soap.parse_response("login", 404, b"<html>Not Found</html>")


# --- fault classification --------------------------------------------------------------------


def test_login_disabled() -> None:
    with pytest.raises(errors.SakaiLoginDisabled) as info:
        soap.parse_response("login", 500, _fault("Web Services Login Disabled"))
    assert info.value.detail == ("web-services login is disabled: set "
                                 "webservices.allowlogin=true in sakai.properties")


def test_unable_to_login() -> None:
    with pytest.raises(errors.SakaiAdminAuthFailed, match="admin account"):
        soap.parse_response("login", 500, _fault("Unable to login"))


@pytest.mark.parametrize("text", [f'Session "{SID}" is not active', f"Session {SID} is not active",
                                  'Session "" is not active', "Session null is not active"])
def test_session_inactive_is_redacted(text: str) -> None:
    with pytest.raises(errors.SakaiSessionInactive) as info:
        soap.parse_response("checkForUser", 500, _fault(text))
    assert SID not in str(info.value) and SID not in info.value.detail


def test_not_permitted_fault_with_403() -> None:
    with pytest.raises(errors.SakaiForbidden, match="webservices.allow"):
        soap.parse_response("login", 403, _fault("Not permitted", "soap:Client"))


def test_other_fault_is_sakai_fault_with_session_ids_redacted() -> None:
    with pytest.raises(errors.SakaiFault) as info:
        soap.parse_response("addNewUser", 500,
                            _fault(f"NonSuperUser trying to add accounts: {SID}"))
    assert type(info.value) is errors.SakaiFault
    assert SID not in str(info.value)
    assert "NonSuperUser trying to add accounts: <redacted>" in info.value.detail


def test_null_part_fault_is_a_plain_fault_for_ordinary_parsing() -> None:
    with pytest.raises(errors.SakaiFault, match="R2211"):
        soap.parse_response("getUserProperty", 500, _fault(soap.NULL_PART_FAULT))


def test_null_part_fault_means_none_for_nullable_parsing() -> None:
    body = _fault(soap.NULL_PART_FAULT)
    assert soap.parse_nullable_response("getUserProperty", 500, body) is None
    fault = soap.find_fault(body)
    assert fault is not None and soap.is_null_part_fault(fault)


def test_nullable_parsing_still_classifies_other_faults() -> None:
    with pytest.raises(errors.SakaiSessionInactive):
        soap.parse_nullable_response("getUserProperty", 500,
                                     _fault(f'Session "{SID}" is not active'))
    assert soap.parse_nullable_response(
        "getUserProperty", 200, _reply("getUserProperty", "<return>true</return>")) == "true"


# --- string results ---------------------------------------------------------------------------


def test_success_and_plain_values_pass_through() -> None:
    assert soap.check_string_result("success") == "success"
    assert soap.check_string_result(SID) == SID
    assert soap.check_string_result("Jane Doe : the first") == "Jane Doe : the first"


def test_user_already_defined_is_user_exists() -> None:
    text = "org.sakaiproject.user.api.UserAlreadyDefinedException : 1234 -jdoe"
    with pytest.raises(errors.SakaiUserExists) as info:
        soap.check_string_result(text)
    assert info.value.exception_class == "org.sakaiproject.user.api.UserAlreadyDefinedException"
    assert isinstance(info.value, errors.SakaiOperationFailed)


@pytest.mark.parametrize("text,cls", [
    ("org.sakaiproject.user.api.UserIdInvalidException : Eid is too long",
     "org.sakaiproject.user.api.UserIdInvalidException"),
    ("java.lang.RuntimeException : WS failed. Param eid empty.", "java.lang.RuntimeException"),
    ("org.sakaiproject.user.api.UserNotDefinedException : nobody",
     "org.sakaiproject.user.api.UserNotDefinedException"),
    ("java.lang.NullPointerException : null", "java.lang.NullPointerException"),
])
def test_exception_strings_are_operation_failed(text: str, cls: str) -> None:
    with pytest.raises(errors.SakaiOperationFailed) as info:
        soap.check_string_result(text)
    assert type(info.value) is errors.SakaiOperationFailed
    assert info.value.exception_class == cls


def test_parse_boolean() -> None:
    assert soap.parse_boolean("checkForUser", "true") is True
    assert soap.parse_boolean("checkForUser", "false") is False
    with pytest.raises(errors.SakaiProtocolError):
        soap.parse_boolean("checkForUser", "yes")
