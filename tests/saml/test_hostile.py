"""Hostile responses, each named after the attack it tries, each asserting the refusal code.

Keys are generated and responses signed at test time (tests/samlfactory), so dates never rot.
The catalogue is saml-hardening.md section B.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from unittest import mock

import pytest

from sso_bridge import errors
from tests.saml.conftest import ACS, Bridge
from tests.samlfactory import attacks
from tests.samlfactory.idp import EVIL_NAME_ID, TestIdp, encode

EPPN = "urn:oid:1.3.6.1.4.1.5923.1.1.1.6"


def refused(bridge: Bridge, xml: str, code: type[errors.BridgeError], *,
            relay_state: str | None = "", browser: str | None = "browser-1") -> None:
    """POST ``xml`` for a freshly started login and assert the refusal's class."""
    if relay_state == "":
        relay_state = bridge.start().relay_token
    with pytest.raises(code):
        bridge.post(xml, relay_state, browser)


def started(bridge: Bridge) -> tuple[str, str]:
    start = bridge.start()
    return start.request_id, start.relay_token


# --- B9 replay ----------------------------------------------------------------------------


def test_replay_of_the_same_post_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    xml = bridge.response(request_id)
    bridge.post(xml, relay)
    with pytest.raises(errors.SamlReplay):
        bridge.post(xml, relay)


def test_a_second_assertion_for_a_used_authn_request_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    bridge.post(bridge.response(request_id), relay)
    with pytest.raises(errors.SamlReplay):  # a new assertion ID, the same pending login
        bridge.post(bridge.response(request_id), relay)


def test_replay_of_an_assertion_rewrapped_for_a_new_login_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    bridge.post(bridge.response(request_id, assertion_id="_same-assertion-id"), relay)
    request_id, relay = started(bridge)
    with pytest.raises(errors.SamlReplay):
        bridge.post(bridge.response(request_id, assertion_id="_same-assertion-id"), relay)


# --- B8 InResponseTo / unsolicited / login CSRF -------------------------------------------


def test_missing_in_response_to_is_refused_as_unsolicited(bridge: Bridge) -> None:
    refused(bridge, bridge.response(None), errors.SamlUnsolicited, relay_state=None)


def test_unsolicited_response_is_accepted_when_the_idp_may_start_logins(
        make_bridge: Callable[..., Bridge]) -> None:
    bridge = make_bridge(allow_unsolicited=True)
    result = bridge.post(bridge.response(None), "https://lms.example.edu/portal/site/x")
    assert result.unsolicited and result.identity.eid


def test_in_response_to_of_another_request_is_refused(bridge: Bridge) -> None:
    other_request, _ = started(bridge)
    refused(bridge, bridge.response(other_request), errors.SamlInResponseTo)


def test_a_confirmation_for_another_request_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=bridge.settings.sp_entity_id,
                                    in_response_to=request_id)
    scd = xml.index("<saml:SubjectConfirmationData")
    xml = xml[:scd] + xml[scd:].replace(request_id, "_another_request", 1)
    refused(bridge, bridge.idp.sign(xml), errors.SamlInResponseTo, relay_state=relay)


def test_response_posted_from_another_browser_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    refused(bridge, bridge.response(request_id), errors.LoginStateMissing,
            relay_state=relay, browser="attackers-browser")
    # The attacker's attempt did not use up the learner's pending login.
    assert bridge.post(bridge.response(request_id), relay).identity.eid


def test_a_pending_login_cookie_for_another_relay_state_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    _, other_relay = started(bridge)
    state = bridge.cookies["browser-1"][relay]
    with pytest.raises(errors.SamlInResponseTo):
        bridge.sp.complete_login(encode(bridge.response(request_id)), other_relay, state)


def test_a_forged_or_expired_pending_login_cookie_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    state = bridge.cookies["browser-1"][relay]
    forged = state[:-4] + ("AAAA" if not state.endswith("AAAA") else "BBBB")
    with pytest.raises(errors.LoginStateForged, match="SSO_BRIDGE_SECRET_KEY"):
        bridge.sp.complete_login(encode(bridge.response(request_id)), relay, forged)
    later = time.time() + bridge.settings.store.login_timeout_seconds + 5
    with mock.patch("time.time", return_value=later), pytest.raises(errors.LoginStateMissing):
        bridge.sp.complete_login(encode(bridge.response(request_id)), relay, state)


def test_hole8_a_solicited_assertion_posted_as_unsolicited_is_refused(
        make_bridge: Callable[..., Bridge]) -> None:
    """Unsolicited logins on, only assertions signed (both are IdP choices): an assertion
    issued for a victim's AuthnRequest, its unsigned Response stripped of InResponseTo, would
    be an unsolicited login bound to no browser. Its confirmation's signed InResponseTo gives
    it away (python3-saml looks at that only when the Response has one too)."""
    bridge = make_bridge(allow_unsolicited=True, want_response_signed=False)
    victim_request, _ = started(bridge)
    xml = attacks.solicited_assertion_posted_unsolicited(
        bridge.response(victim_request, sign_response=False))
    with pytest.raises(errors.SamlInResponseTo, match="unsolicited"):
        bridge.post(xml, "https://lms.example.edu/portal", browser="attackers-browser")
    genuine = bridge.post(bridge.response(None, sign_response=False),
                          "https://lms.example.edu/portal", browser="attackers-browser")
    assert genuine.unsolicited  # what the IdP really starts still works


def test_hole9_an_over_long_relay_state_is_reported_as_such(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    too_long = relay + "x" * bridge.settings.limits.max_relay_state_bytes
    with pytest.raises(errors.SamlRelayStateTooLong, match="max_relay_state_bytes"):
        bridge.post(bridge.response(request_id), too_long)
    assert bridge.post(bridge.response(request_id), relay).identity.eid  # nothing was used up


def test_solicited_response_without_relay_state_is_refused(bridge: Bridge) -> None:
    request_id, _ = started(bridge)
    refused(bridge, bridge.response(request_id), errors.SamlInResponseTo, relay_state=None)


def test_unknown_relay_state_is_refused(bridge: Bridge) -> None:
    request_id, _ = started(bridge)
    refused(bridge, bridge.response(request_id), errors.LoginStateMissing,
            relay_state="made-up-token")


# --- B5 / B6 audience, destination, recipient ---------------------------------------------


@pytest.mark.parametrize(("field", "value", "code"), [
    ("audience", None, errors.SamlAudience),
    ("audience", "https://other-sp.example/", errors.SamlAudience),
    ("destination", ACS + "/extra", errors.SamlDestination),
    ("destination", None, errors.SamlDestination),
    ("destination", "https://evil.example/?x=" + ACS, errors.SamlDestination),
    ("recipient", ACS + "/extra", errors.SamlRecipient),
    ("recipient", None, errors.SamlRecipient),
    ("recipient", "https://evil.example/?x=" + ACS, errors.SamlRecipient),
    ("recipient", "https://other-sp.example/acs", errors.SamlRecipient),
], ids=["missing-audience", "wrong-audience", "destination-suffix", "destination-absent",
        "destination-substring", "recipient-suffix", "recipient-absent", "recipient-substring",
        "recipient-of-another-sp"])
def test_audience_destination_recipient_must_be_exact(bridge: Bridge, field: str,
                                                      value: str | None,
                                                      code: type[errors.BridgeError]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, bridge.response(request_id, **{field: value}), code, relay_state=relay)


# --- B7 time ------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "code"), [
    ({"scd_not_on_or_after": None}, errors.SamlExpired),
    ({"conditions_not_on_or_after": -600, "scd_not_on_or_after": -600}, errors.SamlExpired),
    ({"conditions_not_before": 600}, errors.SamlExpired),
    ({"scd_not_on_or_after": 365 * 86400, "conditions_not_on_or_after": None},
     errors.SamlTooOld),
    ({"issue_instant": -7200}, errors.SamlTooOld),
    ({"issue_instant": 3600}, errors.SamlExpired),
    ({"scd_not_on_or_after": -10}, errors.SamlExpired),
    ({"conditions_not_on_or_after": -200}, errors.SamlExpired),
], ids=["scd-without-not-on-or-after", "expired", "not-yet-valid", "valid-for-a-year",
        "issued-two-hours-ago", "issued-in-the-future", "bearer-confirmation-expired",
        "expired-beyond-the-configured-skew"])
def test_time_limits(bridge: Bridge, kwargs: dict[str, int | None],
                     code: type[errors.BridgeError]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, bridge.response(request_id, **kwargs), code, relay_state=relay)


# --- B3 / B4 / B15 signatures -------------------------------------------------------------


def test_unsigned_response_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    refused(bridge, bridge.response(request_id, sign_response=False, sign_assertion=False),
            errors.SamlInvalid, relay_state=relay)


@pytest.mark.parametrize("which", ["response", "assertion"])
def test_each_required_signature_is_enforced(bridge: Bridge, which: str) -> None:
    request_id, relay = started(bridge)
    xml = bridge.response(request_id, **{f"sign_{which}": False})
    refused(bridge, xml, errors.SamlInvalid, relay_state=relay)


def test_sha1_signature_is_refused(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    refused(bridge, bridge.response(request_id, algorithm="sha1"),
            errors.SamlDeprecatedAlgorithm, relay_state=relay)


def test_signature_by_a_key_not_in_metadata_is_refused(bridge: Bridge) -> None:
    attacker = TestIdp(entity_id=bridge.idp.entity_id)
    request_id, relay = started(bridge)
    unsigned = bridge.idp.build_response(acs_url=ACS, sp_entity_id=bridge.settings.sp_entity_id,
                                         in_response_to=request_id)
    refused(bridge, attacker.sign(unsigned), errors.SamlInvalid, relay_state=relay)


@pytest.mark.parametrize("attack", [attacks.strip_signatures, attacks.empty_signature_value,
                                    attacks.edit_name_id_after_signing])
def test_tampered_signatures_are_refused(bridge: Bridge, attack: Callable[[str], str]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, attack(bridge.response(request_id)), errors.SamlError, relay_state=relay)


# --- B1 XSW -------------------------------------------------------------------------------


@pytest.mark.parametrize("attack", [
    attacks.xsw1, attacks.xsw2, attacks.xsw3, attacks.xsw4, attacks.xsw5, attacks.xsw6,
    attacks.xsw7, attacks.xsw8, attacks.second_assertion_appended, attacks.assertion_in_advice,
], ids=lambda f: f.__name__)
def test_signature_wrapping_is_refused(bridge: Bridge, attack: Callable[[str], str]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, attack(bridge.response(request_id)), errors.SamlError, relay_state=relay)


def test_decoy_id_in_extensions_never_yields_the_evil_identity(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    xml = attacks.decoy_id_in_extensions(bridge.response(request_id))
    try:
        result = bridge.post(xml, relay)
    except errors.SamlError:
        return
    assert result.identity.eid != EVIL_NAME_ID.lower()


# --- B2 comment injection -----------------------------------------------------------------


@pytest.mark.parametrize("injection", ["comment", "cdata", "pi"])
def test_comment_inside_name_id_does_not_truncate_the_identity(bridge: Bridge,
                                                               injection: str) -> None:
    request_id, relay = started(bridge)
    signed = bridge.response(request_id, name_id="victim@example.org.evil.org",
                             attributes={EPPN: ["victim@example.org.evil.org"]})
    xml = attacks.comment_in_name_id(signed, "victim@example.org", injection)  # type: ignore[arg-type]
    try:
        result = bridge.post(xml, relay)
    except errors.SamlError:
        return  # refusing is fine too
    assert result.identity.eid == "victim@example.org.evil.org"
    assert result.identity.name_id == "victim@example.org.evil.org"


# --- B10 / B11 XML bombs and sizes --------------------------------------------------------


@pytest.mark.parametrize("attack", [attacks.xxe_file, attacks.billion_laughs,
                                    attacks.doctype_internal_attlist,
                                    attacks.doctype_external_system], ids=lambda f: f.__name__)
def test_doctype_is_refused(bridge: Bridge, attack: Callable[[str], str]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, attack(bridge.response(request_id)), errors.SamlForbiddenXml,
            relay_state=relay)


def test_oversized_response_is_refused_before_decoding(bridge: Bridge) -> None:
    limit = bridge.settings.limits.max_saml_response_bytes
    with pytest.raises(errors.SamlTooLarge):
        bridge.sp.complete_login("A" * (limit * 2), "x", "browser-1")


def test_garbage_base64_is_refused(bridge: Bridge) -> None:
    with pytest.raises(errors.SamlMalformed):
        bridge.sp.complete_login("%%% not base64 %%%", "x", "browser-1")


def test_not_xml_is_refused(bridge: Bridge) -> None:
    with pytest.raises(errors.SamlMalformed):
        bridge.sp.complete_login(encode("<samlp:Response"), "x", "browser-1")


# --- B14 transforms and other XML-DSig features -------------------------------------------


def test_xslt_transform_cpu_attack_is_refused_fast(bridge: Bridge) -> None:
    """400 padding elements cost ~23 s of CPU in an unprotected python3-saml 1.16.0 (the cost
    grows with the cube of the padding, so a regression fails here instead of hanging)."""
    request_id, relay = started(bridge)
    xml = attacks.xslt_transform(bridge.response(request_id), payload_padding=400)
    began = time.process_time()
    refused(bridge, xml, errors.SamlForbiddenTransform, relay_state=relay)
    assert time.process_time() - began < 2.0  # generous for a noisy machine; ~ms in practice


@pytest.mark.parametrize("attack", [attacks.xpath_filter_transform, attacks.extra_reference,
                                    attacks.signature_object], ids=lambda f: f.__name__)
def test_dsig_features_outside_the_saml_profile_are_refused(
        bridge: Bridge, attack: Callable[[str], str]) -> None:
    request_id, relay = started(bridge)
    refused(bridge, attack(bridge.response(request_id)), errors.SamlForbiddenTransform,
            relay_state=relay)


# --- status -------------------------------------------------------------------------------


def test_idp_error_status_is_reported_as_such(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    xml = bridge.response(request_id, status_code="urn:oasis:names:tc:SAML:2.0:status:Responder")
    refused(bridge, xml, errors.SamlStatus, relay_state=relay)


def test_an_idp_status_message_reaches_the_log_quoted_and_cut_short(bridge: Bridge) -> None:
    request_id, relay = started(bridge)
    xml = bridge.idp.build_response(acs_url=ACS, sp_entity_id=bridge.settings.sp_entity_id,
                                    in_response_to=request_id,
                                    status_code="urn:oasis:names:tc:SAML:2.0:status:Requester")
    forged_line = "\n2026-11-28 INFO login of admin@example.org complete"
    xml = xml.replace("</samlp:Status>", f"<samlp:StatusMessage>{'x' * 5000}{forged_line}"
                                         "</samlp:StatusMessage></samlp:Status>")
    with pytest.raises(errors.SamlStatus) as refused:
        bridge.post(xml, relay)
    assert "\n" not in refused.value.detail and len(refused.value.detail) < 400


def test_python3_saml_s_refusal_reaches_the_log_quoted(bridge: Bridge) -> None:
    """python3-saml's messages quote the response (here a forged Issuer): the bridge's detail
    keeps them on one line, cut short."""
    request_id, relay = started(bridge)
    forged = "https://idp.test.example/idp\n2026-11-28 INFO login of admin complete" + "x" * 900
    with pytest.raises(errors.SamlInvalid) as refusal:
        bridge.post(bridge.response(request_id, issuer=forged), relay)
    assert "\n" not in refusal.value.detail and len(refusal.value.detail) < 400
    assert "issuer" in refusal.value.detail
