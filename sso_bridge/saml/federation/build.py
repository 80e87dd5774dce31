"""Building a federation's index: in this process, or in a short-lived child process.

An 80 MB aggregate parsed and verified takes about half a gigabyte, which CPython and glibc
keep once freed; a child process that fetches, verifies, reads and writes the index, then
exits, hands it all back. ``build_in_child`` runs ``python -m sso_bridge.saml.federation.build``
with the :class:`BuildSpec` as JSON on stdin and reads the summary (or the problems) as JSON
on stdout.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sso_bridge.errors import ConfigError
from sso_bridge.saml.federation.aggregate import (
    Admission,
    Trust,
    load_signer,
    read_aggregate,
)
from sso_bridge.saml.federation.index import IndexSummary, write_index
from sso_bridge.saml.federation.transport import fetch_to_file

DEFAULT_MAX_BYTES = 200 * 1024 * 1024


@dataclass(frozen=True)
class BuildSpec:
    """Where an aggregate comes from, how it must be signed, what is admitted, where the
    index goes. Plain values only: it crosses into the child process as JSON."""

    name: str
    """The source's setting prefix, e.g. ``federations.edugain``: named in every problem."""
    index: str
    signing_certificate: str
    file: str = ""
    url: str = ""
    max_validity_days: int = 0
    entity_ids: tuple[str, ...] = ()
    registration_authorities: tuple[str, ...] = ()
    entity_categories: tuple[str, ...] = ()
    max_bytes: int = DEFAULT_MAX_BYTES
    timeout: float = 30.0
    ca_file: str = ""
    allow_http: bool = False

    def admission(self) -> Admission:
        return Admission(frozenset(self.entity_ids), frozenset(self.registration_authorities),
                         frozenset(self.entity_categories))

    @classmethod
    def from_json(cls, text: str) -> BuildSpec:
        data = json.loads(text)
        for key in ("entity_ids", "registration_authorities", "entity_categories"):
            data[key] = tuple(data[key])
        return cls(**data)


def build(spec: BuildSpec) -> IndexSummary:
    """Fetch (by URL) or read (file), verify, read the admitted IdPs and write the index."""
    trust = Trust(load_signer(Path(spec.signing_certificate), f"{spec.name}.signing_certificate"),
                  f"{spec.name}.signing_certificate", spec.max_validity_days)
    index = Path(spec.index)
    if spec.url:
        path, source = index.with_name(f".{index.name}.download"), spec.url
        index.parent.mkdir(parents=True, exist_ok=True)
        fetch_to_file(spec.url, path, max_bytes=spec.max_bytes, timeout=spec.timeout,
                      setting=f"{spec.name}.url", ca_file=spec.ca_file,
                      allow_http=spec.allow_http)
    else:
        path, source = Path(spec.file), spec.file
    try:
        aggregate = read_aggregate(path, source=source, trust=trust,
                                   admission=spec.admission())
    finally:
        if spec.url:
            path.unlink(missing_ok=True)
    if not aggregate.idps:
        raise ConfigError(f"'{spec.name}': {source} has no admitted IdP "
                          f"({aggregate.idps_seen} IdPs in it)")
    summary = IndexSummary(source=source, built_at=time.time(),
                           valid_until=aggregate.valid_until, idp_count=len(aggregate.idps),
                           idps_seen=aggregate.idps_seen, problems=tuple(aggregate.problems))
    write_index(index, summary, aggregate.idps)
    return summary


def build_in_child(spec: BuildSpec, timeout: float = 300.0) -> IndexSummary:
    """``build`` in a fresh interpreter; its problems come back as ConfigError."""
    # The builder needs none of the bridge's secrets (SP key, Sakai password, Flask secret).
    environment = {k: v for k, v in os.environ.items() if not k.startswith("SSO_BRIDGE_")}
    try:
        done = subprocess.run([sys.executable, "-m", "sso_bridge.saml.federation.build"],
                              input=json.dumps(asdict(spec)), capture_output=True, text=True,
                              timeout=timeout, check=False, env=environment)
    except subprocess.TimeoutExpired as exc:
        raise ConfigError(f"'{spec.name}': building the index took over {timeout:.0f} s") from exc
    try:
        answer = json.loads(done.stdout)
    except ValueError:
        raise ConfigError(f"'{spec.name}': the index builder failed (exit {done.returncode}): "
                          f"{done.stderr.strip()[-300:]}") from None
    if "problems" in answer:
        raise ConfigError(answer["problems"])
    answer["summary"]["problems"] = tuple(answer["summary"]["problems"])
    return IndexSummary(**answer["summary"])


def main() -> None:
    spec = BuildSpec.from_json(sys.stdin.read())
    try:
        print(json.dumps({"summary": asdict(build(spec))}))
    except ConfigError as exc:
        print(json.dumps({"problems": exc.problems}))


if __name__ == "__main__":
    main()
