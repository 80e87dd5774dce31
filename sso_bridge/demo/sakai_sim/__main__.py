"""``python -m sso_bridge.demo.sakai_sim --port 8080``: run the simulator. NOT FOR PRODUCTION."""

from __future__ import annotations

import argparse
import logging
import os
import threading

from sso_bridge.demo.sakai_sim.config import SimConfig
from sso_bridge.demo.sakai_sim.server import SakaiSimulator


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Sakai simulator (NOT FOR PRODUCTION)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--server-id", default="sakai")
    parser.add_argument("--admin-eid", default="admin")
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--password-hash-rounds", type=int, default=SimConfig.password_hash_rounds,
                        help="PBKDF2 rounds per stored password (the benchmark uses 1)")
    parser.add_argument("--session-parameter-allow", action="store_true")
    parser.add_argument("--no-allowlogin", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    config = SimConfig(
        server_id=args.server_id, admin_eid=args.admin_eid,
        admin_password=os.environ.get("SAKAI_SIM_ADMIN_PASSWORD", "admin"),
        latency_ms=args.latency_ms, session_parameter_allow=args.session_parameter_allow,
        allowlogin=not args.no_allowlogin, password_hash_rounds=max(1, args.password_hash_rounds),
    )
    simulator = SakaiSimulator(config).serve(args.host, args.port)
    print(f"Sakai simulator (NOT FOR PRODUCTION) on {simulator.url}", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()


if __name__ == "__main__":
    main()
