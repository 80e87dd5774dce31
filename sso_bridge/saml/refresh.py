"""Periodic refresh of the IdP's metadata, keeping the last good copy.

IdPs roll their signing keys by publishing the new certificate in their metadata. Every
``idp.metadata_refresh_seconds`` each worker loads the metadata again (file or URL) with the
same checks as at start-up; a good copy replaces the trusted one atomically, a bad one (fetch
error, not parseable, expired, no signing key) is logged and counted, and the last good copy
stays in force. Readiness reports the metadata's age and turns red if it expires.

The refresh runs in a daemon thread of the worker, started on the first request (threads do not
survive gunicorn's fork, so one started in the master would not run in the workers).
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from sso_bridge.errors import BridgeError, ConfigError
from sso_bridge.saml.metadata import IdpMetadata

log = logging.getLogger("sso_bridge.saml")


class MetadataRefresher:
    def __init__(self, load: Callable[[], IdpMetadata], apply: Callable[[IdpMetadata], None],
                 interval: float, on_result: Callable[[bool], None] | None = None,
                 name: str = "idp") -> None:
        """``name``: the IdP's settings table, in logs and the thread's name."""
        self._load, self._apply = load, apply
        self.name = name
        self.interval = interval
        self._on_result = on_result
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._stop = threading.Event()

    def refresh_now(self) -> bool:
        """Load and apply the metadata once; False (and the old copy kept) on any problem."""
        try:
            fresh = self._load()
            self._apply(fresh)
        except (ConfigError, BridgeError) as exc:
            log.error("IdP metadata refresh of [%s] failed; keeping the last good copy: %s",
                      self.name, exc.detail)
            ok = False
        else:
            log.info("IdP metadata of [%s] refreshed from %s", self.name, fresh.source)
            ok = True
        if self._on_result is not None:
            self._on_result(ok)
        return ok

    def ensure_running(self) -> None:
        """Start this process's refresh thread if it is not running (cheap to call often)."""
        if self.interval <= 0 or (self._pid == os.getpid() and self._thread is not None
                                  and self._thread.is_alive()):
            return
        with self._lock:
            if self._pid == os.getpid() and self._thread is not None and self._thread.is_alive():
                return
            self._pid = os.getpid()
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name=f"metadata-{self.name}",
                                            daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.refresh_now()

    def stop(self) -> None:
        self._stop.set()
