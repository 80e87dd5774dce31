"""Logging, configured once: a request id on every line, optional JSON, and the audit log.

What is never logged: SAML XML, passwords, private keys, Sakai session ids. The Sakai client
and the SAML layer keep them out of their messages; this module adds no request data but the id.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import time
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_configured = False


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        for key in ("error_code", "error_id"):
            if hasattr(record, key):
                line[key] = getattr(record, key)
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line)


def configure(level: str = "INFO", as_json: bool = False) -> None:
    global _configured
    if _configured:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if as_json else logging.Formatter(
        "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"))
    root = logging.getLogger("sso_bridge")
    root.addHandler(handler)
    root.setLevel(level)
    root.propagate = False
    _configured = True


class AuditLog:
    """One JSON line per login attempt, to a file (appended) or standard output."""

    FIELDS = ("request_id", "idp", "eid", "outcome", "error_code", "account_created",
              "account_updated", "client")

    def __init__(self, path: str = "", stream: TextIO | None = None) -> None:
        self._lock = threading.Lock()
        self._stream = stream or (open(path, "a", encoding="utf-8", buffering=1)  # noqa: SIM115
                                  if path else sys.stdout)

    def record(self, **fields: Any) -> None:
        line: dict[str, Any] = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                                "event": "login"}
        line.update({k: fields.get(k) for k in self.FIELDS})
        with self._lock:
            self._stream.write(json.dumps(line) + "\n")
            self._stream.flush()
