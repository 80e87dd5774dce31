"""Issue 10, hole 6: a breaker trial call that raises anything but a Sakai error must not leave
the breaker open until the worker restarts."""

from __future__ import annotations

import pytest

from sso_bridge import errors
from sso_bridge.demo.sakai_sim import SakaiSimulator
from sso_bridge.sakai import SakaiClient
from sso_bridge.sakai.breaker import CircuitBreaker
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD
from tests.sakai.test_breaker import Clock


def test_hole_6_a_trial_that_raises_a_non_sakai_error_does_not_keep_the_breaker_open(
        sim: SakaiSimulator) -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=30, clock=clock)
    client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, breaker=breaker)
    client.check_admin()  # logged in: the trial below is the checkForUser call itself
    sim.state.add_failures({"checkForUser": "http503"})
    with pytest.raises(errors.SakaiUnavailable):
        client.check_for_user("jdoe@example.edu")
    assert breaker.state == "open"
    clock.now += 31  # the trial: an EID lxml cannot put into XML (a NUL) fails before sending
    with pytest.raises(ValueError):
        client.check_for_user("j\x00doe@example.edu")
    assert sim.state.calls["checkForUser"] == 1
    assert client.check_for_user("jdoe@example.edu") is False  # Sakai is asked again
    assert breaker.state == "closed"
    client.close()
