"""The sso-bridge login benchmark, one command: ``.venv/bin/python bench/run.py [--quick]``.

1. ACS validation in process (``acs.py``): the bridge, python3-saml as its demo uses it, and
   the libxmlsec1 floor, median and p99.
2. Whole logins over HTTP (``http_logins.py``): ``sso-bridge serve`` (granian) against the
   Sakai simulator at 0 ms and 20 ms per call, first-time and returning learners, 100
   concurrent.
3. Shibboleth SP (``shibboleth.py``) on the same machine, same IdP key, same client.
4. The serving change, before/after (``serving.py``), servers taking turns in rounds: the
   bridge on granian and on gunicorn gthread (as it ran before); the serving stack alone
   (``skeleton.py``: Flask answering the same two requests per login with no bridge work) on
   granian, gunicorn gthread and gunicorn sync.

Prints Markdown tables and issue 10's targets, a PASS or MISS line each (``targets.py``).
Loopback only; every load loop is bounded in count and time. Full run: several minutes on 2
cores; ``--quick``: a few minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import acs  # noqa: E402
import serving  # noqa: E402
import shibboleth  # noqa: E402
import targets  # noqa: E402
from common import ROOT, free_port  # noqa: E402
from http_logins import (  # noqa: E402
    BridgeServer,
    SakaiSim,
    bridge_driver,
    scenario,
    shib_driver,
)
from report import acs_table, http_table  # noqa: E402

MB = 1024


def machine() -> str:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{os.cpu_count()} cores ({model}), Python {platform.python_version()}, "
            f"python3-saml {version('python3-saml')}, lxml {version('lxml')}, "
            f"xmlsec {version('xmlsec')}")


def bridge_rows(args: argparse.Namespace, workdir: Path, idp: Any) -> tuple[
        list[dict[str, Any]], dict[str, Any]]:
    """``sso-bridge serve`` against the simulator at 0 and 20 ms: first-time, returning."""
    sim = SakaiSim(workdir)
    bridge: BridgeServer | None = None
    rows: list[dict[str, Any]] = []
    try:
        bridge = BridgeServer(workdir / "bridge", idp, sim.url)
        driver = bridge_driver(bridge, sim.url)
        for latency in (0, 20):
            sim.set_latency(latency)
            eids = [f"learner-{latency}ms-{i:05d}@example.org" for i in range(args.logins)]
            for kind in ("first-time", "returning"):
                row = scenario(driver, idp, eids, concurrency=args.concurrency,
                               time_limit=args.time_limit, cpu=bridge.cpu, calls=sim.calls,
                               sim_cpu=sim.cpu)
                row.update(latency=f"{latency} ms", kind=kind, concurrency=args.concurrency)
                rows.append(row)
                print(f"  bridge, Sakai {latency} ms, {kind}: {row['rate']:.0f} logins/s, "
                      f"{row['cpu_ms']:.2f} ms CPU, {row['errors']} errors", file=sys.stderr,
                      flush=True)
        memory = {"workers": bridge.memory(), "logins": sum(r["logins"] for r in rows)}
        peak = max((m.get("VmHWM", 0) for m in memory["workers"]), default=0)
        for row in rows:
            row["rss"] = f"{peak / MB:.0f} MB"
    finally:
        if bridge is not None:
            bridge.stop()
        sim.stop()
    return rows, memory


def shib_row(args: argparse.Namespace, workdir: Path, idp: Any) -> dict[str, Any] | str:
    why = shibboleth.missing()
    if why:
        return why
    shib = shibboleth.Shibboleth(workdir / "shib", idp, free_port())
    try:
        shib.configure()
        shib.start()
        eids = [f"shib-learner-{i:05d}@example.org" for i in range(args.logins)]
        row = scenario(shib_driver(shib), idp, eids, concurrency=args.concurrency,
                       time_limit=args.time_limit, cpu=shib.cpu_seconds)
        memory = shib.memory()
        row.update(latency="–", kind="any", concurrency=args.concurrency,
                   rss=f"shibd {memory['shibd'] / MB:.0f} MB, "
                       f"Apache child {memory['apache_child'] / MB:.0f} MB")
        print(f"  Shibboleth: {row['rate']:.0f} logins/s, {row['errors']} errors",
              file=sys.stderr, flush=True)
        return row
    except Exception as exc:  # report exactly why, keep the rest of the figures
        return f"{type(exc).__name__}: {exc}"
    finally:
        shib.stop()


def arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="sso-bridge login benchmark")
    parser.add_argument("--quick", action="store_true", help="fewer samples, under a minute")
    parser.add_argument("--concurrency", type=int, default=100, help="concurrent learners")
    parser.add_argument("--logins", type=int, help="logins per HTTP scenario")
    parser.add_argument("--acs-samples", type=int, help="timed validations per ACS variant")
    parser.add_argument("--ablation", action="store_true",
                        help="also python3-saml with settings reused, without and with the "
                             "speed-ups")
    parser.add_argument("--skip-shibboleth", action="store_true")
    parser.add_argument("--skip-skeleton", action="store_true",
                        help="leave out the serving stack alone (each server + Flask)")
    parser.add_argument("--skip-before", action="store_true",
                        help="leave out the bridge on gunicorn (the serving change's before)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="seconds per load phase before the remaining logins count as errors")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    args.logins = args.logins or (300 if args.quick else 2500)
    args.acs_samples = args.acs_samples or (300 if args.quick else 2000)
    return args


def http_part(args: argparse.Namespace) -> dict[str, Any]:
    """Parts 2, 3 and 4, with one IdP key trusted by the bridge and by Shibboleth."""
    from tests.samlfactory.idp import TestIdp

    workdir = Path(tempfile.mkdtemp(prefix="sso-bridge-bench-"))
    workdir.chmod(0o755)  # Apache's children (www-data) read Shibboleth's files below it
    idp = TestIdp()
    try:
        rows, memory = bridge_rows(args, workdir, idp)
        shib = "skipped (--skip-shibboleth)" if args.skip_shibboleth else \
            shib_row(args, workdir, idp)
        before = [] if args.skip_before else serving.whole_bridge(args, workdir, idp)
        alone = [] if args.skip_skeleton else serving.stack_alone(args, workdir, idp)
    finally:
        if args.keep:
            print(f"(work folder kept: {workdir})", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return {"rows": rows, "memory": memory, "shib": shib, "serving": before + alone}


def main() -> None:
    args = arguments()
    began = time.monotonic()
    print(f"# sso-bridge login benchmark, {datetime.now(UTC):%Y-%m-%d}\n")
    command = " ".join(["bench/run.py", *sys.argv[1:]])
    print(f"`.venv/bin/python {command}` on {machine()}\n", flush=True)
    variants = acs.VARIANTS + (acs.ablation_variants() if args.ablation else [])
    acs_results = acs.measure(variants, args.acs_samples, 2 if args.quick else 3)
    print(acs_table(acs_results) + "\n", flush=True)

    http = http_part(args)
    rows, shib = http["rows"], http["shib"]
    table_rows = rows + ([shib] if isinstance(shib, dict) else [])
    print(http_table(table_rows) + "\n")
    for r in table_rows:
        if r["error_samples"]:
            print(f"Errors ({r['sp']}, {r['latency']}, {r['kind']}): "
                  + "; ".join(r["error_samples"]) + "\n")
    sim = ", ".join(f"{r['sim_cpu_ms']:.2f} ({r['latency']}, {r['kind']})" for r in rows)
    print(f"Sakai simulator CPU ms/login (not counted as the bridge's): {sim}\n")
    if http["serving"]:
        print("The serving change, before/after, interleaved (`serving.py`; Sakai at 0 ms):\n\n"
              + serving.table(http["serving"]) + "\n")
    print("Targets (issue 10), from this one run:\n\n"
          + "\n".join(targets.lines(acs_results, rows, http["memory"], shib)))
    print(f"\nTotal bench time {time.monotonic() - began:.0f} s.")
    if args.json:
        raw = {"acs": {k: vars(v) for k, v in acs_results.items()}, "http": table_rows,
               "memory": http["memory"], "serving": http["serving"],
               "shibboleth": shib if isinstance(shib, dict) else str(shib)}
        args.json.write_text(json.dumps(raw, indent=2, default=str))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
