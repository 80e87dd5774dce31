"""The bridge's one HTTP stack (Sakai's web services, the IdP's metadata): urllib3's pool.

A thin keep-alive wrapper over :class:`urllib3.HTTPConnectionPool` that keeps what matters
and nothing more:

* a connection is reused only while the server has said nothing on it: urllib3 polls a pooled
  connection before lending it out (``is_connection_dropped``), so a 408 sent before the
  server closed an idle connection, the close itself, or bytes after a reply retire it; one
  idle for ``idle_seconds`` (below the keep-alive timeout of Tomcat, 20 s, and of Apache, 5 s)
  is not reused either;
* replies are read with ``preload_content=False`` and a bounded read: a declared length over
  ``max_reply_bytes`` is refused before reading, and so is a body that grows past it;
* TLS with hostname checks against the system's trust store, or only against the CA file
  given (an internal CA);
* explicit connect and read timeouts (the caller may shorten them per request, for a
  deadline);
* no redirects, no retries (the caller decides what may be sent again), no cookies (there is
  no jar: a ``Cookie`` header goes out only when the caller passes one), no proxies from the
  environment.

Every failure is :class:`TransportError` (``kind``: timeout, connect or broken) or
:class:`ReplyTooLarge`. urllib3's debug log line carries the request path: its query string is
cut off here, so a ``sakai.session`` parameter never reaches a log.
"""

from __future__ import annotations

import http.client
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
)
from urllib3.exceptions import SSLError as Urllib3SSLError

MAX_REPLY_BYTES = 1024 * 1024
IDLE_SECONDS = 4.0


class TransportError(Exception):
    """The request got no complete HTTP answer. ``kind``: timeout, connect or broken."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class ReplyTooLarge(Exception):
    pass


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    set_cookies: tuple[str, ...] = field(default=(), repr=False)
    """The raw ``Set-Cookie`` values (the caller decides; nothing is stored here)."""


class _QueryCut(logging.Filter):
    """urllib3 logs each request's URL at DEBUG: keep only its path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(a.split("?", 1)[0] if isinstance(a, str) else a
                                for a in record.args)
        return True


logging.getLogger("urllib3.connectionpool").addFilter(_QueryCut())


class _IdleLimit:
    """Mixed into urllib3's connection classes: not reused after ``IDLE_SECONDS`` idle."""

    sock: Any
    last_used = 0.0

    @property
    def is_connected(self) -> bool:
        if time.monotonic() - self.last_used > IDLE_SECONDS:
            return False
        return bool(super().is_connected)  # type: ignore[misc]

    def getresponse(self) -> Any:
        response = super().getresponse()  # type: ignore[misc]
        self.last_used = time.monotonic()
        return response


class _Http(_IdleLimit, HTTPConnection):
    pass


class _Https(_IdleLimit, HTTPSConnection):
    pass


class HttpClient:
    """Requests to one origin (scheme, host, port, and a path prefix). Thread-safe."""

    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 ca_file: str = "", max_reply_bytes: int = MAX_REPLY_BYTES,
                 pool_size: int = 16) -> None:
        """``ca_file``: trust only the CA certificates in this PEM file for https; empty: the
        system's trust store. OSError or ssl.SSLError if it does not load."""
        parts = urlsplit(base_url)
        self.prefix = parts.path.rstrip("/")
        self.max_reply_bytes = max_reply_bytes
        self.timeout = urllib3.Timeout(connect=connect_timeout, read=read_timeout)
        common: dict[str, Any] = {"timeout": self.timeout, "maxsize": pool_size,
                                  "block": False, "retries": False}
        self._pool: urllib3.HTTPConnectionPool
        if parts.scheme == "https":
            context = ssl.create_default_context(cafile=ca_file or None)
            pool = urllib3.HTTPSConnectionPool(parts.hostname or "", parts.port,
                                               ssl_context=context, **common)
            pool.ConnectionCls = _Https
            self._pool = pool
        else:
            self._pool = urllib3.HTTPConnectionPool(parts.hostname or "", parts.port, **common)
            self._pool.ConnectionCls = _Http

    def post(self, path: str, body: bytes, headers: dict[str, str],
             deadline: float | None = None) -> Reply:
        return self.request("POST", path, headers, body, deadline)

    def get(self, path: str, headers: dict[str, str] | None = None,
            deadline: float | None = None) -> Reply:
        return self.request("GET", path, headers or {}, None, deadline)

    def request(self, method: str, path: str, headers: dict[str, str], body: bytes | None,
                deadline: float | None = None) -> Reply:
        """One request; ``deadline`` (a ``time.monotonic()`` instant) caps both timeouts."""
        try:
            response = self._pool.urlopen(method, self.prefix + path, body=body,
                                          headers=headers, redirect=False, retries=False,
                                          preload_content=False, assert_same_host=False,
                                          timeout=self._timeout(deadline))
        except (ConnectTimeoutError, NewConnectionError, Urllib3SSLError) as exc:
            raise _connect_error(exc) from None
        except ReadTimeoutError:
            raise TransportError("timeout", "no answer within the read timeout") from None
        except (HTTPError, http.client.HTTPException, OSError) as exc:
            raise TransportError("broken", f"{type(exc).__name__}: {exc}"[:200]) from None
        try:
            data = self._read(response)
        finally:
            response.release_conn()
        return Reply(response.status, data, tuple(response.headers.getlist("Set-Cookie")))

    def _timeout(self, deadline: float | None) -> urllib3.Timeout:
        if deadline is None:
            return self.timeout
        left = max(deadline - time.monotonic(), 0.001)
        connect, read = self.timeout.connect_timeout, self.timeout.read_timeout
        return urllib3.Timeout(connect=min(float(connect or left), left),  # type: ignore[arg-type]
                               read=min(float(read or left), left))  # type: ignore[arg-type]

    def _read(self, response: Any) -> bytes:
        """The whole body, at most ``max_reply_bytes``; a connection left mid-reply is closed."""
        complete = False
        try:
            length = response.headers.get("Content-Length", "")
            if length.strip().isdigit() and int(length) > self.max_reply_bytes:
                raise ReplyTooLarge(f"reply of {int(length)} bytes, over {self.max_reply_bytes}")
            data = response.read(self.max_reply_bytes + 1, decode_content=False)
            if len(data) > self.max_reply_bytes or response.read(1, decode_content=False):
                raise ReplyTooLarge(f"reply over {self.max_reply_bytes} bytes")
            complete = True
            return bytes(data)
        except ReadTimeoutError:
            raise TransportError("timeout", "no answer within the read timeout") from None
        except (HTTPError, http.client.HTTPException, OSError) as exc:
            raise TransportError("broken", f"{type(exc).__name__}: {exc}"[:200]) from None
        finally:
            if not complete:
                response.close()  # closes the connection too: never lent out again

    def close(self) -> None:
        self._pool.close()


def _connect_error(exc: Exception) -> TransportError:
    if isinstance(exc, Urllib3SSLError):
        cause = exc.args[0] if exc.args else exc
        reason = getattr(cause, "reason", None) or cause
        return TransportError("connect", f"TLS failed ({type(cause).__name__}: {reason})"[:200])
    if isinstance(exc, NewConnectionError):
        return TransportError("connect", "cannot connect (refused, unreachable or DNS failure)")
    return TransportError("timeout", "no connection within the connect timeout")
