"""Loopback servers for the federation tests: a static file server (an aggregate's URL) and a
tiny MDQ service serving signed per-entity metadata. Free ports, optional TLS."""

from __future__ import annotations

import hashlib
import ssl
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from http.server import BaseHTTPRequestHandler, SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote


class _QuietFiles(SimpleHTTPRequestHandler):
    hits: Counter[str] | None = None

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        if self.hits is not None:
            self.hits[unquote(self.path)] += 1
        super().do_GET()

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def _serving(server: ThreadingHTTPServer, context: ssl.SSLContext | None,
             host: str) -> Iterator[str]:
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    server.handle_error = lambda *_: None  # type: ignore[method-assign] # a client gone early
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"{'https' if context else 'http'}://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def file_server(folder: Path, context: ssl.SSLContext | None = None,
                host: str = "127.0.0.1", hits: Counter[str] | None = None) -> Iterator[str]:
    """The base URL of a server of ``folder``'s files; ``hits`` counts the GETs by path."""
    handler = type("Files", (_QuietFiles,), {"hits": hits})
    server = ThreadingHTTPServer((host, 0), partial(handler, directory=str(folder)))
    with _serving(server, context, host) as url:
        yield url


class MdqService:
    """What the MDQ server answers: signed EntityDescriptors by entityID; counts requests."""

    def __init__(self) -> None:
        self.entities: dict[str, bytes] = {}
        self.requests: Counter[str] = Counter()

    def answer(self, name: str) -> bytes | None:
        self.requests[name] += 1
        if name.startswith("{sha1}"):
            by_hash = {hashlib.sha1(k.encode()).hexdigest(): v  # noqa: S324
                       for k, v in self.entities.items()}
            return by_hash.get(name[6:])
        return self.entities.get(name)


class _MdqHandler(BaseHTTPRequestHandler):
    service: MdqService

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        prefix = "/mdq/entities/"
        body = (self.service.answer(unquote(self.path[len(prefix):]))
                if self.path.startswith(prefix) else None)
        self.send_response(404 if body is None else 200)
        self.send_header("Content-Type", "application/samlmetadata+xml")
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *_: object) -> None:
        pass


@contextmanager
def mdq_server(service: MdqService, context: ssl.SSLContext | None = None,
               host: str = "127.0.0.1") -> Iterator[str]:
    """The MDQ base URL (``…/mdq``) of a server answering from ``service``."""
    handler = type("Handler", (_MdqHandler,), {"service": service})
    server = ThreadingHTTPServer((host, 0), handler)
    with _serving(server, context, host) as url:
        yield url + "/mdq"
