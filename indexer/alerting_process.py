"""The writer's alerting in a process of its own: the percolation of saved
searches (``indexer.alerting.Alerting``) competes with the writer's loop
for the interpreter lock when it runs as a thread (measured with 1,000
saved searches: the writer's step 2.6 times slower, ``bench.percolate``),
so the writer runs it as a child process.

    python -m indexer.alerting_process --parent PID --index DIR --store FILE --saved FILE [--backend B] ...

The child dies with the writer (``search.lifeline.die_with_parent``, the
first thing it does), runs at a lower priority (``NICE``: on a machine
short of cores the write path gets the CPU first), stops on SIGTERM (after the batch under way: an
unfinished batch is percolated again at the next start), and polls the
article store's ``applied`` mark every ``POLL`` s (one indexed read; no
signal that could reach it before its handler is set).  The writer's side
is ``AlertingProcess``: ``start``, ``notify`` (after each commit: never
blocks; restarts a child that died, with back-off) and ``stop``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import threading
import time

from search import lifeline

log = logging.getLogger("indexer.alerting")

POLL = 0.1  # seconds between the child's looks at the article store
NICE = 10  # the child's niceness increment: on a busy machine the write path gets the CPU first
RESTART_MIN, RESTART_MAX = 1.0, 60.0  # seconds before restarting a child that died (doubling)


class AlertingProcess:
    """The alerting child of a writer (see the module docstring).
    ``args``: the child's command-line arguments after ``--parent``."""

    def __init__(self, args: list[str]):
        self.args = list(args)
        self.proc: subprocess.Popen | None = None
        self.restarts = 0
        self._delay = RESTART_MIN
        self._next_start = 0.0

    def start(self) -> "AlertingProcess":
        """Start the child (its output goes to the writer's stderr); returns self."""
        cmd = [sys.executable, "-m", "indexer.alerting_process", "--parent", str(os.getpid()), *self.args]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, close_fds=True)
        self._started = time.monotonic()
        return self

    def notify(self) -> None:
        """The writer committed (the child sees it at its next poll; this
        never blocks): a child found dead is restarted after a back-off
        (``RESTART_MIN`` .. ``RESTART_MAX`` s, reset once one ran for a minute)."""
        proc = self.proc
        if proc is None or proc.poll() is None:
            return
        now = time.monotonic()
        if not self._next_start:
            if now - self._started > 60:
                self._delay = RESTART_MIN
            log.error("the alerting process exited (status %s): restarting in %.0f s", proc.returncode, self._delay)
            self._next_start = now + self._delay
            self._delay = min(self._delay * 2, RESTART_MAX)
        elif now >= self._next_start:
            self._next_start = 0.0
            self.restarts += 1
            self.start()

    def stop(self, timeout: float = 2.0) -> None:
        """SIGTERM the child and wait ``timeout`` s; then SIGKILL (no restart after)."""
        proc, self.proc = self.proc, None
        lifeline.stop_child(proc, timeout)


def main(argv=None) -> int:
    """The child: percolate until SIGTERM or until the writer is gone (status 0)."""
    ap = argparse.ArgumentParser(description="the writer's alerting process (started by the writer)")
    ap.add_argument("--parent", type=int, required=True)
    ap.add_argument("--index", required=True)
    ap.add_argument("--store", required=True)
    ap.add_argument("--saved", required=True)
    ap.add_argument("--backend", default="whoosh")
    ap.add_argument("--opensearch-url")
    ap.add_argument("--userdict")
    ap.add_argument("--start-at", type=int, help="a saved-search file never percolated starts after this change")
    args = ap.parse_args(argv)
    from search.lifeline import die_with_parent

    die_with_parent(args.parent)
    try:
        os.nice(NICE)
    except OSError:
        pass
    logging.basicConfig(level=logging.INFO, format="%(asctime)s alerting %(levelname)s %(message)s")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    from .alerting import Alerting, engine_opener, search_config
    from .article_store import ArticleStore
    from search.settings import current

    settings = current()
    articles = ArticleStore(args.store)
    alerting = Alerting(articles, args.saved, engine_opener(args.index, args.backend, args.opensearch_url,
                                                             args.userdict, articles, settings),
                        search_config(settings), start_at=args.start_at)
    alerting.start(poll=POLL)
    log.info("percolating saved searches of %s", args.saved)
    while not stop.wait(0.5):
        if os.getppid() != args.parent:
            break
    alerting.stop(timeout=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
