"""A circuit breaker in front of Sakai, so a Sakai outage costs learners no waiting.

Closed: calls go through; ``failures`` consecutive unavailability errors (refused, timed out,
5xx without SOAP) open it. Open: calls fail at once with :class:`SakaiUnavailable` for
``cooldown`` seconds. Then one trial call is let through (half-open): success closes the
circuit, failure opens it again. A SOAP fault is an answer, so it counts as Sakai being up.
A trial that ends in neither (a bug, an error before anything was sent) is :meth:`abandon`-ed,
and a trial that never reports at all is given up after ``cooldown``: either way the next call
is the trial, so the circuit can never stay open until a restart.
The state is per worker process: each worker learns of an outage from its own few failures.

The breaker also backs off an admin login that Sakai refused (wrong password, login disabled,
address not allowed, a serverId that disagrees): for a while every call gets that same refusal
at once, without a fresh login (1 s, doubling, at most ``cooldown``), so a wrong password costs
Sakai one login attempt per back-off period, not one per learner and per readiness probe (an
account lock-out risk).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sso_bridge.errors import SakaiError, SakaiUnavailable

FIRST_LOGIN_BACKOFF = 1.0


class CircuitBreaker:
    def __init__(self, failures: int = 5, cooldown: float = 30.0,
                 clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[str], None] | None = None) -> None:
        self.threshold = failures
        self.cooldown = cooldown
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_running = False
        self._trial_started = 0.0
        self._refusal: SakaiError | None = None
        self._refusals = 0
        self._refused_until = 0.0

    @property
    def state(self) -> str:
        with self._lock:
            return self._state()

    def _state(self) -> str:
        if self._opened_at is None:
            return "closed"
        if self._clock() - self._opened_at < self.cooldown:
            return "open"
        return "half-open"

    def before_call(self, operation: str) -> None:
        """Raise SakaiUnavailable at once while the circuit is open."""
        if self.threshold <= 0:
            return
        with self._lock:
            state = self._state()
            if state == "closed":
                return
            if state == "half-open" and (not self._trial_running or
                                         self._clock() - self._trial_started > self.cooldown):
                self._trial_running, self._trial_started = True, self._clock()  # the trial
                return
            assert self._opened_at is not None
            wait = max(self.cooldown - (self._clock() - self._opened_at), 0.0)
        raise SakaiUnavailable(f"Sakai {operation} not attempted: Sakai failed "
                               f"{self.threshold} times in a row; next try in {wait:.0f} s")

    def success(self) -> None:
        with self._lock:
            was_open = self._opened_at is not None
            self._failures, self._opened_at, self._trial_running = 0, None, False
        if was_open:
            self._notify("closed")

    def abandon(self) -> None:
        """The call ended without telling whether Sakai is up: a trial it was is released."""
        with self._lock:
            self._trial_running = False

    def failure(self) -> None:
        if self.threshold <= 0:
            return
        with self._lock:
            self._failures += 1
            opening = self._trial_running or (self._opened_at is None
                                              and self._failures >= self.threshold)
            if opening:
                self._opened_at, self._trial_running = self._clock(), False
        if opening:
            self._notify("open")

    def _notify(self, state: str) -> None:
        if self._on_change is not None:
            self._on_change(state)

    # --- admin login back-off --------------------------------------------------------------

    def before_login(self) -> None:
        """Raise the admin login's last refusal again while its back-off lasts."""
        with self._lock:
            refusal, left = self._refusal, self._refused_until - self._clock()
        if refusal is not None and left > 0:
            raise type(refusal)(f"{refusal.detail} (admin login not retried for {left:.0f} s)")

    def login_refused(self, error: SakaiError) -> None:
        with self._lock:
            self._refusals += 1
            backoff = min(FIRST_LOGIN_BACKOFF * 2 ** min(self._refusals - 1, 16),
                          max(self.cooldown, FIRST_LOGIN_BACKOFF))
            self._refusal, self._refused_until = error, self._clock() + backoff

    def login_ok(self) -> None:
        with self._lock:
            self._refusal, self._refusals = None, 0
