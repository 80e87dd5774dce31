"""Keys generated for the session, and small federations built from them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from sso_bridge.saml.federation.build import BuildSpec
from tests.federation.factory import (
    RANDS,
    Idp,
    aggregate_xml,
    idp_xml,
    key_pair,
    sign_aggregate,
    sp_xml,
)

Keys = dict[str, tuple[str, str]]


@pytest.fixture(scope="session")
def keys() -> Keys:
    """(key PEM, certificate PEM): the federation's signer, another signer, two IdPs."""
    return {name: key_pair(name) for name in ("federation", "other", "idp-a", "idp-b")}


def sample_idps(keys: Keys) -> list[Idp]:
    return [
        Idp("https://idp.uni.example/idp", scopes=["uni.example"],
            names={"en": "University of Example", "de": "Universität Beispiel"},
            descriptions={"en": "Staff and students", "de": "Personal und Studierende"},
            keywords={"en": "campus north", "de": "hochschule nord"},
            logo="https://uni.example/logo.png", categories=[RANDS],
            certs=[keys["idp-a"][1]], want_signed_requests=True),
        Idp("https://login.partner.example/saml", scopes=["partner.example"],
            names={"en": "Partner Organisation"}, keywords={"en": "partner guest"},
            authority="https://other-federation.example.org", certs=[keys["idp-b"][1]]),
        Idp("https://idp.college.example/idp", scopes=["college.example"],
            names={"fr": "Collège Exemple"}, certs=[keys["idp-b"][1], keys["idp-a"][1]]),
    ]


def aggregate(keys: Keys, idps: list[Idp] | None = None, *, signer: str = "federation",
              valid_for: timedelta | None = timedelta(days=7),
              tamper: Callable[[bytes], bytes] | None = None) -> bytes:
    entities = [idp_xml(i) for i in (sample_idps(keys) if idps is None else idps)]
    entities.append(sp_xml("https://sp.example.org/shibboleth", keys["other"][1]))
    signed = sign_aggregate(aggregate_xml(entities, valid_for=valid_for), keys[signer][0])
    return tamper(signed) if tamper is not None else signed


@pytest.fixture
def federation(tmp_path: Path, keys: Keys) -> Callable[..., BuildSpec]:
    """Writes an aggregate and the signer's certificate; the BuildSpec to index it."""
    (tmp_path / "federation.crt").write_text(keys["federation"][1])

    def make(xml: bytes | None = None, **spec: object) -> BuildSpec:
        (tmp_path / "aggregate.xml").write_bytes(aggregate(keys) if xml is None else xml)
        values: dict[str, object] = {
            "name": "federations.test", "index": str(tmp_path / "index" / "idps.sqlite"),
            "signing_certificate": str(tmp_path / "federation.crt"),
            "file": str(tmp_path / "aggregate.xml"), "max_validity_days": 14, **spec}
        return BuildSpec(**values)  # type: ignore[arg-type]

    return make
