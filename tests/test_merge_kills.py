"""Killing the index writer at random points during background merges
never leaves the index locked (item 6): the merge child dies with its
writer and never holds the write lock, so the next writer always starts
and applies every change of the store.  Real writer processes, real
``kill -9``, real forked merge children."""

import ctypes
import ctypes.util
import fcntl
import os
import random
import signal
import subprocess
import sys
import time

from conftest import write_jsonl

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def children(pid):
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid and fields[0] != "Z":
                out.append(int(name))
    return out


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


PR_SET_CHILD_SUBREAPER = 36


def subreaper(on: bool) -> None:
    """Make this process adopt its orphaned descendants (Linux), so that the
    test can collect how an orphaned merge child ended."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    assert libc.prctl(PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0) == 0


def reap(pid, seconds=10.0):
    """Wait for an adopted process: its exit code (negative: the signal)."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        time.sleep(0.01)
    raise AssertionError(f"process {pid} still running {seconds} s after its writer died")


def lock_is_free(index):
    """Can a new writer take the index's write lock right now?"""
    with open(os.path.join(index, "MAIN_WRITELOCK"), "a") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(f, fcntl.LOCK_UN)
        return True


def wait_for(fn, seconds=20.0, every=0.01):
    deadline = time.time() + seconds
    while not fn():
        if time.time() > deadline:
            return False
        time.sleep(every)
    return True


def test_writer_killed_during_merges_20_times(tmp_path, sample_records):
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from search.engine import SearchEngine

    ix = str(tmp_path / "index")
    pipeline.build(ix, [write_jsonl(tmp_path / "seed.jsonl", sample_records[:5])], workers=1, progress=False)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    for r in sample_records[:5]:
        store.put([r], already_indexed=True)
    feed = iter(sample_records[5:])
    rng = random.Random(15)
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "indexer", "writer", "--index", ix, "--store", store.path,
           "--batch", "20", "--merge-at", "3", "--merge-max-docs", "30"]
    killed_with_child = 0
    subreaper(True)
    for round_ in range(20):
        # Three steps of 20 changes each: 3 small segments, then a merge.
        for _ in range(60):
            store.put([next(feed)])
        writer = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
        try:
            # A merge starts once there are 3 small segments: wait for its
            # child process, then kill the writer at a random point of it.
            assert wait_for(lambda: children(writer.pid) or writer.poll() is not None), \
                f"round {round_}: no merge started"
            assert writer.poll() is None, f"round {round_}: the writer died (exit {writer.returncode})"
            time.sleep(rng.uniform(0, 0.2))  # a random point of the merge
            # Freeze the writer and its running merge child, so that what
            # follows can only come from the writer's death: then kill it.
            writer.send_signal(signal.SIGSTOP)
            kids = children(writer.pid)
            for k in kids:
                os.kill(k, signal.SIGSTOP)
            running = [k for k in kids if alive(k)]  # (a child that had just finished is not counted)
            killed_with_child += bool(running)
            writer.send_signal(signal.SIGKILL)
            writer.wait()
            for k in kids:
                try:
                    os.kill(k, signal.SIGCONT)
                except ProcessLookupError:
                    pass
            # The merge child ends with its writer: killed by the kernel as
            # its parent died, or (frozen before it could ask for that)
            # exiting on its own at its first instruction; never finishing
            # its merge as an orphan (exit 0).  Then nothing holds the lock.
            codes = {k: reap(k) for k in kids}
            assert all(codes[k] in (-signal.SIGKILL, 1) for k in running), f"round {round_}: orphans ended {codes}"
            assert lock_is_free(ix), f"round {round_}: the write lock is still held"
            # No orphan outlives its writer.
        finally:
            if writer.poll() is None:
                writer.kill()
                writer.wait()
    subreaper(False)
    print(f"{killed_with_child} of 20 kills hit a running merge child")
    assert killed_with_child >= 5, killed_with_child  # most kills hit a running merge child
    # The next writer takes the lock and applies everything the store holds.
    final = subprocess.Popen(cmd, cwd=ROOT, env=env, stderr=subprocess.DEVNULL)
    try:
        assert wait_for(lambda: store.applied() >= store.last_seq() and not store.state("merging"), 60)
    finally:
        final.terminate()
        final.wait(10)
    engine = SearchEngine.open(ix, refresh_interval=0)
    ids = {r["id"] for r in store.records()}
    assert engine.stats().documents == len(ids) and all(engine.get(i) is not None for i in ids)
