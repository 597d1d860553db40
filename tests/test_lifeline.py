"""Children forked inside ``lifeline.bound_children`` (the writer's merge
child, the indexer's workers) never collect what they inherited: the
parent's cyclic garbage would run its finalisers in the child, where a
lock another parent thread held at the fork stays held (the merge child
hung so, finalising a SQLite connection)."""

from __future__ import annotations

import gc
import multiprocessing
import os

from search import lifeline


class _Finalised:
    """A cycle whose finaliser writes a byte to ``fd`` (the pid that ran it)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.me = self  # a cycle: only the collector frees it

    def __del__(self):
        os.write(self.fd, f"{os.getpid()}\n".encode())


def _collect_in_child() -> None:
    gc.collect()
    os._exit(0)


def _fork_with_garbage(bound: bool) -> list[int]:
    """Fork a child (bound or not) while a finalisable cycle is garbage in
    the parent; the child collects; return the pids whose finaliser ran."""
    r, w = os.pipe()
    ctx = multiprocessing.get_context("fork")
    was = gc.isenabled()
    gc.disable()  # the garbage must still be there at the fork
    try:
        _Finalised(w)
        proc = ctx.Process(target=_collect_in_child)
        if bound:
            with lifeline.bound_children(os.getpid()):
                proc.start()
        else:
            proc.start()
        proc.join(30)
        assert proc.exitcode == 0
        gc.collect()  # the parent frees its own garbage
    finally:
        if was:
            gc.enable()
    os.close(w)
    with os.fdopen(r) as f:
        return [int(line) for line in f.read().split()]


def test_a_bound_child_runs_no_finaliser_of_the_parents_garbage():
    ran = _fork_with_garbage(bound=True)
    assert ran == [os.getpid()]  # once, in the parent


def test_an_unbound_child_would_run_it_too():
    """The control: without the freeze the child finalises the parent's
    garbage (what hung the merge child)."""
    ran = _fork_with_garbage(bound=False)
    assert len(ran) == 2 and os.getpid() in ran
