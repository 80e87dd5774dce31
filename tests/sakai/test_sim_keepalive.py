"""The simulator keeps HTTP/1.1 connections alive like Tomcat, so the bridge's keep-alive
transport reuses one connection across SOAP calls."""

from __future__ import annotations

import http.client
import socket
import time
from typing import Any

from sso_bridge.demo.sakai_sim import SakaiSimulator
from sso_bridge.httpclient import HttpClient
from sso_bridge.sakai import SakaiClient, soap
from sso_bridge.sakai.client import LOGIN_PATH, SCRIPT_PATH
from tests.sakai.accounts import ADMIN_EID, ADMIN_PASSWORD

HEADERS = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""'}
LOGIN = soap.build_envelope("login", [("id", ADMIN_EID), ("pw", ADMIN_PASSWORD)])


def count_accepts(sim: SakaiSimulator) -> list[int]:
    """A one-item list holding how many connections the simulator accepts from now on."""
    server: Any = sim._require()
    accepted = [0]
    get_request = server.get_request

    def counting() -> Any:
        request = get_request()
        accepted[0] += 1
        return request

    server.get_request = counting
    return accepted


def connect(sim: SakaiSimulator) -> http.client.HTTPConnection:
    conn = http.client.HTTPConnection(sim.host, sim.port, timeout=5)
    conn.connect()
    return conn


def call(conn: http.client.HTTPConnection, path: str, body: bytes,
         headers: dict[str, str] | None = None) -> tuple[http.client.HTTPResponse, bytes]:
    conn.request("POST", path, body=body, headers=headers or HEADERS)
    reply = conn.getresponse()
    return reply, reply.read()


def read_reply(stream: Any) -> tuple[int, dict[str, str], bytes]:
    """One response with a Content-Length from a raw socket stream (leaves the stream open)."""
    status = int(stream.readline().split()[1])
    headers: dict[str, str] = {}
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, value = line.decode("latin-1").split(":", 1)
        headers[name.strip().lower()] = value.strip()
    return status, headers, stream.read(int(headers.get("content-length", "0")))


def closed_by_peer(sock: socket.socket, within: float = 3.0) -> bool:
    sock.settimeout(within)
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_soap_calls_travel_on_one_connection(sim: SakaiSimulator) -> None:
    accepted = count_accepts(sim)
    conn = connect(sim)
    sock = conn.sock
    reply, data = call(conn, LOGIN_PATH, LOGIN)
    assert reply.status == 200 and not reply.will_close
    assert reply.getheader("Connection") is None
    sid = soap.parse_response("login", reply.status, data)
    for eid in ("nobody", "somebody", "anybody"):
        body = soap.build_envelope("checkForUser", [("sessionid", sid), ("eid", eid)])
        reply, data = call(conn, SCRIPT_PATH, body)
        assert reply.status == 200 and not reply.will_close
        assert soap.parse_response("checkForUser", reply.status, data) == "false"
        assert conn.sock is sock
    conn.close()
    assert accepted[0] == 1
    assert sim.state.calls["checkForUser"] == 3


def test_faults_and_errors_keep_the_connection_too(sim: SakaiSimulator) -> None:
    accepted = count_accepts(sim)
    conn = connect(sim)
    reply, _ = call(conn, SCRIPT_PATH, b"<not-soap/>")  # a SOAP fault, HTTP 500
    assert reply.status == 500 and not reply.will_close
    conn.request("GET", "/no/such/page")
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 404 and not reply.will_close
    reply, _ = call(conn, LOGIN_PATH, LOGIN)
    assert reply.status == 200 and not reply.will_close
    conn.close()
    assert accepted[0] == 1


def test_pipelined_requests_are_both_answered(sim: SakaiSimulator) -> None:
    """The body is drained exactly: werkzeug's post-request drain must not eat request two."""
    head = (f"POST {LOGIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: {soap.CONTENT_TYPE}\r\n"
            f"Content-Length: {len(LOGIN)}\r\n\r\n").encode()
    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        sock.sendall((head + LOGIN) * 2)
        with sock.makefile("rb") as stream:
            replies = [read_reply(stream) for _ in range(2)]
    for status, headers, body in replies:
        assert status == 200 and "connection" not in headers
        soap.parse_response("login", status, body)
    assert sim.state.calls["login"] == 2


def test_the_bridge_transport_makes_many_calls_over_one_connection(
        sim: SakaiSimulator) -> None:
    accepted = count_accepts(sim)
    transport = HttpClient(sim.url, connect_timeout=2, read_timeout=2)
    try:
        for _ in range(5):
            reply = transport.post(LOGIN_PATH, LOGIN, HEADERS)
            assert reply.status == 200
            soap.parse_response("login", reply.status, reply.body)
    finally:
        transport.close()
    assert accepted[0] == 1
    assert sim.state.calls["login"] == 5


def test_the_bridge_client_logs_in_and_calls_over_one_connection(sim: SakaiSimulator) -> None:
    accepted = count_accepts(sim)
    client = SakaiClient(sim.url, ADMIN_EID, ADMIN_PASSWORD, connect_timeout=1.0,
                         read_timeout=2.0)
    try:
        for eid in ("nobody", "somebody", "anybody", "nobody"):
            assert client.check_for_user(eid) is False
    finally:
        client.close()
    assert sim.state.calls["login"] == 1 and sim.state.calls["checkForUser"] == 4
    assert accepted[0] == 1


def test_a_client_asking_for_close_gets_the_connection_closed(sim: SakaiSimulator) -> None:
    conn = connect(sim)
    reply, _ = call(conn, LOGIN_PATH, LOGIN, {**HEADERS, "Connection": "close"})
    assert reply.status == 200 and reply.will_close
    assert reply.getheader("Connection") == "close"
    assert conn.sock is None  # http.client dropped it, as the server said it would close
    conn.close()

    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        sock.sendall(b"GET /nowhere HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        with sock.makefile("rb") as stream:
            status, headers, _ = read_reply(stream)
            assert status == 404 and headers["connection"] == "close"
            assert stream.read() == b""  # the server closed its end


def test_http10_and_chunked_requests_still_close(sim: SakaiSimulator) -> None:
    with socket.create_connection((sim.host, sim.port), timeout=5) as sock:
        sock.sendall(b"GET /nowhere HTTP/1.0\r\n\r\n")
        with sock.makefile("rb") as stream:
            assert read_reply(stream)[0] == 404
            assert stream.read() == b""  # the server closed its end
    conn = connect(sim)
    conn.request("POST", LOGIN_PATH, body=iter([LOGIN]), headers=HEADERS, encode_chunked=True)
    reply = conn.getresponse()
    reply.read()
    assert reply.status == 200 and reply.will_close
    conn.close()


def test_stop_is_prompt_while_a_client_holds_an_idle_connection(sim: SakaiSimulator) -> None:
    conn = connect(sim)
    reply, _ = call(conn, LOGIN_PATH, LOGIN)
    assert not reply.will_close
    sock = conn.sock
    assert sock is not None
    began = time.monotonic()
    sim.stop()
    assert time.monotonic() - began < 2
    assert closed_by_peer(sock, within=2)
    conn.close()


def test_kept_alive_connections_send_without_nagle_delay(sim: SakaiSimulator) -> None:
    """Tomcat's tcpNoDelay: werkzeug writes headers and body apart, so without it a kept-alive
    connection waits for the client's delayed ACK (40 ms) on every call."""
    conn = connect(sim)
    reply, _ = call(conn, LOGIN_PATH, LOGIN)
    assert reply.status == 200 and not reply.will_close
    server: Any = sim._require()
    sockets = list(server.sim_connections)
    assert sockets
    assert all(s.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for s in sockets)
    conn.close()


def test_password_hash_rounds_are_a_bench_knob() -> None:
    from sso_bridge.demo.sakai_sim.config import SimConfig

    with SakaiSimulator(SimConfig(password_hash_rounds=1)).serve() as cheap:
        user = cheap.state.add_user("cheap@example.org", "C", "H", "", "registered", "pw")
        assert user.password_hash is not None and user.password_hash.startswith("pbkdf2_sha256$1$")
    with SakaiSimulator().serve() as default:
        user = default.state.add_user("dear@example.org", "D", "E", "", "registered", "pw")
        assert user.password_hash is not None
        assert user.password_hash.startswith("pbkdf2_sha256$10000$")
