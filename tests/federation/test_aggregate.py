"""A federation's signed aggregate: verified, dated and filtered before any IdP is trusted.

Whoever can change the aggregate on its way, or where it is kept, could add an IdP or swap an
IdP's key for their own and sign in as anyone (saml-hardening.md B19). Each attack below must
be refused with the setting named, and leave no index behind.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.build import BuildSpec, build
from sso_bridge.saml.federation.index import FederationIndex, sha1_id
from sso_bridge.saml.federation.records import Endpoint
from sso_bridge.saml.metadata import Scope
from tests.federation.conftest import Keys, aggregate, sample_idps
from tests.federation.factory import (
    POST,
    RANDS,
    REDIRECT,
    Idp,
    aggregate_xml,
    cert_body,
    idp_xml,
    sign_aggregate,
    stamp,
)

Make = Callable[..., BuildSpec]
UNI = "https://idp.uni.example/idp"
COLLEGE = "https://idp.college.example/idp"


def index_of(spec: BuildSpec) -> FederationIndex:
    return FederationIndex(Path(spec.index))


def refused(spec: BuildSpec) -> str:
    with pytest.raises(ConfigError) as caught:
        build(spec)
    assert not Path(spec.index).exists(), "a refused aggregate must leave no index"
    return caught.value.detail


def test_every_admitted_idp_is_indexed_with_what_a_login_and_discovery_need(
        federation: Make, keys: Keys) -> None:
    spec = federation()
    summary = build(spec)
    assert (summary.idp_count, summary.idps_seen, summary.problems) == (3, 3, ())
    uni = index_of(spec).find(UNI)
    assert uni is not None
    assert uni.signing_certs == (cert_body(keys["idp-a"][1]),)
    assert uni.sso_url(REDIRECT) == "https://idp.uni.example/idp/profile/SAML2/Redirect/SSO"
    assert Endpoint(POST, "https://idp.uni.example/idp/profile/SAML2/Redirect/SSO") in uni.sso
    assert uni.slo[0] == Endpoint(REDIRECT, "https://idp.uni.example/idp/profile/SAML2/Redirect/SLO")
    assert uni.wants_signed_requests is True
    assert uni.scopes == (Scope("uni.example"),)
    assert uni.display_names == {"en": "University of Example", "de": "Universität Beispiel"}
    assert uni.descriptions["de"] == "Personal und Studierende"
    assert uni.keywords == {"en": ("campus", "north"), "de": ("hochschule", "nord")}
    assert [logo.url for logo in uni.logos] == ["https://uni.example/logo.png"]
    assert uni.registration_authority == "https://www.example-federation.org"
    assert uni.entity_categories == (RANDS,)
    college = index_of(spec).find("https://idp.college.example/idp")
    assert college is not None and len(college.signing_certs) == 2


def test_an_idp_is_found_by_the_sha1_of_its_entity_id(federation: Make) -> None:
    spec = federation()
    build(spec)
    found = index_of(spec).find("{sha1}" + sha1_id(UNI))
    assert found is not None and found.entity_id == UNI


def test_an_sp_or_an_unknown_entity_is_not_an_idp(federation: Make) -> None:
    spec = federation()
    build(spec)
    assert index_of(spec).find("https://sp.example.org/shibboleth") is None
    assert index_of(spec).find("https://evil.example/idp") is None


def test_unsigned_aggregate_is_refused(federation: Make, keys: Keys) -> None:
    unsigned = aggregate(keys, tamper=lambda xml: xml.replace(
        xml[xml.index(b"<ds:Signature"):xml.index(b"</ds:Signature>") + 15], b""))
    detail = refused(federation(unsigned))
    assert "'federations.test.signing_certificate'" in detail and "is not signed" in detail


def test_aggregate_signed_by_another_key_is_refused(federation: Make, keys: Keys) -> None:
    detail = refused(federation(aggregate(keys, signer="other")))
    assert "is not signed by the key of" in detail


def test_an_idp_key_swapped_after_signing_is_refused(federation: Make, keys: Keys) -> None:
    attacker = cert_body(keys["other"][1])
    genuine = cert_body(keys["idp-a"][1])
    swapped = aggregate(keys, tamper=lambda xml: xml.replace(
        "\n".join(genuine[i:i + 64] for i in range(0, len(genuine), 64)).encode(),
        attacker.encode(), 1))
    assert attacker.encode() in swapped
    assert "changed after signing" in refused(federation(swapped))


def test_an_idp_added_after_signing_is_refused(federation: Make, keys: Keys) -> None:
    def add(xml: bytes) -> bytes:
        rogue = Idp("https://rogue.example/idp", scopes=["uni.example"],
                    names={"en": "Rogue"}, certs=[keys["other"][1]])
        return xml.replace(b"</md:EntitiesDescriptor>", idp_xml(rogue).encode()
                           + b"</md:EntitiesDescriptor>")

    assert "changed after signing" in refused(federation(aggregate(keys, tamper=add)))


def test_expired_aggregate_is_refused(federation: Make, keys: Keys) -> None:
    detail = refused(federation(aggregate(keys, valid_for=timedelta(hours=-1))))
    assert "expired at" in detail


def test_aggregate_without_valid_until_is_refused(federation: Make, keys: Keys) -> None:
    assert "no validUntil" in refused(federation(aggregate(keys, valid_for=None)))


def test_aggregate_valid_too_far_ahead_is_refused(federation: Make, keys: Keys) -> None:
    detail = refused(federation(aggregate(keys, valid_for=timedelta(days=30))))
    assert "more than 14 days ahead" in detail


def test_entity_expansion_is_refused_before_anything_is_read(federation: Make,
                                                             keys: Keys) -> None:
    """Billion laughs: a DOCTYPE with nested entities in front of a genuine aggregate."""
    bomb = (b'<?xml version="1.0"?><!DOCTYPE md:EntitiesDescriptor [<!ENTITY a "aaaaaaaa">'
            b'<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">]>')
    genuine = aggregate(keys)
    detail = refused(federation(bomb + genuine[genuine.index(b"<md:EntitiesDescriptor"):]))
    assert "DOCTYPE" in detail


def test_a_bad_signer_certificate_is_named(federation: Make, tmp_path: Path) -> None:
    (tmp_path / "other.crt").write_text("not a certificate")
    detail = refused(federation(signing_certificate=str(tmp_path / "other.crt")))
    assert "'federations.test.signing_certificate'" in detail and "other.crt" in detail


@pytest.mark.parametrize("admission, admitted", [
    ({"entity_ids": (UNI, "https://idp.college.example/idp")},
     [UNI, "https://idp.college.example/idp"]),
    ({"registration_authorities": ("https://other-federation.example.org",)},
     ["https://login.partner.example/saml"]),
    ({"entity_categories": (RANDS,)}, [UNI]),
    ({"entity_ids": (UNI,), "registration_authorities": ("https://other-federation.example.org",)},
     []),
])
def test_only_the_admitted_idps_are_trusted(federation: Make, admission: dict[str, object],
                                            admitted: list[str]) -> None:
    spec = federation(**admission)
    if not admitted:
        assert "has no admitted IdP (3 IdPs in it)" in refused(spec)
        return
    build(spec)
    assert index_of(spec).entity_ids() == sorted(admitted)


def test_an_expired_or_unusable_entity_is_left_out_and_the_rest_load(
        federation: Make, keys: Keys) -> None:
    idps = sample_idps(keys)
    idps[1].valid_until = stamp(timedelta(hours=-2))
    idps.append(Idp(UNI, certs=[keys["other"][1]], names={"en": "Second copy"}))
    spec = federation(aggregate(keys, idps))
    summary = build(spec)
    assert summary.idp_count == 2
    problems = "\n".join(summary.problems)
    assert "https://login.partner.example/saml: expired at" in problems
    assert f"{UNI}: described twice; the first kept" in problems
    uni = index_of(spec).find(UNI)
    assert uni is not None and uni.signing_certs == (cert_body(keys["idp-a"][1]),)


def test_the_idps_of_an_expired_nested_group_are_left_out(federation: Make, keys: Keys) -> None:
    idps = sample_idps(keys)
    group = ('<md:EntitiesDescriptor Name="urn:example:old-members" validUntil="'
             f'{stamp(timedelta(hours=-1))}">{idp_xml(idps[1])}</md:EntitiesDescriptor>')
    fresh = ('<md:EntitiesDescriptor Name="urn:example:members" validUntil="'
             f'{stamp(timedelta(days=1))}">{idp_xml(idps[2])}</md:EntitiesDescriptor>')
    entities = [idp_xml(idps[0]), group, fresh]
    spec = federation(sign_aggregate(aggregate_xml(entities), keys["federation"][0]))
    summary = build(spec)
    assert index_of(spec).entity_ids() == [COLLEGE, UNI]
    assert "the group 'urn:example:old-members' expired at" in summary.problems[0]
