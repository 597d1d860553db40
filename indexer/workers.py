"""Analysis in worker processes, for any index target.

The parent streams articles, interleaved, to ``n`` workers, each running
the target's ``DocumentWriter`` (``IndexTarget.document_writers()``): it
analyses them as they arrive (so analysis overlaps the parent's reading of
the input) and, on ``flush``, hands back one unit of writing (a Whoosh
segment, OpenSearch sources) per worker.  ``InlineWorker`` is the same
interface in this process (``--workers 1``).

Workers are forked (Linux) after the dictionary and tables are loaded
once, and bound to the parent (``search.lifeline``): a writer or CLI
killed during a build or rebuild leaves no worker behind holding the
article store or the new index's lock.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import sys
import traceback

from search import lifeline
from search.segmenter import get_segmenter


def _warm_up(userdict: str | None) -> None:
    """Load the character table and the segmenter before forking."""
    from search.analysis import _run_char_table

    _run_char_table()
    get_segmenter(userdict)


def _worker_main(inbox, outbox, make_writer) -> None:
    """A worker process: ("docs", [(article, hash)]) are analysed as they
    arrive, ("flush",) answers ("ok", unit or None) or ("error", traceback
    of the first failure since the last flush), anything else stops."""
    writer = make_writer()
    error = None
    while True:
        msg = inbox.get()
        if msg[0] == "docs":
            if error is None:
                try:
                    for article, h in msg[1]:
                        writer.add(article, h)
                except Exception:  # noqa: BLE001 - reported to the parent at flush
                    error = traceback.format_exc()
        elif msg[0] == "flush":
            if error is None:
                try:
                    outbox.put(("ok", writer.flush()))
                except Exception:  # noqa: BLE001
                    outbox.put(("error", traceback.format_exc()))
            else:
                writer = make_writer()  # the failed batch is dropped
                outbox.put(("error", error))
            error = None
        else:
            return


class ProcessWorkers:
    """``n`` worker processes fed through queues, ``CHUNK`` articles a
    message; one unit of writing per worker per ``flush``."""

    CHUNK = 64  # articles per message

    def __init__(self, n: int, make_writer, userdict: str | None):
        if sys.platform.startswith("linux"):
            _warm_up(userdict)  # load dictionary and tables once, before forking
            ctx = multiprocessing.get_context("fork")
        else:
            ctx = multiprocessing.get_context("spawn")
        self.n = n
        self.inboxes = [ctx.Queue() for _ in range(n)]
        self.outboxes = [ctx.Queue() for _ in range(n)]
        self.buffers: list[list] = [[] for _ in range(n)]
        self.procs = [ctx.Process(target=_worker_main, args=(self.inboxes[i], self.outboxes[i], make_writer),
                                  daemon=True)
                      for i in range(n)]
        with lifeline.bound_children(os.getpid()):
            for p in self.procs:
                p.start()

    def send(self, part: int, item) -> None:
        """Queue ``item`` ((article, record hash)) for worker ``part``."""
        buf = self.buffers[part]
        buf.append(item)
        if len(buf) >= self.CHUNK:
            self.inboxes[part].put(("docs", buf))
            self.buffers[part] = []

    def flush(self) -> list:
        """Each worker's unit of writing (None for an idle one), in worker
        order.  Raises RuntimeError when a worker failed or died."""
        for i in range(self.n):
            if self.buffers[i]:
                self.inboxes[i].put(("docs", self.buffers[i]))
                self.buffers[i] = []
            self.inboxes[i].put(("flush",))
        units = []
        for i in range(self.n):
            while True:
                try:
                    status, value = self.outboxes[i].get(timeout=1.0)
                    break
                except queue.Empty:
                    if not self.procs[i].is_alive():
                        raise RuntimeError(f"indexing worker {i} died (exit code {self.procs[i].exitcode})")
            if status != "ok":
                raise RuntimeError(f"indexing worker {i} failed:\n{value}")
            units.append(value)
        return units

    def close(self) -> None:
        """Stop the workers (terminated after 5 s)."""
        for i, p in enumerate(self.procs):
            if p.is_alive():
                try:
                    self.inboxes[i].put(("stop",))
                except Exception:  # noqa: BLE001
                    pass
        for p in self.procs:
            p.join(timeout=5)
            if p.is_alive():
                p.terminate()
                p.join()
        for q in self.inboxes + self.outboxes:
            q.close()
            q.join_thread()


class InlineWorker:
    """``ProcessWorkers``' interface in this process."""

    n = 1

    def __init__(self, make_writer):
        self.writer = make_writer()
        self.items: list = []

    def send(self, part: int, item) -> None:
        """Keep ``item`` for the next ``flush``."""
        self.items.append(item)

    def flush(self) -> list:
        """[the unit of writing of the kept items, or None]."""
        items, self.items = self.items, []
        for article, h in items:
            self.writer.add(article, h)
        return [self.writer.flush()]

    def close(self) -> None:
        """Nothing to stop."""


def pool(n: int, make_writer, userdict: str | None):
    """``ProcessWorkers`` for ``n`` > 1, else ``InlineWorker``."""
    return ProcessWorkers(n, make_writer, userdict) if n > 1 else InlineWorker(make_writer)
