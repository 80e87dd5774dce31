"""The circuit breaker: opens after N failures in a row, fails fast, tries once, recovers."""

from __future__ import annotations

import pytest

from sso_bridge.errors import SakaiUnavailable
from sso_bridge.sakai.breaker import CircuitBreaker


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_opens_after_consecutive_failures_and_fails_fast() -> None:
    clock, changes = Clock(), list[str]()
    breaker = CircuitBreaker(failures=3, cooldown=30, clock=clock, on_change=changes.append)
    for _ in range(2):
        breaker.before_call("checkForUser")
        breaker.failure()
    assert breaker.state == "closed"
    breaker.before_call("checkForUser")
    breaker.failure()
    assert breaker.state == "open" and changes == ["open"]
    with pytest.raises(SakaiUnavailable, match="next try in 30 s"):
        breaker.before_call("checkForUser")


def test_a_success_resets_the_count() -> None:
    breaker = CircuitBreaker(failures=2, cooldown=30, clock=Clock())
    breaker.failure()
    breaker.success()
    breaker.failure()
    assert breaker.state == "closed"


def test_half_open_lets_one_trial_through_then_closes_on_success() -> None:
    clock, changes = Clock(), list[str]()
    breaker = CircuitBreaker(failures=1, cooldown=10, clock=clock, on_change=changes.append)
    breaker.failure()
    clock.now += 10
    assert breaker.state == "half-open"
    breaker.before_call("login")  # the trial
    with pytest.raises(SakaiUnavailable):
        breaker.before_call("login")  # others still fail fast while the trial runs
    breaker.success()
    assert breaker.state == "closed" and changes == ["open", "closed"]
    breaker.before_call("login")


def test_a_failed_trial_opens_the_circuit_again() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=10, clock=clock)
    breaker.failure()
    clock.now += 11
    breaker.before_call("login")
    breaker.failure()
    assert breaker.state == "open"


def test_zero_failures_disables_the_breaker() -> None:
    breaker = CircuitBreaker(failures=0)
    for _ in range(100):
        breaker.failure()
    breaker.before_call("login")
    assert breaker.state == "closed"


def test_a_trial_that_never_reports_is_given_up_after_the_cooldown() -> None:
    clock = Clock()
    breaker = CircuitBreaker(failures=1, cooldown=10, clock=clock)
    breaker.failure()
    clock.now += 10
    breaker.before_call("login")  # a trial whose caller vanished
    clock.now += 11
    breaker.before_call("login")  # a new trial, not "open" forever
