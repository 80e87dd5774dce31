"""The production image, built by scripts/build-image.sh (Debian's podman, a debootstrap base)
and run as documented: configuration at /config, secrets as *_FILE mounts, the port from
server.bind, the HEALTHCHECK following it, a login against the Sakai simulator. No demo inside.

Runs where rootful podman can (CI and these machines); skipped, saying why, elsewhere.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.e2e.processes import Learner, free_port, trusting_config, wait_until

ROOT = Path(__file__).parents[2]
TAG = "localhost/sso-bridge:test"
STORAGE = os.environ.get("PODMAN_STORAGE_DRIVER", "vfs")
# What a container needs on these machines: runc (crun refuses hybrid cgroups), cgroupfs, and
# limits no higher than the sandbox's own (raising them needs CAP_SYS_RESOURCE).
RUN_FLAGS = ["--runtime", "runc", "--cgroup-manager", "cgroupfs", "--network", "host",
             "--ulimit", "nofile=1024:1024", "--ulimit", "nproc=1024:1024"]


def _cannot_build() -> str:
    missing = [b for b in ("podman", "debootstrap", "runc") if not shutil.which(b)]
    if missing:
        return f"{', '.join(missing)} not installed (scripts/setup.sh installs them)"
    if os.geteuid() != 0:
        return "rootful podman is needed (run as root)"
    return ""


pytestmark = [pytest.mark.e2e, pytest.mark.image,
              pytest.mark.skipif(bool(_cannot_build()), reason=_cannot_build() or "-")]


def podman(*args: str, check: bool = True,
           timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["podman", "--storage-driver", STORAGE, *args], capture_output=True,
                          text=True, check=check, timeout=timeout)


@pytest.fixture(scope="module")
def image() -> str:
    build = subprocess.run(["bash", str(ROOT / "scripts" / "build-image.sh"), TAG],
                           capture_output=True, text=True, timeout=1800)
    assert build.returncode == 0, build.stderr[-3000:]
    return TAG


@pytest.fixture(scope="module")
def sakai() -> Iterator[SakaiSimulator]:
    sim = SakaiSimulator().serve()
    yield sim
    sim.stop()


def test_the_image_carries_no_demo_tests_or_benchmark(image: str) -> None:
    found = podman("run", "--rm", *RUN_FLAGS, "--entrypoint", "sh", image, "-c",
                   "python -c 'import sso_bridge, os; print(os.path.dirname(sso_bridge.__file__))'"
                   " && ls / /opt/sso-bridge && id -un").stdout
    package = found.splitlines()[0]
    listing = podman("run", "--rm", *RUN_FLAGS, "--entrypoint", "ls", image, package).stdout
    assert "demo" not in listing.split() and "cli.py" in listing.split()
    assert "tests" not in found.split() and "bench" not in found.split()
    assert found.split()[-1] == "bridge"
    demo = podman("run", "--rm", *RUN_FLAGS, image, "sso-bridge", "demo", check=False)
    assert demo.returncode != 0
    assert "the demo is not part of this installation" in demo.stderr


def test_the_image_serves_a_login_on_the_configured_port(image: str, sakai: SakaiSimulator,
                                                         tmp_path: Path) -> None:
    port = free_port()
    public = f"http://127.0.0.1:{port}/sso"
    config_dir, secrets = tmp_path / "config", tmp_path / "secrets"
    config_dir.mkdir()
    idp, config, env = trusting_config(
        config_dir, sakai.url, sakai.config.admin_password, public,
        extra={"server": {"bind": f"127.0.0.1:{port}", "workers": 2},
               "store": {"url": "sqlite:///var/lib/sso-bridge/state.sqlite3"}})
    secrets.mkdir()

    shutil.move(config_dir / "sp.key", secrets / "sp.key")
    (secrets / "flask-secret").write_text(env["SSO_BRIDGE_SECRET_KEY"])
    (secrets / "sakai-password").write_text(env["SSO_BRIDGE_SAKAI_PASSWORD"])
    for path in [secrets, *secrets.iterdir()]:
        os.chown(path, 10001, 10001)  # the image's user "bridge"
    name = f"sso-bridge-test-{port}"
    podman("run", "-d", "--name", name, *RUN_FLAGS,
           "-v", f"{config_dir}:/config:ro", "-v", f"{secrets}:/run/secrets:ro",
           "-e", "SSO_BRIDGE_SP_KEY_FILE=/run/secrets/sp.key",
           "-e", "SSO_BRIDGE_SECRET_KEY_FILE=/run/secrets/flask-secret",
           "-e", "SSO_BRIDGE_SAKAI_PASSWORD_FILE=/run/secrets/sakai-password", image)
    try:
        wait_until(lambda: requests.get(public + "/healthz", timeout=2).ok, 90,
                   f"the container ({podman('logs', name, check=False).stderr[-2000:]})")
        inspected = json.loads(podman("image", "inspect", image).stdout)[0]
        check = inspected.get("Healthcheck") or inspected["Config"]["Healthcheck"]
        assert check["Test"] == ["CMD", "sso-bridge", "healthcheck"]
        probe = podman("exec", name, *check["Test"][1:])
        assert f"healthy: http://127.0.0.1:{port}/healthz" in probe.stdout
        assert requests.get(public + "/readyz", timeout=10).json()["ready"] is True
        learner = Learner.of(idp, "container@example.org", public)
        reply = learner.login(public)
        assert reply.status_code == 302, reply.text
        assert reply.headers["Location"].startswith(sakai.url + "/portal")
        assert any(u["eid"] == "container@example.org" for u in
                   requests.get(sakai.url + "/_sim/users", timeout=5).json())
    finally:
        podman("rm", "-f", "-t", "5", name, check=False)
