"""``idp.metadata_max_validity_days``: the metadata must say how long it is good, and not for
too long, so an old copy (signed before a key was replaced) cannot be replayed for months."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from lxml import etree

from sso_bridge import errors
from sso_bridge.services import Services, build_services
from sso_bridge.settings import load_settings
from tests.saml.conftest import BASE, SAKAI
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

IDP = TestIdp()
DAY = 86400


def metadata(valid_for_days: float | None) -> bytes:
    root = etree.fromstring(IDP.metadata_xml().encode())
    if valid_for_days is not None:
        stamp = time.gmtime(time.time() + valid_for_days * DAY)
        root.set("validUntil", time.strftime("%Y-%m-%dT%H:%M:%SZ", stamp))
    return etree.tostring(root)


def start(tmp_path: Path, valid_for_days: float | None, max_days: int | None) -> Services:
    (tmp_path / "idp.xml").write_bytes(metadata(valid_for_days))
    idp: dict[str, object] = {"metadata_file": "idp.xml"}
    if max_days is not None:
        idp["metadata_max_validity_days"] = max_days
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI, idp=idp)
    return build_services(load_settings(path, env))


def refused(tmp_path: Path, valid_for_days: float | None, max_days: int) -> str:
    with pytest.raises(errors.ConfigError) as caught:
        start(tmp_path, valid_for_days, max_days)
    problems = "\n".join(caught.value.problems)
    assert "'idp.metadata_max_validity_days'" in problems
    return problems


def test_off_by_default_metadata_without_valid_until_is_trusted(tmp_path: Path) -> None:
    assert start(tmp_path, None, None).idp.valid_until is None


def test_metadata_within_the_window_is_trusted(tmp_path: Path) -> None:
    services = start(tmp_path, 7, 14)
    assert services.idp.valid_until is not None
    assert 6 * DAY < services.idp.valid_until - time.time() <= 7 * DAY


def test_metadata_without_valid_until_is_refused(tmp_path: Path) -> None:
    assert "carries no validUntil" in refused(tmp_path, None, 14)


def test_metadata_valid_for_too_long_is_refused(tmp_path: Path) -> None:
    assert "more than 14 days ahead" in refused(tmp_path, 30, 14)


def test_a_refresh_to_metadata_valid_for_too_long_keeps_the_last_good_copy(
        tmp_path: Path) -> None:
    services = start(tmp_path, 7, 14)
    before = services.idp
    (tmp_path / "idp.xml").write_bytes(metadata(365))
    assert services.refresher.refresh_now() is False
    assert services.idp is before


def test_a_negative_maximum_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        start(tmp_path, 7, -1)
    assert any("'idp.metadata_max_validity_days'" in p for p in caught.value.problems)
