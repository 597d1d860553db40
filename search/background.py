"""A value built from the index in a background thread and rebuilt when it
gets old (the pinyin lexicon and the suggester take seconds to build on the
full corpora: no request should wait for that)."""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class BackgroundValue:
    """``get()`` returns the latest built value, or None before the first
    build is done; a build starts on first use (or ``start()``) and again
    once the value is older than ``max_age`` and ``changed()`` says the
    source has changed since."""

    def __init__(self, build, max_age: float = 600.0, changed=None, name: str = "background-build"):
        self._build_fn = build
        self._changed = changed
        self.max_age = max_age
        self.name = name
        self.builds = 0  # part of cache keys: a new value can change results
        self._value = None
        self._built_at = 0.0
        self._building = False
        self._lock = threading.Lock()
        self._ready = threading.Event()

    def _build(self) -> None:
        """One build; a failure (a damaged index, the index gone) is logged
        and leaves the last value in place: the next ``get`` tries again."""
        try:
            value = self._build_fn()
            with self._lock:
                self._value, self._built_at = value, time.monotonic()
                self.builds += 1
        except Exception as exc:  # noqa: BLE001 - the reason is on /healthz; searches go on without
            log.warning("%s: build failed: %s: %s", self.name, type(exc).__name__, exc)
        finally:
            with self._lock:
                self._building = False
            self._ready.set()

    def start(self) -> None:
        """Start a build in a daemon thread, unless one is under way; returns at once."""
        with self._lock:
            if self._building:
                return
            self._building = True
        threading.Thread(target=self._build, name=self.name, daemon=True).start()

    def get(self, wait: float = 0.0):
        """The current value, or None while the first build runs.  Starts a build when there is none
        yet, or when the value is older than ``max_age`` seconds and (given a change check) the
        index changed.
        ``wait``: seconds to wait for a first value (0: do not wait)."""
        if self._value is None:
            if not self._building:
                self.start()
        elif (time.monotonic() - self._built_at > self.max_age and not self._building
              and (self._changed is None or self._changed())):
            self.start()
        if wait and self._value is None:
            self._ready.wait(wait)
        return self._value

    def wait(self, timeout: float) -> bool:
        """Block until the first value is built (starting the build if none
        is under way), at most ``timeout`` seconds; True if there is one."""
        return self.get(wait=max(timeout, 1e-3)) is not None
