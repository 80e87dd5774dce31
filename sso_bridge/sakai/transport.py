"""A lean keep-alive HTTP transport for Sakai's web services.

The bridge makes one to five small POSTs to one Sakai host per login; ``requests`` spent about
0.8 ms of CPU on each, most of it in machinery the bridge does not need (cookie jars, proxies,
redirects, hooks). This transport keeps one persistent ``http.client`` connection per thread,
with an explicit connect timeout and read timeout, a cap on the reply size, no cookies (the
``Set-Cookie`` of Sakai's login is never stored or sent back), no redirects and no proxies.

A connection idle for longer than ``idle_seconds`` is not reused (below Tomcat's default
keep-alive timeout of 20 s), so a request is rarely sent on a connection the server already
closed; when that still happens the error is :class:`TransportError` like any other failure,
and the caller decides whether the call is safe to repeat.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_REPLY_BYTES = 1024 * 1024


class TransportError(Exception):
    """The request got no complete HTTP answer. ``kind``: timeout, connect or broken."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class ReplyTooLarge(Exception):
    pass


@dataclass
class _Connection:
    conn: http.client.HTTPConnection
    last_used: float


class Transport:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 idle_seconds: float = 4.0) -> None:
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._idle_seconds = idle_seconds
        self._ssl = ssl.create_default_context() if self._https else None
        self._local = threading.local()
        self._all: set[http.client.HTTPConnection] = set()
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body``; return the status and the (capped) reply body."""
        conn = self._connection()
        try:
            conn.request("POST", self._prefix + path, body=body, headers=headers)
            reply = conn.getresponse()
            data = reply.read(MAX_REPLY_BYTES + 1)
        except TimeoutError as exc:
            self._discard(conn)
            raise TransportError("timeout", "no answer within the read timeout") from exc
        except (http.client.HTTPException, OSError) as exc:
            self._discard(conn)
            raise TransportError("broken", f"{type(exc).__name__}") from exc
        if len(data) > MAX_REPLY_BYTES:
            self._discard(conn)
            raise ReplyTooLarge(f"reply over {MAX_REPLY_BYTES} bytes")
        if reply.will_close:
            self._discard(conn)
        else:
            self._local.current.last_used = time.monotonic()
        return reply.status, data

    def _connection(self) -> http.client.HTTPConnection:
        current: _Connection | None = getattr(self._local, "current", None)
        if current is not None and time.monotonic() - current.last_used < self._idle_seconds:
            return current.conn
        if current is not None:
            self._discard(current.conn)
        conn = self._open()
        self._local.current = _Connection(conn, time.monotonic())
        with self._lock:
            self._all.add(conn)
        return conn

    def _open(self) -> http.client.HTTPConnection:
        conn: http.client.HTTPConnection
        if self._https:
            conn = http.client.HTTPSConnection(self._host, self._port, context=self._ssl,
                                               timeout=self._connect_timeout)
        else:
            conn = http.client.HTTPConnection(self._host, self._port,
                                              timeout=self._connect_timeout)
        try:
            conn.connect()
        except TimeoutError as exc:
            raise TransportError("timeout", "no connection within the connect timeout") from exc
        except OSError as exc:
            raise TransportError("connect", f"cannot connect ({type(exc).__name__})") from exc
        assert conn.sock is not None
        conn.sock.settimeout(self._read_timeout)
        conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def _discard(self, conn: http.client.HTTPConnection) -> None:
        conn.close()
        with self._lock:
            self._all.discard(conn)
        current = getattr(self._local, "current", None)
        if current is not None and current.conn is conn:
            self._local.current = None

    def close(self) -> None:
        with self._lock:
            connections, self._all = list(self._all), set()
        for conn in connections:
            conn.close()
