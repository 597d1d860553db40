"""The query log: retention, migration of an older file, and who may put a
query on the home page (热门搜索) and into suggestions: at least
SEARCH_HOT_MIN_CLIENTS distinct readers a day, listable text, not removed
by staff.  Real SQLite files, the real app and engine on the sample."""

from __future__ import annotations

import json
import sqlite3
import time
import urllib.parse
from urllib.parse import quote

import pytest

from conftest import STAFF, STAFF_TOKEN, digest
from search.querylog import SCHEMA_VERSION, QueryLog, listable

AD = "香港 加微信领红包"  # an advertiser's string: the sample has articles with 香港 (and 加)

SAME_SITE = {"Origin": "http://localhost"}  # what a browser sends with a form of this site


@pytest.mark.parametrize("q, ok", [
    ('"', False), ("OR", False), ("-地铁", False), ("()", False), ("!!!", False), ("NOT", False),
    ("-(体育 OR 娱乐)", False), ("香港", True), ("香港 -地铁", True), ("title:疫情", True), ("covid 19", True),
])
def test_listable_queries(q, ok):
    assert listable(q) is ok


def make_app(sample_index, log_path, **config):
    from web import create_app

    return create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_ARTICLE_STORE": "off",
                       "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_RATE_LIMIT": "off",
                       "SEARCH_QUERY_LOG": str(log_path), "SEARCH_HOT_REFRESH": 0.0, **config})


def hot_links(client) -> list[str]:
    import re

    home = client.get("/").get_data(as_text=True)
    section = home.split("热门搜索", 1)[1] if "热门搜索" in home else ""
    # Each link's query, re-encoded one way (links may write a space as + or %20).
    return [quote(urllib.parse.unquote_plus(m)) for m in re.findall(r'href="/search\?q=([^"&]+)"', section)]


def search_as(client, q, address, times=1):
    for _ in range(times):
        assert client.get("/search?q=" + quote(q), environ_base={"REMOTE_ADDR": address}).status_code == 200


def suggestions_after_restart(sample_index, log_path, prefix):
    """A new engine on the same log (what a restarted service builds)."""
    from search.engine import SearchEngine

    engine = SearchEngine.open(sample_index, refresh_interval=0, query_log=QueryLog(str(log_path)))
    engine.suggester.get(wait=120)
    try:
        return engine.suggest(prefix, limit=20)
    finally:
        engine.pinyin.get(wait=60)


def test_one_reader_cannot_make_a_hot_search_or_a_suggestion(sample_index, tmp_path):
    log_path = tmp_path / "q.sqlite"
    client = make_app(sample_index, log_path).test_client()
    search_as(client, "疫苗", "192.0.2.1")
    search_as(client, "疫苗", "192.0.2.2")
    search_as(client, "疫苗", "192.0.2.3")  # three readers: hot
    search_as(client, AD, "192.0.2.66", times=12)  # twelve searches, one reader: not hot
    search_as(client, AD, "192.0.2.67")  # a second reader: still not
    assert hot_links(client) == [quote("疫苗")]
    assert AD not in suggestions_after_restart(sample_index, log_path, "香港 加")
    # Staff still see every query, with its real count.
    rows = {r["q"]: r for r in client.get("/api/queries?days=1", headers=STAFF).get_json()["queries"]}
    assert rows[AD]["count"] == 13 and rows["疫苗"]["count"] == 3
    # A third distinct reader the same day: now it is a hot search and a suggestion.
    search_as(client, AD, "192.0.2.68")
    assert hot_links(client) == [quote(AD), quote("疫苗")]
    assert AD in suggestions_after_restart(sample_index, log_path, "香港 加")


def test_the_number_of_readers_is_a_setting(sample_index, tmp_path):
    client = make_app(sample_index, tmp_path / "q.sqlite", SEARCH_HOT_MIN_CLIENTS=2).test_client()
    search_as(client, "疫苗", "192.0.2.1")
    assert hot_links(client) == []
    search_as(client, "疫苗", "192.0.2.2")
    assert hot_links(client) == [quote("疫苗")]


def test_junk_and_operator_only_queries_never_appear(sample_index, tmp_path):
    log_path = tmp_path / "q.sqlite"
    client = make_app(sample_index, log_path).test_client()
    for i in range(5):
        for q in ['"', "OR", "-地铁", "()", "-(香港 OR 澳门)", "!!!"]:
            search_as(client, q, f"192.0.2.{i}")
    assert hot_links(client) == []
    # Suggestions are built from exactly these (test_one_reader... restarts an engine on them).
    assert QueryLog(str(log_path)).popular(time.time() - 86400) == {}


def test_a_query_is_one_entry_however_it_was_typed(sample_index, tmp_path):
    """Invisible characters, decomposed marks and odd spacing do not make a
    second hot search that looks the same, nor survive a removal."""
    log_path = tmp_path / "q.sqlite"
    client = make_app(sample_index, log_path).test_client()
    forms = ["香港电台", "\u200b香港电台", "香港\u2060电台\u200b", "\ufeff香港电台 "]
    for i, form in enumerate(forms):
        for j in range(3):
            search_as(client, form, f"192.0.2.{10 * i + j}")
    assert hot_links(client) == [quote("香港电台")]
    rows = QueryLog(str(log_path)).top(0, time.time() + 1)
    assert [(r["q"], r["count"]) for r in rows] == [("香港电台", 12)]
    assert client.delete("/api/queries?q=" + quote("香港\u200b电台"), headers=STAFF).get_json() == {"removed": "香港电台"}
    assert hot_links(client) == []


def test_staff_remove_an_entry(sample_index, tmp_path):
    log_path = tmp_path / "q.sqlite"
    app = make_app(sample_index, log_path)
    client = app.test_client()
    for i in range(3):
        search_as(client, AD, f"192.0.2.{i}")
        search_as(client, "疫苗", f"192.0.2.{i}")
    assert hot_links(client) == [quote("疫苗"), quote(AD)] or hot_links(client) == [quote(AD), quote("疫苗")]
    # Readers cannot remove; staff can, with the token (API) or the session (form).
    assert client.delete("/api/queries?q=" + quote(AD)).status_code == 401
    assert client.delete("/api/queries", headers=STAFF).get_json()["error"].startswith("'q' is required")
    resp = client.delete("/api/queries?q=" + quote(AD), headers=STAFF)
    assert resp.status_code == 200 and resp.get_json() == {"removed": AD}
    assert hot_links(client) == [quote("疫苗")]
    assert AD not in QueryLog(str(log_path)).popular(time.time() - 86400)  # what a restart suggests from
    rows = {r["q"]: r for r in client.get("/api/queries?days=1", headers=STAFF).get_json()["queries"]}
    assert rows[AD]["removed"] and not rows["疫苗"]["removed"]
    staff = app.test_client()
    assert staff.post("/staff/login", data={"token": STAFF_TOKEN}, headers=SAME_SITE).status_code == 303
    assert "已移除" in staff.get("/staff/queries?days=1").get_data(as_text=True)
    resp = staff.post("/staff/queries/remove", data={"q": "疫苗", "days": "1"}, headers=SAME_SITE)
    assert resp.status_code == 303 and resp.headers["Location"] == "/staff/queries?days=1"
    assert hot_links(client) == []
    assert app.test_client().post("/staff/queries/remove", data={"q": "疫苗"}, headers=SAME_SITE).status_code == 401
    # The form is state-changing: from another site it is refused even for staff.
    assert staff.post("/staff/queries/remove", data={"q": "疫苗"},
                      headers={"Origin": "https://evil.example"}).status_code == 403


def test_a_live_engine_drops_a_removed_suggestion_at_once(sample_index, tmp_path):
    from search.engine import SearchEngine

    log = QueryLog(str(tmp_path / "q.sqlite"))
    for i in range(3):
        log.record(AD, 5, client=f"192.0.2.{i}")
    engine = SearchEngine.open(sample_index, refresh_interval=0, query_log=log)
    engine.suggester.get(wait=120)
    assert AD in engine.suggest("香港 加", limit=20)
    log.remove(AD)
    assert AD not in engine.suggest("香港 加", limit=20)
    assert "香港" in engine.suggest("香", limit=20)  # a removed query never hides headline words
    engine.pinyin.get(wait=60)


def test_no_address_is_stored_and_tags_change_every_day(tmp_path):
    log = QueryLog(str(tmp_path / "q.sqlite"))
    day = 86400
    t0 = 1_700_000_000.0
    log.record("香港", 3, ts=t0, client="203.0.113.77")
    log.record("香港", 3, ts=t0 + 60, client="203.0.113.77")
    log.record("香港", 3, ts=t0 + day, client="203.0.113.77")
    for path in (tmp_path / "q.sqlite", tmp_path / "q.sqlite-wal"):
        if path.exists():
            assert b"203.0.113.77" not in path.read_bytes()
    tags = [r[0] for r in sqlite3.connect(tmp_path / "q.sqlite").execute("SELECT client FROM queries ORDER BY ts")]
    assert tags[0] == tags[1] != tags[2] and len(tags[0]) == 16
    # The key is kept beside the log, readable by the owner only.
    assert oct((tmp_path / "q.sqlite.key").stat().st_mode & 0o777) == "0o600"
    assert QueryLog(str(tmp_path / "q.sqlite")).client_tag("203.0.113.77", t0) == tags[0]


def test_retention_deletes_old_rows_when_the_log_opens(tmp_path):
    path = str(tmp_path / "q.sqlite")
    log = QueryLog(path)
    now = time.time()
    for age_days in (0, 30, 89, 91, 400):
        log.record(f"查询{age_days}", 1, ts=now - age_days * 86400 - 60, client="192.0.2.1")
    assert log.prune(now) == 2
    assert sorted(r[0] for r in sqlite3.connect(path).execute("SELECT q FROM queries")) == ["查询0", "查询30", "查询89"]
    assert sorted(r[0] for r in sqlite3.connect(path).execute("SELECT DISTINCT q FROM daily")) == \
        ["查询0", "查询30", "查询89"]
    # A shorter retention, as configured: applied when the log opens.
    QueryLog(path, retention_days=10)
    assert [r[0] for r in sqlite3.connect(path).execute("SELECT q FROM queries")] == ["查询0"]


def test_an_older_log_file_is_migrated_in_place(tmp_path):
    path = str(tmp_path / "old.sqlite")
    now = (time.time() + 8 * 3600) // 86400 * 86400 - 8 * 3600 + 12 * 3600  # today 12:00 in Beijing
    c = sqlite3.connect(path)
    c.execute("CREATE TABLE queries (ts REAL NOT NULL, q TEXT NOT NULL, total INTEGER NOT NULL)")
    c.execute("CREATE INDEX queries_ts ON queries (ts)")
    c.executemany("INSERT INTO queries VALUES (?, ?, ?)",
                  [(now - i, "香港", 4) for i in range(20)] + [(now - 5, "鱻龘", 0)])
    c.commit()
    c.close()
    log = QueryLog(path, hot_ttl=0)
    rows = {r["q"]: (r["count"], r["results"]) for r in log.top(now - 86400, now + 1, 10)}
    assert rows == {"香港": (20, 4), "鱻龘": (1, 0)}
    assert [r["q"] for r in log.top(now - 86400, now + 1, 10, zero_only=True)] == ["鱻龘"]
    assert log.hot(now=now) == []  # the old rows name no client: never hot
    for i in range(3):
        log.record("香港", 4, ts=now + i, client=f"192.0.2.{i}")
    assert log.hot(now=now) == [{"q": "香港", "count": 23, "results": 4}]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    QueryLog(path)  # opening again changes nothing
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM queries").fetchone()[0] == 24


def test_days_are_whole_newsroom_days_read_from_the_aggregate(tmp_path):
    """days=1 is today since 00:00 Beijing time; days=2 adds yesterday."""
    from datetime import datetime, timedelta, timezone

    from werkzeug.datastructures import MultiDict

    from web.params import query_period

    beijing = timezone(timedelta(hours=8))
    now = datetime(2024, 3, 2, 9, 0, tzinfo=beijing).timestamp()
    log = QueryLog(str(tmp_path / "q.sqlite"))
    log.record("今天", 2, ts=datetime(2024, 3, 2, 0, 10, tzinfo=beijing).timestamp())
    log.record("昨天", 2, ts=datetime(2024, 3, 1, 23, 50, tzinfo=beijing).timestamp())
    log.record("前天", 2, ts=datetime(2024, 2, 29, 23, 59, tzinfo=beijing).timestamp())
    since, until, _, _ = query_period(MultiDict({"days": "1"}), now=now)
    assert (since, until) == (datetime(2024, 3, 2, tzinfo=beijing).timestamp(),
                              datetime(2024, 3, 3, tzinfo=beijing).timestamp())
    assert [r["q"] for r in log.top(since, until, 10)] == ["今天"]
    since, until, _, _ = query_period(MultiDict({"days": "2"}), now=now)
    assert sorted(r["q"] for r in log.top(since, until, 10)) == ["今天", "昨天"]
    # A range with times of day reads the raw log, to the second.
    lo = datetime(2024, 3, 1, 23, 55, tzinfo=beijing).timestamp()
    assert [r["q"] for r in log.top(lo, now, 10)] == ["今天"]


NOWHERE = "不存在的来源"  # a source no article has


def test_filters_are_logged_and_zero_results_tell_words_from_filters(sample_index, tmp_path):
    """A filtered search that finds nothing is logged with its filters and
    reported as "the filters leave nothing" (with what the words alone
    find), not as a zero-result query for its words; words that find
    nothing are reported apart; a filtered search never makes its words
    look empty to hot searches."""
    log_path = tmp_path / "q.sqlite"
    app = make_app(sample_index, log_path)
    client = app.test_client()
    for i in range(3):  # three readers: 香港 would be a hot search
        assert client.get(f"/search?q=香港&source={quote(NOWHERE)}",
                          environ_base={"REMOTE_ADDR": f"192.0.2.{i}"}).status_code == 200
    assert client.get("/api/search?q=" + quote("香港") + "&from=1990-01-01&to=1990-12-31&sort=newest").status_code == 200
    assert client.get("/api/search?q=" + quote("香港") + "&range=week&category=" + quote(NOWHERE)).status_code == 200
    assert client.get("/api/search?q=" + quote("鱻龘")).status_code == 200  # the words find nothing
    assert client.get("/api/search?q=" + quote("鱻龘") + "&tag=" + quote(NOWHERE)).status_code == 200  # nor with a filter
    words = client.get("/api/search?q=" + quote("香港") + "&group=1&size=1").get_json()["total"]
    assert words > 0

    zero = client.get("/api/queries?days=1&zero=1", headers=STAFF).get_json()
    assert zero["zero_cause"] == "words" and [(r["q"], r["count"]) for r in zero["queries"]] == [("鱻龘", 2)]
    out = client.get("/api/queries?days=1&zero=filters", headers=STAFF).get_json()
    assert out["zero_cause"] == "filters"
    rows = {json.dumps(r["filters"], sort_keys=True, ensure_ascii=False): r for r in out["queries"]}
    assert {k: (r["q"], r["count"]) for k, r in rows.items()} == {
        json.dumps({"source": [NOWHERE]}, ensure_ascii=False): ("香港", 3),
        json.dumps({"from": "1990-01-01T00:00:00+08:00", "sort": "newest", "to": "1991-01-01T00:00:00+08:00"}):
            ("香港", 1),
        json.dumps({"category": [NOWHERE], "range": "week"}, ensure_ascii=False): ("香港", 1)}
    assert all(r["words_results"] == words for r in rows.values())
    # Every query, with how often it had filters and which.
    top = {r["q"]: r for r in client.get("/api/queries?days=1", headers=STAFF).get_json()["queries"]}
    assert top["香港"]["filtered"] == 5 and top["香港"]["filters"][0] == {"filters": {"source": [NOWHERE]}, "count": 3}
    assert top["鱻龘"]["filtered"] == 1 and top["香港"]["results"] == words
    assert hot_links(client) == [quote("香港")]  # the words find articles: still a hot search
    # The same from the raw log (a range that is not whole days).
    log = QueryLog(str(log_path))
    now = time.time()
    assert [(r["q"], r["count"]) for r in log.top(now - 3600, now + 1, 10, zero_only=True)] == [("鱻龘", 2)]
    assert sorted((r["q"], r["count"]) for r in log.filtered_out(now - 3600, now + 1, 10)) == [
        ("香港", 1), ("香港", 1), ("香港", 3)]
    # The staff page: both kinds of zero results, the filters in words, a link re-running the search.
    staff = app.test_client()
    staff.post("/staff/login", data={"token": STAFF_TOKEN}, headers=SAME_SITE)
    page = staff.get("/staff/queries?days=1").get_data(as_text=True)
    zero_table = page.split('id="zero-queries"', 1)[1].split("</table>", 1)[0]
    filtered_table = page.split('id="filtered-out-queries"', 1)[1].split("</table>", 1)[0]
    assert "鱻龘" in zero_table and "香港" not in zero_table
    assert f"来源：{NOWHERE}" in filtered_table and "日期：一周内" in filtered_table
    assert "排序：按时间（最新）" in filtered_table and f"<td>{words}</td>" in filtered_table
    assert "日期：1990-01-01 至 1990-12-31" in filtered_table  # the days asked for (the end bound is exclusive)
    assert f'href="/search?q=%E9%A6%99%E6%B8%AF&amp;source={quote(NOWHERE)}"' in filtered_table


def test_a_log_without_filters_is_migrated_keeping_every_row(tmp_path):
    """A log of the previous version (2: client tags, no filters) gets the
    filter columns and table in place; its rows stay and count as before."""
    path = str(tmp_path / "v2.sqlite")
    now = (time.time() + 8 * 3600) // 86400 * 86400 - 8 * 3600 + 12 * 3600  # today 12:00 in Beijing
    c = sqlite3.connect(path)
    c.executescript("""
        CREATE TABLE queries (ts REAL NOT NULL, q TEXT NOT NULL, total INTEGER NOT NULL, client TEXT);
        CREATE INDEX queries_ts ON queries (ts);
        CREATE TABLE daily (day TEXT NOT NULL, q TEXT NOT NULL, n INTEGER NOT NULL, zero_n INTEGER NOT NULL,
            clients INTEGER NOT NULL, results INTEGER NOT NULL, last_ts REAL NOT NULL, listable INTEGER NOT NULL,
            PRIMARY KEY (day, q));
        CREATE TABLE daily_clients (day TEXT NOT NULL, q TEXT NOT NULL, client TEXT NOT NULL,
            PRIMARY KEY (day, q, client)) WITHOUT ROWID;
        CREATE TABLE removed (q TEXT PRIMARY KEY, ts REAL NOT NULL);
        PRAGMA user_version=2;""")
    day = time.strftime("%Y-%m-%d", time.gmtime(now + 8 * 3600))
    c.executemany("INSERT INTO queries VALUES (?, ?, ?, ?)", [(now - i, "疫苗", 7, f"t{i}") for i in range(4)]
                  + [(now - 9, "鱻龘", 0, "t9")])
    c.execute("INSERT INTO daily VALUES (?, '疫苗', 4, 0, 4, 7, ?, 1)", (day, now))
    c.execute("INSERT INTO daily VALUES (?, '鱻龘', 1, 1, 1, 0, ?, 1)", (day, now - 9))
    c.commit()
    c.close()
    log = QueryLog(path, hot_ttl=0)
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert sqlite3.connect(path).execute("SELECT COUNT(*) FROM queries").fetchone()[0] == 5
    since = now - 12 * 3600  # 00:00 today: whole days, read from the daily table
    assert [(r["q"], r["count"], r["filtered"]) for r in log.top(since, since + 86400, 10)] == [
        ("疫苗", 4, 0), ("鱻龘", 1, 0)]
    assert [r["q"] for r in log.top(since, since + 86400, 10, zero_only=True)] == ["鱻龘"]
    log.record("疫苗", 0, ts=now + 1, filters={"tag": ["x"]}, words_total=7)
    assert [(r["q"], r["filters"], r["words_results"]) for r in log.filtered_out(since, since + 86400)] == [
        ("疫苗", {"tag": ["x"]}, 7)]
    assert [(r["q"], r["count"]) for r in log.filtered_out(now - 60, now + 60)] == [("疫苗", 1)]
    assert log.hot(now=now) == [{"q": "疫苗", "count": 5, "results": 7}]


# ---- every filter of a search is a logged filter -----------------------------------
def test_every_filter_field_of_a_search_request_is_logged_and_dropped_for_the_words_count():
    """Each field of ``SearchRequest`` is either named in ``NOT_FILTERS`` or
    a filter: given, it shows in ``filters_of``, and ``without_filters``
    puts it back to its default.  A field added later that is neither
    fails here (add it to ``filters_of`` or to ``NOT_FILTERS``)."""
    import dataclasses
    from datetime import datetime, timedelta, timezone

    from search.models import SearchRequest
    from search.query_filters import NOT_FILTERS, filters_of, without_filters

    names = [f.name for f in dataclasses.fields(SearchRequest)]
    assert set(NOT_FILTERS) <= set(names)  # no stale name
    defaults = SearchRequest()
    given = {"sort": "newest", "fields": "title"}  # the string filters: a value other than the default
    checked = []
    for f in dataclasses.fields(SearchRequest):
        if f.name in NOT_FILTERS:
            continue
        default = getattr(defaults, f.name)
        if isinstance(default, list):
            value = ["2019"]  # a valid year, and a valid category, source, author or tag
        elif "datetime" in str(f.type):
            value = datetime(2019, 1, 1, tzinfo=timezone(timedelta(hours=8)))
        elif f.name in given:
            value = given[f.name]
        else:
            pytest.fail(f"SearchRequest.{f.name} is new: log it as a filter (search/query_filters.py) "
                        "or name it in NOT_FILTERS, and give it a value here")
        req = SearchRequest(q="香港", group=True, **{f.name: value})
        assert filters_of(req), f.name
        words = without_filters(req)
        assert getattr(words, f.name) == default and filters_of(words) == {}, f.name
        assert (words.q, words.group) == ("香港", True)  # the words, counted as the search counted
        checked.append(f.name)
    assert {"category", "source", "author", "tag", "year", "date_from", "date_to", "sort"} <= set(checked)
    # The issue's example: a year is a filter, and the words' count has none.
    assert filters_of(SearchRequest(q="香港", year=["2019", "2019", ""])) == {"year": ["2019"]}
    assert without_filters(SearchRequest(q="香港", year=["2019"])).year == []


@pytest.mark.parametrize("filters", [
    {"category": ["体育"]}, {"source": ["中新网", "新华社"]}, {"author": ["张三"]}, {"tag": ["选举"]},
    {"year": ["2019"]}, {"year": ["2012", "2019"], "category": ["体育"]}, {"range": "week"},
    {"from": "1990-01-01T00:00:00+08:00", "to": "1991-01-01T00:00:00+08:00", "sort": "oldest"},
    {"sort": "newest"},
])
def test_the_staff_link_runs_the_logged_search_again(web_app, filters):
    """``filters_url`` of a logged search's filters, read back as the
    results page reads its URL, is the same search (the same filters)."""
    from urllib.parse import parse_qsl, urlsplit

    from werkzeug.datastructures import MultiDict

    from search.query_filters import filters_of
    from web.filter_wording import filters_url
    from web.params import search_request

    with web_app.test_request_context("/"):
        url = filters_url("香港", filters)
    args = MultiDict(parse_qsl(urlsplit(url).query))
    req = search_request(args, web_app.config)
    assert req.q == "香港" and filters_of(req, args.get("range")) == filters


@pytest.mark.parametrize("hl, expected", [
    ("zh-Hans", "年份：2012；来源：x"), ("zh-Hant", "年份：2012；來源：x"), ("en", "Year: 2012; Source: x")])
def test_a_year_filter_is_worded_in_each_language(web_app, hl, expected):
    from web.filter_wording import filters_text

    with web_app.test_request_context(f"/?hl={hl}"):
        text = filters_text({"source": ["x"], "year": ["2012"]})
    assert sorted(text.replace("; ", "；").split("；")) == sorted(expected.replace("; ", "；").split("；"))


NO_HK_YEAR = "2012"  # the sample has articles of 2012, none of them with 香港


def test_a_year_that_leaves_nothing_is_a_filter_not_words_that_find_nothing(sample_index, tmp_path):
    """/search?q=香港&year=2012 finds nothing: logged with its year as "the
    filters leave nothing" (with what 香港 alone finds), never as "香港
    finds nothing"; 香港 stays a hot search; the staff page words the year
    and links to the same search."""
    log_path = tmp_path / "q.sqlite"
    app = make_app(sample_index, log_path)
    client = app.test_client()
    found = client.get(f"/api/search?q={quote('香港')}&year={NO_HK_YEAR}&size=1").get_json()["total"]
    assert found == 0 and client.get(f"/api/search?year={NO_HK_YEAR}&size=1").get_json()["total"] > 0
    for i in range(3):  # three readers: 香港 would be a hot search
        assert client.get(f"/search?q=香港&year={NO_HK_YEAR}",
                          environ_base={"REMOTE_ADDR": f"192.0.2.{i}"}).status_code == 200
    words = client.get("/api/search?q=" + quote("香港") + "&size=1").get_json()["total"]
    assert words > 0

    zero = client.get("/api/queries?days=1&zero=1", headers=STAFF).get_json()
    assert [r["q"] for r in zero["queries"]] == []
    out = client.get("/api/queries?days=1&zero=filters", headers=STAFF).get_json()["queries"]
    assert [(r["q"], r["count"], r["filters"], r["words_results"]) for r in out] == [
        ("香港", 4, {"year": [NO_HK_YEAR]}, words)]  # the API's search above and the three readers' pages
    assert hot_links(client) == [quote("香港")]
    staff = app.test_client()
    staff.post("/staff/login", data={"token": STAFF_TOKEN}, headers=SAME_SITE)
    page = staff.get("/staff/queries?days=1").get_data(as_text=True)
    filtered_table = page.split('id="filtered-out-queries"', 1)[1].split("</table>", 1)[0]
    assert f"年份：{NO_HK_YEAR}" in filtered_table and f"<td>{words}</td>" in filtered_table
    assert f'href="/search?q=%E9%A6%99%E6%B8%AF&amp;year={NO_HK_YEAR}"' in filtered_table
