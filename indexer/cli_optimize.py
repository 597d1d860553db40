"""``python -m indexer optimize``: merge a Whoosh index's segments into one.

Every query pays for each segment (a term lookup per segment and term), and
a full build leaves one segment per worker and batch.  The merge is
``WhooshTarget.optimize`` (``search/backends/whoosh/segmerge.py``: a k-way
merge of the postings, no text analysed again); this module is the
command's choices and refusals: it takes the index's write lock without
waiting (the service's writer or a build holding it is named, with its
pid, and nothing is changed), and reports what it did."""

from __future__ import annotations

import os
import sys

from search.backends.whoosh import store


def lock_holder(index: str) -> int | None:
    """The pid of the process holding the write lock of the Whoosh index
    ``index`` (from ``/proc/locks``, Linux), or None when unknown."""
    try:
        inode = os.stat(os.path.join(index, f"{store.INDEXNAME}_WRITELOCK")).st_ino
        with open("/proc/locks") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split()
        # "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" (a "->" marks a waiter)
        if "->" in parts:
            continue
        for i, part in enumerate(parts):
            if part.count(":") == 2 and part.rsplit(":", 1)[1].isdigit() and int(part.rsplit(":", 1)[1]) == inode:
                try:
                    return int(parts[i - 1])
                except (ValueError, IndexError):
                    return None
    return None


def _process_name(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return ""
    text = " ".join(" ".join(a.decode("utf-8", "replace") for a in argv if a).split())
    return f" ({text[:120]})" if text else ""


def optimize_command(args) -> int:
    """Run ``optimize`` for the parsed ``args`` (--index, --max-segments);
    returns the exit status: 0 done (or nothing to merge), 2 refused (no
    index, another backend, the lock held, a bad --max-segments), 1 a
    damaged index (``IndexCorrupt``, reported by ``run_command``)."""
    from search.backends.whoosh.target import WhooshTarget

    from .pipeline import optimized_line
    from .writer import running_writer

    if args.backend != "whoosh":
        print(f"error: optimize merges the segments of a Whoosh index; {args.backend} merges its own "
              "segments (OpenSearch: POST /<index>/_forcemerge)", file=sys.stderr)
        return 2
    if args.max_segments < 1:
        print(f"error: --max-segments must be at least 1, not {args.max_segments}", file=sys.stderr)
        return 2
    if not store.exists(args.index):
        print(f"error: no index at {args.index}", file=sys.stderr)
        return 2
    pid = running_writer(args.index)
    if pid is not None:
        print(f"error: the running service's index writer (pid {pid}) owns {args.index}; stop the service "
              "(or its writer) to optimize the index; nothing was changed", file=sys.stderr)
        return 2
    target = WhooshTarget(args.index, timeout=0)
    try:
        try:
            target.session
        except TimeoutError:
            holder = lock_holder(args.index)
            who = f"process {holder}{_process_name(holder)}" if holder else "another process"
            print(f"error: {who} holds the write lock of {args.index} (a build, a rebuild or the service's "
                  "writer); run optimize when it has finished; nothing was changed", file=sys.stderr)
            return 2
        done = target.optimize(args.max_segments)
    finally:
        target.close()
    print(f"{args.index}: {optimized_line(done)}", file=sys.stderr)
    return 0
