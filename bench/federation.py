"""Issue 14's scale targets for the bridge as an admin configures it, measured and printed.

    .venv/bin/python bench/federation.py [--runs 3] [--refreshes 10] [--logins 300]

The configuration: ``[federations.edugain] file = <the generated 80 MB aggregate>`` and its
signing certificate, every one of the 6,000 IdPs admitted (``metadata_data.py``, four of them
signing with keys the benchmark holds), beside the same bridge with one configured ``[idp]``
(one of those four). Against the Sakai simulator, in one run, so ratios compare like with like:

1. start-up with every IdP indexed (``build_services``; ``sso-bridge serve`` until /healthz)
   against the floor (lxml parse + xmlsec verification, ``metadata_probe.py floor``);
2. each worker's RSS, after the same logins, with the federation and with one IdP;
3. the federation refreshing in the background (2 workers): index builds per instance, and
   the workers' RSS after each of ten refreshes;
4. login latency while a refresh runs against the rest of the same run;
5. a login's CPU through a federation IdP and through that IdP as the one ``[idp]``, first
   login apart from the steady state (in-process, the Flask app's test client);
6. ``idps.search`` over the 6,000 IdPs (and A14's search route if the app has it).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port  # noqa: E402
from federation_report import Figures, report  # noqa: E402
from federation_serve import Served, refresh_run, warm_up  # noqa: E402
from http_logins import SakaiSim  # noqa: E402
from metadata import generated, probe, run_child  # noqa: E402
from metadata_data import Generated, known_idps  # noqa: E402

from sso_bridge.demo.configfile import write_config  # noqa: E402
from sso_bridge.settings import load_settings  # noqa: E402

KNOWN = 4
FEDERATION_PROBE = str(Path(__file__).resolve().parent / "federation_probe.py")
WORKERS = 2
PAUSE = 0.1
"""Seconds each learner of the paced load waits between logins."""


class Bench:
    def __init__(self, gen: Generated, workdir: Path, sakai_url: str) -> None:
        self.gen, self.workdir, self.sakai_url = gen, workdir, sakai_url
        self.idps = known_idps(gen, KNOWN)
        self.runs = 0

    def config(self, federated: bool, *, refresh_seconds: int = 3600,
               base_url: str = "http://localhost") -> tuple[Path, dict[str, str]]:
        """A fresh configuration (and state folder: no index yet) in a folder of its own."""
        self.runs += 1
        folder = self.workdir / f"{'federation' if federated else 'single'}-{self.runs}"
        folder.mkdir(parents=True)
        extra: dict[str, Any] = {"store": {"state_directory": str(folder / "state")},
                                 "server": {"workers": WORKERS}}
        if federated:
            idp: dict[str, Any] = {}
            extra["federations"] = {"edugain": {
                "file": str(self.gen.path), "signing_certificate": str(self.gen.signer_cert),
                "refresh_seconds": refresh_seconds}}
        else:
            (folder / "idp.xml").write_text(self.idps[0].metadata_xml())
            idp = {"metadata_file": "idp.xml"}
        return write_config(folder, base_url=base_url, sakai_url=self.sakai_url, idp=idp,
                            extra=extra)

    def child(self, mode: str, federated: bool, **job: Any) -> dict[str, Any]:
        config, env = self.config(federated)
        job = {"config": str(config), "env": env, **job}
        return run_child([sys.executable, FEDERATION_PROBE, mode], json.dumps(job)).result

    def served(self, federated: bool, refresh_seconds: int = 3600) -> tuple[Served, Any]:
        port = free_port()
        config, env = self.config(federated, refresh_seconds=refresh_seconds,
                                  base_url=f"http://127.0.0.1:{port}")
        return Served(config, env, port, WORKERS), load_settings(config, env)

    def idp_specs(self, count: int) -> list[dict[str, str]]:
        folder = self.gen.path.parent
        return [{"entity_id": idp.entity_id, "sso_url": idp.sso_url, "scope": idp.scopes[0][0],
                 "key": str(folder / f"known-{i}.key"), "cert": str(folder / f"known-{i}.crt")}
                for i, idp in enumerate(self.idps[:count])]


def startup(bench: Bench, runs: int, figures: Figures) -> None:
    """Interleaved runs (the machine's drift hits each alike); the minimum of each."""
    for _ in range(runs):
        floor = probe("floor", str(bench.gen.path), str(bench.gen.signer_cert))
        figures.floor.append(float(floor.result["work_cpu"]))  # type: ignore[arg-type]
        figures.floor_child.append(floor.cpu)
        for federated in (True, False):
            built = bench.child("services", federated)
            figures.services[federated].append((built["cpu"], built["wall"]))
            if federated:
                figures.indexed = int(built["idps"])
            server, _ = bench.served(federated)
            figures.serve[federated].append((server.startup_cpu, server.startup))
            server.stop()


def memory(bench: Bench, figures: Figures) -> None:
    for federated in (False, True):
        server, settings = bench.served(federated)
        try:
            # the same number of logins: 8 through each of 4 IdPs, or 32 through the one
            warm_up(server, bench.idps if federated else bench.idps[:1], settings,
                    rounds=8 if federated else 8 * KNOWN)
            figures.rss[federated] = list(server.rss_mb().values())
        finally:
            server.stop()


def refreshing(bench: Bench, refreshes: int, interval: int, figures: Figures) -> None:
    """Learners keeping the bridge saturated (memory, and the worst case for latency), then
    learners pausing between logins (a bridge with CPU to spare, as in production)."""
    figures.refresh_interval = interval
    for load, count, pause in (("saturated", refreshes, 0.0), ("paced", refreshes // 2, PAUSE)):
        server, settings = bench.served(True, refresh_seconds=interval)
        try:
            warm_up(server, bench.idps, settings)
            figures.refresh[load] = refresh_run(server, bench.idps, settings, count,
                                                pause=pause)
        finally:
            server.stop()


def logins(bench: Bench, runs: int, count: int, figures: Figures) -> None:
    """The federation and the single IdP alternately, each in a fresh process."""
    for run in range(runs):
        for federated in (True, False):
            specs = bench.idp_specs(KNOWN if federated else 1)
            result = bench.child("logins", federated, idps=specs, rounds=count,
                                 warmup=min(50, count // 5), search=federated and run == 0)
            figures.first[federated].append([(cpu, wall) for cpu, wall in result["first"]])
            figures.steady[federated] += [(cpu, wall) for cpu, wall in result["steady"]]
            if "search_cpu" in result:
                figures.search = result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--refreshes", type=int, default=10)
    parser.add_argument("--refresh-seconds", type=int, default=8)
    parser.add_argument("--logins", type=int, default=300, help="per in-process run")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["startup", "memory", "refresh", "logins"])
    options = parser.parse_args()
    gen = generated(known=KNOWN)
    workdir = Path(tempfile.mkdtemp(prefix="sso-bridge-federation-"))
    sim = SakaiSim(workdir)
    figures = Figures()
    try:
        bench = Bench(gen, workdir, sim.url)
        print(f"aggregate: {gen.path} ({gen.size / 1e6:.1f} MB, {len(gen.idp_ids)} IdPs, "
              f"{KNOWN} with keys held here); Python {sys.version.split()[0]}, "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}", flush=True)
        if "startup" not in options.skip:
            startup(bench, options.runs, figures)
        if "memory" not in options.skip:
            memory(bench, figures)
        if "refresh" not in options.skip:
            refreshing(bench, options.refreshes, options.refresh_seconds, figures)
        if "logins" not in options.skip:
            logins(bench, options.runs, options.logins, figures)
    finally:
        sim.stop()
    report(figures)
    print(f"(load average at the end: {statistics.mean(os.getloadavg()[:2]):.1f}; "
          f"work folder {workdir})")


if __name__ == "__main__":
    main()
