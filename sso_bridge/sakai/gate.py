"""Storm protection in front of Sakai: a per-login deadline and a bound on concurrent calls.

* **Deadline** (``sakai.login_deadline_seconds``): :meth:`CallGate.login` opens a window that
  covers every Sakai call a login makes (waiting for a slot included). Each call's connect and
  read timeouts are cut to what is left; when nothing is left the login fails with
  :class:`SakaiSlow`, and the learner gets the "Sakai is slow" page instead of a proxy timeout.
* **Bound** (``sakai.max_concurrent_calls``): at most that many Sakai calls are in flight from
  this worker process at once; the others wait here, in the bridge, instead of piling onto
  Sakai. With several worker processes the bound at Sakai is their sum.

The window lives in a context variable, so each request thread has its own.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
import time
from collections.abc import Iterator

from sso_bridge.errors import SakaiSlow

_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("sakai_deadline",
                                                                         default=None)


class CallGate:
    def __init__(self, max_concurrent: int = 0, deadline_seconds: float = 0.0) -> None:
        """``max_concurrent`` 0: no bound; ``deadline_seconds`` 0: no deadline."""
        self.max_concurrent = max_concurrent
        self.deadline_seconds = deadline_seconds
        self._slots = threading.BoundedSemaphore(max_concurrent) if max_concurrent > 0 else None
        self._lock = threading.Lock()
        self.in_flight = 0
        self.most_in_flight = 0

    @contextlib.contextmanager
    def login(self) -> Iterator[None]:
        """Every Sakai call inside shares one deadline (none when ``deadline_seconds`` is 0)."""
        deadline = time.monotonic() + self.deadline_seconds if self.deadline_seconds > 0 \
            else None
        token = _DEADLINE.set(deadline)
        try:
            yield
        finally:
            _DEADLINE.reset(token)

    @staticmethod
    def deadline() -> float | None:
        return _DEADLINE.get()

    def check(self, operation: str) -> None:
        """SakaiSlow if the current login's deadline has passed."""
        deadline = _DEADLINE.get()
        if deadline is not None and time.monotonic() >= deadline:
            raise SakaiSlow(f"Sakai {operation} not attempted: the login's "
                            f"{self.deadline_seconds:g} s for Sakai calls are used up")

    @contextlib.contextmanager
    def slot(self, operation: str) -> Iterator[None]:
        """Hold one of the concurrent-call slots while the call runs."""
        self.check(operation)
        if self._slots is not None:
            deadline = _DEADLINE.get()
            wait = None if deadline is None else max(deadline - time.monotonic(), 0.0)
            if not self._slots.acquire(timeout=wait):
                raise SakaiSlow(f"Sakai {operation} not attempted: {self.max_concurrent} calls "
                                f"were in flight until the login's deadline")
        with self._lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            yield
        finally:
            with self._lock:
                self.in_flight -= 1
            if self._slots is not None:
                self._slots.release()
