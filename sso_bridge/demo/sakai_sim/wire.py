"""The simulator's strict reading and writing of SOAP 1.1 RPC/literal. NOT FOR PRODUCTION.

A request that Apache CXF in Sakai would refuse is refused here too: wrong envelope namespace,
a wrapper outside the service namespace, an unknown operation, qualified parts, parts with the
wrong name, in the wrong order, missing or extra, or a bad ``xsd:boolean``.
"""

from __future__ import annotations

from dataclasses import dataclass

from lxml import etree

NS = "http://webservices.sakaiproject.org/"
SOAP11 = "http://schemas.xmlsoap.org/soap/envelope/"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
XSI_NIL = "{http://www.w3.org/2001/XMLSchema-instance}nil"
NULL_PART = "Cannot write part return. RPC/Literal parts cannot be null. (WS-I BP R2211)"


@dataclass(frozen=True)
class OperationSpec:
    """One WSDL operation: its part names in order, and which of them are xsd:boolean."""

    parts: tuple[str, ...]
    booleans: frozenset[str] = frozenset()


class SoapFaultError(Exception):
    """Answer with a SOAP fault (CXF: HTTP 500, or 403 for the address check)."""

    def __init__(self, faultstring: str, faultcode: str = "soap:Server", status: int = 500) -> None:
        super().__init__(faultstring)
        self.faultstring = faultstring
        self.faultcode = faultcode
        self.status = status


def client_fault(message: str) -> SoapFaultError:
    return SoapFaultError(message, "soap:Client")


def _parser() -> etree.XMLParser:
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )


def _envelope_body(body: bytes) -> etree._Element:
    try:
        root = etree.fromstring(body, parser=_parser())
    except etree.XMLSyntaxError as exc:
        raise client_fault(f"Unmarshalling Error: {exc}") from None
    if root.getroottree().docinfo.doctype:
        raise client_fault("Unmarshalling Error: DOCTYPE is not allowed in SOAP messages")
    if root.tag == f"{{{SOAP12}}}Envelope":
        raise SoapFaultError("A SOAP 1.2 message is not valid when sent to a SOAP 1.1 only "
                             "endpoint.", "soap:VersionMismatch")
    if root.tag != f"{{{SOAP11}}}Envelope":
        raise SoapFaultError(f"Message is not a SOAP 1.1 envelope: {root.tag}",
                             "soap:VersionMismatch")
    bodies = [c for c in root.iterchildren(f"{{{SOAP11}}}Body")]
    if len(bodies) != 1:
        raise client_fault("The SOAP envelope must contain exactly one Body")
    return bodies[0]


def _wrapper(body: etree._Element, service: dict[str, OperationSpec]) -> etree._Element:
    elements = list(body.iterchildren(tag=etree.Element))
    if len(elements) != 1:
        raise client_fault(f"Expected one RPC wrapper element in the Body, got {len(elements)}")
    wrapper = elements[0]
    qname = etree.QName(wrapper)
    if qname.namespace != NS or qname.localname not in service:
        raise client_fault(f"No such operation: {wrapper.tag}")
    if (wrapper.text or "").strip():
        raise client_fault(f"Unexpected text in the {qname.localname} wrapper")
    return wrapper


def _part_value(operation: str, spec: OperationSpec, index: int, part: etree._Element) -> str:
    qname = etree.QName(part)
    expected = spec.parts[index] if index < len(spec.parts) else None
    if qname.namespace is not None:
        raise client_fault(
            f"Unexpected element {part.tag} in {operation}: RPC/literal parts are unqualified"
        )
    if qname.localname != expected:
        wanted = f"<{expected}>" if expected else "no further part"
        raise client_fault(
            f"Unexpected element {qname.localname} in {operation} at position {index + 1}: "
            f"expected {wanted} (parts: {', '.join(spec.parts)})"
        )
    if part.get(XSI_NIL) in ("true", "1"):
        raise client_fault(f"simulator: xsi:nil part <{expected}> is not supported")
    if len(part):
        raise client_fault(f"Part <{expected}> of {operation} must be a simple value")
    value = part.text or ""
    if expected in spec.booleans and value.strip() not in ("true", "false", "1", "0"):
        raise client_fault(f"Unmarshalling Error: '{value}' is not a valid xsd:boolean")
    return value


def parse_call(body: bytes, service: dict[str, OperationSpec]) -> tuple[str, dict[str, str]]:
    """(operation, {part: value}) of a request, or :class:`SoapFaultError`."""
    wrapper = _wrapper(_envelope_body(body), service)
    operation = etree.QName(wrapper).localname
    spec = service[operation]
    values: dict[str, str] = {}
    parts = list(wrapper.iterchildren(tag=etree.Element))
    for index, part in enumerate(parts):
        values[spec.parts[index] if index < len(spec.parts) else part.tag] = _part_value(
            operation, spec, index, part
        )
    missing = [name for name in spec.parts if name not in values]
    if missing:
        raise client_fault(f"Missing part(s) {', '.join(missing)} in {operation}")
    return operation, values


def render_return(operation: str, value: str) -> bytes:
    """``<ns2:opResponse><return>value</return></ns2:opResponse>``, prefix ns2 as CXF does."""
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    wrapper = etree.SubElement(body, f"{{{NS}}}{operation}Response", nsmap={"ns2": NS})
    etree.SubElement(wrapper, "return").text = value
    return bytes(etree.tostring(envelope, xml_declaration=False, encoding="UTF-8"))


def render_fault(fault: SoapFaultError) -> bytes:
    envelope = etree.Element(f"{{{SOAP11}}}Envelope", nsmap={"soap": SOAP11})
    body = etree.SubElement(envelope, f"{{{SOAP11}}}Body")
    element = etree.SubElement(body, f"{{{SOAP11}}}Fault")
    etree.SubElement(element, "faultcode").text = fault.faultcode
    etree.SubElement(element, "faultstring").text = fault.faultstring
    return bytes(etree.tostring(envelope, xml_declaration=False, encoding="UTF-8"))
