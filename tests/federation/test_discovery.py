"""Finding one's IdP: search as you type over the indexed IdPs' names and keywords in the
learner's language, and the email-domain hint."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from sso_bridge.saml.federation.build import BuildSpec, build
from sso_bridge.saml.federation.discovery import Choice, Discovery
from sso_bridge.saml.federation.index import FederationIndex
from tests.federation.conftest import Keys, aggregate, sample_idps
from tests.federation.factory import Idp

UNI, PARTNER = "https://idp.uni.example/idp", "https://login.partner.example/saml"
COLLEGE = "https://idp.college.example/idp"


@pytest.fixture
def discovery(federation: Callable[..., BuildSpec], keys: Keys) -> Discovery:
    idps = [*sample_idps(keys),
            Idp("https://idp.guests.example/idp", scopes=["guests.example"],
                names={"en": "Guest Accounts"}, keywords={"en": "partner visitor"},
                certs=[keys["idp-a"][1]])]
    spec = federation(aggregate(keys, idps))
    build(spec)
    return Discovery(FederationIndex(Path(spec.index)).discovery_entries())


def names(found: list[Choice]) -> list[str]:
    return [choice.name for choice in found]


def test_a_half_typed_name_finds_the_idp(discovery: Discovery) -> None:
    found = discovery.search("univ", "en")
    assert [(c.entity_id, c.name, c.matched) for c in found] == [
        (UNI, "University of Example", "name")]
    assert found[0].logo == "https://uni.example/logo.png"


def test_every_word_typed_must_begin_a_word(discovery: Discovery) -> None:
    assert names(discovery.search("of exa", "en")) == ["University of Example"]
    assert discovery.search("versity", "en")[0].matched == "text"
    assert discovery.search("univ zzz", "en") == []


def test_the_name_is_in_the_learners_language_and_accents_do_not_matter(
        discovery: Discovery) -> None:
    assert names(discovery.search("universitat", "de")) == ["Universität Beispiel"]
    assert names(discovery.search("UNIVERSITÄT", "de-AT")) == ["Universität Beispiel"]


def test_english_then_any_language_is_the_fallback(discovery: Discovery) -> None:
    assert names(discovery.search("university", "fr")) == ["University of Example"]
    assert names(discovery.search("college", "en")) == ["Collège Exemple"]


def test_keywords_find_an_idp_and_rank_after_names(discovery: Discovery) -> None:
    assert [(c.name, c.matched) for c in discovery.search("north", "en")] == [
        ("University of Example", "keyword")]
    assert names(discovery.search("nord", "de")) == ["Universität Beispiel"]
    assert [(c.entity_id, c.matched) for c in discovery.search("partner", "en")] == [
        (PARTNER, "name"), ("https://idp.guests.example/idp", "keyword")]


def test_an_email_address_finds_the_idp_of_its_domain(discovery: Discovery) -> None:
    assert [(c.entity_id, c.matched) for c in discovery.search("alice@uni.example", "en")] == [
        (UNI, "email")]
    assert [c.entity_id for c in discovery.search("bob@cs.uni.example", "de")] == [UNI]
    assert discovery.search("bob@cs.uni.example", "de")[0].name == "Universität Beispiel"


@pytest.mark.parametrize("query", ["mallory@evil.example", "x@example", "alice@", "", "  "])
def test_nothing_is_offered_for_an_unknown_domain_or_an_empty_query(
        discovery: Discovery, query: str) -> None:
    assert discovery.search(query, "en") == []


def test_the_number_of_choices_is_limited(discovery: Discovery) -> None:
    assert len(discovery.search("e", "en", limit=2)) == 2
    assert len(discovery) == 4
