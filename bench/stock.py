"""The stock setup our users could pick instead: whoosh 2.7.4 + jieba's
``ChineseAnalyzer`` with the default writer, default query parser and
default highlighter.  Runs inside its own virtual environment (see
``bench/env.py``) and never imports our code; it talks JSON.

    python bench/stock.py index INDEX_DIR FILE.jsonl[.gz] ... [--strip-tags]
    python bench/stock.py latency INDEX_DIR QUERIES.jsonl [--timeout=S]
    python bench/stock.py related INDEX_DIR IDS.json
    python bench/stock.py ranking INDEX_DIR QUERIES.json

Every command prints one JSON object on stdout.
"""

import gzip
import json
import os
import sys
import time

FACETS = ("category", "source")


def schema():
    from jieba.analyse import ChineseAnalyzer
    from whoosh import fields

    analyzer = ChineseAnalyzer()
    return fields.Schema(
        id=fields.ID(stored=True, unique=True),
        title=fields.TEXT(stored=True, analyzer=analyzer),
        body=fields.TEXT(stored=True, analyzer=analyzer),
        published=fields.ID(stored=True, sortable=True),
        category=fields.ID(stored=True, sortable=True),
        source=fields.ID(stored=True, sortable=True),
        author=fields.ID(stored=True),
        url=fields.STORED(),
        tags=fields.KEYWORD(stored=True, commas=True),
    )


def _lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        for line in f:
            if line.strip():
                yield line


def index(index_dir, paths, strip_tags=False):
    from whoosh import index as windex

    os.makedirs(index_dir, exist_ok=True)
    t0 = time.perf_counter()
    ix = windex.create_in(index_dir, schema())
    writer = ix.writer()
    docs = chars = 0
    for path in paths:
        for line in _lines(path):
            r = json.loads(line)
            writer.add_document(
                id=r["id"], title=r["title"], body=r.get("body") or "",
                published=r.get("published") or "", category=r.get("category") or "",
                source=r.get("source") or "", author=r.get("author") or "",
                url=r.get("url") or "", tags="" if strip_tags else ",".join(r.get("tags") or []),
            )
            docs += 1
            chars += len(r["title"]) + len(r.get("body") or "")
    writer.commit()
    return {"seconds": time.perf_counter() - t0, "documents": docs, "characters": chars}


def _parser(ix):
    from whoosh.qparser import MultifieldParser

    return MultifieldParser(["title", "body"], schema=ix.schema)


def latency(index_dir, queries_path, timeout):
    """Each query once, as a search page would run it: top 10,
    category and source facets, the default highlighter on title and body.
    A query that hits the time limit is an error, not a fast answer."""
    from whoosh import index as windex
    from whoosh import query as wq
    from whoosh import sorting
    from whoosh.collectors import TimeLimit, TimeLimitCollector

    import signal

    def over_time(signum, frame):
        raise TimeLimit()

    ix = windex.open_dir(index_dir)
    parser = _parser(ix)
    with open(queries_path, encoding="utf-8") as f:
        distinct = [json.loads(line) for line in f if line.strip()]
    parser.parse("预热 jieba")  # load jieba's dictionary before the clock starts
    out = []
    # The whole query, highlighting included (the default highlighter
    # re-analyses each long article with jieba: seconds), is cut at the limit.
    signal.signal(signal.SIGALRM, over_time)
    with ix.searcher() as s:
        for item in distinct:
            t0 = time.perf_counter()
            status = "ok"
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                q = parser.parse(item["q"])
                filters = [wq.Term(k, item[k]) for k in FACETS if k in item]
                if "from" in item or "to" in item:
                    filters.append(wq.TermRange("published", item.get("from"), (item.get("to") or "") + "\uffff"))
                kwargs = {"groupedby": [sorting.FieldFacet(k) for k in FACETS]}
                if filters:
                    kwargs["filter"] = wq.And(filters)
                if item.get("sort") == "newest":
                    kwargs["sortedby"] = sorting.FieldFacet("published", reverse=True)
                collector = s.collector(limit=10, **kwargs)
                s.search_with_collector(q, TimeLimitCollector(collector, timelimit=timeout, use_alarm=False))
                results = collector.results()
                for hit in results:
                    hit.highlights("title")
                    hit.highlights("body")
                if time.perf_counter() - t0 > timeout:
                    status = "timeout"
            except TimeLimit:
                status = "timeout"
            except Exception as e:  # noqa: BLE001 - reported, not hidden
                status = "error: %s" % e
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            out.append({"kind": item["kind"], "ms": (time.perf_counter() - t0) * 1000, "status": status})
    return {"queries": out}


def related(index_dir, ids_path):
    """``more_like`` on the body (whoosh's defaults: its 5 best key terms, Bo1 model)."""
    from whoosh import index as windex

    ix = windex.open_dir(index_dir)
    with open(ids_path, encoding="utf-8") as f:
        ids = json.load(f)
    out = {}
    times = []
    with ix.searcher() as s:
        for doc_id in ids:
            t0 = time.perf_counter()
            docnum = s.document_number(id=doc_id)
            hits = []
            if docnum is not None:
                hits = [h["id"] for h in s.more_like(docnum, "body", top=5)]
            times.append((time.perf_counter() - t0) * 1000)
            out[doc_id] = hits
    return {"related": out, "ms": times}


def ranking(index_dir, queries_path):
    """Top 10 ids per query with the default parser (AND of the words)."""
    from whoosh import index as windex

    ix = windex.open_dir(index_dir)
    parser = _parser(ix)
    with open(queries_path, encoding="utf-8") as f:
        queries = json.load(f)
    run = {}
    with ix.searcher() as s:
        for qid, text in queries.items():
            hits = s.search(parser.parse(text), limit=10)
            run[qid] = {h["id"]: float(h.score) for h in hits}
    return {"run": run}


def main(argv):
    cmd, rest = argv[0], argv[1:]
    flags = {a for a in rest if a.startswith("--")}
    args = [a for a in rest if not a.startswith("--")]
    if cmd == "index":
        result = index(args[0], args[1:], strip_tags="--strip-tags" in flags)
    elif cmd == "latency":
        opts = dict(a.split("=", 1) for a in rest if a.startswith("--") and "=" in a)
        result = latency(args[0], args[1], float(opts.get("--timeout", 10)))
    elif cmd == "related":
        result = related(args[0], args[1])
    elif cmd == "ranking":
        result = ranking(args[0], args[1])
    else:
        sys.exit("unknown command %s" % cmd)
    print(json.dumps(result, ensure_ascii=False))


if __name__ == "__main__":
    main(sys.argv[1:])
