"""IdP key rollover: refreshed metadata is trusted at once; a bad copy never replaces a good one."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.services import Services, build_services
from sso_bridge.settings import load_settings
from tests.saml.conftest import BASE, SAKAI, login_to
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


@pytest.fixture
def services(tmp_path: Path) -> Services:
    (tmp_path / "idp.xml").write_text(OLD.metadata_xml())
    path, env = write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                             idp={"metadata_file": "idp.xml", "metadata_refresh_seconds": 1})
    return build_services(load_settings(path, env))


OLD = TestIdp()
NEW = TestIdp(entity_id=OLD.entity_id)  # same IdP, rolled-over signing key


def test_a_refreshed_key_is_trusted_and_the_old_one_no_longer(services: Services,
                                                               tmp_path: Path) -> None:
    assert login_to(services, OLD)
    (tmp_path / "idp.xml").write_text(NEW.metadata_xml())
    assert services.refresher.refresh_now() is True
    assert login_to(services, NEW)
    with pytest.raises(errors.SamlInvalid):
        login_to(services, OLD)


def test_a_broken_copy_keeps_the_last_good_one(services: Services, tmp_path: Path) -> None:
    before = services.idp
    (tmp_path / "idp.xml").write_text("<md:EntityDescriptor truncated")
    assert services.refresher.refresh_now() is False
    assert services.idp is before
    assert login_to(services, OLD)


def test_the_refresh_thread_picks_up_a_new_key_by_itself(services: Services,
                                                         tmp_path: Path) -> None:
    (tmp_path / "idp.xml").write_text(NEW.metadata_xml())
    services.refresher.ensure_running()
    try:
        deadline = time.monotonic() + 10
        while NEW.cert_pem.split("-----")[2].replace("\n", "") not in "".join(
                services.idp.signing_certs) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert login_to(services, NEW)
    finally:
        services.refresher.stop()
