"""The guarantees of the bridge's HTTP stack (sso_bridge.httpclient, urllib3's pool) against
what a server really sends: a scripted server answers each request with exact bytes, and the
next request shows whether the connection was kept or dropped. What urllib3 and http.client
parse is theirs; what is tested here is what the bridge relies on: no request read against an
answer the server gave unasked, caps, timeouts, TLS, no cookies."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sso_bridge.httpclient import MAX_REPLY_BYTES, HttpClient, Reply, ReplyTooLarge, TransportError
from tests.sakai.tls import localhost_certificate, server_context

OK = b"HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\nok"


@dataclass
class Scripted:
    """A one-thread TCP server: reads each request whole, answers with the next reply.

    A reply is raw bytes, a list of byte pieces sent apart (with a pause between them), or
    None (no answer at all). After a reply flagged ``close`` the server hangs up.
    """

    replies: list[tuple[bytes | list[bytes] | None, bool]] = field(default_factory=list)
    requests: list[bytes] = field(default_factory=list)
    connections: int = 0
    tls: ssl.SSLContext | None = None
    pause: float = 0.02

    def __post_init__(self) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            try:
                if self.tls is not None:
                    conn = self.tls.wrap_socket(conn, server_side=True)
                self._talk(conn)
            except (OSError, ssl.SSLError):
                pass
            finally:
                conn.close()

    def _talk(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        while self.replies:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                line = reader.readline()
                if not line:
                    return
                head += line
            length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                           if line.lower().startswith(b"content-length:")), 0)
            self.requests.append(head + reader.read(length))
            reply, close = self.replies.pop(0)
            if reply is None:
                time.sleep(3)
                return
            for piece in reply if isinstance(reply, list) else [reply]:
                conn.sendall(piece)
                time.sleep(self.pause)
            if close:
                return

    def answer(self, *replies: bytes | list[bytes] | None, close: bool = False) -> None:
        self.replies.extend((reply, close) for reply in replies)

    def stop(self) -> None:
        self.listener.close()


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    yield scripted
    scripted.stop()


def client(server: Scripted, scheme: str = "http", host: str = "127.0.0.1",
           read_timeout: float = 2) -> HttpClient:
    return HttpClient(f"{scheme}://{host}:{server.port}/sakai-ws", connect_timeout=2,
                      read_timeout=read_timeout)


def post(transport: HttpClient) -> tuple[int, bytes]:
    reply = transport.post("/soap/sakai", b"<envelope/>", {"Content-Type": "text/xml"})
    return reply.status, reply.body


def test_the_request_on_the_wire(server: Scripted) -> None:
    server.answer(OK)
    transport = client(server)
    transport.post("/soap/sakai", b"<envelope/>", {"Content-Type": "text/xml; charset=utf-8",
                                                   "SOAPAction": '""'})
    head, body = server.requests[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /sakai-ws/soap/sakai HTTP/1.1"
    assert f"Host: 127.0.0.1:{server.port}".encode() in lines
    assert b"Content-Length: 11" in lines
    assert not any(line.lower().startswith(b"cookie") for line in lines)
    assert body == b"<envelope/>"


def test_one_connection_is_kept_alive_and_cookies_never_go_back(server: Scripted) -> None:
    with_cookie = (b"HTTP/1.1 200 OK\r\nSet-Cookie: JSESSIONID=secret.node1; Path=/\r\n"
                   b"Content-Length: 2\r\n\r\nok")
    server.answer(with_cookie, OK, OK)
    transport = client(server)
    first = transport.post("/x", b"", {})
    assert first == Reply(200, b"ok", ("JSESSIONID=secret.node1; Path=/",))
    assert post(transport) == (200, b"ok") and post(transport) == (200, b"ok")
    assert server.connections == 1
    assert not any(b"\r\ncookie:" in r.lower() for r in server.requests)


def test_a_connection_the_server_closed_with_a_408_is_not_reused(server: Scripted) -> None:
    """Servers close idle keep-alive connections, some with a 408 first. Sent on such a
    connection, the next request would read the 408 as its answer."""
    timeout = b"HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
    server.answer([OK, timeout], close=True)
    server.answer(OK)
    transport = client(server)
    assert post(transport) == (200, b"ok")
    time.sleep(0.2)  # the 408 and the close arrive while the connection is idle
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


def test_bytes_after_a_reply_retire_the_connection(server: Scripted) -> None:
    stale = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale"
    server.answer([OK, stale], OK)
    transport = client(server)
    assert post(transport) == (200, b"ok")
    time.sleep(0.2)
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


def test_bytes_sent_with_a_reply_are_never_read_as_the_next_answer(server: Scripted) -> None:
    server.answer(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale", OK)
    transport = client(server)
    assert post(transport) == (200, b"ok")
    assert post(transport) == (200, b"ok")


def test_a_reply_that_ends_when_the_server_closes(server: Scripted) -> None:
    server.answer(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n<reply/>", close=True)
    server.answer(OK)
    transport = client(server)
    assert post(transport) == (200, b"<reply/>")
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


def test_a_redirect_is_not_followed(server: Scripted) -> None:
    server.answer(b"HTTP/1.1 302 Found\r\nLocation: http://elsewhere.invalid/\r\n"
                  b"Content-Length: 0\r\n\r\n")
    assert post(client(server)) == (302, b"")
    assert len(server.requests) == 1


@pytest.mark.parametrize("reply", [
    b"ICY 200 OK\r\nContent-Length: 2\r\n\r\nok",  # not HTTP
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70000 + b"\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"Content-Length: 2\r\n\r\nok",
])
def test_a_reply_that_is_not_http_is_refused_and_its_connection_dropped(
        server: Scripted, reply: bytes) -> None:
    server.answer(reply, close=True)
    server.answer(OK)
    transport = client(server)
    with pytest.raises(TransportError) as caught:
        post(transport)
    assert caught.value.kind == "broken"
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


@pytest.mark.parametrize("reply", [
    b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",
    b"",
])
def test_a_reply_cut_off_by_the_server_is_a_broken_connection(server: Scripted,
                                                              reply: bytes) -> None:
    server.answer(reply, close=True)
    with pytest.raises(TransportError) as caught:
        post(client(server))
    assert caught.value.kind == "broken"


def test_a_declared_length_over_the_cap_is_refused_before_reading_it(server: Scripted) -> None:
    server.answer(f"HTTP/1.1 200 OK\r\nContent-Length: {MAX_REPLY_BYTES + 1}\r\n\r\n".encode(),
                  close=True)
    with pytest.raises(ReplyTooLarge):
        post(client(server))


def test_chunks_adding_up_over_the_cap_are_refused_and_the_connection_dropped(
        server: Scripted) -> None:
    chunk = b"80000\r\n" + b"x" * 0x80000 + b"\r\n"
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3,
                  close=True)
    server.answer(OK)
    transport = client(server)
    with pytest.raises(ReplyTooLarge):
        post(transport)
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


def test_an_unbounded_reply_over_the_cap_is_refused(server: Scripted) -> None:
    server.answer(b"HTTP/1.0 200 OK\r\n\r\n" + b"x" * (MAX_REPLY_BYTES + 1), close=True)
    with pytest.raises(ReplyTooLarge):
        post(client(server))


def test_no_answer_is_a_timeout(server: Scripted) -> None:
    server.answer(None)
    began = time.monotonic()
    with pytest.raises(TransportError) as caught:
        post(client(server, read_timeout=0.3))
    assert caught.value.kind == "timeout"
    assert time.monotonic() - began < 2


def test_a_slow_reply_times_out_between_its_pieces(server: Scripted) -> None:
    server.answer([b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nok", b"", b"ok"])
    server.pause = 1.0
    with pytest.raises(TransportError) as caught:
        post(client(server, read_timeout=0.3))
    assert caught.value.kind == "timeout"


def test_a_deadline_shortens_the_read_timeout(server: Scripted) -> None:
    server.answer(None)
    began = time.monotonic()
    with pytest.raises(TransportError) as caught:
        client(server, read_timeout=10).post("/x", b"", {}, deadline=time.monotonic() + 0.3)
    assert caught.value.kind == "timeout"
    assert time.monotonic() - began < 2


def test_refused_connection_is_a_connect_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    transport = HttpClient(f"http://127.0.0.1:{port}", connect_timeout=1, read_timeout=1)
    with pytest.raises(TransportError) as caught:
        transport.post("/x", b"", {})
    assert caught.value.kind == "connect"


# --- TLS -----------------------------------------------------------------------------------


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[tuple[Scripted, Path]]:
    """A scripted server behind TLS, its certificate for ``localhost``, self-signed."""
    cert_path, key_path = localhost_certificate(tmp_path)
    scripted = Scripted(tls=server_context(cert_path, key_path))
    yield scripted, cert_path
    scripted.stop()


def test_https_with_a_trusted_certificate(tls_server: tuple[Scripted, Path],
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert_path = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))  # the system trust store, in a test
    server.answer(OK, OK)
    transport = client(server, scheme="https", host="localhost")
    assert post(transport) == (200, b"ok")
    assert post(transport) == (200, b"ok")
    assert server.connections == 1
    assert f"Host: localhost:{server.port}".encode() in server.requests[0]


def test_https_refuses_an_untrusted_certificate(tls_server: tuple[Scripted, Path]) -> None:
    server, _ = tls_server
    server.answer(OK)
    with pytest.raises(TransportError) as caught:
        post(client(server, scheme="https", host="localhost"))
    assert caught.value.kind == "connect"
    assert "CERTIFICATE_VERIFY_FAILED" in str(caught.value) or "certificate" in str(
        caught.value)
    assert server.requests == []  # nothing was sent


def test_https_refuses_a_certificate_for_another_name(tls_server: tuple[Scripted, Path],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    server, cert_path = tls_server
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_path))
    server.answer(OK)
    with pytest.raises(TransportError) as caught:
        post(client(server, scheme="https", host="127.0.0.1"))  # the certificate names localhost
    assert caught.value.kind == "connect"
    assert server.requests == []


def test_https_trusts_the_ca_file_it_is_given(
        tls_server: tuple[Scripted, Path]) -> None:
    server, cert_path = tls_server
    server.answer(OK)
    pinned = HttpClient(f"https://localhost:{server.port}", connect_timeout=2, read_timeout=2,
                        ca_file=str(cert_path))
    assert pinned.post("/x", b"", {}) == Reply(200, b"ok")
