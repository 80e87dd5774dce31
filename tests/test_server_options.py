"""``sso-bridge serve``'s server: the options granian gets from the settings, and what the
bridge does before the workers fork. The real server is driven in tests/e2e/test_server.py."""

from __future__ import annotations

import gc
import os
from pathlib import Path
from typing import Any

import pytest

from sso_bridge import server
from sso_bridge.errors import ConfigError
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


@pytest.fixture
def settings_env(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url="https://lms.example.edu/sso",
                        sakai_url="https://lms.example.edu", idp={"metadata_file": "idp.xml"})


def test_binds_are_read_as_granian_addresses_and_a_bad_one_names_the_key() -> None:
    assert server.parse_bind("0.0.0.0:8000") == {"address": "0.0.0.0", "port": 8000}
    assert server.parse_bind("[::1]:9000") == {"address": "::1", "port": 9000}
    assert server.parse_bind("unix:/run/sso.sock") == {"uds": Path("/run/sso.sock")}
    for bad in ("localhost", "host:http", "host:70000"):
        with pytest.raises(ConfigError) as caught:
            server.parse_bind(bad)
        assert "'server.bind'" in caught.value.problems[0]


def test_accepted_requests_can_queue_beyond_the_threads_so_sigterm_finishes_them(
        settings_env: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SSO_BRIDGE_THREADS", raising=False)
    options = server.granian_options(load_settings(*settings_env), bind="127.0.0.1:9")
    assert options["backpressure"] > options["blocking_threads"] == 8
    assert options["respawn_failed_workers"] is True
    assert options["workers_kill_timeout"] == 30  # server.graceful_timeout_seconds
    assert options["log_access"] and "%(query_string)" not in options["log_access_format"]


def test_serve_freezes_the_built_app_and_drops_the_secrets_before_the_workers_fork(
        settings_env: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    from granian.server import MPServer

    seen: dict[str, Any] = {}

    def serve(self: MPServer, target_loader: Any = None, **_: Any) -> None:
        for hook in self.hooks_startup:
            hook()
        seen["frozen"] = gc.get_freeze_count()
        seen["environ"] = dict(os.environ)
        seen["app"] = target_loader("sso_bridge.wsgi:app")

    monkeypatch.setattr(MPServer, "serve", serve)
    monkeypatch.setenv("SSO_BRIDGE_SP_KEY", "-----BEGIN PRIVATE KEY-----")
    monkeypatch.setenv("SSO_BRIDGE_SAKAI_PASSWORD", "sakai-admin-pw")
    monkeypatch.setenv("SSO_BRIDGE_SP_KEY_FILE", "/run/secrets/sp.key")
    app = object()
    try:
        server.run_granian(app, load_settings(*settings_env), bind="127.0.0.1:9", workers=1)
    finally:
        gc.unfreeze()
    assert seen["frozen"] > 0
    assert seen["app"] is app  # built once, here; not imported again in each worker
    # granian copies os.environ into every request's WSGI environ
    assert "SSO_BRIDGE_SP_KEY" not in seen["environ"]
    assert "SSO_BRIDGE_SAKAI_PASSWORD" not in seen["environ"]
    assert seen["environ"]["SSO_BRIDGE_SP_KEY_FILE"] == "/run/secrets/sp.key"


def test_the_access_line_escapes_control_characters() -> None:
    import logging

    record = logging.LogRecord("granian.access", logging.INFO, "", 0, "%(path)s",
                               ({"path": "/x\n127.0.0.1 forged\x1b[31m"},), None)
    line = server.AccessFormatter("%(message)s").format(record)
    assert line.startswith("/x\\") and line.endswith("127.0.0.1 forged\\x1b[31m")
    assert line.isprintable()  # no newline, no escape character: one line, no terminal codes


def test_a_dead_workers_open_circuit_gauge_stops_counting_at_the_next_scrape(
        tmp_path: Path) -> None:
    """The server has no hook for a worker's exit: /metrics marks dead workers itself."""
    import subprocess
    import sys

    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    worker = ("from sso_bridge import metrics; metrics.observe_circuit('open'); "
              "metrics.LOGIN_ATTEMPTS.labels('success', 'ok', 'idp').inc()")
    subprocess.run([sys.executable, "-c", worker], env=env, check=True)  # then it exits
    scrape = ("from sso_bridge import metrics; "
              "print(metrics.render(1.0, 1.0)[0].decode())")
    text = subprocess.run([sys.executable, "-c", scrape], env=env, check=True,
                          capture_output=True, text=True).stdout
    assert "sso_bridge_sakai_circuit_open 1.0" not in text
    assert 'sso_bridge_login_attempts_total{code="ok",idp="idp",outcome="success"} 1.0' in text


def test_a_wrong_ops_network_is_named_at_start_up(
        settings_env: tuple[Path, dict[str, str]]) -> None:
    path, env = settings_env
    path.write_text(path.read_text() + '\n[server]\nops_allow = ["10.0.0.0/8", "10.0.0.300/8", '
                    '"intranet"]\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    assert [p.split(":")[0] for p in caught.value.problems] == [
        "'server.ops_allow[1]'", "'server.ops_allow[2]'"]


def _serve(path: Path, env: dict[str, str], port: int) -> Any:
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-m", "sso_bridge.cli", "serve", "--config",
                           str(path), "--bind", f"127.0.0.1:{port}"], env={**os.environ, **env},
                          capture_output=True, text=True, timeout=60)


def _listening(port: int) -> bool:
    import socket

    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_serve_lists_every_configuration_problem_and_starts_no_server(
        settings_env: tuple[Path, dict[str, str]]) -> None:
    from tests.e2e.processes import free_port

    path, env = settings_env
    path.write_text(path.read_text() + '\n[server]\nops_allow = ["intranet"]\nworkers = -1\n')
    port = free_port()
    done = _serve(path, env, port)
    assert done.returncode == 2
    assert "'server.ops_allow[0]'" in done.stderr and "'server.workers'" in done.stderr
    assert "Traceback" not in done.stderr and not _listening(port)


def test_serve_names_an_ops_bind_already_in_use_and_starts_no_server(
        settings_env: tuple[Path, dict[str, str]]) -> None:
    import socket

    from tests.e2e.processes import free_port

    path, env = settings_env
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        ops = busy.getsockname()[1]
        path.write_text(path.read_text() + f'\n[server]\nops_bind = "127.0.0.1:{ops}"\n')
        port = free_port()
        done = _serve(path, env, port)
    assert done.returncode == 2
    assert f"'server.ops_bind': cannot listen on 127.0.0.1:{ops}" in done.stderr
    assert "Traceback" not in done.stderr and not _listening(port)
