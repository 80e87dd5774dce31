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

With ``server.ops_bind``, a second granian (one worker) in a child process serves the same
built app on the operations port, where only ``/readyz``, ``/metrics`` and ``/healthz`` answer.

granian keeps no control socket: no ``~/.gunicorn/gunicorn.ctl`` shared by every instance.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sso_bridge import logs
from sso_bridge.errors import ConfigError
from sso_bridge.settings import SECRET_NAMES, Settings
from sso_bridge.web.ops_access import OPS_PORT

ACCESS_FORMAT = '%(addr)s "%(method)s %(path)s" %(status)d %(dt_ms).0fms'


class _NoThreadsAdvice(logging.Filter):
    """granian warns at every start when a worker has more threads than 2 × CPUs + 1: the
    bridge's threads wait on Sakai most of the time, by design (``server.threads``)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Configuration allows spawning up to")


class AccessFormatter(logging.Formatter):
    """granian's access line, with control characters escaped."""

    def format(self, record: logging.LogRecord) -> str:
        return logs.escape_controls(super().format(record))


# granian's logging: its own lines and the access line, on standard output.
LOG_CONFIG: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "generic": {"()": "logging.Formatter", "fmt": "%(asctime)s %(levelname)s granian: "
                    "%(message)s"},
        "access": {"()": AccessFormatter, "fmt": "%(message)s"},
    },
    "filters": {"no_threads_advice": {"()": _NoThreadsAdvice}},
    "handlers": {
        "console": {"formatter": "generic", "class": "logging.StreamHandler",
                    "stream": "ext://sys.stdout", "filters": ["no_threads_advice"]},
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


def parse_bind(bind: str, key: str = "server.bind") -> dict[str, Any]:
    """``host:port``, ``[v6]:port`` or ``unix:/path`` as granian's address arguments."""
    if bind.startswith("unix:"):
        return {"uds": Path(bind[5:])}
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError([f"'{key}': expected host:port or unix:/path, got {bind!r}"])
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
        "websockets": False,
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
    ops_options = _ops_options(options, settings.server.ops_bind)
    multiprocessing.set_start_method("fork", force=True)  # workers inherit the built app
    server = MPServer("sso_bridge.wsgi:app", **options)
    server.on_startup(_freeze)
    server.on_shutdown(_remove_owned_metrics_dir)
    _scrub_secrets()
    if ops_options:
        ops_pid = _fork_ops_server(app, ops_options)
        server.on_shutdown(lambda: _stop_child(ops_pid, settings.server.graceful_timeout_seconds))
    loader: Callable[[str], Any] = lambda _target: app  # noqa: E731
    server.serve(target_loader=loader)


def _ops_options(options: dict[str, Any], ops_bind: str) -> dict[str, Any] | None:
    """``server.ops_bind``'s granian: one worker, two threads; the bind checked free now."""
    if not ops_bind:
        return None
    address = parse_bind(ops_bind, "server.ops_bind")
    if "port" in address:
        family = socket.AF_INET6 if ":" in address["address"] else socket.AF_INET
        try:
            with socket.socket(family) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                probe.bind((address["address"], address["port"]))
        except OSError as exc:
            raise ConfigError([f"'server.ops_bind': cannot listen on {ops_bind}: "
                               f"{exc.strerror}"]) from exc
    kept = {k: v for k, v in options.items() if k not in ("address", "port", "uds")}
    return {**kept, **address, "workers": 1, "blocking_threads": 2, "backpressure": 32}


def _fork_ops_server(app: Any, options: dict[str, Any]) -> int:
    """The operations port: a second granian in a child process, serving the same built app
    with every request marked as arriving there (``web.ops_access`` routes by that mark)."""
    from granian.server import MPServer

    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        _die_with_parent()
        server = MPServer("sso_bridge.wsgi:app", **options)
        server.on_startup(_freeze)
        server.serve(target_loader=lambda _target: ops_port(app))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    except BaseException:  # noqa: BLE001 - a child process must never return into the parent's code
        logging.getLogger("sso_bridge.server").exception("the operations server failed")
        code = 1
    os._exit(code)


def ops_port(app: Any) -> Callable[[dict[str, Any], Any], Any]:
    """``app``, with each request marked as having come in on ``server.ops_bind``."""
    def wsgi(environ: dict[str, Any], start_response: Any) -> Any:
        environ[OPS_PORT] = True
        return app(environ, start_response)
    return wsgi


def _die_with_parent() -> None:
    """Linux: the operations server gets SIGTERM if ``serve`` dies without stopping it."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _stop_child(pid: int, grace: float) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace + 5
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
