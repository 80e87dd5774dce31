"""A federation source in a running bridge: built before the workers start, refreshed once per
instance, the last good index kept when a refresh brings a bad aggregate, readiness and hooks
saying what happened."""

from __future__ import annotations

import multiprocessing
import os
import time
import weakref
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation import build as build_module
from sso_bridge.saml.federation import discovery as discovery_module
from sso_bridge.saml.federation.build import BuildSpec
from sso_bridge.saml.federation.discovery import LiveDiscovery
from sso_bridge.saml.federation.index import FederationIndex
from sso_bridge.saml.federation.source import AggregateSource, RefreshEvent
from tests.federation.conftest import Keys, aggregate, sample_idps
from tests.federation.factory import Idp, cert_body

Make = Callable[..., BuildSpec]
UNI = "https://idp.uni.example/idp"


def uni_cert(index: FederationIndex) -> str:
    record = index.find(UNI)
    assert record is not None
    return record.signing_certs[0]


def started(spec: BuildSpec, interval: float = 3600.0
            ) -> tuple[AggregateSource, list[RefreshEvent]]:
    events: list[RefreshEvent] = []
    source = AggregateSource(spec, interval=interval, hooks=(events.append,))
    source.start()
    return source, events


def test_start_up_builds_the_index_in_a_child_process_and_readiness_shows_it(
        federation: Make) -> None:
    source, events = started(federation())
    ready = source.readiness()
    assert ready.ready and ready.idp_count == 3 and ready.last_error == ""
    assert ready.age_seconds is not None and 0 <= ready.age_seconds < 60
    assert [(e.source, e.ok, e.idp_count) for e in events] == [("federations.test", True, 3)]


def test_start_up_without_a_usable_aggregate_names_the_problem(federation: Make,
                                                               keys: Keys) -> None:
    source = AggregateSource(federation(aggregate(keys, signer="other")), interval=3600)
    with pytest.raises(ConfigError) as caught:
        source.start()
    assert "'federations.test.signing_certificate'" in caught.value.detail
    assert "is not signed by the key of" in caught.value.detail


def test_a_restart_within_the_interval_reuses_the_index(federation: Make) -> None:
    spec = federation()
    first, _ = started(spec)
    built_at = first.index.summary().built_at
    again, events = started(spec)
    assert again.index.summary().built_at == built_at and events == []


def test_an_index_of_an_older_version_is_rebuilt_at_start_up(federation: Make) -> None:
    """An index written before the ``scopes`` table (an upgrade within the interval) would
    leave the scope check nothing to read: start-up builds a new one."""
    import sqlite3

    spec = federation()
    first, _ = started(spec)
    db = sqlite3.connect(spec.index)
    db.executescript("DROP TABLE scopes; DELETE FROM meta WHERE key = 'schema';")
    db.commit()
    db.close()
    again, events = started(spec)
    assert [e.ok for e in events] == [True]
    assert again.index.scope_owners(["uni.example"]) == [("uni.example", UNI)]


@pytest.mark.parametrize("attack, expected", [
    ("another signer", "is not signed by the key of"),
    ("expired", "expired at"),
    ("key swapped", "changed after signing"),
])
def test_a_bad_aggregate_on_refresh_keeps_the_last_good_index(
        federation: Make, keys: Keys, attack: str, expected: str) -> None:
    spec = federation()
    source, events = started(spec)
    worker = FederationIndex(Path(spec.index))  # another worker's view, open before
    genuine = uni_cert(worker)
    bad = {"another signer": lambda: aggregate(keys, signer="other"),
           "expired": lambda: aggregate(keys, valid_for=timedelta(seconds=-1)),
           "key swapped": lambda: aggregate(keys, tamper=lambda xml: xml.replace(
               genuine[:64].encode(), cert_body(keys["other"][1])[:64].encode()))}[attack]()
    Path(spec.file).write_bytes(bad)
    assert source.refresh(force=True) == "failed"
    assert uni_cert(worker) == genuine
    ready = source.readiness()
    assert ready.ready and ready.idp_count == 3 and expected in ready.last_error
    assert not events[-1].ok and expected in events[-1].error


def test_an_aggregate_swapped_on_refresh_for_a_newly_signed_one_reaches_every_worker(
        federation: Make, keys: Keys) -> None:
    spec = federation()
    source, _ = started(spec)
    worker = FederationIndex(Path(spec.index))
    assert uni_cert(worker) == cert_body(keys["idp-a"][1])
    rolled = sample_idps(keys)
    rolled[0].certs = [keys["idp-b"][1]]  # the university rolled its key
    discovery = LiveDiscovery(worker)
    assert [c.entity_id for c in discovery.current().search("newcomer")] == []
    rolled.append(Idp("https://idp.newcomer.example/idp", names={"en": "Newcomer College"},
                      certs=[keys["idp-a"][1]]))
    Path(spec.file).write_bytes(aggregate(keys, rolled))
    assert source.refresh(force=True) == "refreshed"
    assert uni_cert(worker) == cert_body(keys["idp-b"][1])
    assert source.readiness().last_error == ""
    assert [c.entity_id for c in discovery.current().search("newcomer")] == [
        "https://idp.newcomer.example/idp"]


def _refresh_in_a_worker(spec: BuildSpec) -> str:
    return AggregateSource(spec, interval=1.0).refresh()


def test_a_refresh_runs_once_per_instance_whatever_the_number_of_workers(
        federation: Make) -> None:
    spec = federation()
    started(spec, interval=1.0)
    time.sleep(1.1)  # the index is now older than the refresh interval
    with multiprocessing.get_context("spawn").Pool(4) as workers:
        outcomes = workers.map(_refresh_in_a_worker, [spec] * 4)
    assert outcomes.count("refreshed") == 1, outcomes
    assert set(outcomes) <= {"refreshed", "busy", "fresh"}


def test_an_expired_index_is_not_ready(federation: Make, keys: Keys) -> None:
    spec = federation(aggregate(keys, valid_for=timedelta(seconds=60)))
    source, _ = started(spec)
    assert source.readiness().ready
    assert not source.readiness(now=time.time() + 61).ready


def test_a_worker_lets_go_of_the_old_discovery_before_building_the_new_one(
        federation: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two at once, for a moment, is what made a worker's memory grow by one discovery per
    refresh (bench/metadata.py's ten refreshes)."""
    spec = federation()
    source, _ = started(spec)
    live = LiveDiscovery(source.index)
    old = weakref.ref(live.current())
    alive_while_building: list[bool] = []
    build = discovery_module.Discovery.__init__

    def watched(self: discovery_module.Discovery, *args: Any, **kwargs: Any) -> None:
        alive_while_building.append(old() is not None)
        build(self, *args, **kwargs)

    monkeypatch.setattr(discovery_module.Discovery, "__init__", watched)
    assert source.refresh(force=True) == "refreshed"
    live.current()
    assert alive_while_building == [False]


def test_a_damaged_index_is_not_ready_and_start_up_builds_a_new_one(federation: Make) -> None:
    spec = federation()
    started(spec)
    Path(spec.index).write_bytes(b"not a database")
    source = AggregateSource(spec, interval=3600)
    assert not source.readiness().ready
    source.start()
    assert source.readiness().ready and source.index.find(UNI) is not None


def test_the_builder_child_gets_none_of_the_bridges_secrets(
        federation: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SSO_BRIDGE_SP_KEY", "-----BEGIN PRIVATE KEY-----")
    monkeypatch.setenv("SSO_BRIDGE_SAKAI_ADMIN_PASSWORD", "secret")
    seen: list[dict[str, str]] = []
    run = build_module.subprocess.run

    def spy(*args: Any, **kwargs: Any) -> Any:
        seen.append(kwargs["env"])
        return run(*args, **kwargs)

    monkeypatch.setattr(build_module.subprocess, "run", spy)
    assert build_module.build_in_child(federation()).idp_count == 3
    assert not [name for name in seen[0] if name.startswith("SSO_BRIDGE_")]
    assert seen[0]["PATH"] == os.environ["PATH"]


def test_each_worker_refreshes_in_the_background_without_being_asked(federation: Make,
                                                                      keys: Keys) -> None:
    spec = federation()
    source, events = started(spec, interval=0.5)
    rolled = sample_idps(keys)
    rolled[0].certs = [keys["idp-b"][1]]
    Path(spec.file).write_bytes(aggregate(keys, rolled))
    source.ensure_running()
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(events) < 2:
            time.sleep(0.1)
    finally:
        source.stop()
    assert len(events) >= 2 and events[1].ok
    assert uni_cert(source.index) == cert_body(keys["idp-b"][1])
