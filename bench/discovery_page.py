"""What the discovery page's routes add to the engine's search, over eduGAIN's 6,000 IdPs.

    .venv/bin/python bench/discovery_page.py [--queries 300]

A bridge configured with the aggregate of ``metadata_data.py`` (generated once, cached) as a
``[federations.bench]`` file, its index built at start-up as ``serve`` builds it; then the same
queries (one letter to an email address, in three languages) three ways: the engine alone
(``services.idps.search``), the JSON the page's script calls (``/saml/discovery/search``) and
the page without JavaScript (``/saml/discovery?q=``), both through Flask's test client, so the
figures are the bridge's own time per request without a network or a server. CPU is the
thread's (robust on a busy machine); wall beside it.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlencode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Summary  # noqa: E402
from metadata import generated  # noqa: E402

from sso_bridge.app import create_app  # noqa: E402
from sso_bridge.settings import load_settings  # noqa: E402
from tests.samlfactory.idp import TestIdp  # noqa: E402
from tests.support import write_config  # noqa: E402

BASE = "https://lms.example.edu/sso"
WORDS = ["riv", "university", "aurora acad", "summit institute 4", "campus1", "e", "co",
         "fjord", "universitat", "library 9", "zzz", "granite col", "x@inst4242.example",
         "alice@cs.inst77.example", "bob@unknown.example"]


def measure(call: Callable[[str, str], object], queries: list[tuple[str, str]]
            ) -> tuple[Summary, Summary]:
    cpu, wall = [], []
    for query, language in queries:
        began, clock = time.thread_time(), time.perf_counter()
        call(query, language)
        cpu.append(time.thread_time() - began)
        wall.append(time.perf_counter() - clock)
    return Summary.of(cpu), Summary.of(wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--queries", type=int, default=300)
    options = parser.parse_args()
    gen = generated()
    folder = Path(tempfile.mkdtemp(prefix="sso-bridge-discovery-"))
    (folder / "guest.xml").write_text(TestIdp().metadata_xml())
    path, env = write_config(folder, base_url=BASE, sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "guest.xml"}, extra={
                                 "federations": {"bench": {"file": str(gen.path),
                                                           "signing_certificate":
                                                           str(gen.signer_cert)}},
                                 "store": {"state_directory": "state"}})
    began = time.perf_counter()
    app = create_app(load_settings(path, env))
    started = time.perf_counter() - began
    services, client = app.extensions["sso_bridge"], app.test_client()
    protocol = {"entityID": BASE + "/saml/metadata", "returnIDParam": "idp",
                "return": BASE + "/saml/login?target=https%3A%2F%2Flms.example.edu%2Fportal"}
    rng = random.Random(3)
    queries = [(rng.choice(WORDS), rng.choice(("en", "de", "ru")))
               for _ in range(options.queries)]
    for language in ("en", "de", "ru"):  # each worker prepares a language once
        services.idps.search("warm", language)

    def json_route(query: str, language: str) -> object:
        reply = client.get("/saml/discovery/search?" + urlencode(
            {**protocol, "q": query, "lang": language}))
        assert reply.status_code == 200, reply.text
        return reply

    def page_route(query: str, language: str) -> object:
        reply = client.get("/saml/discovery?" + urlencode({**protocol, "q": query}),
                           headers={"Accept-Language": language})
        assert reply.status_code == 200, reply.text
        return reply

    print(f"{services.idps.count()} IdPs ({gen.size / 1e6:.0f} MB aggregate); bridge built in "
          f"{started:.1f} s wall; {len(queries)} queries; {os.cpu_count()} cores, load "
          f"{os.getloadavg()[0]:.1f}")
    rows = [("engine (idps.search)", measure(services.idps.search, queries)),
            ("JSON  /saml/discovery/search", measure(json_route, queries)),
            ("page  /saml/discovery?q=", measure(page_route, queries))]
    engine = rows[0][1][0]
    print("| what | CPU p50 ms | CPU p99 ms | wall p50 ms | wall p99 ms | route adds (CPU p50) |")
    print("|---|---|---|---|---|---|")
    for name, (cpu, wall) in rows:
        print(f"| {name} | {cpu.median * 1e3:.2f} | {cpu.p99 * 1e3:.2f} | "
              f"{wall.median * 1e3:.2f} | {wall.p99 * 1e3:.2f} | "
              f"{(cpu.median - engine.median) * 1e3:+.2f} |")
    worst = max(rows[1][1][0].p99, rows[2][1][0].p99)
    print(f"{'PASS' if worst <= 0.050 else 'MISS'}  discovery search through the routes <= 50 ms "
          f"over {services.idps.count()} IdPs: p99 {worst * 1e3:.1f} ms CPU")


if __name__ == "__main__":
    main()
