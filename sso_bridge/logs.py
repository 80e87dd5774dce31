"""Logging, configured once: a request id on every line, optional JSON, and the audit log.

What is never logged: SAML XML, passwords, private keys, Sakai session ids. The Sakai client
and the SAML layer keep them out of their messages; this module adds no request data but the id.

Every line, text or JSON, the audit log's too, has its control characters escaped
(:func:`escape_controls`): a newline inside an XML namespace, a parser message or an EID an IdP
sent cannot start a forged log line, and a bidi override cannot disguise one.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import threading
import time
import unicodedata
from typing import Any, TextIO

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")
_configured = False


_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def escape_controls(text: str) -> str:
    """``text`` with every control, format (bidi, zero-width) and line/paragraph separator
    character written as an escape (``\\n``, ``\\x1b``, ``\\u202e``)."""
    if text.isprintable():  # the common case: nothing to do (printable excludes all of those)
        return text
    return "".join(_escape(c) if unicodedata.category(c) in _CONTROL_CATEGORIES else c
                   for c in text)


def _escape(char: str) -> str:
    code = ord(char)
    return _ESCAPES.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class TextFormatter(logging.Formatter):
    """The text format, one line per record (a traceback's newlines escaped too)."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        return escape_controls(super().format(record))


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
        return json.dumps(_escaped(line))


def _escaped(line: dict[str, Any]) -> dict[str, Any]:
    """String values escaped, so a reader that decodes the JSON prints no forged line."""
    return {k: escape_controls(v) if isinstance(v, str) else v for k, v in line.items()}


def make_handler(as_json: bool = False, stream: TextIO | None = None) -> logging.Handler:
    """The handler :func:`configure` installs: request ids, the chosen format, escaping."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    return handler


def configure(level: str = "INFO", as_json: bool = False) -> None:
    global _configured
    if _configured:
        return
    root = logging.getLogger("sso_bridge")
    root.addHandler(make_handler(as_json))
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
            self._stream.write(json.dumps(_escaped(line)) + "\n")
            self._stream.flush()
