"""Trusted reverse proxies: the client's address and scheme as WSGI sees them.

``SEARCH_TRUSTED_PROXIES`` lists the proxies (addresses or CIDR networks,
comma-separated; default none).  Only a request whose peer is one of them
may say who the client is: ``X-Forwarded-For`` is read from the right and
the right-most address that is not a trusted proxy becomes ``REMOTE_ADDR``
(a client cannot spoof its address by sending its own header: the proxy
appends the address it saw, and everything left of that is the client's
word); ``X-Forwarded-Proto`` (``http``/``https``, the right-most value)
sets ``wsgi.url_scheme``.  From any other peer these headers are ignored.
``X-Forwarded-Host`` is never read: the proxy passes the ``Host`` header
(a proxy that forwards client headers unchanged would let a client pick it).  So every part of the app simply uses ``request.remote_addr`` and
``request.scheme`` (rate limits, the access log, the query log, the
``Secure`` cookie flag, the same-origin check).

Own code rather than werkzeug's ``ProxyFix``: ProxyFix trusts a fixed
*number* of hops from any peer, whereas this trusts a configured *set* of
peers (and CIDRs), which is what a deployment can state reliably.
"""

from __future__ import annotations

import ipaddress

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(value: str | None) -> tuple[Network, ...]:
    """``"10.0.0.1, 192.168.0.0/16, ::1"`` -> networks.

    Raises ValueError naming the entry that is no address or network."""
    networks = []
    for item in (value or "").split(","):
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError:
            raise ValueError(f"SEARCH_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR network") from None
    return tuple(networks)


def _address(text: str):
    """An IP address from a header entry or REMOTE_ADDR (IPv4-mapped IPv6
    read as IPv4; ``[v6]:port`` and ``v4:port`` forms accepted), or None."""
    text = text.strip().strip('"')
    if text.startswith("["):
        text = text[1:].partition("]")[0]
    elif text.count(":") == 1:
        text = text.partition(":")[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    mapped = getattr(addr, "ipv4_mapped", None)
    return mapped or addr


class TrustedProxies:
    """WSGI middleware: rewrites ``REMOTE_ADDR`` and ``wsgi.url_scheme``
    from the forwarding headers of trusted peers only (the peer's own
    address is kept in ``news_search.peer``)."""

    def __init__(self, app, networks: tuple[Network, ...]):
        self.app = app
        self.networks = networks

    def trusted(self, addr) -> bool:
        return addr is not None and any(addr.version == n.version and addr in n for n in self.networks)

    def __call__(self, environ, start_response):
        peer = environ.get("REMOTE_ADDR", "")
        environ["news_search.peer"] = peer
        if self.networks and self.trusted(_address(peer)):
            client = self.client(environ.get("HTTP_X_FORWARDED_FOR", ""))
            if client is not None:
                environ["REMOTE_ADDR"] = client
            proto = _last(environ.get("HTTP_X_FORWARDED_PROTO", "")).lower()
            if proto in ("http", "https"):
                environ["wsgi.url_scheme"] = proto
        return self.app(environ, start_response)

    def client(self, forwarded_for: str) -> str | None:
        """The right-most address of the chain that is not a trusted proxy
        (all trusted: the left-most); None when the header has no address."""
        chain = [e for e in forwarded_for.split(",") if e.strip()]
        last_trusted = None
        for entry in reversed(chain):
            addr = _address(entry)
            if addr is None:
                # Not an address: nothing to its left can be trusted either.
                break
            if not self.trusted(addr):
                return str(addr)
            last_trusted = addr
        return str(last_trusted) if last_trusted is not None else None


def _last(value: str) -> str:
    return value.rsplit(",", 1)[-1].strip()
