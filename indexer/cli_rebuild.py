"""``python -m indexer rebuild``: the command's choices and refusals (what
a rebuild does is ``rebuild.py``): from the index itself or from the article
store, by the running writer or by this process, and never dropping an
article the store lacks unless ``--drop-ids`` lists it."""

from __future__ import annotations

import os
import sys


def rebuild_command(args) -> int:
    """``rebuild`` from the index itself, or from the article store (``args``:
    the parsed command line): ask the running writer (it owns the index),
    or do it here.  Never drops an article the index holds (see
    ``rebuild.py``).  Returns the exit status (0, or 2 with the reason)."""
    import time

    from . import rebuild
    from .article_store import ArticleStore
    from .writer import IndexWriter, running_writer

    if args.from_index or not args.store or args.store == "off":
        if not rebuild.index_exists(args.backend, args.index, args.opensearch_url):
            print(f"error: no index at {args.index}", file=sys.stderr)
            return 2
        if running_writer(args.index, args.backend, args.store if args.store != "off" else None):
            print("error: the running service's writer owns this index, so it cannot be rebuilt from its own "
                  "articles now: stop the service first and run this command again; or, while it runs, rebuild "
                  f"from the article store (python -m indexer rebuild --index {args.index} --store STORE: if the "
                  "index holds articles the store lacks, it lists them and --drop-ids accepts dropping exactly "
                  "those)", file=sys.stderr)
            return 2
        from search.backends.base import IndexCorrupt

        try:
            n = rebuild.rebuild_from_index(args.backend, args.index, args.userdict, args.opensearch_url)
        except IndexCorrupt as exc:
            # Never a rebuild that silently leaves out a damaged segment's articles.
            print(f"error: {exc}. A rebuild from the index itself would lose the articles of the damaged "
                  "segment, so none was made.", file=sys.stderr)
            return 2
        print(f"rebuilt {args.index} from its own {n} articles", file=sys.stderr)
        return 0
    if not os.path.exists(args.store):
        print(f"error: no article store at {args.store}", file=sys.stderr)
        return 2
    store = ArticleStore(args.store)
    damaged: list[str] = []
    lacking = rebuild.store_lacks(args.backend, args.index, store, args.opensearch_url, damaged=damaged)
    accepted: set[str] = set()
    if args.drop_ids:
        try:
            with open(args.drop_ids, encoding="utf-8") as f:
                accepted = {line.rstrip("\n") for line in f if line.rstrip("\n")}
        except OSError as exc:
            print(f"error: cannot read --drop-ids {args.drop_ids}: {exc}", file=sys.stderr)
            return 2
    unaccepted = [i for i in lacking if i not in accepted]
    if unaccepted:
        listing = _lacking_list(args.index, args.backend, lacking)  # all of them, accepted or not
        running = running_writer(args.index, args.backend, args.store)
        keep = ("stop the service, then re-analyse the index's own articles: "
                f"python -m indexer rebuild --index {args.index} --from-index" if running else
                f"re-analyse the index's own articles instead: python -m indexer rebuild --index {args.index} "
                "--from-index")
        print(f"error: the index holds {len(unaccepted)} articles that the article store {args.store} lacks"
              + (f" (beyond the {len(accepted)} ids of {args.drop_ids})" if accepted else "")
              + f": {_some(unaccepted)}; all {len(lacking)} ids the store lacks are listed in {listing}. A rebuild from the store would drop them, "
              f"so none was made. To keep them: {keep}; or add them to the store first: python -m indexer build "
              f"--index {args.index} --store {args.store} FILES. To drop exactly these (e.g. after a restore "
              f"from a backup that predates them): python -m indexer rebuild --index {args.index} --store "
              f"{args.store} --drop-ids {listing} (after checking that list)", file=sys.stderr)
        return 2
    if lacking:
        print(f"dropping {len(lacking)} articles that the article store lacks (accepted by --drop-ids "
              f"{args.drop_ids}): {' '.join(lacking)}", file=sys.stderr)
    if damaged:
        # The damaged segments' articles cannot be read: say so, and take
        # every article from the store (the source of truth).
        print(f"warning: {args.index} is damaged: {'; '.join(damaged)}. Their articles cannot be read or "
              f"checked against the store; the new index holds the {store.count()} articles of {args.store} "
              "(the readable segments' articles are all among them).", file=sys.stderr)
    elif found := rebuild.damage(args.backend, args.index, args.opensearch_url):
        # Readable articles, damaged derived files (sidecars): the rebuild replaces them.
        print(f"warning: {args.index} is damaged: {'; '.join(found)}; the rebuild replaces it", file=sys.stderr)
    if running_writer(args.index, args.backend, args.store):
        # The service's writer owns the index: it rebuilds from the store
        # (without reading the old index) and swaps.
        store.set_state("rebuild_requested", 1)
        while store.state("rebuild_requested"):
            time.sleep(0.5)
    elif damaged or not rebuild.is_current(args.backend, args.index, args.opensearch_url):
        # A damaged index, or one of another analysis version: a writer cannot open it.
        rebuild.rebuild_from_store_directly(args.backend, args.index, store, args.userdict, args.opensearch_url)
    else:
        writer = IndexWriter(args.index, store, args.userdict, backend=args.backend,
                             opensearch_url=args.opensearch_url)
        try:
            writer.rebuild_from_store()
            writer.drain()
        finally:
            writer.close()
    if lacking:  # audited once they are gone
        from .article_store import cli_principal

        detail = f"dropped from the index by a rebuild from the store (--drop-ids {os.path.abspath(args.drop_ids)})"
        for doc_id in lacking:
            store.audit(cli_principal(), "drop", doc_id, detail)
    print(f"rebuilt {args.index} from {store.count()} articles in {args.store}"
          + (f" ({len(lacking)} articles the store lacks dropped)" if lacking else ""), file=sys.stderr)
    return 0


def _some(ids: list[str], n: int = 20) -> str:
    """The first ``n`` ids, and how many more."""
    return " ".join(ids[:n]) + (f" ... and {len(ids) - n} more" if len(ids) > n else "")


def _lacking_list(index: str, backend: str, ids: list[str]) -> str:
    """Write ``ids`` (one per line) beside the index; returns the file."""
    from . import paths

    path = paths.lacking_list(index, backend)
    with open(path, "w", encoding="utf-8") as f:
        f.writelines(i + "\n" for i in ids)
    return path
