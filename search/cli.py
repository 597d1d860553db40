"""Command line: ``python -m search query|related|run|export`` (a stable contract)."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import settings
from .engine import SearchEngine
from .errors import SearchServiceError, run_command
from .fields import FACET_FIELDS
from .hybrid import MODES
from .models import SearchRequest
from .timeutil import DateError, local_time, parse_range

READY_TIMEOUT = 120.0  # seconds the CLI waits for the pinyin lexicon (~10 s on the full corpora)


class CommandError(SearchServiceError, status=400):
    """A command that cannot run as asked; the message says why (exit 2)."""


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text} must be at least 1")
    return value


def _engine(args) -> SearchEngine:
    """The index the settings name a backend for (``SEARCH_BACKEND``,
    ``OPENSEARCH_URL``): ``--index`` is a directory (Whoosh) or the alias
    (OpenSearch)."""
    config = settings.current()
    if config.backend == "whoosh" and not os.path.isdir(args.index):
        raise CommandError(f"no index at {args.index}")
    return SearchEngine.open(args.index, backend=config.backend, opensearch_url=config.opensearch_url,
                             userdict_path=config.userdict, synonyms_path=config.synonyms,
                             embed_model=config.embed_model)


def _queries(path: str):
    """(qid, query) of each line of a JSON Lines query file; raises
    CommandError naming the line that is not {"qid", "query"}."""
    with open(path, encoding="utf-8", newline="\n") as f:  # JSON Lines: lines end at \n only
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                yield str(item["qid"]), str(item["query"])
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(f'{path}:{n}: not a JSON object with "qid" and "query" ({exc!r})') from None


def _wait_ready(engine: SearchEngine) -> None:
    """Pinyin input and did you mean as the web service applies them: wait
    for the lexicon the service builds in the background (bounded)."""
    if not engine.wait_ready(READY_TIMEOUT, suggestions=False):
        print(f"warning: the pinyin lexicon was not ready after {READY_TIMEOUT:.0f} s: "
              "searching without pinyin input and corrections", file=sys.stderr)


def _export(engine: SearchEngine, req: SearchRequest, args) -> int:
    """Write the walk of ``req`` to ``args.output`` (or stdout) with a tqdm
    progress bar on stderr (articles written of the result set)."""
    from tqdm import tqdm

    from . import exports
    from .cursor import walk_all

    total, pages = walk_all(engine, req, settings.current().cursor_keep_alive, args.limit or None)
    bar = tqdm(total=min(total, args.limit) if args.limit else total, unit="article", file=sys.stderr,
               disable=args.no_progress)

    def counted():
        for page in pages:
            yield page
            bar.update(len(page[1]))

    out = open(args.output, "wb") if args.output else sys.stdout.buffer
    try:
        for chunk in exports.chunks(counted(), args.format):
            out.write(chunk)
    finally:
        bar.close()
        if args.output:
            out.close()
        else:
            out.flush()
    return 0


def main(argv=None) -> int:
    """Run ``python -m search`` with ``argv`` (default: ``sys.argv[1:]``):
    ``query``, ``related``, ``run`` (a TREC run file) or ``export`` (every
    matching article as CSV or JSON Lines, to stdout or ``--output``).
    Returns the exit status: 0; 1 for an unknown article (``related``) or
    an index that cannot be searched (damaged, unreachable: a 5xx error of
    the service); 2 for bad input (a date, a setting, a missing index or
    query file, a bad line of it), each printed as one ``error:`` line;
    bad arguments exit with argparse's status 2."""
    return run_command(_main, argv)

def _main(argv) -> int:
    ap = argparse.ArgumentParser(prog="python -m search", description="Query the news search index.")
    sub = ap.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("query", help="search")
    q.add_argument("--index", required=True)
    q.add_argument("--size", type=_positive, default=10)
    q.add_argument("--page", type=_positive, default=1)
    q.add_argument("--sort", choices=["relevance", "newest", "oldest"], default="relevance")
    q.add_argument("--json", action="store_true")
    q.add_argument("--mode", choices=MODES, default=None, help="lexical, hybrid or semantic (default: "
                   "SEARCH_DEFAULT_MODE, lexical)")
    for f in FACET_FIELDS:
        q.add_argument(f"--{f}", action="append", default=[])
    q.add_argument("--from", dest="date_from", help="YYYY-MM-DD (from that day, Beijing time) or a date-time")
    q.add_argument("--to", dest="date_to", help="YYYY-MM-DD (to the end of that day, Beijing time) or a date-time")
    q.add_argument("query", nargs="+")
    r = sub.add_parser("related", help="articles related to one article")
    r.add_argument("--index", required=True)
    r.add_argument("--size", type=_positive, default=5)
    r.add_argument("--json", action="store_true")
    r.add_argument("id")
    run = sub.add_parser("run", help="TREC run for a query file (relevance evaluation)")
    run.add_argument("--index", required=True)
    run.add_argument("--queries", required=True, help='JSONL lines {"qid", "query"}')
    run.add_argument("--size", type=_positive, default=10)
    run.add_argument("--field", choices=["title", "all"], default="all")
    run.add_argument("--tag", default="newssearch")
    run.add_argument("--mode", choices=MODES, default=None, help="as for query")
    ex = sub.add_parser("export", help="every matching article as CSV or JSON Lines (a walk on one snapshot)")
    ex.add_argument("--index", required=True)
    ex.add_argument("--query", default="", help="the query (empty: every article the filters keep)")
    ex.add_argument("--format", choices=["csv", "jsonl"], default="csv")
    ex.add_argument("--output", help="the file to write (default: stdout)")
    ex.add_argument("--limit", type=int, default=0, help="rows at most (0: all)")
    ex.add_argument("--sort", choices=["relevance", "newest", "oldest"], default="relevance")
    for f in FACET_FIELDS:
        ex.add_argument(f"--{f}", action="append", default=[])
    ex.add_argument("--from", dest="date_from", help="YYYY-MM-DD (from that day, Beijing time) or a date-time")
    ex.add_argument("--to", dest="date_to", help="YYYY-MM-DD (to the end of that day, Beijing time) or a date-time")
    ex.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    args = ap.parse_args(argv)
    if args.cmd in ("query", "export"):
        try:  # the dates first: a typo should not wait for the index to open
            date_from, date_to = parse_range(args.date_from, args.date_to, names=("--from", "--to"))
        except DateError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    engine = _engine(args)

    if args.cmd == "query":
        req = SearchRequest(
            q=" ".join(args.query), size=args.size, page=args.page, sort=args.sort,
            category=args.category, source=args.source, author=args.author, tag=args.tag, year=args.year,
            date_from=date_from, date_to=date_to, facets=FACET_FIELDS,
            mode=args.mode or settings.current().default_mode, mode_default=args.mode is None,
        )
        _wait_ready(engine)
        res = engine.search(req)
        if args.json:
            d = res.to_dict()
            out = {"total": d["total"], "hits": d["hits"], "facets": d["facets"]}
            if "dense_total" in d:
                out["dense_total"] = d["dense_total"]
            print(json.dumps(out, ensure_ascii=False))
        else:
            dense = f" + {res.dense_total} by meaning" if res.dense_total is not None else ""
            print(f"{res.total} results{dense} ({res.took_ms:.1f} ms), understood as: {' '.join(res.understood)}")
            for h in res.hits:
                mark = " [meaning]" if h.match.get("by") == "dense" else ""
                print(f"{h.score:7.3f}  {local_time(h.published):16}  {h.id:20}  {h.title}{mark}")
        return 0
    if args.cmd == "export":
        if args.limit < 0:
            raise CommandError("--limit must be 0 (all) or more")
        req = SearchRequest(q=args.query, sort=args.sort, category=args.category, source=args.source,
                            author=args.author, tag=args.tag, year=args.year, date_from=date_from,
                            date_to=date_to, facets=())
        _wait_ready(engine)
        return _export(engine, req, args)
    if args.cmd == "related":
        hits = engine.related(args.id, size=args.size)
        if hits is None:
            print(f"error: no article {args.id!r}", file=sys.stderr)
            return 1
        if args.json:
            print(json.dumps({"id": args.id, "hits": [h.to_dict() for h in hits]}, ensure_ascii=False))
        else:
            for h in hits:
                print(f"{local_time(h.published):16}  {h.id:20}  {h.title}")
        return 0
    if args.cmd == "run":
        _wait_ready(engine)
        for qid, query in _queries(args.queries):
            res = engine.search(SearchRequest(q=query, size=args.size, facets=(), highlight=False,
                                              fields=args.field, mode=args.mode or settings.current().default_mode,
                                              mode_default=args.mode is None))
            for rank, h in enumerate(res.hits, 1):
                print(f"{qid} Q0 {h.id} {rank} {h.score:.4f} {args.tag}")
        return 0
    return 2
