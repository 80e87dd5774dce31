"""The MDQ client against a loopback MDQ service serving signed per-entity metadata.

An answer is trusted only when the MDQ signer signed it, it describes the entity asked for and
it is in date; it is cached until its validUntil or cacheDuration. A tampered, re-targeted or
stale answer is refused, and never cached.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.aggregate import Trust, load_signer
from sso_bridge.saml.federation.index import sha1_id
from sso_bridge.saml.federation.mdq import MdqClient, duration_seconds
from tests.federation.conftest import Keys, sample_idps
from tests.federation.factory import cert_body, idp_xml, signed_entity, sp_xml
from tests.federation.servers import MdqService, mdq_server
from tests.sakai.tls import localhost_certificate, server_context

UNI = "https://idp.uni.example/idp"
PARTNER = "https://login.partner.example/saml"


@pytest.fixture
def service(keys: Keys) -> MdqService:
    mdq = MdqService()
    for idp in sample_idps(keys):
        mdq.entities[idp.entity_id] = signed_entity(idp_xml(idp), keys["federation"][0])
    return mdq


@pytest.fixture
def trust(tmp_path: Path, keys: Keys) -> Trust:
    (tmp_path / "mdq.crt").write_text(keys["federation"][1])
    return Trust(load_signer(tmp_path / "mdq.crt", "mdq.signing_certificate"),
                 "mdq.signing_certificate", max_validity_days=7)


@pytest.fixture
def base(service: MdqService) -> Iterator[str]:
    with mdq_server(service) as url:
        yield url


def client(base: str, trust: Trust, **options: object) -> MdqClient:
    return MdqClient(base, trust, setting="mdq.url", allow_http=True, **options)  # type: ignore[arg-type]


def refused(base: str, trust: Trust, entity_id: str = UNI) -> str:
    with pytest.raises(ConfigError) as caught:
        client(base, trust).lookup(entity_id)
    return caught.value.detail


def test_a_signed_entity_is_fetched_verified_and_cached(base: str, trust: Trust, keys: Keys,
                                                        service: MdqService) -> None:
    mdq = client(base, trust)
    record = mdq.lookup(UNI)
    assert record is not None and record.signing_certs == (cert_body(keys["idp-a"][1]),)
    assert record.display_names["de"] == "Universität Beispiel"
    assert mdq.lookup(UNI) == record
    assert service.requests[UNI] == 1


def test_the_sha1_form_of_the_entity_id_is_asked_for_when_configured(
        base: str, trust: Trust, service: MdqService) -> None:
    record = client(base, trust, transformed=True).lookup(PARTNER)
    assert record is not None and record.entity_id == PARTNER
    assert list(service.requests) == ["{sha1}" + sha1_id(PARTNER)]


def test_an_entity_the_service_does_not_know_is_none_and_asked_for_once(
        base: str, trust: Trust, service: MdqService) -> None:
    """Made-up entityIDs in ?idp= must not each cost a request to the MDQ service."""
    mdq = client(base, trust, unknown_cache_seconds=1)
    assert mdq.lookup("https://nowhere.example/idp") is None
    assert mdq.lookup("https://nowhere.example/idp") is None
    assert service.requests["https://nowhere.example/idp"] == 1
    time.sleep(1.1)
    assert mdq.lookup("https://nowhere.example/idp") is None
    assert service.requests["https://nowhere.example/idp"] == 2


def test_the_cache_holds_at_most_max_entries(base: str, trust: Trust,
                                             service: MdqService) -> None:
    mdq = client(base, trust, max_entries=2)
    for entity_id in ("https://a.example/idp", "https://b.example/idp", UNI, PARTNER):
        mdq.lookup(entity_id)
    assert mdq.lookup(PARTNER) is not None and mdq.lookup(UNI) is not None
    mdq.lookup("https://a.example/idp")
    assert service.requests["https://a.example/idp"] == 2
    assert service.requests[PARTNER] == service.requests[UNI] == 1


def test_a_tampered_entity_is_refused_and_not_cached(base: str, trust: Trust, keys: Keys,
                                                     service: MdqService) -> None:
    genuine = service.entities[UNI]
    attacker = cert_body(keys["other"][1])[:64].encode()  # the first line of the wrapped body
    service.entities[UNI] = genuine.replace(cert_body(keys["idp-a"][1])[:64].encode(), attacker)
    assert attacker in service.entities[UNI]
    assert "changed after signing" in refused(base, trust)
    service.entities[UNI] = genuine
    mdq = client(base, trust)
    assert mdq.lookup(UNI) is not None


def test_an_entity_signed_by_another_key_is_refused(base: str, trust: Trust, keys: Keys,
                                                    service: MdqService) -> None:
    service.entities[UNI] = signed_entity(idp_xml(sample_idps(keys)[0]), keys["other"][0])
    detail = refused(base, trust)
    assert "'mdq.signing_certificate'" in detail and "is not signed by the key of" in detail


def test_another_entitys_signed_metadata_served_for_this_one_is_refused(
        base: str, trust: Trust, service: MdqService) -> None:
    """The attack: a genuine, signed answer for the partner, replayed as the university's."""
    service.entities[UNI] = service.entities[PARTNER]
    assert f"describes '{PARTNER}', not '{UNI}'" in refused(base, trust)


@pytest.mark.parametrize("valid_for, expected", [
    (timedelta(seconds=-5), "expired at"),
    (None, "no validUntil"),
    (timedelta(days=30), "more than 7 days ahead"),
])
def test_an_entity_out_of_date_is_refused(base: str, trust: Trust, keys: Keys,
                                          service: MdqService, valid_for: timedelta | None,
                                          expected: str) -> None:
    service.entities[UNI] = signed_entity(idp_xml(sample_idps(keys)[0]), keys["federation"][0],
                                          valid_for=valid_for)
    assert expected in refused(base, trust)


def test_an_sp_is_not_an_idp(base: str, trust: Trust, keys: Keys, service: MdqService) -> None:
    sp = "https://sp.example.org/shibboleth"
    service.entities[sp] = signed_entity(sp_xml(sp, keys["other"][1]), keys["federation"][0])
    assert "is not an IdP" in refused(base, trust, sp)


def test_the_cache_ends_with_the_cache_duration(base: str, trust: Trust, keys: Keys,
                                               service: MdqService) -> None:
    service.entities[UNI] = signed_entity(idp_xml(sample_idps(keys)[0]), keys["federation"][0],
                                          cache_duration="PT1S")
    mdq = client(base, trust)
    mdq.lookup(UNI)
    mdq.lookup(UNI)
    assert service.requests[UNI] == 1
    time.sleep(1.1)
    mdq.lookup(UNI)
    assert service.requests[UNI] == 2


def test_mdq_over_https_with_the_ca_given(tmp_path: Path, trust: Trust,
                                          service: MdqService) -> None:
    cert, key = localhost_certificate(tmp_path)
    with mdq_server(service, server_context(cert, key), host="localhost") as url:
        assert MdqClient(url, trust, setting="mdq.url", ca_file=str(cert)).lookup(UNI)
        with pytest.raises(ConfigError, match="cannot fetch"):
            MdqClient(url, trust, setting="mdq.url").lookup(UNI)


@pytest.mark.parametrize("text, seconds", [
    ("PT6H", 21600), ("P1D", 86400), ("PT1M30S", 90), ("P1DT1S", 86401), ("6 hours", None),
    ("P", None),
])
def test_cache_durations(text: str, seconds: float | None) -> None:
    assert duration_seconds(text) == seconds
