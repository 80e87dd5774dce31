"""The in-process children of ``bench/federation.py``: each does one thing and prints JSON.

Each reads ``{"config": path, "env": {...}, ...}`` on stdin: a bridge configuration written as
an admin would (``federation.py``), with its secrets as the environment would give them.

``services``: ``build_services`` timed as start-up runs it (the aggregate's index built in
its child process, whose CPU counts), and the IdPs it indexed.
``logins``: the real Flask app (``create_app``) through its test client: logins through the
given IdPs (``/saml/login?idp=`` then the signed Response POSTed to ``/saml/acs``, against the
Sakai simulator), each one's CPU (this thread) and wall time; the first login through each
IdP apart from the steady state; then ``idps.search`` (and A14's search route, when the app
has one) over the federation's IdPs.
"""

from __future__ import annotations

import gc
import json
import os
import random
import resource
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

from common import ROOT  # noqa: F401 (puts the repository on sys.path)

SEARCHES = ["riv", "university", "aurora acad", "summit institute 4", "campus1", "e", "co",
            "fjord", "universitat", "library 9", "zzz", "granite col", "x@inst4242.example",
            "alice@cs.inst77.example", "bob@unknown.example"]
SEARCH_ROUTE = "/saml/discovery/search"


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _settings(job: dict[str, Any]) -> Any:
    from sso_bridge.settings import load_settings

    return load_settings(Path(job["config"]), job["env"])


def services(job: dict[str, Any]) -> dict[str, object]:
    from sso_bridge.services import build_services

    settings = _settings(job)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    began, cpu = time.perf_counter(), time.process_time()
    built = build_services(settings)
    wall, cpu = time.perf_counter() - began, time.process_time() - cpu
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    child_cpu = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    federated = sum(r.idp_count for r in built.idps.readiness())
    return {"wall": wall, "cpu": cpu + child_cpu, "child_cpu": child_cpu, "idps": federated,
            "configured": len(built.sp.configured())}


def _test_idps(job: dict[str, Any]) -> list[Any]:
    from tests.samlfactory.idp import TestIdp

    found = []
    for spec in job["idps"]:
        idp = TestIdp(spec["entity_id"], spec["sso_url"], scopes=(spec["scope"],))
        idp.key_pem, idp.cert_pem = Path(spec["key"]).read_text(), Path(spec["cert"]).read_text()
        found.append(idp)
    return found


def _login(app: Any, settings: Any, idp: Any, eid: str) -> tuple[float, float]:
    """One learner's login through ``idp`` in a fresh browser: (CPU, wall) of the bridge's
    two requests; the IdP's signing in between is not counted."""
    from tests.samlfactory.idp import encode

    client = app.test_client()
    target = settings.sakai.url + "/portal"
    cpu, wall = time.thread_time(), time.perf_counter()
    reply = client.get("/saml/login", query_string={"idp": idp.entity_id, "target": target})
    cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
    assert reply.status_code == 302, reply.text[:300]
    query = parse_qs(urlsplit(reply.headers["Location"]).query)
    from onelogin.saml2.utils import OneLogin_Saml2_Utils

    request = OneLogin_Saml2_Utils.decode_base64_and_inflate(query["SAMLRequest"][0]).decode()
    request_id = request.split(' ID="', 1)[1].split('"', 1)[0]
    signed = encode(idp.signed_response(acs_url=settings.acs_url,
                                        sp_entity_id=settings.sp_entity_id,
                                        in_response_to=request_id, name_id=eid))
    cpu2, wall2 = time.thread_time(), time.perf_counter()
    reply = client.post("/saml/acs", data={"SAMLResponse": signed,
                                           "RelayState": query["RelayState"][0]})
    cpu += time.thread_time() - cpu2
    wall += time.perf_counter() - wall2
    assert reply.status_code == 302 and reply.headers["Location"].startswith(target), \
        reply.text[:300]
    return cpu, wall


def logins(job: dict[str, Any]) -> dict[str, object]:
    from sso_bridge.app import create_app

    settings = _settings(job)
    app = create_app(settings)
    idps = _test_idps(job)
    gc.collect()
    gc.freeze()  # as ``sso-bridge serve`` does before its workers fork
    first = [_login(app, settings, idp, f"first@{spec['scope']}")
             for idp, spec in zip(idps, job["idps"], strict=True)]
    steady: list[tuple[float, float]] = []
    for n in range(job["rounds"]):
        idp, spec = idps[n % len(idps)], job["idps"][n % len(idps)]
        steady.append(_login(app, settings, idp, f"learner{n % 20}@{spec['scope']}"))
    result: dict[str, object] = {"first": first, "steady": steady[job["warmup"]:],
                                 "rss": rss_mb()}
    if job.get("search"):
        result.update(search(app))
    return result


def search(app: Any) -> dict[str, object]:
    """``idps.search`` as the discovery page calls it, and A14's route if the app has it."""
    idps = app.extensions["sso_bridge"].idps
    first = {}
    for language in ("en", "de", "fr"):  # the first search in a language prepares its texts
        began = time.thread_time()
        idps.search("warm", language)
        first[language] = time.thread_time() - began
    rng = random.Random(3)
    queries = [(rng.choice(SEARCHES), rng.choice(("en", "de", "fr"))) for _ in range(300)]
    cpu, wall = [], []
    for query, language in queries:
        began, clock = time.thread_time(), time.perf_counter()
        idps.search(query, language)
        cpu.append(time.thread_time() - began)
        wall.append(time.perf_counter() - clock)
    result: dict[str, object] = {"search_cpu": cpu, "search_wall": wall, "first_search": first,
                                 "listable": idps.count(), "route": None}
    if SEARCH_ROUTE in {rule.rule for rule in app.url_map.iter_rules()}:
        result["route"] = _route(app, queries)
    return result


def _route(app: Any, queries: list[tuple[str, str]]) -> list[float] | str:
    """Wall seconds per GET of the search route (the JSON the page's script asks for, with
    the IdP Discovery Protocol's parameters), or what it answered instead of 200."""
    s = app.extensions["sso_bridge"].settings
    protocol = {"entityID": s.sp_entity_id, "returnIDParam": "idp",
                "return": f"{s.bridge.base_url}/saml/login?target="
                          + quote(s.sakai.url + "/portal", safe="")}
    client, route = app.test_client(), []
    for query, language in queries:
        began = time.perf_counter()
        reply = client.get(SEARCH_ROUTE, query_string={**protocol, "q": query, "lang": language})
        route.append(time.perf_counter() - began)
        if reply.status_code != 200:
            return f"{SEARCH_ROUTE}?q= answered {reply.status_code}"
    return route


def main() -> None:
    mode = sys.argv[1]
    job = json.loads(sys.stdin.read())
    answer = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # the bridge logs to stdout: the answer goes alone on the original one
    result = services(job) if mode == "services" else logins(job)
    answer.write(json.dumps(result) + "\n")
    answer.close()


if __name__ == "__main__":
    main()
