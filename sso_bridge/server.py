"""Running the bridge under granian, configured from the settings (and SSO_BRIDGE_* env).

granian (a maintained Rust HTTP server with a WSGI interface) speaks HTTP; its workers are
forked from this process after the app was built once, so a configuration error stops the
start before any worker exists. What the bridge adds around it:

* the app built once and frozen out of garbage collection before the fork (``_freeze``);
* a lean access line, ``client "METHOD /path" status <ms>ms``: the path only, never the query
  string, control characters escaped (``AccessFormatter``);
* the process environment's secrets kept out of every request's WSGI environ: granian copies
  ``os.environ`` into each one, and the bridge read its secrets at start-up (``_scrub_secrets``);
* Prometheus' multiprocess folder, with dead workers' files marked in ``metrics``;
* a worker that dies is replaced; SIGTERM stops accepting and finishes in-flight requests
  (requests already accepted wait for a thread, so ``backpressure`` stays above ``threads``).

granian keeps no control socket: no ``~/.gunicorn/gunicorn.ctl`` shared by every instance.
"""

from __future__ import annotations

import gc
import logging
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sso_bridge.errors import ConfigError
from sso_bridge.settings import SECRET_NAMES, Settings

ACCESS_FORMAT = '%(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).0fms'
# C0, DEL and C1 controls, escaped in access lines (a decoded %0A in a path forges a line).
_CONTROLS = {c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))}


class AccessFormatter(logging.Formatter):
    """granian's access line, with control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return super().format(record).translate(_CONTROLS)


# granian's logging: its own lines and the access line, on standard output.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "generic": {"()": "logging.Formatter", "fmt": "%(asctime)s %(levelname)s granian: "
                    "%(message)s"},
        "access": {"()": AccessFormatter, "fmt": "%(message)s"},
    },
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler",
                    "stream": "ext://sys.stdout"},
        "access": {"formatter": "access", "class": "logging.StreamHandler",
                   "stream": "ext://sys.stdout"},
    },
    "loggers": {
        "_granian": {"handlers": ["console"], "level": "INFO", "propagate": False},
        "granian.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
    },
}


_owned_metrics_dir: list[str] = []


def prepare_metrics_dir() -> None:
    """Give the workers a fresh multiprocess metrics folder (before prometheus is imported).

    A folder the bridge created itself is removed again when the server exits.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="sso-bridge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _owned_metrics_dir.append(folder)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def _remove_owned_metrics_dir() -> None:
    for folder in _owned_metrics_dir:
        shutil.rmtree(folder, ignore_errors=True)


def _freeze() -> None:
    """Before the workers fork: the preloaded app's objects are kept out of garbage collection.

    They live as long as the process, yet every full collection in every worker would walk
    them again (and touch their pages, undoing the memory the fork shares): about 35 µs of
    CPU per login.
    """
    gc.collect()
    gc.freeze()


def _scrub_secrets(environ: Any = os.environ) -> None:
    """granian copies the process environment into every request's WSGI environ: the secrets
    the settings read at start-up (``SSO_BRIDGE_SP_KEY`` ...) leave it before serving."""
    for name in SECRET_NAMES.values():
        environ.pop(name, None)


def parse_bind(bind: str) -> dict[str, Any]:
    """``host:port``, ``[v6]:port`` or ``unix:/path`` as granian's address arguments."""
    if bind.startswith("unix:"):
        return {"uds": Path(bind[5:])}
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError([f"'server.bind': expected host:port or unix:/path, got {bind!r}"])
    return {"address": host.strip("[]") or "0.0.0.0", "port": int(port)}  # noqa: S104


def granian_options(settings: Settings, *, bind: str | None = None,
                    workers: int | None = None) -> dict[str, Any]:
    """The granian server's arguments for these settings (``SSO_BRIDGE_*`` env overrides)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings

    s = settings.server
    env = os.environ
    threads = int(env.get("SSO_BRIDGE_THREADS") or s.threads)
    return {
        **parse_bind(bind or env.get("SSO_BRIDGE_BIND") or s.bind),
        "interface": Interfaces.WSGI,
        "workers": workers or int(env.get("SSO_BRIDGE_WORKERS") or s.worker_count()),
        "blocking_threads": threads,
        # Requests beyond the threads are accepted and queue in the worker, so SIGTERM
        # finishes them too; connections never accepted would be reset.
        "backpressure": max(threads * 16, 128),
        "http1_settings": HTTP1Settings(
            header_read_timeout=min(max(s.timeout_seconds, 1), 60) * 1000),
        "workers_kill_timeout": s.graceful_timeout_seconds,
        "respawn_failed_workers": True,
        "respawn_interval": 1.0,
        # The server's own lines (workers started, died, replaced; shutdown) are rare: always
        # logged, whatever ``logging.level`` asks of the bridge's.
        "log_level": "info",
        "log_dictconfig": LOG_CONFIG,
        "log_access": True,
        "log_access_format": ACCESS_FORMAT,
    }


def run_granian(app: Any, settings: Settings, *, bind: str | None = None,
                workers: int | None = None) -> None:
    """Serve ``app`` (built once, here) with granian's forked workers until SIGTERM/SIGINT."""
    from granian.server import MPServer

    options = granian_options(settings, bind=bind, workers=workers)
    multiprocessing.set_start_method("fork", force=True)  # workers inherit the built app
    server = MPServer("sso_bridge.wsgi:app", **options)
    server.on_startup(_freeze)
    server.on_shutdown(_remove_owned_metrics_dir)
    _scrub_secrets()
    loader: Callable[[str], Any] = lambda _target: app  # noqa: E731
    server.serve(target_loader=loader)
