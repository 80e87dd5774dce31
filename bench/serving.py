"""The serving change's before/after, interleaved so that the machine's drift cancels out.

On a shared machine the CPU a login costs drifts by tens of percent from one minute to the
next, more than the difference between two servers. So the servers compared run side by side,
idle but for their turn, and take turns in rounds (the order alternating): the figures of each
are the sums over its turns.

* the whole bridge: ``sso-bridge serve`` (granian) against the same bridge on gunicorn gthread
  as ``serve`` ran it before (``skeleton.py --bridge --engine gunicorn-gthread``), one Sakai
  simulator at 0 ms, first-time then returning learners in each turn;
* the serving stack alone (``skeleton.py``): granian, gunicorn gthread, gunicorn sync.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from http_logins import BridgeServer, SakaiSim, bridge_driver, scenario
from skeleton import ENGINES

NO_SAKAI = "http://127.0.0.1:9"


def _turns(args: argparse.Namespace, idp: Any, servers: dict[str, BridgeServer],
           kinds: tuple[str, ...], sakai_url: str, sim: SakaiSim | None) -> list[dict[str, Any]]:
    rounds = 2 if args.quick else 4
    per_turn = max(50, args.logins // rounds)
    sums: dict[tuple[str, str], dict[str, float]] = {}
    for number in range(rounds):
        order = list(servers.items()) if number % 2 == 0 else list(reversed(servers.items()))
        for name, server in order:
            slug = list(servers).index(name)
            eids = [f"s{slug}-r{number}-{i:05d}@example.org" for i in range(per_turn)]
            for kind in kinds:
                row = scenario(bridge_driver(server, sakai_url), idp, eids,
                               concurrency=args.concurrency, time_limit=args.time_limit,
                               cpu=server.cpu, calls=sim.calls if sim else None,
                               sim_cpu=sim.cpu if sim else None)
                total = sums.setdefault((name, kind), {"logins": 0, "ok": 0, "seconds": 0.0,
                                                       "cpu": 0.0, "sim": 0.0, "errors": 0})
                total["logins"] += row["logins"]
                total["ok"] += row["ok"]
                total["errors"] += row["errors"]
                total["seconds"] += row["seconds"]
                total["cpu"] += row["cpu_ms"] * row["logins"]
                total["sim"] += (row["sim_cpu_ms"] or 0.0) * row["logins"]
    rows = []
    for (name, kind), t in sums.items():
        rows.append({"server": name, "kind": kind, "logins": int(t["logins"]),
                     "errors": int(t["errors"]), "rate": t["ok"] / t["seconds"],
                     "cpu_ms": t["cpu"] / t["logins"], "sim_cpu_ms": t["sim"] / t["logins"],
                     "rounds": rounds})
        print(f"  interleaved, {name}, {kind}: {rows[-1]['rate']:.0f} logins/s, "
              f"{rows[-1]['cpu_ms']:.2f} ms CPU", file=sys.stderr, flush=True)
    return rows


def whole_bridge(args: argparse.Namespace, workdir: Path, idp: Any) -> list[dict[str, Any]]:
    folder = workdir / "interleaved"
    folder.mkdir(parents=True, exist_ok=True)
    sim = SakaiSim(folder)
    servers: dict[str, BridgeServer] = {}
    try:
        servers["sso-bridge serve (granian)"] = BridgeServer(folder / "granian", idp, sim.url)
        servers["the bridge on gunicorn gthread (before)"] = BridgeServer(
            folder / "gthread", idp, sim.url, engine="gunicorn-gthread", whole_bridge=True)
        return _turns(args, idp, servers, ("first-time", "returning"), sim.url, sim)
    finally:
        for server in servers.values():
            server.stop()
        sim.stop()


def stack_alone(args: argparse.Namespace, workdir: Path, idp: Any) -> list[dict[str, Any]]:
    servers: dict[str, BridgeServer] = {}
    try:
        for engine in ENGINES:
            servers[f"{engine} + Flask alone"] = BridgeServer(
                workdir / f"skeleton-{engine}", idp, NO_SAKAI, engine=engine)
        return _turns(args, idp, servers, ("any",), NO_SAKAI, None)
    finally:
        for server in servers.values():
            server.stop()


def table(rows: list[dict[str, Any]]) -> str:
    lines = ["| server | learners | logins | logins/s | CPU ms/login (server) "
             "| Sakai simulator CPU ms/login | errors |", "|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        sim = f"{r['sim_cpu_ms']:.2f}" if r["sim_cpu_ms"] else "–"
        lines.append(f"| {r['server']} | {r['kind']} | {r['logins']} | {r['rate']:,.0f} "
                     f"| {r['cpu_ms']:.2f} | {sim} | {r['errors']} |")
    return "\n".join(lines)
