"""Safety under abuse: rate limits, query timeouts, size limits, security
headers, metrics (the fuzzing is in test_fuzz.py)."""

import re

import pytest
from conftest import STAFF, STAFF_TOKEN, digest


@pytest.fixture
def app_with(sample_index, tmp_path):
    from web import create_app

    def make(**config):
        return create_app({"SEARCH_INDEX": sample_index, "SEARCH_QUERY_LOG": "off",
                           "SEARCH_ARTICLE_STORE": "off", "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),),
                           **config})

    return make


def test_rate_limit_per_client_with_retry_after(app_with):
    client = app_with(SEARCH_RATE_LIMIT="5/minute").test_client()
    codes = [client.get("/api/search?q=%E9%A6%99%E6%B8%AF", environ_base={"REMOTE_ADDR": "10.9.9.1"}).status_code
             for _ in range(7)]
    assert codes[:5] == [200] * 5 and codes[5:] == [429, 429]
    resp = client.get("/api/search?q=a", environ_base={"REMOTE_ADDR": "10.9.9.1"})
    assert resp.status_code == 429 and int(resp.headers["Retry-After"]) >= 1 and "too many" in resp.get_json()["error"]
    # Another client is not affected; nor are the pages' static files or the health check.
    assert client.get("/api/search?q=a", environ_base={"REMOTE_ADDR": "10.9.9.2"}).status_code == 200
    assert client.get("/healthz", environ_base={"REMOTE_ADDR": "10.9.9.1"}).status_code == 200
    page = client.get("/search?q=a", environ_base={"REMOTE_ADDR": "10.9.9.1"})
    assert page.status_code == 429 and "请求太频繁" in page.get_data(as_text=True)


def test_expensive_query_is_stopped(app_with):
    client = app_with(SEARCH_QUERY_TIMEOUT=1e-9, SEARCH_RATE_LIMIT="off").test_client()
    resp = client.get("/api/search?q=%E9%A6%99%E6%B8%AF%20SAME%20%E9%80%89%E4%B8%BE")
    assert resp.status_code == 503 and "took longer" in resp.get_json()["error"]
    assert client.get("/search?q=%E9%A6%99%E6%B8%AF").status_code == 503


def test_limits_on_sizes(app_with):
    client = app_with(SEARCH_RATE_LIMIT="off").test_client()
    assert client.get("/api/search?q=" + "字" * 201).status_code == 400  # query length
    assert client.get("/api/search?size=101").status_code == 400
    small = app_with(MAX_CONTENT_LENGTH=1000, SEARCH_ARTICLE_STORE="off").test_client()
    resp = small.post("/api/articles:bulk", data="x" * 5000, headers=STAFF)
    assert resp.status_code in (403, 413)  # refused before reaching the (disabled) store


def test_security_headers_on_pages(app_with):
    client = app_with(SEARCH_RATE_LIMIT="off").test_client()
    for path in ("/", "/search?q=a", "/advanced", "/staff/login"):
        resp = client.get(path)
        csp = resp.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
        assert resp.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
        assert "<script>" not in resp.get_data(as_text=True)  # no inline script anywhere


def test_metrics_in_prometheus_format(app_with):
    client = app_with(SEARCH_RATE_LIMIT="off").test_client()
    client.get("/api/search?q=%E9%A6%99%E6%B8%AF")
    client.get("/api/search?size=0")
    text = client.get("/metrics").get_data(as_text=True)
    assert re.search(r'news_search_http_requests_total\{endpoint="/api/search",method="GET",status="200"\} \d', text)
    assert re.search(r'news_search_http_requests_total\{endpoint="/api/search",method="GET",status="400"\} \d', text)
    assert 'news_search_http_request_seconds_bucket{endpoint="/api/search",le="0.1"}' in text
    assert re.search(r"^news_search_index_documents 2000$", text, re.M)
    assert re.search(r"^news_search_index_last_commit_timestamp_seconds \d", text, re.M)
