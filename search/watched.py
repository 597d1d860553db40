"""A small editable text file (synonyms, blocklist) parsed once and again
whenever it changes, checked at most every ``CHECK_INTERVAL`` seconds, so
editors' changes apply to a running service within seconds.  While the
file cannot be read (an editor saving it), the last good value stays."""

from __future__ import annotations

import os
import threading
import time

CHECK_INTERVAL = 3.0  # seconds between checks of the file's modification time (chosen, not measured)


class WatchedFile:
    """A file parsed into a value, re-parsed when its modification time changes, checked at most
    every ``CHECK_INTERVAL`` seconds (chosen, not measured: editors' changes apply within seconds
    at no per-query cost).  ``value``: the last good parse; ``error``: why the last read failed,
    or None."""
    def __init__(self, path: str | None, parse, empty):
        """``parse(lines) -> value``; ``empty``: the value without a file."""
        self.path = path
        self._parse = parse
        self._empty = empty
        self.value = empty
        self.mtime: float | None = None
        self.error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        if not self.path or not os.path.exists(self.path):
            self.value, self.mtime = self._empty, None
            return
        mtime = os.path.getmtime(self.path)
        if mtime == self.mtime:
            return
        with open(self.path, encoding="utf-8") as f:
            self.value = self._parse(f)
        self.mtime, self.error = mtime, None

    def fresh(self):
        """The current value, re-read first if the file has changed."""
        now = time.monotonic()
        if now - self._checked >= CHECK_INTERVAL:
            with self._lock:
                self._checked = now
                try:
                    self._reload()
                except (OSError, UnicodeDecodeError) as exc:
                    self.error = f"cannot read {self.path}: {exc}"
        return self.value
