"""Command line: ``python -m indexer build|delete|stats|optimize|embed|rebuild|writer|migrate|backup|restore|audit``
(a stable contract).

Size: the parser of every subcommand is here, in one place, since the
options are the contract; each command's work is in its own module
(``cli_optimize``, ``cli_embed``, ``cli_rebuild``, ``cli_store``, ``writer``).

The article store of ``--index`` (``--store``): ``SEARCH_ARTICLE_STORE``,
else the index's own default store (``indexer/paths.py``) when it exists
(the writer creates it).  A store feeds one index: a command that would
use it for another is refused (``ArticleStore.bind``)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from search.backends import BACKENDS, SINGLE_WRITER, open_target
from search.backends.base import BackendUnreachable, TargetIncompatible

from search import settings
from search.errors import run_command

from . import cli_embed, pipeline
from .sources import UnsupportedFile


def _env_userdict():
    return settings.current().userdict


def _target_options(p, index_help: str) -> None:
    """--index and where it lives: the configured backend, as the service's."""
    p.add_argument("--index", required=True, help=index_help)
    p.add_argument("--backend", choices=BACKENDS, default=settings.current().backend,
                   help="where the index lives (default: SEARCH_BACKEND, else whoosh)")
    p.add_argument("--opensearch-url", default=settings.current().opensearch_url,
                   help="the cluster, for --backend opensearch (default: OPENSEARCH_URL)")


INDEX_HELP = "index directory (whoosh), or the alias the service searches (opensearch)"


def main(argv=None) -> int:
    """Run the command ``argv`` (default: ``sys.argv[1:]``); returns the
    exit status (0 done, 1 some ids not found / the writer failed / an index
    that cannot be read (damaged, unreachable), 2 a refusal or bad input,
    130 interrupted).  Errors are one ``error:`` line, never a traceback."""
    return run_command(_main, argv)

def _main(argv) -> int:
    settings.current()
    ap = argparse.ArgumentParser(prog="python -m indexer", description="Build and maintain the news search index.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="add or update articles from JSONL/CSV files")
    _target_options(b, INDEX_HELP + "; created if missing")
    b.add_argument("--userdict", default=_env_userdict(), help="jieba user dictionary (word [freq] [tag] per line)")
    b.add_argument("--workers", type=int, default=None, help="worker processes (default: up to 2)")
    b.add_argument("--batch-size", type=int, default=pipeline.DEFAULT_BATCH, help="articles per commit")
    b.add_argument("--no-progress", action="store_true")
    b.add_argument("--rebuild", action="store_true",
                   help="build a fresh index in a new directory and switch to it atomically")
    b.add_argument("--store", default=None,
                   help="article store (default: SEARCH_ARTICLE_STORE, else the index's own store if it exists): "
                        "when the service's writer is running, the records go through it")
    b.add_argument("--shards", type=int, default=1, help="opensearch: primary shards of a new index")
    b.add_argument("--replicas", type=int, default=1, help="opensearch: replicas of a new index")
    b.add_argument("--report-cleaning", metavar="FILE", default=None,
                   help="write one JSON line per article the cleaning changed (id, removed kind, lines, "
                        "characters; no text)")
    b.add_argument("--no-optimize", action="store_true",
                   help="whoosh: leave the segments as written (by default a build that wrote more than one "
                        "segment ends by merging the index into one, as `optimize` does)")
    b.add_argument("files", nargs="+")
    d = sub.add_parser("delete", help="delete articles by id")
    _target_options(d, INDEX_HELP)
    d.add_argument("--store", default=None,
                   help="article store (default as for build): when the service's writer is running, "
                        "the deletions go through it")
    d.add_argument("ids", nargs="+")
    w = sub.add_parser("writer", help="the single index writer: apply the article store's changes (the service runs it)")
    _target_options(w, INDEX_HELP)
    w.add_argument("--store", default=None,
                   help="article store (SQLite file; default: SEARCH_ARTICLE_STORE, else the index's own store)")
    w.add_argument("--userdict", default=_env_userdict())
    w.add_argument("--error-file", help="where to write the reason when the writer fails (for its supervisor)")
    w.add_argument("--batch", type=int, default=1000, help="changes applied per step (one segment each)")
    w.add_argument("--merge-at", type=int, default=10, help="merge once there are this many small segments")
    w.add_argument("--merge-max-docs", type=int, default=5000, help="a segment under this many documents is small")
    w.add_argument("--embed", nargs="?", const="bundled", default=None, metavar="MODEL",
                   help="whoosh: after commits, compute the new articles' vectors in a niced child process "
                        "(`indexer embed`; MODEL: 'bundled', the default, or an ONNX model directory)")
    r = sub.add_parser("rebuild", help="re-analyse every article into a new index and switch to it atomically "
                                       "(from the article store, or from the index itself)")
    _target_options(r, INDEX_HELP)
    r.add_argument("--store", default=None,
                   help="rebuild from this article store (default as for build; refused if the index holds "
                        "articles it lacks, or if the store feeds another index)")
    r.add_argument("--from-index", action="store_true",
                   help="re-analyse the index's own articles (the default without an article store; "
                        "only while the service's writer is stopped)")
    r.add_argument("--drop-ids", default=None, metavar="FILE",
                   help="with --store: accept that the rebuild drops the index's articles that the store lacks, "
                        "exactly the ids listed in FILE (one per line; the refusal writes that list); "
                        "refused if the store lacks any other; each dropped id is audited")
    r.add_argument("--userdict", default=_env_userdict())
    m = sub.add_parser("migrate", help="copy a Whoosh index into OpenSearch (a new index behind an alias, swapped atomically)")
    m.add_argument("--index", required=True, help="the Whoosh index directory")
    m.add_argument("--opensearch-url", default=settings.current().opensearch_url, required=False)
    m.add_argument("--alias", required=True, help="the alias the service searches (SEARCH_INDEX)")
    m.add_argument("--shards", type=int, default=1)
    m.add_argument("--replicas", type=int, default=1)
    m.add_argument("--userdict", default=_env_userdict())
    o = sub.add_parser("optimize", help="whoosh: merge the index's segments into one (faster queries; no text "
                                         "analysed again); refused while a build or the service's writer holds it")
    _target_options(o, "index directory (whoosh)")
    o.add_argument("--max-segments", type=int, default=1,
                   help="merge the newest segments so that at most this many remain (default: 1)")
    cli_embed.add_parser(sub)
    s = sub.add_parser("stats", help="document count and index size; ids breaking the id rule")
    s.add_argument("--index", required=True)
    s.add_argument("--store", default=None, help="also list the store's ids that break the id rule")
    s.add_argument("--json", action="store_true")
    bk = sub.add_parser("backup", help="a consistent copy of the article store, while the service runs")
    bk.add_argument("--index", default=settings.current().index,
                    help="whose store (default: SEARCH_INDEX, else data/index)")
    bk.add_argument("--store", default=None, help="the article store (default as for build)")
    bk.add_argument("dest", help="the backup file to write (must not exist)")
    rs = sub.add_parser("restore", help="replace the article store by a backup (the current one is kept beside it)")
    rs.add_argument("--index", default=settings.current().index)
    rs.add_argument("--store", default=None, help="the article store (default as for build)")
    rs.add_argument("--as-is", action="store_true",
                    help="restore the backup exactly as it is: also bring back the articles withdrawn after it "
                         "(by default those withdrawals are re-applied)")
    rs.add_argument("--dry-run", action="store_true", help="say what the restore would change, change nothing")
    rs.add_argument("source", help="the backup file")
    au = sub.add_parser("audit", help="the audit log of withdrawals and replacements (who, when, which id)")
    au.add_argument("--index", default=settings.current().index)
    au.add_argument("--store", default=None, help="the article store (default as for build)")
    au.add_argument("--id", default=None, help="only this article's entries")
    au.add_argument("--limit", type=int, default=1000)
    au.add_argument("--json", action="store_true", help="one JSON object per line")
    args = ap.parse_args(argv)
    args.store = _store_option(args)
    if args.cmd in ("backup", "restore", "audit"):
        from .cli_store import store_command

        return store_command(args)
    if args.cmd == "optimize":
        from .cli_optimize import optimize_command

        return optimize_command(args)
    if args.cmd == "embed":
        return cli_embed.embed_command(args)
    args.cleaning = None
    if args.cmd == "build" and args.report_cleaning:
        from .cleaning_report import CleaningReport

        try:
            args.cleaning = CleaningReport(args.report_cleaning)
        except OSError as exc:
            print(f"error: cannot write the cleaning report {args.report_cleaning}: {exc.strerror}", file=sys.stderr)
            return 2
        try:
            return _dispatch(args)
        finally:
            args.cleaning.close()
            print(f"cleaning: {args.cleaning.changed} article(s) changed, listed in {args.report_cleaning}",
                  file=sys.stderr)
    return _dispatch(args)


def _dispatch(args) -> int:
    refusal = _bypasses_bound_store(args)
    if refusal:
        print(f"error: {refusal}", file=sys.stderr)
        return 2
    if args.cmd in ("build", "delete", "rebuild", "writer") and args.store and args.store != "off":
        from .article_store import ArticleStore, StoreBound

        try:
            ArticleStore(args.store).bind(args.index, getattr(args, "backend", "whoosh"))
        except StoreBound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    if args.cmd == "delete":
        from . import ids

        for doc_id in args.ids:
            why = ids.problem(doc_id)
            if why:
                print(f"warning: {doc_id!r} breaks the id rule ({why}); withdrawn if an article has exactly "
                      "this id", file=sys.stderr)

    if args.cmd == "writer":
        from .writer import serve

        if not args.store or args.store == "off":
            print("error: the writer needs an article store (--store or SEARCH_ARTICLE_STORE)", file=sys.stderr)
            return 2
        if args.embed is not None and args.backend != "whoosh":
            print(f"error: --embed computes the vectors of a Whoosh index, not of {args.backend}", file=sys.stderr)
            return 2
        return serve(args.index, args.store, args.userdict, args.backend, args.opensearch_url,
                     error_file=args.error_file, batch=args.batch, merge_at=args.merge_at, merge_max_docs=args.merge_max_docs,
                     embed=args.embed)
    if args.cmd == "rebuild":
        from .cli_rebuild import rebuild_command

        return rebuild_command(args)
    if args.cmd == "migrate":
        return _migrate(args)
    # Where one writer owns the index (the Whoosh lock), a running writer
    # applies the changes; elsewhere the CLI writes beside it.
    single_writer = args.cmd in ("build", "delete") and args.backend in SINGLE_WRITER
    if single_writer and args.cmd == "delete" and args.store and args.store != "off":
        from .article_store import ArticleStore
        from .writer import running_writer

        if running_writer(args.index):
            store = ArticleStore(args.store)
            store.wait_applied(store.delete(args.ids), 600)
            print(f"deleted {len(args.ids)} (through the running service's writer)", file=sys.stderr)
            return 0
    if single_writer and args.cmd == "build" and args.store and args.store != "off" and not args.rebuild:
        from .writer import running_writer

        if running_writer(args.index):
            try:
                summary = pipeline.hand_to_writer(args.store, args.files, cleaning=args.cleaning)
            except (UnsupportedFile, FileNotFoundError) as exc:
                print(f"error: {exc}", file=sys.stderr)
                return 2
            print(summary.line() + " (through the running service's writer)", file=sys.stderr)
            return 0
    if single_writer:
        from .writer import running_writer

        pid = running_writer(args.index)
        if pid is not None:
            print(f"error: the running service's index writer (pid {pid}) owns {args.index}; "
                  "pass --store <article store> (or set SEARCH_ARTICLE_STORE) so that it applies the changes, "
                  "or use the write API", file=sys.stderr)
            return 2
    if args.cmd == "build":
        try:
            run = pipeline.rebuild if args.rebuild else pipeline.build
            summary = run(args.index, args.files, userdict=args.userdict, workers=args.workers,
                          batch_size=args.batch_size, progress=None if not args.no_progress else False,
                          backend=args.backend, opensearch_url=args.opensearch_url, shards=args.shards,
                          replicas=args.replicas, cleaning=args.cleaning,
                          optimize=args.backend == "whoosh" and not args.no_optimize)
        except (UnsupportedFile, FileNotFoundError, TargetIncompatible, ValueError, BackendUnreachable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            print("interrupted: every committed batch is in the index; run the same command again to finish",
                  file=sys.stderr)
            return 130
        return _built(args, summary)
    if args.cmd == "delete":
        try:
            n, missing = pipeline.delete(args.index, args.ids, backend=args.backend, opensearch_url=args.opensearch_url)
        except (TargetIncompatible, ValueError, BackendUnreachable) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        for m in missing:
            print(f"not found: {m}", file=sys.stderr)
        print(f"deleted {n}", file=sys.stderr)
        if args.store and args.store != "off":
            # The store is the source of truth: a withdrawal left in it would
            # come back with the next rebuild from the store.
            from .article_store import ArticleStore

            ArticleStore(args.store).delete(args.ids, already_indexed=True)
        return 0 if not missing else 1
    if args.cmd == "stats":
        from search.engine import SearchEngine

        if not os.path.isdir(args.index):
            print(f"error: no index at {args.index}", file=sys.stderr)
            return 2
        engine = SearchEngine.open(args.index)
        stats = engine.stats().as_dict()
        stats["size_bytes"] = sum(
            os.path.getsize(os.path.join(args.index, f)) for f in os.listdir(args.index)
            if os.path.isfile(os.path.join(args.index, f))
        )
        stats["invalid_ids"] = _invalid_index_ids(args.index)
        if args.store and args.store != "off" and os.path.exists(args.store):
            from . import ids
            from .article_store import ArticleStore

            stats["invalid_store_ids"] = [i for i in ArticleStore(args.store).ids() if not ids.is_valid(i)]
        if args.json:
            print(json.dumps(stats, ensure_ascii=False))
        else:
            for k, v in stats.items():
                if k in ("invalid_ids", "invalid_store_ids"):
                    continue
                print(f"{k}: {v}")
            for k, where in (("invalid_ids", "the index"), ("invalid_store_ids", "the article store")):
                if stats.get(k):
                    from . import ids

                    print(f"{len(stats[k])} id(s) in {where} break the id rule ({ids.RULE}); they are kept, "
                          "and can be withdrawn with indexer delete or the write API:")
                    for bad in stats[k]:
                        print(f"  {bad!r}")
        return 0
    return 2


def _store_option(args) -> str | None:
    """--store, else SEARCH_ARTICLE_STORE, else the store recorded beside the
    index as the one feeding it (``paths.bound_store``) when it exists, else
    the index's own default store when it exists (for the writer, backup,
    restore, audit: always; the writer creates it)."""
    from . import paths

    if getattr(args, "store", None):
        return args.store
    if settings.current().article_store:
        return settings.current().article_store
    index = getattr(args, "index", None)
    if not index or args.cmd == "migrate":
        return None
    backend = getattr(args, "backend", "whoosh")
    bound = paths.bound_store(index, backend)
    if bound and (os.path.exists(bound) or args.cmd in ("writer", "backup", "restore", "audit")):
        return bound
    # the shared store of earlier versions moves to the index it fed (or a note says what to do)
    paths.migrate_legacy(index, backend, report=lambda msg: print(msg, file=sys.stderr))
    default = paths.default_store(index, backend)
    return default if args.cmd in ("writer", "backup", "restore", "audit") or os.path.exists(default) else None


def _bypasses_bound_store(args) -> str | None:
    """Why ``build`` / ``delete`` / ``rebuild --store`` must not run: the
    index is fed by an article store (``paths.bound_store``) that this
    command would bypass (no store, ``off``, a missing one) or replace by
    another; a change to the index alone would be undone by the next
    rebuild from that store.  None when the command goes through it."""
    from . import paths

    if args.cmd not in ("build", "delete", "rebuild") or (args.cmd == "rebuild" and args.from_index):
        return None
    bound = paths.bound_store(args.index, args.backend)
    if bound is None:
        return None
    marker = paths.store_marker(args.index, args.backend)
    if args.store and args.store != "off":
        if os.path.abspath(args.store) == bound:
            return None
        return (f"the index {args.index} is fed by the article store {bound} (recorded in {marker}), not "
                f"{args.store}: give --store {bound} (if that store was moved, write its new path into {marker})")
    if args.cmd == "rebuild":
        return None  # without a store: rebuilt from the index itself
    if args.store == "off":
        return (f"the index {args.index} is fed by the article store {bound} (recorded in {marker}): a {args.cmd} "
                "without it (--store off / SEARCH_ARTICLE_STORE=off) would change the index alone, and the next "
                f"rebuild from the store would undo it; nothing was changed. Run it with --store {bound}")
    return (f"the index {args.index} is fed by the article store {bound} (recorded in {marker}), which does not "
            f"exist; nothing was changed. Put it back (python -m indexer restore --index {args.index} --store "
            f"{bound} BACKUP) or, if it was moved, give it with --store and write its path into {marker}")


def _invalid_index_ids(index: str) -> list[str]:
    """Ids of live articles of the (Whoosh) index that break the id rule
    (written before the rule): listed, never dropped."""
    from . import ids

    target = open_target("whoosh", index, create=False)
    try:
        return target.ids(select=lambda doc_id: not ids.is_valid(doc_id))
    finally:
        target.close()


def _built(args, summary) -> int:
    """Report a finished build; the article store also gets its records (it
    stays the source of truth for later rebuilds)."""
    print(summary.line(), file=sys.stderr)
    print(f"{summary.characters / max(summary.seconds, 1e-9):,.0f} characters/s", file=sys.stderr)
    if args.store and args.store != "off":
        pipeline.hand_to_writer(args.store, args.files, wait=False, report=lambda msg: None)
    return 0


def _migrate(args) -> int:
    """Every live article of the Whoosh index, re-analysed, into a new
    OpenSearch index behind ``--alias``, swapped in atomically."""
    import time

    from .rebuild import as_record

    if not args.opensearch_url:
        print("error: --opensearch-url (or OPENSEARCH_URL) is required", file=sys.stderr)
        return 2
    source = open_target("whoosh", args.index, create=False)
    dest = open_target("opensearch", args.alias, opensearch_url=args.opensearch_url, userdict=args.userdict,
                       create=False, shards=args.shards, replicas=args.replicas)
    t0 = time.monotonic()
    try:
        summary = pipeline.rebuild_from_records(dest, (as_record(s) for s in source.stored_documents()))
    finally:
        dest.close()
    seconds = time.monotonic() - t0
    count = summary.added
    print(f"migrated {count} articles into {summary.generation} (alias {args.alias}) in {seconds:.1f} s "
          f"({count / max(seconds, 1e-9):,.0f} docs/s)", file=sys.stderr)
    return 0
