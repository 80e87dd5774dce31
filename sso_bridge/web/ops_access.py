"""Who may read ``/readyz`` and ``/metrics``: operations, not the learners' internet.

With ``server.ops_bind`` they answer there to anyone who reaches that address (and nothing else
does). On the learners' port both answer only to a peer in ``server.ops_allow`` (loopback by
default), judged on the real peer address: ``X-Forwarded-For`` counts only as far as
``server.trusted_proxy_hops`` trusts it (ProxyFix has then already put the client in
``remote_addr``), and with no trusted hops a request that a proxy forwarded (it carries
``X-Forwarded-For`` or ``Forwarded``) is refused even from loopback: a reverse proxy on the same
host would otherwise make every learner a loopback peer. Anyone else gets the ordinary 404
page, as for a path that does not exist. ``/healthz`` stays open to load balancers.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from flask import Flask, request

from sso_bridge import errors
from sso_bridge.settings import ServerSection

OPS_ENDPOINTS = frozenset({"bridge.readyz", "bridge.metrics_view"})
OPS_PORT = "sso_bridge.ops_port"
"""Set in the WSGI environ of requests that came in on ``server.ops_bind`` (``server.py``)."""
_ON_OPS_PORT = OPS_ENDPOINTS | {"bridge.healthz"}
_Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def peer_allowed(peer: str | None, networks: tuple[_Network, ...]) -> bool:
    try:
        address = ipaddress.ip_address(peer or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def ops_guard(server: ServerSection) -> Callable[[], None]:
    """A ``before_request`` hook answering 404 to ops endpoints for anyone but operations."""
    networks = tuple(ipaddress.ip_network(n) for n in server.ops_allow)
    trust_forwarding = server.trusted_proxy_hops > 0

    def guard() -> None:
        if request.environ.get(OPS_PORT):  # the operations port serves operations only
            if request.endpoint not in _ON_OPS_PORT:
                raise errors.NotFound("no such page")
            return
        if request.endpoint not in OPS_ENDPOINTS:
            return
        forwarded = "X-Forwarded-For" in request.headers or "Forwarded" in request.headers
        if (forwarded and not trust_forwarding) or not peer_allowed(request.remote_addr,
                                                                    networks):
            raise errors.NotFound("no such page")

    return guard


def install(app: Flask, server: ServerSection) -> None:
    app.before_request(ops_guard(server))
