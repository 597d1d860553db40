"""The anchor's tantivy index: the corpora as our indexer analyses them,
indexed by tantivy (benchmarks only; ``tantivy`` is in the ``dev`` extra).

    python -m bench.anchor_index [--slice N]     # build (or find cached) and print its figures

Two timed phases, each in its own process (wall time, CPU time, peak RSS):

1. **analysis** (ours, jieba included): every article read as the indexer
   reads it (``indexer.pipeline.iter_articles``: validated and cleaned),
   normalised and cut by ``Analyzer.words`` exactly as ``search.documents.prepare``
   does, on 2 worker processes; written as JSON Lines.  It does not depend on
   tantivy, so it is cached on its own.
2. **tantivy indexing** of that file: tantivy only.

Fields (text fields use tantivy's ``whitespace`` tokenizer over our terms
joined by spaces, so tantivy sees exactly our terms; they are lower-cased
and normalised already):

* ``title_w``, ``body_w``: the search-mode terms ours indexes (``*_w``
  fields: words and their dictionary sub-words), frequencies, no positions;
* ``title_a``, ``body_a``: the accurate-mode words in order, with positions,
  stored (snippets, more-like-this);
* ``title_g``, ``body_g``: our character grams (bigrams of each run and its
  last character, ``Analyzer.gram_terms``) in text order, with positions:
  quoted phrases and a word inside a longer word, as a phrase of grams
  (consecutive tokens are consecutive characters of one run);
* ``title_c``, ``body_c``: every letter, digit and ideograph (a
  one-character word anywhere), frequencies;
* ``category``, ``source``: raw, fast (terms aggregations, filters);
* ``published``: i64 epoch seconds, indexed and fast (date filters, sort);
* ``id``, ``title``: stored, as shown (``id`` raw-indexed: related articles
  look their article up by it).

Both files live in the benchmark cache (``bench.env.CACHE``: third-party
text stays out of the project), keyed by the corpus files, the analysis
version, the slice, the schema version and tantivy's version; the figures
of the run that built them are kept beside them (``meta.json``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import sys
import time

from .env import CACHE, NEWS_FILES, ROOT
from .measure import dir_size, run_measured

SCHEMA_VERSION = 2  # bumped when the fields below change (2: character grams and characters)
TANTIVY_VERSION = "0.27.0"  # pinned in pyproject.toml's dev extra
HEAP_BYTES = 512_000_000  # tantivy's indexing memory budget (split between its threads)
WRITER_THREADS = 2  # the machine's cores
CHUNK = 200  # articles per task of the analysis pool


def _key(files: tuple[str, ...], slice_n: int | None) -> str:
    from search.analysis import ANALYSIS_VERSION

    h = hashlib.sha1()
    for f in files:
        st = os.stat(f)
        h.update(f"{os.path.basename(f)}:{st.st_size}:{int(st.st_mtime)};".encode())
    h.update(f"a{ANALYSIS_VERSION}:s{slice_n or 'all'}:f{SCHEMA_VERSION}".encode())
    return h.hexdigest()[:12]


def analysed_path(files=NEWS_FILES, slice_n: int | None = None) -> str:
    """Where the analysed articles of ``files`` (the first ``slice_n // len(files)`` of each, or all)
    are cached: a JSON Lines path."""
    return os.path.join(CACHE, f"anchor-analysed-{_key(tuple(files), slice_n)}.jsonl")


def tantivy_path(files=NEWS_FILES, slice_n: int | None = None) -> str:
    """Where the tantivy index of the same articles is cached: a directory path."""
    return os.path.join(CACHE, f"anchor-tantivy-{_key(tuple(files), slice_n)}-s{SCHEMA_VERSION}-t{TANTIVY_VERSION}")


# ---- phase 1: analysis (ours) -----------------------------------------------------------
_analyzer = None


def _analyse(batch: list[dict]) -> list[str]:
    """``analysed_docs`` of a batch as JSON lines (a pool worker's task)."""
    return [json.dumps(d, ensure_ascii=False) for d in analysed_docs(batch)]


def analysed_docs(batch: list[dict]) -> list[dict]:
    """Articles (dicts: id, title, body, category, source, published epoch seconds or None) with
    our terms, each list joined by spaces, as ``search.documents.prepare`` and our segment writer
    analyse them: ``title_w``/``body_w`` (search-mode terms), ``title_a``/``body_a`` (accurate-mode
    words), ``title_g``/``body_g`` (character bigrams and run-final characters, in text order) and
    ``title_c``/``body_c`` (every letter, digit and ideograph)."""
    global _analyzer
    from search.analysis import Analyzer, char_codes
    from search.normalize import normalize
    from search.segmenter import get_segmenter

    if _analyzer is None:
        _analyzer = Analyzer(get_segmenter(None))
    out = []
    for a in batch:
        doc = {"id": a["id"], "title": a["title"], "category": a["category"], "source": a["source"],
               "published": a["published"]}
        for f, text in (("title", a["title"]), ("body", a["body"] or "")):
            norm = normalize(text)
            words = _analyzer.words(norm)
            doc[f + "_w"] = " ".join(words.terms)
            doc[f + "_a"] = " ".join(words.words)
            doc[f + "_g"] = " ".join(g for g, _ in Analyzer.gram_terms(norm.text))
            doc[f + "_c"] = " ".join(map(chr, char_codes(norm.text).tolist()))
        out.append(doc)
    return out


def article_dict(article) -> dict:
    """The fields of an ``Article`` the anchor indexes, as a dict (``published``: epoch seconds)."""
    return {"id": article.id, "title": article.title, "body": article.body, "category": article.category,
            "source": article.source,
            "published": int(article.published.timestamp()) if article.published else None}


def _articles(files, slice_n):
    """Articles as dicts, read as ``indexer build`` reads them; with ``slice_n``, the first
    ``slice_n // len(files)`` records of each file (``bench.indexing.write_slice``'s slice)."""
    from indexer.pipeline import Summary, iter_articles

    for path in files:
        n = 0
        for article in iter_articles([path], Summary(), lambda message: None):
            yield article_dict(article)
            n += 1
            if slice_n and n >= slice_n // len(files):
                break


def analyse(files, slice_n: int | None, out_path: str, workers: int = 2) -> int:
    """Write the analysed articles to ``out_path`` (JSON Lines); returns the article count."""
    from multiprocessing import get_context

    def batches():
        batch = []
        for a in _articles(files, slice_n):
            batch.append(a)
            if len(batch) == CHUNK:
                yield batch
                batch = []
        if batch:
            yield batch

    n = 0
    tmp = out_path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f, get_context("fork").Pool(workers) as pool:
        for lines in pool.imap(_analyse, batches()):
            f.write("\n".join(lines) + "\n")
            n += len(lines)
        pool.close()
        pool.join()  # reaped: the workers' CPU time counts in the phase's figures
    os.replace(tmp, out_path)
    return n


# ---- phase 2: tantivy indexing -------------------------------------------------------------
def schema():
    """The anchor's tantivy schema (see the module docstring)."""
    import tantivy

    sb = tantivy.SchemaBuilder()
    sb.add_text_field("id", stored=True, tokenizer_name="raw")
    sb.add_text_field("title", stored=True, index_option="basic", tokenizer_name="raw")
    for f in ("title_w", "body_w"):
        sb.add_text_field(f, tokenizer_name="whitespace", index_option="freq")
    for f in ("title_a", "body_a"):
        sb.add_text_field(f, stored=True, tokenizer_name="whitespace", index_option="position")
    for f in ("title_g", "body_g"):
        sb.add_text_field(f, tokenizer_name="whitespace", index_option="position")
    for f in ("title_c", "body_c"):
        sb.add_text_field(f, tokenizer_name="whitespace", index_option="freq")
    for f in ("category", "source"):
        sb.add_text_field(f, fast=True, tokenizer_name="raw", index_option="basic")
    sb.add_integer_field("published", indexed=True, fast=True)
    return sb.build()


def index_docs(docs, index_dir: str) -> int:
    """Index analysed articles (dicts as ``_analyse`` writes them) into a new tantivy index at
    ``index_dir`` (one commit, merged as tantivy's default policy merges); returns their count."""
    import tantivy

    os.makedirs(index_dir)
    ix = tantivy.Index(schema(), path=index_dir)
    writer = ix.writer(HEAP_BYTES, WRITER_THREADS)
    n = 0
    for r in docs:
        fields = {k: r[k] for k in ("id", "title", "title_w", "body_w", "title_a", "body_a", "title_g", "body_g",
                                    "title_c", "body_c")}
        for k in ("category", "source", "published"):
            if r[k] is not None:
                fields[k] = r[k]
        writer.add_document(tantivy.Document(**fields))
        n += 1
    writer.commit()
    writer.wait_merging_threads()
    return n


def index_analysed(analysed: str, index_dir: str) -> int:
    """``index_docs`` of the analysed JSON Lines file ``analysed``."""
    with open(analysed, encoding="utf-8") as f:
        return index_docs(map(json.loads, f), index_dir)


def _phase(args: list[str]) -> dict:
    """Run this module's phase command in a child process: wall time, CPU time, peak RSS, its output."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    res = run_measured([sys.executable, "-m", "bench.anchor_index", *args], env=env)
    out = json.loads(res["stdout"].strip().splitlines()[-1])
    return {"seconds": round(res["wall"], 1), "cpu_seconds": round(out["cpu_seconds"], 1),
            "peak_rss_mb": round(res["peak_rss_mb"]), "articles": out["articles"]}


def ensure(files=NEWS_FILES, slice_n: int | None = None, log=print) -> dict:
    """The tantivy index of ``files`` (all, or the slice), built once and cached; returns its
    ``meta.json``: path, articles, and the figures of the run that built it (``analysis`` and
    ``tantivy``: seconds, cpu_seconds, peak_rss_mb, articles; ``built``: date; ``index_mb``)."""
    files = tuple(files)
    index_dir = tantivy_path(files, slice_n)
    meta_path = os.path.join(index_dir, "meta-anchor.json")
    if os.path.exists(meta_path):
        with open(meta_path, encoding="utf-8") as f:
            return json.load(f)
    os.makedirs(CACHE, exist_ok=True)
    analysed = analysed_path(files, slice_n)
    analysis_meta = analysed + ".meta.json"
    if not os.path.exists(analysis_meta):
        log(f"anchor: analysing the articles with ours into {analysed}")
        phase = _phase(["analyse", analysed, *(["--slice", str(slice_n)] if slice_n else []), *files])
        with open(analysis_meta, "w", encoding="utf-8") as f:
            json.dump(phase, f)
    with open(analysis_meta, encoding="utf-8") as f:
        analysis = json.load(f)
    tmp = index_dir + ".tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    log(f"anchor: indexing {analysis['articles']} analysed articles with tantivy into {index_dir}")
    phase = _phase(["index", analysed, tmp])
    meta = {"path": index_dir, "articles": phase["articles"], "analysis": analysis, "tantivy": phase,
            "built": time.strftime("%Y-%m-%d %H:%M:%S"), "tantivy_version": TANTIVY_VERSION,
            "index_mb": round(dir_size(tmp) / 2**20, 1)}
    with open(os.path.join(tmp, "meta-anchor.json"), "w", encoding="utf-8") as f:
        json.dump(meta, f, indent=2)
    shutil.rmtree(index_dir, ignore_errors=True)
    os.rename(tmp, index_dir)
    return meta


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd")
    a = sub.add_parser("analyse", help="phase 1 (a child process of ensure)")
    a.add_argument("out")
    a.add_argument("--slice", type=int)
    a.add_argument("files", nargs="+")
    i = sub.add_parser("index", help="phase 2 (a child process of ensure)")
    i.add_argument("analysed")
    i.add_argument("index_dir")
    ap.add_argument("--slice", type=int, help="the first N/2 articles of each news file instead of all")
    args = ap.parse_args(argv)
    sys.path.insert(0, ROOT)
    if args.cmd == "analyse":
        n = analyse(args.files, args.slice, args.out)
    elif args.cmd == "index":
        n = index_analysed(args.analysed, args.index_dir)
    else:
        print(json.dumps(ensure(NEWS_FILES, args.slice, log=lambda m: print(m, file=sys.stderr)), indent=2))
        return 0
    # CPU time of this process and its children (the analysis pool), for the phase's figures.
    import resource

    cpu = sum(getattr(resource.getrusage(who), f) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)
              for f in ("ru_utime", "ru_stime"))
    print(json.dumps({"articles": n, "cpu_seconds": cpu}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
