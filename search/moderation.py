"""An editable blocklist that keeps unwanted terms out of suggestions and
hot searches (real query logs contain adult and abusive queries).

One term per line (``#`` comments); a query or suggestion containing a
term, after the usual normalisation (Traditional, full-width, case), is
blocked.  Re-read when the file changes.  Searching itself is never
blocked: this only decides what the site *recommends*.
"""

from __future__ import annotations

import os
import threading
import time

from .normalize import fold_case, normalize_query

CHECK_INTERVAL = 3.0


class Blocklist:
    def __init__(self, path: str | None):
        self.path = path
        self._terms: tuple[str, ...] = ()
        self._mtime: float | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        if not self.path or not os.path.exists(self.path):
            self._terms, self._mtime = (), None
            return
        mtime = os.path.getmtime(self.path)
        if mtime == self._mtime:
            return
        with open(self.path, encoding="utf-8") as f:
            terms = {fold_case(normalize_query(line.split("#", 1)[0])).strip() for line in f}
        self._terms = tuple(sorted(t for t in terms if t))
        self._mtime = mtime

    def _fresh(self) -> None:
        now = time.monotonic()
        if now - self._checked < CHECK_INTERVAL:
            return
        with self._lock:
            self._checked = now
            try:
                self._reload()
            except (OSError, UnicodeDecodeError):
                pass  # keep the last good list

    def __len__(self) -> int:
        self._fresh()
        return len(self._terms)

    def blocks(self, text: str) -> bool:
        self._fresh()
        if not self._terms:
            return False
        norm = fold_case(normalize_query(text)).replace(" ", "")
        return any(t.replace(" ", "") in norm for t in self._terms)
