"""Work python3-saml 1.16.0 repeats on every response, done once instead; no result changes.

Measured on a signed Response + Assertion with six attributes (``bench/acs.py``), python3-saml's
``is_valid`` spends most of its time outside the signature check:

* ``OneLogin_Saml2_XML.validate_xml`` reads and compiles the SAML protocol XSD (and the five
  schemas it imports) on every call. :func:`validate_xml` keeps the compiled schema, one per
  thread (lxml's validator objects share an error log, so threads do not share them).
* ``OneLogin_Saml2_XML.query`` compiles its XPath on every call (about 70 per login).
  :func:`query` keeps the compiled ``etree.XPath`` for each expression (bounded LRU; lxml
  serialises concurrent use of one XPath object).
* ``validate_node_sign`` parses the IdP certificate PEM for each signature. :class:`CertKey`
  keeps the parsed key per certificate; libxmlsec1 copies it into every signature context
  (``SignatureContext.key`` duplicates the key), so the cached key is never modified.
* ``OneLogin_Saml2_Response`` answers the same XPath queries over and over (``_query_assertion``
  runs 22 times per login, each two or three XPaths). :class:`MemoizedQueries` remembers the
  answer per response object; the document does not change once it is parsed.

Replacing functions inside a library is only safe if the replaced code is exactly the code we
read. ``install`` therefore refuses to patch any python3-saml but the pinned version, and
``tests/saml/test_speedups.py`` checks the source of every replaced function against the
fingerprint recorded here, proves each patch is in force, and compares results with the
originals — so an upgrade fails the tests instead of silently changing behaviour.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
import types
from importlib.metadata import version
from pathlib import Path
from typing import Any

import onelogin.saml2.utils as saml_utils
import xmlsec
from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.response import OneLogin_Saml2_Response
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge.saml import xmlsec_policy

log = logging.getLogger("sso_bridge.saml")
PINNED_VERSION = "1.16.0"
SAML_DIR = Path(xml_utils.__file__).parent
SCHEMA_DIR = SAML_DIR / "schemas"

# sha256 of the python3-saml files whose code is replaced here or whose callers the caches rely
# on (e.g. that no caller modifies a key it got for a certificate).
FINGERPRINTS = {
    "utils.py": "c323e4866148a1771b5c3e09d9c426635f3dffa69979105a62d164633c1ac388",
    "xml_utils.py": "0ea015640686d192d5c22b316f549081ab7c560e2bef2bd07f8a3958e829801b",
    "response.py": "94d181d319afd4736b379f49afedfbb520867b125dc7602ddad9393ae4f001f6",
}
ORIGINALS: dict[str, Any] = {
    "validate_xml": OneLogin_Saml2_XML.validate_xml,
    "query": OneLogin_Saml2_XML.query,
}


def source_fingerprints() -> dict[str, str]:
    """sha256 of the installed python3-saml files named in ``FINGERPRINTS``."""
    return {name: hashlib.sha256((SAML_DIR / name).read_bytes()).hexdigest()
            for name in FINGERPRINTS}


# --- compiled schemas ----------------------------------------------------------------------

_threads = threading.local()


def _schema(name: str) -> etree.XMLSchema:
    schemas: dict[str, etree.XMLSchema] = _threads.__dict__.setdefault("schemas", {})
    compiled = schemas.get(name)
    if compiled is None:
        # As python3-saml does, from its own schema folder (imports resolve next to the file).
        compiled = schemas[name] = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))
    return compiled


def validate_xml(xml: Any, schema: str, debug: bool = False) -> Any:
    """``OneLogin_Saml2_XML.validate_xml`` with the schema compiled once per thread."""
    assert isinstance(schema, str)
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:  # same contract as the original: an error code, not a raise
        if debug:
            print(exc)
        return "unloaded_xml"
    validator = _schema(schema)
    if not validator.validate(xml):
        if debug:
            print("Errors validating the metadata: ")
            for error in validator.error_log:
                print(error.message)
        return "invalid_xml"
    return xml


# --- compiled XPath ------------------------------------------------------------------------


@functools.lru_cache(maxsize=256)
def _xpath(expression: str) -> etree.XPath:
    return etree.XPath(expression, namespaces=Constants.NSMAP)


def query(dom: Any, query: str, context: Any = None, tagid: str | None = None) -> Any:
    """``OneLogin_Saml2_XML.query`` with each expression compiled once."""
    source = dom if context is None else context
    if tagid is None:
        return _xpath(query)(source)
    return _xpath(query)(source, tagid=tagid)


# --- parsed IdP certificates ---------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def _cert_key(pem: str) -> xmlsec.Key:
    return xmlsec.Key.from_memory(pem, xmlsec.constants.KeyDataFormatCertPem, None)


class CertKey(xmlsec.Key):  # type: ignore[misc]
    """``xmlsec.Key`` as python3-saml sees it: certificates (public keys) parsed once."""

    @classmethod
    def from_memory(cls, data: Any, format: int, password: Any = None) -> xmlsec.Key:
        if format == xmlsec.constants.KeyDataFormatCertPem and password is None \
                and isinstance(data, str):
            return _cert_key(data)
        return xmlsec.Key.from_memory(data, format, password)


def _with_cert_key_cache(module: types.ModuleType) -> types.ModuleType:
    layered = types.ModuleType(module.__name__, module.__doc__)
    layered.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    layered.Key = CertKey  # type: ignore[attr-defined]
    return layered


# --- memoised queries on one response ------------------------------------------------------


class MemoizedQueries(OneLogin_Saml2_Response):  # type: ignore[misc]
    """A Response that answers each of python3-saml's XPath queries once (when installed).

    The answer depends only on the query, its ``$tagid`` and the document queried (the
    decrypted one once ``encrypted`` is set), none of which changes after parsing. Callers get
    a fresh list each time, as from ``xpath()``.
    """

    memoize = False  # set by install()

    def _memo(self) -> dict[tuple[Any, ...], list[Any]]:
        memo: dict[tuple[Any, ...], list[Any]] = self.__dict__.setdefault("_memo_queries", {})
        return memo

    def _query(self, query: str, tagid: str | None = None) -> list[Any]:
        if not self.memoize:
            return super()._query(query, tagid)  # type: ignore[no-any-return]
        key = ("q", bool(self.encrypted), query, tagid)
        memo = self._memo()
        if key not in memo:
            memo[key] = super()._query(query, tagid)
        return list(memo[key])

    def _query_assertion(self, xpath_expr: str) -> list[Any]:
        if not self.memoize:
            return super()._query_assertion(xpath_expr)  # type: ignore[no-any-return]
        key = ("a", bool(self.encrypted), xpath_expr)
        memo = self._memo()
        if key not in memo:
            memo[key] = super()._query_assertion(xpath_expr)
        return list(memo[key])


# --- installation --------------------------------------------------------------------------


def problems() -> list[str]:
    """Why the speed-ups must not be installed here (empty: they may)."""
    found = []
    installed_version = version("python3-saml")
    if installed_version != PINNED_VERSION:
        found.append(f"python3-saml is {installed_version}, the speed-ups were written for "
                     f"{PINNED_VERSION}")
    for name, digest in source_fingerprints().items():
        if digest != FINGERPRINTS[name]:
            found.append(f"python3-saml's {name} differs from the file the speed-ups were "
                         "written for")
    return found


def install() -> bool:
    """Put the speed-ups in force (idempotent); False, with a warning, if python3-saml changed.

    The libxmlsec1 transform allow-list (``xmlsec_policy``) is installed first and stays in
    force either way: a changed python3-saml costs speed, never a check.
    """
    xmlsec_policy.install()
    if installed():
        return True
    trouble = problems()
    if trouble:
        log.warning("python3-saml speed-ups are off (stock python3-saml is used): %s; re-read "
                    "the replaced code, then update PINNED_VERSION and FINGERPRINTS",
                    "; ".join(trouble))
        return False
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)
    OneLogin_Saml2_XML.query = staticmethod(query)
    if saml_utils.xmlsec.Key is not CertKey:
        saml_utils.xmlsec = _with_cert_key_cache(saml_utils.xmlsec)  # type: ignore[attr-defined]
    MemoizedQueries.memoize = True
    return True


def installed() -> bool:
    return bool(OneLogin_Saml2_XML.validate_xml is validate_xml
                and OneLogin_Saml2_XML.query is query
                and saml_utils.xmlsec.Key is CertKey
                and MemoizedQueries.memoize
                and xmlsec_policy.installed())
