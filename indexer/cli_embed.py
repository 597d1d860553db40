"""``python -m indexer embed``: dense vectors for the articles of a Whoosh
index that lack them (issue 20), computed offline at low priority.

The work is ``search/backends/whoosh/embedjob.py`` (segment by segment,
never holding the index's write lock, each segment's file written
atomically: killed at any point, the next run continues); this module is
the command's options and refusals: it lowers its own priority
(``os.nice(NICENESS)``: the service's writer and searches come first on
the same cores), loads the model (``search.embedding.load_embedder``),
prints progress and a summary on stderr.

Exit status: 0 done (or stopped by ``--limit``), 2 refused (no index,
a bad option, another model's vectors in the index:
``--reset`` starts over; another run embedding the index), 1 the
``semantic`` extra missing."""

from __future__ import annotations

import os
import sys

# Added to the process's niceness: the embedding run yields the CPU to the
# service's writer and searches (the writer's background merges use the same).
NICENESS = 10


def add_parser(sub) -> None:
    """The ``embed`` subcommand's options, on the subparsers ``sub``."""
    from search.embedding import BUNDLED, DEFAULT_BATCH_SIZE, DEFAULT_THREADS

    e = sub.add_parser("embed", help="whoosh: compute the dense vectors (title + lead) of the articles lacking "
                                      "them, at low priority; killed, the next run continues")
    e.add_argument("--index", required=True, help="index directory (whoosh)")
    e.add_argument("--model", default=BUNDLED,
                   help=f"'{BUNDLED}' (the model of the semantic extra, the default) or an ONNX model directory")
    e.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="passages per forward pass")
    e.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads of the model")
    e.add_argument("--limit", type=int, default=None, help="embed at most this many articles in this run")
    e.add_argument("--checkpoint", type=int, default=None,
                   help="articles embedded between two writes of a segment's vectors file (default: 2048)")
    e.add_argument("--parent", type=int, default=None, metavar="PID",
                   help="end with this process (the writer starting the run: indexer/embed_process.py)")
    e.add_argument("--reset", action="store_true",
                   help="first remove every vectors file of the index (to start over with another model)")


def embed_command(args) -> int:
    """Run ``embed`` for the parsed ``args``; returns the exit status (see
    the module docstring).  Errors of the search service (another model's
    vectors, another run, a model that cannot be loaded) propagate to
    ``run_command``, which prints them as one ``error:`` line."""
    from search.backends.whoosh import embedjob, store
    from search.embedding import load_embedder

    if args.checkpoint is None:
        args.checkpoint = embedjob.DEFAULT_CHECKPOINT
    for name in ("batch_size", "threads", "checkpoint"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}", file=sys.stderr)
            return 2
    if args.limit is not None and args.limit < 0:
        print(f"error: --limit must be 0 or more, not {args.limit}", file=sys.stderr)
        return 2
    if not store.exists(args.index):
        print(f"error: no index at {args.index}", file=sys.stderr)
        return 2
    if args.parent is not None:
        from search.lifeline import die_with_parent

        die_with_parent(args.parent)
    os.nice(NICENESS)
    embedder = load_embedder(args.model, batch_size=args.batch_size, threads=args.threads)
    summary = embedjob.embed_index(args.index, embedder, limit=args.limit, checkpoint=args.checkpoint,
                                   reset=args.reset, report=lambda line: print(line, file=sys.stderr, flush=True))
    merges = (f"; {len(summary.vanished)} segment(s) merged away during the run ({summary.dropped} article(s) "
              "embedded for them dropped)") if summary.vanished else ""
    orphans = f"; {len(summary.orphans)} vectors file(s) of segments gone removed" if summary.orphans else ""
    print(f"{args.index}: {summary.embedded} article(s) embedded with {summary.model.model_id} in "
          f"{summary.seconds:.1f} s ({summary.files_written} file(s) written){merges}{orphans}; {summary.backlog} "
          "live article(s) still without a vector", file=sys.stderr)
    return 0
