"""Run the simulator on a real socket, in a background thread. NOT FOR PRODUCTION."""

from __future__ import annotations

import contextlib
import logging
import re
import socket
import threading
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from sso_bridge.demo.sakai_sim.app import SakaiSimApp
from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.state import SimState

log = logging.getLogger("sso_bridge.demo.sakai_sim")
_UUID_RE = re.compile(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}")


class _QuietHandler(WSGIRequestHandler):
    """Logs at DEBUG, without query strings (they may carry sakai.session=<id>)."""

    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        getattr(self.server, "sim_connections", set()).add(self.connection)

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

    def __init__(self, config: SimConfig | None = None) -> None:
        self.config = config or SimConfig()
        self.state = SimState(self.config)
        self.app = SakaiSimApp(self.state)
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> SakaiSimulator:
        """Start serving in a daemon thread (port 0 = a free port); returns self."""
        if self._server is not None:
            raise RuntimeError("the simulator is already serving")
        self.state.stopping.clear()
        server = make_server(host, port, self.app, threaded=True, request_handler=_QuietHandler)
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
        return f"http://{self.host}:{self.port}"

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
