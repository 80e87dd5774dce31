"""Running the bridge under gunicorn, configured from the settings (and SSO_BRIDGE_* env)."""

from __future__ import annotations

import gc
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from sso_bridge.logs import escape_controls
from sso_bridge.settings import Settings


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, app: Any, options: dict[str, Any]) -> None:
        self.application = app
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return self.application


class AccessLogger(Logger):  # type: ignore[misc]
    """gunicorn's logger, with a lean access line.

    The line is ``client "METHOD /path" status bytes <ms>ms``: the path only (decoded, so its
    control characters escaped: ``/%0A...`` forges no line), never the query string (the url
    hand-off's session id is in a response Location, never in a request line anyway).
    gunicorn's own ``access`` first builds a dictionary of every request header,
    response header and environ entry (about 0.1 ms of CPU per request) for a format that
    reads six of them.
    """

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        if not self.access_log_enabled:
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        millis = request_time.seconds * 1000 + request_time.microseconds // 1000
        self.access_log.info('%s "%s %s" %s %s %sms', environ.get("REMOTE_ADDR", "-"),
                             escape_controls(str(environ.get("REQUEST_METHOD"))),
                             escape_controls(str(environ.get("PATH_INFO"))), status,
                             getattr(resp, "sent", None), millis)


_owned_metrics_dir: list[str] = []


def prepare_metrics_dir() -> None:
    """Give the workers a fresh multiprocess metrics folder (before prometheus is imported).

    A folder the bridge created itself is removed again when gunicorn exits.
    """
    folder = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not folder:
        folder = tempfile.mkdtemp(prefix="sso-bridge-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder
        _owned_metrics_dir.append(folder)
    for stale in Path(folder).glob("*.db"):
        stale.unlink()


def _on_exit(server: Any) -> None:
    for folder in _owned_metrics_dir:
        shutil.rmtree(folder, ignore_errors=True)


def _when_ready(server: Any) -> None:
    """Before the workers fork: the preloaded app's objects are kept out of garbage collection.

    They live as long as the process, yet every full collection in every worker would walk
    them again (and touch their pages, undoing the memory the fork shares): about 35 µs of
    CPU per login.
    """
    gc.collect()
    gc.freeze()


def _child_exit(server: Any, worker: Any) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)  # type: ignore[no-untyped-call]


def gunicorn_options(settings: Settings, *, bind: str | None = None,
                     workers: int | None = None) -> dict[str, Any]:
    s = settings.server
    env = os.environ
    return {
        "bind": bind or env.get("SSO_BRIDGE_BIND") or s.bind,
        "workers": workers or int(env.get("SSO_BRIDGE_WORKERS") or s.worker_count()),
        "threads": int(env.get("SSO_BRIDGE_THREADS") or s.threads),
        "worker_class": "gthread",
        "timeout": s.timeout_seconds,
        "graceful_timeout": s.graceful_timeout_seconds,
        "keepalive": 5,
        # The app is built (and the configuration checked) once, before the workers fork.
        "preload_app": True,
        "forwarded_allow_ips": "*" if s.trusted_proxy_hops else "127.0.0.1",
        "accesslog": "-",
        "logger_class": AccessLogger,  # its access line: the path, no query string
        "errorlog": "-",
        "when_ready": _when_ready,
        "child_exit": _child_exit,
        "on_exit": _on_exit,
    }


def run_gunicorn(app: Any, settings: Settings, *, bind: str | None = None,
                 workers: int | None = None) -> None:
    _Gunicorn(app, gunicorn_options(settings, bind=bind, workers=workers)).run()
