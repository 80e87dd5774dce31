"""CPU per Sakai SOAP call in the bridge's own process, over sso_bridge.httpclient (urllib3's
pool), against the simulator in another process; optionally beside an older transport module
(``--compare-with FILE``, e.g. the hand-written one of before issue 10:
``git show 70f49c4:sso_bridge/sakai/transport.py > /tmp/old_transport.py``). Prints figures.

    .venv/bin/python bench/sakai_call_cpu.py [--calls 3000] [--compare-with /tmp/old_transport.py]
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from common import ROOT, free_port, wait_http

from sso_bridge.httpclient import HttpClient
from sso_bridge.sakai import soap

PATH = "/sakai-ws/soap/sakai"
HEADERS = {"Content-Type": soap.CONTENT_TYPE, "SOAPAction": '""'}
BODY = soap.build_envelope("checkSession", [("sessionid", "0b9d7e21-3c44-4f0e-8f55-71a2c9d3e6ab")])


def per_call(post: Callable[[], Any], calls: int) -> tuple[float, float]:
    """(CPU µs, wall µs) per call, after a warm-up."""
    for _ in range(200):
        post()
    cpu, wall = time.process_time(), time.perf_counter()
    for _ in range(calls):
        post()
    return ((time.process_time() - cpu) / calls * 1e6, (time.perf_counter() - wall) / calls * 1e6)


def load_transport(path: str) -> Any:
    spec = importlib.util.spec_from_file_location("compared_transport", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["compared_transport"] = module
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--compare-with", default="")
    args = parser.parse_args()
    port = free_port()
    sim = subprocess.Popen([sys.executable, "-m", "sso_bridge.demo.sakai_sim", "--port",
                            str(port)], cwd=ROOT, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_http(url + "/_sim/config", 30, "the Sakai simulator")
        ours = HttpClient(url, connect_timeout=3, read_timeout=10)
        other = load_transport(args.compare_with).Transport(url, connect_timeout=3,
                                                            read_timeout=10) \
            if args.compare_with else None
        print("| round | httpclient (urllib3) CPU | wall | compared CPU | wall |")
        print("|---|---|---|---|---|")
        for n in range(args.rounds):
            cpu, wall = per_call(lambda: ours.post(PATH, BODY, HEADERS), args.calls)
            row = f"| {n} | {cpu:.0f} µs | {wall:.0f} µs |"
            if other is not None:
                cpu_o, wall_o = per_call(lambda: other.post(PATH, BODY, HEADERS), args.calls)
                row += f" {cpu_o:.0f} µs | {wall_o:.0f} µs |"
            print(row if other is not None else row + " - | - |")
    finally:
        sim.terminate()
        sim.wait(timeout=10)


if __name__ == "__main__":
    main()
