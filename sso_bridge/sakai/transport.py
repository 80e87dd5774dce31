"""A lean keep-alive HTTP/1.1 client for Sakai's web services.

The bridge makes one to five small POSTs to one Sakai host per login. ``requests`` spent about
0.8 ms of CPU on each, ``http.client`` still about 0.2 ms, much of it parsing four or five
reply headers with the ``email`` package. This transport writes the request itself and reads
the reply from a buffered socket: about 0.1 ms per call, the kernel's share included.

What it does, and no more: one persistent connection per thread (TLS with hostname checks
when the URL is https, against the system's trust store or the CAs the admin names), an
explicit connect timeout and read timeout, replies framed by ``Content-Length``, by chunked
transfer coding or by the server closing the connection, interim 1xx replies skipped, a cap on
the status line, on the headers and on the body. No cookies (the ``Set-Cookie`` of Sakai's
login is never stored or sent back), no redirects, no proxies, no compression.

A connection idle for longer than ``idle_seconds`` is not reused (below Tomcat's default
keep-alive timeout of 20 s), nor one on which the server sent anything unasked (a 408, or its
close), so a request is rarely sent on a connection the server already closed; when that still
happens the error is :class:`TransportError` like any other failure,
and the caller decides whether the call is safe to repeat. A reply the transport cannot frame
is ``TransportError("broken")``, and its connection is never used again.
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_REPLY_BYTES = 1024 * 1024
MAX_LINE_BYTES = 8192
"""The status line, each header line and each chunk-size line."""
MAX_HEADERS = 100
MAX_CHUNKS = 10_000
"""Tomcat sends chunks of about 8 kB: a 1 MB reply is some 130 of them."""
_HEX_DIGITS = b"0123456789abcdefABCDEF"


class TransportError(Exception):
    """The request got no complete HTTP answer. ``kind``: timeout, connect or broken."""

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.kind = kind


class ReplyTooLarge(Exception):
    pass


class _Unframed(Exception):
    """The reply does not follow HTTP/1.1 framing (or the connection ended inside it)."""


class _Reader:
    """The receiving side of a connection: lines and exact sizes out of one buffer.

    Bytes already handed out are dropped from the front of the buffer only now and then, so
    a reply cut into many small pieces costs time in proportion to its size.
    """

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self._start = 0  # where the unread bytes begin

    def readline(self, limit: int) -> bytes:
        """Up to and including the next line feed; ``limit`` bytes at most; less at the end."""
        while True:
            end = self._buffer.find(b"\n", self._start, self._start + limit)
            if end >= 0:
                return self._take(end + 1 - self._start)
            if self._unread() >= limit or not self._fill():
                return self._take(min(limit, self._unread()))

    def read(self, size: int) -> bytes:
        """``size`` bytes, or fewer if the server closed first."""
        while self._unread() < size and self._fill():
            pass
        return self._take(min(size, self._unread()))

    def holds_data(self) -> bool:
        return self._unread() > 0

    def _unread(self) -> int:
        return len(self._buffer) - self._start

    def _fill(self) -> bool:
        if self._start > 65536 and self._start * 2 > len(self._buffer):
            del self._buffer[:self._start]
            self._start = 0
        chunk = self._sock.recv(65536)
        self._buffer += chunk
        return bool(chunk)

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[self._start:self._start + size])
        self._start += size
        return data


@dataclass(eq=False)  # one per socket: hashed and compared by identity
class _Connection:
    sock: socket.socket
    reader: _Reader
    last_used: float

    def has_unread(self) -> bool:
        """Whether the server sent something nobody asked for (a 408 before it closed an idle
        connection, the close itself, or bytes after its reply): a request sent now could read
        that as its answer."""
        if self.reader.holds_data():
            return True
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        poll = select.poll()
        poll.register(self.sock, select.POLLIN)
        return bool(poll.poll(0))

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.close()


class Transport:
    def __init__(self, base_url: str, *, connect_timeout: float, read_timeout: float,
                 idle_seconds: float = 4.0, ca_file: str = "") -> None:
        """``ca_file``: trust only the CA certificates in this PEM file for https (an
        internal CA); empty: the system's trust store. OSError or ssl.SSLError if it does
        not load."""
        parts = urlsplit(base_url)
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port or (443 if self._https else 80)
        self._prefix = parts.path.rstrip("/")
        host = f"[{self._host}]" if ":" in self._host else self._host
        default_port = self._port == (443 if self._https else 80)
        self._host_header = host if default_port else f"{host}:{self._port}"
        self._connect_timeout, self._read_timeout = connect_timeout, read_timeout
        self._idle_seconds = idle_seconds
        self._ssl = ssl.create_default_context(cafile=ca_file or None) if self._https else None
        self._local = threading.local()
        self._all: set[_Connection] = set()
        self._lock = threading.Lock()

    def post(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body``; return the status and the (capped) reply body."""
        conn = self._connection()
        lines = [f"POST {self._prefix}{path} HTTP/1.1", f"Host: {self._host_header}",
                 *(f"{name}: {value}" for name, value in headers.items()),
                 f"Content-Length: {len(body)}", "", ""]
        try:
            conn.sock.sendall("\r\n".join(lines).encode("latin-1") + body)
            status, data, keep_alive = _read_reply(conn.reader)
        except TimeoutError as exc:
            self._discard(conn)
            raise TransportError("timeout", "no answer within the read timeout") from exc
        except ReplyTooLarge:
            self._discard(conn)
            raise
        except (_Unframed, OSError, ValueError) as exc:
            self._discard(conn)
            raise TransportError("broken", f"{type(exc).__name__}: {exc}"[:200]) from exc
        if keep_alive:
            conn.last_used = time.monotonic()
        else:
            self._discard(conn)
        return status, data

    def _connection(self) -> _Connection:
        current: _Connection | None = getattr(self._local, "current", None)
        if current is not None and time.monotonic() - current.last_used < self._idle_seconds \
                and not current.has_unread():
            return current
        if current is not None:
            self._discard(current)
        conn = self._open()
        self._local.current = conn
        with self._lock:
            self._all.add(conn)
        return conn

    def _open(self) -> _Connection:
        try:
            sock = socket.create_connection((self._host, self._port),
                                            timeout=self._connect_timeout)
        except TimeoutError as exc:
            raise TransportError("timeout", "no connection within the connect timeout") from exc
        except OSError as exc:
            raise TransportError("connect", f"cannot connect ({type(exc).__name__})") from exc
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._ssl is not None:
                sock = self._ssl.wrap_socket(sock, server_hostname=self._host)
        except TimeoutError as exc:
            sock.close()
            raise TransportError("timeout", "no TLS handshake within the connect timeout") \
                from exc
        except OSError as exc:  # ssl.SSLError included: a certificate that does not verify
            sock.close()
            raise TransportError("connect", f"TLS failed ({type(exc).__name__}: "
                                            f"{getattr(exc, 'reason', None) or exc})") from exc
        sock.settimeout(self._read_timeout)
        return _Connection(sock, _Reader(sock), time.monotonic())

    def _discard(self, conn: _Connection) -> None:
        conn.close()
        with self._lock:
            self._all.discard(conn)
        if getattr(self._local, "current", None) is conn:
            self._local.current = None

    def close(self) -> None:
        with self._lock:
            connections, self._all = list(self._all), set()
        for conn in connections:
            conn.close()


# --- reading a reply (RFC 9112) ------------------------------------------------------------


def _read_reply(reader: _Reader) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection may carry another request)."""
    version, status = _status_line(reader)
    while 100 <= status < 200:  # interim replies (100 Continue, 103 Early Hints): skipped
        _headers(reader)
        version, status = _status_line(reader)
    headers = _headers(reader)
    connection = {t.strip() for t in headers.get(b"connection", b"").lower().split(b",")}
    keep_alive = b"close" not in connection if version == b"HTTP/1.1" else \
        b"keep-alive" in connection
    if status in (204, 304):
        return status, b"", keep_alive
    coding = headers.get(b"transfer-encoding")
    if coding is not None:
        if coding.lower().rsplit(b",", 1)[-1].strip() != b"chunked":
            raise _Unframed("a transfer coding other than chunked, without a length")
        # With a Content-Length as well, the coding wins (RFC 9112 §6.3), and the connection
        # is not trusted with another request.
        return status, _chunked(reader), keep_alive and b"content-length" not in headers
    length = headers.get(b"content-length")
    if length is not None:
        if not length.isdigit():
            raise _Unframed("Content-Length is not a number")
        size = int(length)
        if size > MAX_REPLY_BYTES:
            raise ReplyTooLarge(f"reply of {size} bytes, over {MAX_REPLY_BYTES}")
        return status, _exactly(reader, size), keep_alive
    body = reader.read(MAX_REPLY_BYTES + 1)  # no length: the server closes at the end
    if len(body) > MAX_REPLY_BYTES:
        raise ReplyTooLarge(f"reply over {MAX_REPLY_BYTES} bytes")
    return status, body, False


def _line(reader: _Reader) -> bytes:
    line = reader.readline(MAX_LINE_BYTES + 1)
    if len(line) > MAX_LINE_BYTES:
        raise _Unframed(f"a line of the reply is longer than {MAX_LINE_BYTES} bytes")
    if not line.endswith(b"\n"):
        raise _Unframed("the connection closed before the reply was complete")
    return line


def _status_line(reader: _Reader) -> tuple[bytes, int]:
    parts = _line(reader).split(None, 2)
    if len(parts) < 2 or parts[0] not in (b"HTTP/1.1", b"HTTP/1.0") or \
            len(parts[1]) != 3 or not parts[1].isdigit():
        raise _Unframed("not an HTTP/1.x status line")
    return parts[0], int(parts[1])


def _headers(reader: _Reader) -> dict[bytes, bytes]:
    """Header names in lower case; a repeated header's values joined with commas."""
    headers: dict[bytes, bytes] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _line(reader)
        if line in (b"\r\n", b"\n"):
            return headers
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise _Unframed("a malformed header line")
        name, value = name.lower(), value.strip()
        if name not in headers:
            headers[name] = value
        elif name == b"content-length":
            if headers[name] != value:
                raise _Unframed("two different Content-Length headers")
        else:
            headers[name] += b", " + value
    raise _Unframed(f"more than {MAX_HEADERS} headers")


def _chunked(reader: _Reader) -> bytes:
    body = bytearray()
    for _ in range(MAX_CHUNKS + 1):
        size_field = _line(reader).split(b";", 1)[0].strip()  # chunk extensions are ignored
        if not size_field or size_field.strip(_HEX_DIGITS) or len(size_field) > 16:
            raise _Unframed("a chunk size that is not hexadecimal")
        size = int(size_field, 16)
        if size == 0:
            _headers(reader)  # the trailer section, read and ignored
            return bytes(body)
        if len(body) + size > MAX_REPLY_BYTES:
            raise ReplyTooLarge(f"chunked reply over {MAX_REPLY_BYTES} bytes")
        body += _exactly(reader, size)
        if _line(reader) not in (b"\r\n", b"\n"):
            raise _Unframed("a chunk longer than its size")
    raise _Unframed(f"a reply in more than {MAX_CHUNKS} chunks")


def _exactly(reader: _Reader, size: int) -> bytes:
    data = reader.read(size)
    if len(data) != size:
        raise _Unframed("the connection closed inside the reply body")
    return data
