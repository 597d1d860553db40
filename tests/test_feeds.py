"""Atom feeds (web/feeds.py) through a real gunicorn on both backends:
the saved-search feed (token, entries = the store's feed, ETag and 304)
and the public /search.atom (entries = the 20 newest matches, checked
against the records by brute force and against /api/search), parsed with
feedparser (valid Atom: bozo false)."""

from __future__ import annotations

import json
import os
import urllib.parse
import uuid

import feedparser
import pytest

from conftest import STAFF, STAFF_TOKEN, Server, call, call_json, digest

URL = os.environ.get("OPENSEARCH_URL")
OS_RECORDS = 200  # the sample's first articles on the cluster (enough for filters, quick to index)


@pytest.fixture(scope="module")
def opensearch_index(sample_records):
    """The sample's first OS_RECORDS articles in a 1-shard index of the
    cluster (deleted after the module)."""
    if not URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (OPENSEARCH_URL)")
    from opensearchpy import OpenSearch

    from indexer.records import to_article
    from search.analysis import Analyzer
    from search.backends.opensearch.indexing import bulk_index
    from search.backends.opensearch.mapping import index_body
    from search.documents import prepare
    from search.segmenter import get_segmenter

    client = OpenSearch(URL, timeout=60)
    index = "news-feeds-" + uuid.uuid4().hex[:8]
    client.indices.create(index=index, body=index_body(shards=1, replicas=0))
    analyzer = Analyzer(get_segmenter())
    bulk_index(client, index, (prepare(to_article(r), analyzer) for r in sample_records[:OS_RECORDS]))
    client.indices.refresh(index=index)
    yield index
    client.indices.delete(index=index)


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def site(request, sample_index, indexed_records, tmp_path_factory):
    """(server, saved-search store, the records it serves) per backend."""
    from search.saved_searches import SavedSearchStore

    saved = str(tmp_path_factory.mktemp("feeds") / "saved.sqlite")
    env = {"SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_SAVED_SEARCHES": saved}
    if request.param == "whoosh":
        srv, records = Server(sample_index, workers=1, extra_env=env), indexed_records
    else:
        index = request.getfixturevalue("opensearch_index")
        env.update(SEARCH_BACKEND="opensearch", OPENSEARCH_URL=URL)
        srv, records = Server(index, workers=1, extra_env=env), indexed_records[:OS_RECORDS]
    store = SavedSearchStore(saved)
    yield srv, store, records
    store.close()
    srv.stop()


def _feed(srv, path, headers=None):
    status, body = call(srv.url + path, headers=headers)
    assert status == 200, (path, status, body[:300])
    parsed = feedparser.parse(body)
    assert not parsed.bozo, (path, parsed.get("bozo_exception"))
    return parsed


def _get(srv, path, headers):
    """GET with request headers: (status, response headers, body)."""
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(srv.url + path, headers=headers), timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def _published(text):
    from web.feeds import atom_time

    return atom_time(text)


def _lead(body: str) -> str:
    from web.feeds import SUMMARY_CHARS

    first = next((p.strip() for p in body.split("\n") if p.strip()), "")
    return first if len(first) <= SUMMARY_CHARS else first[:SUMMARY_CHARS - 1] + "…"


def test_saved_search_feed_lists_its_alerts_newest_first(site):
    from search.saved_searches import NewMatch
    from web.feeds import entry_id

    srv, store, records = site
    status, saved = call_json(srv.url + "/api/saved-searches", "POST",
                              json.dumps({"name": "香港 <追踪>", "params": {"q": "香港"}}),
                              {**STAFF, "Content-Type": "application/json"})
    assert status == 201, saved
    sid, token = saved["id"], saved["feed_token"]
    matching = [r for r in records if "香港" in r["title"] + r["body"]]
    hongkong, more = matching[:3], matching[3]
    for n, r in enumerate(hongkong):  # one batch per article: matched at 100, 200, 300
        store.record(sid, [NewMatch(r["id"], r["id"], r["title"], r.get("published"), r.get("url"))], [], [],
                     commit_seq=n + 1, now=100.0 * (n + 1))
    feed = _feed(srv, saved["feed_url"])
    assert feed.feed.title == "香港 <追踪>"  # text, escaped by the XML writer
    assert any(link.rel == "self" and link.href.endswith(saved["feed_url"]) for link in feed.feed.links)
    expected = list(reversed(hongkong))  # newest alert first
    assert [e.id for e in feed.entries] == [entry_id(r["id"]) for r in expected]
    assert [e.id for e in feed.entries] == [entry_id(a.article_id) for a in store.feed(sid)]
    for entry, r in zip(feed.entries, expected):
        assert entry.title == r["title"]
        assert entry.link == srv.url + "/articles/" + urllib.parse.quote(r["id"], safe="")
        assert entry.summary == _lead(r["body"])
        stored = call_json(srv.url + "/api/articles/" + urllib.parse.quote(r["id"], safe=""))[1]
        assert entry.get("author") == (stored["author"] or None)
        assert entry.published_parsed[:6] == _published(r["published"]).utctimetuple()[:6]
    assert [e.updated_parsed[:6] for e in feed.entries] == [(1970, 1, 1, 0, 5, 0), (1970, 1, 1, 0, 3, 20),
                                                             (1970, 1, 1, 0, 1, 40)]

    # The token is the key: a wrong or missing one is a 404 like an unknown id.
    for path in (f"/feeds/saved/{sid}.atom?token=" + token[:-1] + ("A" if token[-1] != "A" else "B"),
                 f"/feeds/saved/{sid}.atom", f"/feeds/saved/nope.atom?token={token}"):
        assert call(srv.url + path)[0] == 404, path

    # ETag: 304 while nothing changed; a new alert, a withdrawal or a rename changes it.
    status, headers, _ = srv.get(saved["feed_url"])
    etag = headers["ETag"]
    assert call(srv.url + saved["feed_url"], headers={"If-None-Match": etag})[0] == 304
    store.record(sid, [NewMatch(more["id"], more["id"], more["title"], more.get("published"))], [], [],
                 commit_seq=9, now=400.0)
    status, headers, body = srv.get(saved["feed_url"])
    assert status == 200 and headers["ETag"] != etag
    assert feedparser.parse(body).entries[0].id == entry_id(more["id"])
    etag = headers["ETag"]
    store.withdraw([more["id"]], now=500.0)
    status, headers, body = srv.get(saved["feed_url"])
    assert headers["ETag"] != etag and entry_id(more["id"]) not in [e.id for e in feedparser.parse(body).entries]
    etag = headers["ETag"]
    status, _ = call_json(srv.url + f"/api/saved-searches/{sid}", "PATCH", json.dumps({"name": "港闻"}),
                          {**STAFF, "Content-Type": "application/json"})
    assert status == 200
    status, headers, body = srv.get(saved["feed_url"])
    assert headers["ETag"] != etag and feedparser.parse(body).feed.title == "港闻"


def _year_with_many(records, least=25):
    """The year (Beijing time) of the most articles, and those articles."""
    from collections import Counter

    from search.timeutil import local_iso

    year = {r["id"]: local_iso(r["published"])[:4] for r in records if r.get("published")}
    key, count = Counter(year.values()).most_common(1)[0]
    assert count >= least
    return key, [r for r in records if year.get(r["id"]) == key]


def test_search_feed_is_the_newest_twenty_by_brute_force(site):
    """A filter-only search (a year, every article: group=0): the feed's
    entries are that year's 20 newest articles computed from the records,
    in publication order."""
    from web.feeds import entry_id

    srv, _, records = site
    year, members = _year_with_many(records)
    dated = sorted(members, key=lambda r: _published(r["published"]), reverse=True)
    feed = _feed(srv, "/search.atom?" + urllib.parse.urlencode({"year": year, "group": "0"}))
    got = [e.published_parsed[:6] for e in feed.entries]
    assert len(feed.entries) == 20
    assert got == [_published(r["published"]).utctimetuple()[:6] for r in dated[:20]]
    cutoff = _published(dated[19]["published"])
    sure = {r["id"] for r in dated[:20] if _published(r["published"]) > cutoff}  # ties at the 20th: either
    assert sure and {entry_id(i) for i in sure} <= {e.id for e in feed.entries}


@pytest.mark.parametrize("params", [{"q": "香港"}, {"q": "经济", "range": "year"}, {"q": "疫苗 OR 疫情"},
                                    {"q": "香港", "sort": "newest", "hl": "en"}])
def test_search_feed_equals_the_api_newest_first(site, params):
    from web.feeds import entry_id

    srv, _, _ = site
    query = urllib.parse.urlencode({k: v for k, v in params.items() if k != "hl"})
    status, api = call_json(srv.url + "/api/search?" + query + "&sort=newest&size=20".replace(
        "&sort=newest", "" if "sort" in params else "&sort=newest"))
    assert status == 200
    feed = _feed(srv, "/search.atom?" + urllib.parse.urlencode(params))
    assert [e.id for e in feed.entries] == [entry_id(h["id"]) for h in api["hits"]]
    assert [e.title for e in feed.entries] == [h["title"] for h in api["hits"]]
    stamps = [e.published_parsed for e in feed.entries if "published_parsed" in e]
    assert stamps == sorted(stamps, reverse=True)
    if params.get("hl") == "en":
        assert feed.feed.title.startswith("香港: newest")


@pytest.mark.parametrize("query, word", [("q=香港&sort=relevance", "sort"), ("q=香港&page=2", "page"),
                                         ("q=香港&size=50", "size"), ("q=香港&range=decade", "range"),
                                         ("q=香港&from=2024-13-01", "from")])
def test_search_feed_refuses_what_it_cannot_honour(site, query, word):
    srv, _, _ = site
    status, body = call(srv.url + "/search.atom?" + urllib.parse.quote(query, safe="=&"))
    assert status == 400 and word.encode() in body


def test_the_results_page_links_its_feed(site):
    """The results page announces its search's feed (a link and <link
    rel=alternate> for feed readers), with the page's filters, without
    paging and sort; the linked feed is that search, newest first."""
    import html

    srv, _, _ = site
    status, page = call(srv.url + "/search?" + urllib.parse.urlencode({"q": "香港", "sort": "oldest", "page": "2",
                                                                        "group": "0"}))
    text = page.decode()
    head = text.split("</head>")[0]
    href = html.unescape(head.split('type="application/atom+xml"')[1].split('href="')[1].split('"')[0])
    assert urllib.parse.parse_qsl(href.partition("?")[2]) == [("q", "香港"), ("group", "0")]
    assert 'class="search-feed" href="' + html.escape(href) in text
    api = call_json(srv.url + "/api/search?q=%E9%A6%99%E6%B8%AF&group=0&sort=newest&size=20")[1]
    from web.feeds import entry_id

    assert [e.id for e in _feed(srv, href).entries] == [entry_id(h["id"]) for h in api["hits"]]


def test_control_characters_never_break_a_feed(site):
    """XML 1.0 cannot hold \\x01: an anonymous reader's query holding one, a
    saved search's name (from a file made before names were checked) and
    alert titles holding such characters still give valid feeds, without them."""
    from search.saved_searches import NewMatch
    from web.feeds import entry_id

    srv, store, records = site
    feed = _feed(srv, "/search.atom?q=%01%E9%A6%99%E6%B8%AF")  # \x01香港
    plain = _feed(srv, "/search.atom?q=%E9%A6%99%E6%B8%AF")
    assert feed.entries and [e.id for e in feed.entries] == [e.id for e in plain.entries]
    assert feed.feed.title.startswith("香港")
    status, saved = call_json(srv.url + "/api/saved-searches", "POST",
                              json.dumps({"name": "x", "params": {"q": "香港"}}),
                              {**STAFF, "Content-Type": "application/json"})
    assert status == 201
    store._conn().execute("UPDATE searches SET name = ? WHERE id = ?", ("x\x01y\x0b", saved["id"]))
    r = records[0]
    store.record(saved["id"], [NewMatch(r["id"], r["id"], "标\x01题\x1f\ufffe", r.get("published"))], [], [],
                 commit_seq=1, now=100.0)
    feed = _feed(srv, saved["feed_url"])
    assert feed.feed.title == "xy"
    assert [(e.id, e.title) for e in feed.entries] == [(entry_id(r["id"]), "标题")]


def test_a_weak_etag_gets_a_304_with_the_200s_validators(site):
    """If-None-Match compares weakly (RFC 9110): W/"<etag>", as a gzip proxy
    sends it back, and * are answered 304; the 304 carries the 200's ETag,
    Vary and Cache-Control; another ETag gets the feed."""
    srv, _, _ = site
    status, saved = call_json(srv.url + "/api/saved-searches", "POST",
                              json.dumps({"name": "weak", "params": {"q": "香港"}}),
                              {**STAFF, "Content-Type": "application/json"})
    assert status == 201
    status, full, _ = srv.get(saved["feed_url"])
    assert status == 200
    for sent in ("W/" + full["ETag"], full["ETag"], f'"other", W/{full["ETag"]}', "*"):
        status, headers, body = _get(srv, saved["feed_url"], {"If-None-Match": sent})
        assert (status, body) == (304, b""), sent
        assert {k: headers.get(k) for k in ("ETag", "Vary", "Cache-Control")} == {
            k: full.get(k) for k in ("ETag", "Vary", "Cache-Control")}, sent
    assert _get(srv, saved["feed_url"], {"If-None-Match": 'W/"other"'})[0] == 200


def test_an_ended_alert_changes_the_etag_and_leaves_the_feed(site):
    from search.saved_searches import NewMatch
    from web.feeds import entry_id

    srv, store, records = site
    status, saved = call_json(srv.url + "/api/saved-searches", "POST",
                              json.dumps({"name": "ends", "params": {"q": "香港"}}),
                              {**STAFF, "Content-Type": "application/json"})
    assert status == 201
    a, b = records[1], records[2]
    store.record(saved["id"], [NewMatch(a["id"], a["id"], a["title"]), NewMatch(b["id"], b["id"], b["title"])],
                 [], [], commit_seq=1, now=100.0)
    status, headers, _ = srv.get(saved["feed_url"])
    assert _get(srv, saved["feed_url"], {"If-None-Match": headers["ETag"]})[0] == 304
    store.record(saved["id"], [], [], [b["id"]], commit_seq=2, now=200.0)  # b, updated, no longer matches
    status, _, body = _get(srv, saved["feed_url"], {"If-None-Match": headers["ETag"]})
    assert status == 200 and [e.id for e in feedparser.parse(body).entries] == [entry_id(a["id"])]


def test_both_feeds_answers_fit_the_openapi_document(web_app, openapi):
    """/search.atom and /feeds/saved/{search_id}.atom are in the OpenAPI document:
    their 200 (Atom), 304, 400 and 404 answers validate against it."""
    from conftest import validated

    from web.saved import saved_store

    client = web_app.test_client()
    assert validated(client, openapi, "/search.atom?q=%E9%A6%99%E6%B8%AF&sort=newest").mimetype == \
        "application/atom+xml"
    validated(client, openapi, "/search.atom?q=%E9%A6%99%E6%B8%AF&page=2", 400)
    with web_app.app_context():
        store = saved_store(web_app)
    saved = store.create("token:openapi-test", "openapi", {"q": ["香港"]})
    try:
        url = f"/feeds/saved/{saved.id}.atom?token={saved.feed_token}"
        etag = validated(client, openapi, url).headers["ETag"]
        validated(client, openapi, url, 304, headers={"If-None-Match": f"W/{etag}"})
        validated(client, openapi, f"/feeds/saved/{saved.id}.atom?token=wrong", 404)
    finally:
        store.delete(saved.id, "token:openapi-test")
    paths = client.get("/api/openapi.json").get_json()["paths"]
    assert {"200", "304", "404", "503"} <= set(paths["/feeds/saved/{search_id}.atom"]["get"]["responses"])
    assert {"200", "400", "503"} <= set(paths["/search.atom"]["get"]["responses"])
