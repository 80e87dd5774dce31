"""The first logins a freshly forked worker serves, all at once on its threads, all succeed.

Each thread compiles its own XSD validator on first use. libxml2 sets up its built-in XSD
types lazily and without a lock, so threads compiling at once used to fail some genuine
responses ("the given type is not a built-in type", "not valid XML Schema") and could corrupt
the heap: a worker died of "double free" under the load test. The check runs in a separate
interpreter that builds the bridge, then forks children as gunicorn forks workers; in each
child eight threads validate their first responses at the same moment.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHILDREN = 24

PROBE = textwrap.dedent("""
    import os, sys, tempfile, threading, time
    from pathlib import Path
    from sso_bridge.saml.checks import precheck
    from sso_bridge.services import build_services
    from sso_bridge.settings import load_settings
    from tests.samlfactory.idp import TestIdp, encode
    from tests.support import write_config

    work = Path(tempfile.mkdtemp())
    idp = TestIdp()
    (work / "idp.xml").write_text(idp.metadata_xml())
    path, env = write_config(work, base_url="https://lms.example.edu/sso",
                             sakai_url="https://lms.example.edu",
                             idp={"metadata_file": "idp.xml"})
    sp = build_services(load_settings(path, env)).sp
    request_ids = [f"_r{i:032x}" for i in range(8)]
    posts = [encode(idp.signed_response(acs_url=sp.settings.acs_url,
                                        sp_entity_id=sp.settings.sp_entity_id,
                                        in_response_to=r)) for r in request_ids]
    limit = sp.settings.limits.max_saml_response_bytes

    def child():
        gate, failures = threading.Barrier(8), []
        def first_login(i):
            gate.wait()
            try:
                sp.validate(posts[i], precheck(posts[i], limit), request_ids[i], time.time())
            except Exception as exc:
                failures.append(exc)
        threads = [threading.Thread(target=first_login, args=(i,)) for i in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        os._exit(1 if failures else 0)

    failed = 0
    for _ in range(int(sys.argv[1])):
        pid = os.fork()
        if pid == 0:
            child()
        failed += os.waitpid(pid, 0)[1] != 0
    print(f"{failed} of {sys.argv[1]} workers failed a first login")
""")


def test_concurrent_first_logins_in_fresh_workers_all_succeed() -> None:
    result = subprocess.run([sys.executable, "-c", PROBE, str(CHILDREN)], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == f"0 of {CHILDREN} workers failed a first login", \
        result.stdout
