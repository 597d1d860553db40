"""OpenAPI 3 description of the JSON API (a test validates real responses against it).

Size: over 400 lines of declarations (schemas, parameters, paths), no
logic; one document read top to bottom as the API's reference.
"""

from __future__ import annotations

from search.explain import COMPONENTS as EXPLAIN_COMPONENTS, FACTORS as EXPLAIN_FACTORS
from search.fields import DEFAULT_FACETS, FACET_FIELDS
from search.hybrid import NOTICE_CODES as HYBRID_NOTICE_CODES
from search.wordbreak import NOTICE_CODE as LATIN_WORDS
from search.timeutil import BOUND_PATTERN, YEAR_PATTERN

from . import openapi_examples, openapi_saved
from .params import ADVANCED, FILTERS

_STR_OR_NULL = {"type": "string", "nullable": True}

HIT = {
    "type": "object",
    "required": ["id", "title", "title_highlight", "snippet", "published", "category", "source",
                 "author", "url", "score", "match"],
    "properties": {
        "id": {"type": "string"},
        "title": {"type": "string"},
        "title_highlight": {"type": "string", "description": "HTML: escaped text with <mark> around matches"},
        "snippet": {"type": "string", "description": "HTML: escaped text with <mark> around matches"},
        "published": _STR_OR_NULL,
        "category": _STR_OR_NULL,
        "source": _STR_OR_NULL,
        "author": _STR_OR_NULL,
        "url": _STR_OR_NULL,
        "score": {"type": "number"},
        "tags": {"type": "array", "items": {"type": "string"}},
        "similar_count": {"type": "integer", "minimum": 1,
                          "description": "Grouped search: other matching near-duplicates of this article"},
        "similar": {"type": "array", "items": {"$ref": "#/components/schemas/Brief"},
                    "description": "Grouped search: those near-duplicates (at most 20), earliest first"},
        "match": {"$ref": "#/components/schemas/Match"},
        "explain": {"$ref": "#/components/schemas/Explain"},
    },
}
MATCH = {
    "type": "object", "required": ["full", "missing"], "additionalProperties": False,
    "description": "How this hit matches the query",
    "properties": {
        "full": {"type": "boolean", "description": "true: it matches every clause; false: a partial match "
                                                   "(only for queries of plain words: see relaxed)"},
        "missing": {"type": "array", "items": {"type": "string"},
                    "description": "the query words a partial match lacks (as in understood: a word, or "
                                   "'a OR b' for a word and its synonyms); empty for a full match and for a "
                                   "hit found by meaning"},
        "by": {"type": "string", "enum": ["words", "dense"],
               "description": "mode=hybrid or semantic only: words, a match of the query's words (hybrid); "
                              "dense, found by meaning (counted in dense_total, never in total; full is then "
                              "false and missing empty, whatever the article holds). In hybrid mode a dense hit "
                              "is no match of the query's words: it lacks some or all of them; in semantic "
                              "mode every hit is dense: ranked by meaning, its plain words not matched (what "
                              "was typed exactly holds), so it says nothing of whether the article has them"},
        "similarity": {"type": "number", "nullable": True,
                       "description": "mode=hybrid or semantic only: cosine of the query's and the article's "
                                      "dense vectors (-1..1); null when the article has no vector yet"}},
}


# How the query was understood: a tree of the clauses searched (search/plan.py describe()).
def _clause(op: str, desc: str, required=(), **props) -> dict:
    return {"type": "object", "description": desc, "additionalProperties": False,
            "required": ["op", *required],
            "properties": {"op": {"type": "string", "enum": [op]}, **props}}


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


_CLAUSES = {"type": "array", "items": _ref("Clause")}
_FIELDS = {"type": "array", "minItems": 1, "items": {"type": "string", "enum": ["title", "body"]},
           "description": "where the text is looked up (body only: inside a lead clause)"}
_TERMS = {"type": "array", "minItems": 1, "items": _ref("ClausePhrase"), "description": "alternatives (a OR b)"}
CLAUSE_SCHEMAS = {
    "Clause": {"description": "One clause of the query as searched; op tells which",
               "oneOf": [_ref(n) for n in ("ClauseAnd", "ClauseOr", "ClauseWord", "ClausePhrase", "ClauseField",
                                           "ClauseLead", "ClauseAtLeast", "ClauseNear")]},
    "ClauseAnd": _clause("and", "Every clause of clauses, and none of not", ["clauses"],
                         clauses=_CLAUSES, **{"not": {**_CLAUSES, "description": "excluded clauses"}}),
    "ClauseOr": _clause("or", "Any of clauses", ["clauses"], clauses=_CLAUSES),
    "ClauseWord": _clause("word", "A word: as a word, or (ranked lower) inside a longer word", ["text", "fields"],
                          text={"type": "string"}, fields=_FIELDS,
                          whole_word={"type": "boolean",
                                      "description": "only as a whole word (a regional alternative: 软体 for 软件)"}),
    "ClausePhrase": _clause("phrase", "Exact text", ["text", "fields"], text={"type": "string"}, fields=_FIELDS),
    "ClauseField": _clause("field", "The article's author, source, category or a tag contains value",
                           ["field", "value"], field={"type": "string", "enum": ["author", "source", "category", "tag"]},
                           value={"type": "string"}),
    "ClauseLead": _clause("lead", "clause matched in the first paragraph (lead:)", ["clause"], clause=_ref("Clause")),
    "ClauseAtLeast": _clause("atleast", "clause occurs at least count times in title and body (atleastN:)",
                             ["count", "clause"], count={"type": "integer", "minimum": 1, "maximum": 100},
                             clause=_ref("ClausePhrase")),
    "ClauseNear": _clause(
        "near", "A term of left and a term of right close together in the title or in the body (words counted as "
                "the index counts them: jieba's words, punctuation is not a word)",
        ["operator", "unit", "left", "right"],
        operator={"type": "string", "pattern": "^(w/[0-9]+|pre/[0-9]+|w/s|w/p)$",
                  "description": "as written in the query language"},
        unit={"type": "string", "enum": ["word", "sentence", "paragraph"],
              "description": "word: at most distance words apart; sentence/paragraph: in one sentence/paragraph"},
        left=_TERMS, right=_TERMS,
        distance={"type": "integer", "minimum": 1, "maximum": 100, "description": "unit word: at most this many words apart"},
        ordered={"type": "boolean", "description": "unit word: a term of left comes first (pre/N)"}),
}
NOTICE_CODES = {
    "malformed_operator": "looks like an operator but is not one (w/x, atleast:word): not read as an operator",
    "unclosed_quote": "a quote without its closing quote: the phrase runs to the end",
    "distance_out_of_range": "w/N or pre/N with N outside 1..100: the nearest allowed distance is used",
    "count_out_of_range": "atleastN: with N outside 1..100: the nearest allowed count is used",
    "dangling_operator": "AND, OR, NOT or a proximity operator without a term on one side: ignored",
    "leading_not": "NOT at the start: what follows is excluded (as with -)",
    "proximity_operand": "a proximity operator beside something other than a word, a phrase or (a OR b): read as AND",
    "unbalanced_parenthesis": "a '(' without ')' (closed at the end) or a ')' without '(' (ignored)",
    "field_group": "author:, source:, category: or tag: before a group: the group is searched without the field",
    "lowercase_operator": "and / or / not / same not in upper case beside a Chinese term: searched as a word",
    "empty_field": "a field (title:, author:, atleast3: ...) with nothing after it: ignored",
    "unknown_field": "a misspelt field name (tittle:, auther:): read as the field it is close to",
    "empty_group": "parentheses with nothing to search inside: ignored",
    "empty_phrase": "quotes with nothing inside (\"\"): ignored",
    "no_wildcard": "'*' or '?' in a word: not a wildcard; read as a space, like other punctuation",
    **HYBRID_NOTICE_CODES,
    LATIN_WORDS: "a run-together Latin word that no article has (roughguidemorocco): also searched as the "
                 "English words it is made of, listed in words",
}
EXPLAIN_PART = {
    "type": "object", "required": ["name", "value", "detail"],
    "properties": {"name": {"type": "string"}, "value": {"type": "number"},
                   "detail": {"type": "object", "description": "the formula's inputs (raw: the value before the "
                                                               "factors; weights, k1, b; per Lucene field)"}}}
EXPLAIN = {
    "type": "object", "required": ["backend", "combine", "total", "match_tier", "components", "factors"],
    "description": "With explain=1 (staff): how the score is made. score (rounded to 4 decimals) = total = the sum "
                   "of the components' values; each value has the factors listed in its applies_to already "
                   "multiplied in. Components: " + "; ".join(f"{k}: {v}" for k, v in EXPLAIN_COMPONENTS.items())
                   + ". Factors: " + "; ".join(f"{k}: {v}" for k, v in EXPLAIN_FACTORS.items()),
    "properties": {
        "backend": {"type": "string", "enum": ["whoosh", "opensearch"]},
        "combine": {"type": "string", "enum": ["sum"]},
        "total": {"type": "number", "description": "the hit's score, unrounded"},
        "match_tier": {"type": "string", "enum": ["full", "partial", "fallback"],
                       "description": "full matches rank before partial ones, partial before bigram fallbacks"},
        "components": {"type": "array", "items": {**EXPLAIN_PART, "properties": {
            **EXPLAIN_PART["properties"], "name": {"type": "string", "enum": list(EXPLAIN_COMPONENTS)}}}},
        "factors": {"type": "array", "items": {
            "type": "object", "required": ["name", "value", "applies_to", "detail"],
            "properties": {"name": {"type": "string", "enum": list(EXPLAIN_FACTORS)}, "value": {"type": "number"},
                           "applies_to": {"type": "array", "items": {"type": "string"}},
                           "detail": {"type": "object"}}}},
        "coverage": {"type": "object", "description": "partial matches: how much of the query they cover "
                                                      "(Whoosh: idf shares and the factor; OpenSearch: clauses)"},
        "scored_by": {"type": "string", "description": "grouped search: the group's article whose score this is, "
                                                       "when not the one shown"},
        "tier_bonus": {"type": "number", "description": "OpenSearch: the partial-match query's ranking bonus of "
                                                        "a full match, left out of the score"},
        "lucene_score": {"type": "number", "description": "OpenSearch: the score Lucene explained"},
    },
}

NOTICE = {
    "type": "object", "required": ["code", "text", "message"], "additionalProperties": False,
    "description": "How a part of the query that could not be read as typed was read (or, in hybrid and "
                   "semantic mode, how results were found: dense_results, vectors_backlog, dense_rerank_only)",
    "properties": {
        "code": {"type": "string", "enum": list(NOTICE_CODES),
                 "description": "stable identifier: " + "; ".join(f"{k}: {v}" for k, v in NOTICE_CODES.items())},
        "text": {"type": "string", "description": "the part of the query concerned, as typed"},
        "message": {"type": "string", "description": "an English sentence (pages word it their own way per code)"},
        "words": {"type": "array", "items": {"type": "string"},
                  "description": "latin_words: the words the text was read as, in order"}},
}
BRIEF = {
    "type": "object", "required": ["id", "title", "published", "source", "url"],
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "published": _STR_OR_NULL,
                   "source": _STR_OR_NULL, "url": _STR_OR_NULL, "lang": _STR_OR_NULL},
}
FACET_LIST = {
    "type": "array",
    "items": {"type": "object", "required": ["value", "count"],
              "properties": {"value": {"type": "string"}, "count": {"type": "integer", "minimum": 0}}},
}
ERROR = {"type": "object", "required": ["error", "status"],
         "properties": {"error": {"type": "string"}, "status": {"type": "integer"}}}
ARTICLE = {
    "type": "object",
    "required": ["id", "title", "body", "published", "category", "source", "author", "url", "tags"],
    "properties": {
        "id": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"},
        "published": _STR_OR_NULL, "category": _STR_OR_NULL, "source": _STR_OR_NULL,
        "author": _STR_OR_NULL, "url": _STR_OR_NULL, "lang": _STR_OR_NULL,
        "tags": {"type": "array", "items": {"type": "string"}},
        "photo_credits": {"type": "array", "items": {"type": "string"},
                          "description": "Photo credits found in the text (图片来源：…), kept out of the body"},
    },
}


# Article ids: up to 200 characters without whitespace (indexer/records.py).
ID_PARAM = {"name": "id", "in": "path", "required": True,
            "schema": {"type": "string", "pattern": "^[^\\s]{1,200}$"}}
BEARER = [{"bearer": []}]
STAFF_AUTH = [{"bearer": []}, {"staffSession": []}]
WRITE_RESULT = {
    "type": "object", "required": ["seq", "status"],
    "properties": {"id": {"type": "string"}, "seq": {"type": "integer"},
                   "status": {"type": "string", "enum": ["indexed", "queued"]},
                   "status_url": {"type": "string"}, "deleted": {"type": "boolean"},
                   "problem": {"type": "string", "description": "why a stored change is not readable yet "
                                                                "(a damaged index: it comes back with the rebuild)"},
                   "accepted": {"type": "integer"},
                   "rejected": {"type": "array", "items": {"type": "object"}},
                   "ignored_fields": {"type": "array", "items": {"type": "string"},
                                      "description": "fields of the article(s) that an article does not take: "
                                                     "accepted, not stored (a field that looks like a misspelling "
                                                     "of one it takes, such as 'publshed', is a 400 instead)"}},
}
ARTICLE_IN = {
    "type": "object", "required": ["title"],
    "properties": {"id": {"type": "string"}, "title": {"type": "string"}, "body": {"type": "string"},
                   "published": {"type": "string", "description": "ISO 8601"},
                   "category": {"type": "string"}, "source": {"type": "string"}, "author": {"type": "string"},
                   "url": {"type": "string"}, "lang": {"type": "string"},
                   "tags": {"type": "array", "items": {"type": "string"}},
                   "photo_credits": {"type": "array", "items": {"type": "string"}}},
}


def _json(schema):
    return {"content": {"application/json": {"schema": schema}}}


def _err(desc):
    return {"description": desc, **_json({"$ref": "#/components/schemas/Error"})}


AUTH_ERRORS = {"401": _err("No token"), "403": _err("Wrong token, or writes disabled")}



# A date range bound, read by search.timeutil.parse_bound: a whole day in
# Beijing time, or an ISO 8601 date-time.
DATE_BOUND = {"type": "string", "pattern": BOUND_PATTERN}

# The advanced fields (web/params.py ADVANCED: the names) and the filters
# (web/params.py FILTERS): their schemas and descriptions.  A name params.py
# adds to ADVANCED needs its entry here (the document is built from those
# names: a missing entry fails at once); a filter gets a generic one.
_TEXT = {"type": "string", "maxLength": 200}
ADVANCED_DOCS = {
    "all": (_TEXT, "Advanced: all of these words (added to q as query text)"),
    "exact": (_TEXT, "Advanced: this exact phrase"),
    "any": (_TEXT, "Advanced: any of these words"),
    "none": (_TEXT, "Advanced: none of these words"),
    "scope": ({"type": "string", "enum": ["all", "title", "lead"], "default": "all"},
              "Advanced: where all/exact/any must occur: anywhere, title, or lead (first paragraph)"),
    "mentions": (_TEXT, "Advanced: a term that must occur at least min_mentions times"),
    "min_mentions": ({"type": "integer", "minimum": 1, "maximum": 100}, "Advanced: for mentions (default 2)"),
    "same_a": (_TEXT, "Advanced: with same_b, two terms in one sentence (or paragraph: same_unit); written as `a w/s b`"),
    "same_b": (_TEXT, "Advanced: the second term for same_a"),
    "same_unit": ({"type": "string", "enum": ["sentence", "paragraph"], "default": "sentence"},
                  "Advanced: same_a and same_b in one sentence (`w/s`) or in one paragraph (`w/p`)"),
    "near_a": (_TEXT, "Advanced: with near_b and near_n, two terms at most near_n words apart; written as `a w/N b`"),
    "near_b": (_TEXT, "Advanced: the second term for near_a"),
    "near_n": ({"type": "integer", "minimum": 1, "maximum": 100},
               "Advanced: at most this many words between near_a and near_b (required with them)"),
    "near_order": ({"type": "string", "enum": ["0", "1"], "default": "0"},
                   "Advanced: 1: near_a must come first (written as `a pre/N b`); 0: either order"),
    "byline": (_TEXT, "Advanced: author contains"),
    "source_has": (_TEXT, "Advanced: source contains"),
    "category_has": (_TEXT, "Advanced: category contains"),
}
_FILTER_DOCS = {"category": "Only these categories (repeatable)", "source": "Only these sources (repeatable)",
                "author": "Only these authors (repeatable)", "tag": "Only articles with these tags (repeatable)",
                "year": "Only articles published in these calendar years, Beijing time (repeatable; "
                        "2023-12-31T16:30:00Z is 2024): the year facet's values"}
_FILTER_SCHEMAS = {"year": {"type": "array", "items": {"type": "string", "pattern": YEAR_PATTERN}}}


def _filter_doc(name: str) -> str:
    return _FILTER_DOCS.get(name, f"Only articles whose {name} is one of these (repeatable)")


TIMELINE_BUCKETS = {"type": "array", "items": {
    "type": "object", "required": ["start", "count"],
    "properties": {"start": {"type": "string", "description": "2024-05-03 (day), 2024-01-08 (week: its Monday), "
                                                             "2024-05 (month), 2024 (year)"},
                   "count": {"type": "integer"},
                   "all": {"type": "integer", "description": "normalize=share: articles published in the "
                                                             "period under the same filters"},
                   "share": {"type": "number", "nullable": True,
                             "description": "normalize=share: count / all (null when all is 0)"}}}}


def _q(name, schema, desc, required=False):
    return {"name": name, "in": "query", "required": required, "schema": schema, "description": desc}


EXPLAIN_PARAM = _q(
    "explain", {"type": "string", "enum": ["0", "1"], "default": "0"},
    "1 (staff: a bearer token or the staff session; 401/403 otherwise): each hit carries explain, its score's "
    "components (BM25F per field, title bonus, proximity, recency, match tier, coverage on Whoosh; Lucene's BM25 "
    "per field on OpenSearch) adding up to the score")
# The cursor of /api/search (web/walks.py, search/cursor.py).
CURSOR_PARAM = _q("cursor", {"type": "string", "minLength": 1},
                  "Walk the whole result set on a fixed snapshot of the index: * starts (with the search "
                  "parameters), then send each answer's next_cursor (alone, or with the same parameters; size may "
                  "change; not with page). Ungrouped, in the search's order, every article once. Without staff "
                  "authentication a walk ends at SEARCH_MAX_RESULT_WINDOW articles and holds no snapshot (it pages "
                  "through the live index from an offset signed into the cursor); a staff walk's cursor needs "
                  "staff authentication (403). A cursor unused for SEARCH_CURSOR_KEEP_ALIVE seconds answers 410; "
                  "one whose search changed meanwhile (synonyms, pinyin, new words) answers 409. A walk lists the "
                  "matches of the words (lexical, whatever SEARCH_DEFAULT_MODE says): mode=hybrid or semantic with a "
                  "cursor answers 400")
CURSOR_PAGE = {
    "type": "object",
    "required": ["query", "total", "total_full", "total_partial", "walked", "size", "took_ms", "hits",
                 "next_cursor", "window_ended"],
    "properties": {
        "query": {"type": "string"},
        "total": {"type": "integer", "minimum": 0,
                  "description": "articles in the snapshot's result set (the ungrouped search's total_articles)"},
        "total_full": {"type": "integer", "minimum": 0}, "total_partial": {"type": "integer", "minimum": 0},
        "walked": {"type": "integer", "minimum": 0, "description": "articles returned so far, this page included"},
        "size": {"type": "integer", "minimum": 1}, "took_ms": {"type": "number"},
        "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
        "next_cursor": {"type": "string", "nullable": True,
                        "description": "the cursor of the next page; null at the end of the walk"},
        "window_ended": {"type": "boolean",
                         "description": "the walk ended at SEARCH_MAX_RESULT_WINDOW (no staff authentication)"},
        "notice": {"type": "string", "description": "why the walk ended early (with window_ended)"}},
    "example": {"query": "香港", "total": 1204, "total_full": 1204, "total_partial": 0, "walked": 100, "size": 100,
                "took_ms": 8.1, "hits": [], "next_cursor": "eyJzbmFwc2hvdCI6IjEyLWFiIn0.c2lnbmF0dXJl",
                "window_ended": False},
}


FACETS_PARAM = _q(
    "facets", {"type": "array", "items": {"type": "string"}, "default": [",".join(DEFAULT_FACETS)]},
    f"The facets to count, comma-separated names of {', '.join(FACET_FIELDS)} (e.g. author,tag,year; "
    "given more than once, the names join). "
    f"Absent: {', '.join(DEFAULT_FACETS)}; empty (facets=): none; an unknown name is a 400 naming the allowed "
    "ones. Each count equals total_articles of the same search filtered by that value (author=, tag=, year=...); "
    "values with the same folded form (眾聞/众闻) are one bucket shown in the form most articles use; "
    "year: the newest calendar years first (Beijing time), undated articles in none")


# Responses every operation can give, added to each by ``_complete`` from
# what the app does, so no operation can forget one:
# - every /api/ operation: 400 (a bad value, or a query parameter it does
#   not take: web/api_params.py) and 429 with Retry-After (web/limits.py:
#   every request without a valid token or staff session is counted);
# - an operation with ``security``: 401 (no credentials) and 403 (a wrong
#   token, or writes disabled);
# - an operation that uses the article store (USES_STORE): 503 with
#   Retry-After (the store cannot be opened, read or committed);
# - an operation that reads the index (READS_INDEX): 503 with Retry-After
#   (the index unavailable: 5 s; damaged: 30 s; a query stopped by
#   SEARCH_QUERY_TIMEOUT: no Retry-After);
# - an operation with a request body: 408 (the body stopped coming), 413
#   (over SEARCH_MAX_BODY_BYTES), 415 (a Content-Encoding).
READS_INDEX = {"search", "article", "related", "coverage", "timeline", "significant", "export", "suggest", "queries"}
# Operations that read or write the article store: 503 with Retry-After
# when it cannot be opened, read or committed (locked, read-only, damaged).
USES_STORE = {"putArticle", "deleteArticle", "bulk", "audit", "change"}
RETRY_AFTER = {"Retry-After": {"description": "seconds to wait before trying again",
                               "schema": {"type": "integer", "minimum": 1}}}
COMMON = {
    "400": "Invalid parameter (the error names it), or a query parameter this operation does not take "
           "(named, with the ones it takes; _ and utm_* are ignored)",
    "401": "No credentials: send Authorization: Bearer <token> (or, where a staff session is accepted, its cookie)",
    "403": "A wrong token, or writes and staff tools disabled (no SEARCH_WRITE_TOKENS)",
    "408": "The request body did not arrive within SEARCH_CLIENT_TIMEOUT seconds",
    "413": "Request body larger than SEARCH_MAX_BODY_BYTES",
    "415": "A Content-Encoding other than identity (send the body uncompressed)",
    "429": "Too many requests from this client (SEARCH_RATE_LIMIT): retry after Retry-After seconds",
    "503": "The index is not available (missing, being built, damaged: retry after Retry-After), "
           "or the query took longer than SEARCH_QUERY_TIMEOUT",
}
STORE_UNAVAILABLE = ("The article store cannot be opened, read or committed now (locked, read-only, damaged): "
                     "nothing was stored; retry after Retry-After")
EXAMPLE_ERRORS = {
    "400": "unknown query parameter 'explian': {op} takes {params}",
    "401": "authentication required: send 'Authorization: Bearer <token>'",
    "403": "the token is not valid",
    "404": "no article with id 'no-such-id'",
    "408": "the request body did not arrive: nothing came for 10 s, or the client went away",
    "409": "the query log is off (SEARCH_QUERY_LOG)",
    "413": "request body too large (at most 33554432 bytes)",
    "415": "Content-Encoding 'gzip' is not supported: send the body uncompressed (JSON, UTF-8)",
    "429": "too many requests: 20 per 1 second (retry after 1 s)",
    "503": "the search index is not available: no index at data/index",
}


def _complete(paths: dict) -> None:
    """Add the common responses (above) to every operation of ``paths``,
    the Retry-After header to every 429 and 503 of the API, and an example
    to every error response; in place."""
    for path, item in paths.items():
        for method, op in item.items():
            responses = op["responses"]
            wanted = []
            if path.startswith("/api/"):
                wanted += ["400", "429"]
            if op.get("security"):
                wanted += ["401", "403"]
            if op["operationId"] in READS_INDEX:
                wanted.append("503")
            if op["operationId"] in USES_STORE:
                responses.setdefault("503", _err(STORE_UNAVAILABLE))
            if "requestBody" in op:
                wanted += ["408", "413", "415"]
            for status in wanted:
                responses.setdefault(status, _err(COMMON[status]))
            if path.startswith("/api/") and "does not take" not in responses["400"]["description"]:
                responses["400"]["description"] += (
                    "; or a query parameter this operation does not take (named, with the ones it takes; "
                    "_ and utm_* are ignored)")
            for status, response in responses.items():
                if status in ("429", "503") and path.startswith("/api/"):
                    response["headers"] = {"Retry-After": {**RETRY_AFTER["Retry-After"], "required": status == "429"}}
                content = response.get("content", {}).get("application/json")
                if content is not None and content["schema"] == {"$ref": "#/components/schemas/Error"}:
                    names = [p["name"] for p in op.get("parameters", ()) if p.get("in") == "query"]
                    message = EXAMPLE_ERRORS.get(status, response["description"]).format(
                        op=f"{method.upper()} {path}", params=", ".join(names) or "no query parameters")
                    content["example"] = {"error": message, "status": int(status)}
            op["responses"] = dict(sorted(responses.items()))
    openapi_examples.attach(paths)


# Saved searches' webhooks (web/webhooks.py; README "Webhooks").
SEARCH_ID_PARAM = {"name": "search_id", "in": "path", "required": True, "schema": {"type": "string"},
                   "description": "the saved search's id"}
DELIVERY = {
    "type": "object", "required": ["id", "search_id", "status", "attempts", "created"],
    "properties": {
        "id": {"type": "integer", "description": "the delivery's id (sent as X-Webhook-Id, the same on each retry)"},
        "search_id": {"type": "string"},
        "status": {"type": "string", "enum": ["pending", "delivered", "failed"],
                   "description": "pending: waiting for its first attempt or a retry; failed: gave up after "
                                  "SEARCH_WEBHOOK_MAX_ATTEMPTS attempts"},
        "attempts": {"type": "integer", "minimum": 0},
        "created": {"type": "number", "description": "epoch seconds"},
        "last_attempt": {"type": "number", "nullable": True, "description": "epoch seconds"},
        "last_error": {"type": "string", "nullable": True,
                       "description": "why the last attempt failed (an HTTP status and the start of the answer, "
                                      "a timeout, a redirect not followed, the URL refused by the policy)"},
        "next_attempt": {"type": "number", "nullable": True, "description": "epoch seconds, while pending"},
        "articles": {"type": "integer", "minimum": 0, "description": "articles in the payload"}},
}
_WEBHOOK_ERRORS = {"404": _err("No saved search of that id that the caller may see (every id when "
                               "SEARCH_SAVED_SEARCHES=off: 'saved searches are off')"),
                   "503": _err("The saved-search store cannot be read or written now (locked, damaged): "
                               "nothing was changed; retry after Retry-After"),
                   "403": _err("A wrong token, staff tools disabled, or someone else's (shared) saved search: "
                               "only its owner sees and changes its webhook")}
WEBHOOK_PATHS = {
    "/api/saved-searches/{search_id}/webhook": {
        "get": {
            "summary": "A saved search's webhook and its latest deliveries, newest first (owner: staff)",
            "operationId": "getWebhook", "security": STAFF_AUTH, "parameters": [SEARCH_ID_PARAM],
            "responses": {
                "200": {"description": "The webhook URL (null: none) and at most 100 deliveries", **_json({
                    "type": "object", "required": ["id", "name", "webhook_url", "deliveries"],
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"},
                                   "webhook_url": {"type": "string", "nullable": True},
                                   "deliveries": {"type": "array", "items": DELIVERY}}})},
                **_WEBHOOK_ERRORS}},
        "put": {
            "summary": "Set a saved search's webhook (owner: staff); answers its signing secret, once",
            "description": "The URL must be https and its host must resolve only to public addresses (no "
                           "loopback, private, link-local, shared, multicast or reserved address), without "
                           "credentials; hosts in SEARCH_WEBHOOK_ALLOW_HOSTS are exempt (and may use http). "
                           "Each new alert batch is then POSTed as JSON, signed: X-Signature-256 = "
                           "sha256=HMAC-SHA256(secret, X-Webhook-Timestamp + '.' + body), see README Webhooks. "
                           "Setting a URL again makes a new secret.",
            "operationId": "putWebhook", "security": STAFF_AUTH, "parameters": [SEARCH_ID_PARAM],
            "requestBody": {"required": True, **_json({
                "type": "object", "required": ["url"], "additionalProperties": False,
                "properties": {"url": {"type": "string", "maxLength": 2000}}})},
            "responses": {
                "200": {"description": "Set: the URL and the secret (shown only here)", **_json({
                    "type": "object", "required": ["id", "webhook_url", "webhook_secret"],
                    "properties": {"id": {"type": "string"}, "webhook_url": {"type": "string"},
                                   "webhook_secret": {"type": "string",
                                                      "description": "64 hex digits: the HMAC key"}}})},
                "400": _err("The URL is refused (the error says why: not https, a private address, credentials, "
                            "a name that does not resolve ...), or the body is not {\"url\": ...}"),
                "415": _err("A Content-Type other than JSON, or a Content-Encoding other than identity"),
                **_WEBHOOK_ERRORS}},
        "delete": {
            "summary": "Clear a saved search's webhook (owner: staff); pending deliveries then fail",
            "operationId": "deleteWebhook", "security": STAFF_AUTH, "parameters": [SEARCH_ID_PARAM],
            "responses": {
                "200": {"description": "Cleared", **_json({
                    "type": "object", "required": ["id", "webhook_url"],
                    "properties": {"id": {"type": "string"},
                                   "webhook_url": {"type": "string", "nullable": True, "enum": [None]}}})},
                **_WEBHOOK_ERRORS}}},
}


def spec(config: dict) -> dict:
    max_size = config["SEARCH_MAX_PAGE_SIZE"]
    list_param = {"type": "array", "items": {"type": "string"}}
    search_params = [
        _q("q", {"type": "string", "maxLength": config["SEARCH_MAX_QUERY_LENGTH"]},
           'Query: words, "phrases", -exclusions, AND / OR / NOT (upper case) and parentheses, '
           'a w/N b (at most N words apart; also near/N), a pre/N b (a first), a w/s b (same sentence; also SAME), '
           'a w/p b (same paragraph), title:/lead:/author:/source:/category:/tag:, atleastN:term. '
           'Parts that cannot be read as typed are listed in the response\'s notices'),
        _q("page", {"type": "integer", "minimum": 1, "default": 1}, "Page number"),
        _q("size", {"type": "integer", "minimum": 1, "maximum": max_size, "default": 10}, "Hits per page"),
        _q("sort", {"type": "string", "enum": ["relevance", "newest", "oldest"], "default": "relevance"},
           "Order"),
        *({**_q(name, _FILTER_SCHEMAS.get(name, list_param), _filter_doc(name)), "explode": True} for name in FILTERS),
        _q("from", DATE_BOUND, "Published from this day on (YYYY-MM-DD: from 00:00 Beijing time), "
           "or from this instant (ISO date-time; no zone: Beijing time)"),
        _q("to", DATE_BOUND, "Published up to and including this day (YYYY-MM-DD: until 24:00 Beijing time), "
           "or before this instant (ISO date-time; no zone: Beijing time)"),
        _q("range", {"type": "string", "enum": ["day", "week", "month", "year"]},
           "Published within the last ... (not together with from/to)"),
        _q("correct", {"type": "string", "enum": ["0", "1"], "default": "1"},
           "1: a query matching no article with all its words may be answered for its correction "
           "(see corrected_from); 0: search exactly as typed"),
        *(_q(name, *ADVANCED_DOCS[name]) for name in ADVANCED),
        _q("group", {"type": "string", "enum": ["0", "1"], "default": "1"},
           "1: near-duplicates (republished or lightly edited copies) as one hit, the earliest shown, "
           "with similar_count; total then counts groups (total_counts says which). 0: every article"),
    ]
    # /api/search only: the other operations rank by words (timeline, export, significant terms)
    mode_param = _q(
        "mode", {"type": "string", "enum": ["lexical", "hybrid", "semantic"]},
        "lexical: by the query's words (BM25F); hybrid: the word matches re-ranked with meaning (reciprocal-rank "
        "fusion with the dense ranking) and, for a query of plain words only (no operator, phrase, field or "
        "exclusion), up to 100 articles found by meaning alone (match.by = dense, counted in dense_total); "
        "semantic: by meaning alone. Default: the service's SEARCH_DEFAULT_MODE (lexical). hybrid and "
        "semantic answer 400 when the semantic extra is not installed or the index has no vectors yet, 501 "
        "on OpenSearch")
    document = {
        "openapi": "3.0.3",
        "info": {"title": "News search API", "version": "1.0.0",
                 "description": "Search Chinese news articles (Simplified and Traditional)."},
        "paths": {
            "/api/search": {"get": {
                "summary": "Search articles", "operationId": "search",
                "parameters": search_params + [mode_param, FACETS_PARAM, EXPLAIN_PARAM, CURSOR_PARAM],
                "security": [{}, *BEARER, {"staffSession": []}],
                "responses": {
                    "200": {"description": "Results: a page (SearchResult), or with cursor the next part of a "
                                           "walk through the whole result set (CursorPage)",
                            **_json({"anyOf": [{"$ref": "#/components/schemas/SearchResult"},
                                               {"$ref": "#/components/schemas/CursorPage"}]})},
                    "400": _err("Invalid parameter; a cursor that was changed, cut short, made by another "
                                "service, or sent with other search parameters than it was started with"),
                    "401": _err("explain=1 without credentials"),
                    "403": _err("explain=1 with a wrong token, or staff tools disabled; a bearer token that is "
                                "not valid (sent with a cursor); a staff walk's cursor without staff authentication"),
                    "409": _err("The cursor's search changed since the walk started (the synonyms file re-read, "
                                "the pinyin lexicon built, new words): its place in the order is lost; start "
                                "again with cursor=*"),
                    "410": _err("The cursor expired: unused for longer than SEARCH_CURSOR_KEEP_ALIVE seconds "
                                "(or its index was rebuilt); start again with cursor=*"),
                    "503": _err("Index unavailable, or (cursor=* with staff authentication) too many walks "
                                "hold a snapshot; retry after Retry-After")}}},
            "/api/articles/{id}": {
                "get": {
                    "summary": "One article", "operationId": "article",
                    "parameters": [ID_PARAM],
                    "responses": {
                        "200": {"description": "The article", **_json({"$ref": "#/components/schemas/Article"})},
                        "404": _err("Unknown id"), "503": _err("Index unavailable")}},
                "put": {
                    "summary": "Create or replace an article (bearer token)", "operationId": "putArticle",
                    "security": BEARER, "parameters": [ID_PARAM],
                    "requestBody": {"required": True, **_json({"$ref": "#/components/schemas/ArticleIn"})},
                    "responses": {
                        "200": {"description": "Replaced and indexed", **_json(WRITE_RESULT)},
                        "201": {"description": "Created and indexed", **_json(WRITE_RESULT)},
                        "202": {"description": "Stored durably; not indexed yet: poll status_url",
                                **_json(WRITE_RESULT)},
                        "400": _err("Invalid article (every bad field is listed in errors), an id breaking the "
                                    "id rule, or a body that is not one JSON object (not UTF-8, nested more than "
                                    "32 levels, a lone surrogate); a leading UTF-8 byte order mark is ignored"),
                        "415": _err("A Content-Encoding other than identity (send the body uncompressed)"),
                        "503": _err("The article store cannot commit now: nothing stored; retry after Retry-After"),
                        **AUTH_ERRORS}},
                "delete": {
                    "summary": "Withdraw an article (bearer token)", "operationId": "deleteArticle",
                    "security": BEARER, "parameters": [ID_PARAM],
                    "responses": {
                        "200": {"description": "Deleted from the store and the index", **_json(WRITE_RESULT)},
                        "202": {"description": "Deleted from the store; the index follows", **_json(WRITE_RESULT)},
                        "400": _err("An id breaking the id rule (and no article has exactly this id)"),
                        "404": _err("Unknown id"),
                        "503": _err("The article store cannot commit now: nothing stored; retry after Retry-After"),
                        **AUTH_ERRORS}}},
            "/api/articles:bulk": {"post": {
                "summary": "Create or replace many articles: JSON Lines body (bearer token)", "operationId": "bulk",
                "security": BEARER,
                "requestBody": {"required": True, "content": {"application/x-ndjson": {"schema": {"type": "string"}}}},
                "responses": {
                    "200": {"description": "Valid lines stored and indexed; bad lines listed in rejected",
                            **_json(WRITE_RESULT)},
                    "202": {"description": "Valid lines stored; not indexed yet", **_json(WRITE_RESULT)},
                    "400": _err("No valid line"), "413": _err("Body too large"),
                    "415": _err("A Content-Encoding other than identity (send the body uncompressed)"),
                    "503": _err("The article store cannot commit now: nothing stored; retry after Retry-After"),
                    **AUTH_ERRORS}}},
            "/api/pages": {"post": {
                "summary": "Create or replace an article from a saved page's HTML (bearer token)",
                "description": "The page is read like `indexer build page.html` (title, publication time, body "
                               "without page furniture, author, source); the id is its canonical URL without "
                               "the scheme, normalised: a relative canonical link resolved against url / og:url, "
                               "scheme and host lower-cased, percent-encoded UTF-8 decoded.",
                "operationId": "postPage", "security": BEARER,
                "parameters": [_q("url", {"type": "string", "format": "uri"},
                                  "The page's canonical http(s) URL (default: its <link rel=\"canonical\"> or "
                                  "og:url)")],
                "requestBody": {"required": True, "content": {"text/html": {"schema": {"type": "string"}}}},
                "responses": {
                    "200": {"description": "Replaced and indexed", **_json(WRITE_RESULT)},
                    "201": {"description": "Created and indexed", **_json(WRITE_RESULT)},
                    "202": {"description": "Stored durably; not indexed yet: poll status_url", **_json(WRITE_RESULT)},
                    "400": _err("No article in the page (no title or text), no absolute canonical URL (only a "
                                "relative one and no og:url: pass url), a "
                                "'url' that is not an absolute http(s) URL, or an id breaking the id rule"),
                    "413": _err("Body too large"),
                    "415": _err("A Content-Type other than text/html, or a Content-Encoding other than identity"),
                    "503": _err("The article store cannot commit now: nothing stored; retry after Retry-After"),
                    **AUTH_ERRORS}}},
            "/api/audit": {"get": {
                "summary": "The audit log of withdrawals and replacements, oldest first (staff)",
                "operationId": "audit", "security": BEARER,
                "parameters": [
                    _q("id", {"type": "string"}, "Only this article's entries"),
                    _q("after", {"type": "integer", "minimum": 0, "default": 0}, "Entries after this seq"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100}, "How many")],
                "responses": {
                    "200": {"description": "Entries", **_json({
                        "type": "object", "required": ["entries", "next_after"],
                        "properties": {
                            "next_after": {"type": "integer", "description": "pass as after= for the next page"},
                            "entries": {"type": "array", "items": {
                                "type": "object", "required": ["seq", "at", "principal", "action", "id"],
                                "properties": {
                                    "seq": {"type": "integer"},
                                    "at": {"type": "string", "description": "ISO 8601, UTC"},
                                    "principal": {"type": "string", "description":
                                                  "token:<12 hex of the token's SHA-256>, a staff session's "
                                                  "principal, or cli:<OS user>"},
                                    "action": {"type": "string", "enum": ["replace", "withdraw", "restore"]},
                                    "id": {"type": "string"},
                                    "detail": {"type": "string", "nullable": True}}}}}})},
                    "400": _err("Invalid parameter"), **AUTH_ERRORS}}},
            "/api/changes/{seq}": {"get": {
                "summary": "Has a write reached the index? (bearer token)", "operationId": "change",
                "security": BEARER,
                "parameters": [{"name": "seq", "in": "path", "required": True, "schema": {"type": "integer"}}],
                "responses": {
                    "200": {"description": "Status", **_json({
                        "type": "object", "required": ["seq", "status", "backlog"],
                        "properties": {"seq": {"type": "integer"},
                                       "status": {"type": "string", "enum": ["indexed", "queued"]},
                                       "backlog": {"type": "integer"}, "problem": {"type": "string"}}})},
                    "404": _err("Unknown change"), **AUTH_ERRORS}}},
            "/api/articles/{id}/related": {"get": {
                "summary": "Related articles", "operationId": "related",
                "parameters": [
                    ID_PARAM,
                    _q("size", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5}, "How many")],
                "responses": {
                    "200": {"description": "Related articles", **_json({
                        "type": "object", "required": ["id", "hits"],
                        "properties": {"id": {"type": "string"},
                                       "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}}}})},
                    "400": _err("Invalid parameter"), "404": _err("Unknown id"), "503": _err("Index unavailable")}}},
            "/api/articles/{id}/coverage": {"get": {
                "summary": "How the story developed: earlier and later related coverage, near-duplicates",
                "operationId": "coverage",
                "parameters": [
                    ID_PARAM,
                    _q("size", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
                       "Related articles considered")],
                "responses": {
                    "200": {"description": "Coverage in date order", **_json({
                        "type": "object", "required": ["id", "earlier", "later", "near_duplicates"],
                        "properties": {
                            "id": {"type": "string"},
                            "earlier": {"type": "array", "items": {"$ref": "#/components/schemas/Brief"}},
                            "later": {"type": "array", "items": {"$ref": "#/components/schemas/Brief"}},
                            "near_duplicates": {"type": "array",
                                                "items": {"$ref": "#/components/schemas/Brief"}}}})},
                    "400": _err("Invalid parameter"), "404": _err("Unknown id"), "503": _err("Index unavailable")}}},
            "/api/timeline": {"get": {
                "summary": "Matching articles per day, week, month or year; several queries compared",
                "operationId": "timeline",
                "parameters": [
                    {**_q("q", {"type": "array", "maxItems": 5, "items": {
                        "type": "string", "maxLength": config["SEARCH_MAX_QUERY_LENGTH"]}},
                        "Query (as for /api/search); repeat it for up to 5 queries compared on the same buckets "
                        "(6 or more: 400). Every other parameter (filters, dates) applies to each"), "explode": True}
                ] + [p for p in search_params if p["name"] not in ("q", "page", "size", "sort")] + [
                    _q("interval", {"type": "string", "enum": ["auto", "day", "week", "month", "year"],
                                    "default": "auto"},
                       "Bar width; auto: days up to two months of coverage, months up to five years, else years "
                       "(the span of all queries' matches). week: ISO weeks, Monday to Sunday in Beijing time, "
                       "labelled by the Monday's date. A timeline has at most 400 bars: a finer interval than "
                       "that allows is replaced by a coarser one (day and week by month, month by year; the "
                       "response's interval)"),
                    _q("normalize", {"type": "string", "enum": ["none", "share"], "default": "none"},
                       "share: each bucket also carries all (articles published in that period under the same "
                       "filters, whatever the query) and share (count / all; null when all is 0)"),
                    _q("format", {"type": "string", "enum": ["json", "csv"], "default": "json"},
                       "csv: the series as CSV (UTF-8 with BOM; columns query, interval, start, count, and all, "
                       "share with normalize=share)")],
                "responses": {
                    "200": {"description": "Counts in time order (empty periods included). One query: its "
                                           "query, total, undated and buckets as before, and series; several: "
                                           "queries and series, every series on the same buckets",
                            "content": {"application/json": {"schema": {
                                "type": "object", "required": ["interval", "normalize", "series"],
                                "properties": {
                                    "query": {"type": "string", "description": "The query (one query only)"},
                                    "queries": {"type": "array", "items": {"type": "string"},
                                                "description": "The queries compared (several only)"},
                                    "interval": {"type": "string", "enum": ["day", "week", "month", "year"],
                                                 "description": "The interval used (coarser than asked for when needed)"},
                                    "normalize": {"type": "string", "enum": ["none", "share"]},
                                    "total": {"type": "integer", "description": "Matches (one query only)"},
                                    "undated": {"type": "integer",
                                                "description": "Matches without a plausible date (one query only)"},
                                    "buckets": TIMELINE_BUCKETS,
                                    "series": {"type": "array", "items": {
                                        "type": "object", "required": ["query", "total", "undated", "buckets"],
                                        "properties": {"query": {"type": "string"}, "total": {"type": "integer"},
                                                       "undated": {"type": "integer"},
                                                       "buckets": TIMELINE_BUCKETS}}}}}},
                                "text/csv": {"schema": {"type": "string"}}}},
                    "400": _err("Invalid parameter, or more than 5 queries"), "503": _err("Index unavailable")}}},
            "/api/significant": {"get": {
                "summary": "What is distinctive in the results: their significant terms",
                "operationId": "significant",
                "parameters": [p for p in search_params if p["name"] not in ("page", "size", "sort")] + [
                    _q("size", {"type": "integer", "minimum": 1, "maximum": 50, "default": 10}, "Terms at most")],
                "responses": {
                    "200": {"description": "Words much more frequent in the top 200 matches (sample) than in "
                                           "the whole index (archive), best first, scored with JLH as "
                                           "Elasticsearch's significant_text: (fg - bg) * fg / bg with fg = "
                                           "in_results / sample and bg = in_archive / archive. Words of one "
                                           "character, digits, stopwords, words in fewer than 3 sampled "
                                           "articles and the query's own words are left out", **_json({
                        "type": "object", "required": ["query", "sample", "archive", "significant_terms"],
                        "properties": {
                            "query": {"type": "string"},
                            "sample": {"type": "integer", "description": "Top-ranked matches looked at (at most 200)"},
                            "archive": {"type": "integer", "description": "Articles in the index"},
                            "significant_terms": {"type": "array", "items": {
                                "type": "object", "required": ["term", "score", "in_results", "in_archive"],
                                "properties": {
                                    "term": {"type": "string"}, "score": {"type": "number"},
                                    "in_results": {"type": "integer", "description": "Sampled matches with it"},
                                    "in_archive": {"type": "integer", "description": "Articles of the index with it"}}}}}})},
                    "400": _err("Invalid parameter"), "503": _err("Index unavailable")}}},
            "/api/export": {"get": {
                "summary": "The result set as CSV (UTF-8 with BOM) or JSON Lines (staff: token or session)",
                "operationId": "export", "security": STAFF_AUTH,
                "parameters": [p for p in search_params if p["name"] not in ("page", "size")] + [
                    _q("format", {"type": "string", "enum": ["csv", "jsonl"], "default": "csv"}, "File format"),
                    _q("limit", {"type": "integer", "minimum": 0, "maximum": 10**9, "default": 1000},
                       "Rows at most; 0: the whole result set (streamed from one snapshot of the index)")],
                "responses": {
                    "200": {"description": "Every matching article once (ungrouped, in the search's order), "
                                           "streamed from one snapshot; columns id, title, body, published "
                                           "(ISO 8601, Beijing time), category, source, author, tags (| in CSV), "
                                           "url, match (full or partial); X-Total-Count gives all matches",
                            "content": {"text/csv": {"schema": {"type": "string"}},
                                        "application/x-ndjson": {"schema": {"type": "string"}}}},
                    "400": _err("Invalid parameter"), "503": _err("Index unavailable")}}},
            "/api/suggest": {"get": {
                "summary": "Suggestions as the reader types", "operationId": "suggest",
                "parameters": [
                    _q("q", {"type": "string", "maxLength": 50}, "What has been typed (Chinese or pinyin)"),
                    _q("size", {"type": "integer", "minimum": 1, "maximum": 20, "default": 8}, "How many")],
                "responses": {
                    "200": {"description": "Completions, best first", **_json({
                        "type": "object", "required": ["query", "suggestions"],
                        "properties": {"query": {"type": "string"},
                                       "suggestions": {"type": "array", "items": {"type": "string"}}}})},
                    "400": _err("Invalid parameter"), "503": _err("Index unavailable")}}},
            "/api/queries": {"get": {
                "summary": "Most frequent reader queries over a period (staff: token or session)",
                "operationId": "queries", "security": STAFF_AUTH,
                "parameters": [
                    _q("days", {"type": "integer", "minimum": 1, "maximum": 3650, "default": 7},
                       "The last N whole days in Beijing time, today included (1: today)"),
                    _q("from", DATE_BOUND, "Or from this day (Beijing time) or instant"),
                    _q("to", DATE_BOUND, "... to the end of this day (Beijing time), or this instant"),
                    _q("limit", {"type": "integer", "minimum": 1, "maximum": 500, "default": 50}, "How many"),
                    _q("zero", {"type": "string", "enum": ["0", "1", "filters"], "default": "0"},
                       "1: only queries whose words found nothing; filters: only searches whose words find "
                       f"articles but whose filters ({', '.join(FACET_FIELDS)}, the dates or range, the sort) "
                       "left none")],
                "responses": {
                    "200": {"description": "Queries with how often they ran", **_json({
                        "type": "object", "required": ["from", "to", "zero_results_only", "queries"],
                        "properties": {
                            "from": {"type": "number"}, "to": {"type": "number"},
                            "zero_results_only": {"type": "boolean"},
                            "zero_cause": {"type": "string", "nullable": True, "enum": ["words", "filters", None],
                                           "description": "words: the words find nothing; filters: the filters "
                                                          "leave nothing; null: every query"},
                            "queries": {"type": "array", "items": {
                                "type": "object", "required": ["q", "count", "results", "blocked", "removed"],
                                "properties": {"q": {"type": "string"}, "count": {"type": "integer"},
                                               "results": {"type": "integer"}, "blocked": {"type": "boolean"},
                                               "filtered": {"type": "integer",
                                                            "description": "How many of these searches had filters"},
                                               "filters": {
                                                   "description": "zero=filters: the filters of these searches "
                                                                  "({name: [values]} for "
                                                                  + ", ".join(FACET_FIELDS) + "; from, to or range; "
                                                                  "sort; fields); else the most frequent filters "
                                                                  "used with the query, [{filters, count}] (at most 3)",
                                                   "oneOf": [{"type": "object"}, {"type": "array", "items": {
                                                       "type": "object", "required": ["filters", "count"],
                                                       "properties": {"filters": {"type": "object"},
                                                                      "count": {"type": "integer"}}}}]},
                                               "words_results": {"type": "integer", "description":
                                                                 "zero=filters: what the words alone find"},
                                               "removed": {"type": "boolean",
                                                           "description": "Staff removed it from hot searches and suggestions"}}}}}})},
                    "400": _err("Invalid parameter"), "503": _err("Index unavailable")}},
                "delete": {
                "summary": "Remove a reader query from hot searches and suggestions, for good (staff: token)",
                "operationId": "removeQuery", "security": STAFF_AUTH,
                "parameters": [_q("q", {"type": "string", "minLength": 1}, "The query text, as listed", required=True)],
                "responses": {
                    "200": {"description": "Removed", **_json({
                        "type": "object", "required": ["removed"], "properties": {"removed": {"type": "string"}}})},
                    "400": _err("Invalid parameter"), "409": _err("The query log is off")}}},
            **WEBHOOK_PATHS,
            "/healthz": {"get": {
                "summary": "Health", "operationId": "health",
                "responses": {
                    "200": {"description": "Searches and indexing work", **_json({"$ref": "#/components/schemas/Health"})},
                    "503": {"description": "Something does not work: `problems` says what",
                            **_json({"$ref": "#/components/schemas/Health"})}}}},
            "/api/openapi.json": {"get": {
                "summary": "This description", "operationId": "openapi",
                "responses": {"200": {"description": "OpenAPI document", **_json({"type": "object"})}}}},
        },
        "components": {
          "securitySchemes": {
            "bearer": {"type": "http", "scheme": "bearer",
                       "description": "a token whose SHA-256 is in SEARCH_WRITE_TOKENS"},
            "staffSession": {"type": "apiKey", "in": "cookie", "name": "session",
                             "description": "set by POST /staff/login"}},
          "schemas": {
            "Hit": HIT,
            "Match": MATCH,
            "Explain": EXPLAIN,
            "Notice": NOTICE,
            **CLAUSE_SCHEMAS,
            "Brief": BRIEF,
            "ArticleIn": ARTICLE_IN,
            "Article": ARTICLE,
            "Error": ERROR,
            "CursorPage": CURSOR_PAGE,
            "SearchResult": {
                "type": "object",
                "required": ["query", "total", "page", "size", "took_ms", "hits", "facets", "understood_tree",
                             "notices", "exact", "total_full", "total_partial"],
                "properties": {
                    "query": {"type": "string"}, "total": {"type": "integer", "minimum": 0},
                    "page": {"type": "integer"}, "size": {"type": "integer"}, "took_ms": {"type": "number"},
                    "hits": {"type": "array", "items": {"$ref": "#/components/schemas/Hit"}},
                    "facets": {"type": "object", "additionalProperties": FACET_LIST,
                               "description": "one list per facet asked for (the facets parameter: "
                                              + ", ".join(FACET_FIELDS) + "), in that order"},
                    "understood": {"type": "array", "items": {"type": "string"},
                                   "description": "the clauses searched, one label each (-label: excluded)"},
                    "understood_tree": {
                        "allOf": [_ref("ClauseAnd")],
                        "description": "how the query was understood: the clauses searched, as a tree (op: and, or, "
                                       "word, phrase, field, lead, atleast, near); the root is an and"},
                    "notices": {"type": "array", "items": _ref("Notice"),
                                "description": "parts of the query that could not be read as typed, and how they "
                                               "were read (empty when everything was read as typed)"},
                    "exact": {"type": "boolean",
                              "description": "the query used an operator, a field, a phrase or an exclusion: "
                                             "only full matches, never relaxed to partial matches"},
                    "total_full": {"type": "integer", "minimum": 0,
                                   "description": "of total (same unit: total_counts), the full matches"},
                    "total_partial": {"type": "integer", "minimum": 0,
                                      "description": "of total, the partial matches (lacking some words: see each "
                                                     "hit's match); total = total_full + total_partial"},
                    "relaxed": {"type": "boolean",
                                "description": "partial matches are included (few full matches for a query of plain "
                                               "words); they follow the full matches"},
                    "synonyms": {"type": "array", "description": "synonym groups applied to the query",
                                 "items": {"type": "array", "items": {"type": "string"}}},
                    "pinyin": {"type": "array", "description": "[typed pinyin, the Chinese words also searched]",
                               "items": {"type": "array", "items": {"type": "string"}}},
                    "corrected_from": {"type": "string", "nullable": True,
                                       "description": "set when the results are for corrected_to instead"},
                    "corrected_to": {"type": "string", "nullable": True},
                    "suggestion": {"type": "string", "nullable": True, "description": "did you mean (not applied)"},
                    "total_counts": {"type": "string", "enum": ["groups", "articles"],
                                     "description": "what total counts: near-duplicate groups (group=1) or articles"},
                    "total_articles": {"type": "integer", "minimum": 0,
                                       "description": "matching articles, near-duplicates included"},
                    "facet_counts": {"type": "string", "enum": ["articles"],
                                     "description": "facet counts always count articles (in hybrid and "
                                                    "semantic mode the articles found by meaning too)"},
                    "mode": {"type": "string", "enum": ["hybrid", "semantic"],
                             "description": "present in hybrid and semantic mode only: the mode searched"},
                    "dense_total": {"type": "integer", "minimum": 0,
                                    "description": "present in hybrid and semantic mode only: the results found "
                                                   "by meaning only (same unit as total: groups or articles), "
                                                   "never counted in total; at most 100 articles"},
                },
            },
            "Health": {
                "type": "object", "required": ["ok", "status", "problems", "index_open"],
                "description": "Can searches and indexing work? 200 only without problems (README: What /healthz reports)",
                "properties": {"ok": {"type": "boolean"},
                               "status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                               "problems": {"type": "array", "items": {
                                   "type": "object", "required": ["code", "message"],
                                   "properties": {"code": {"type": "string", "enum": [
                                       "index_unavailable", "writer_down", "writer_starting", "indexing_stalled",
                                       "store_unavailable", "semantic_unavailable"]},
                                       "message": {"type": "string"}}}},
                               "index_open": {"type": "boolean"},
                               "documents": {"type": "integer"}, "segments": {"type": "integer"},
                               "generation": {"type": "integer"},
                               "last_modified": {"type": "number", "nullable": True},
                               "vectors": {"type": "object", "nullable": True,
                                           "description": "dense vectors (issue 20): the model, the live articles "
                                                          "with a vector and the backlog without one (searched "
                                                          "lexically until `indexer embed` reaches them); null "
                                                          "on OpenSearch",
                                           "properties": {
                                               "model": {"type": "string", "nullable": True},
                                               "dim": {"type": "integer", "nullable": True},
                                               "with_vectors": {"type": "integer", "minimum": 0},
                                               "backlog": {"type": "integer", "minimum": 0},
                                               "error": {"type": "string", "nullable": True,
                                                         "description": "a vectors file that cannot be used, "
                                                                        "and the writer's last failed "
                                                                        "embedding run (exit status or "
                                                                        "signal, time) until a run "
                                                                        "succeeds; else null"}}},
                               "semantic": {"type": "object",
                                            "description": "can hybrid and semantic search run (issue 20)? "
                                                           "default_mode: SEARCH_DEFAULT_MODE; reason: why not "
                                                           "(null when they can); a default mode that cannot run "
                                                           "is a problem (semantic_unavailable) and searches that "
                                                           "name no mode are lexical",
                                            "required": ["default_mode", "available", "reason"],
                                            "properties": {
                                                "default_mode": {"type": "string",
                                                                 "enum": ["lexical", "hybrid", "semantic"]},
                                                "available": {"type": "boolean"},
                                                "reason": {"type": "string", "nullable": True}}},
                               "writer_running": {"type": "boolean"},
                               "writer": {"type": "object", "nullable": True,
                                          "description": "the writer supervisor's state (gunicorn only)"},
                               "indexing_backlog": {"type": "integer", "minimum": 0, "nullable": True},
                               "backlog_oldest_age_s": {"type": "number", "minimum": 0, "nullable": True},
                               "merging": {"type": "boolean", "nullable": True},
                               "alerting_error": {"type": "string", "nullable": True,
                                                  "description": "why saved searches are not being matched right "
                                                                 "now (the writer retries; searches and indexing "
                                                                 "work), else null"},
                               "userdict": {"type": "object", "nullable": True,
                                            "description": "the user dictionary: the version (hash) the index is "
                                                           "cut with or being brought to, the re-index of the "
                                                           "articles holding added or removed words",
                                            "properties": {
                                                "version": {"type": "string", "nullable": True},
                                                "reindexing": {"type": "boolean"},
                                                "pending_words": {"type": "array", "items": {"type": "string"}},
                                                "done": {"type": "integer", "minimum": 0},
                                                "total": {"type": "integer", "minimum": 0, "nullable": True},
                                                "error": {"type": "string", "nullable": True,
                                                         "description": "a vectors file that cannot be used, "
                                                                        "and the writer's last failed "
                                                                        "embedding run (exit status or "
                                                                        "signal, time) until a run "
                                                                        "succeeds; else null"}}},
                               "reason": {"type": "string"}},
            },
        }},
    }
    document["paths"].update(openapi_saved.paths())  # saved searches (web/saved.py)
    document["paths"].update(openapi_saved.feed_paths(search_params))  # their Atom feeds (web/feeds.py)
    document["components"]["schemas"].update(openapi_saved.SCHEMAS)
    _complete(document["paths"])
    return document
