"""Coverage compared over time and significant terms, on both backends:
every series' bucket counts and shares equal counts made from the records
themselves (the matching articles are the engine's own ungrouped search
ids; their dates bucketed here, in Beijing time, with datetime), weeks
start on Monday in Beijing time, and the significant terms' counts equal
the records'.  Whoosh: the session's sample index (2,000 articles);
OpenSearch: the first ``OS_RECORDS`` of them in a 2-shard index of the
shared cluster (deleted after the module)."""

from __future__ import annotations

import dataclasses
import os
import uuid
from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest

from conftest import validated
from search.models import SearchRequest
from search.timeutil import NEWSROOM_TZ, parse_published

URL = os.environ.get("OPENSEARCH_URL")
OS_RECORDS = 800  # sample records put in the OpenSearch index (analysis is most of its cost)
QUERIES = ["疫苗", "口罩", "选举"]


def bucket(published: str, interval: str) -> str:
    """The bucket label of a publication time, computed with datetime."""
    local = parse_published(published).astimezone(NEWSROOM_TZ)
    if interval == "year":
        return f"{local.year:04d}"
    if interval == "month":
        return f"{local.year:04d}-{local.month:02d}"
    day = local.date()
    if interval == "week":
        day -= timedelta(days=day.weekday())  # back to Monday
    return day.isoformat()


def matching(engine, req: SearchRequest) -> list[str]:
    """The ids the engine finds for ``req``, every article (ungrouped)."""
    found = engine.search(dataclasses.replace(req, size=2000, page=1, group=False, facets=(), highlight=False,
                                              correct=False))
    assert found.total == len(found.hits) < 2000
    return [h.id for h in found.hits]


def expected_counts(records_by_id, ids, interval) -> Counter:
    return Counter(bucket(records_by_id[i]["published"], interval) for i in ids if records_by_id[i].get("published"))


@pytest.fixture(scope="module")
def os_engine(sample_records):
    if not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (OPENSEARCH_URL)")
    from opensearchpy import OpenSearch

    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.engine import SearchEngine
    from search.segmenter import get_segmenter

    client = OpenSearch(URL, timeout=60)
    index = "news-timeline-" + uuid.uuid4().hex[:8]
    analyzer = Analyzer(get_segmenter())
    client.indices.create(index=index, body=index_body(shards=2, replicas=1))
    try:
        bulk_index(client, index, (prepare(to_article(r), analyzer) for r in sample_records[:OS_RECORDS]))
        client.indices.refresh(index=index)
        engine = SearchEngine(OpenSearchBackend(URL, index), synonyms_path=None, blocklist_path=None)
        yield engine
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
    finally:
        client.indices.delete(index=index)


@pytest.fixture(params=["whoosh", "opensearch"])
def backend(request, plain_engine, sample_records):
    """(engine, the records it holds) for each backend."""
    if request.param == "whoosh":
        return plain_engine, sample_records
    return request.getfixturevalue("os_engine"), sample_records[:OS_RECORDS]


@pytest.mark.parametrize("interval", ["year", "month", "week"])
def test_each_series_counts_its_matches_on_the_same_buckets(backend, interval):
    from search.timeutil import parse_range

    engine, records = backend
    by_id = {r["id"]: r for r in records}
    # The sample's 14 years are 700 weeks, more than a timeline's 400 bars: weeks over two years.
    date_from, date_to = parse_range("2020-01-01", "2021-12-31") if interval == "week" else (None, None)
    reqs = [SearchRequest(q=q, facets=(), date_from=date_from, date_to=date_to) for q in QUERIES]
    data = engine.compare(reqs, interval, share=True)
    assert data["interval"] == interval
    starts = [b["start"] for b in data["series"][0]["buckets"]]
    assert all([b["start"] for b in s["buckets"]] == starts for s in data["series"])
    everything = Counter(bucket(r["published"], interval) for r in records if r.get("published")
                         and (date_from is None or date_from <= parse_published(r["published"]) < date_to))
    firsts, lasts = [], []
    for req, s in zip(reqs, data["series"]):
        ids = matching(engine, req)
        expected = expected_counts(by_id, ids, interval)
        got = {b["start"]: b["count"] for b in s["buckets"] if b["count"]}
        assert got == dict(expected) and s["query"] == req.q and s["total"] == len(ids)
        assert s["undated"] == sum(1 for i in ids if not by_id[i].get("published"))
        firsts.append(min(expected))
        lasts.append(max(expected))
        for b in s["buckets"]:
            assert b["all"] == everything[b["start"]]
            assert b["share"] == (b["count"] / b["all"] if b["all"] else None)
    # The union of the series' ranges, every period in between (none missing, none twice).
    assert starts[0] == min(firsts) and starts[-1] == max(lasts)
    assert starts == sorted(set(starts))
    if interval == "month":
        months = [int(s[:4]) * 12 + int(s[5:]) for s in starts]
        assert months == list(range(months[0], months[-1] + 1))
    if interval == "week":
        days = [datetime.fromisoformat(s).date() for s in starts]
        assert all(d.weekday() == 0 for d in days)
        assert all((b - a).days == 7 for a, b in zip(days, days[1:]))


def test_filters_apply_to_every_series_and_to_the_shares(backend):
    """A source filter narrows each series and the denominators alike (the
    filters define the universe of ``share``)."""
    engine, records = backend
    by_id = {r["id"]: r for r in records}
    source = Counter(r.get("source") for r in records if r.get("source")).most_common(1)[0][0]
    reqs = [SearchRequest(q=q, facets=(), source=[source]) for q in QUERIES[:2]]
    data = engine.compare(reqs, "year", share=True)
    everything = Counter(bucket(r["published"], "year") for r in records
                         if r.get("published") and r.get("source") == source)
    assert any(b["count"] for s in data["series"] for b in s["buckets"])
    for req, s in zip(reqs, data["series"]):
        ids = matching(engine, req)
        assert all(by_id[i]["source"] == source for i in ids)
        assert {b["start"]: b["count"] for b in s["buckets"] if b["count"]} == dict(expected_counts(by_id, ids, "year"))
        assert all(b["all"] == everything[b["start"]] for b in s["buckets"])


def test_one_query_keeps_its_own_timeline(backend):
    engine, _ = backend
    req = SearchRequest(q="疫苗", facets=())
    alone = engine.timeline(req)
    data = engine.compare([req])
    assert data["interval"] == alone["interval"]
    assert data["series"][0]["buckets"] == alone["buckets"]


WEEK_RECORDS = [  # Sunday 23:30 and Monday 00:30 in Beijing; the next Monday at 00:00 exactly
    {"id": "w-sun", "title": "周末新闻", "body": "周日晚上的消息。", "published": "2024-01-07T15:30:00Z"},
    {"id": "w-mon", "title": "周一新闻", "body": "周一凌晨的消息。", "published": "2024-01-07T16:30:00Z"},
    {"id": "w-next", "title": "下周新闻", "body": "下周一零点的消息。", "published": "2024-01-14T16:00:00Z"},
]


def _week_buckets(engine):
    data = engine.compare([SearchRequest(q="新闻", facets=())], "week")
    return data["interval"], [(b["start"], b["count"]) for b in data["series"][0]["buckets"]]


def test_weeks_start_on_monday_in_beijing_time(tiny_index):
    engine, _, _ = tiny_index(WEEK_RECORDS)
    assert _week_buckets(engine) == ("week", [("2024-01-01", 1), ("2024-01-08", 1), ("2024-01-15", 1)])


def test_weeks_start_on_monday_in_beijing_time_on_opensearch(os_engine):
    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.backend import OpenSearchBackend
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.engine import SearchEngine
    from search.segmenter import get_segmenter

    client = os_engine.backend.client
    index = "news-weeks-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=2, replicas=1))
    try:
        analyzer = Analyzer(get_segmenter())
        bulk_index(client, index, (prepare(to_article(r), analyzer) for r in WEEK_RECORDS))
        client.indices.refresh(index=index)
        engine = SearchEngine(OpenSearchBackend(URL, index), synonyms_path=None, blocklist_path=None, cache_size=0)
        assert _week_buckets(engine) == ("week", [("2024-01-01", 1), ("2024-01-08", 1), ("2024-01-15", 1)])
        engine.pinyin.get(wait=60)
        engine.suggester.get(wait=60)
    finally:
        client.indices.delete(index=index)


def test_a_week_too_fine_for_the_span_becomes_a_month():
    from search import timeline

    start = int(datetime(2012, 1, 1, tzinfo=timezone.utc).timestamp())
    assert timeline.choose_interval(start, start + 399 * 7 * 86400, "week") == "week"
    assert timeline.choose_interval(start, start + 400 * 7 * 86400, "week") == "month"
    assert timeline.choose_interval(start, start + 60 * 86400, "week") == "week"  # never finer than asked


# ---- significant terms ---------------------------------------------------------
def test_significant_terms_count_what_the_records_hold(backend, indexed_records):
    """For a narrow query: each term's in_results is the number of sampled
    matches (the engine's own top 200) whose words hold it, in_archive the
    number of articles of the index that do, the score JLH of those, best
    first; no query word, digit or single character among them."""
    from search.analysis import Analyzer
    from search.normalize import normalize
    from search.segmenter import get_segmenter
    from search.significant import jlh

    engine, records = backend
    held = {r["id"] for r in records}
    indexed = [r for r in indexed_records if r["id"] in held]
    analyzer = Analyzer(get_segmenter())
    req = SearchRequest(q="疫苗", facets=(), group=True)
    got = engine.significant(req)
    terms = got["significant_terms"]
    sample = engine.search(dataclasses.replace(req, size=200, correct=False, highlight=False))
    assert got["sample"] == len(sample.hits) >= 10 and got["archive"] == len(records)
    assert len(terms) == 10 and [t["score"] for t in terms] == sorted((t["score"] for t in terms), reverse=True)
    sampled = {h.id for h in sample.hits}
    texts = {r["id"]: normalize(r["title"]).text + "\n" + normalize(r["body"] or "").text for r in indexed}
    words = {}

    def has(r, word):  # the article's index words hold it (only articles with the text can)
        if word not in texts[r["id"]]:
            return False
        if r["id"] not in words:
            words[r["id"]] = (set(analyzer.words(normalize(r["title"])).terms)
                              | set(analyzer.words(normalize(r["body"] or "")).terms))
        return word in words[r["id"]]

    for t in terms[:3]:
        word = t["term"]
        assert len(word) >= 2 and not word.isdigit() and "疫苗" not in word and word not in "疫苗"
        in_results = sum(1 for r in indexed if r["id"] in sampled and has(r, word))
        in_archive = sum(1 for r in indexed if has(r, word))
        assert (t["in_results"], t["in_archive"]) == (in_results, in_archive), word
        assert t["score"] == pytest.approx(jlh(in_results, len(sampled), in_archive, len(records)), abs=1e-6)
    assert "接种" in [t["term"] for t in terms[:3]]  # vaccination: what vaccine coverage is about


def test_significant_terms_are_cached_per_request(plain_engine):
    req = SearchRequest(q="口罩", facets=())
    assert plain_engine.significant(req) is plain_engine.significant(req)
    assert plain_engine.significant(req, size=3)["significant_terms"] == plain_engine.significant(req)["significant_terms"][:3]


# ---- the API ----------------------------------------------------------------------
def test_timeline_api_compares_up_to_five_queries(client, openapi):
    one = validated(client, openapi, "/api/timeline?q=%E7%96%AB%E8%8B%97&interval=year").get_json()
    assert one["query"] == "疫苗" and one["series"][0]["buckets"] == one["buckets"] and one["normalize"] == "none"
    two = validated(client, openapi, "/api/timeline?q=%E7%96%AB%E8%8B%97&q=%E5%8F%A3%E7%BD%A9&interval=year"
                                     "&normalize=share").get_json()
    assert two["queries"] == ["疫苗", "口罩"] and [s["query"] for s in two["series"]] == ["疫苗", "口罩"]
    assert two["series"][0]["total"] == one["total"]
    assert all("share" in b and "all" in b for s in two["series"] for b in s["buckets"])
    six = "&".join(f"q={c}" for c in "abcdef")
    err = validated(client, openapi, "/api/timeline?" + six, status=400).get_json()
    assert "at most 5" in err["error"] and "'q'" in err["error"]
    bad = validated(client, openapi, "/api/timeline?q=a&normalize=percent", status=400).get_json()
    assert "'normalize'" in bad["error"]


def test_timeline_csv_holds_the_series(client, openapi):
    import csv
    import io

    data = client.get("/api/timeline?q=%E7%96%AB%E8%8B%97&q=%3D1%2B1&interval=year&normalize=share").get_json()
    resp = validated(client, openapi, "/api/timeline?q=%E7%96%AB%E8%8B%97&q=%3D1%2B1&interval=year"
                                      "&normalize=share&format=csv")
    assert resp.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(resp.get_data(as_text=True).lstrip("\ufeff"))))
    expected = [(s["query"], b["start"], str(b["count"]), str(b["all"])) for s in data["series"] for b in s["buckets"]]
    got = [(r["query"], r["start"], r["count"], r["all"]) for r in rows]
    # A query starting with '=' is neutralised (search.csvsafe), never a formula.
    assert got == [("'" + q if q.startswith("=") else q, *rest) for q, *rest in expected]


def test_significant_api(client, openapi):
    data = validated(client, openapi, "/api/significant?q=%E7%96%AB%E8%8B%97&size=3").get_json()
    assert data["query"] == "疫苗" and len(data["significant_terms"]) == 3
    assert validated(client, openapi, "/api/significant?q=a&size=51", status=400).get_json()["error"]


def test_results_page_compares_and_explains(client):
    page = client.get("/search?q=%E7%96%AB%E8%8B%97&vs=%E5%8F%A3%E7%BD%A9&sig=1")
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and html.count('<g class="series"') == 2 and 'role="img"' in html
    assert '<section class="significant"' in html and "接种" in html
    too_many = client.get("/search?q=a&" + "&".join(f"vs={c}" for c in "bcdef"))
    assert too_many.status_code == 400 and "at most 4" in too_many.get_data(as_text=True)
    escaped = client.get("/search?q=%E7%96%AB%E8%8B%97&vs=%3Cb%3E%E5%8F%A3%E7%BD%A9%3C%2Fb%3E").get_data(as_text=True)
    assert "<b>口罩</b>" not in escaped and "&lt;b&gt;口罩&lt;/b&gt;" in escaped


# ---- the comparison chart in a real browser ---------------------------------------------
@pytest.fixture(scope="module")
def site(sample_index):
    from conftest import Server

    srv = Server(sample_index, workers=1)
    try:
        yield srv
    finally:
        srv.stop()


def test_comparison_chart_in_the_browser(site, browser, sample_records):
    """Add a comparison query with the page's form: the SVG (role img,
    named) shows two series, the legend names both, and the data table
    holds each year's count as the records give it (the engine's
    ungrouped ids, bucketed here)."""
    import json
    import urllib.parse
    import urllib.request

    from conftest import ARTIFACTS

    by_id = {r["id"]: r for r in sample_records}
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(site.url + "/search?q=" + urllib.parse.quote("疫苗"))
        page.fill(".compare-form input[name=vs]", "口罩")
        page.click(".compare-form button")
        page.wait_for_selector("#compare-svg")
        assert "vs=" in page.url
        svg = page.locator("#compare-svg")
        assert svg.get_attribute("role") == "img"
        title = page.locator("#compare-title").text_content()
        assert "疫苗" in title and "口罩" in title
        assert page.locator("#compare-svg g.series").count() == 2
        dashes = [page.locator("#compare-svg g.series .line").nth(i).get_attribute("stroke-dasharray") for i in range(2)]
        assert dashes[0] != dashes[1]  # told apart without colour too
        assert page.locator(".compare .legend li .legend-query").all_inner_texts() == ["疫苗", "口罩"]
        page.click(".compare-table summary")
        header = page.locator(".compare-table thead th").all_inner_texts()
        assert header[1:] == ["疫苗", "口罩"]
        table = {row.locator("th").inner_text(): row.locator("td").all_inner_texts()
                 for row in page.locator(".compare-table tbody tr").all()}
        page.screenshot(path=os.path.join(ARTIFACTS, "coverage-compare-desktop.png"), full_page=True)
        for col, q in enumerate(["疫苗", "口罩"]):
            with urllib.request.urlopen(site.url + "/api/search?size=100&group=0&correct=0&facets=&q="
                                        + urllib.parse.quote(q)) as resp:
                ids = [h["id"] for h in json.load(resp)["hits"]]
            expected = expected_counts(by_id, ids, "year")
            assert {year: int(cells[col]) for year, cells in table.items() if cells[col] != "0"} == dict(expected)
        # The share view: percentages, and the CSV link asks for shares.
        page.click("text=显示占全部报道的比例")
        page.wait_for_selector(".compare-tools strong")
        assert "normalize=share" in page.locator("a.compare-csv").get_attribute("href")
        assert page.locator(".compare-table tbody td").first.text_content().endswith("%")
        page.screenshot(path=os.path.join(ARTIFACTS, "coverage-compare-share-desktop.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})  # a phone: the chart scrolls, the page does not
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        assert page.locator(".compare-chart").evaluate("e => e.scrollWidth > e.clientWidth")
        page.screenshot(path=os.path.join(ARTIFACTS, "coverage-compare-phone.png"), full_page=True)
        page.set_viewport_size({"width": 1280, "height": 900})
        # What is distinctive: asked for with a link, each term a link adding it to the query.
        page.click("a.show-significant")
        page.wait_for_selector(".significant .terms a")
        first = page.locator(".significant .terms a").first
        term = first.inner_text()
        first.click()
        page.wait_for_load_state()
        assert urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["q"] == [f"疫苗 {term}"]
        page.go_back()
        page.screenshot(path=os.path.join(ARTIFACTS, "coverage-significant-desktop.png"), full_page=False)
    finally:
        page.close()


def _exhaustive(engine, stored, q, size):
    """The significant terms by scoring every candidate with its exact
    archive count (``IndexBackend.doc_frequency``: live articles only)."""
    from search.significant import MIN_IN_RESULTS, is_candidate, jlh

    st = engine.significant_terms
    counts, whole = Counter(), set()
    for s in stored:
        terms, accurate = st.words(s)
        counts.update(terms)
        whole |= accurate
    text, own = st.query_words(q)
    archive = engine.backend.doc_count()
    rows = []
    candidates = {w for w, n in counts.items()
                  if n >= MIN_IN_RESULTS and w in whole and is_candidate(w) and w not in own and w not in text}
    for w in candidates:
        n = counts[w]
        df = max(engine.backend.doc_frequency(w), n)
        score = jlh(n, len(stored), df, archive)
        if score > 0:
            rows.append((w, round(score, 6), n, df))
    rows.sort(key=lambda r: (-r[1], -r[2], r[0]))
    return rows[:size], {w: counts[w] for w in candidates}


def test_significant_terms_on_an_index_with_deleted_articles_equal_exhaustive_scoring(sample_index, sample_records,
                                                                                      tmp_path):
    """Whoosh's cheap archive counts still count deleted articles until
    their segment merges, so they are no lower bound then: a word whose
    other articles were withdrawn (really significant now) must not be
    pruned by its old count.  The answer equals scoring every candidate
    exactly."""
    import shutil

    from indexer import pipeline
    from search.engine import SearchEngine
    from search.normalize import normalize

    path = str(tmp_path / "ix")
    shutil.copytree(sample_index, path)
    engine = SearchEngine.open(path, refresh_interval=0, synonyms_path=None)
    q, size = "疫苗", 10
    req = SearchRequest(q=q, facets=(), group=True)
    sample_req = dataclasses.replace(req, page=1, size=200, facets=(), highlight=False, timeline=False, correct=False)

    def sample():
        return [h.stored for h in engine.backend.execute(engine.compiled(sample_req)).hits]

    stored = sample()
    _, counts = _exhaustive(engine, stored, q, size)
    sampled = {s["id"] for s in stored}
    texts = {r["id"]: normalize(r["title"]).text + normalize(r["body"] or "").text for r in sample_records}
    # A word of 4 to 6 sampled articles that many other articles share (not
    # significant now): withdraw those others.
    word, others = None, []
    for w, n in sorted(counts.items(), key=lambda item: (item[1], item[0])):
        if 4 <= n <= 6:
            df = engine.backend.doc_frequency(w)
            if df >= 6 * n:
                word, others = w, [i for i, t in texts.items() if w in t and i not in sampled]
                break
    assert word and len(others) >= 4 * counts[word]
    deleted, _ = pipeline.delete(path, others)
    assert deleted == len(others)
    engine.backend.refresh(force=True)
    assert engine.backend.has_deletions()
    stored = sample()
    assert {s["id"] for s in stored} == sampled
    expected, _ = _exhaustive(engine, stored, q, size)
    got = engine.significant(req, size=size)["significant_terms"]
    assert [(t["term"], t["score"], t["in_results"], t["in_archive"]) for t in got] == expected
    assert word in [t["term"] for t in got]  # what the old counts would have pruned
