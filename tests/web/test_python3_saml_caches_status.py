"""When python3-saml is not the one its caches were written for, the bridge validates with stock
python3-saml, keeps every check, and says so: ``check-config``, ``/readyz`` and a metric.

The switched-off bridge runs in its own interpreter (the caches, once in force, stay in force
in a process), with python3-saml's fingerprints altered as an upgrade would alter them.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.samlfactory.idp import TestIdp

FALLBACK = """
import json, sys
import onelogin.saml2.utils as saml_utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML
from sso_bridge.saml import python3_saml_caches as caches, xmlsec_policy
# python3-saml as an upgrade would leave it: a file differs from the one the caches were read on
caches.FINGERPRINTS = {**caches.FINGERPRINTS, "response.py": "0" * 64}
original = OneLogin_Saml2_XML.validate_xml
assert caches.install() is False
assert not caches.installed()
assert OneLogin_Saml2_XML.validate_xml is original
assert xmlsec_policy.installed()  # the security patch is never dropped

from pathlib import Path
from click.testing import CliRunner
from sso_bridge.app import create_app
from sso_bridge.cli import main
from sso_bridge.settings import load_settings
from tests.saml.conftest import login_to
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

folder, idp = Path(sys.argv[1]), TestIdp()
(folder / "idp.xml").write_text(idp.metadata_xml())
config, env = write_config(folder, base_url="https://lms.example.edu/sso",
                           sakai_url="https://lms.example.edu", idp={"metadata_file": "idp.xml"})
check = CliRunner().invoke(main, ["check-config", "--config", str(config)], env=env)
app = create_app(load_settings(config, env))
client = app.test_client()
print(json.dumps({"check_config": check.output, "exit_code": check.exit_code,
                  "readyz": client.get("/readyz").get_json(),
                  "metrics": client.get("/metrics").text,
                  "login": login_to(app.extensions["sso_bridge"], idp)}))
"""


@pytest.fixture(scope="module")
def switched_off(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """check-config, /readyz and /metrics of a bridge whose python3-saml does not match."""
    import json

    folder = tmp_path_factory.mktemp("caches-off")
    result = subprocess.run([sys.executable, "-c", FALLBACK, str(folder)],
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert result.returncode == 0, result.stderr[-3000:]
    seen: dict[str, Any] = json.loads(result.stdout.splitlines()[-1])
    seen["stderr"] = result.stderr
    return seen


def test_a_changed_python3_saml_gets_no_caches_but_keeps_the_transform_allow_list(
        switched_off: dict[str, Any]) -> None:
    assert "python3-saml caches are off" in switched_off["stderr"]
    assert switched_off["login"] == "alice@example.org"  # stock python3-saml validated it


# check-config's verdict on the rest (Sakai is not reachable here) is beside the point: its
# warnings are printed once the bridge is built, which the certificate warning shows.
BUILT = "warning: the SP certificate sp.crt expires in"


def test_check_config_says_the_caches_are_off(switched_off: dict[str, Any]) -> None:
    assert BUILT in switched_off["check_config"], switched_off["check_config"]
    assert "warning: python3-saml's caches are off, so logins cost more CPU" in \
        switched_off["check_config"]
    assert "response.py differs" in switched_off["check_config"]


def test_readyz_names_the_caches_off_without_failing_readiness(
        switched_off: dict[str, Any]) -> None:
    entry = switched_off["readyz"]["checks"]["python3_saml_caches"]
    assert entry["ok"] is True and entry["active"] is False
    assert "response.py differs" in entry["note"]


def test_the_caches_gauge_is_zero_when_they_are_off(switched_off: dict[str, Any]) -> None:
    assert "sso_bridge_python3_saml_caches_active 0.0" in switched_off["metrics"]


def test_check_config_readyz_and_the_gauge_when_the_caches_are_on(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from sso_bridge.app import create_app
    from sso_bridge.cli import main
    from sso_bridge.settings import load_settings
    from tests.support import write_config

    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    config, env = write_config(tmp_path, base_url="https://lms.example.edu/sso",
                               sakai_url="https://lms.example.edu",
                               idp={"metadata_file": "idp.xml"})
    check = CliRunner().invoke(main, ["check-config", "--config", str(config)], env=env)
    assert BUILT in check.output and "caches are off" not in check.output
    client = create_app(load_settings(config, env)).test_client()
    entry = client.get("/readyz").get_json()["checks"]["python3_saml_caches"]
    assert entry == {"ok": True, "active": True}
    assert "sso_bridge_python3_saml_caches_active 1.0" in client.get("/metrics").text
