"""The start-up check that lxml and xmlsec share one libxml2."""

from __future__ import annotations

import pytest
import xmlsec
from lxml import etree

from sso_bridge.deps import check_libxml2
from sso_bridge.errors import DependencyError


def test_matching_builds_pass() -> None:
    assert check_libxml2() == ".".join(map(str, etree.LIBXML_VERSION))


def test_a_mismatch_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(xmlsec, "get_libxml_version", lambda: (2, 9, 1))
    with pytest.raises(DependencyError) as caught:
        check_libxml2()
    message = str(caught.value)
    assert "xmlsec uses libxml2 2.9.1" in message
    assert "pip install lxml==6.1.3 xmlsec==1.3.17" in message
