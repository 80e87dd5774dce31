"""deploy/: the compose file is valid Compose (checked by Debian's docker-compose), and it, the
nginx configuration, the image and the example configuration agree with each other."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from sso_bridge.settings import SECRET_NAMES
from sso_bridge.store.folder import SYSTEM_FOLDER

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"


def compose_config() -> dict[str, Any]:
    """``docker-compose config`` (it validates against the Compose schema), read as JSON by
    the YAML reader docker-compose itself runs on (Debian's python3-yaml)."""
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (scripts/setup.sh installs it)")
    out = subprocess.run([binary, "-f", str(DEPLOY / "compose.yaml"), "config"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    interpreter = Path(binary).read_text(errors="replace").splitlines()[0].removeprefix("#!")
    as_json = subprocess.run(
        [*interpreter.split(), "-c", "import json, sys, yaml; "
         "print(json.dumps(yaml.safe_load(sys.stdin)))"],
        input=out.stdout, capture_output=True, text=True, check=True, timeout=60)
    return dict(json.loads(as_json.stdout))


def test_compose_accepts_the_file_with_two_bridges_redis_and_nginx() -> None:
    config = compose_config()
    services = config["services"]
    assert isinstance(services, dict)
    assert {"redis", "bridge1", "bridge2", "nginx"} <= set(services)
    for name in ("bridge1", "bridge2"):
        bridge = services[name]
        assert any(v.endswith(":/config:ro") for v in bridge["volumes"])
        secrets = {s["source"] for s in bridge["secrets"]}
        for var, path in bridge["environment"].items():
            assert var.removesuffix("_FILE") in SECRET_NAMES.values(), var
            assert path.removeprefix("/run/secrets/") in secrets, path


def test_nginx_upstream_names_the_compose_bridges_on_the_configured_port() -> None:
    nginx = (DEPLOY / "nginx" / "compose-nginx.conf").read_text()
    example = tomllib.loads((ROOT / "config" / "bridge.example.toml").read_text())
    port = example["server"]["bind"].rpartition(":")[2]
    assert re.findall(r"server (bridge\d):(\d+);", nginx) == [("bridge1", port),
                                                              ("bridge2", port)]
    assert "include /etc/nginx/sso-bridge-locations.conf;" in nginx
    compose = (DEPLOY / "compose.yaml").read_text()
    assert "./nginx/sso-bridge-locations.conf:/etc/nginx/sso-bridge-locations.conf" in compose


def test_the_example_configuration_fits_the_image() -> None:
    """Paths relative to /config/bridge.toml, state in the image's volume, the port exposed."""
    example = tomllib.loads((ROOT / "config" / "bridge.example.toml").read_text())
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "SSO_BRIDGE_CONFIG=/config/bridge.toml" in dockerfile
    assert not Path(example["sp"]["certificate_file"]).is_absolute()
    assert ".." not in example["sp"]["certificate_file"]
    # An empty store.url and state_directory: SQLite in the private state folder, which in the
    # image is /var/lib/sso-bridge (owned by the bridge user): the image's volume.
    assert example["store"]["url"] == "" and example["store"]["state_directory"] == ""
    volume = re.search(r'^VOLUME \["(.*)"\]$', dockerfile, re.M)
    assert volume and Path(volume.group(1)) == SYSTEM_FOLDER
    assert "chown bridge:bridge /var/lib/sso-bridge" in dockerfile
    port = example["server"]["bind"].rpartition(":")[2]
    assert re.search(rf"^EXPOSE {port}$", dockerfile, re.M)
