"""A login storm: many first-time learners at once against a slow Sakai (issue 12).

The bridge runs as in production (``sso-bridge serve``, gunicorn) with enough threads for every
learner to be inside it at once; the Sakai simulator (its own process) answers each SOAP call
after ``--latency-ms``. What it shows: the storm queues in the bridge
(``sakai.max_concurrent_calls`` per worker process) instead of piling onto Sakai, and every
learner still gets in within the per-login deadline. It prints figures; nothing is asserted
about time.

    .venv/bin/python bench/storm.py                    # 300 learners, 200 ms per Sakai call
    .venv/bin/python bench/storm.py --learners 50 --latency-ms 50   # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from common import ROOT, children, free_port, wait_http
from http_logins import HOST, SakaiSim, _terminate, bridge_driver, scenario


class StormBridge:
    """``sso-bridge serve`` with the storm's worker, thread and Sakai-bound settings."""

    def __init__(self, workdir: Path, idp: Any, sakai_url: str, *, workers: int, threads: int,
                 bound: int, deadline: float) -> None:
        from sso_bridge.demo.configfile import write_config
        from sso_bridge.settings import load_settings

        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        workdir.mkdir(parents=True, exist_ok=True)
        (workdir / "idp.xml").write_text(idp.metadata_xml())
        config, env = write_config(workdir, base_url=self.url, sakai_url=sakai_url,
                                   idp={"metadata_file": "idp.xml"}, server_id="",
                                   extra={"server": {"workers": workers, "threads": threads,
                                                     "timeout_seconds": 120},
                                          "sakai": {"max_concurrent_calls": bound,
                                                    "login_deadline_seconds": deadline}})
        settings = load_settings(config, env)
        self.acs_url, self.sp_entity_id = settings.acs_url, settings.sp_entity_id
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
        (workdir / "metrics").mkdir(exist_ok=True)
        clean["PROMETHEUS_MULTIPROC_DIR"] = str(workdir / "metrics")
        with (workdir / "gunicorn.log").open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "sso_bridge.cli", "serve", "--config", str(config),
                 "--bind", f"{HOST}:{self.port}"], cwd=ROOT, env={**clean, **env},
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_http(self.url + "/healthz", 60, "the bridge")
        limit = time.monotonic() + 30
        while len(children(self.proc.pid)) < workers and time.monotonic() < limit:
            time.sleep(0.05)

    def stop(self) -> None:
        _terminate(self.proc)


def sim_concurrency(sim: SakaiSim, reset: bool = False) -> dict[str, int]:
    request = urllib.request.Request(sim.url + "/_sim/concurrency", method="POST" if reset
                                     else "GET", data=b"{}" if reset else None)
    with urllib.request.urlopen(request, timeout=10) as reply:  # noqa: S310 (loopback)
        return dict(json.loads(reply.read()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--learners", type=int, default=300)
    parser.add_argument("--latency-ms", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--max-concurrent-calls", type=int, default=8,
                        help="sakai.max_concurrent_calls (per worker process)")
    parser.add_argument("--deadline", type=float, default=20.0,
                        help="sakai.login_deadline_seconds")
    parser.add_argument("--time-limit", type=float, default=300.0)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    from tests.samlfactory.idp import TestIdp

    workdir = Path(tempfile.mkdtemp(prefix="sso-bridge-storm-"))
    idp = TestIdp()
    sim = SakaiSim(workdir, latency_ms=args.latency_ms)
    threads = -(-args.learners // args.workers)  # every learner inside the bridge at once
    bridge = StormBridge(workdir / "bridge", idp, sim.url, workers=args.workers,
                         threads=threads, bound=args.max_concurrent_calls, deadline=args.deadline)
    try:
        sim_concurrency(sim, reset=True)
        eids = [f"storm{i}@example.org" for i in range(args.learners)]
        result = scenario(bridge_driver(bridge, sim.url), idp, eids,  # type: ignore[arg-type]
                          concurrency=args.learners, time_limit=args.time_limit,
                          cpu=lambda: 0.0, calls=sim.calls)
        seen = sim_concurrency(sim)["max_in_flight"]
    finally:
        bridge.stop()
        sim.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    report(args, result, seen, threads)


def report(args: argparse.Namespace, result: dict[str, Any], seen: int, threads: int) -> None:
    bound = args.max_concurrent_calls * args.workers
    print(f"# Login storm: {args.learners} first-time learners at once, Sakai at "
          f"{args.latency_ms} ms per call")
    print(f"bridge: {args.workers} workers x {threads} threads, sakai.max_concurrent_calls = "
          f"{args.max_concurrent_calls} per worker (bound at Sakai: {bound}), "
          f"login deadline {args.deadline:g} s")
    print("| logins | errors | p50 | p99 | Sakai calls per login | max concurrent calls at "
          "Sakai | bound |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {result['ok']} | {result['errors']} | {result['p50_ms']:.0f} ms | "
          f"{result['p99_ms']:.0f} ms | {result['sakai_calls']:.2f} | {seen} | {bound} |")
    if result["error_samples"]:
        print("error samples:", *result["error_samples"], sep="\n  ")
    print(f"errors must be 0: {'yes' if result['errors'] == 0 else 'NO'}; concurrent calls "
          f"within the bound: {'yes' if seen <= bound else 'NO'}")
    if args.json:
        args.json.write_text(json.dumps({**result, "max_in_flight": seen, "bound": bound}))


if __name__ == "__main__":
    main()
