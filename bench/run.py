"""The sso-bridge login benchmark, one command: ``.venv/bin/python bench/run.py [--quick]``.

1. ACS validation in process (``acs.py``): the bridge, python3-saml as its demo uses it, and
   the libxmlsec1 floor, median and p99.
2. Whole logins over HTTP (``http_logins.py``): the bridge under gunicorn against the Sakai
   simulator at 0 ms and 20 ms per call, first-time and returning learners, 100 concurrent.
3. Shibboleth SP (``shibboleth.py``) on the same machine, same IdP key, same client.
4. For reference, the serving stack alone (``skeleton.py``): gunicorn and Flask answering the
   same two requests per login with no bridge work.

Prints Markdown tables and the targets of issue 5, met or not. Loopback only; every load loop
is bounded in count and time. Full run: a few minutes on 2 cores; ``--quick``: under a minute.
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
import shibboleth  # noqa: E402
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


def bridge_rows(args: argparse.Namespace, workdir: Path, idp: Any) -> tuple[list[dict[str, Any]],
                                                                           dict[str, Any]]:
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
                      f"{row['errors']} errors", file=sys.stderr, flush=True)
        memory = {"workers": bridge.memory(), "logins": sum(r["logins"] for r in rows)}
        peak = max((m.get("VmHWM", 0) for m in memory["workers"]), default=0)
        for row in rows:
            row["rss"] = f"{peak / MB:.0f} MB"
    finally:
        if bridge is not None:
            bridge.stop()
        sim.stop()
    return rows, memory


def skeleton_row(args: argparse.Namespace, workdir: Path, idp: Any) -> dict[str, Any]:
    """gunicorn + Flask with the bridge's options, routes that answer and do nothing else."""
    server = BridgeServer(workdir / "skeleton", idp, "http://127.0.0.1:9", skeleton=True)
    try:
        eids = [f"skeleton-{i:05d}@example.org" for i in range(args.logins)]
        row = scenario(bridge_driver(server, "http://127.0.0.1:9"), idp, eids,
                       concurrency=args.concurrency, time_limit=args.time_limit,
                       cpu=server.cpu)
    finally:
        server.stop()
    row.update(sp="gunicorn + Flask alone (`skeleton.py`)", latency="–", kind="any",
               concurrency=args.concurrency)
    print(f"  serving stack alone: {row['rate']:.0f} logins/s, {row['cpu_ms']:.2f} ms CPU",
          file=sys.stderr, flush=True)
    return row


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


def targets(acs_results: dict[str, Any], rows: list[dict[str, Any]],
            memory: dict[str, Any], shib: dict[str, Any] | str,
            skeleton: dict[str, Any] | None = None) -> list[str]:
    """Issue 5's targets, each ticked or not, with the figures that decide it."""
    a, a_plus = acs_results["validation"], acs_results["bridge"]
    b, c = acs_results["demo"], acs_results["floor"]
    returning = [r for r in rows if r["kind"] == "returning"]
    found = [
        (b.median / a.median >= 3, f"ACS validation ≥ 3× faster than python3-saml demo usage: "
         f"{b.median / a.median:.1f}× (median), {b.p99 / a.p99:.1f}× (p99)"),
        (a.median / c.median <= 2, f"ACS validation within 2× of the libxmlsec floor: "
         f"{a.median / c.median:.2f}× (median), {a.p99 / c.p99:.2f}× (p99); the whole "
         f"`complete_login` (a+): {a_plus.median / c.median:.2f}× (median)"),
        (all(abs(r["sakai_calls"] - 2) < 0.01 for r in returning),
         "returning learner, unchanged attributes: two Sakai calls per login (the disabled "
         "check and the session): "
         + ", ".join(f"{r['sakai_calls']:.2f} at {r['latency']}" for r in returning)),
        (all(r["errors"] == 0 for r in rows),
         f"zero errors at {rows[0]['concurrency']} concurrent learners: "
         + ", ".join(str(r["errors"]) for r in rows)),
        *_versus_shibboleth(rows, shib, skeleton),
        _memory_target(memory),
    ]
    return [f"- [{'x' if ok else ' '}] {text}" for ok, text in found]


def _versus_shibboleth(rows: list[dict[str, Any]], shib: dict[str, Any] | str,
                       skeleton: dict[str, Any] | None) -> list[tuple[bool, str]]:
    if not isinstance(shib, dict):
        return [(False, f"Shibboleth SP comparison: not run: {shib}")]
    each = [f"({r['latency']}, {r['kind']})" for r in rows]
    return [
        (all(r["rate"] > shib["rate"] for r in rows),
         f"more logins/s than Shibboleth SP ({shib['rate']:.0f}/s): bridge "
         + ", ".join(f"{r['rate']:.0f}/s {e}" for r, e in zip(rows, each, strict=True))),
        (all(r["cpu_ms"] <= shib["cpu_ms"] / 2 for r in rows),
         f"bridge CPU per login ≤ half of Shibboleth's ({shib['cpu_ms']:.2f} ms): "
         + ", ".join(f"{r['cpu_ms']:.2f} ms {e}" for r, e in zip(rows, each, strict=True))
         + (f"; gunicorn + Flask alone: {skeleton['cpu_ms']:.2f} ms" if skeleton else "")),
    ]


def _memory_target(memory: dict[str, Any]) -> tuple[bool, str]:
    peak = max((m.get("VmHWM", 0) for m in memory["workers"]), default=0)
    now = max((m.get("VmRSS", 0) for m in memory["workers"]), default=0)
    enough = memory["logins"] >= 10_000
    return (peak < 120 * MB and enough,
            f"< 120 MB RSS per worker after 10,000 logins: peak {peak / MB:.0f} MB, now "
            f"{now / MB:.0f} MB after {memory['logins']:,} logins over "
            f"{len(memory['workers'])} workers" + ("" if enough else " (full run only)"))


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
                        help="leave out the serving stack alone (gunicorn + Flask)")
    parser.add_argument("--time-limit", type=float, default=120.0,
                        help="seconds per load phase before the remaining logins count as errors")
    parser.add_argument("--json", type=Path, help="also write the raw figures here")
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs)")
    args = parser.parse_args()
    args.logins = args.logins or (300 if args.quick else 2500)
    args.acs_samples = args.acs_samples or (300 if args.quick else 2000)
    return args


def http_part(args: argparse.Namespace) -> tuple[list[dict[str, Any]], dict[str, Any],
                                                 dict[str, Any] | str, dict[str, Any] | None]:
    """Parts 2, 3 and 4, with one IdP key trusted by the bridge and by Shibboleth."""
    from tests.samlfactory.idp import TestIdp

    workdir = Path(tempfile.mkdtemp(prefix="sso-bridge-bench-"))
    workdir.chmod(0o755)  # Apache's children (www-data) read Shibboleth's files below it
    idp = TestIdp()
    try:
        rows, memory = bridge_rows(args, workdir, idp)
        shib = "skipped (--skip-shibboleth)" if args.skip_shibboleth else \
            shib_row(args, workdir, idp)
        skeleton = None if args.skip_skeleton else skeleton_row(args, workdir, idp)
    finally:
        if args.keep:
            print(f"(work folder kept: {workdir})", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return rows, memory, shib, skeleton


def main() -> None:
    args = arguments()
    began = time.monotonic()
    print(f"# sso-bridge login benchmark, {datetime.now(UTC):%Y-%m-%d}\n")
    command = " ".join(["bench/run.py", *sys.argv[1:]])
    print(f"`.venv/bin/python {command}` on {machine()}\n", flush=True)
    variants = acs.VARIANTS + (acs.ablation_variants() if args.ablation else [])
    acs_results = acs.measure(variants, args.acs_samples, 2 if args.quick else 3)
    print(acs_table(acs_results) + "\n", flush=True)

    rows, memory, shib, skeleton = http_part(args)
    table_rows = rows + ([shib] if isinstance(shib, dict) else []) + ([skeleton] if skeleton
                                                                       else [])
    print(http_table(table_rows) + "\n")
    for r in table_rows:
        if r["error_samples"]:
            print(f"Errors ({r['sp']}, {r['latency']}, {r['kind']}): "
                  + "; ".join(r["error_samples"]) + "\n")
    sim = ", ".join(f"{r['sim_cpu_ms']:.2f} ({r['latency']}, {r['kind']})" for r in rows)
    print(f"Sakai simulator CPU ms/login (not counted as the bridge's): {sim}\n")
    print("Targets (issue 5):\n\n" + "\n".join(targets(acs_results, rows, memory, shib,
                                                     skeleton)))
    print(f"\nTotal bench time {time.monotonic() - began:.0f} s.")
    if args.json:
        raw = {"acs": {k: vars(v) for k, v in acs_results.items()}, "http": table_rows,
               "memory": memory, "shibboleth": shib if isinstance(shib, dict) else str(shib)}
        args.json.write_text(json.dumps(raw, indent=2, default=str))


if __name__ == "__main__":
    os.chdir(ROOT)
    main()
