"""Sakai's SOAP wire format: build RPC/literal envelopes, parse replies, classify failures.

No I/O happens here. Everything Sakai can answer is turned into either a plain string (the
``<return>`` part) or one of the typed :mod:`sso_bridge.errors` exceptions:

==========================================================  ===============================
What Sakai sent                                             Raised
==========================================================  ===============================
fault ``Web Services Login Disabled``                       :class:`SakaiLoginDisabled`
fault ``Unable to login``                                   :class:`SakaiAdminAuthFailed`
fault ``Session "<id>" is not active`` (quotes optional)    :class:`SakaiSessionInactive`
fault ``Not permitted``, or HTTP 403 without a fault        :class:`SakaiForbidden`
any other fault (including the R2211 null-part fault)       :class:`SakaiFault`
HTTP 5xx without a SOAP fault                               :class:`SakaiUnavailable`
not XML, a DTD, no ``<opResponse>``/``<return>``            :class:`SakaiProtocolError`
string result ``"<a.b.SomeException> : <message>"``         :class:`SakaiOperationFailed`
... where the class is ``UserAlreadyDefinedException``      :class:`SakaiUserExists`
==========================================================  ===============================

Session ids are bearer secrets: they never appear in an exception message (they are redacted).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from sso_bridge.errors import (
    SakaiAdminAuthFailed,
    SakaiError,
    SakaiFault,
    SakaiForbidden,
    SakaiLoginDisabled,
    SakaiOperationFailed,
    SakaiProtocolError,
    SakaiSessionInactive,
    SakaiUnavailable,
    SakaiUserExists,
)

NS = "http://webservices.sakaiproject.org/"
SOAP_ENV_NS = "http://schemas.xmlsoap.org/soap/envelope/"
CONTENT_TYPE = "text/xml; charset=UTF-8"

LOGIN_DISABLED_FAULT = "Web Services Login Disabled"
UNABLE_TO_LOGIN_FAULT = "Unable to login"
NOT_PERMITTED_FAULT = "Not permitted"
NULL_PART_FAULT = "Cannot write part return. RPC/Literal parts cannot be null. (WS-I BP R2211)"

REDACTED = "<redacted>"
_UUID_RE = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
_INACTIVE_RE = re.compile(r'^\s*Session\s+"?(?P<sid>[^"]*?)"?\s+is not active\s*$', re.DOTALL)
_EXCEPTION_RESULT_RE = re.compile(
    r"^(?P<cls>[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)+) : (?P<msg>.*)$", re.DOTALL
)
_MAX_DETAIL = 500


@dataclass(frozen=True)
class SoapFault:
    """A SOAP 1.1 fault as Sakai (CXF) sends it."""

    faultcode: str
    faultstring: str


def redact_session_ids(text: str) -> str:
    """Replace anything that looks like a Sakai session id (a UUID) with ``<redacted>``."""
    return _UUID_RE.sub(REDACTED, text)


def _xml_parser() -> etree.XMLParser:
    # A fresh parser per call: lxml parsers must not be shared between threads.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_pis=True,
    )


def build_envelope(operation: str, parts: list[tuple[str, str]]) -> bytes:
    """A SOAP 1.1 RPC/literal request: ``<ws:operation>`` in :data:`NS`, unqualified parts.

    Every part is sent, in the given order (WSDL order), even when its value is empty.
    """
    envelope = etree.Element(f"{{{SOAP_ENV_NS}}}Envelope", nsmap={"soapenv": SOAP_ENV_NS})
    body = etree.SubElement(envelope, f"{{{SOAP_ENV_NS}}}Body")
    wrapper = etree.SubElement(body, f"{{{NS}}}{operation}", nsmap={"ws": NS})
    for name, value in parts:
        etree.SubElement(wrapper, name).text = value
    return bytes(etree.tostring(envelope, xml_declaration=True, encoding="UTF-8"))


def _parse_xml(body: bytes) -> etree._Element | None:
    """The document element, or None if the body is not well-formed XML (or carries a DTD)."""
    if not body.strip():
        return None
    try:
        root = etree.fromstring(body, parser=_xml_parser())
    except etree.XMLSyntaxError:
        return None
    if root.getroottree().docinfo.doctype:
        return None  # SOAP forbids a DOCTYPE; never trust a reply that carries one
    return root


def _soap_body(root: etree._Element) -> etree._Element | None:
    if root.tag != f"{{{SOAP_ENV_NS}}}Envelope":
        return None
    return root.find(f"{{{SOAP_ENV_NS}}}Body")


def find_fault(body: bytes) -> SoapFault | None:
    """The SOAP fault carried by ``body``, if any."""
    return _fault_of(_parse_xml(body))


def _fault_of(root: etree._Element | None) -> SoapFault | None:
    soap_body = _soap_body(root) if root is not None else None
    fault = soap_body.find(f"{{{SOAP_ENV_NS}}}Fault") if soap_body is not None else None
    if fault is None:
        return None
    return SoapFault(
        faultcode=(fault.findtext("faultcode") or "").strip(),
        faultstring=(fault.findtext("faultstring") or "").strip(),
    )


def is_null_part_fault(fault: SoapFault) -> bool:
    """True for CXF's "null RPC/literal part" fault (WS-I BP R2211): the Java method gave null."""
    return fault.faultstring == NULL_PART_FAULT


def classify_fault(operation: str, fault: SoapFault) -> SakaiError:
    """The typed error for a SOAP fault. The session id Sakai may echo is never kept."""
    text = fault.faultstring
    if text == LOGIN_DISABLED_FAULT:
        return SakaiLoginDisabled(
            "web-services login is disabled: set webservices.allowlogin=true in sakai.properties"
        )
    if text == UNABLE_TO_LOGIN_FAULT:
        return SakaiAdminAuthFailed(
            "Sakai refused the web-services admin login (fault 'Unable to login'): the admin "
            "account does not exist, its password is wrong, or the account is disabled"
        )
    if _INACTIVE_RE.match(text):
        return SakaiSessionInactive(
            f"Sakai {operation}: session {REDACTED} is not active (expired, logged out, "
            "or created on another Sakai node)"
        )
    if text == NOT_PERMITTED_FAULT:
        return _forbidden(operation, "fault 'Not permitted'")
    detail = redact_session_ids(text)[:_MAX_DETAIL] or "(empty faultstring)"
    return SakaiFault(f"Sakai {operation} fault {fault.faultcode or '?'}: {detail}")


def _forbidden(operation: str, what: str) -> SakaiForbidden:
    return SakaiForbidden(
        f"Sakai refused {operation} ({what}): the bridge's address is not in "
        "webservices.allow (or is in webservices.deny) in sakai.properties"
    )


def _return_text(operation: str, root: etree._Element | None) -> str:
    soap_body = _soap_body(root) if root is not None else None
    if soap_body is None:
        raise SakaiProtocolError(f"Sakai {operation}: the reply is not a SOAP 1.1 envelope")
    wrapper = soap_body.find(f"{{{NS}}}{operation}Response")
    if wrapper is None:
        raise SakaiProtocolError(
            f"Sakai {operation}: the reply has no {{{NS}}}{operation}Response element"
        )
    part = wrapper.find("return")  # unqualified, as RPC/literal parts are
    if part is None:
        raise SakaiProtocolError(f"Sakai {operation}: the reply has no <return> part")
    if len(part):
        raise SakaiProtocolError(f"Sakai {operation}: the <return> part is not a simple value")
    return part.text or ""


def _read_reply(operation: str, http_status: int, body: bytes) -> tuple[SoapFault | None, str]:
    """(fault, "") for a fault reply, (None, value) for a normal one; raises on anything else."""
    root = _parse_xml(body)
    fault = _fault_of(root)
    if fault is not None:
        return fault, ""
    if http_status == 403:
        raise _forbidden(operation, "HTTP 403")
    if http_status >= 500:
        raise SakaiUnavailable(f"Sakai {operation}: HTTP {http_status} without a SOAP fault")
    if http_status != 200:
        raise SakaiProtocolError(f"Sakai {operation}: unexpected HTTP {http_status}")
    return None, _return_text(operation, root)


def parse_response(operation: str, http_status: int, body: bytes) -> str:
    """The ``<return>`` text of ``<operationResponse>`` ('' for ``<return/>``); raises on faults."""
    fault, value = _read_reply(operation, http_status, body)
    if fault is not None:
        raise classify_fault(operation, fault)
    return value


def parse_nullable_response(operation: str, http_status: int, body: bytes) -> str | None:
    """Like :func:`parse_response`, but the R2211 null-part fault means ``None`` (not set).

    Use it only for calls whose Java method may legitimately return null
    (``getUserProperty`` of a property the user does not have).
    """
    fault, value = _read_reply(operation, http_status, body)
    if fault is None:
        return value
    if is_null_part_fault(fault):
        return None
    raise classify_fault(operation, fault)


def check_string_result(value: str) -> str:
    """Raise if a string result is Sakai's ``"<a.b.SomeException> : <message>"``; else return it."""
    match = _EXCEPTION_RESULT_RE.match(value)
    if match is None:
        return value
    exception_class = match.group("cls")
    message = redact_session_ids(match.group("msg"))[:_MAX_DETAIL]
    detail = f"Sakai answered {exception_class}: {message}"
    if exception_class.rsplit(".", 1)[-1] == "UserAlreadyDefinedException":
        raise SakaiUserExists(detail, exception_class=exception_class)
    raise SakaiOperationFailed(detail, exception_class=exception_class)


def parse_boolean(operation: str, value: str) -> bool:
    """An ``xsd:boolean`` return value."""
    text = value.strip()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    got = redact_session_ids(text)[:40]
    raise SakaiProtocolError(f"Sakai {operation}: expected an xsd:boolean, got {got!r}")
