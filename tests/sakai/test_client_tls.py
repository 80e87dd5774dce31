"""Sakai over https with an internal CA (``sakai.ca_certificate_file``): the client trusts the
CAs it is given, refuses a server it cannot verify before sending a byte (the admin password
included), and a CA file that does not load stops the bridge at start-up with its key named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.sakai import SakaiClient
from sso_bridge.services import build_services
from sso_bridge.settings import load_settings
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD, SERVER_ID
from tests.sakai.tls import localhost_certificate, server_context
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


@pytest.fixture
def tls_sakai(tmp_path: Path) -> Iterator[tuple[SakaiSimulator, Path]]:
    cert_path, key_path = localhost_certificate(tmp_path)
    config = SimConfig(admin_eid=ADMIN_EID, admin_password=ADMIN_PASSWORD, server_id=SERVER_ID)
    with SakaiSimulator(config).serve("localhost", 0,
                                      ssl_context=server_context(cert_path, key_path)) as sim:
        yield sim, cert_path


def test_the_client_talks_to_sakai_through_the_internal_ca(
        tls_sakai: tuple[SakaiSimulator, Path]) -> None:
    sim, cert_path = tls_sakai
    assert sim.url.startswith("https://localhost:")
    client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, ca_file=str(cert_path))
    assert client.check_for_user("nobody@example.edu") is False
    assert sim.state.calls["login"] == 1
    client.close()


def test_without_the_ca_the_server_is_refused_before_the_password_is_sent(
        tls_sakai: tuple[SakaiSimulator, Path]) -> None:
    sim, _ = tls_sakai
    client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD)
    with pytest.raises(errors.SakaiUnavailable):
        client.check_for_user("nobody@example.edu")
    assert sim.state.calls["login"] == 0


def config(tmp_path: Path, sakai_url: str, ca_file: str) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url="https://lms.example.edu/sso", sakai_url=sakai_url,
                        idp={"metadata_file": "idp.xml"},
                        extra={"sakai": {"ca_certificate_file": ca_file}})


def test_a_ca_file_that_does_not_load_is_named_at_start_up(tmp_path: Path) -> None:
    (tmp_path / "garbage.pem").write_text("not a certificate")
    for ca_file in ("missing.pem", "garbage.pem"):
        path, env = config(tmp_path, "https://lms.example.edu", ca_file)
        with pytest.raises(errors.ConfigError) as caught:
            build_services(load_settings(path, env))
        problems = "\n".join(caught.value.problems)
        assert "'sakai.ca_certificate_file'" in problems and ca_file in problems


def test_a_ca_file_for_plain_http_is_a_config_error(tmp_path: Path) -> None:
    path, env = config(tmp_path, "http://lms.example.edu", "ca.pem")
    with pytest.raises(errors.ConfigError) as caught:
        load_settings(path, env)
    assert any("'sakai.ca_certificate_file'" in p for p in caught.value.problems)
