"""The command-line contract and escaping (the fuzzing is in test_fuzz.py)."""

import json
import os
import subprocess
import sys

from conftest import ROOT
from search.models import SearchRequest

ENV = dict(os.environ, PYTHONPATH=ROOT)


def run(*args):
    return subprocess.run([sys.executable, "-m", "search", *args], env=ENV, capture_output=True,
                          text=True, check=True).stdout


def test_query_json_contract(sample_index):
    out = json.loads(run("query", "--index", sample_index, "--size", "3", "--json", "香港", "选举"))
    assert set(out) == {"total", "hits", "facets"}
    assert out["total"] > 3 and len(out["hits"]) == 3
    assert set(out["hits"][0]) >= {"id", "title", "published", "category", "source", "author", "url",
                                   "score", "title_highlight", "snippet"}
    assert {"category", "source", "author", "tag"} <= set(out["facets"])
    assert all(set(f) == {"value", "count"} for f in out["facets"]["category"])


def test_query_filters_on_cli(sample_index):
    out = json.loads(run("query", "--index", sample_index, "--json", "--category", "眾聞",
                         "--from", "2019-01-01", "--to", "2020-01-01", "香港"))
    assert out["total"] > 0
    assert all(h["category"] == "眾聞" and h["published"][:4] == "2019" for h in out["hits"])


def test_related_json(sample_index, sample_records):
    rid = sample_records[0]["id"]
    out = json.loads(run("related", "--index", sample_index, "--size", "4", "--json", rid))
    assert out["id"] == rid and 0 < len(out["hits"]) <= 4 and all(h["id"] != rid for h in out["hits"])


def test_trec_run(sample_index, tmp_path):
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"qid": "1", "query": "立法会 选举"}\n{"qid": "2", "query": "疫苗"}\n', encoding="utf-8")
    lines = run("run", "--index", sample_index, "--queries", str(queries), "--size", "5").splitlines()
    assert len(lines) == 10
    parts = lines[0].split()
    assert parts[0] == "1" and parts[1] == "Q0" and parts[3] == "1" and len(parts) == 6
    assert [int(line.split()[3]) for line in lines[:5]] == [1, 2, 3, 4, 5]


def test_trec_run_on_titles_only(sample_index, sample_records, tmp_path):
    """``--field title`` looks plain words up in titles only (it used to be
    ignored: every result below had the word in its body only)."""
    queries = tmp_path / "q.jsonl"
    queries.write_text('{"qid": "1", "query": "疫苗"}\n', encoding="utf-8")
    titles = {r["id"]: r["title"] for r in sample_records}
    lines = run("run", "--index", sample_index, "--queries", str(queries), "--size", "50", "--field", "title").splitlines()
    found = [line.split()[2] for line in lines]
    assert sorted(found) == sorted(i for i, t in titles.items() if "疫苗" in t)


def test_everything_shown_is_escaped(tiny_index):
    engine, _, _ = tiny_index([
        {"id": "x1", "title": '<script>alert("t")</script> 标题 & "引号"',
         "body": 'Body <img src=x onerror=alert(1)> 正文 & 更多。<script>alert(2)</script>', "tags": []},
    ])
    for q in ["标题", "<script>", '"引号"', "&", "正文 <b>"]:
        res = engine.search(SearchRequest(q=q))
        for h in res.hits:
            for html in (h.title_highlight, h.snippet):
                assert "<script" not in html and "<img" not in html and "<b>" not in html
                assert html.replace("<mark>", "").replace("</mark>", "").count("<") == 0
    hit = engine.search(SearchRequest(q="标题")).hits[0]
    assert "&lt;script&gt;" in hit.title_highlight and "&amp;" in hit.title_highlight
    assert "<mark>标题</mark>" in hit.title_highlight


def test_an_unreachable_opensearch_is_a_clear_error_without_the_password(capsys, tmp_path):
    from conftest import write_jsonl
    from indexer.cli import main

    from web.loopback import free_port

    url = f"http://newsroom:s3cret@127.0.0.1:{free_port()}"
    path = write_jsonl(tmp_path / "a.jsonl", [{"id": "a1", "title": "标题", "body": "正文"}])
    assert main(["build", "--backend", "opensearch", "--opensearch-url", url, "--index", "news", path]) == 2
    err = capsys.readouterr().err
    assert "cannot reach OpenSearch at http://newsroom:***@127.0.0.1" in err and "s3cret" not in err
