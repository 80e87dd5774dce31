"""A strict simulator of the Sakai LMS surface the bridge uses. NOT FOR PRODUCTION.

It implements SakaiLogin and SakaiScript over SOAP 1.1 RPC/literal as sakai-contract.md
describes them (strict about namespaces, part names and order, as CXF is), the session cookie
``JSESSIONID=<sid>.<serverId>``, ``/portal`` and ``/direct/session/current.json``, plus a JSON
control API under ``/_sim/`` for tests. Start it with ``SakaiSimulator(SimConfig()).serve()``
or ``python -m sso_bridge.demo.sakai_sim --port 8080``.
"""

from sso_bridge.demo.sakai_sim.app import SakaiSimApp
from sso_bridge.demo.sakai_sim.config import DEFAULT_ALLOW, SimConfig
from sso_bridge.demo.sakai_sim.server import SakaiSimulator
from sso_bridge.demo.sakai_sim.state import SimState, clean_eid

__all__ = ["DEFAULT_ALLOW", "SakaiSimApp", "SakaiSimulator", "SimConfig", "SimState", "clean_eid"]
