"""Rate limits for the public read endpoints, per client IP (the `limits`
library, moving windows).

``SEARCH_RATE_LIMIT`` (default "20/second;600/minute"; "off" disables) is
one budget per client across /search and the public GET API.  It is kept
in each gunicorn worker's memory, so with N workers a client can reach up
to N times the limit; a shared store (Redis, memcached) would make it
exact, but this deployment has none.  Over the limit: 429 with Retry-After.
"""

from __future__ import annotations

import functools
import math
import time

from flask import current_app, request
from limits import parse_many, storage, strategies

PUBLIC = ("/api/search", "/api/suggest", "/api/timeline", "/api/articles", "/search")
_storage = storage.MemoryStorage()
_window = strategies.MovingWindowRateLimiter(_storage)


@functools.lru_cache(maxsize=8)
def _parsed(spec: str):
    """The configured limits, parsed once (not on every request)."""
    return tuple(parse_many(spec))


class RateLimited(Exception):
    def __init__(self, retry_after: int, limit: str):
        super().__init__(f"too many requests: at most {limit} per client; retry in {retry_after} s")
        self.retry_after = retry_after


def check() -> None:
    """before_request hook: raise RateLimited when this client is over budget."""
    spec = current_app.config["SEARCH_RATE_LIMIT"]
    if spec == "off" or request.method != "GET" or not request.path.startswith(PUBLIC):
        return
    client = request.remote_addr or "unknown"
    for item in _parsed(spec):
        if not _window.hit(item, "public", client):
            reset = _window.get_window_stats(item, "public", client).reset_time
            raise RateLimited(max(1, math.ceil(reset - time.time())), str(item))
