"""Where benchmarks find the corpora, the stock setup and their cached
indexes.

The stock setup (whoosh 2.7.4 + jieba 0.42.1) lives in its own virtual
environment: it shares the ``whoosh`` import name with our whoosh3.  Its
index of the full corpora takes ~20 minutes to build, so it is cached
outside the project tree (it holds third-party text): ``$BENCH_CACHE``,
default ``~/.cache/news-search-bench``.
"""

import json
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
NEWS_FILES = tuple(os.path.join(CORPUS, f) for f in ("news-xwlb.jsonl.gz", "news-hkcnews.jsonl.gz"))
CACHE = os.environ.get("BENCH_CACHE", os.path.join(os.path.expanduser("~"), ".cache", "news-search-bench"))
STOCK_VENV = os.path.join(ROOT, ".bench", "stock-venv")
STOCK_REQUIREMENTS = ["whoosh==2.7.4", "jieba==0.42.1", "setuptools<81"]
STOCK_SCRIPT = os.path.join(HERE, "stock.py")


def stock_python() -> str:
    py = os.path.join(STOCK_VENV, "bin", "python")
    if not os.path.exists(py):
        subprocess.run([sys.executable, "-m", "venv", STOCK_VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", *STOCK_REQUIREMENTS], check=True)
    return py


def run_stock(*args: str) -> dict:
    """Run a ``bench/stock.py`` command in the stock environment; its JSON."""
    out = subprocess.run([stock_python(), STOCK_SCRIPT, *args], capture_output=True, text=True)
    if out.returncode != 0:
        raise RuntimeError(f"stock.py {args[0]} failed: {out.stderr[-3000:]}")
    return json.loads(out.stdout)


def stock_full_index() -> str:
    """The stock setup's index of both news corpora, editor tags removed
    (so that the related-articles check cannot read them); built once."""
    path = os.path.join(CACHE, "stock-full-notags")
    if not os.path.isdir(path):
        tmp = path + ".tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        os.makedirs(CACHE, exist_ok=True)
        print(f"building the stock index of the full corpora in {path} (~20 minutes, once)", file=sys.stderr)
        run_stock("index", tmp, *NEWS_FILES, "--strip-tags")
        os.rename(tmp, path)
    return path
