"""Fuzzing, in one place: Hypothesis on the query parser and the engine
(any text, any operator sequence), schemathesis on the HTTP API from its
own OpenAPI document."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import STAFF, leaf_text, query_leaves, typed_key
from search import query as q
from search.models import SearchRequest


@settings(max_examples=400, deadline=None)
@given(st.text(max_size=300))
def test_query_parser_accepts_any_unicode(text):
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
    parsed = q.parse(" ".join(tokens))
    words = [n.text for n in parsed.must + parsed.must_not if isinstance(n, q.Words)]
    assert not any(w in ("AND", "OR", "NOT", "SAME", "w/x", "w/0") for w in words), (tokens, words)


# The characters and pieces of both earlier engine fuzzers (test_cli_and_safety's and test_safety's).
_QUERY_PIECES = (list('香港选舉举 "-OR|:SAME title lead atleast3 author 的。，!？\u3000()/w5pN「」*?\\ａ１')
                 + ["\x00", "🙂", "😀", "\u200b", "\u00ad", " AND ", " NOT ", " w/3 ", " pre/2 ", " w/s ", ":title"])


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(_QUERY_PIECES), max_size=30).map("".join))
def test_engine_answers_any_query(engine, text):
    result = engine.search(SearchRequest(q=text, size=3, facets=()))
    # the totals add up and the page holds what they promise
    assert 0 <= result.total_full <= result.total <= (result.total_articles if result.grouped else result.total), text
    assert sum(h.match["full"] for h in result.hits) == min(len(result.hits), result.total_full), text  # full first
    assert len(result.hits) == min(3, result.total), (text, len(result.hits), result.total)


def test_schemathesis_finds_no_server_error(web_app):
    """Every documented operation, with generated parameters: no 5xx, and
    every response matches the OpenAPI document."""
    import schemathesis
    from hypothesis import settings as hsettings

    @schemathesis.serializer("application/x-ndjson", aliases=["text/html"])
    class Text:  # the bulk upload's body (one JSON document per line), a saved page's HTML: text
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
