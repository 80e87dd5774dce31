"""A synthetic signed aggregate of eduGAIN's shape, generated once and cached.

10,000 entities by default: 6,000 IdPs (signing and encryption certificates, shibmd:Scope,
mdui DisplayName/Description/Keywords in English and one other language, a logo URL,
mdrpi:RegistrationInfo of one of 40 federations, entity categories on some) and 4,000 SPs,
signed on its root with a generated federation key. Certificates come from a pool of 24
generated 3072-bit keys (generating 10,000 keys would take an hour; parsing and verifying
cost the same whichever certificate a KeyDescriptor holds). With ``known`` > 0 the first
``known`` IdPs sign with keys of their own, kept beside the aggregate (``known_idps``), so a
benchmark can log in through them. Cached under ``$TMPDIR/sso-bridge-bench/metadata`` by
size, so later runs start at once.
"""

from __future__ import annotations

import random
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from common import ROOT  # noqa: F401 (puts the repository on sys.path)

from tests.federation.factory import (
    RANDS,
    SIRTFI,
    Idp,
    aggregate_xml,
    idp_xml,
    sign_aggregate,
    sp_xml,
)
from tests.samlfactory.idp import TestIdp, generate_key_and_cert

CACHE = Path(tempfile.gettempdir()) / "sso-bridge-bench" / "metadata"
LANGUAGES = ("de", "fr", "sv", "it", "es", "nl", "fi", "pl", "cs", "pt")
PLACES = ("Aurora", "Borealis", "Cascade", "Delta", "Eastfield", "Fjord", "Granite", "Harbour",
          "Iris", "Juniper", "Kestrel", "Lakeside", "Meadow", "Northgate", "Orchard", "Pinewood",
          "Quarry", "Riverside", "Summit", "Thistle", "Upland", "Valley", "Westmoor", "Yarrow")
KINDS = ("University", "Institute of Technology", "College", "Research Centre", "Academy",
         "School of Medicine", "Conservatory", "Library")


@dataclass(frozen=True)
class Generated:
    path: Path
    signer_cert: Path
    idp_ids: tuple[str, ...]
    size: int


def _idp(i: int, rng: random.Random, certs: list[str]) -> Idp:
    place, kind = PLACES[i % len(PLACES)], KINDS[(i // len(PLACES)) % len(KINDS)]
    other = LANGUAGES[i % len(LANGUAGES)]
    name = f"{place} {kind} {i}"
    categories = [c for c, p in ((RANDS, 0.3), (SIRTFI, 0.5)) if rng.random() < p]
    return Idp(
        entity_id=f"https://idp{i}.inst{i}.example/idp/shibboleth",
        scopes=[f"inst{i}.example"] + ([f"alumni{i}.example"] if i % 7 == 0 else []),
        names={"en": name, other: f"{name} ({other})"},
        descriptions={"en": f"The identity provider of the {name}, for staff and students.",
                      other: f"Identitätsanbieter {name} ({other})."},
        keywords={"en": f"{place.lower()} {kind.split()[0].lower()} campus{i % 50}",
                  other: f"{place.lower()} {other}wort{i % 30}"},
        logo=f"https://inst{i}.example/logo-80x80.png",
        authority=f"https://fed{i % 40}.example.org",
        categories=categories,
        certs=certs[:2] if i % 3 == 0 else certs[:1])


def _idp_id(i: int) -> str:
    return f"https://idp{i}.inst{i}.example/idp/shibboleth"


def known_idps(gen: Generated, known: int) -> list[TestIdp]:
    """The aggregate's first ``known`` IdPs as test IdPs holding their signing keys."""
    found = []
    for i in range(known):
        host = _idp_id(i).split("/")[2]
        idp = TestIdp(_idp_id(i), f"https://{host}/idp/profile/SAML2/Redirect/SSO",
                      scopes=(f"inst{i}.example",))
        idp.key_pem = (gen.path.parent / f"known-{i}.key").read_text()
        idp.cert_pem = (gen.path.parent / f"known-{i}.crt").read_text()
        found.append(idp)
    return found


def _known_certs(folder: Path, known: int) -> list[str]:
    certs = []
    for i in range(known):
        key_pem, cert_pem = generate_key_and_cert(f"idp{i}.inst{i}.example")
        (folder / f"known-{i}.key").write_text(key_pem)
        (folder / f"known-{i}.crt").write_text(cert_pem)
        certs.append(cert_pem)
    return certs


def generate(idps: int = 6000, sps: int = 4000, padding: int = 0, known: int = 0) -> Generated:
    """The aggregate (cached): ``padding`` more SPs make it bigger (the 100 MB URL test);
    ``known``: that many IdPs sign with keys kept beside it (``known_idps``)."""
    folder = CACHE / (f"{idps}-{sps}-{padding}" + (f"-known{known}" if known else ""))
    path, signer = folder / "aggregate.xml", folder / "federation.crt"
    ids = tuple(_idp_id(i) for i in range(idps))
    if path.exists() and signer.exists():
        return Generated(path, signer, ids, path.stat().st_size)
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(14)
    pool = [generate_key_and_cert(f"entity-{k}.example", key_size=3072)[1] for k in range(24)]
    own = _known_certs(folder, known)
    entities = [idp_xml(_idp(i, rng, [own[i]] if i < known else
                             [pool[i % 24], pool[(i + 1) % 24]])) for i in range(idps)]
    entities += [sp_xml(f"https://sp{j}.service{j}.example/shibboleth", pool[j % 24])
                 for j in range(sps + padding)]
    key_pem, cert_pem = generate_key_and_cert("metadata-signer.example-federation.org",
                                              key_size=3072)
    signed = sign_aggregate(aggregate_xml(entities, valid_for=timedelta(days=14)), key_pem)
    signer.write_text(cert_pem)
    temporary = path.with_suffix(".tmp")
    temporary.write_bytes(signed)
    temporary.replace(path)
    return Generated(path, signer, ids, len(signed))


if __name__ == "__main__":  # generate in a child, so the caller does not grow (see metadata.py)
    import sys

    generated = generate(padding=int(sys.argv[1]) if len(sys.argv) > 1 else 0,
                         known=int(sys.argv[2]) if len(sys.argv) > 2 else 0)
    print(generated.path)
