"""The bridge as operations run it: ``sso-bridge serve`` (granian) with several workers,
metrics, SIGTERM, a dead worker replaced, the access log, the breaker."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.sakai_sim.config import SimConfig
from tests.e2e.processes import Rig, running_rig, wait_until


@pytest.fixture(scope="module")
def ops(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rig]:
    workdir = Path(tmp_path_factory.mktemp("gunicorn"))
    with running_rig(workdir, sim_config=SimConfig(hang_seconds=3.0,
                                                   admin_password="sim-admin-Pa55-7f3c9"),
                     extra={"sakai": {"read_timeout_seconds": 0.5, "breaker_failures": 3,
                                      "breaker_cooldown_seconds": 5.0,
                                      "readiness_cache_seconds": 0},
                            "server": {"graceful_timeout_seconds": 30},
                            "logging": {"audit_file": str(workdir / "audit.jsonl")}}) as rig:
        yield rig


def counter(metrics: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in metrics.splitlines():
        match = re.match(rf"{name}(?:{{(.*)}})? (\S+)$", line)
        if match and all(f'{k}="{v}"' in (match.group(1) or "") for k, v in labels.items()):
            total += float(match.group(2))
    return total


def scrape(ops: Rig) -> str:
    return requests.get(ops.bridge.url + "/metrics", timeout=5).text


def test_logins_work_across_workers_and_metrics_move(ops: Rig) -> None:
    assert len(ops.bridge.worker_pids()) == 2
    before = scrape(ops)
    for i in range(6):
        assert ops.learner(f"metric{i}").login(ops.bridge.url).status_code == 302
    replayer = ops.learner("metric0")
    request_id, relay = replayer.start(ops.bridge.url)
    saml = replayer.response(request_id)
    assert replayer.post(ops.bridge.url, saml, relay).status_code == 302
    request_id, relay = replayer.start(ops.bridge.url)
    assert replayer.post(ops.bridge.url, saml, relay).status_code == 403  # replayed
    after = scrape(ops)
    name = "sso_bridge_login_attempts_total"
    assert counter(after, name, outcome="success") - counter(before, name, outcome="success") \
        == 7
    assert counter(after, name, code="saml_in_response_to") + counter(
        after, name, code="saml_replay") - counter(before, name, code="saml_in_response_to") \
        - counter(before, name, code="saml_replay") == 1
    created = "sso_bridge_accounts_created_total"
    assert counter(after, created) - counter(before, created) == 6
    calls = "sso_bridge_sakai_call_seconds_count"
    assert counter(after, calls, operation="addNewUser") - counter(
        before, calls, operation="addNewUser") == 6
    assert counter(after, "sso_bridge_acs_seconds_count") - counter(
        before, "sso_bridge_acs_seconds_count") == 8
    assert 0 < counter(after, "sso_bridge_sp_certificate_days_to_expiry") <= 30


def test_audit_log_has_one_json_line_per_attempt_and_no_secrets(ops: Rig) -> None:
    import json

    learner = ops.learner("audited")
    reply = learner.login(ops.bridge.url)
    assert reply.status_code == 302
    session_id = str(learner.browser.cookies["JSESSIONID"]).split(".")[0]
    audit = ops.bridge.config.parent / "audit.jsonl"
    time.sleep(0.2)
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    mine = [line for line in lines if line["eid"] == "audited@example.org"]
    assert len(mine) == 1
    assert mine[0]["outcome"] == "success" and mine[0]["account_created"] is True
    assert mine[0]["request_id"] == reply.headers["X-Request-Id"]
    assert set(mine[0]) >= {"time", "idp", "client", "error_code", "account_updated"}
    everything = audit.read_text() + ops.bridge.log()
    assert session_id not in everything
    assert ops.sakai.config.admin_password not in everything
    assert "<samlp:" not in everything and "PHNhbWxw" not in everything  # no SAML, raw or base64


def test_sigterm_during_a_burst_loses_no_in_flight_login(ops: Rig) -> None:
    learners = [ops.learner(f"sigterm{i}") for i in range(20)]
    starts = [lr.start(ops.bridge.url) for lr in learners]
    responses = [lr.response(rid) for lr, (rid, _) in zip(learners, starts, strict=True)]
    # 150 ms per Sakai call keeps each call well inside the rig's 0.5 s read timeout on a
    # loaded machine, and a first login's 4 calls still outlast the 0.5 s before SIGTERM.
    ops.sim("config", {"latency_ms": 150})
    results: list[int] = []

    def post(i: int) -> None:
        reply = learners[i].post(ops.bridge.url, responses[i], starts[i][1])
        results.append(reply.status_code)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(len(learners))]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)  # every POST is in flight (each needs 4 Sakai calls of 150 ms)
        code = ops.bridge.stop()
        for thread in threads:
            thread.join(timeout=60)
    finally:
        ops.sim("config", {"latency_ms": 0})
        ops.bridge.proc = None
        ops.bridge.start()
    assert code == 0
    assert sorted(results) == [302] * len(learners)


def test_breaker_fails_fast_while_sakai_hangs_and_recovers(ops: Rig) -> None:
    ops.sim("fail-next", {"*": ["timeout"] * 60})
    timings: list[float] = []
    for i in range(16):  # each worker opens its circuit after 3 timeouts of 0.5 s
        began = time.monotonic()
        reply = ops.learner(f"breaker{i}").login(ops.bridge.url)
        timings.append(time.monotonic() - began)
        assert reply.status_code == 503 and "Sakai is unavailable" in reply.text
        if len(timings) >= 4 and max(timings[-4:]) < 0.3:
            break
    assert max(timings[-4:]) < 0.3, timings  # immediate pages, not 0.5 s timeouts
    assert requests.get(ops.bridge.url + "/readyz", timeout=5).status_code == 503
    ops.sim("reset", {})
    time.sleep(5.5)  # the cooldown
    deadline = time.monotonic() + 20
    while True:
        reply = ops.learner("breaker-back").login(ops.bridge.url)
        if reply.status_code == 302 or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert reply.status_code == 302
    wait_until(lambda: requests.get(ops.bridge.url + "/readyz", timeout=5).ok, 15,
               "readiness after Sakai came back")  # every worker's breaker closes again


def test_access_log_has_one_line_per_request_with_the_path_only(ops: Rig) -> None:
    import re

    target = ops.sakai.url + "/portal/site/access-log?x=secret-query"
    reply = ops.learner("accesslog").login(ops.bridge.url, target=target)
    assert reply.status_code == 302
    time.sleep(0.2)
    lines = [line for line in ops.bridge.log().splitlines() if '"GET /saml/login"' in line
             or '"POST /saml/acs"' in line]
    assert any(re.search(r'^127.0.0.1 "GET /saml/login" 302 \d+ms$', line) for line in lines)
    assert any(re.search(r'^127.0.0.1 "POST /saml/acs" 302 \d+ms$', line) for line in lines)
    assert "secret-query" not in ops.bridge.log()


def test_access_log_injection_by_an_encoded_newline_in_the_path_is_escaped(ops: Rig) -> None:
    forged = '127.0.0.1 "GET /saml/acs" 302 1ms'
    reply = requests.get(ops.bridge.url + "/nothing%0A" + forged.replace(" ", "%20"),
                         timeout=5)
    assert reply.status_code == 404
    time.sleep(0.2)
    lines = ops.bridge.log().splitlines()
    assert forged not in lines  # no line of its own
    escaped = [line for line in lines if line.startswith('127.0.0.1 "GET /nothing\\')]
    assert escaped and forged.replace(" ", "") in escaped[0].replace(" ", "")  # on its line


def test_a_worker_that_dies_is_replaced_and_logins_go_on(ops: Rig) -> None:
    import os
    import signal

    before = ops.bridge.worker_pids()
    os.kill(before[0], signal.SIGKILL)
    wait_until(lambda: len(set(ops.bridge.worker_pids()) - {before[0]}) == 2, 20,
               "a replacement worker")
    for i in range(4):
        assert ops.learner(f"respawned{i}").login(ops.bridge.url).status_code == 302
    assert ops.bridge.proc is not None and ops.bridge.proc.poll() is None

