"""The writer's embedding runs (``python -m indexer writer --embed [MODEL]``):
after its commits, the writer starts ``python -m indexer embed`` in a child
process, so that new articles get their dense vectors (issue 20) without
the writer's loop ever computing one.

The child is the command itself (``indexer/cli_embed.py``): it lowers its
own priority (``os.nice(10)``), dies with the writer (``--parent``:
``search.lifeline.die_with_parent``), takes the index's embedding lock
(never the write lock) and exits when no live article lacks a vector.  At
most one child runs at a time: a commit while one runs asks for another run
after it (``notify`` never blocks; the waiting is a thread's), since the
running one reads the commit it started from.  A run that fails (another
model's vectors in the index: see ``indexer embed --reset``; the semantic
extra missing) is logged, and the next one waits ``RETRY_MIN`` ..
``RETRY_MAX`` s (doubling) so that a configuration error is not retried at
every commit.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

from search import lifeline

log = logging.getLogger("indexer.embed")

RETRY_MIN, RETRY_MAX = 5.0, 300.0  # seconds before the run after a failed one (doubling)


class EmbedProcess:
    """Embedding runs for the index ``index`` with ``model`` ("bundled" or
    an ONNX model directory), one at a time, after ``notify``.  ``args``:
    further options of ``indexer embed`` (``--threads 1``, ``--limit N``).
    Attributes: ``runs`` (children ended), ``failures`` (of them, with a
    non-zero status), ``proc`` (the running child or None)."""

    def __init__(self, index: str, model: str = "bundled", args: list[str] | None = None):
        self.cmd = [sys.executable, "-m", "indexer", "embed", "--index", index, "--model", model,
                    "--parent", str(os.getpid()), *(args or [])]
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self.failures = 0
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()  # self.proc
        self._flags = threading.Lock()  # _wake and _idle together
        self._thread = threading.Thread(target=self._loop, name="embed", daemon=True)

    def start(self) -> "EmbedProcess":
        """Start the thread and a first run (articles may wait from before); returns self."""
        self._thread.start()
        self.notify()
        return self

    def notify(self) -> None:
        """The writer committed: a run follows (after the one under way,
        if any).  Never blocks."""
        with self._flags:
            self._idle.clear()
            self._wake.set()

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Block until no run is under way or asked for (True), or ``timeout`` s (False)."""
        return self._idle.wait(timeout)

    def _loop(self) -> None:
        delay = RETRY_MIN
        while True:
            self._wake.wait()
            if self._stop.is_set():
                break
            self._wake.clear()
            with self._lock:
                if self._stop.is_set():
                    break
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, close_fds=True)
            status = self.proc.wait()
            with self._lock:
                self.proc = None
                self.runs += 1
            if status != 0 and not self._stop.is_set():
                self.failures += 1
                log.error("the embedding run exited with status %s: the next one in %.0f s", status, delay)
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, RETRY_MAX)
            elif status == 0:
                delay = RETRY_MIN
            with self._flags:
                if not self._wake.is_set():
                    self._idle.set()
        self._idle.set()

    def stop(self, timeout: float = 2.0) -> None:
        """End the runs: SIGTERM the child under way, SIGKILL after
        ``timeout`` s (what it wrote stays valid: the next run goes on)."""
        self._stop.set()
        self._wake.set()
        with self._lock:
            proc = self.proc
        lifeline.stop_child(proc, timeout)
        if self._thread.is_alive():
            self._thread.join(timeout)
