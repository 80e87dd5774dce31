"""Fixtures: a Sakai simulator on 127.0.0.1 (a free port) and a client pointed at it."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.sakai import SakaiClient
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD, SERVER_ID


@pytest.fixture
def sim_config() -> SimConfig:
    return SimConfig(admin_eid=ADMIN_EID, admin_password=ADMIN_PASSWORD, server_id=SERVER_ID)


@pytest.fixture
def sim(sim_config: SimConfig) -> Iterator[SakaiSimulator]:
    with SakaiSimulator(sim_config).serve("127.0.0.1", 0) as simulator:
        yield simulator


@pytest.fixture
def client(sim: SakaiSimulator) -> Iterator[SakaiClient]:
    sakai = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, connect_timeout=1.0,
                        read_timeout=2.0)
    yield sakai
    sakai.close()


_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


@pytest.fixture(autouse=True)
def no_secrets_in_logs(caplog: pytest.LogCaptureFixture) -> Iterator[None]:
    """Every test runs with DEBUG logging; afterwards no record may hold the admin password
    or anything shaped like a Sakai session id (a UUID) - client, simulator and urllib3 alike."""
    caplog.set_level(logging.DEBUG)
    yield
    for record in caplog.get_records("setup") + caplog.get_records("call"):
        text = record.getMessage() + (record.exc_text or "")
        assert ADMIN_PASSWORD not in text, f"admin password logged by {record.name}"
        assert not _UUID_RE.search(text), f"a session id was logged by {record.name}: {text}"
