"""Each Sakai setting the hand-over needs, wrong, is caught before a learner meets it: by
``sso-bridge check-config`` (online by default) and by ``/readyz``, each with the setting to
change. The simulator plays the misconfigured Sakai."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from sso_bridge.app import create_app
from sso_bridge.cli import main
from sso_bridge.demo.sakai_sim import SakaiSimulator
from sso_bridge.settings import load_settings
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD
from tests.samlfactory.idp import TestIdp
from tests.support import write_config


def configure(tmp_path: Path, sakai_url: str, password: str = ADMIN_PASSWORD,
              **sakai: Any) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url="http://127.0.0.1:9/sso", sakai_url=sakai_url,
                        idp={"metadata_file": "idp.xml"}, sakai_password=password,
                        server_id=sakai.pop("server_id", ""),
                        extra={"sakai": {"admin_user": ADMIN_EID, **sakai}})


def check_config(path: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check-config", "--config", str(path)], env=env)
    return result.exit_code, result.output


def readyz(path: Path, env: dict[str, str]) -> dict[str, Any]:
    reply = create_app(load_settings(path, env)).test_client().get("/readyz")
    body = reply.get_json()
    assert reply.status_code == (200 if body["ready"] else 503)
    return dict(body["checks"]["sakai"])


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.fixture
def sakai(sim: SakaiSimulator) -> Iterator[SakaiSimulator]:
    yield sim


def test_a_right_configuration_is_proven_end_to_end(sakai: SakaiSimulator,
                                                    tmp_path: Path) -> None:
    path, env = configure(tmp_path, sakai.url)
    code, output = check_config(path, env)
    assert code == 0, output
    assert f"Sakai {sakai.url} (serverId 'node1'): a session minted by the bridge was " \
           f"accepted through {sakai.url} (cookie JSESSIONID=<session>.node1)" in output
    assert readyz(path, env) == {"ok": True}
    assert sakai.state.calls["getSessionForUser"] == 2 and sakai.state.calls["logout"] == 2
    assert not [s for s in sakai.state.sessions.values() if s.user_id and
                not sakai.state.is_super(s)]


@pytest.mark.parametrize("case, knobs, sakai_settings, password, code, message", [
    ("unreachable", None, {}, ADMIN_PASSWORD, "sakai_unavailable", "cannot connect"),
    ("allowlogin off", {"allowlogin": False}, {}, ADMIN_PASSWORD, "sakai_login_disabled",
     "webservices.allowlogin=true"),
    ("wrong password", {}, {}, "not-the-password", "sakai_admin_auth", "password is wrong"),
    ("address not allowed", {"allow": [r"10\.0\.0\.1"]}, {}, ADMIN_PASSWORD,
     "sakai_forbidden", "webservices.allow"),
    ("wrong serverId", {}, {"server_id": "sakai"}, ADMIN_PASSWORD, "sakai_server_id",
     "uses serverId 'node1' (the suffix of its session cookie), but 'sakai.server_id' is "
     "'sakai'"),
    ("url hand-over not allowed", {}, {"handoff": "url"}, ADMIN_PASSWORD,
     "sakai_handoff_refused", "set session.parameter.allow=true in sakai.properties"),
    ("cookie name not Sakai's", {"cookie_name": "SAKAIID"}, {}, ADMIN_PASSWORD,
     "sakai_server_id", "names its session cookie 'SAKAIID'"),
])
def test_each_wrong_setting_is_named_by_check_config_and_readyz(
        sakai: SakaiSimulator, tmp_path: Path, case: str, knobs: dict[str, Any] | None,
        sakai_settings: dict[str, Any], password: str, code: str, message: str) -> None:
    url = closed_port_url() if knobs is None else sakai.url
    if knobs:
        from sso_bridge.demo.sakai_sim.control import update_config
        update_config(sakai.state, knobs)
    path, env = configure(tmp_path, url, password, **sakai_settings)
    exit_code, output = check_config(path, env)
    assert exit_code == 1, output
    assert message in " ".join(output.split()), output
    verdict = readyz(path, env)
    assert verdict["ok"] is False and verdict["error"] == code
    assert message in verdict["detail"]


def test_url_hand_over_is_proven_when_sakai_allows_it(sakai: SakaiSimulator,
                                                      tmp_path: Path) -> None:
    sakai.state.settings.session_parameter_allow = True
    path, env = configure(tmp_path, sakai.url, handoff="url")
    code, output = check_config(path, env)
    assert code == 0 and "(?sakai.session=<session>)" in output, output


def test_offline_check_config_does_not_talk_to_sakai(sakai: SakaiSimulator,
                                                     tmp_path: Path) -> None:
    path, env = configure(tmp_path, sakai.url, "wrong-password")
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)],
                                env=env)
    assert result.exit_code == 0 and sum(sakai.state.calls.values()) == 0


def test_readyz_asks_sakai_once_per_cache_period_however_often_it_is_hit(
        sakai: SakaiSimulator, tmp_path: Path) -> None:
    path, env = configure(tmp_path, sakai.url, readiness_cache_seconds=60)
    client = create_app(load_settings(path, env)).test_client()
    for _ in range(20):
        assert client.get("/readyz").status_code == 200
    assert sakai.state.calls["getSessionForUser"] == 1  # one probe, not twenty
    assert sakai.state.calls["login"] == 1


def test_readyz_with_a_wrong_password_makes_no_admin_login_per_probe(
        sakai: SakaiSimulator, tmp_path: Path) -> None:
    path, env = configure(tmp_path, sakai.url, "wrong-password", readiness_cache_seconds=0)
    client = create_app(load_settings(path, env)).test_client()
    for _ in range(20):
        assert client.get("/readyz").status_code == 503
    assert sakai.state.calls["login"] == 1  # the refusal is backed off
