"""Sakai core (no Flask): the SOAP wire format and the web-services client.

Nothing outside this package sees a SOAP string; callers get plain values or a typed
:class:`sso_bridge.errors.SakaiError`.
"""

from sso_bridge.sakai.client import SakaiClient
from sso_bridge.sakai.soap import NS

__all__ = ["NS", "SakaiClient"]
