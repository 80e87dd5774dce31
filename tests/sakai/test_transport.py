"""The keep-alive transport: one connection reused per thread, bounded replies, no cookies."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from sso_bridge.sakai.transport import MAX_REPLY_BYTES, ReplyTooLarge, Transport, TransportError


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    connections = 0
    cookies_seen: list[str] = []
    body = b"ok"

    def setup(self) -> None:
        type(self).connections += 1
        super().setup()

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Cookie"):
            type(self).cookies_seen.append(self.headers["Cookie"])
        self.send_response(200)
        self.send_header("Set-Cookie", "JSESSIONID=secret.node1; Path=/")
        self.send_header("Content-Length", str(len(type(self).body)))
        self.end_headers()
        self.wfile.write(type(self).body)

    def log_message(self, *_: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[ThreadingHTTPServer]:
    Handler.connections, Handler.cookies_seen, Handler.body = 0, [], b"ok"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


def transport(httpd: ThreadingHTTPServer, **kwargs: float) -> Transport:
    return Transport(f"http://127.0.0.1:{httpd.server_port}", connect_timeout=2,
                     read_timeout=kwargs.get("read_timeout", 2),
                     idle_seconds=kwargs.get("idle_seconds", 4))


def test_one_connection_is_reused_and_cookies_never_go_back(
        server: ThreadingHTTPServer) -> None:
    client = transport(server)
    for _ in range(5):
        assert client.post("/x", b"<a/>", {"Content-Type": "text/xml"}) == (200, b"ok")
    assert Handler.connections == 1
    assert Handler.cookies_seen == []
    client.close()


def test_an_idle_connection_is_not_reused(server: ThreadingHTTPServer) -> None:
    client = transport(server, idle_seconds=0)
    client.post("/x", b"", {})
    client.post("/x", b"", {})
    assert Handler.connections == 2


def test_each_thread_has_its_own_connection(server: ThreadingHTTPServer) -> None:
    client = transport(server)
    threads = [threading.Thread(target=client.post, args=("/x", b"", {})) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Handler.connections == 3


def test_an_oversized_reply_is_refused(server: ThreadingHTTPServer) -> None:
    Handler.body = b"x" * (MAX_REPLY_BYTES + 10)
    with pytest.raises(ReplyTooLarge):
        transport(server).post("/x", b"", {})


def test_refused_connection_is_a_connect_error() -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), Handler) as unused:
        port = unused.server_port
    client = Transport(f"http://127.0.0.1:{port}", connect_timeout=1, read_timeout=1)
    with pytest.raises(TransportError) as caught:
        client.post("/x", b"", {})
    assert caught.value.kind == "connect"
