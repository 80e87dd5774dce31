"""How the transport reads what a server really sends: every HTTP/1.1 framing, and replies it
must refuse. A scripted server answers each request with exact bytes, so each case is the
wire format itself; the next request shows whether the connection was kept or dropped."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sso_bridge.sakai.transport import (
    MAX_CHUNKS,
    MAX_REPLY_BYTES,
    ReplyTooLarge,
    Transport,
    TransportError,
)
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
                time.sleep(0.02)
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
           read_timeout: float = 2) -> Transport:
    return Transport(f"{scheme}://{host}:{server.port}/sakai-ws", connect_timeout=2,
                     read_timeout=read_timeout)


def post(transport: Transport) -> tuple[int, bytes]:
    return transport.post("/soap/sakai", b"<envelope/>", {"Content-Type": "text/xml"})


def test_the_request_on_the_wire(server: Scripted) -> None:
    server.answer(OK)
    transport = client(server)
    transport.post("/soap/sakai", b"<envelope/>", {"Content-Type": "text/xml; charset=utf-8",
                                                   "SOAPAction": '""'})
    head, body = server.requests[0].split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /sakai-ws/soap/sakai HTTP/1.1"
    assert set(lines[1:]) == {f"Host: 127.0.0.1:{server.port}".encode(),
                              b"Content-Type: text/xml; charset=utf-8", b'SOAPAction: ""',
                              b"Content-Length: 11"}
    assert body == b"<envelope/>"


def test_a_reply_with_content_length_arriving_in_pieces(server: Scripted) -> None:
    server.answer([b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 10\r\n\r\n<re", b"ply/>ok"],
                  OK)
    transport = client(server)
    assert post(transport) == (200, b"<reply/>ok")
    assert post(transport) == (200, b"ok")
    assert server.connections == 1  # kept alive


def test_a_chunked_reply_with_extensions_and_trailers(server: Scripted) -> None:
    chunked = (b"HTTP/1.1 500 Server Error\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"8;name=value\r\n<Fault/>\r\n", b"3\r\nabc\r\n0\r\nX-Trailer: t\r\n\r\n")
    server.answer(list(chunked), OK)
    transport = client(server)
    assert post(transport) == (500, b"<Fault/>abc")
    assert post(transport) == (200, b"ok")
    assert server.connections == 1


def test_a_reply_in_many_small_chunks(server: Scripted) -> None:
    pieces = [b"%x\r\n%s\r\n" % (len(c), c) for c in (b"<r>", *[b"x"] * 5000, b"</r>")]
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + b"".join(pieces)
                  + b"0\r\n\r\n")
    assert post(client(server)) == (200, b"<r>" + b"x" * 5000 + b"</r>")


def test_a_reply_in_more_chunks_than_any_server_sends_is_refused(server: Scripted) -> None:
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                  + b"1\r\nx\r\n" * (MAX_CHUNKS + 1) + b"0\r\n\r\n", close=True)
    with pytest.raises(TransportError) as caught:
        post(client(server))
    assert caught.value.kind == "broken" and "chunks" in str(caught.value)


def test_interim_replies_are_skipped(server: Scripted) -> None:
    server.answer(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n"
                  + OK)
    assert post(client(server)) == (200, b"ok")


def test_a_reply_that_ends_when_the_server_closes(server: Scripted) -> None:
    server.answer(b"HTTP/1.0 200 OK\r\nContent-Type: text/xml\r\n\r\n<reply/>", close=True)
    server.answer(OK)
    transport = client(server)
    assert post(transport) == (200, b"<reply/>")
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


@pytest.mark.parametrize("reply, kept", [
    (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
    (b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", True),
    (b"HTTP/1.1 200 OK\r\nConnection: keep-alive, Upgrade\r\nContent-Length: 2\r\n\r\nok", True),
    # both framings: the coding wins, and the connection is not trusted again
    (b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n"
     b"2\r\nok\r\n0\r\n\r\n", False),
])
def test_whether_the_connection_is_kept(server: Scripted, reply: bytes, kept: bool) -> None:
    server.answer(reply, OK)
    transport = client(server)
    assert post(transport) == (200, b"ok")
    assert post(transport) == (200, b"ok")
    assert server.connections == (1 if kept else 2)


def test_a_connection_the_server_spoke_on_unasked_is_not_reused(server: Scripted) -> None:
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
    server.answer(OK + b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nstale", OK)
    transport = client(server)
    assert post(transport) == (200, b"ok")
    assert post(transport) == (200, b"ok")
    assert server.connections == 2


@pytest.mark.parametrize("reply", [
    b"ICY 200 OK\r\nContent-Length: 2\r\n\r\nok",  # not HTTP
    b"HTTP/1.1 2000 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/2 200\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Length: +2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0x2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1_0\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nok\r\n0\r\n\r\n",  # too long
    b"HTTP/1.1 200 OK\r\n folded: header\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nNo colon here\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 9000 + b"\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * 101 + b"Content-Length: 2\r\n\r\nok",
])
def test_a_reply_that_cannot_be_framed_is_refused_and_its_connection_dropped(
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
    b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n",
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


def test_chunks_adding_up_over_the_cap_are_refused(server: Scripted) -> None:
    chunk = b"80000\r\n" + b"x" * 0x80000 + b"\r\n"
    server.answer(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk * 3,
                  close=True)
    with pytest.raises(ReplyTooLarge):
        post(client(server))


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
    pinned = Transport(f"https://localhost:{server.port}", connect_timeout=2, read_timeout=2,
                       ca_file=str(cert_path))
    assert pinned.post("/x", b"", {}) == (200, b"ok")
