"""A federation's aggregate at start-up and on refresh, through create_app, check-config,
/readyz, /metrics and the learners' routes.

Start-up refuses an aggregate that is not the federation's, or is out of date, naming the
federation's table; a bad aggregate found on refresh leaves the last good index in force and
says so in readiness and metrics; a good new one (an IdP added, a key rolled) is taken.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from sso_bridge.app import create_app
from sso_bridge.cli import EXIT_PROBLEMS, main
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.errors import ConfigError
from sso_bridge.services import Services
from sso_bridge.settings import load_settings
from tests.federation.bridge import (
    COLLEGE,
    FEDERATION,
    HOST,
    NEWCOMER,
    configure,
    log_in,
    member,
    members,
    sakai_calls,
    sakai_user,
    signed_aggregate,
)
from tests.federation.conftest import Keys
from tests.samlfactory.idp import TestIdp

REFRESHES = 'sso_bridge_metadata_source_refreshes_total{{outcome="{}",source="federations.fed"}}'


@pytest.fixture
def sim() -> Iterator[SakaiSimulator]:
    with SakaiSimulator(SimConfig()).serve("127.0.0.1", 0) as simulator:
        yield simulator


def write(tmp_path: Path, sim: SakaiSimulator, keys: Keys, xml: bytes,
          **federation: Any) -> tuple[Path, dict[str, str]]:
    (tmp_path / "aggregate.xml").write_bytes(xml)
    return configure(tmp_path, sim, keys["federation"][1], {"file": "aggregate.xml",
                                                           **federation})


BAD_AGGREGATES: dict[str, Callable[[Keys], bytes]] = {
    "signed_by_another_key": lambda keys: signed_aggregate(keys["other"][0]),
    "expired": lambda keys: signed_aggregate(keys["federation"][0],
                                             valid_for=timedelta(hours=-1)),
    "valid_too_far_ahead": lambda keys: signed_aggregate(keys["federation"][0],
                                                         valid_for=timedelta(days=30)),
}
WHY = {"signed_by_another_key": "is not signed by the key of", "expired": "expired at",
       "valid_too_far_ahead": "more than 14 days ahead"}


@pytest.mark.parametrize("case", sorted(BAD_AGGREGATES))
def test_attack_start_up_refuses_a_bad_aggregate_naming_the_federation(
        tmp_path: Path, sim: SakaiSimulator, keys: Keys, case: str) -> None:
    path, env = write(tmp_path, sim, keys, BAD_AGGREGATES[case](keys))
    with pytest.raises(ConfigError) as caught:
        create_app(load_settings(path, env))
    problem = " ".join(caught.value.problems)
    assert f"'{FEDERATION}" in problem and WHY[case] in problem, problem
    result = CliRunner().invoke(main, ["check-config", "--offline", "--config", str(path)],
                                env=env)
    assert result.exit_code == EXIT_PROBLEMS, result.output
    assert f"'{FEDERATION}" in result.output and WHY[case] in result.output


@pytest.fixture
def running(tmp_path: Path, sim: SakaiSimulator, keys: Keys) -> Iterator[
        tuple[FlaskClient, Services]]:
    """A bridge whose federation refreshes every second in the background."""
    path, env = write(tmp_path, sim, keys, signed_aggregate(keys["federation"][0]),
                      refresh_seconds=1)
    app = create_app(load_settings(path, env))
    services: Services = app.extensions["sso_bridge"]
    yield app.test_client(), services
    for federation in services.idps.federations:
        assert federation.source is not None
        federation.source.stop()


def readyz_source(client: FlaskClient) -> dict[str, Any]:
    reply = client.get("/sso/readyz", base_url=HOST)
    return dict(reply.json["checks"]["idp_sources"][FEDERATION])  # type: ignore[index]


def refreshes(client: FlaskClient, outcome: str) -> float:
    text = client.get("/sso/metrics", base_url=HOST).text
    found = re.search(re.escape(REFRESHES.format(outcome)) + r" ([0-9.e+]+)", text)
    return float(found.group(1)) if found else 0.0


def wait_for(check: Callable[[], bool], what: str, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"no {what} within {seconds:.0f} s"
        time.sleep(0.2)


def test_a_bad_aggregate_on_refresh_keeps_the_last_good_index_and_says_so(
        tmp_path: Path, keys: Keys, sim: SakaiSimulator,
        running: tuple[FlaskClient, Services]) -> None:
    client, services = running
    assert readyz_source(client)["ok"] and "last_error" not in readyz_source(client)
    failed_before = refreshes(client, "failed")
    (tmp_path / "aggregate.xml").write_bytes(signed_aggregate(keys["other"][0]))
    wait_for(lambda: "last_error" in readyz_source(client), "failed refresh in /readyz")
    source = readyz_source(client)
    assert source["ok"] is True and source["idps"] == 4
    assert "is not signed by the key of" in source["last_error"]
    assert client.get("/sso/readyz", base_url=HOST).status_code == 200
    assert refreshes(client, "failed") > failed_before
    reply = log_in(client, services, COLLEGE, "ann@college.example")
    assert reply.status_code == 302, reply.text
    assert sakai_user(sim, "ann@college.example")


def test_a_good_new_aggregate_is_taken_on_refresh(
        tmp_path: Path, keys: Keys, sim: SakaiSimulator,
        running: tuple[FlaskClient, Services]) -> None:
    """An IdP added, and COLLEGE's key rolled: the old key no longer signs for it."""
    client, services = running
    rolled = TestIdp(COLLEGE.entity_id, COLLEGE.sso_url)
    ok_before = refreshes(client, "ok")
    idps = [member(rolled, "college.example"), *members()[1:],
            member(NEWCOMER, "new.example", name="Newcomer")]
    (tmp_path / "aggregate.xml").write_bytes(signed_aggregate(keys["federation"][0], idps))
    wait_for(lambda: readyz_source(client)["idps"] == 5, "new index in /readyz")
    # the new index is in place a moment before the refresh is counted
    wait_for(lambda: refreshes(client, "ok") > ok_before, "the refresh counted in /metrics")
    assert log_in(client, services, NEWCOMER, "nia@new.example").status_code == 302
    assert sakai_user(sim, "nia@new.example")["email"] == "nia@mail.example"
    old_key = log_in(client, services, COLLEGE, "ann@college.example")
    assert old_key.status_code == 400 and "saml_invalid" in old_key.text
    assert sakai_user(sim, "ann@college.example") == {}
    assert log_in(client, services, rolled, "ann@college.example").status_code == 302


def test_attack_an_aggregate_past_its_valid_until_no_longer_vouches_for_its_idps(
        tmp_path: Path, sim: SakaiSimulator, keys: Keys) -> None:
    """No good copy came before validUntil (a blocked download must not keep old keys
    trusted for ever): its IdPs are unavailable until one does, and readiness is red."""
    xml = signed_aggregate(keys["federation"][0], valid_for=timedelta(seconds=8))
    path, env = write(tmp_path, sim, keys, xml, refresh_seconds=0)
    app = create_app(load_settings(path, env))
    client, services = app.test_client(), app.extensions["sso_bridge"]
    assert log_in(client, services, COLLEGE, "ann@college.example").status_code == 302
    wait_for(lambda: readyz_source(client)["ok"] is False, "expiry in /readyz", seconds=15)
    assert client.get("/sso/readyz", base_url=HOST).status_code == 503
    calls = sakai_calls(sim)
    reply = client.get("/sso/saml/login", query_string={"idp": COLLEGE.entity_id},
                       base_url=HOST)
    assert reply.status_code == 503 and "idp_metadata_unavailable" in reply.text
    assert "Location" not in reply.headers
    assert sakai_calls(sim) == calls
