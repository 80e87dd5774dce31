"""Start-up check that lxml and xmlsec were built against the same libxml2.

python3-saml hands lxml trees to python-xmlsec; with two different libxml2 builds in one process
signature checks fail in confusing ways (python3-saml #411, #440). Pinned: lxml 6.1.3 with
xmlsec 1.3.17. The check says exactly what to do.
"""

from __future__ import annotations

from sso_bridge.errors import DependencyError


def check_libxml2() -> str:
    """Return the shared libxml2 version, or raise DependencyError naming both versions."""
    try:
        import xmlsec
        from lxml import etree
    except ImportError as exc:
        raise DependencyError(
            f"cannot import the XML security stack ({exc}); reinstall with "
            "'pip install lxml==6.1.3 xmlsec==1.3.17'") from exc
    lxml_version = ".".join(map(str, etree.LIBXML_VERSION))
    xmlsec_version = ".".join(map(str, xmlsec.get_libxml_version()))
    if lxml_version != xmlsec_version:
        raise DependencyError(
            f"lxml uses libxml2 {lxml_version} but xmlsec uses libxml2 {xmlsec_version}; "
            "install matching wheels: 'pip install lxml==6.1.3 xmlsec==1.3.17' "
            "(or build both with --no-binary against the system libxml2)")
    return lxml_version
