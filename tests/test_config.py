"""Configuration errors are reported at start-up, all of them, each naming its key."""

from __future__ import annotations

import socket
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from sso_bridge.cli import main
from sso_bridge.errors import ConfigError
from sso_bridge.keys import generate
from sso_bridge.services import build_services
from sso_bridge.settings import load_settings
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

BASE, SAKAI = "https://lms.example.edu/sso", "https://lms.example.edu"


@pytest.fixture
def config(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    (tmp_path / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(tmp_path, base_url=BASE, sakai_url=SAKAI,
                        idp={"metadata_file": "idp.xml"})


def problems_of(path: Path, env: dict[str, str]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        build_services(load_settings(path, env))
    return caught.value.problems


def test_a_good_configuration_loads(config: tuple[Path, dict[str, str]]) -> None:
    services = build_services(load_settings(*config))
    assert services.idp.entity_id == "https://idp.test.example/idp"
    assert services.settings.acs_url == BASE + "/saml/acs"


def test_unknown_key_and_wrong_type_are_all_named(config: tuple[Path, dict[str, str]]) -> None:
    path, env = config
    text = path.read_text().replace("[idp]", "[idp]\nallow_unsolicted = true\n"
                                             "clock_skew_seconds = \"2 minutes\"")
    path.write_text(text + "\n[colour]\nname = 'blue'\n")
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    message = str(caught.value)
    assert "unknown key 'idp.allow_unsolicted'" in message
    assert "'idp.clock_skew_seconds': expected an integer" in message
    assert "unknown key 'colour'" in message


def test_missing_secret_names_the_variable(config: tuple[Path, dict[str, str]]) -> None:
    path, env = config
    env.pop("SSO_BRIDGE_SAKAI_PASSWORD")
    with pytest.raises(ConfigError, match="SSO_BRIDGE_SAKAI_PASSWORD or "
                                          "SSO_BRIDGE_SAKAI_PASSWORD_FILE"):
        load_settings(path, env)


def test_missing_key_file_is_named(config: tuple[Path, dict[str, str]]) -> None:
    path, env = config
    env["SSO_BRIDGE_SP_KEY_FILE"] = str(path.parent / "nowhere.key")
    with pytest.raises(ConfigError, match=r"SSO_BRIDGE_SP_KEY_FILE: cannot read .*nowhere\.key"):
        load_settings(path, env)


def test_key_not_matching_certificate_is_named(config: tuple[Path, dict[str, str]],
                                               tmp_path: Path) -> None:
    path, env = config
    generate(tmp_path / "other.key", tmp_path / "other.crt", common_name="other", bits=2048)
    env["SSO_BRIDGE_SP_KEY_FILE"] = str(tmp_path / "other.key")
    assert any("does not match the certificate" in p for p in problems_of(path, env))


def test_unreachable_metadata_url_is_named_with_the_url(config: tuple[Path, dict[str, str]]
                                                       ) -> None:
    path, env = config
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/idp/metadata.xml"
    path.write_text(path.read_text().replace(
        'metadata_file = "idp.xml"',
        f'metadata_url = "{url}"\nmetadata_allow_http = true\nmetadata_timeout_seconds = 2'))
    problems = problems_of(path, env)
    assert any(p.startswith("'idp.metadata_url': cannot fetch " + url) for p in problems)


def test_every_problem_is_reported_together(config: tuple[Path, dict[str, str]],
                                            tmp_path: Path) -> None:
    path, env = config
    (tmp_path / "sp.crt").write_text("not a certificate")
    (tmp_path / "idp.xml").write_text("<not-metadata/>")
    problems = problems_of(path, env)
    assert any("'sp.certificate_file'" in p for p in problems)
    assert any("'idp.metadata_file'" in p for p in problems)


def test_check_config_prints_every_problem_and_fails(config: tuple[Path, dict[str, str]],
                                                     tmp_path: Path) -> None:
    path, env = config
    (tmp_path / "idp.xml").write_text("<not-metadata/>")
    path.write_text(path.read_text() + "\n[limits]\nmax_saml_size = 1\n")
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code != 0
    assert "unknown key 'limits.max_saml_size'" in result.output


def test_check_config_accepts_a_good_configuration_and_warns_of_expiry(
        config: tuple[Path, dict[str, str]]) -> None:
    path, env = config
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert "configuration OK" in result.output
    assert "expires in" in result.output  # the test certificate is valid for 30 days


def test_metadata_command_prints_sp_metadata(config: tuple[Path, dict[str, str]]) -> None:
    path, env = config
    result = CliRunner().invoke(main, ["metadata", "--config", str(path)], env=env)
    assert result.exit_code == 0, result.output
    assert f'entityID="{BASE}/saml/metadata"' in result.output
    assert f'Location="{BASE}/saml/acs"' in result.output


def test_keygen_writes_a_private_key_and_a_public_certificate(tmp_path: Path) -> None:
    key, cert = tmp_path / "k.pem", tmp_path / "c.pem"
    args = ["keygen", "--key", str(key), "--cert", str(cert), "--cn", "sso.example.edu",
            "--bits", "2048", "--days", "90"]
    assert CliRunner().invoke(main, args).exit_code == 0
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(cert.stat().st_mode) == 0o644  # public: anyone may read it
    again = CliRunner().invoke(main, args)
    assert again.exit_code != 0 and "--force" in again.output
    assert CliRunner().invoke(main, [*args, "--force"]).exit_code == 0
    from cryptography import x509

    loaded = x509.load_pem_x509_certificate(cert.read_bytes())
    assert loaded.subject.rfc4514_string() == "CN=sso.example.edu"
    assert loaded.signature_hash_algorithm.name == "sha256"  # type: ignore[union-attr]


def test_the_documented_example_configuration_is_valid(tmp_path: Path) -> None:
    """config/bridge.example.toml names only real keys with valid values."""
    example = Path(__file__).parent.parent / "config" / "bridge.example.toml"
    generate(tmp_path / "sp.key", tmp_path / "sp.crt", common_name="x", bits=2048)
    env = {"SSO_BRIDGE_SECRET_KEY": "x" * 40, "SSO_BRIDGE_SP_KEY_FILE": str(tmp_path / "sp.key"),
           "SSO_BRIDGE_SAKAI_PASSWORD": "secret"}
    settings = load_settings(example, env)
    assert settings.idp.allow_unsolicited is False
    assert settings.sakai.user_types["faculty"] == "maintain"
    assert settings.sakai.cookie.samesite == "Lax"


def test_workers_default_to_two_per_cpu_and_the_server_gets_them(
        config: tuple[Path, dict[str, str]], monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    from sso_bridge.server import granian_options
    from sso_bridge.settings import usable_cpus

    monkeypatch.delenv("SSO_BRIDGE_WORKERS", raising=False)
    settings = load_settings(*config)
    assert settings.server.workers == 0
    cpus = len(os.sched_getaffinity(0))
    assert granian_options(settings)["workers"] == min(16, max(2, 2 * usable_cpus()))
    assert usable_cpus() <= cpus
    assert granian_options(settings)["blocking_threads"] == 8
    path, env = config
    path.write_text(path.read_text() + "\n[server]\nworkers = 3\nthreads = 2\n")
    assert load_settings(path, env).server.worker_count() == 3
    path.write_text(path.read_text().replace("workers = 3", "workers = -1")
                    .replace("threads = 2", "threads = 0"))
    with pytest.raises(ConfigError) as caught:
        load_settings(path, env)
    assert any("'server.workers'" in p for p in caught.value.problems)
    assert any("'server.threads'" in p for p in caught.value.problems)


def test_a_container_cpu_quota_caps_the_default_workers(tmp_path: Path) -> None:
    import os

    from sso_bridge.settings import usable_cpus

    cpus = len(os.sched_getaffinity(0))
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cpu.max").write_text("50000 100000\n")  # half a CPU
    assert usable_cpus(v2) == 1
    (v2 / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(v2) == cpus
    v1 = tmp_path / "v1"
    (v1 / "cpu").mkdir(parents=True)
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    (v1 / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(v1) == cpus
    (v1 / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")
    assert usable_cpus(v1) == 1
    assert usable_cpus(tmp_path / "none") == cpus
