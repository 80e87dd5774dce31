"""A path prefix just works: with bridge.base_url = "http://<host>/sso" the bridge serves
/sso/saml/* itself, and also answers a proxy that strips the prefix. Both are tested through a
real nginx running deploy/nginx/sso-bridge-locations.conf and a real Apache httpd running
deploy/apache/sso-bridge.conf (the files docs/reverse-proxy.md shows), logins under granian."""

from __future__ import annotations

import getpass
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from sso_bridge.cli import main
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from tests.e2e.processes import BridgeProcess, Learner, free_port, trusting_config, wait_until

pytestmark = pytest.mark.e2e
DEPLOY = Path(__file__).parents[2] / "deploy"
LOCATIONS = DEPLOY / "nginx" / "sso-bridge-locations.conf"
PASS_ON = "proxy_pass http://sso_bridge;"
APACHE = DEPLOY / "apache" / "sso-bridge.conf"
APACHE_MODULES = ("mpm_event", "authz_core", "authz_host", "proxy", "proxy_http", "headers")


@contextmanager
def nginx(workdir: Path, port: int, bridge_port: int, *, strip: bool) -> Iterator[str]:
    """nginx on loopback with the documented locations; strip: the trailing-slash variant."""
    binary = shutil.which("nginx")
    assert binary, "nginx is missing: scripts/setup.sh installs it"
    locations = LOCATIONS.read_text()
    assert PASS_ON in locations
    if strip:
        locations = locations.replace(PASS_ON, "proxy_pass http://sso_bridge/;", 1)
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "locations.conf").write_text(locations)
    temp = "".join(f"{kind}_temp_path {workdir}/{kind};\n"
                   for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    (workdir / "nginx.conf").write_text(f"""
daemon off; user {getpass.getuser()}; pid {workdir}/nginx.pid; error_log {workdir}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log {workdir}/access.log; {temp}
  upstream sso_bridge {{ server 127.0.0.1:{bridge_port}; }}
  server {{ listen 127.0.0.1:{port}; include {workdir}/locations.conf; }}
}}""")
    proc = subprocess.Popen([binary, "-c", str(workdir / "nginx.conf"), "-p", str(workdir)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code,
                   15, f"nginx ({workdir}/error.log)")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@contextmanager
def apache(workdir: Path, port: int, bridge_port: int, *, strip: bool) -> Iterator[str]:
    """Apache httpd on loopback with the documented configuration; strip: "/sso/" → "/"."""
    binary = shutil.which("apache2")
    assert binary, "apache2 is missing: scripts/setup.sh installs it"
    text = APACHE.read_text()
    assert '"http://127.0.0.1:8000/sso/"' in text
    if strip:
        text = text.replace('"http://127.0.0.1:8000/sso/"', '"http://127.0.0.1:8000/"')
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "sso-bridge.conf").write_text(text.replace("127.0.0.1:8000",
                                                          f"127.0.0.1:{bridge_port}"))
    modules = "".join(f"LoadModule {m}_module /usr/lib/apache2/modules/mod_{m}.so\n"
                      for m in APACHE_MODULES)
    user = "User www-data\nGroup www-data\n" if os.geteuid() == 0 else ""
    (workdir / "httpd.conf").write_text(f"""{modules}{user}
ServerRoot {workdir}
ServerName 127.0.0.1
Listen 127.0.0.1:{port}
PidFile {workdir}/httpd.pid
ErrorLog {workdir}/error.log
Mutex file:{workdir}
Include {workdir}/sso-bridge.conf
""")
    proc = subprocess.Popen([binary, "-f", str(workdir / "httpd.conf"), "-DFOREGROUND"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "APACHE_RUN_DIR": str(workdir)})
    try:
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/", timeout=1).status_code,
                   15, f"apache2 ({workdir}/error.log)")
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


PROXIES = {"nginx": nginx, "apache": apache}


@pytest.fixture(scope="module")
def sakai() -> Iterator[SakaiSimulator]:
    sim = SakaiSimulator().serve()
    yield sim
    sim.stop()


@pytest.mark.parametrize("proxy_kind", sorted(PROXIES))
@pytest.mark.parametrize("strip", [False, True], ids=["prefix-passed-on", "prefix-stripped"])
def test_a_login_through_a_proxy_at_a_path_prefix(tmp_path: Path, sakai: SakaiSimulator,
                                                  strip: bool, proxy_kind: str) -> None:
    port, bridge_port = free_port(), free_port()
    public = f"http://127.0.0.1:{port}/sso"
    idp, config, env = trusting_config(tmp_path, sakai.url, sakai.config.admin_password, public,
                                       extra={"server": {"trusted_proxy_hops": 1}})
    bridge = BridgeProcess(config, env, port=bridge_port, workers=1, threads=4).start()
    try:
        run_proxy = PROXIES[proxy_kind]
        with run_proxy(tmp_path / proxy_kind, port, bridge_port, strip=strip) as proxy:
            for path in ("/sso/healthz", "/sso/readyz", "/sso/metrics"):
                assert requests.get(proxy + path, timeout=10).status_code == 200, path
            metadata = requests.get(public + "/saml/metadata", timeout=10)
            assert f'Location="{public}/saml/acs"' in metadata.text
            learner = Learner.of(idp, "prefixed@example.org", public)
            request_id, relay = learner.start(public)
            # the pending login and the cookie test, both under the prefix the browser sees
            assert {c.path for c in learner.browser.cookies} == {"/sso/saml/"}
            assert len(learner.browser.cookies) == 2
            reply = learner.post(public, learner.response(request_id), relay)
            assert reply.status_code == 302, reply.text
            assert reply.headers["Location"].startswith(sakai.url + "/portal")
            assert any(u["eid"] == "prefixed@example.org" for u in
                       requests.get(sakai.url + "/_sim/users", timeout=5).json())
    finally:
        bridge.stop()


def test_the_bridge_itself_answers_with_and_without_the_prefix(tmp_path: Path,
                                                               sakai: SakaiSimulator) -> None:
    port = free_port()
    idp, config, env = trusting_config(tmp_path, sakai.url, sakai.config.admin_password,
                                       f"http://127.0.0.1:{port}/sso")
    bridge = BridgeProcess(config, env, port=port, workers=1, threads=4).start()
    try:
        for path in ("/sso/healthz", "/healthz", "/sso/saml/metadata", "/saml/metadata"):
            assert requests.get(bridge.url + path, timeout=10).status_code == 200, path
        for path in ("/ssox/healthz", "/other/saml/metadata"):
            assert requests.get(bridge.url + path, timeout=10).status_code == 404, path
        learner = Learner(idp, "direct@example.org", bridge.url + "/sso/saml/acs",
                          bridge.url + "/sso/saml/metadata")
        assert learner.login(bridge.url + "/sso").status_code == 302
        # serve said what check-config warns about: the simulator is plain http
        assert "warning: 'sakai.url': http://127.0.0.1" in bridge.log()
        # the container's health check follows server.bind (a wildcard is asked on loopback)
        (tmp_path / "health.toml").write_text(f'[server]\nbind = "0.0.0.0:{port}"\n')
        probe = CliRunner().invoke(main, ["healthcheck", "--config",
                                          str(tmp_path / "health.toml")])
        assert probe.exit_code == 0, probe.output
        assert probe.output.strip() == f"healthy: http://127.0.0.1:{port}/healthz"
    finally:
        bridge.stop()
