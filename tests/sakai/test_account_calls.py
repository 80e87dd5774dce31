"""The account calls provisioning adds (type, marks), and names kept as Sakai keeps them."""

from __future__ import annotations

import pytest
import requests

from sso_bridge import errors
from sso_bridge.demo.sakai_sim import SakaiSimulator
from sso_bridge.sakai import SakaiClient
from sso_bridge.sakai.names import display_name, stored_name

EID = "jdoe@example.edu"


def _create(client: SakaiClient, first: str = "Jane", last: str = "Doe") -> None:
    client.add_new_user(EID, first, last, "jane@example.edu", "registered", "x" * 40)


def test_user_type_is_read_and_changed(client: SakaiClient, sim: SakaiSimulator) -> None:
    _create(client)
    assert client.get_user_type(EID) == "registered"
    client.change_user_type(EID, "maintain")
    assert client.get_user_type(EID) == "maintain"
    assert sim.state.user_by_eid(EID).type == "maintain"
    assert client.get_user_type("nobody") == ""


def test_change_type_of_unknown_user_is_a_fault(client: SakaiClient) -> None:
    with pytest.raises(errors.SakaiFault, match="NullPointerException"):
        client.change_user_type("nobody@example.edu", "maintain")


def test_user_property_is_set_and_read_back(client: SakaiClient, sim: SakaiSimulator) -> None:
    _create(client)
    assert client.get_user_property(EID, "sso_bridge.account") is None
    assert client.set_user_property(EID, "sso_bridge.account", "created") is True
    assert client.get_user_property(EID, "sso_bridge.account") == "created"
    assert client.set_user_property("nobody", "sso_bridge.account", "created") is False


@pytest.mark.parametrize(("first", "last", "shown"), [
    ("Jane", "Smith <Jr>", "Jane Smith "),
    ("<b>Jane</b>", "Doe", "Jane Doe"),
    ("Jane &amp; Co", "Doe", "Jane & Co Doe"),
    ("Jane<br/>", "Doe", "Jane\n Doe"),
    ("", "Mononym", "Mononym"),
    ("", "", EID),
])
def test_names_are_stored_and_shown_as_sakai_does(client: SakaiClient, first: str, last: str,
                                                  shown: str) -> None:
    """BaseUserEdit stores names as plain text (SAK-20226); getDisplayName joins them as is.
    The bridge's expectation (sakai.names) and the simulator agree."""
    _create(client, first, last)
    assert client.get_user_display_name(EID) == shown
    assert display_name(first, last, EID) == shown
    client.change_user_name(EID, first, last)
    assert client.get_user_display_name(EID) == shown
    assert stored_name(last) in shown


def test_control_api_deletes_a_user(client: SakaiClient, sim: SakaiSimulator) -> None:
    _create(client)
    reply = requests.delete(f"{sim.url}/_sim/users/{EID}", timeout=5)
    assert reply.json() == {"removed": EID}
    assert client.check_for_user(EID) is False
    assert client.get_user_property(EID, "disabled") == ""
    assert requests.delete(f"{sim.url}/_sim/users/{EID}", timeout=5).status_code == 404
