"""The child processes of ``bench/metadata.py``: each does one thing and prints JSON.

``floor AGGREGATE CERT``: lxml parse + xmlsec verification of the root signature, nothing else.
``build-work`` (spec on stdin): the index builder's work, after its imports.
``today AGGREGATE CERT ENTITY``: today's single-IdP path picking one IdP out of the aggregate.
``one-idp METADATA``: a worker's metadata with one IdP (the baseline for memory).
``federated INDEX``: a worker with the federation index: lookups and discovery searches.
``refreshes SPEC N``: a worker refreshing N times in a row (each build in its own child).
"""

from __future__ import annotations

import json
import random
import sys
import time
from pathlib import Path

from common import ROOT  # noqa: F401 (puts the repository on sys.path)


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def floor(aggregate: str, cert: str) -> dict[str, float]:
    import xmlsec
    from lxml import etree

    from sso_bridge.saml.checks import PARSER_OPTIONS
    from sso_bridge.saml.metadata import MetadataSigner
    from sso_bridge.saml.xmlsec_policy import verified_by_any

    key = MetadataSigner.load(Path(cert)).key
    began = time.process_time()
    root = etree.parse(aggregate, etree.XMLParser(**PARSER_OPTIONS)).getroot()
    xmlsec.tree.add_ids(root, ["ID"])
    assert verified_by_any(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"), (key,))
    return {"work_cpu": time.process_time() - began}


def build_work(spec_json: str) -> dict[str, float]:
    """The builder's work alone (as the floor is measured): after its imports."""
    from sso_bridge.saml.federation.build import BuildSpec, build

    spec = BuildSpec.from_json(spec_json)
    began = time.process_time()
    build(spec)
    return {"work_cpu": time.process_time() - began}


def today(aggregate: str, cert: str, entity_id: str) -> dict[str, float]:
    from sso_bridge.saml.metadata import MetadataSigner, load_idp_metadata

    load_idp_metadata(file=Path(aggregate), entity_id=entity_id,
                      signer=MetadataSigner.load(Path(cert)))
    return {"rss": rss_mb()}


def _common_imports() -> None:
    import sso_bridge.saml.federation.discovery  # noqa: F401
    import sso_bridge.saml.federation.index  # noqa: F401
    import sso_bridge.saml.sp  # noqa: F401


def one_idp(metadata: str) -> dict[str, float]:
    from sso_bridge.saml.metadata import load_idp_metadata

    _common_imports()
    load_idp_metadata(file=Path(metadata))
    return {"rss": rss_mb()}


def federated(index_path: str) -> dict[str, float]:
    from sso_bridge.saml.federation.discovery import LiveDiscovery
    from sso_bridge.saml.federation.index import FederationIndex

    _common_imports()
    index = FederationIndex(Path(index_path))
    ids = index.entity_ids()
    for entity_id in random.Random(1).sample(ids, 200):
        assert index.find(entity_id) is not None
    discovery = LiveDiscovery(index, languages=("en", "de"))
    for query in ("riv", "university 12", "campus4", "a@inst77.example"):
        discovery.current().search(query, "de")
    return {"rss": rss_mb(), "idps": len(ids)}


def refreshes(spec_json: str, count: int) -> dict[str, object]:
    from sso_bridge.saml.federation.build import BuildSpec
    from sso_bridge.saml.federation.discovery import LiveDiscovery
    from sso_bridge.saml.federation.source import AggregateSource

    source = AggregateSource(BuildSpec.from_json(spec_json), interval=3600)
    source.start()
    discovery = LiveDiscovery(source.index, languages=("en", "de"))
    first = source.index.entity_ids()[0]

    def use() -> float:
        discovery.current().search("univ", "de")
        assert source.index.find(first) is not None
        return rss_mb()

    before = use()
    after: list[float] = []
    for _ in range(count):
        assert source.refresh(force=True) == "refreshed"
        after.append(use())
    return {"before": before, "rss": after}


def main() -> None:
    mode, *args = sys.argv[1:]
    if mode == "floor":
        result: dict[str, object] = dict(floor(*args))
    elif mode == "build-work":
        result = dict(build_work(sys.stdin.read()))
    elif mode == "today":
        result = dict(today(*args))
    elif mode == "one-idp":
        result = dict(one_idp(*args))
    elif mode == "federated":
        result = dict(federated(*args))
    else:
        result = refreshes(sys.stdin.read(), int(args[0]))
    print(json.dumps(result))


if __name__ == "__main__":
    main()
