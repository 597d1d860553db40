"""Why a hit ranks where it does (``explain=1``), on both backends: a real
gunicorn over the 2,000-article sample (the Whoosh index, or the same
articles in an OpenSearch index on the cluster), 50 queries of the
benchmark mix (one-word, multi-word, phrase, Traditional, newest-sorted,
filtered, query-log and QBQTC queries) and ten with operators, over real
HTTP.  For every hit the components add up to its score; names are the
documented ones; the title component follows the records' headlines;
Whoosh's recency factor follows the publication time; partial matches
show their coverage; without the flag there is no explanation, and the
flag needs staff credentials.  The staff results page shows the table, a
reader's page does not."""

from __future__ import annotations

import html
import json
import math
import os
import re
import time
import urllib.parse
import uuid
from collections import defaultdict
from datetime import datetime

import pytest

from conftest import ROOT, SAMPLE, STAFF, STAFF_TOKEN, Server, call, call_json, digest

URL = os.environ.get("OPENSEARCH_URL")
NAMES = {"whoosh": {"bm25f.title", "bm25f.body", "title_bonus", "proximity", "fallback"},
         "opensearch": {"bm25.title", "bm25.body", "bm25.other", "constant"}}
TITLE = {"whoosh": "bm25f.title", "opensearch": "bm25.title"}
KINDS = ("frequent", "words", "phrase", "traditional", "newest", "filtered", "querylog", "qbqtc")
OPERATORS = ["title:疫情", "香港 -选举", "美国 OR 日本", '"香港特别行政区"', "香港 w/5 警方", "警方 w/s 拘捕",
             "atleast3:香港", "lead:香港", "author:林", "(习近平 OR 李强) 会见"]


def test_the_bm25f_parts_add_up_to_bm25f():
    """``ranking.only_part``: title share + body share + title bonus =
    BM25F, on random frequencies and lengths (some fields absent)."""
    import numpy as np

    from search import ranking

    rng = np.random.default_rng(19)
    n = 1000
    tf = {"title": rng.integers(0, 3, n).astype(float), "body": rng.integers(0, 30, n).astype(float)}
    lens = {"title": rng.integers(5, 30, n).astype(float), "body": rng.integers(50, 3000, n).astype(float)}
    avg = {"title": 14.0, "body": 700.0}
    for fields in (("title", "body"), ("body",), ("title",)):
        args = (2.7, {f: tf[f] for f in fields}, {f: lens[f] for f in fields}, avg)
        whole = ranking.bm25f(*args)
        parts = {}
        for name in ranking.BM25F_PARTS:
            with ranking.only_part(name):
                parts[name] = ranking.bm25f(*args)
        assert np.allclose(sum(parts.values()), whole, rtol=1e-12, atol=0), fields
        for f in ("title", "body"):
            assert (parts[f] > 0).sum() == (0 if f not in fields else (tf[f] > 0).sum()), (fields, f)
        assert ((parts["title_bonus"] > 0) == ((tf["title"] > 0) if "title" in fields else False)).all()
    assert np.array_equal(ranking.bm25f(*args), whole)  # outside the block: the whole score again
    with pytest.raises(ValueError, match="no BM25F part 'lead'"):
        with ranking.only_part("lead"):
            pass


def queries() -> list[dict]:
    """Five of each kind of bench/querymix.jsonl (spread over it), and the operators."""
    by_kind = defaultdict(list)
    with open(os.path.join(ROOT, "bench", "querymix.jsonl"), encoding="utf-8") as f:
        for line in f:
            item = json.loads(line)
            by_kind[item["kind"]].append(item)
    out = []
    for kind in KINDS:
        items = by_kind[kind]
        out += items[:: len(items) // 5][:5]
    return out + [{"kind": "operator", "q": q} for q in OPERATORS]


def url_of(item: dict, **extra) -> str:
    params = {k: v for k, v in item.items() if k != "kind"}
    return "/api/search?" + urllib.parse.urlencode({**params, **extra})


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def site(request, sample_index, tmp_path_factory):
    """(backend, a gunicorn serving the sample on it, with the staff token)."""
    env = {"SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN),
           "SEARCH_SECRET_KEY_FILE": str(tmp_path_factory.mktemp("explain") / "secret_key")}
    if request.param == "whoosh":
        srv = Server(sample_index, workers=1, extra_env=env)
        yield "whoosh", srv
        srv.stop()
        return
    if not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (scripts/opensearch start, then OPENSEARCH_URL=...)")
    from opensearchpy import OpenSearch

    from indexer.cli import main

    alias = "news-explain-" + uuid.uuid4().hex[:8]
    client = OpenSearch(URL, timeout=60)
    try:
        # Two shards (each scores with its own statistics, as in production); no
        # replica, so that both requests of a query read the same copy.
        assert main(["build", "--backend", "opensearch", "--opensearch-url", URL, "--index", alias,
                     "--shards", "2", "--replicas", "0", "--no-progress", SAMPLE]) == 0
        srv = Server(alias, workers=1, extra_env={**env, "SEARCH_BACKEND": "opensearch", "OPENSEARCH_URL": URL})
        yield "opensearch", srv
        srv.stop()
    finally:
        if client.indices.exists_alias(name=alias):
            for name in client.indices.get_alias(name=alias):
                client.indices.delete(index=name)


@pytest.fixture(scope="module")
def answers(site):
    """Per query: (item, answer with explain=1 as staff, answer without, the
    instants before and after the explained request)."""
    _, srv = site
    out = []
    for item in queries():
        before = time.time()
        status, explained = call_json(srv.url + url_of(item, explain=1), headers=STAFF)
        after = time.time()
        assert status == 200, (item, explained)
        status, plain = call_json(srv.url + url_of(item))
        assert status == 200, (item, plain)
        out.append((item, explained, plain, before, after))
    assert len(out) == 50
    return out


def hits(answers):
    return [(item, h) for item, explained, *_ in answers for h in explained["hits"]]


def test_components_add_up_to_every_hits_score(site, answers):
    backend, _ = site
    found = hits(answers)
    assert len(found) >= 300, len(found)  # most of the 50 queries fill their page
    for item, h in found:
        x = h["explain"]
        assert x["backend"] == backend and x["combine"] == "sum", x
        assert {c["name"] for c in x["components"]} <= NAMES[backend], (item, x)
        assert len({c["name"] for c in x["components"]}) == len(x["components"]), x  # each once
        total = sum(c["value"] for c in x["components"])
        assert math.isclose(total, x["total"], rel_tol=1e-6, abs_tol=1e-6), (item, h["score"], x)
        assert round(x["total"], 4) == h["score"], (item, h["score"], x["total"])
        for c in x["components"]:  # each value is its raw value times the factors it is subject to
            factor = math.prod(f["value"] for f in x["factors"] if c["name"] in f["applies_to"])
            if "raw" in c["detail"]:
                assert math.isclose(c["value"], c["detail"]["raw"] * factor, rel_tol=1e-9, abs_tol=1e-12), c
    # The components are real parts: several of them carry the score somewhere.
    carried = {c["name"] for _, h in found for c in h["explain"]["components"] if c["value"] > 0}
    assert {TITLE[backend], TITLE[backend].replace("title", "body")} <= carried, carried
    if backend == "whoosh":
        assert {"title_bonus", "proximity"} <= carried, carried


def test_without_the_flag_no_explanation_and_the_same_ranking(site, answers):
    backend, _ = site
    for item, explained, plain, *_ in answers:
        assert all("explain" not in h for h in plain["hits"]), item
        assert [h["id"] for h in plain["hits"]] == [h["id"] for h in explained["hits"]], item
        # OpenSearch: a full match of a partial-match search is scored exactly when explained
        # (its ranking bonus subtracted from a float32 score otherwise: within 0.001).
        tol = 1e-3 if backend == "opensearch" and explained["relaxed"] else 1e-4
        for a, b in zip(plain["hits"], explained["hits"]):
            assert abs(a["score"] - b["score"]) <= tol, (item, a["score"], b["score"])


def test_the_flag_needs_staff_credentials(site):
    _, srv = site
    path = "/api/search?q=%E9%A6%99%E6%B8%AF&explain=1"
    status, body = call_json(srv.url + path)
    assert status == 401 and "'explain' is for staff" in body["error"] and body["status"] == 401, body
    status, body = call_json(srv.url + path, headers={"Authorization": "Bearer wrong"})
    assert status == 403 and "'explain' is for staff" in body["error"], body
    status, body = call_json(srv.url + path.replace("explain=1", "explain=yes"), headers=STAFF)
    assert status == 400 and "explain" in body["error"], body
    status, body = call_json(srv.url + path.replace("explain=1", "explain=0"))
    assert status == 200 and all("explain" not in h for h in body["hits"]), body


def test_partial_matches_show_their_coverage(site, answers):
    backend, _ = site
    partial = [(item, h) for item, h in hits(answers) if not h["match"]["full"]]
    assert len(partial) >= 10, len(partial)  # the query-log and QBQTC queries relax
    for item, h in hits(answers):
        x = h["explain"]
        if not x.get("scored_by"):  # a group is scored by its best article, whose tier it gives
            assert (x["match_tier"] == "full") == h["match"]["full"], (item, x)
        assert ("coverage" in x) == (x["match_tier"] == "partial"), (item, x)
    for item, h in partial:
        cov = h["explain"]["coverage"]
        if backend == "whoosh" and h["explain"]["match_tier"] == "partial":
            (factor,) = [f for f in h["explain"]["factors"] if f["name"] == "coverage"]
            expected = (cov["covered_idf"] / cov["query_idf"]) ** cov["power"]
            assert 0 < factor["value"] < 1 and math.isclose(factor["value"], expected, rel_tol=1e-12), (item, cov)
            assert set(factor["applies_to"]) == {"bm25f.title", "bm25f.body", "title_bonus"}
        elif backend == "opensearch":
            assert cov["matched"] == cov["soft_clauses"] - len(h["match"]["missing"]) >= 1, (item, cov, h["match"])


def test_the_title_component_follows_the_records(site, answers, indexed_records):
    """Oracle: a one-word query read as that word alone (no synonym, no
    regional form): a full match's title component is positive exactly
    when the record's headline contains the word (folded as the search
    folds text)."""
    from search.normalize import normalize_query

    backend, _ = site
    titles = {r["id"]: normalize_query(r["title"]) for r in indexed_records}
    checked = with_title = 0
    for item, explained, *_ in answers:
        q = item["q"]
        if item["kind"] not in ("frequent", "words", "traditional", "newest") or " " in q:
            continue
        if explained["understood"] != [q] or explained["synonyms"] or explained["pinyin"]:
            continue
        word = normalize_query(q)
        for h in explained["hits"]:
            if not h["match"]["full"] or h["explain"].get("scored_by"):
                continue
            value = sum(c["value"] for c in h["explain"]["components"] if c["name"] == TITLE[backend])
            assert (value > 0) == (word in titles[h["id"]]), (q, h["id"], h["title"], h["explain"])
            checked += 1
            with_title += value > 0
    assert checked >= 50 and 0 < with_title < checked, (checked, with_title)


def test_recency_follows_the_publication_time(site, answers):
    """Whoosh multiplies relevance by 1 + 0.1 x 2 ** (-age / 365 days):
    recomputed from the hit's publication time and the request's instant;
    newest-first orders have no recency factor.  (OpenSearch has none.)"""
    backend, _ = site
    checked = 0
    for item, explained, _, before, after in answers:
        for h in explained["hits"]:
            factors = {f["name"]: f for f in h["explain"]["factors"]}
            if backend == "opensearch" or item.get("sort") == "newest":
                assert "recency" not in factors, (item, h["explain"])
                continue
            if not h["published"] or h["explain"].get("scored_by"):
                continue
            # A date without a time counts from noon, Beijing time.
            when = h["published"] if "T" in h["published"] else h["published"] + "T12:00:00+08:00"
            published = datetime.fromisoformat(when).timestamp()
            bounds = [1 + 0.1 * 2 ** (-max(now - published, 0) / 86400 / 365) for now in (after, before)]
            assert bounds[0] - 1e-12 <= factors["recency"]["value"] <= bounds[1] + 1e-12, (item, h["published"])
            checked += 1
    assert backend == "opensearch" or checked >= 200, checked


def _sign_in(srv) -> str:
    """The staff session cookie of a real login (the form, as a browser sends it)."""
    import http.client

    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request("POST", "/staff/login", body=f"token={STAFF_TOKEN}&next=/staff/queries",
                     headers={"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.url})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 303, resp.status
        return resp.getheader("Set-Cookie").split(";", 1)[0]
    finally:
        conn.close()


def test_the_staff_page_shows_why_here_and_a_readers_page_does_not(site):
    _, srv = site
    path = "/search?q=" + urllib.parse.quote("香港 警方") + "&hl=en"
    status, reader = call(srv.url + path)
    assert status == 200 and b'class="hit"' in reader
    assert b'class="explain"' not in reader and b"Why here" not in reader
    status, staff = call(srv.url + path, headers={"Cookie": _sign_in(srv)})
    page = staff.decode()
    assert status == 200
    shown = page.count('<li class="hit">')
    tables = re.findall(r'<details class="explain">(.*?)</details>', page, re.S)
    assert shown >= 5 and len(tables) == shown, (shown, len(tables))
    _, api = call_json(srv.url + "/api/search?" + urllib.parse.urlencode({"q": "香港 警方", "explain": 1}),
                       headers=STAFF)
    for table, h in zip(tables, api["hits"]):
        assert "<summary>Why here</summary>" in table
        assert f"Score {h['explain']['total']:.4f} (" in html.unescape(table), table
        cells = re.findall(r'<th scope="row">([^<]*)</th><td>([^<]*)</td>', table)
        assert [float(v) for _, v in cells] == [round(c["value"], 4) for c in h["explain"]["components"]], table
        assert all(label and not label.startswith(("bm25", "title_", "proximity")) for label, _ in cells), cells
