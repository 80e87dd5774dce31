"""``sso-bridge healthcheck``: ask the local bridge's /healthz, at the address serve binds.

For a container's HEALTHCHECK: it reads only the configuration file's ``server.bind`` (no
secrets, no IdP metadata), so it is cheap and follows the configured port.
"""

from __future__ import annotations

import os
import tomllib
import urllib.request
from pathlib import Path

from sso_bridge.settings import CONFIG_ENV, ServerSection

_WILDCARDS = {"", "0.0.0.0", "::", "[::]", "*"}


def bind_address(config_path: str | None, bind: str | None) -> str:
    """The bind string serve uses: --bind/$SSO_BRIDGE_BIND, else server.bind, else the default."""
    if bind:
        return bind
    path = config_path or os.environ.get(CONFIG_ENV)
    if not path:
        return ServerSection.bind
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise OSError(f"cannot read {path}: {exc}") from exc
    value = raw.get("server", {}).get("bind", ServerSection.bind)
    if not isinstance(value, str):
        raise OSError(f"{path}: 'server.bind' is not a string")
    return value


def health_url(bind: str) -> str:
    """http://<host>:<port>/healthz for a host:port bind; a wildcard host becomes loopback."""
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit() or bind.startswith(("unix:", "fd://")):
        raise OSError(f"cannot probe bind address {bind!r}: expected host:port")
    if host in _WILDCARDS:
        host = "[::1]" if host in ("::", "[::]") else "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}/healthz"


def probe(config_path: str | None, bind: str | None, timeout: float) -> str:
    """GET /healthz; return the URL when it answers 200, raise OSError otherwise."""
    url = health_url(bind_address(config_path, bind))
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            status = reply.status
    except OSError as exc:
        raise OSError(f"{url}: {getattr(exc, 'reason', exc)}") from exc
    if status != 200:
        raise OSError(f"{url} answered {status}")
    return url
