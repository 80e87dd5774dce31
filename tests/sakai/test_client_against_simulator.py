"""SakaiClient against the strict Sakai simulator on a real socket."""

from __future__ import annotations

import socket
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sso_bridge import errors
from sso_bridge.demo.sakai_sim import SakaiSimulator, SimConfig
from sso_bridge.sakai import SakaiClient
from tests.sakai.accounts import ADMIN_PASSWORD

EID = "jdoe@example.edu"


def _create(client: SakaiClient, eid: str = EID) -> None:
    client.add_new_user(eid, "Jane", "Doe", "jane@example.edu", "registered", "x" * 40)


def _assert_no_secrets(caplog: pytest.LogCaptureFixture, *secrets: str) -> None:
    for record in caplog.records:
        text = record.getMessage() + str(record.args or "") + (record.exc_text or "")
        for secret in secrets:
            assert secret not in text, f"secret leaked in log record: {record.name}"


def _admin_sids(sim: SakaiSimulator) -> list[str]:
    with sim.state.lock:
        return [s.id for s in sim.state.sessions.values() if sim.state.is_super(s)]


# --- users -------------------------------------------------------------------------------------


def test_create_lookup_and_update_user(client: SakaiClient, sim: SakaiSimulator) -> None:
    assert client.check_for_user(EID) is False
    client.add_new_user("JDoe@Example.edu", "Jane", "Doe", "jane@example.edu", "registered", "pw")
    assert client.check_for_user(EID) is True
    assert client.get_user_email(EID) == "jane@example.edu"
    assert client.get_user_display_name(EID) == "Jane Doe"
    client.change_user_name(EID, "Jane", "Doe-Smith")
    client.change_user_email(EID, "jds@example.edu")
    user = sim.state.user_by_eid(EID)
    assert (user.last, user.email, user.type) == ("Doe-Smith", "jds@example.edu", "registered")
    assert user.password_hash is not None and user.password_hash.startswith("pbkdf2_sha256$")


def test_duplicate_user_raises_user_exists(client: SakaiClient) -> None:
    _create(client)
    with pytest.raises(errors.SakaiUserExists) as info:
        _create(client, "JDOE@example.edu")
    assert info.value.exception_class.endswith("UserAlreadyDefinedException")


def test_eid_too_long_is_operation_failed(client: SakaiClient) -> None:
    with pytest.raises(errors.SakaiOperationFailed, match="Eid is too long"):
        _create(client, "a" * 256)


def test_change_of_unknown_user_is_a_fault(client: SakaiClient) -> None:
    with pytest.raises(errors.SakaiFault, match="NullPointerException"):
        client.change_user_email("nobody@example.edu", "x@example.edu")


def test_unknown_user_lookups_are_empty(client: SakaiClient) -> None:
    assert client.get_user_email("nobody") == ""
    assert client.get_user_display_name("nobody") == ""
    assert client.get_user_property("nobody", "disabled") == ""


def test_unset_property_is_none_and_set_property_is_value(
    client: SakaiClient, sim: SakaiSimulator
) -> None:
    _create(client)
    assert client.get_user_property(EID, "disabled") is None
    requests.post(f"{sim.url}/_sim/users/{EID}/properties", json={"disabled": "true"}, timeout=5)
    assert client.get_user_property(EID, "disabled") == "true"


# --- sessions ---------------------------------------------------------------------------------


def test_session_for_user_reaches_the_portal_with_the_cookie(
    client: SakaiClient, sim: SakaiSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    _create(client)
    sid = client.get_session_for_user(EID)
    assert client.check_session(sid) is True
    cookie = {"JSESSIONID": f"{sid}.node1"}
    current = requests.get(f"{sim.url}/direct/session/current.json", cookies=cookie, timeout=5)
    assert current.json()["userEid"] == EID
    assert sid not in current.text
    page = requests.get(f"{sim.url}/portal/site/chem101", cookies=cookie, timeout=5)
    assert "Logged in as Jane Doe (jdoe@example.edu)" in page.text
    assert "/portal/site/chem101" in page.text
    assert client.logout_session(sid) is True
    assert client.check_session(sid) is False
    assert client.logout_session(sid) is False
    _assert_no_secrets(caplog, sid, ADMIN_PASSWORD, *_admin_sids(sim))


def test_session_for_unknown_user_is_operation_failed(client: SakaiClient) -> None:
    with pytest.raises(errors.SakaiOperationFailed, match="UserNotDefinedException"):
        client.get_session_for_user("ghost@example.edu")


def test_session_for_user_sends_wsonly_false(client: SakaiClient, sim: SakaiSimulator) -> None:
    _create(client)
    first, second = client.get_session_for_user(EID), client.get_session_for_user(EID)
    assert first != second
    assert all(s.attributes.get("origin") is None for s in sim.state.sessions.values())


def test_check_session_of_unknown_id_is_false(client: SakaiClient) -> None:
    assert client.check_session("0b9d7e21-3c44-4f0e-8f55-71a2c9d3e6ab") is False
    assert client.call_counts["login"] == 0  # checkSession needs no admin session


def test_check_admin(client: SakaiClient, sim: SakaiSimulator) -> None:
    client.check_admin()
    requests.post(f"{sim.url}/_sim/users", json={"eid": "plain", "password": "pw"}, timeout=5)
    weak = SakaiClient(sim.url, "plain", "pw")
    with pytest.raises(errors.SakaiAdminAuthFailed, match="not a super user"):
        weak.check_admin()


# --- the admin session --------------------------------------------------------------------------


def test_admin_session_is_reused_across_calls_and_threads(
    client: SakaiClient, sim: SakaiSimulator
) -> None:
    _create(client)
    barrier = threading.Barrier(8)

    def work(_: int) -> bool:
        barrier.wait()
        return all(client.check_for_user(EID) for _ in range(5))

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(work, range(8)))
    assert client.call_counts["login"] == 1
    assert sim.state.calls["login"] == 1
    assert client.call_counts["checkForUser"] == 40


def test_expired_admin_session_is_renewed_once_and_the_call_retried(
    client: SakaiClient, sim: SakaiSimulator, caplog: pytest.LogCaptureFixture
) -> None:
    _create(client)
    old = _admin_sids(sim)
    requests.post(f"{sim.url}/_sim/expire-sessions", json={"scope": "admin"}, timeout=5)
    assert client.check_for_user(EID) is True
    assert client.call_counts["login"] == 2
    assert client.call_counts["checkForUser"] == 2
    _assert_no_secrets(caplog, ADMIN_PASSWORD, *old, *_admin_sids(sim))


def test_inactive_twice_in_a_row_is_raised(client: SakaiClient, sim: SakaiSimulator) -> None:
    client.check_for_user(EID)
    sim.state.add_failures({"checkForUser": ["inactive", "inactive"]})
    with pytest.raises(errors.SakaiSessionInactive):
        client.check_for_user(EID)
    assert client.call_counts["login"] == 2


def test_login_response_cookie_is_not_kept(client: SakaiClient) -> None:
    client.check_for_user(EID)
    assert not hasattr(client.nodes[0].http, "cookies")  # no cookie jar at all


# --- failures ---------------------------------------------------------------------------------


def test_login_disabled(sim: SakaiSimulator, client: SakaiClient) -> None:
    requests.post(f"{sim.url}/_sim/config", json={"allowlogin": False}, timeout=5)
    with pytest.raises(errors.SakaiLoginDisabled) as info:
        client.check_for_user(EID)
    assert "webservices.allowlogin=true" in info.value.detail


def test_wrong_admin_password(sim: SakaiSimulator, caplog: pytest.LogCaptureFixture) -> None:
    wrong = "not-the-password-123"
    bad = SakaiClient(sim.url, "svc-bridge", wrong)
    with pytest.raises(errors.SakaiAdminAuthFailed) as info:
        bad.check_for_user(EID)
    assert "svc-bridge" in info.value.detail and wrong not in info.value.detail
    _assert_no_secrets(caplog, wrong)


@pytest.mark.parametrize("sim_config", [SimConfig(admin_eid="svc-bridge",
                                                  admin_password=ADMIN_PASSWORD,
                                                  allow=(r"10\.0\.0\.1",))])
def test_address_not_allowed_is_forbidden(client: SakaiClient) -> None:
    with pytest.raises(errors.SakaiForbidden, match="webservices.allow"):
        client.check_for_user(EID)


def test_plain_http_403_is_forbidden(client: SakaiClient, sim: SakaiSimulator) -> None:
    sim.state.add_failures({"login": "http403"})
    with pytest.raises(errors.SakaiForbidden):
        client.check_for_user(EID)


def test_read_timeout_is_unavailable(sim: SakaiSimulator) -> None:
    requests.post(f"{sim.url}/_sim/config", json={"latency_ms": 1500}, timeout=5)
    slow = SakaiClient(sim.url, "svc-bridge", ADMIN_PASSWORD, read_timeout=0.3)
    with pytest.raises(errors.SakaiUnavailable, match=sim.url):
        slow.check_for_user(EID)


def test_connection_refused_is_unavailable(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = SakaiClient(f"http://127.0.0.1:{port}", "svc-bridge", ADMIN_PASSWORD)
    with pytest.raises(errors.SakaiUnavailable, match="cannot connect") as info:
        down.check_for_user(EID)
    assert info.value.__cause__ is None and info.value.__context__ is None
    _assert_no_secrets(caplog, ADMIN_PASSWORD)


def test_server_error_without_soap_is_unavailable(client: SakaiClient, sim: SakaiSimulator) -> None:
    sim.state.add_failures({"checkForUser": "http502"})
    with pytest.raises(errors.SakaiUnavailable):
        client.check_for_user(EID)


def test_garbage_reply_is_protocol_error(client: SakaiClient, sim: SakaiSimulator) -> None:
    sim.state.add_failures({"checkForUser": "garbage"})
    with pytest.raises(errors.SakaiProtocolError):
        client.check_for_user(EID)


def test_session_for_user_rejects_a_non_session_result(
    client: SakaiClient, sim: SakaiSimulator
) -> None:
    sim.state.add_failures({"getSessionForUser": "result:<exception/>"})
    with pytest.raises(errors.SakaiProtocolError, match="not a session id"):
        client.get_session_for_user(EID)


def test_on_call_hook_gets_operation_latency_and_error(sim: SakaiSimulator) -> None:
    seen: list[tuple[str, float, str | None]] = []
    hooked = SakaiClient(sim.url, "svc-bridge", ADMIN_PASSWORD,
                         on_call=lambda op, s, err: seen.append((op, s, err)))
    sim.state.add_failures({"checkForUser": "boom"})
    with pytest.raises(errors.SakaiFault):
        hooked.check_for_user(EID)
    assert [(op, err) for op, _, err in seen] == [("login", None), ("checkForUser", "sakai_fault")]
    assert all(seconds >= 0 for _, seconds, _ in seen)


def test_base_url_with_credentials_is_refused() -> None:
    with pytest.raises(errors.ConfigError):
        SakaiClient("https://admin:pw@lms.example.edu", "a", "b")


@pytest.mark.parametrize("sim_config", [SimConfig(admin_eid="svc-bridge",
                                                  admin_password=ADMIN_PASSWORD,
                                                  hang_seconds=5.0)])
def test_injected_hang_is_unavailable_and_stop_releases_it(sim: SakaiSimulator) -> None:
    impatient = SakaiClient(sim.url, "svc-bridge", ADMIN_PASSWORD, read_timeout=0.3)
    sim.state.add_failures({"checkForUser": "timeout"})
    with pytest.raises(errors.SakaiUnavailable, match="no answer within"):
        impatient.check_for_user(EID)
