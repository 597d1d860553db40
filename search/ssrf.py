"""Where a webhook may post: the guard against server-side request forgery.

A saved search's webhook makes this service send requests to a URL that
staff typed; without a guard that URL could reach the newsroom's own
network, the OpenSearch cluster or a cloud metadata service.  ``check``
allows only:

* ``https`` URLs (``http`` only for an allowed host, below), without
  credentials (``user:pass@``) or fragment, with a host name or address in
  its standard form (``0x7f000001``, ``2130706433`` or ``127.1`` are
  refused: resolvers read them as addresses, people do not);
* whose host resolves ONLY to public addresses: every address the name
  resolves to is checked (``address_problem``: loopback, private,
  link-local such as the cloud metadata address 169.254.169.254, shared
  address space 100.64.0.0/10, multicast, reserved, unspecified, not
  global; IPv6 forms embedding an IPv4 address, IPv4-mapped ``::ffff:a.b.c.d``,
  6to4 ``2002::/16``, Teredo and the well-known NAT64 prefix
  ``64:ff9b::/96``, are judged by the embedded address: ``64:ff9b::808:808``
  (8.8.8.8) is allowed, ``64:ff9b::7f00:1`` (127.0.0.1) refused; the
  local-use NAT64 prefix ``64:ff9b:1::/48`` is private and refused);
* whose path and query are sent as ASCII: non-ASCII characters
  (``https://host/钩子``) are percent-encoded as UTF-8 (RFC 3986), an
  internationalized host name is sent as its IDNA A-label
  (``xn--...``, with the ``idna`` package: UTS 46, IDNA 2008);
* unless the host (``name``, ``address``, ``name:port`` or
  ``[v6]:port``) is listed in ``SEARCH_WEBHOOK_ALLOW_HOSTS``: then its
  addresses are not judged and ``http`` is allowed too (a receiver inside
  the newsroom, the tests' receiver on loopback).

``check`` returns a ``Destination`` holding the one address that was
checked; the sender connects to that very address (``search.webhooks``),
so a name cannot resolve to a public address when checked and to a
private one when connected (DNS rebinding).  The check runs when a webhook
is set (a refusal is a 400 naming the reason) and again before every
delivery (DNS and the allowed hosts change).

The standard library's ``ipaddress`` (``is_global`` and the explicit
properties) and ``socket.getaddrinfo`` do the work: no dependency does it
better, and the rules stay readable here.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

import idna

from .errors import SearchServiceError

MAX_URL = 2000  # characters of a webhook URL (chosen: far above any real endpoint)
SHARED_SPACE = ipaddress.ip_network("100.64.0.0/10")  # RFC 6598, carrier-grade NAT
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix: the IPv4 address is the last 32 bits
# What stays as it is when a path or query is percent-encoded: RFC 3986
# reserved and unreserved characters, and "%" (an escape already there).
_URL_SAFE = "/:@!$&'()*+,;=-._~%?"

_NUMERIC_LABEL = re.compile(r"^(0x[0-9a-f]*|[0-9]+)$")
_DEFAULT_PORT = {"https": 443, "http": 80}

Address = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookURLRefused(SearchServiceError, status=400):
    """A webhook URL this service will not post to; the message says why."""


@dataclass(frozen=True)
class Destination:
    """A checked webhook URL: ``scheme`` (https or http), ``host`` (as in
    the URL, lower case, an IPv6 address without brackets), ``port``,
    ``target`` (path and query, at least ``/``, ASCII: percent-encoded), ``address`` (the checked
    IP address to connect to) and ``allowed`` (the host is in
    ``SEARCH_WEBHOOK_ALLOW_HOSTS``)."""
    url: str
    scheme: str
    host: str
    port: int
    target: str
    address: str
    allowed: bool


def parse_allow_hosts(entries) -> frozenset[tuple[str, int | None]]:
    """``SEARCH_WEBHOOK_ALLOW_HOSTS`` entries (an iterable of text such as
    ``hooks.internal``, ``127.0.0.1:8080``, ``[::1]:9000``) as a set of
    (host in lower case, port or None for any port).  Raises
    ``ValueError`` naming an entry that is not a host[:port]."""
    out = set()
    for entry in entries:
        entry = entry.strip().lower()
        if not entry:
            continue
        try:
            parts = urlsplit(f"//{entry}")
            host, port = parts.hostname, parts.port
        except ValueError:
            host = None
        if not host or parts.path or parts.query or parts.username is not None:
            raise ValueError(f"SEARCH_WEBHOOK_ALLOW_HOSTS: {entry!r} is not a host name or address[:port]")
        out.add((host, port))
    return frozenset(out)


def _embedded_v4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries (mapped, 6to4, Teredo
    server and client, NAT64), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]  # the client's address; the server's is checked by is_global below
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def address_problem(ip: Address) -> str | None:
    """Why ``ip`` is not a public address a webhook may reach (text naming
    the range), or None when it is."""
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.scope_id:
            return "an IPv6 address with a zone (link-local)"
        inner = _embedded_v4(ip)
        if inner is not None:
            problem = address_problem(inner)
            if problem:
                return f"{problem}, inside the IPv6 address {ip}"
            if ip.ipv4_mapped is not None or ip in NAT64:
                return None  # ::ffff:a.b.c.d and 64:ff9b::a.b.c.d reach a.b.c.d, which is public
    checks = (
        (ip.is_unspecified, "unspecified"),
        (ip.is_loopback, "loopback"),
        (ip.is_link_local, "link-local (the cloud metadata service lives at 169.254.169.254)"),
        (ip.is_multicast, "multicast"),
        (ip.version == 4 and ip in SHARED_SPACE, "shared address space (carrier-grade NAT, 100.64.0.0/10)"),
        (ip.version == 6 and ip.is_site_local, "site-local"),
        (ip.is_private, "private"),
        (ip.is_reserved, "reserved"),
        (not ip.is_global, "not a public (global) address"),
    )
    for bad, why in checks:
        if bad:
            return why
    return None


def _resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (TCP), in the resolver's order."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(info[4][0] for info in infos))


def _host_form(host: str) -> Address | None:
    """``host`` as an IP address when it is one in standard form, None for
    a name; raises WebhookURLRefused for a number in another form or a
    name that is not one."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    labels = host.rstrip(".").split(".")
    if all(_NUMERIC_LABEL.match(label) for label in labels):
        raise WebhookURLRefused(f"webhook host {host!r} is a number in a non-standard form: "
                                "write an address as a.b.c.d or a name")
    return None


def ascii_host(host: str) -> str:
    """A host name as sent (DNS, ``Host``, TLS SNI): ASCII as it is, an
    internationalized name as its IDNA A-label (``例子.中国`` ->
    ``xn--fsqu00a.xn--fiqs8s``).  Raises WebhookURLRefused for a name that
    is not a valid host name."""
    if host.isascii():
        return host
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError as exc:
        raise WebhookURLRefused(f"webhook host {host!r} is not a valid host name: {exc}") from None


def ascii_target(path: str, query: str) -> str:
    """The request target (path, ``?query``; at least ``/``) as ASCII:
    non-ASCII characters percent-encoded as UTF-8, escapes and reserved
    characters kept (``/钩子`` -> ``/%E9%92%A9%E5%AD%90``)."""
    target = (path or "/") + (f"?{query}" if query else "")
    return quote(target, safe=_URL_SAFE, encoding="utf-8")


def check(url, allow_hosts=frozenset(), resolve=_resolve) -> Destination:
    """The ``Destination`` of webhook ``url`` when the policy above allows
    it.  ``allow_hosts``: ``parse_allow_hosts`` of the setting;
    ``resolve(host, port)``: the name's addresses (the system's resolver).
    Raises ``WebhookURLRefused`` (400) naming the reason: not text or too
    long, not a URL, not https, credentials, a fragment, a bad port, a
    host in a non-standard numeric form, a name that does not resolve, or
    an address that is not public (naming it and its range)."""
    if not isinstance(url, str) or not url.strip():
        raise WebhookURLRefused("the webhook 'url' must be text: an https URL")
    if len(url) > MAX_URL:
        raise WebhookURLRefused(f"webhook URL too long: {len(url)} characters (at most {MAX_URL})")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise WebhookURLRefused("a webhook URL may not contain spaces or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise WebhookURLRefused(f"webhook URL {url[:100]!r} cannot be read: {exc}") from None
    scheme = parts.scheme.lower()
    if scheme not in _DEFAULT_PORT:
        raise WebhookURLRefused(f"a webhook URL must start with https:// (not {url[:100]!r})")
    if parts.username is not None or parts.password is not None or "@" in parts.netloc:
        raise WebhookURLRefused("a webhook URL may not carry credentials (user:password@): "
                                "the receiver verifies the signature instead")
    if parts.fragment or url.endswith("#"):
        raise WebhookURLRefused("a webhook URL may not have a fragment (#...): it is never sent")
    host = parts.hostname
    if not host:
        raise WebhookURLRefused(f"webhook URL {url[:100]!r} has no host")
    if port == 0:
        raise WebhookURLRefused("webhook URL port 0 is not a port")
    literal = _host_form(host)
    named = {host, ascii_host(host)} if literal is None else {host}  # an IDN host: listed either way
    allowed = any((h, port) in allow_hosts or (h, None) in allow_hosts for h in named)
    if scheme == "http" and not allowed:
        raise WebhookURLRefused("a webhook URL must use https (http only for a host in SEARCH_WEBHOOK_ALLOW_HOSTS)")
    port = port or _DEFAULT_PORT[scheme]
    if literal is None:
        host = ascii_host(host)
    if literal is not None:
        addresses = [str(literal)]
    else:
        try:
            addresses = resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise WebhookURLRefused(f"webhook host {host!r} does not resolve: {exc}") from None
        if not addresses:
            raise WebhookURLRefused(f"webhook host {host!r} does not resolve to any address")
    if not allowed:
        for address in addresses:
            problem = address_problem(ipaddress.ip_address(address))
            if problem:
                named = "" if literal is not None else f" resolves to {address}, which"
                raise WebhookURLRefused(
                    f"webhook host {host!r}{named} is {problem}: webhooks go to public addresses only "
                    "(SEARCH_WEBHOOK_ALLOW_HOSTS allows a host)")
    target = ascii_target(parts.path, parts.query)
    return Destination(url=url, scheme=scheme, host=host, port=port, target=target,
                       address=addresses[0], allowed=allowed)
