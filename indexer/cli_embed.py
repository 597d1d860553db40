"""``python -m indexer embed``: dense vectors for the articles of an index
that lack them (issue 20), computed offline at low priority.

On Whoosh the work is ``search/backends/whoosh/embedjob.py`` (segment by segment,
never holding the index's write lock, each segment's file written
atomically: killed at any point, the next run continues); this module is
the command's options and refusals: it lowers its own priority
(``os.nice(NICENESS)``: the service's writer and searches come first on
the same cores), loads the model (``search.embedding.load_embedder``),
prints progress and a summary on stderr.  On OpenSearch (``--backend
opensearch``, ``--index`` the alias) it is
``search/backends/opensearch/embedjob.py``: the articles without a vector
scrolled, embedded and written back as conditional partial updates,
``--checkpoint`` per bulk request (default 256).

``--cache FILE`` embeds through an embedding cache
(``search/embedding/cache.py``: passages already in it are read, the rest
embedded and stored); ``--fill-cache FILE`` embeds nothing: it stores the
index's vectors in FILE under their passages (``embedjob.fill_cache``), to
seed another build of the same articles.

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
    from search import settings

    e.add_argument("--index", required=True, help="index directory (whoosh), or the alias (opensearch)")
    e.add_argument("--backend", choices=("whoosh", "opensearch"), default=settings.current().backend,
                   help="where the index lives (default: SEARCH_BACKEND, else whoosh)")
    e.add_argument("--opensearch-url", default=settings.current().opensearch_url,
                   help="the cluster, for --backend opensearch (default: OPENSEARCH_URL)")
    e.add_argument("--model", default=None,
                   help=f"'{BUNDLED}' (the model of the semantic extra, the default) or an ONNX model directory")
    e.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE, help="passages per forward pass")
    e.add_argument("--threads", type=int, default=DEFAULT_THREADS, help="CPU threads of the model")
    e.add_argument("--limit", type=int, default=None, help="embed at most this many articles in this run")
    e.add_argument("--checkpoint", type=int, default=None,
                   help="whoosh: articles embedded between two writes of a segment's vectors file (default: "
                        "2048); opensearch: articles per bulk request of updates (default: 256)")
    e.add_argument("--parent", type=int, default=None, metavar="PID",
                   help="end with this process (the writer starting the run: indexer/embed_process.py)")
    e.add_argument("--reset", action="store_true",
                   help="first remove every vector of the index (to start over with another model)")
    e.add_argument("--cache", metavar="FILE", default=None,
                   help="embedding cache (SQLite file, made when missing): passages found there are not "
                        "embedded again, the others are stored in it")
    e.add_argument("--fill-cache", metavar="FILE", default=None,
                   help="embed nothing: store the index's vectors in this embedding cache, under the passages "
                        "they were made from (to seed a fresh build of the same articles)")


def embed_command(args) -> int:
    """Run ``embed`` for the parsed ``args``; returns the exit status (see
    the module docstring).  Errors of the search service (another model's
    vectors, another run, a model that cannot be loaded) propagate to
    ``run_command``, which prints them as one ``error:`` line."""
    from search.embedding import BUNDLED, load_embedder

    if getattr(args, "backend", "whoosh") == "opensearch":
        return _opensearch(args)
    from search.backends.whoosh import embedjob, store

    if not _numbers_ok(args, embedjob.DEFAULT_CHECKPOINT):
        return 2
    if not store.exists(args.index):
        print(f"error: no index at {args.index}", file=sys.stderr)
        return 2
    if args.fill_cache is not None:
        clash = [name for name, given in (("--model", args.model), ("--cache", args.cache), ("--reset", args.reset),
                                          ("--limit", args.limit is not None), ("--parent", args.parent))
                 if given]
        if clash:
            print(f"error: --fill-cache embeds nothing (the vectors' model is the index's) and takes no "
                  f"{', '.join(clash)}", file=sys.stderr)
            return 2
        return _fill(args)
    if args.parent is not None:
        from search.lifeline import die_with_parent

        die_with_parent(args.parent)
    os.nice(NICENESS)
    embedder = load_embedder(args.model or BUNDLED, batch_size=args.batch_size, threads=args.threads)
    if args.cache is not None:
        from search.embedding.cache import CachedEmbedder

        embedder = CachedEmbedder(embedder, args.cache)
    summary = embedjob.embed_index(args.index, embedder, limit=args.limit, checkpoint=args.checkpoint,
                                   reset=args.reset, report=lambda line: print(line, file=sys.stderr, flush=True))
    merges = (f"; {len(summary.vanished)} segment(s) merged away during the run ({summary.dropped} article(s) "
              "embedded for them dropped)") if summary.vanished else ""
    orphans = f"; {len(summary.orphans)} vectors file(s) of segments gone removed" if summary.orphans else ""
    print(f"{args.index}: {summary.embedded} article(s) embedded with {summary.model.model_id} in "
          f"{summary.seconds:.1f} s ({summary.files_written} file(s) written){merges}{orphans}; {summary.backlog} "
          "live article(s) still without a vector", file=sys.stderr)
    if args.cache is not None:
        print(f"{args.cache}: {embedder.hits} passage(s) read from the cache, {embedder.misses} embedded and "
              "stored", file=sys.stderr)
        embedder.cache.close()
    return 0


def _fill(args) -> int:
    """``embed --fill-cache FILE``: the index's vectors into the cache."""
    from search.backends.whoosh import embedjob
    from search.embedding.cache import EmbeddingCache

    os.nice(NICENESS)
    with EmbeddingCache(args.fill_cache) as cache:
        seen, added = embedjob.fill_cache(args.index, cache,
                                          report=lambda line: print(line, file=sys.stderr, flush=True))
    print(f"{args.fill_cache}: {seen} vector(s) of {args.index} read, {added} new in the cache", file=sys.stderr)
    return 0


def _numbers_ok(args, checkpoint: int) -> bool:
    """Fill in ``--checkpoint`` (default ``checkpoint``) and check the
    numeric options; False (after one ``error:`` line on stderr) when one
    is out of range."""
    if args.checkpoint is None:
        args.checkpoint = checkpoint
    for name in ("batch_size", "threads", "checkpoint"):
        if getattr(args, name) < 1:
            print(f"error: --{name.replace('_', '-')} must be at least 1, not {getattr(args, name)}", file=sys.stderr)
            return False
    if args.limit is not None and args.limit < 0:
        print(f"error: --limit must be 0 or more, not {args.limit}", file=sys.stderr)
        return False
    return True


def _opensearch(args) -> int:
    """``embed`` on the OpenSearch alias ``args.index``."""
    from search.backends.opensearch import embedjob
    from search.backends.opensearch.target import connect
    from search.embedding import BUNDLED, load_embedder

    if not _numbers_ok(args, embedjob.DEFAULT_BATCH):
        return 2
    if args.parent is not None:
        print("error: --parent is for the Whoosh writer's runs", file=sys.stderr)
        return 2
    if args.fill_cache is not None:
        print("error: --fill-cache reads a Whoosh index's vectors files (not an OpenSearch index)", file=sys.stderr)
        return 2
    try:
        client = connect(args.opensearch_url)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        if not client.indices.exists(index=args.index):
            print(f"error: no index or alias {args.index} on {args.opensearch_url}", file=sys.stderr)
            return 2
        os.nice(NICENESS)
        embedder = load_embedder(args.model or BUNDLED, batch_size=args.batch_size, threads=args.threads)
        if args.cache is not None:
            from search.embedding.cache import CachedEmbedder

            embedder = CachedEmbedder(embedder, args.cache)
        summary = embedjob.embed_index(client, args.index, embedder, limit=args.limit, batch=args.checkpoint,
                                       reset=args.reset,
                                       report=lambda line: print(line, file=sys.stderr, flush=True))
    finally:
        client.close()
    print(f"{args.index}: {summary.embedded} article(s) embedded with {summary.model.model_id} in "
          f"{summary.seconds:.1f} s ({summary.skipped} changed meanwhile, skipped); {summary.backlog} live "
          "article(s) still without a vector", file=sys.stderr)
    return 0
