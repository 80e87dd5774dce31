"""No retries except one: a read-only call whose kept-alive connection broke before any answer
is sent again once, on a new connection; a call with effects (addNewUser) never is."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from sso_bridge import errors
from sso_bridge.demo.sakai_sim.wire import render_return
from sso_bridge.sakai import SakaiClient
from tests.sakai.test_http_client import Scripted

SID = "6f1c0a52-8d7e-4b43-9a51-2d0e4c7b9f10"


def soap_reply(operation: str, value: str, cookie: str = "") -> bytes:
    body = render_return(operation, value)
    head = "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=UTF-8\r\n"
    if cookie:
        head += f"Set-Cookie: {cookie}; Path=/; HttpOnly\r\n"
    return f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    scripted.answer(soap_reply("login", SID, f"JSESSIONID={SID}.node1"))
    yield scripted
    scripted.stop()


def test_a_read_only_call_is_sent_again_once_on_a_broken_connection(server: Scripted) -> None:
    server.answer(b"", close=True)  # the kept-alive connection dies under the request
    server.answer(soap_reply("checkForUser", "true"))
    client = SakaiClient(f"http://127.0.0.1:{server.port}", "svc", "pw", read_timeout=2)
    assert client.check_for_user("jdoe@example.edu") is True
    assert [r.count(b"checkForUser") > 0 for r in server.requests] == [False, True, True]
    assert server.connections == 2
    # with one Sakai URL (perhaps a balancer) the login's cookie routes the admin's calls,
    # and it is the only cookie that ever goes back
    route = f"Cookie: JSESSIONID={SID}.node1\r\n".encode()
    assert b"Cookie:" not in server.requests[0] and route in server.requests[2]


def test_a_call_with_effects_is_never_sent_twice(server: Scripted) -> None:
    server.answer(b"", close=True)
    server.answer(soap_reply("addNewUser", "success"))
    client = SakaiClient(f"http://127.0.0.1:{server.port}", "svc", "pw", read_timeout=2)
    with pytest.raises(errors.SakaiUnavailable, match="connection broke"):
        client.add_new_user("jdoe@example.edu", "Jane", "Doe", "j@example.edu", "student",
                            "x" * 40)
    assert sum(b"addNewUser" in r for r in server.requests) == 1
