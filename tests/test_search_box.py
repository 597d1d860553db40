"""Suggestions, hot and zero-result searches, moderation: engine and HTTP
API on the real sample (the dropdown itself: tests/test_browser.py)."""

import time
from urllib.parse import quote

import pytest

from conftest import STAFF, validated
from search.engine import SearchEngine
from search.normalize import fold_case, normalize_query
from search.querylog import QueryLog


def norm(text):
    return fold_case(normalize_query(text))


@pytest.fixture(scope="module")
def logged_engine(sample_index, tmp_path_factory):
    """An engine whose query log already has readers' queries."""
    log = QueryLog(str(tmp_path_factory.mktemp("ql") / "q.sqlite"), hot_ttl=0)
    now = time.time()
    for q, n, total in [("香港电影节", 30, 12), ("香港色情", 50, 3), ("不存在的词xyzzy", 7, 0), ("疫苗", 5, 40)]:
        for i in range(n):  # five readers a day
            log.record(q, total, ts=now - i, client=f"198.51.100.{i % 5}")
    log.record("很久以前的查询", 5, ts=now - 90 * 86400)
    engine = SearchEngine.open(sample_index, refresh_interval=0, query_log=log)
    engine.suggester.get(wait=120)
    return engine


def test_suggestions_complete_the_prefix(logged_engine):
    got = logged_engine.suggest("中")
    assert len(got) == 8
    assert all(norm(s).startswith("中") and norm(s) != "中" for s in got)
    assert got[0] == "中国"  # the most used headline word first


def test_popular_queries_are_suggested_and_blocked_ones_never(logged_engine):
    got = logged_engine.suggest("香港", limit=20)
    assert "香港电影节" in got
    assert not any("色情" in s for s in got)


def test_the_last_of_several_words_is_completed(logged_engine):
    got = logged_engine.suggest("香港 中")
    assert got and all(s.startswith("香港 中") for s in got) and "香港 中国" in got


def test_pinyin_and_initials_suggest_the_word(logged_engine):
    assert "香港" in logged_engine.suggest("xiangg")
    assert "香港" in logged_engine.suggest("xianggang")
    assert "香港" in logged_engine.suggest("xg")


def test_readers_queries_are_shown_in_the_script_typed(logged_engine):
    """A query logged in Simplified (香港电影节) is offered in Traditional to
    a reader typing Traditional (OpenCC's conversion, as no article or
    tag writes it), and as logged to one typing Simplified."""
    from search.script import script_of

    assert "香港電影節" in logged_engine.suggest("香港電", limit=20)
    assert "香港电影节" in logged_engine.suggest("香港电", limit=20)
    assert all(script_of(s) != "simplified" for s in logged_engine.suggest("香港電", limit=20))


def test_the_script_of_typed_text():
    from search.script import script_of, to_traditional

    assert [script_of(t) for t in ("林鄭", "林郑", "香港", "xg", "国務", "香港 選", "")] == \
        ["traditional", "simplified", None, None, "traditional", "traditional", None]
    # The Traditional forms the sample's Hong Kong articles use most (裡, 著, 衛: see search/script.py).
    assert to_traditional("武汉肺炎 里面 卫生") == "武漢肺炎 裡面 衛生"


def test_hot_and_zero_result_queries(logged_engine):
    now = time.time()
    hot = logged_engine.hot_queries(7, limit=10)
    # Blocked (香港色情) and zero-result queries are never hot.
    assert [r["q"] for r in hot] == ["香港电影节", "疫苗"]
    staff = logged_engine.top_queries(now - 7 * 86400, now + 1, limit=10, moderated=False)
    assert staff[0]["q"] == "香港色情" and staff[0]["blocked"]
    zero = logged_engine.top_queries(now - 7 * 86400, now + 1, zero_only=True, moderated=False)
    assert [r["q"] for r in zero] == ["不存在的词xyzzy"]


def test_edited_blocklist_applies_without_restart(sample_index, tmp_path, monkeypatch):
    from search import watched

    monkeypatch.setattr(watched, "CHECK_INTERVAL", 0.0)
    path = tmp_path / "blocklist.txt"
    path.write_text("# empty\n", encoding="utf-8")
    engine = SearchEngine.open(sample_index, refresh_interval=0, blocklist_path=str(path))
    engine.suggester.get(wait=120)
    assert "中国" in engine.suggest("中")
    path.write_text("中国\n", encoding="utf-8")
    import os

    os.utime(path, (time.time() + 5, time.time() + 5))
    assert engine.suggest("中") and not any("中国" in s for s in engine.suggest("中"))


def test_queries_are_logged_without_ips_and_reported(client, openapi):
    for i, q in enumerate(["香港", "香港", "香港", "鱻龘qwzx"]):  # 香港 by three readers
        assert client.get("/search?q=" + quote(q), environ_base={"REMOTE_ADDR": f"203.0.113.{9 + i}"}).status_code == 200
    client.get("/api/search?q=" + quote("疫苗"))
    data = validated(client, openapi, "/api/queries?days=1", headers=STAFF).get_json()
    rows = {r["q"]: r for r in data["queries"]}
    assert rows["香港"]["count"] >= 3 and rows["香港"]["results"] > 0 and "疫苗" in rows
    zero = validated(client, openapi, "/api/queries?days=1&zero=1", headers=STAFF).get_json()["queries"]
    # (The session's query log is shared with other tests: only this test's rows are known.)
    assert "鱻龘qwzx" in [r["q"] for r in zero] and all(r["results"] == 0 for r in zero)
    assert not {"香港", "疫苗"} & {r["q"] for r in zero}
    log_file = client.application.config["SEARCH_QUERY_LOG"]
    with open(log_file, "rb") as f:
        assert b"203.0.113." not in f.read()
    home = client.get("/").get_data(as_text=True)
    assert "热门搜索" in home and "/search?q=%E9%A6%99%E6%B8%AF" in home
    assert "qwzx" not in home  # zero-result queries are not recommended
    assert client.get("/staff/queries?days=1").status_code == 401  # the public never sees it
    assert client.get("/api/queries?days=1").status_code == 401
    staff = client.get("/staff/queries?days=1", headers=STAFF).get_data(as_text=True)
    assert "鱻龘qwzx" in staff and "零结果查询" in staff


def test_suggest_api(client, openapi):
    deadline = time.time() + 60
    while True:  # built in the background when the index opens
        data = validated(client, openapi, "/api/suggest?q=" + quote("中")).get_json()
        if data["suggestions"] or time.time() > deadline:
            break
        time.sleep(0.5)
    assert data["query"] == "中" and data["suggestions"][0] == "中国"
    assert validated(client, openapi, "/api/suggest?q=").get_json()["suggestions"] == []
    assert validated(client, openapi, "/api/suggest?q=x&size=0", status=400).get_json()["status"] == 400
