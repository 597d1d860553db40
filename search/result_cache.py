"""The search engine's result cache: a small thread-safe LRU of search
results, keyed by every field of the request (``request_key``) and the
versions the result depends on; entries expire so that the recency
preference stays current."""

from __future__ import annotations

import dataclasses
import threading
import time
from collections import OrderedDict

from .models import SearchRequest


def request_key(req: SearchRequest) -> tuple:
    """Every field of the request (lists as tuples), so a new parameter can
    never be forgotten here."""
    return tuple(tuple(v) if isinstance(v, list) else v
                 for v in (getattr(req, f.name) for f in dataclasses.fields(req)))


class ResultCache:
    """A small thread-safe LRU of search results; entries expire after
    ``ttl`` seconds so that the recency preference stays current."""

    def __init__(self, size: int, ttl: float = 300.0):
        self.size, self.ttl = size, ttl
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The result stored under ``key`` (a hashable tuple), or None when
        absent or older than ``ttl`` seconds."""
        if not self.size:
            return None
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            stored_at, value = item
            if time.monotonic() - stored_at > self.ttl:
                del self._data[key]
                return None
            self._data.move_to_end(key)
            return value

    def put(self, key, value) -> None:
        """Store ``value``, dropping the least recently used beyond ``size``."""
        if not self.size:
            return
        with self._lock:
            self._data[key] = (time.monotonic(), value)
            self._data.move_to_end(key)
            while len(self._data) > self.size:
                self._data.popitem(last=False)

