"""Running the bridge under gunicorn, configured from the settings (and SSO_BRIDGE_* env)."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from gunicorn.app.base import BaseApplication

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
        # Logged request lines carry the path only: no query string (the url hand-off's
        # session id is in a response Location, never in a request line anyway).
        "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms',
        "errorlog": "-",
        "child_exit": _child_exit,
        "on_exit": _on_exit,
    }


def run_gunicorn(app: Any, settings: Settings, *, bind: str | None = None,
                 workers: int | None = None) -> None:
    _Gunicorn(app, gunicorn_options(settings, bind=bind, workers=workers)).run()
