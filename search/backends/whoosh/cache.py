"""The postings cache: decoded posting lists kept per process, bounded by
their size in bytes (``SEARCH_POSTINGS_CACHE_MB``, default 96 MB).

Segments never change once written, so an entry, keyed by (segment id,
field, term), stays valid until it is evicted; all segments and threads of
a process share the one cache, so memory stays bounded however large the
index.  What an entry holds is ``reader.SegmentData``'s business.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from ... import settings


class ByteLRU:
    """A thread-safe least-recently-used map bounded by the bytes of its
    entries.  ``max_bytes``: the bound (an entry larger than it is not
    kept); ``bytes``: what the kept entries count now."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.bytes = 0
        self._data: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key):
        """The value kept under ``key`` (now the most recently used), or None."""
        with self._lock:
            item = self._data.get(key)
            if item is None:
                return None
            self._data.move_to_end(key)
            return item[0]

    def clear(self) -> None:
        """Forget every entry."""
        with self._lock:
            self._data.clear()
            self.bytes = 0

    def put(self, key, value, nbytes: int) -> None:
        """Keep ``value`` under ``key``, counted as ``nbytes``, evicting the
        least recently used entries until the bound holds."""
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self.bytes -= old[1]
            if nbytes > self.max_bytes:
                return
            self._data[key] = (value, nbytes)
            self.bytes += nbytes
            while self.bytes > self.max_bytes and self._data:
                _, (_, size) = self._data.popitem(last=False)
                self.bytes -= size


POSTINGS_CACHE = ByteLRU(int(settings.current().postings_cache_mb * 2**20))
