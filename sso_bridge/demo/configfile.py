"""Writing a bridge configuration to disk, as an admin would (the demo stack and the tests)."""

from __future__ import annotations

import json
import re
import secrets
from pathlib import Path
from typing import Any

from sso_bridge.keys import generate


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(value)


def to_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = {k: v for k, v in data.items() if not isinstance(v, dict) or _inline(k, prefix)}
    tables = {k: v for k, v in data.items() if k not in scalars}
    lines = [f"[{prefix}]"] if prefix and scalars else []
    lines += [f"{_key(k)} = {toml_value(v)}" for k, v in scalars.items()]
    for name, table in tables.items():
        lines.append(to_toml(table, f"{prefix}.{name}" if prefix else name))
    return "\n".join(lines) + "\n"


def _key(key: str) -> str:
    """A bare TOML key, or a quoted one (a URI as the name of an entity attribute)."""
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key)


def _inline(key: str, prefix: str) -> bool:
    return key == "user_types"  # a table of free-form keys reads best inline


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict) and key != "user_types":
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def write_config(workdir: Path, *, base_url: str, sakai_url: str,
                 idp: dict[str, Any], extra: dict[str, Any] | None = None,
                 sakai_password: str = "admin",
                 server_id: str = "sakai") -> tuple[Path, dict[str, str]]:
    """Write SP keys and a bridge.toml into ``workdir``; return (config path, secret env)."""
    workdir.mkdir(parents=True, exist_ok=True)
    key, cert = workdir / "sp.key", workdir / "sp.crt"
    if not key.exists():
        generate(key, cert, common_name="bridge.test", bits=2048, days=30)
    data: dict[str, Any] = {
        "bridge": {"base_url": base_url},
        "sp": {"certificate_file": "sp.crt"},
        "idp": idp,
        "sakai": {"url": sakai_url, "admin_user": "admin", "server_id": server_id,
                  "cookie": {"secure": False},
                  "user_types": {"student": "student", "faculty": "maintain"}},
        "store": {"url": f"sqlite:///{workdir / 'state.sqlite3'}"},
    }
    data = merge(data, extra or {})
    path = workdir / "bridge.toml"
    path.write_text(to_toml(data))
    env = {"SSO_BRIDGE_SECRET_KEY": secrets.token_hex(32),
           "SSO_BRIDGE_SP_KEY_FILE": str(key),
           "SSO_BRIDGE_SAKAI_PASSWORD": sakai_password}
    return path, env
