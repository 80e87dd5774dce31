"""Shared test helpers."""

import pytest

from sso_bridge.demo.configfile import merge, to_toml, write_config
from sso_bridge.demo.idp import SimpleSamlIdp

__all__ = ["merge", "require_simplesamlphp", "to_toml", "write_config"]


def require_simplesamlphp() -> None:
    """Fail, never skip, when Debian's SimpleSAMLphp is missing: scripts/setup.sh installs it,
    and a skip would hide a missing install step."""
    try:
        SimpleSamlIdp.check_installed()
    except RuntimeError as exc:
        pytest.fail(str(exc))
