"""The load client: many concurrent learners, each a keep-alive HTTP connection (loopback only).

A login has two SP-facing requests: the start (GET → 302 to the IdP with an AuthnRequest and a
cookie) and the ACS POST of the IdP's signed Response (→ 302 with a session). The IdP's part,
signing, happens between the two phases, outside the measurement, in a process pool: so the
figures are the SP's, not the test IdP's. Every phase is bounded in count and in time.
"""

from __future__ import annotations

import base64
import http.client
import multiprocessing
import queue
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

TIMEOUT = 30.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class LoginFailed(Exception):
    pass


@dataclass
class Login:
    eid: str
    request_id: str = ""
    relay_state: str = ""
    cookies: str = ""
    saml_response: str = ""
    start_seconds: float = 0.0
    finish_seconds: float = 0.0
    steps_done: int = 0
    error: str = ""

    @property
    def seconds(self) -> float:
        return self.start_seconds + self.finish_seconds


class Connection:
    """One learner's browser: a keep-alive connection, reopened when the server closed it."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.conn: http.client.HTTPConnection | None = None
        self.used = False

    def request(self, method: str, path: str, body: str | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, Any, bytes]:
        for attempt in (1, 2):
            if self.conn is None:
                self.conn, self.used = http.client.HTTPConnection(self.host, self.port,
                                                                  timeout=TIMEOUT), False
            try:
                self.conn.request(method, path, body=body, headers=headers or {})
                reply = self.conn.getresponse()
                data = reply.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self.close()  # a kept-alive connection the server had closed: retry once
                if attempt == 2 or not self.used:
                    raise
                continue
            self.used = True
            if reply.will_close:
                self.close()
            return reply.status, reply.msg, data
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def saml_request_id(location: str) -> tuple[str, str]:
    """(AuthnRequest ID, RelayState) from an HTTP-Redirect binding URL."""
    query = parse_qs(urlsplit(location).query)
    request = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15).decode()
    return request.split(' ID="', 1)[1].split('"', 1)[0], query["RelayState"][0]


def cookie_header(headers: Any) -> str:
    return "; ".join(c.split(";", 1)[0] for c in headers.get_all("Set-Cookie") or [])


Step = Callable[[Connection, Login], None]


def run_phase(logins: list[Login], step: Step, host: str, port: int, concurrency: int,
              time_limit: float) -> float:
    """Run ``step`` for every login not failed yet, ``concurrency`` at a time; wall seconds.

    A login counts as done only once every step returned (``steps_done``): one still running
    when the phase gives up is a failure, never a silent success.
    """
    pending: queue.SimpleQueue[Login] = queue.SimpleQueue()
    for login in logins:
        if not login.error:
            pending.put(login)
    deadline = time.monotonic() + time_limit

    def learner() -> None:
        connection = Connection(host, port)
        try:
            while True:
                try:
                    login = pending.get_nowait()
                except queue.Empty:
                    return
                if time.monotonic() > deadline:
                    login.error = "not run: phase time limit"
                    continue
                try:
                    step(connection, login)
                    login.steps_done += 1
                except Exception as exc:  # counted, never fatal to the run
                    login.error = login.error or f"{type(exc).__name__}: {exc}"[:200]
                    connection.close()
        finally:
            connection.close()

    threads = [threading.Thread(target=learner, daemon=True) for _ in range(concurrency)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=time_limit + 2 * TIMEOUT)
    return time.perf_counter() - began


def timed(login: Login, field: str, call: Callable[[], tuple[int, Any, bytes]]
          ) -> tuple[int, Any, bytes]:
    began = time.perf_counter()
    result = call()
    setattr(login, field, time.perf_counter() - began)
    return result


# --- signing, the IdP's part ---------------------------------------------------------------

_signer: dict[str, Any] = {}


def _init_signer(idp: Any, acs_url: str, sp_entity_id: str) -> None:
    _signer.update(idp=idp, acs_url=acs_url, sp_entity_id=sp_entity_id)


def _sign(job: tuple[str, str]) -> str:
    from tests.samlfactory.idp import encode

    eid, request_id = job
    return encode(_signer["idp"].signed_response(
        acs_url=_signer["acs_url"], sp_entity_id=_signer["sp_entity_id"],
        in_response_to=request_id, name_id=eid))


def sign_all(idp: Any, logins: list[Login], acs_url: str, sp_entity_id: str,
             processes: int = 2) -> float:
    """The IdP signs a fresh Response (and Assertion) for every started login."""
    began = time.perf_counter()
    todo = [login for login in logins if not login.error]
    context = multiprocessing.get_context("fork")
    with context.Pool(processes, initializer=_init_signer,
                      initargs=(idp, acs_url, sp_entity_id)) as pool:
        signed = pool.map(_sign, [(lg.eid, lg.request_id) for lg in todo], chunksize=25)
    for login, saml_response in zip(todo, signed, strict=True):
        login.saml_response = saml_response
    return time.perf_counter() - began


def form(saml_response: str, relay_state: str) -> str:
    return urlencode({"SAMLResponse": saml_response, "RelayState": relay_state})
