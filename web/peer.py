"""The client's address, as login throttling counts it.

Directly connected, it is the peer. Behind a reverse proxy every request comes from the
proxy, so all clients would share one count per address: with LOKET_TRUSTED_PROXIES naming
the proxies (addresses or networks), a request from one of them is counted under the address
the proxy put in X-Forwarded-For. That header is read from its right end (what our own proxy
appended), past any further trusted proxies: what a client wrote at its left end itself is
never believed. A request from anywhere else is its peer, whatever it claims.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

from aiohttp import web

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@lru_cache(maxsize=8)
def networks(setting: str | None) -> tuple[Network, ...]:
    """The networks of the setting (comma-separated); ValueError names a bad one."""
    found = []
    for part in (setting or "").split(","):
        if part.strip():
            found.append(ipaddress.ip_network(part.strip(), strict=False))
    return tuple(found)


def _trusted(address: str, trusted: tuple[Network, ...]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in trusted)


def client_address(request: web.Request, trusted_setting: str | None) -> str:
    peer = request.remote or "unknown"
    trusted = networks(trusted_setting)
    if not trusted or not _trusted(peer, trusted):
        return peer
    hops = [h.strip() for h in ",".join(request.headers.getall("X-Forwarded-For", [])).split(",")]
    for hop in reversed([h for h in hops if h]):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a hop our proxy did not write: nothing left of it can be believed
        if not _trusted(hop, trusted):
            return hop
    return peer
