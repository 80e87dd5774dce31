"""Markdown tables for the benchmark's figures (what README's performance section holds)."""

from __future__ import annotations

from typing import Any

from common import Summary

ACS_LABELS = {
    "validation": "(a) the bridge's validation: pre-checks, python3-saml's strict `is_valid` "
                  "and getters, the bridge's stricter checks, Identity (`precheck` + "
                  "`ServiceProvider.validate`)",
    "bridge": "(a+) the whole `complete_login`: (a) + the signed pending login + the replay "
              "cache in SQLite",
    "demo": "(b) python3-saml as its demo uses it (settings from JSON per request, "
            "`process_response`, getters)",
    "floor": "(c) floor: libxmlsec1 verify of both signatures (parsed document, key loaded)",
    "floor+parse": "(c') floor + base64 decode + parse",
}
STEPS = {
    "demo": "python3-saml as its demo uses it (settings per request)",
    "reused": "python3-saml strict `is_valid` + getters, settings built once",
    "reused+caches": "+ `saml/python3_saml_caches.py` (compiled XSD and XPath, keys parsed "
                     "once, timestamps without strptime)",
    "validation": "the bridge: + pre-checks, the bridge's stricter checks "
                  "(`saml/strict_checks.py`), Identity",
    "bridge": "+ the signed pending login and the replay cache (`complete_login`)",
}


def _us(seconds: float) -> str:
    return f"{seconds * 1e6:,.0f} µs"


def acs_table(results: dict[str, Summary]) -> str:
    lines = ["| ACS validation, in process | median | p99 | samples |", "|---|---:|---:|---:|"]
    for key in ("validation", "bridge", "demo", "floor", "floor+parse"):
        if key in results:
            s = results[key]
            lines.append(f"| {ACS_LABELS[key]} | {_us(s.median)} | {_us(s.p99)} | {s.n} |")
    a, a_plus, b, c = (results.get(k) for k in ("validation", "bridge", "demo", "floor"))
    if a and b and c:
        lines.append("")
        lines.append(f"(a)/(b) = {a.median / b.median:.2f} (the bridge is "
                     f"{b.median / a.median:.1f}× faster than the demo usage); "
                     f"(a)/(c) = {a.median / c.median:.2f} (median); "
                     f"p99: (a)/(b) = {a.p99 / b.p99:.2f}, (a)/(c) = {a.p99 / c.p99:.2f}")
    if a_plus and b and c:
        lines.append(f"(a+)/(b) = {a_plus.median / b.median:.2f}; "
                     f"(a+)/(c) = {a_plus.median / c.median:.2f} (median)")
    if "reused" in results:
        lines += ["", "| from python3-saml's demo usage to the bridge | median | p99 |",
                  "|---|---:|---:|"]
        for key, label in STEPS.items():
            if key in results:
                s = results[key]
                lines.append(f"| {label} | {_us(s.median)} | {_us(s.p99)} |")
    return "\n".join(lines)


def _f(value: Any, spec: str) -> str:
    if value is None:
        return "–"
    return format(value, spec)


def http_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| SP | Sakai latency | learners | logins | logins/s | p50 | p95 | p99 | errors "
        "| Sakai calls/login | CPU ms/login (SP) | peak RSS/worker |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['sp']} | {r['latency']} | {r['kind']} | {r['logins']} "
            f"| {_f(r['rate'], ',.0f')} | {_f(r['p50_ms'], '.1f')} ms "
            f"| {_f(r['p95_ms'], '.1f')} ms | {_f(r['p99_ms'], '.1f')} ms | {r['errors']} "
            f"| {_f(r.get('sakai_calls'), '.2f')} "
            f"| {_f(r['cpu_ms'], '.2f')} | {r.get('rss') or '–'} |")
    return "\n".join(lines)
