"""Keep the index writer running: start it, restart it with back-off.

gunicorn's master owns the writer (``gunicorn.conf.py``: ``when_ready``
starts a ``WriterSupervisor``, ``on_exit`` stops it).  A thread of the
master waits for the writer process; whenever it ends without being asked
to (``kill -9``, the store locked past its timeout, a read-only or
corrupt index: ``indexer.writer.serve`` exits 1 and writes its reason to
an error file), it is started again after a delay that doubles from
``first_delay`` to ``max_delay`` seconds with every quick failure and
returns to ``first_delay`` once a run has lasted ``stable_after`` seconds.

Its state goes to a small JSON file (``status_path``, replaced atomically)
that every web worker reads for ``/healthz``::

    {"state": "starting" | "running" | "waiting" | "stopped", "pid": int | null,
     "since": epoch s, "restarts": int, "next_start_at": epoch s | null,
     "last_exit": {"at": epoch s, "code": int | null, "reason": str} | null}

Writes never wait for the writer: they are committed to the article store
(the source of truth) and applied by the next writer that runs.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

log = logging.getLogger("indexer.supervisor")


def read_status(path: str | None) -> dict | None:
    """The supervisor's last status (see the module docstring), or None
    when there is none (no supervisor, or it has not written yet)."""
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def exit_reason(code: int | None, error_text: str | None) -> str:
    """A person's reading of how the writer ended: its own error text when
    it wrote one, else its exit status or the signal that killed it."""
    if error_text:
        return error_text
    if code is None:
        # gunicorn's master reaps any child it sees end, so an exit can
        # reach us with its status already taken.
        return "exited unexpectedly"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    if code == 0:
        return "exited unexpectedly"
    return f"exited with status {code}"


class WriterSupervisor:
    """Run ``cmd`` (the writer's command line; ``--error-file`` is added)
    and restart it whenever it ends, until ``stop()``."""

    def __init__(self, cmd: list[str], status_path: str, first_delay: float = 1.0, max_delay: float = 60.0,
                 stable_after: float = 60.0, env: dict | None = None):
        self.cmd = list(cmd)
        self.status_path = status_path
        self.error_path = status_path + ".error"
        self.first_delay, self.max_delay, self.stable_after = first_delay, max_delay, stable_after
        self.env = env
        self.pid: int | None = None  # the running writer's
        self.restarts = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._status: dict = {"state": "starting", "pid": None, "since": time.time(), "restarts": 0,
                              "next_start_at": None, "last_exit": None}

    # ---- status -------------------------------------------------------------
    def _write_status(self, **changes) -> None:
        self._status.update(changes, restarts=self.restarts)
        tmp = f"{self.status_path}.{os.getpid()}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            json.dump(self._status, f)
        os.replace(tmp, self.status_path)

    # ---- life -----------------------------------------------------------------
    def start(self) -> None:
        """Start the writer now and watch it from a daemon thread."""
        self._write_status()
        self._thread = threading.Thread(target=self._loop, name="writer-supervisor", daemon=True)
        self._thread.start()

    def _spawn(self) -> int:
        """Start the writer; returns its pid.

        ``os.posix_spawn``, not ``subprocess.Popen``: gunicorn's master
        forks workers while this thread runs, and a worker forked while
        Popen waits on its exec-status pipe inherits that pipe and keeps
        Popen waiting for as long as the worker lives.  posix_spawn has no
        such pipe; inherited descriptors (gunicorn's listening sockets) are
        closed in the child."""
        try:
            os.remove(self.error_path)
        except OSError:
            pass
        actions = []
        for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else ():
            fd = int(name)
            try:
                if fd > 2 and os.get_inheritable(fd):
                    actions.append((os.POSIX_SPAWN_CLOSE, fd))
            except OSError:
                pass
        argv = self.cmd + ["--error-file", self.error_path]
        pid = os.posix_spawn(argv[0], argv, dict(self.env if self.env is not None else os.environ),
                             file_actions=actions)
        self.pid = pid
        self._write_status(state="running", pid=pid, since=time.time(), next_start_at=None)
        log.info("index writer started (pid %s)", pid)
        return pid

    @staticmethod
    def _wait(pid: int) -> int | None:
        """Wait for ``pid`` to end: its exit code (negative: the signal), or
        None when gunicorn's master reaped it first (status unknown)."""
        try:
            _, status = os.waitpid(pid, 0)
        except ChildProcessError:
            return None
        return os.waitstatus_to_exitcode(status)

    def _loop(self) -> None:
        failures = 0
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                pid = self._spawn()
            except OSError as exc:  # cannot even start it: try again later
                code, reason = None, f"could not start the writer: {exc}"
            else:
                code = self._wait(pid)
                self.pid = None
                if self._stop.is_set():
                    break
                try:
                    with open(self.error_path, encoding="utf-8") as f:
                        error_text = f.read().strip()
                except OSError:
                    error_text = None
                reason = exit_reason(code, error_text)
            failures = 1 if time.monotonic() - started >= self.stable_after else failures + 1
            delay = min(self.max_delay, self.first_delay * 2 ** (failures - 1))
            log.error("index writer %s: restarting in %.1f s", reason, delay)
            self.restarts += 1
            self._write_status(state="waiting", pid=None, since=time.time(), next_start_at=time.time() + delay,
                               last_exit={"at": time.time(), "code": code, "reason": reason})
            self._stop.wait(delay)
        self._write_status(state="stopped", pid=None, since=time.time(), next_start_at=None)

    def stop(self, timeout: float = 30.0) -> None:
        """Stop supervising and end the writer (SIGTERM, then SIGKILL after
        ``timeout`` seconds)."""
        self._stop.set()
        pid = self.pid
        if pid is not None:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pid = None
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            if self._thread.is_alive() and pid is not None:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self._thread.join(timeout=5)
