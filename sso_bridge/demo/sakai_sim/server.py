"""Run the simulator on a real socket, in a background thread. NOT FOR PRODUCTION."""

from __future__ import annotations

import contextlib
import io
import logging
import re
import socket
import ssl
import threading
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sso_bridge.demo.sakai_sim.app import SakaiSimApp
from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.state import SimState

if TYPE_CHECKING:
    from _typeshed.wsgi import WSGIEnvironment

log = logging.getLogger("sso_bridge.demo.sakai_sim")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")
MAX_BUFFERED_BODY = 1024 * 1024  # a larger request body gets werkzeug's Connection: close
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_LENGTH_RE = re.compile(r"[ \t]*[0-9]{1,9}[ \t]*")


class _QuietHandler(WSGIRequestHandler):
    """Keeps HTTP/1.1 connections alive like Tomcat; logs at DEBUG without query strings.

    Werkzeug closes every connection because http.server cannot drain an unread request body
    before the next request line. Here a body with a Content-Length (up to
    ``MAX_BUFFERED_BODY``) is read into memory before the app runs, so the stream is always
    drained and the connection can stay open; anything else (chunked, too large, a body
    without a length, HTTP/1.0, a client's ``Connection: close``) keeps werkzeug's close.
    """

    protocol_version = "HTTP/1.1"
    timeout = 20.0  # Tomcat's keepAliveTimeout: an idle kept-alive connection ends
    _keep_alive = False

    def setup(self) -> None:
        super().setup()
        # As Tomcat (tcpNoDelay=true): werkzeug writes the headers and the body separately,
        # and on a kept-alive connection Nagle would hold the body back for the client's
        # delayed ACK (40 ms per call).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        getattr(self.server, "sim_connections", set()).add(self.connection)
        if getattr(self.server, "sim_closing", False):  # accepted while stop() was closing
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)

    def handle_one_request(self) -> None:
        self._keep_alive = False
        super().handle_one_request()
        if getattr(self.server, "sim_closing", False):
            self.close_connection = True

    def make_environ(self) -> WSGIEnvironment:
        environ = super().make_environ()
        body = self._buffered_body()
        if body is not None:
            environ["wsgi.input"] = io.BytesIO(body)
            environ["CONTENT_LENGTH"] = str(len(body))
            self._keep_alive = not self.close_connection
            # werkzeug drains self.rfile after the app; it must not eat the next request
            self.rfile = io.BytesIO()  # run_wsgi restores the socket's reader
        return environ

    def _buffered_body(self) -> bytes | None:
        """The whole request body, or None to leave the stream to werkzeug (and close)."""
        if self.request_version != "HTTP/1.1" or "Transfer-Encoding" in self.headers:
            return None
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            return None
        length = lengths[0] if lengths else None
        if length is None:
            return None if self.command in _BODY_METHODS else b""
        if not _LENGTH_RE.fullmatch(length) or int(length) > MAX_BUFFERED_BODY:
            return None
        body = self.rfile.read(int(length))
        if len(body) != int(length):  # the client went away mid-body
            self.close_connection = True
        return bytes(body)

    def run_wsgi(self) -> None:
        rfile = self.rfile
        try:
            super().run_wsgi()
        finally:
            self.rfile = rfile

    def send_header(self, keyword: str, value: str) -> None:
        if self._keep_alive and keyword.lower() == "connection" and value.lower() == "close":
            return  # werkzeug's unconditional close; the body was drained, keep the connection
        super().send_header(keyword, value)

    def finish(self) -> None:
        getattr(self.server, "sim_connections", set()).discard(self.connection)
        super().finish()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        path = getattr(self, "path", "").split("?", 1)[0]
        log.debug("sim %s %s -> %s", getattr(self, "command", "?"), path, code)

    def log(self, type: str, message: str, *args: Any) -> None:
        text = _UUID_RE.sub("<redacted>", message % args if args else message)
        log.debug("sim %s: %s", type, text.split("?", 1)[0])


class SakaiSimulator:
    """``with SakaiSimulator(SimConfig()).serve() as sim: ... sim.url ...``"""

    def __init__(self, config: SimConfig | None = None,
                 shares_users_with: SakaiSimulator | None = None) -> None:
        """``shares_users_with``: another node of the same Sakai cluster (one database of
        users; sessions only in each node's memory)."""
        self.config = config or SimConfig()
        directory = shares_users_with.state if shares_users_with is not None else None
        self.state: SimState = SimState(self.config, directory)
        self.app = SakaiSimApp(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._scheme = "http"

    def serve(self, host: str = "127.0.0.1", port: int = 0,
              ssl_context: ssl.SSLContext | None = None) -> SakaiSimulator:
        """Start serving in a daemon thread (port 0 = a free port); returns self. With
        ``ssl_context``, over https, as Sakai behind TLS."""
        if self._server is not None:
            raise RuntimeError("the simulator is already serving")
        self.state.stopping.clear()
        server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler,
                             ssl_context=ssl_context)
        self._scheme = "https" if ssl_context is not None else "http"
        server.sim_connections = set()  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"sakai-sim-{server.server_port}", daemon=True,
        )
        self._thread.start()
        return self

    @property
    def host(self) -> str:
        return str(self._require().host)

    @property
    def port(self) -> int:
        return self._require().server_port

    @property
    def url(self) -> str:
        return f"{self._scheme}://{self.host}:{self.port}"

    def _require(self) -> BaseWSGIServer:
        if self._server is None:
            raise RuntimeError("the simulator is not serving")
        return self._server

    def stop(self) -> None:
        """Stop accepting, wake stalled handlers, close kept-alive connections."""
        server, self._server = self._server, None
        if server is None:
            return
        self.state.stopping.set()
        server.sim_closing = True  # type: ignore[attr-defined]
        server.shutdown()
        for connection in list(getattr(server, "sim_connections", ())):
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> SakaiSimulator:
        if self._server is None:
            self.serve()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
