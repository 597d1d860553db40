"""Safety under abuse: rate limits, query timeouts, size limits, security
headers, metrics, and fuzzing (Hypothesis on the query parser,
schemathesis on the HTTP API from its own OpenAPI document)."""

import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import STAFF, STAFF_TOKEN, digest, leaf_text, query_leaves, typed_key


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


# ---- fuzzing -----------------------------------------------------------------------------------
@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_query_parser_accepts_any_unicode(text):
    from search import query as q

    parsed = q.parse(text)  # never raises
    leaves = [leaf for node in parsed.must + parsed.must_not for leaf in query_leaves(node)]
    assert all(isinstance(leaf, (q.Words, q.Phrase, q.FieldValue)) for leaf in leaves), leaves
    # every leaf comes from the text typed (folded): the parser invents nothing
    assert [leaf for leaf in leaves if typed_key(leaf_text(leaf)) not in typed_key(text)] == [], text
    assert all(isinstance(n, q.Notice) and n.code and n.message for n in parsed.notices)


_OPERATORS = ["AND", "OR", "NOT", "(", ")", "（", "）", "w/5", "pre/3", "w/s", "w/p", "near/2", "w/x", "w/0",
              "SAME", "and", "title:", "lead:", "atleast3:", "author:", '"', "-", "\u200b", "\u00ad", "\u202e"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_OPERATORS + ["香港", "选举", "疫苗", "C#", "a股", " "]), max_size=12))
def test_query_parser_reads_any_operator_sequence(tokens):
    """Operators in any order, dangling, unbalanced: a query tree and
    notices, never an exception; a malformed operator is never searched."""
    from search import query as q

    parsed = q.parse(" ".join(tokens))
    words = [n.text for n in parsed.must + parsed.must_not if isinstance(n, q.Words)]
    assert not any(w in ("AND", "OR", "NOT", "SAME", "w/x", "w/0") for w in words), (tokens, words)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list('香港选舉 "-OR|:SAME title lead atleast3 author 的。，!？\u3000()/w5pN')
                                + ["\x00", "🙂", "\u200b", "\u00ad", " AND ", " NOT ", " w/3 ", " pre/2 ", " w/s "]),
                max_size=30).map("".join))
def test_engine_answers_any_query(engine, text):
    from search.models import SearchRequest

    result = engine.search(SearchRequest(q=text, size=3, facets=()))
    assert 0 <= result.total_full <= result.total <= (result.total_articles if result.grouped else result.total), text
    assert sum(h.match["full"] for h in result.hits) == min(len(result.hits), result.total_full), text  # full matches first
    assert len(result.hits) == min(3, result.total), (text, len(result.hits), result.total)


def test_schemathesis_finds_no_server_error(web_app):
    """Every documented operation, with generated parameters: no 5xx, and
    every response matches the OpenAPI document."""
    import schemathesis
    from hypothesis import settings as hsettings

    @schemathesis.serializer("application/x-ndjson")
    class NDJSON:  # the bulk upload's body: text, one JSON document per line
        def as_requests(self, context, value):
            return {"data": value if isinstance(value, (str, bytes)) else str(value)}

        def as_werkzeug(self, context, value):
            return self.as_requests(context, value)

    schema = schemathesis.from_wsgi("/api/openapi.json", web_app)
    failures = []
    cases = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = operation.as_strategy()

        @hsettings(max_examples=25, deadline=None, database=None,
                   suppress_health_check=list(HealthCheck))
        @given(strategy)
        def run(case):
            nonlocal cases
            cases += 1
            response = case.call(headers=STAFF)
            if response.status_code >= 500:
                failures.append((operation.verbose_name, case.path_parameters, case.query, response.status_code))
            case.validate_response(response, checks=(schemathesis.checks.status_code_conformance,
                                                     schemathesis.checks.response_schema_conformance))

        run()
    assert not failures, failures[:5]
    assert cases >= 200
    print(f"\nschemathesis: {cases} generated requests, 0 server errors")
