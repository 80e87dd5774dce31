"""The real SimpleSAMLphp IdP's metadata, as it publishes it, in a federation's aggregate.

A federation collects its members' metadata and publishes it signed with its own key. Here the
metadata the real IdP serves (signed by the IdP itself, as ``sign_metadata`` makes it) goes
into an aggregate beside generated IdPs, signed by a generated federation key; the index must
hold what a login needs of it exactly as the IdP published it, and a swapped key must stop it.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import requests

from sso_bridge.demo.idp import SimpleSamlIdp
from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.build import BuildSpec, build
from sso_bridge.saml.federation.discovery import Discovery
from sso_bridge.saml.federation.index import FederationIndex
from tests.federation.factory import (
    REDIRECT,
    Idp,
    aggregate_xml,
    idp_xml,
    key_pair,
    sign_aggregate,
)
from tests.support import require_simplesamlphp

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def real_idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SimpleSamlIdp]:
    require_simplesamlphp()
    with SimpleSamlIdp(tmp_path_factory.mktemp("idp"), sign_metadata=True) as server:
        yield server


def published(idp: SimpleSamlIdp) -> str:
    """The IdP's EntityDescriptor as it serves it (its XML declaration dropped)."""
    xml = requests.get(idp.metadata_url, timeout=10).text
    return xml[xml.index("<", xml.index("?>") + 2 if xml.startswith("<?xml") else 0):]


def spec_for(tmp_path: Path, entities: list[str], federation: tuple[str, str]) -> BuildSpec:
    (tmp_path / "federation.crt").write_text(federation[1])
    (tmp_path / "aggregate.xml").write_bytes(
        sign_aggregate(aggregate_xml(entities, valid_for=timedelta(days=4)), federation[0]))
    return BuildSpec("federations.test", str(tmp_path / "idps.sqlite"),
                     str(tmp_path / "federation.crt"), file=str(tmp_path / "aggregate.xml"),
                     max_validity_days=7)


def test_the_real_idps_metadata_is_indexed_as_it_published_it(
        tmp_path: Path, real_idp: SimpleSamlIdp) -> None:
    federation, neighbour = key_pair("federation"), key_pair("neighbour")
    other = Idp("https://idp.partner.example/idp", names={"en": "Partner Organisation"},
                certs=[neighbour[1]])
    spec = spec_for(tmp_path, [published(real_idp), idp_xml(other)], federation)
    assert build(spec).idp_count == 2
    record = FederationIndex(Path(spec.index)).find(real_idp.entity_id)
    assert record is not None
    assert record.sso_url(REDIRECT) == real_idp.sso_url
    body = "".join(real_idp.certificate_pem.split("-----")[2].split())
    assert record.signing_certs == (body,)
    entries = FederationIndex(Path(spec.index)).discovery_entries()
    # SimpleSAMLphp publishes no mdui: discovery falls back to the entityID.
    found = Discovery(entries).search("simplesaml")
    assert [c.entity_id for c in found] == [real_idp.entity_id]


def test_the_real_idps_key_swapped_in_the_aggregate_is_refused(
        tmp_path: Path, real_idp: SimpleSamlIdp) -> None:
    federation = key_pair("federation")
    spec = spec_for(tmp_path, [published(real_idp)], federation)
    genuine = "".join(real_idp.certificate_pem.split("-----")[2].split())
    attacker = "".join(key_pair("attacker")[1].split("-----")[2].split())
    xml = Path(spec.file).read_bytes()
    assert genuine[:64].encode() in xml
    Path(spec.file).write_bytes(xml.replace(genuine[:64].encode(), attacker[:64].encode()))
    with pytest.raises(ConfigError, match="changed after signing"):
        build(spec)
