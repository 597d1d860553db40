"""The OpenAPI document lists every answer the API gives, and the API
refuses query parameters it does not take.

Every route of the app under /api/ (and /healthz) is driven, for real, into
each error the service can give (a parameter it does not take, no or a
wrong token, the rate limit, a missing index, an unknown id or change, a
body too large or compressed, the query log off) on real apps over a small
real index; each answer's status must be documented for that path and
method, its Retry-After header declared where it is sent, and its body
valid against the document (openapi-core).  Routes come from the app's URL
map, so a new endpoint is covered without being listed here."""

from __future__ import annotations

import json
import re

import pytest
from conftest import STAFF, STAFF_TOKEN, digest, write_jsonl

RECORDS = [
    {"id": "t-1", "title": "香港立法会选举投票率创新高", "body": "香港立法会选举今日举行。\n投票率创新高。",
     "published": "2024-03-01", "category": "港闻", "source": "测试社", "tags": ["选举"]},
    {"id": "t-2", "title": "澳门经济持续复苏", "body": "澳门旅游业回暖，经济持续复苏。",
     "published": "2024-03-02", "category": "经济", "source": "测试社"},
]


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory):
    from indexer import pipeline

    folder = tmp_path_factory.mktemp("openapi-responses")
    path = str(folder / "ix")
    pipeline.build(path, [write_jsonl(folder / "in.jsonl", RECORDS)], workers=1, progress=False)
    return path


def _app(index_dir, tmp, **overrides):
    from web import create_app

    config = {"SEARCH_INDEX": index_dir, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_RATE_LIMIT": "off",
              "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_WRITE_WAIT": 0.0,
              "SEARCH_ARTICLE_STORE": str(tmp / "store.sqlite"), "SEARCH_QUERY_LOG": "off",
              "SEARCH_SECRET_KEY_FILE": str(tmp / "secret_key"), "SEARCH_HOT_REFRESH": 0.0}
    config.update(overrides)
    return create_app(config)


@pytest.fixture(scope="module")
def apps(index_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("apps")
    return {
        "normal": _app(index_dir, tmp),
        "limited": _app(index_dir, tmp, SEARCH_RATE_LIMIT="1/hour"),
        "no_index": _app(str(tmp / "missing-index"), tmp),
        "small_bodies": _app(index_dir, tmp, MAX_CONTENT_LENGTH=64),
        "store_broken": _app(index_dir, tmp, SEARCH_ARTICLE_STORE=_not_a_database(tmp)),
    }


def _not_a_database(tmp) -> str:
    path = tmp / "damaged.sqlite"
    path.write_bytes(b"not a database " * 100)
    return str(path)


@pytest.fixture(scope="module")
def document(apps):
    return apps["normal"].test_client().get("/api/openapi.json").get_json()


def _operations(app):
    """(Flask rule, method) of every API route (and /healthz)."""
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/") or rule.rule == "/healthz":
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule.rule, method


def _url(rule: str, known: bool) -> str:
    url = rule.replace("<path:doc_id>", "t-1" if known else "no-such-id")
    return url.replace("<int:seq>", "1" if known else "999999")


def _doc_path(document, rule: str) -> str:
    from web.api_params import route_key

    for path in document["paths"]:
        if route_key(path) == route_key(rule):
            return path
    raise AssertionError(f"{rule} is not in the OpenAPI document")


BODY = json.dumps({"title": "标题", "body": "正文" * 40}, ensure_ascii=False).encode()


def _drive(apps, document):
    """Every (rule, method, condition) -> the response, each condition
    applied to every route alike."""
    for rule, method in _operations(apps["normal"]):
        body = BODY if method in ("PUT", "POST") else None
        try:
            operation = document["paths"][_doc_path(document, rule)][method.lower()]
        except (AssertionError, KeyError):
            continue  # undocumented: test_every_api_route_is_in_the_document names it
        required = "&".join(f"{p['name']}=x" for p in operation.get("parameters", ())
                            if p.get("in") == "query" and p.get("required"))
        conditions = {
            "required parameters": ("normal", _url(rule, True) + "?" + required, STAFF, body, {}),
            "unknown parameter": ("normal", _url(rule, True) + "?explian=1", STAFF, body, {}),
            "no credentials": ("normal", _url(rule, True), {}, body, {}),
            "wrong token": ("normal", _url(rule, True), {"Authorization": "Bearer nope"}, body, {}),
            "unknown id": ("normal", _url(rule, False), STAFF, body, {}),
            "index missing": ("no_index", _url(rule, True), STAFF, body, {}),
            "store damaged": ("store_broken", _url(rule, True), STAFF, body, {}),
            "body too large": ("small_bodies", _url(rule, True), STAFF, body, {}),
            "compressed body": ("normal", _url(rule, True), STAFF, body, {"Content-Encoding": "gzip"}),
        }
        for condition, (app, url, headers, data, extra) in conditions.items():
            client = apps[app].test_client()
            yield rule, method, condition, client.open(url, method=method, headers={**headers, **extra}, data=data)
        limited = apps["limited"].test_client()
        limited.open(_url(rule, True), method=method, data=body)
        yield rule, method, "rate limit", limited.open(_url(rule, True), method=method, data=body)


@pytest.fixture(scope="module")
def driven(apps, document):
    return list(_drive(apps, document))


def test_every_api_route_is_in_the_document(apps, document):
    missing = []
    for rule, method in _operations(apps["normal"]):
        try:
            path = _doc_path(document, rule)
        except AssertionError:
            missing.append(f"{method} {rule}")
            continue
        if method.lower() not in document["paths"][path]:
            missing.append(f"{method} {rule}")
    assert not missing, "routes the OpenAPI document lacks: " + ", ".join(missing)


def test_every_status_the_api_gives_is_documented(driven, document):
    undocumented, seen = [], set()
    for rule, method, condition, resp in driven:
        operation = document["paths"][_doc_path(document, rule)][method.lower()]
        status = str(resp.status_code)
        seen.add(status)
        if status not in operation["responses"]:
            undocumented.append(f"{method} {rule}: {status} ({condition})")
    assert not undocumented, "\n".join(undocumented)
    # The conditions do reach the statuses they are meant to reach.
    assert {"400", "401", "403", "404", "409", "413", "415", "429", "503"} <= seen, seen
    store_503 = {rule for rule, method, condition, resp in driven
                 if condition == "store damaged" and resp.status_code == 503}
    assert {"/api/audit", "/api/changes/<int:seq>"} <= store_503, store_503


def test_retry_after_is_sent_and_declared_with_429_and_503(driven, document):
    problems = []
    for rule, method, condition, resp in driven:
        operation = document["paths"][_doc_path(document, rule)][method.lower()]
        declared = operation["responses"].get(str(resp.status_code), {}).get("headers", {})
        if resp.status_code == 429 and not resp.headers.get("Retry-After", "").isdigit():
            problems.append(f"{method} {rule}: 429 without Retry-After")
        if "Retry-After" in resp.headers and "Retry-After" not in declared:
            problems.append(f"{method} {rule}: {resp.status_code} sends Retry-After, not declared ({condition})")
    assert not problems, "\n".join(problems)
    assert any(resp.status_code == 429 for *_, resp in driven)
    assert any(resp.status_code == 503 and "Retry-After" in resp.headers for *_, resp in driven)


def test_error_bodies_match_the_document(driven, document):
    from openapi_core import OpenAPI
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    openapi = OpenAPI.from_dict(document)
    for rule, method, condition, resp in driven:
        if resp.status_code < 400 or rule == "/healthz":
            continue
        req = Request(EnvironBuilder(path=_url(rule, condition != "unknown id"), method=method,
                                     base_url="http://localhost").get_environ())
        openapi.validate_response(WerkzeugOpenAPIRequest(req), WerkzeugOpenAPIResponse(resp))
        body = resp.get_json()
        assert body["status"] == resp.status_code and body["error"], (rule, condition, body)


def test_every_response_has_an_example_that_fits_its_schema(document):
    from jsonschema_path import SchemaPath
    from openapi_schema_validator import OAS30Validator

    spec = SchemaPath.from_dict(document)
    missing = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                for media, content in response.get("content", {}).items():
                    if "example" not in content:
                        missing.append(f"{method.upper()} {path} {status} {media}")
                        continue
                    if media == "application/json":
                        schema = (spec / "paths" / path / method / "responses" / status / "content" / media
                                  / "schema")
                        with schema.resolve() as resolved:
                            OAS30Validator(resolved.contents, _resolver=resolved.resolver).validate(
                                content["example"])
    assert not missing, "responses without an example:\n" + "\n".join(missing)


# Unknown query parameters, endpoint by endpoint.

def test_each_api_endpoint_refuses_a_parameter_it_does_not_take(driven):
    for rule, method, condition, resp in driven:
        if condition != "unknown parameter" or rule == "/healthz":
            continue
        assert resp.status_code == 400, (method, rule, resp.status_code)
        message = resp.get_json()["error"]
        assert message.startswith("unknown query parameter 'explian'"), message
        assert f"{method} " in message and " takes " in message


def test_the_message_names_the_close_parameter_and_the_ones_taken(apps):
    client = apps["normal"].test_client()
    resp = client.get("/api/search?q=香港&sze=5&catgory=港闻")
    assert resp.status_code == 400
    message = resp.get_json()["error"]
    assert message.startswith("unknown query parameters 'sze' (did you mean 'size'?), "
                              "'catgory' (did you mean 'category'?): GET /api/search takes q, page, size, sort,")
    resp = client.get("/api/articles/t-1/related?sizes=3")
    assert resp.get_json()["error"] == ("unknown query parameter 'sizes' (did you mean 'size'?): "
                                        "GET /api/articles/{id}/related takes size")
    resp = client.get("/api/openapi.json?pretty=1")
    assert resp.get_json()["error"] == ("unknown query parameter 'pretty': GET /api/openapi.json "
                                        "takes no query parameters")


def test_cache_busters_and_campaign_tags_are_ignored(apps):
    client = apps["normal"].test_client()
    resp = client.get("/api/search?q=香港&_=1712345678&utm_source=newsletter&utm_medium=email")
    assert resp.status_code == 200
    assert resp.get_json()["total"] == 1
    assert client.get("/api/suggest?q=xiang&_=1").status_code == 200
    assert client.get("/api/search?q=香港&utm=1").status_code == 400       # utm alone is no campaign tag
    assert client.get("/api/search?q=香港&__=1").status_code == 400


def test_every_documented_parameter_is_accepted(apps, document):
    """Nothing the document declares is refused as unknown (the one
    definition: the document's parameters)."""
    client = apps["normal"].test_client()
    for path, item in document["paths"].items():
        for method, operation in item.items():
            names = [p["name"] for p in operation.get("parameters", ()) if p.get("in") == "query"]
            if not names:
                continue
            url = path.replace("{id}", "t-1").replace("{seq}", "1") + "?" + "&".join(f"{n}=" for n in names)
            resp = client.open(url, method=method.upper(), headers=STAFF)
            error = (resp.get_json(silent=True) or {}).get("error", "")
            assert "unknown query parameter" not in error, (method, path, error)


def test_the_search_parameters_come_from_params(document):
    from web.params import ADVANCED, FILTERS

    names = [p["name"] for p in document["paths"]["/api/search"]["get"]["parameters"]]
    assert set(ADVANCED) | set(FILTERS) <= set(names)
    assert len(names) == len(set(names))


def test_pages_take_any_parameter(apps):
    client = apps["normal"].test_client()
    resp = client.get("/search?q=香港&explian=1")
    assert resp.status_code == 200
    assert 'href="/articles/t-1' in resp.get_data(as_text=True)


def test_over_real_http_a_typo_is_a_400_naming_it(server):
    from urllib.parse import quote

    status, body = server.json("/api/search?q=" + quote("香港") + "&sizee=5")
    assert status == 400
    assert re.match(r"unknown query parameter 'sizee' \(did you mean 'size'\?\): GET /api/search takes q, ",
                    body["error"]), body
    assert body["status"] == 400


def test_a_pages_links_to_the_api_carry_only_what_the_api_takes(apps):
    """The results page takes parameters the API does not (a typo, a page's
    own setting): its Link header to /api/search and its export link keep
    only the parameters those operations declare, so neither leads to a 400."""
    import html

    client = apps["normal"].test_client()
    login = client.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/"},
                        headers={"Origin": "http://localhost"})
    assert login.status_code in (302, 303), login.status_code
    page = client.get("/search?q=香港&explian=1&page=1&sort=newest&tag=选举&utm_source=x")
    assert page.status_code == 200
    link = re.search(r"<([^>]*/api/search[^>]*)>", page.headers["Link"]).group(1)
    assert "explian" not in link and "utm_source" not in link and "sort=newest" in link
    assert client.get(link).status_code == 200
    export = html.unescape(re.search(r'href="(/api/export\?[^"]*)"', page.get_data(as_text=True)).group(1))
    assert "explian" not in export and "page=" not in export and "sort=newest" in export
    resp = client.get(export, headers=STAFF)
    assert resp.status_code == 200, resp.get_data(as_text=True)[:300]
    assert "t-1" in resp.get_data(as_text=True)


def test_a_parameter_given_twice_is_refused_unless_it_repeats(apps):
    """Which of two values was meant cannot be known: a single-valued
    parameter given twice is a 400 naming it; the filters (arrays in the
    document), the timeline's q and facets repeat."""
    client = apps["normal"].test_client()
    for url, name in (("/api/search?q=香港&q=澳门", "q"), ("/api/search?q=香港&size=5&size=6", "size"),
                      ("/api/articles/t-1/related?size=3&size=4", "size"),
                      ("/api/export?q=香港&format=csv&format=jsonl", "format")):
        resp = client.get(url, headers={"Authorization": "Bearer x"} if "export" in url else {})
        if "export" in url and resp.status_code in (401, 403):
            continue  # staff-only: authentication is checked by the view, the parameters before it
        assert resp.status_code == 400, url
        assert resp.get_json()["error"].startswith(f"query parameter '{name}' given more than once"), url
    assert client.get("/api/search?q=香港&category=港闻&category=眾聞&facets=tag&facets=year").status_code == 200
    resp = client.get("/api/timeline?q=香港&q=澳门")
    assert resp.status_code == 200 and len(resp.get_json()["series"]) == 2
