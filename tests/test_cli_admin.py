"""The admin's commands: check-config's findings and exit codes, the risks it names, production
mode, and the container's healthcheck, all through the ``sso-bridge`` command."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from sso_bridge.cli import EXIT_CONFIG, EXIT_OK, EXIT_PROBLEMS, main
from tests.samlfactory.idp import TestIdp
from tests.support import write_config

BASE, SAKAI = "https://lms.example.edu/sso", "https://lms.example.edu"


def configure(folder: Path, *, base_url: str = BASE, sakai_url: str = SAKAI,
              extra: dict[str, object] | None = None) -> tuple[Path, dict[str, str]]:
    (folder / "idp.xml").write_text(TestIdp().metadata_xml())
    return write_config(folder, base_url=base_url, sakai_url=sakai_url,
                        idp={"metadata_file": "idp.xml"}, extra=extra)


def check_config(path: Path, env: dict[str, str]) -> tuple[int, str]:
    """check-config --offline: these configurations name a Sakai that is not there (the
    online hand-over check is tested in tests/sakai/test_handoff_check.py)."""
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)],
                                env=env)
    return result.exit_code, result.output


def replace_certificate_with_expired(folder: Path, days_ago: int) -> dt.datetime:
    """sp.key/sp.crt: a matching pair whose certificate expired ``days_ago`` days ago."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "lms.example.edu")])
    not_after = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(not_after - dt.timedelta(days=365)).not_valid_after(not_after)
            .sign(key, hashes.SHA256()))
    (folder / "sp.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    (folder / "sp.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return not_after


def test_a_good_configuration_exits_0_and_confirms_what_it_checked(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path))
    assert code == EXIT_OK == 0, output
    assert f"ok: IdP https://idp.test.example/idp, SP {BASE}/saml/metadata" in output
    assert "configuration OK" in output


def test_an_expired_sp_certificate_says_expired_with_the_date_and_exits_1(
        tmp_path: Path) -> None:
    path, env = configure(tmp_path)
    not_after = replace_certificate_with_expired(tmp_path, days_ago=2)
    code, output = check_config(path, env)
    assert code == EXIT_PROBLEMS == 1, output
    assert f"the SP certificate sp.crt EXPIRED on {not_after:%Y-%m-%d}" in output
    assert "(2 days ago)" in output
    assert "configuration OK" not in output
    assert "-2 days" not in output and "-2 more days" not in output


def test_a_certificate_expiring_soon_is_a_warning_with_its_date(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path))  # the test certificate has 30 days
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert code == EXIT_OK, output
    assert f"warning: the SP certificate sp.crt expires in 30 days (on {expiry:%Y-%m-%d}" \
        in output


def test_a_check_that_fails_exits_1(tmp_path: Path) -> None:
    path, env = configure(tmp_path)
    (tmp_path / "idp.xml").write_text("<not-metadata/>")
    code, output = check_config(path, env)
    assert code == EXIT_PROBLEMS, output
    assert "'idp.metadata_file'" in output


@pytest.mark.parametrize("breakage, named", [
    ("unknown key", "unknown key 'limits.max_saml_size'"),
    ("missing secret", "secret missing: set SSO_BRIDGE_SAKAI_PASSWORD"),
    ("unreadable file", "cannot read configuration file"),
])
def test_a_wrong_configuration_file_or_secret_exits_2(tmp_path: Path, breakage: str,
                                                      named: str) -> None:
    path, env = configure(tmp_path)
    if breakage == "unknown key":
        path.write_text(path.read_text() + "\n[limits]\nmax_saml_size = 1\n")
    elif breakage == "missing secret":
        env.pop("SSO_BRIDGE_SAKAI_PASSWORD")
    else:
        path = tmp_path / "nowhere.toml"
    code, output = check_config(path, env)
    assert code == EXIT_CONFIG == 2, output
    assert named in output


def test_the_exit_codes_are_in_the_commands_help() -> None:
    text = " ".join(CliRunner().invoke(main, ["check-config", "--help"]).output.split())
    assert "Exit status: 0 usable" in text and "1 a check found a problem" in text
    assert "2 the configuration file or a secret is wrong" in text


def test_plain_http_to_sakai_is_a_warning_naming_the_admin_password(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, sakai_url="http://lms.example.edu"))
    assert code == EXIT_OK, output
    assert "warning: 'sakai.url': http://lms.example.edu is plain http: the Sakai admin " \
           "password" in output


def test_plain_http_base_url_off_loopback_is_a_warning(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, base_url="http://lms.example.edu/sso"))
    assert code == EXIT_OK, output
    assert "warning: 'bridge.base_url': http://lms.example.edu/sso is plain http on a host " \
           "other than loopback" in output


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]"])
def test_plain_http_on_loopback_is_no_warning(tmp_path: Path, host: str) -> None:
    code, output = check_config(*configure(tmp_path, base_url=f"http://{host}:8000"))
    assert code == EXIT_OK, output
    assert "'bridge.base_url'" not in output


def test_production_mode_makes_the_risks_errors(tmp_path: Path) -> None:
    path, env = configure(tmp_path, base_url="http://lms.example.edu/sso",
                          sakai_url="http://lms.example.edu",
                          extra={"bridge": {"mode": "production"}})
    code, output = check_config(path, env)
    assert code == EXIT_CONFIG, output
    assert "'sakai.url': http://lms.example.edu is plain http" in output
    assert "'bridge.base_url': http://lms.example.edu/sso is plain http" in output
    assert 'an error with bridge.mode = "production"' in output


def test_production_mode_accepts_https(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, extra={"bridge": {"mode": "production"}}))
    assert code == EXIT_OK, output
    assert "plain http" not in output


def test_healthcheck_fails_clearly_when_nothing_listens(tmp_path: Path) -> None:
    from tests.e2e.processes import free_port

    port = free_port()
    (tmp_path / "bridge.toml").write_text(f'[server]\nbind = "0.0.0.0:{port}"\n')
    result = CliRunner().invoke(main, ["healthcheck", "--config", str(tmp_path / "bridge.toml")])
    assert result.exit_code == 1
    assert f"unhealthy: http://127.0.0.1:{port}/healthz: [Errno 111] Connection refused" \
        in result.output
