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
running one reads the commit it started from.

A run that fails (killed by a signal, the out-of-memory killer's SIGKILL
included; another model's vectors in the index: see ``indexer embed
--reset``; the semantic extra missing) is retried without waiting for a
commit: after ``RETRY_MIN`` s, doubling at each failure in a row up to
``RETRY_MAX`` s (a run that dies at every start, a crashing model, runs
once per ``RETRY_MAX`` s, never in a loop; commits meanwhile do not
shorten the wait).  Each failure is described (``describe_failure``: exit
status or signal, time, the run's last ``error:`` line, the next attempt)
to ``on_error``, which the writer keeps in the article store's meta
``embed_error`` for ``/healthz`` (``vectors.error``); the first run that
succeeds reports None (cleared).
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from search import lifeline

log = logging.getLogger("indexer.embed")

RETRY_MIN, RETRY_MAX = 5.0, 300.0  # seconds before the run after a failed one (doubling)
# The article store's meta key under which the writer keeps the last failed
# run's description ("" once a run succeeded): /healthz's vectors.error.
EMBED_ERROR = "embed_error"


class EmbedProcess:
    """Embedding runs for the index ``index`` with ``model`` ("bundled" or
    an ONNX model directory), one at a time, after ``notify`` (and again
    after a failed run: see the module docstring).  ``args``: further
    options of ``indexer embed`` (``--threads 1``, ``--limit N``).
    ``on_error(text | None)`` hears each failure's description and None
    after a run that succeeds following failures (called from the runs'
    thread; what it raises is logged, never stops the runs).  Attributes:
    ``runs`` (children ended), ``failures`` (of them, with a non-zero
    status), ``last_error`` (the last failure's description, None once a
    run succeeded), ``proc`` (the running child or None)."""

    def __init__(self, index: str, model: str = "bundled", args: list[str] | None = None,
                 on_error: Callable[[str | None], None] | None = None):
        self.cmd = [sys.executable, "-m", "indexer", "embed", "--index", index, "--model", model,
                    "--parent", str(os.getpid()), *(args or [])]
        self.proc: subprocess.Popen | None = None
        self.runs = 0
        self.failures = 0
        self.last_error: str | None = None
        self._on_error = on_error
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
        in_a_row = 0
        while True:
            self._wake.wait()
            if self._stop.is_set():
                break
            self._wake.clear()
            with self._lock:
                if self._stop.is_set():
                    break
                self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                             close_fds=True)
                proc = self.proc
            said = _relay(proc.stderr)
            status = proc.wait()
            with self._lock:
                self.proc = None
                self.runs += 1
            if self._stop.is_set():
                break
            if status != 0:
                self.failures += 1
                in_a_row += 1
                self._report(describe_failure(proc.pid, status, time.time(), said, in_a_row, delay))
                if self._stop.wait(delay):
                    break
                delay = min(delay * 2, RETRY_MAX)
                self._wake.set()  # the retry, commit or not (idle stays cleared: a run is asked for)
                continue
            delay, in_a_row = RETRY_MIN, 0
            if self.last_error is not None:
                self._report(None)
            with self._flags:
                if not self._wake.is_set():
                    self._idle.set()
        self._idle.set()

    def _report(self, text: str | None) -> None:
        self.last_error = text
        if text is not None:
            log.error("%s", text)
        else:
            log.info("the embedding run succeeded after failed ones")
        if self._on_error is not None:
            try:
                self._on_error(text)
            except Exception:  # noqa: BLE001 - the runs go on; the failure is in the log
                log.exception("the embedding runs' state could not be recorded")

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


def _relay(stream) -> str | None:
    """Copy a run's standard error to this process's, line by line, until
    it ends; returns its last line starting with "error:" (the command's
    refusals, ``indexer/cli.py``), None when there was none."""
    said = None
    with stream:
        for raw in stream:
            line = raw.decode("utf-8", "replace")
            sys.stderr.write(line)
            if line.startswith("error:"):
                said = line.strip()
    sys.stderr.flush()
    return said


def describe_failure(pid: int, status: int, at: float, said: str | None, in_a_row: int, delay: float) -> str:
    """One line on a failed run: the child ``pid``'s exit ``status``
    (``Popen.returncode``: negative, killed by that signal), ``at`` (epoch
    seconds, shown in UTC), its last ``said`` "error:" line (or None), the
    failures ``in_a_row`` and the ``delay`` (s) before the next attempt."""
    if status < 0:
        try:
            name = signal.Signals(-status).name
        except ValueError:
            name = "unknown"
        how = f"was killed by signal {-status} ({name})"
    else:
        how = f"exited with status {status}"
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(at))
    return (f"the embedding run (pid {pid}) {how} at {when}" + (f" ({said})" if said else "")
            + f"; {in_a_row} failed run(s) in a row, the next one in {delay:.0f} s")
