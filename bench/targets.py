"""Issue 10's targets, each decided from the figures of one run: a PASS or MISS line apiece.

* bridge CPU per login ≤ 0.75× Shibboleth SP's, for first-time and for returning learners
  (the Sakai simulator's CPU is reported apart, never counted as the bridge's);
* returning learners: ≥ 1.2× Shibboleth's logins/s;
* ACS validation ≥ 3× faster than python3-saml's demo usage, and within 2.5× of the
  libxmlsec floor;
* under 120 MB per worker after 10,000 logins.

Also checked: zero errors. Reported: the Sakai calls per login.
"""

from __future__ import annotations

from typing import Any

MB = 1024
CPU_RATIO = 0.75
RATE_RATIO = 1.2
ACS_SPEEDUP = 3.0
ACS_FLOOR_RATIO = 2.5
RSS_LIMIT_MB = 120
MEMORY_LOGINS = 10_000


def lines(acs_results: dict[str, Any], rows: list[dict[str, Any]], memory: dict[str, Any],
          shib: dict[str, Any] | str) -> list[str]:
    """``PASS``/``MISS`` and the figures that decide it, one line per target; then ``INFO``."""
    found = [*_versus_shibboleth(rows, shib), *_acs(acs_results), _memory(memory),
             _errors(rows)]
    return [f"{'PASS' if ok else 'MISS'}  {text}" for ok, text in found] + [_sakai_calls(rows)]


def _each(rows: list[dict[str, Any]], key: str, spec: str) -> str:
    return ", ".join(f"{format(r[key], spec)} ({r['latency']})" for r in rows)


def _versus_shibboleth(rows: list[dict[str, Any]],
                       shib: dict[str, Any] | str) -> list[tuple[bool, str]]:
    kinds = ("first-time", "returning")
    if not isinstance(shib, dict):
        return [(False, f"bridge CPU per login ≤ {CPU_RATIO}× Shibboleth SP's, {kind}: "
                 f"Shibboleth not run: {shib}") for kind in kinds] + [
            (False, f"returning ≥ {RATE_RATIO}× Shibboleth's logins/s: Shibboleth not run")]
    found = []
    limit = shib["cpu_ms"] * CPU_RATIO
    for kind in kinds:
        mine = [r for r in rows if r["kind"] == kind]
        ratios = ", ".join(f"{r['cpu_ms'] / shib['cpu_ms']:.2f}× ({r['latency']})" for r in mine)
        found.append((bool(mine) and all(r["cpu_ms"] <= limit for r in mine),
                      f"bridge CPU per login ≤ {CPU_RATIO}× Shibboleth SP's, {kind}: "
                      f"{_each(mine, 'cpu_ms', '.2f')} ms against {shib['cpu_ms']:.2f} ms "
                      f"(limit {limit:.2f} ms): {ratios}; Sakai simulator apart: "
                      f"{_each(mine, 'sim_cpu_ms', '.2f')} ms"))
    returning = [r for r in rows if r["kind"] == "returning"]
    ratios = ", ".join(f"{r['rate'] / shib['rate']:.2f}× ({r['latency']})" for r in returning)
    found.append((bool(returning) and all(r["rate"] >= shib["rate"] * RATE_RATIO
                                          for r in returning),
                  f"returning ≥ {RATE_RATIO}× Shibboleth's logins/s ({shib['rate']:.0f}/s): "
                  f"{_each(returning, 'rate', '.0f')}/s: {ratios}"))
    return found


def _acs(results: dict[str, Any]) -> list[tuple[bool, str]]:
    a, b, c = (results.get(k) for k in ("validation", "demo", "floor"))
    if not (a and b and c):
        return [(False, f"ACS validation: not measured (variants {sorted(results)})")]
    return [
        (b.median / a.median >= ACS_SPEEDUP,
         f"ACS validation ≥ {ACS_SPEEDUP:.0f}× faster than python3-saml's demo usage: "
         f"{b.median / a.median:.1f}× (median), {b.p99 / a.p99:.1f}× (p99)"),
        (a.median / c.median <= ACS_FLOOR_RATIO,
         f"ACS validation within {ACS_FLOOR_RATIO}× of the libxmlsec floor: "
         f"{a.median / c.median:.2f}× (median), {a.p99 / c.p99:.2f}× (p99)"),
    ]


def _memory(memory: dict[str, Any]) -> tuple[bool, str]:
    peak = max((m.get("VmHWM", 0) for m in memory["workers"]), default=0)
    now = max((m.get("VmRSS", 0) for m in memory["workers"]), default=0)
    enough = memory["logins"] >= MEMORY_LOGINS
    return (peak < RSS_LIMIT_MB * MB and enough,
            f"< {RSS_LIMIT_MB} MB per worker after {MEMORY_LOGINS:,} logins: peak "
            f"{peak / MB:.0f} MB, now {now / MB:.0f} MB after {memory['logins']:,} logins over "
            f"{len(memory['workers'])} workers" + ("" if enough else " (full run only)"))


def _errors(rows: list[dict[str, Any]]) -> tuple[bool, str]:
    return (all(r["errors"] == 0 for r in rows),
            f"zero errors at {rows[0]['concurrency']} concurrent learners: "
            + ", ".join(str(r["errors"]) for r in rows))


def _sakai_calls(rows: list[dict[str, Any]]) -> str:
    """How many Sakai calls a login took (what the account checks ask of Sakai, not a target)."""
    return "INFO  Sakai calls per login: " + ", ".join(
        f"{r['sakai_calls']:.2f} ({r['latency']}, {r['kind']})" for r in rows)
