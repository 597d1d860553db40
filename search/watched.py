"""A small editable text file (synonyms, blocklist) parsed once and again
whenever it changes, checked at most every ``CHECK_INTERVAL`` seconds, so
editors' changes apply to a running service within seconds.  While the
file cannot be read (an editor saving it), the last good value stays.
A change is told by the file's ``signature`` (also used for the user
dictionary, ``search.segmenter``)."""

from __future__ import annotations

import os
import threading
import time

CHECK_INTERVAL = 3.0  # seconds between checks of the file's signature (chosen, not measured)


def signature(path: str) -> tuple[int, int, int, int]:
    """What tells a changed file without reading it: (mtime_ns, ctime_ns,
    size, inode).  The status-change time cannot be set back, so a file
    rewritten with its old modification time and size (cp -p, rsync -t)
    still differs; a file replaced by a rename has another inode.
    Raises OSError."""
    st = os.stat(path)
    return (st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino)


class WatchedFile:
    """A file parsed into a value, re-parsed when its ``signature`` changes, checked at most
    every ``CHECK_INTERVAL`` seconds (chosen, not measured: editors' changes apply within seconds
    at no per-query cost).  ``value``: the last good parse; ``signature``: that of the file it
    was parsed from (None without a file); ``error``: why the last read failed, or None."""
    def __init__(self, path: str | None, parse, empty):
        """``parse(lines) -> value``; ``empty``: the value without a file."""
        self.path = path
        self._parse = parse
        self._empty = empty
        self.value = empty
        self.signature: tuple[int, int, int, int] | None = None
        self.error: str | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        self._reload()

    def _reload(self) -> None:
        if not self.path or not os.path.exists(self.path):
            self.value, self.signature = self._empty, None
            return
        current = signature(self.path)  # before reading: a save meanwhile is seen at the next check
        if current == self.signature:
            return
        with open(self.path, encoding="utf-8") as f:
            self.value = self._parse(f)
        self.signature, self.error = current, None

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
