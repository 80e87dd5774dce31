"""Metadata signed by the real SimpleSAMLphp IdP (``metadata.sign.enable``), verified by the
bridge at start-up with ``idp.metadata_signing_certificate``: SimpleSAMLphp's signature format
(exclusive c14n, a Reference to the root's ID, RSA-SHA256) passes, and the wrong key or
unsigned metadata stops the bridge with the key named."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sso_bridge import errors
from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.demo.stack import DemoStack
from sso_bridge.services import Services, build_services
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import require_simplesamlphp, write_config


@pytest.fixture(scope="module")
def signing_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSamlIdp]:
    require_simplesamlphp()
    with SimpleSamlIdp(tmp_path_factory.mktemp("idp"), sign_metadata=True) as server:
        yield server


def bridge(tmp_path: Path, idp: SimpleSamlIdp, signer_pem: str) -> Services:
    tmp_path.mkdir(exist_ok=True)
    (tmp_path / "metadata-signer.crt").write_text(signer_pem)
    idp_settings = {"metadata_url": idp.metadata_url, "metadata_allow_http": True,
                    "metadata_signing_certificate": "metadata-signer.crt"}
    path, env = write_config(tmp_path, base_url="http://127.0.0.1:9",
                             sakai_url="http://127.0.0.1:9", idp=idp_settings)
    return build_services(load_settings(path, env))


def test_metadata_signed_by_simplesamlphp_is_verified_and_trusted(
        tmp_path: Path, signing_idp: SimpleSamlIdp) -> None:
    services = bridge(tmp_path, signing_idp, signing_idp.certificate_pem)
    assert services.idp.entity_id == signing_idp.entity_id
    assert services.idp.source == signing_idp.metadata_url
    body = "".join(signing_idp.certificate_pem.split("-----")[2].split())
    assert services.idp.signing_certs == (body,)
    assert not any("plain HTTP" in warning for warning in services.warnings)


def test_metadata_signed_by_another_key_stops_the_bridge(
        tmp_path: Path, signing_idp: SimpleSamlIdp) -> None:
    with pytest.raises(errors.ConfigError) as caught:
        bridge(tmp_path, signing_idp, TestIdp().cert_pem)
    problems = "\n".join(caught.value.problems)
    assert "'idp.metadata_signing_certificate'" in problems
    assert "is not signed by the key of" in problems


def test_the_demo_stack_verifies_its_idps_metadata(stack: DemoStack) -> None:
    assert stack.services is not None
    assert stack.services.settings.idp.metadata_signing_certificate
    assert not any("plain HTTP" in warning for warning in stack.services.warnings)


def test_unsigned_metadata_stops_the_bridge(tmp_path: Path) -> None:
    with SimpleSamlIdp(tmp_path / "idp") as unsigned, \
            pytest.raises(errors.ConfigError) as caught:
        bridge(tmp_path / "bridge", unsigned, unsigned.certificate_pem)
    assert "is not signed" in "\n".join(caught.value.problems)
