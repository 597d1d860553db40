"""Cross-site request forgery: state-changing requests must come from this site.

Every POST, PUT, PATCH or DELETE that could ride on a browser's ambient
credentials (any form outside ``/api/``, and any request that carries a
cookie) must name this site as its ``Origin`` (browsers send it with every
POST; without it the ``Referer``'s origin is used); otherwise 403.  Requests
with ``Authorization: Bearer`` are exempt: a browser never adds that header
to a cross-site request without a CORS preflight, which this service never
grants for writes.  With the staff cookie being ``SameSite=Strict`` this
covers login CSRF too (the login form has no cookie to protect it).

Chosen over a synchronizer token (Flask-WTF's CSRFProtect): the pages are
publicly cacheable (``Cache-Control: public``), so a per-visitor token in
them would be shared, and an anonymous login form would need a session
just to hold it.  "This site" is ``request.scheme`` + ``request.host``, as
rewritten by the trusted proxies (``web/proxies.py``).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import request
from search.errors import SearchServiceError

UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_DEFAULT_PORT = {"http": 80, "https": 443}


class CrossOrigin(SearchServiceError, status=403):
    """A state-changing request from another site (or of unknown origin)."""


def _origin(url: str):
    """(scheme, host, port) of an origin or URL, or None if unreadable."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in _DEFAULT_PORT or not parts.hostname:
        return None
    return parts.scheme, parts.hostname.lower(), port or _DEFAULT_PORT[parts.scheme]


def check() -> None:
    """before_request hook.  Raises CrossOrigin (answered 403) for an
    unsafe request exposed to CSRF whose origin is not this site's."""
    if request.method not in UNSAFE:
        return
    if request.headers.get("Authorization", "").lower().startswith("bearer "):
        return
    if request.path.startswith("/api/") and not request.cookies:
        return  # no ambient credential to abuse: the API answers 401 itself
    claimed = request.headers.get("Origin")
    source = "Origin"
    if not claimed or claimed == "null":
        claimed, source = request.headers.get("Referer"), "Referer"
    if not claimed:
        raise CrossOrigin("cross-site request refused: a form must be sent from this site "
                          "(no Origin or Referer header)")
    theirs, ours = _origin(claimed), _origin(f"{request.scheme}://{request.host}")
    if theirs != ours:
        hint = ""
        if theirs and ours and theirs[1] == ours[1]:
            # Same host, other scheme or port: typically TLS ended by a proxy the app does not trust.
            hint = (f" (this service was reached as {ours[0]}://{request.host}: behind a reverse proxy, "
                    "list it in SEARCH_TRUSTED_PROXIES and have it send X-Forwarded-Proto and Host)")
        raise CrossOrigin(f"cross-site request refused: the {source} {claimed[:100]!r} is not this site{hint}")
