"""idp.preset: a product's defaults fill the keys the admin did not write; a written key wins;
check-config says which preset is in force and what it set."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sso_bridge.cli import main
from sso_bridge.errors import ConfigError
from sso_bridge.presets import PRESETS
from sso_bridge.settings import Settings, load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

CLAIMS = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/"


def _config(tmp_path: Path, idp: dict[str, Any],
            extra: dict[str, Any] | None = None) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url="https://bridge.example.org",
                        sakai_url="https://lms.example.org",
                        idp={"metadata_file": "idp.xml", **idp}, extra=extra)


def _settings(tmp_path: Path, idp: dict[str, Any],
              extra: dict[str, Any] | None = None) -> Settings:
    return load_settings(*_config(tmp_path, idp, extra))


def test_the_entra_preset_brings_entras_defaults(tmp_path: Path) -> None:
    s = _settings(tmp_path, {"preset": "entra"})
    assert (s.idp.want_response_signed, s.idp.want_assertion_signed) == (False, True)
    assert s.idp.requested_authn_context == []  # AADSTS75011 otherwise
    assert s.idp.allow_cbc_encryption
    assert s.attributes.eid == [CLAIMS + "name"] and s.attributes.allow_unscoped_eid
    assert s.attributes.given_name == CLAIMS + "givenname"
    assert s.preset_values["idp.want_response_signed"] is False


def test_an_explicit_key_wins_over_the_preset(tmp_path: Path) -> None:
    s = _settings(tmp_path, {"preset": "shibboleth", "want_assertions_encrypted": False},
                  {"attributes": {"given_name": "urn:oid:2.5.4.42"}})
    assert s.idp.want_assertions_encrypted is False
    assert s.idp.want_response_signed is True  # still from the preset
    assert "idp.want_assertions_encrypted" not in s.preset_values
    assert s.attributes.given_name == "urn:oid:2.5.4.42"


def test_generic_sets_nothing(tmp_path: Path) -> None:
    s = _settings(tmp_path, {})
    assert s.idp.preset == "generic" and s.preset_values == {}
    assert s.idp.want_response_signed and s.idp.want_assertion_signed
    assert not s.attributes.allow_unscoped_eid


def test_an_unknown_preset_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"'idp.preset': 'pingfederate' is not one of"):
        _settings(tmp_path, {"preset": "pingfederate"})


@pytest.mark.parametrize("product", sorted(PRESETS))
def test_every_preset_gives_a_valid_configuration(tmp_path: Path, product: str) -> None:
    assert _settings(tmp_path, {"preset": product}).idp.preset == product


def test_check_config_prints_the_preset_and_what_it_set(tmp_path: Path) -> None:
    path, env = _config(tmp_path, {"preset": "okta", "want_response_signed": False})
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "IdP preset: okta" in result.stdout
    assert "attributes.eid = ['nameid'] (from the preset)" in result.stdout
    assert "idp.want_response_signed" not in result.stdout  # written by the admin
    assert "carries no scope" in result.stderr and "from the preset" in result.stderr
