"""A slow Sakai: the login's Sakai calls share one deadline (sakai.login_deadline_seconds), and
when it passes the learner gets the "Sakai is slow" page from the bridge, not a proxy timeout."""

from __future__ import annotations

import time
from pathlib import Path

from sso_bridge.demo.sakai_sim import SimConfig
from tests.e2e.processes import running_rig


def test_a_login_past_its_sakai_deadline_gets_the_sakai_is_slow_page(tmp_path: Path) -> None:
    with running_rig(tmp_path, sim_config=SimConfig(latency_ms=400),
                     extra={"sakai": {"server_id": "", "login_deadline_seconds": 1.0,
                                      "read_timeout_seconds": 10.0}}) as rig:
        began = time.monotonic()
        reply = rig.learner("slowpoke").login(rig.bridge.url)
        took = time.monotonic() - began
        assert reply.status_code == 503
        assert "Sakai is slow right now" in reply.text and "(sakai_slow)" in reply.text
        assert "Traceback" not in reply.text
        assert took < 5  # the deadline, not 4 calls x 10 s of read timeouts
        rig.sim("config", {"latency_ms": 0})
        assert rig.learner("slowpoke").login(rig.bridge.url).status_code == 302
