"""Caches for work python3-saml 1.16.0 repeats on every call; no result changes.

python3-saml validates responses (``OneLogin_Saml2_Response.is_valid``), builds and signs
AuthnRequests, writes and checks the SP metadata and decrypts. What it repeats each time,
measured with ``bench/acs.py``:

* ``OneLogin_Saml2_XML.validate_xml`` reads and compiles the SAML XSDs (and the schemas they
  import) on every call, about 1.7 ms. :func:`schema` keeps each compiled schema, one per
  thread (lxml's validator objects share an error log, so threads do not share them);
  :func:`validate_xml` is python3-saml's function on top of it.
* ``OneLogin_Saml2_XML.query`` compiles its XPath on every call (``is_valid`` and the getters
  run some 30). :func:`query` keeps the compiled ``etree.XPath`` per expression (bounded LRU;
  lxml serialises concurrent use of one XPath object).
* ``parse_SAML_to_time`` runs ``strptime``. :func:`parse_saml_to_time` computes the canonical
  ``yyyy-mm-ddThh:mm:ssZ`` form directly, the rest as before.
* Keys are parsed from PEM for each signature made or checked and each decryption, and
  OpenSSL 3 then prepares each fresh key again (about 0.6 ms for the SP's RSA key signing an
  AuthnRequest). :class:`CachedKey` parses each key once and hands out duplicates.

Replacing functions inside a library is only safe if the replaced code is exactly the code we
read. :func:`install` therefore does nothing but warn (stock python3-saml keeps working, only
slower) unless python3-saml is the pinned version and its files have the recorded
fingerprints; :func:`status` says which, for ``check-config``, ``/readyz`` and the metric
``sso_bridge_python3_saml_caches_active``. ``tests/saml/test_python3_saml_caches.py`` fails
when the fingerprints differ, proves each cache is in force, and compares every replacement
with the original on genuine and hostile input.
"""


from __future__ import annotations

import copy
import functools
import hashlib
import logging
import re
import threading
import types
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import onelogin.saml2.utils as saml_utils
import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from lxml import etree
from onelogin.saml2 import xml_utils
from onelogin.saml2.constants import OneLogin_Saml2_Constants as Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from sso_bridge.saml import xmlsec_policy

log = logging.getLogger("sso_bridge.saml")
PINNED_VERSION = "1.16.0"
SAML_DIR = Path(xml_utils.__file__).parent
SCHEMA_DIR = SAML_DIR / "schemas"

# sha256 of the python3-saml files whose code is replaced here (utils.py, xml_utils.py) or whose
# calls into them the caches rely on (e.g. that no caller modifies a key it got for a
# certificate): response.py validates and decrypts, settings.py checks the SP metadata, auth.py
# signs AuthnRequests.
FINGERPRINTS = {
    "utils.py": "c323e4866148a1771b5c3e09d9c426635f3dffa69979105a62d164633c1ac388",
    "xml_utils.py": "0ea015640686d192d5c22b316f549081ab7c560e2bef2bd07f8a3958e829801b",
    "response.py": "94d181d319afd4736b379f49afedfbb520867b125dc7602ddad9393ae4f001f6",
    "settings.py": "d5adb450e459bc097926ff99c03d3de0291d243cb19a9f056e704d646ad9dd11",
    "auth.py": "2f6f7a2f8b9cad13dc32074c00b6594350b989bfeaacce0cedafd06f42262842",
}
ORIGINALS: dict[str, Any] = {
    "validate_xml": OneLogin_Saml2_XML.validate_xml,
    "query": OneLogin_Saml2_XML.query,
    "parse_SAML_to_time": OneLogin_Saml2_Utils.parse_SAML_to_time,
}


def source_fingerprints() -> dict[str, str]:
    """sha256 of the installed python3-saml files named in ``FINGERPRINTS``."""
    return {name: hashlib.sha256((SAML_DIR / name).read_bytes()).hexdigest()
            for name in FINGERPRINTS}


# --- compiled schemas ----------------------------------------------------------------------

_threads = threading.local()
_compiling = threading.Lock()


def schema(name: str) -> etree.XMLSchema:
    """The XSD ``name``, compiled once per thread (an lxml validator is not shared).

    Compiling happens one thread at a time: libxml2 sets up its built-in XSD types on first
    use without a lock, and threads compiling at once then fail ("the given type is not a
    built-in type") or corrupt the heap. ``ServiceProvider`` compiles once at start-up, before
    gunicorn forks, so the types are ready in every worker.
    """
    schemas: dict[str, etree.XMLSchema] = _threads.__dict__.setdefault("schemas", {})
    compiled = schemas.get(name)
    if compiled is None:
        with _compiling:
            # As python3-saml does, from its own schema folder (imports resolve next to it).
            compiled = schemas[name] = etree.XMLSchema(etree.parse(str(SCHEMA_DIR / name)))
    return compiled


def validate_xml(xml: Any, schema_name: str, debug: bool = False) -> Any:
    """``OneLogin_Saml2_XML.validate_xml`` with the schema compiled once per thread."""
    assert isinstance(schema_name, str)
    try:
        xml = OneLogin_Saml2_XML.to_etree(xml)
    except Exception as exc:  # same contract as the original: an error code, not a raise
        if debug:
            print(exc)
        return "unloaded_xml"
    validator = schema(schema_name)
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
    # Without the EXSLT regular-expression functions lxml registers in every evaluation by
    # default: python3-saml's namespace map has no prefix that could reach them.
    return etree.XPath(expression, namespaces=Constants.NSMAP, regexp=False)


def query(dom: Any, query: str, context: Any = None, tagid: str | None = None) -> Any:
    """``OneLogin_Saml2_XML.query`` with each expression compiled once."""
    source = dom if context is None else context
    if tagid is None:
        return _xpath(query)(source)
    return _xpath(query)(source, tagid=tagid)


# --- keys ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def load_key(data: str, format: int) -> xmlsec.Key:
    """A key parsed once. A certificate becomes its public key alone.

    Verification with a key set on the context reads nothing but the key value (libxmlsec1
    skips KeyInfo then); a key loaded as CERT_PEM also carries the certificate, which every
    ``SignatureContext.key`` assignment copies (X509_dup) for nothing.
    """
    if format == xmlsec.constants.KeyDataFormatCertPem:
        cert = x509.load_pem_x509_certificate(data.encode())
        data = cert.public_key().public_bytes(
            Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
        format = xmlsec.constants.KeyDataFormatPem
    return xmlsec.Key.from_memory(data, format, None)


class CachedKey(xmlsec.Key):  # type: ignore[misc]
    """``xmlsec.Key`` as python3-saml sees it: PEM keys and certificates parsed once.

    Each call returns a duplicate (``xmlSecKeyDuplicate``), so a caller that changes its key
    (``add_sign`` loads a certificate into it) changes only its own copy. The duplicate shares
    OpenSSL's prepared key: a key freshly parsed from PEM costs about 0.6 ms of OpenSSL 3 set-up
    on its first signature, once per request without this cache.
    """

    @classmethod
    def from_memory(  # type: ignore[override]
            cls, data: Any, format: int, password: Any = None) -> xmlsec.Key:
        if format in _CACHED_FORMATS and password is None and isinstance(data, str):
            try:
                return copy.copy(load_key(data, format))
            except Exception:  # let libxmlsec1 report it exactly as before
                pass
        return xmlsec.Key.from_memory(data, format, password)


_CACHED_FORMATS = frozenset({xmlsec.constants.KeyDataFormatPem,
                             xmlsec.constants.KeyDataFormatCertPem})


def _with_cached_keys(module: types.ModuleType) -> types.ModuleType:
    layered = types.ModuleType(module.__name__, module.__doc__)
    layered.__dict__.update({k: v for k, v in vars(module).items() if not k.startswith("__")})
    layered.Key = CachedKey  # type: ignore[attr-defined]
    return layered


# --- timestamps ----------------------------------------------------------------------------

# The form IdPs send, with or without a fraction (python3-saml drops it either way).
_EPOCH = datetime(1970, 1, 1)
_CANONICAL_TIME = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.[0-9]+)?Z")


def parse_saml_to_time(timestr: Any) -> Any:
    """``OneLogin_Saml2_Utils.parse_SAML_to_time`` without ``strptime`` for the usual form.

    ``yyyy-mm-ddThh:mm:ss[.fff]Z`` with a valid date and time gives exactly what ``strptime``
    gives (whole seconds); anything else (other digits, invalid dates) goes to the original.
    Nothing is cached: timestamps are read before the signature is checked, so they are the
    sender's.
    """
    match = _CANONICAL_TIME.fullmatch(timestr) if isinstance(timestr, str) else None
    if match is not None:
        try:
            year, month, day, hour, minute, second = map(int, match.groups())
            since = datetime(year, month, day, hour, minute, second) - _EPOCH  # checks the date
        except ValueError:
            pass
        else:
            return since.days * 86400 + since.seconds
    return ORIGINALS["parse_SAML_to_time"](timestr)


# --- installation --------------------------------------------------------------------------


def problems() -> list[str]:
    """Why the caches must not be installed here (empty: they may)."""
    found = []
    installed_version = version("python3-saml")
    if installed_version != PINNED_VERSION:
        found.append(f"python3-saml is {installed_version}, the caches were written for "
                     f"{PINNED_VERSION}")
    for name, digest in source_fingerprints().items():
        if digest != FINGERPRINTS[name]:
            found.append(f"python3-saml's {name} differs from the file the caches were "
                         "written for")
    return found


def install() -> bool:
    """Put the caches in force (idempotent); False, with a warning, if python3-saml changed.

    The libxmlsec1 transform allow-list (``xmlsec_policy``) is installed first and stays in
    force either way: a changed python3-saml costs speed, never a check.
    """
    xmlsec_policy.install()
    if installed():
        return True
    trouble = problems()
    if trouble:
        log.warning("python3-saml caches are off (stock python3-saml is used): %s; re-read "
                    "the replaced code, then update PINNED_VERSION and FINGERPRINTS",
                    "; ".join(trouble))
        return False
    OneLogin_Saml2_XML.validate_xml = staticmethod(validate_xml)
    OneLogin_Saml2_XML.query = staticmethod(query)
    OneLogin_Saml2_Utils.parse_SAML_to_time = staticmethod(parse_saml_to_time)
    if saml_utils.xmlsec.Key is not CachedKey:
        saml_utils.xmlsec = _with_cached_keys(saml_utils.xmlsec)  # type: ignore[attr-defined]
    return True


def installed() -> bool:
    return bool(OneLogin_Saml2_XML.validate_xml is validate_xml
                and OneLogin_Saml2_XML.query is query
                and OneLogin_Saml2_Utils.parse_SAML_to_time is parse_saml_to_time
                and saml_utils.xmlsec.Key is CachedKey
                and xmlsec_policy.installed())


def status() -> dict[str, object]:
    """For ``/readyz``: the caches cost speed when off, never a check, so ``ok`` either way."""
    if installed():
        return {"ok": True, "active": True}
    return {"ok": True, "active": False,
            "note": "stock python3-saml (slower): " + ("; ".join(problems()) or "not installed")}
