"""House rule: the Sakai core never imports Flask."""

from __future__ import annotations

import subprocess
import sys


def test_sakai_core_and_simulator_do_not_import_flask() -> None:
    code = ("import sys, sso_bridge.sakai.client, sso_bridge.demo.sakai_sim; "
            "sys.exit('flask' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
