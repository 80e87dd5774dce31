"""The admin's view of several IdPs through the ``sso-bridge`` command: ``idps`` (one line per
configured IdP and per federation, ``--json``, ``--all``, exit 1 on a problem) and what
``check-config`` says about IdP signing certificates, scopes a federation IdP loses, and two
IdPs that could claim the same account."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from sso_bridge.cli import EXIT_OK, EXIT_PROBLEMS, main
from tests.federation.bridge import signed_aggregate
from tests.federation.factory import key_pair
from tests.samlfactory.idp import TestIdp, generate_key_and_cert
from tests.support import write_config

BASE, SAKAI = "https://lms.example.edu/sso", "https://lms.example.edu"
UNI = "https://idp.uni.example/idp"
PARTNER = "https://idp.partner.example/idp"
SIGNER = key_pair("federation")


def idp_with_certificate(entity_id: str, scope: str, days: int) -> TestIdp:
    idp = TestIdp(entity_id, entity_id.replace("/idp", "/sso"), scopes=(scope,))
    idp.key_pem, idp.cert_pem = generate_key_and_cert("idp", days=days)
    return idp


def configure(folder: Path, *, partner_days: int = 365, partner_scope: str = "partner.example",
              federation: dict[str, Any] | None = None,
              aggregate: bytes | None = None) -> tuple[Path, dict[str, str]]:
    """[idp] the university, [idps.partner], and [federations.fed] (a signed aggregate file)."""
    (folder / "uni.xml").write_text(TestIdp(UNI, UNI + "/sso", scopes=("uni.example",))
                                    .metadata_xml())
    (folder / "partner.xml").write_text(
        idp_with_certificate(PARTNER, partner_scope, partner_days).metadata_xml())
    (folder / "federation.crt").write_text(SIGNER[1])
    (folder / "aggregate.xml").write_bytes(aggregate or signed_aggregate(SIGNER[0]))
    table = {"file": "aggregate.xml", "signing_certificate": "federation.crt",
             "max_validity_days": 14, **(federation or {})}
    return write_config(folder, base_url=BASE, sakai_url=SAKAI, idp={"metadata_file": "uni.xml"},
                        extra={"idps": {"partner": {"metadata_file": "partner.xml"}},
                               "federations": {"fed": table},
                               "store": {"state_directory": str(folder / "state")}})


def run(args: list[str], path: Path, env: dict[str, str]) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--config", str(path)], env=env)
    return result.exit_code, result.output


def test_idps_lists_each_configured_idp_and_federation(tmp_path: Path) -> None:
    code, output = run(["idps"], *configure(tmp_path))
    assert code == EXIT_OK, output
    lines = output.splitlines()
    uni = next(line for line in lines if line.startswith("[idp] "))
    assert uni.startswith(f"[idp] {UNI} from ") and "uni.xml" in uni
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=365)
    assert f"signing certificate until {expiry:%Y-%m-%d}" in uni and uni.endswith("; ok")
    assert f"loaded {dt.datetime.now(dt.UTC):%Y-%m-%d}" in uni
    assert any(line.startswith(f"[idps.partner] {PARTNER} from ") for line in lines)
    fed = next(line for line in lines if line.startswith("[federations.fed] "))
    valid = dt.datetime.now(dt.UTC) + dt.timedelta(days=7)
    assert "aggregate.xml: 4 IdPs admitted" in fed and f"valid until {valid:%Y-%m-%d}" in fed
    assert fed.endswith("; ok") and "idp.college.example" not in output  # members: --all


def test_idps_all_lists_each_admitted_idp_with_its_name(tmp_path: Path) -> None:
    code, output = run(["idps", "--all"], *configure(tmp_path))
    assert code == EXIT_OK, output
    assert "    https://idp.college.example/idp  Example College" in output.splitlines()


def test_idps_json_holds_the_same_facts(tmp_path: Path) -> None:
    code, output = run(["idps", "--json", "--all"], *configure(tmp_path))
    assert code == EXIT_OK, output
    report = json.loads(output)
    assert [e["key"] for e in report["idps"]] == ["idp", "idps.partner"]
    assert report["idps"][1]["entity_id"] == PARTNER
    assert report["idps"][0]["certificate_expiry"] > dt.datetime.now(dt.UTC).timestamp()
    (fed,) = report["federations"]
    assert (fed["key"], fed["idps"], fed["last_error"]) == ("federations.fed", 4, "")
    assert {"entity_id": "https://idp.college.example/idp", "name": "Example College"} \
        in fed["members"]
    assert report["problems"] == []


def test_idps_exits_1_naming_an_expired_signing_certificate(tmp_path: Path) -> None:
    code, output = run(["idps"], *configure(tmp_path, partner_days=0))
    assert code == EXIT_PROBLEMS, output
    partner = next(line for line in output.splitlines() if line.startswith("[idps.partner]"))
    assert "PROBLEM: its signing certificate expired at" in partner


def test_idps_exits_1_when_the_last_refresh_failed(tmp_path: Path) -> None:
    """The first run indexes a good aggregate; then a bad one is refused and the last good
    index stays in use: usable, but the admin must hear of it."""
    path, env = configure(tmp_path, federation={"refresh_seconds": 0})
    assert run(["idps"], path, env)[0] == EXIT_OK
    (tmp_path / "aggregate.xml").write_bytes(signed_aggregate(key_pair("other")[0]))
    code, output = run(["idps"], path, env)
    assert code == EXIT_PROBLEMS, output
    fed = next(line for line in output.splitlines() if line.startswith("[federations.fed]"))
    assert "4 IdPs admitted" in fed
    assert "PROBLEM: its last refresh failed (the last good copy is in use)" in fed
    assert "is not signed by the key of" in fed


def check_config(path: Path, env: dict[str, str]) -> tuple[int, str]:
    return run(["check-config", "--offline"], path, env)


def test_check_config_warns_of_an_idp_certificate_expiring_within_30_days(
        tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, partner_days=10))
    assert code == EXIT_OK, output
    expiry = dt.datetime.now(dt.UTC) + dt.timedelta(days=10)
    assert (f"warning: the signing certificate of [idps.partner] ({PARTNER}) expires in 10 "
            f"days (on {expiry:%Y-%m-%d}") in output
    assert "signing certificate of [idp]" not in output


def test_check_config_fails_on_an_expired_idp_certificate(tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, partner_days=0))
    assert code == EXIT_PROBLEMS, output
    assert f"the signing certificate of [idps.partner] ({PARTNER}) EXPIRED on" in output


def test_check_config_lists_federation_idps_that_lose_a_scope(tmp_path: Path) -> None:
    """CLAIMER declares the university's scope; the twins share one."""
    code, output = check_config(*configure(tmp_path))
    assert code == EXIT_OK, output
    warning = next(line for line in output.splitlines() if "cannot vouch for a scope" in line)
    assert warning.startswith("warning: 3 federation IdP(s)")
    assert "https://idp.claimer.example/idp [federations.fed]: uni.example" in warning
    assert "https://idp.twin-a.example/idp [federations.fed]: shared.example" in warning
    assert "https://idp.college.example/idp" not in warning


def test_check_config_names_both_tables_of_idps_that_could_claim_one_account(
        tmp_path: Path) -> None:
    code, output = check_config(*configure(tmp_path, partner_scope="uni.example"))
    assert code == EXIT_PROBLEMS, output
    assert f"[idp] and [idps.partner]: IdPs {UNI} and {PARTNER} could both claim the same " \
        "Sakai account: their scopes overlap (uni.example)" in output


def test_idps_exits_1_naming_the_federation_whose_aggregate_is_refused(
        tmp_path: Path) -> None:
    expired = signed_aggregate(SIGNER[0], valid_for=dt.timedelta(hours=-1))
    code, output = run(["idps"], *configure(tmp_path, aggregate=expired))
    assert code == EXIT_PROBLEMS, output
    assert "configuration has 1 problem(s):" in output
    assert "'federations.fed': " in output and "expired at" in output
