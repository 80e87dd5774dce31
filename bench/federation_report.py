"""The figures of ``bench/federation.py``, printed with issue 14's targets (PASS or MISS)."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from common import Summary
from federation_serve import RefreshRun

Pairs = list[tuple[float, float]]
"""(CPU seconds, wall seconds) per login."""
WORKERS_SERVED = 2
AFTER_SWAP = 2.0
"""Seconds after a new index replaced the old one in which each worker reloads from it."""


@dataclass
class Figures:
    floor: list[float] = field(default_factory=list)
    """The floor's work (parse + verify), CPU seconds, one per run."""
    floor_child: list[float] = field(default_factory=list)
    """The floor's whole child process (interpreter and imports too)."""
    services: dict[bool, Pairs] = field(default_factory=lambda: {True: [], False: []})
    """``build_services`` (CPU with the index builder child, wall), federated or not."""
    indexed: int = 0
    serve: dict[bool, Pairs] = field(default_factory=lambda: {True: [], False: []})
    """``sso-bridge serve`` until /healthz: (CPU of master, builder and workers, wall)."""
    rss: dict[bool, list[float]] = field(default_factory=lambda: {True: [], False: []})
    refresh: dict[str, RefreshRun] = field(default_factory=dict)
    """``saturated`` (learners without pause) and ``paced``."""
    refresh_interval: int = 0
    first: dict[bool, list[Pairs]] = field(default_factory=lambda: {True: [], False: []})
    """Per in-process run, the first login through each IdP, in order."""
    steady: dict[bool, Pairs] = field(default_factory=lambda: {True: [], False: []})
    search: dict[str, Any] | None = None


Row = tuple[str, str, str, bool | None]
"""(figure, target, measured, met)."""


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.1f} ms"


def startup(f: Figures) -> list[Row]:
    if not f.floor:
        return []
    floor, floor_child = min(f.floor), min(f.floor_child)
    fed_cpu, fed_wall = min(c for c, _ in f.services[True]), min(w for _, w in f.services[True])
    one_cpu, one_wall = min(c for c, _ in f.services[False]), min(w for _, w in f.services[False])
    share = fed_cpu - one_cpu
    serve_cpu, serve_wall = min(c for c, _ in f.serve[True]), min(w for _, w in f.serve[True])
    one_serve_cpu = min(c for c, _ in f.serve[False])
    one_serve_wall = min(w for _, w in f.serve[False])
    print(f"floor (lxml parse + xmlsec verify): {floor:.2f} s CPU; its child process with "
          f"interpreter and imports {floor_child:.2f} s")
    print(f"build_services with [federations.edugain] ({f.indexed} IdPs indexed): "
          f"{fed_cpu:.2f} s CPU (the index builder child included), {fed_wall:.2f} s wall; "
          f"with one [idp]: {one_cpu:.2f} s CPU, {one_wall:.2f} s wall; the federation adds "
          f"{share:.2f} s CPU = {share / floor_child:.2f}x the floor's child process, "
          f"{share / floor:.2f}x the floor's work alone")
    print(f"sso-bridge serve until /healthz, {WORKERS_SERVED} workers (min of "
          f"{len(f.serve[True])}): federation {serve_cpu:.2f} s CPU, {serve_wall:.2f} s wall; "
          f"one IdP {one_serve_cpu:.2f} s CPU, {one_serve_wall:.2f} s wall")
    return [("start-up, serve until /healthz, all IdPs indexed", "<= 3 s",
             f"{serve_cpu:.2f} s CPU ({serve_wall:.2f} s wall)", serve_cpu <= 3.0),
            ("what the federation adds to start-up vs the floor's process", "< 1.7x",
             f"{share:.2f} s / {floor_child:.2f} s = {share / floor_child:.2f}x",
             share / floor_child < 1.7),
            ("... vs the floor's work alone (no interpreter)", "< 1.7x",
             f"{share:.2f} s / {floor:.2f} s = {share / floor:.2f}x", share / floor < 1.7)]


def memory(f: Figures) -> list[Row]:
    if not f.rss[True]:
        return []
    fed, one = statistics.mean(f.rss[True]), statistics.mean(f.rss[False])
    print("worker RSS after the same warm-up logins: federation "
          + ", ".join(f"{v:.0f}" for v in f.rss[True]) + " MB; one IdP "
          + ", ".join(f"{v:.0f}" for v in f.rss[False]) + " MB")
    return [("RSS per worker, federation vs one IdP", "<= +150 MB",
             f"{fed:.0f} vs {one:.0f} MB (+{fed - one:.0f} MB)", fed - one <= 150)]


def refreshes(f: Figures) -> list[Row]:
    run = f.refresh.get("saturated")
    if run is None:
        return []
    builds, windows = len(run.builders), len(run.windows)
    took = Summary.of([end - start for start, end in run.windows])
    print(f"refreshing every {f.refresh_interval} s with 2 workers: {windows} builds seen, by "
          f"{builds} builder processes, at most {run.most_at_once} at once; a build "
          f"{took.median:.1f} s wall (median)")
    growth = max((after.get(pid, 0.0) - before) / before
                 for after in run.rss_after for pid, before in run.rss_before.items())
    trend = max((run.rss_after[-1].get(pid, 0.0) - first) / first
                for pid, first in run.rss_after[0].items())
    for pid, before in run.rss_before.items():
        print(f"worker {pid} RSS before: {before:.0f} MB; after each refresh: "
              + ", ".join(f"{after.get(pid, 0.0):.0f}" for after in run.rss_after) + " MB")
    rows: list[Row] = [
        ("refreshes once per instance (2 workers)", "1 build per refresh",
         f"{builds} builders for {windows} refreshes, {run.most_at_once} at once",
         builds == windows and run.most_at_once == 1),
        (f"{len(run.rss_after)} refreshes in a row, worker RSS", "flat within 10 %",
         f"{growth:+.1%} (the worst worker, the worst refresh; from the first refresh to "
         f"the last {trend:+.1%})", growth <= 0.10)]
    return rows + [row for load in f.refresh.values() for row in _latency(load)]


def _latency(run: RefreshRun) -> list[Row]:
    idle: list[float] = []
    during: list[float] = []
    after: list[float] = []
    for began, seconds in run.logins:
        if any(began <= end and began + seconds >= start for start, end in run.windows):
            during.append(seconds)
        elif any(end < began <= end + AFTER_SWAP for _, end in run.windows):
            after.append(seconds)
        else:
            idle.append(seconds)
    calm, busy, swap = Summary.of(idle), Summary.of(during), Summary.of(after)
    load = f"{run.learners} learners " + (f"pausing {run.pause:.1f} s" if run.pause
                                          else "without pause")
    print(f"login latency ({load}, {len(run.logins)} logins, "
          f"{len(run.failures)} failed{': ' + run.failures[0] if run.failures else ''}): "
          f"no refresh p50 {_ms(calm.median)} p99 {_ms(calm.p99)} ({calm.n}); while an index "
          f"builds p50 {_ms(busy.median)} p99 {_ms(busy.p99)} ({busy.n}); in the {AFTER_SWAP:.0f} "
          f"s after a swap p50 {_ms(swap.median)} p99 {_ms(swap.p99)} ({swap.n})")
    rise = busy.p99 / calm.p99 - 1
    rise_after = swap.p99 / calm.p99 - 1
    return [(f"login p99 while a refresh runs ({load})", "<= +20 %",
             f"{_ms(busy.p99)} vs {_ms(calm.p99)} ({rise:+.0%})", rise <= 0.20 and not
             run.failures),
            (f"login p99 just after the swap ({load}; not a target)", "-",
             f"{_ms(swap.p99)} ({rise_after:+.0%})", None)]


def logins(f: Figures) -> list[Row]:
    if not f.steady[True]:
        return []
    fed, one = Summary.of([c for c, _ in f.steady[True]]), Summary.of(
        [c for c, _ in f.steady[False]])
    fed_wall = Summary.of([w for _, w in f.steady[True]])
    one_wall = Summary.of([w for _, w in f.steady[False]])
    first_fed = min(run[0][0] for run in f.first[True])
    first_other = min(cpu for run in f.first[True] for cpu, _ in run[1:])
    first_one = min(run[0][0] for run in f.first[False])
    print(f"login CPU (the bridge's two requests, in process): federation IdP p50 "
          f"{_ms(fed.median)} p99 {_ms(fed.p99)}, wall p50 {_ms(fed_wall.median)}; the same "
          f"IdP as the one [idp] p50 {_ms(one.median)} p99 {_ms(one.p99)}, wall p50 "
          f"{_ms(one_wall.median)} ({fed.n} and {one.n} logins)")
    print(f"first login in a fresh process: through a federation IdP {_ms(first_fed)} CPU "
          f"(its trust and the scope owners built), through a further federation IdP "
          f"{_ms(first_other)}; through the one [idp] {_ms(first_one)} (min of runs)")
    ratio = fed.median / one.median
    return [("federation login vs single [idp], steady state", "at most +10 %",
             f"{_ms(fed.median)} vs {_ms(one.median)} CPU ({ratio - 1:+.1%})", ratio <= 1.10),
            ("first login through a federation IdP (not a target)", "-",
             f"{_ms(first_fed)} (then {_ms(first_other)}) vs {_ms(first_one)}", None)]


def search(f: Figures) -> list[Row]:
    if f.search is None:
        return []
    cpu, wall = Summary.of(f.search["search_cpu"]), Summary.of(f.search["search_wall"])
    first: dict[str, float] = f.search["first_search"]
    print(f"idps.search over {f.search['listable']} IdPs ({cpu.n} queries, one letter to an "
          f"email address, en/de/fr): CPU p50 {_ms(cpu.median)} p99 {_ms(cpu.p99)} max "
          f"{_ms(max(f.search['search_cpu']))}, wall p50 {_ms(wall.median)} p99 "
          f"{_ms(wall.p99)}; the first search in each language (once per worker and index: "
          "its texts prepared, the index's discovery table loaded before the first): "
          + ", ".join(f"{k} {_ms(v)}" for k, v in first.items()) + " CPU")
    rows: list[Row] = [("idps.search over 6,000 IdPs", "<= 50 ms",
                        f"p50 {_ms(cpu.median)}, p99 {_ms(cpu.p99)} CPU (wall p99 "
                        f"{_ms(wall.p99)})", cpu.p99 <= 0.050),
                       ("first search in a language, per worker and index (not a target)",
                        "-", ", ".join(f"{k} {_ms(v)}" for k, v in first.items()), None)]
    route = f.search["route"]
    if isinstance(route, list):
        r = Summary.of(route)
        rows.append(("/saml/discovery/search", "<= 50 ms",
                     f"p50 {_ms(r.median)}, p99 {_ms(r.p99)} wall", r.p99 <= 0.050))
    else:
        rows.append(("/saml/discovery/search", "<= 50 ms",
                     str(route or "not on this branch"), None))
    return rows


def report(f: Figures) -> None:
    rows = startup(f) + memory(f) + refreshes(f) + logins(f) + search(f)
    print("\n| figure | target | measured | |\n|---|---|---|---|")
    for figure, goal, measured, met in rows:
        verdict = "PASS" if met else "MISS" if met is False else "-"
        print(f"| {figure} | {goal} | {measured} | {verdict} |")
