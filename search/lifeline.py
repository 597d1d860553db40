"""Child processes that cannot outlive their parent: process plumbing
shared by the Whoosh target's merge child (``search/backends/whoosh/merge.py``)
and the indexer's worker processes (``indexer/workers.py``).

``die_with_parent()`` is called first thing in a forked child (the
writer's merge process): Linux delivers SIGKILL to it the moment the
parent dies (``prctl(PR_SET_PDEATHSIG)``, through ctypes: the prctl
wrappers on PyPI need libcap headers to build, for one call), and a child
whose parent died before the call exits at once.  Elsewhere (no prctl)
a watcher thread polls the parent instead.

``close_inherited(fds)`` closes descriptors a fork copied that the child
must not keep: the index's write lock (an ``flock`` is held for as long
as any copy of its descriptor is open) and the read end of the child's own
result pipe (so that a send to a dead parent fails instead of blocking).

``bound_children(parent, fds)``: a ``with`` block around a fork (a
``Process.start()``) that does both in the child at once after
the fork (``os.register_at_fork``), before any other code of the child
runs, so that there is no moment in which the child could outlive its
parent unsignalled or keep the lock; it also moves everything the child
inherited out of its garbage collector's reach (``gc.freeze``), so that
no finaliser of the parent's garbage runs in the child (see
``_after_fork_in_child``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os
import signal
import threading
import time
from contextlib import contextmanager

PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int, poll: float = 0.5) -> str:
    """Make this process die when ``parent_pid`` (its parent) dies.

    Returns how: ``"prctl"`` or ``"watcher"``.  Exits at once (status 1)
    if the parent is already gone."""
    how = "watcher"
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        if libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            how = "prctl"
    except (OSError, AttributeError):
        pass
    if os.getppid() != parent_pid:  # died before prctl took effect
        os._exit(1)
    if how == "watcher":
        def watch():
            while os.getppid() == parent_pid:
                time.sleep(poll)
            os._exit(1)

        threading.Thread(target=watch, name="parent-watch", daemon=True).start()
    return how


def close_inherited(fds) -> None:
    """Close inherited descriptors (ints or objects with ``close()``);
    already closed ones are ignored."""
    for fd in fds:
        if fd is None:
            continue
        try:
            if isinstance(fd, int):
                os.close(fd)
            else:
                fd.close()
        except OSError:
            pass


_bind: tuple[int, tuple] | None = None  # (parent pid, fds) for the fork under way
_bind_lock = threading.Lock()


def _after_fork_in_child() -> None:
    global _bind
    spec, _bind = _bind, None
    if spec is not None:
        parent, fds = spec
        # What the child inherited is never collected by it: a cycle that
        # was garbage in the parent (a SQLite connection's, say) would run
        # its finaliser here, and a lock another parent thread held at the
        # fork (SQLite's allocator mutex) is never released in the child:
        # the merge child hung so in the full test suite.  The child's own
        # objects are collected as usual.
        gc.freeze()
        close_inherited(fds)
        die_with_parent(parent)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@contextmanager
def bound_children(parent: int, fds=()):
    """Children forked inside this block die with ``parent`` and close
    ``fds`` (ints or objects with ``close()``) first thing after the fork."""
    global _bind
    with _bind_lock:
        _bind = (parent, tuple(fds))
        try:
            yield
        finally:
            _bind = None


def stop_child(proc, timeout: float) -> None:
    """End ``proc`` (a ``subprocess.Popen``) if it still runs: SIGTERM,
    then SIGKILL when it has not exited after ``timeout`` seconds; waits
    for it either way (at most 10 s more after the SIGKILL)."""
    import subprocess

    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)
