"""Saved searches through a real gunicorn (web/saved.py, web/saved_pages.py):
the API for two staff tokens (ownership, sharing, 404/403), parameters
read as a search reads them (bad ones refused, nothing stored), new-since-
last-visit counts against the store, and the staff pages' forms with a
real staff session and the same-origin check.  Alerts are written into the
store with ``record`` as the percolator does."""

from __future__ import annotations

import html
import os
import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import STAFF, STAFF_TOKEN, Server, call, call_json, digest

OTHER_TOKEN = "another-staff-token"
OTHER = {"Authorization": f"Bearer {OTHER_TOKEN}"}
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def site(sample_index, tmp_path_factory):
    """(server, saved-search store): one gunicorn for the module."""
    from search.saved_searches import SavedSearchStore

    saved = str(tmp_path_factory.mktemp("saved-web") / "saved.sqlite")
    srv = Server(sample_index, workers=1, extra_env={
        "SEARCH_WRITE_TOKENS": f"{digest(STAFF_TOKEN)},{digest(OTHER_TOKEN)}", "SEARCH_SAVED_SEARCHES": saved})
    store = SavedSearchStore(saved)
    yield srv, store
    store.close()
    srv.stop()


def _api(srv, path, method="GET", body=None, headers=STAFF):
    data = None if body is None else json.dumps(body, ensure_ascii=False)
    return call_json(srv.url + path, method, data, {**headers, **(JSON if body is not None else {})})


def _owner(token: str) -> str:
    return "token:" + digest(token)[:12]


def test_save_list_change_and_delete_with_two_tokens(site):
    srv, store = site
    status, mine = _api(srv, "/api/saved-searches", "POST",
                        {"name": " 香港选举 ", "params": {"q": "香港 选举", "sort": "newest", "page": "3"}})
    assert status == 201, mine
    assert mine["name"] == "香港选举" and mine["owner"] == _owner(STAFF_TOKEN) and mine["mine"]
    assert mine["params"] == {"q": ["香港 选举"], "sort": ["newest"]}  # paging is not part of a saved search
    assert mine["new_count"] == 0 and mine["feed_url"] == f"/feeds/saved/{mine['id']}.atom?token={mine['feed_token']}"
    assert store.get(mine["id"]).params == mine["params"]
    status, theirs = _api(srv, "/api/saved-searches", "POST",
                          {"name": "地铁", "query_string": "q=地铁&category=港闻&category=社会", "shared": True},
                          OTHER)
    assert status == 201 and theirs["params"] == {"q": ["地铁"], "category": ["港闻", "社会"]}
    status, private = _api(srv, "/api/saved-searches", "POST", {"name": "私人", "params": {"q": "私人"}}, OTHER)

    # Each sees their own and the shared ones (by name); secrets only to the owner.
    status, listing = _api(srv, "/api/saved-searches")
    mine_listed = {s["id"]: s for s in listing["saved_searches"]}
    assert status == 200 and set(mine_listed) >= {mine["id"], theirs["id"]} and private["id"] not in mine_listed
    assert "feed_token" not in mine_listed[theirs["id"]] and "feed_url" not in mine_listed[theirs["id"]]
    assert not mine_listed[theirs["id"]]["mine"]
    status, other_listing = _api(srv, "/api/saved-searches", headers=OTHER)
    assert mine["id"] not in {s["id"] for s in other_listing["saved_searches"]}
    expected = sorted((s for s in store.list_for(_owner(STAFF_TOKEN))), key=lambda s: (s.name, s.created))
    assert [s["id"] for s in listing["saved_searches"]] == [s.id for s in expected]

    # Someone else's unshared search does not exist for me; a shared one is not mine to change.
    assert _api(srv, f"/api/saved-searches/{private['id']}")[0] == 404
    assert _api(srv, f"/api/saved-searches/{private['id']}", "PATCH", {"name": "x"})[0] == 404
    assert _api(srv, f"/api/saved-searches/{theirs['id']}")[0] == 200
    status, body = _api(srv, f"/api/saved-searches/{theirs['id']}", "PATCH", {"name": "mine now"})
    assert status == 403 and "owner" in body["error"]
    assert _api(srv, f"/api/saved-searches/{theirs['id']}", "DELETE")[0] == 403
    assert store.get(theirs["id"]).name == "地铁"

    status, changed = _api(srv, f"/api/saved-searches/{mine['id']}", "PATCH", {"name": "立法会", "shared": True})
    assert status == 200 and changed["name"] == "立法会" and changed["shared"]
    assert mine["id"] in {s["id"] for s in _api(srv, "/api/saved-searches", headers=OTHER)[1]["saved_searches"]}
    assert _api(srv, f"/api/saved-searches/{mine['id']}", "DELETE") == (200, {"id": mine["id"], "deleted": True})
    assert store.get(mine["id"]) is None
    assert _api(srv, f"/api/saved-searches/{mine['id']}")[0] == 404
    for sid in (theirs["id"], private["id"]):
        assert _api(srv, f"/api/saved-searches/{sid}", "DELETE", headers=OTHER)[0] == 200


def test_a_shared_searchs_webhook_url_is_shown_to_its_owner_only(site):
    """A webhook URL is often a credential itself (Slack, Teams): a colleague
    seeing a shared search gets neither it nor the secret, in the listing,
    the search, or the answer to a change."""
    srv, store = site
    status, shared = _api(srv, "/api/saved-searches", "POST",
                          {"name": "共享", "params": {"q": "香港"}, "shared": True})
    assert status == 201
    hook = "https://hooks.slack.com/services/T000/B000/XXXXSECRET"
    store.set_webhook(shared["id"], _owner(STAFF_TOKEN), hook)
    try:
        owner_view = _api(srv, f"/api/saved-searches/{shared['id']}")[1]
        other_view = _api(srv, f"/api/saved-searches/{shared['id']}", headers=OTHER)[1]
        assert owner_view["webhook_url"] == hook and other_view["id"] == shared["id"]
        assert "webhook_url" not in other_view and "webhook_secret" not in other_view
        listed = {s["id"]: s for s in _api(srv, "/api/saved-searches", headers=OTHER)[1]["saved_searches"]}
        assert "webhook_url" not in listed[shared["id"]]
        assert {s["id"]: s for s in _api(srv, "/api/saved-searches")[1]["saved_searches"]}[
            shared["id"]]["webhook_url"] == hook
        status, body = call(srv.url + "/api/saved-searches", headers=OTHER)
        assert status == 200 and b"XXXXSECRET" not in body
    finally:
        assert _api(srv, f"/api/saved-searches/{shared['id']}", "DELETE")[0] == 200


@pytest.mark.parametrize("body, status, named", [
    ({"name": "x", "params": {"q": "香港", "sortt": "newest"}}, 400, "sortt"),
    ({"name": "x", "params": {"q": "香港", "range": "decade"}}, 400, "range"),
    ({"name": "x", "query_string": "q=香港&from=2024-02-30"}, 400, "2024-02-30"),
    ({"name": "x", "query_string": "q=香港&sort=best"}, 400, "sort"),
    ({"name": "x", "params": {"q": "香港", "near_a": "香港"}}, 400, "near_b"),
    ({"name": "x", "params": {"q": "香港" * 200}}, 400, "too long"),
    ({"name": "x", "params": {"q": ["香港", 3]}}, 400, "'q'"),
    ({"name": "x", "params": {}}, 400, "a query or a filter"),
    ({"name": "x", "query_string": "q=%FF"}, 400, "not UTF-8"),
    ({"name": "x", "params": {"q": ["香港", "澳门"]}}, 400, "'q' given more than once"),
    ({"name": "x", "query_string": "q=香港&sort=newest&sort=oldest"}, 400, "'sort' given more than once"),
    ({"name": "x", "params": {"q": "a"}, "query_string": "q=a"}, 400, "one of them"),
    ({"name": "x"}, 400, "one of them"),
    ({"name": "", "params": {"q": "香港"}}, 400, "name"),
    ({"name": "x" * 201, "params": {"q": "香港"}}, 400, "name too long"),
    ({"name": "x\x01y", "params": {"q": "香港"}}, 400, "control characters"),
    ({"name": "x", "params": {"q": "香港"}, "shared": "yes"}, 400, "shared"),
    ({"nmae": "x", "params": {"q": "香港"}}, 400, "'nmae' (did you mean 'name'?)"),
    (["not", "an", "object"], 400, "JSON object"),
])
def test_a_bad_saved_search_is_refused_naming_the_problem_and_not_stored(site, body, status, named):
    srv, store = site
    before = len(store.all())
    got, answer = _api(srv, "/api/saved-searches", "POST", body)
    assert got == status and named in answer["error"], answer
    assert len(store.all()) == before


def test_bodies_and_credentials_that_are_refused(site):
    srv, store = site
    before = len(store.all())
    body = json.dumps({"name": "x", "params": {"q": "香港"}})
    assert call(srv.url + "/api/saved-searches", "POST", body, {**STAFF, "Content-Type": "text/html"})[0] == 415
    assert call(srv.url + "/api/saved-searches", "POST", body,
                {**STAFF, **JSON, "Content-Encoding": "gzip"})[0] == 415
    status, answer = call_json(srv.url + "/api/saved-searches", "POST", "{not json", {**STAFF, **JSON})
    assert status == 400 and "JSON" in answer["error"]
    assert call(srv.url + "/api/saved-searches", "POST", body, JSON)[0] == 401
    assert call(srv.url + "/api/saved-searches", "POST", body, {"Authorization": "Bearer nope", **JSON})[0] == 403
    assert call(srv.url + "/api/saved-searches")[0] == 401
    assert call_json(srv.url + "/api/saved-searches?x=1", headers=STAFF)[0] == 400  # an undeclared parameter
    assert len(store.all()) == before


def test_the_results_url_finds_what_the_search_found(site):
    """The saved parameters as a results URL run the same search: its total
    over the API equals the total of the query string that was saved."""
    srv, _ = site
    query = "q=香港&range=year&sort=newest&group=0"
    status, saved = _api(srv, "/api/saved-searches", "POST", {"name": "港", "query_string": query})
    assert status == 201
    assert saved["params"] == {k: [v] for k, v in urllib.parse.parse_qsl(query)}
    direct = call_json(srv.url + "/api/search?" + urllib.parse.quote(query, safe="=&"))[1]
    again = call_json(srv.url + "/api/search?" + saved["results_url"].partition("?")[2])[1]
    assert again["total"] == direct["total"] and [h["id"] for h in again["hits"]] == [h["id"] for h in direct["hits"]]
    status, page, = call(srv.url + saved["results_url"])
    assert status == 200
    _api(srv, f"/api/saved-searches/{saved['id']}", "DELETE")


def test_new_since_last_visit_counts_the_stores_alerts(site):
    from search.saved_searches import NewMatch

    srv, store = site
    status, saved = _api(srv, "/api/saved-searches", "POST",
                         {"name": "疫苗", "params": {"q": "疫苗"}, "shared": True})
    sid = saved["id"]
    store.record(sid, [NewMatch("a-1", "g-1", "<b>疫苗</b>接种", "2024-03-01"), NewMatch("a-2", "a-2", "疫苗二")],
                 [NewMatch("a-3", "g-1", "疫苗（转载）")], [], commit_seq=1, now=100.0)
    count = {s["id"]: s["new_count"] for s in _api(srv, "/api/saved-searches")[1]["saved_searches"]}
    assert count[sid] == 2 == store.count_new(sid, _owner(STAFF_TOKEN))  # a copy is not a new alert
    status, one = _api(srv, f"/api/saved-searches/{sid}")
    assert [a["article_id"] for a in one["alerts"]] == [a.article_id for a in store.feed(sid)] == ["a-1", "a-2"]

    # The alerts page shows them (escaped) and records the visit: my count resets, a colleague's does not.
    status, page = call(srv.url + f"/staff/saved/{sid}", headers=STAFF)
    text = page.decode()
    assert status == 200 and html.escape("<b>疫苗</b>接种", quote=False) in text and "<b>疫苗</b>" not in text
    assert 'href="/articles/a-1"' in text
    assert {s["id"]: s["new_count"] for s in _api(srv, "/api/saved-searches")[1]["saved_searches"]}[sid] == 0
    assert {s["id"]: s["new_count"] for s in _api(srv, "/api/saved-searches", headers=OTHER)[1]["saved_searches"]}[sid] == 2
    store.record(sid, [NewMatch("a-4", "a-4", "疫苗四")], [], [], commit_seq=2)
    store.record(sid, [], [], ["a-2"], commit_seq=3)  # a-2 updated: no longer matches
    assert {s["id"]: s["new_count"] for s in _api(srv, "/api/saved-searches")[1]["saved_searches"]}[sid] == 1
    assert [a["article_id"] for a in _api(srv, f"/api/saved-searches/{sid}")[1]["alerts"]] == ["a-4", "a-1"]
    _api(srv, f"/api/saved-searches/{sid}", "DELETE")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _browser(srv):
    """A cookie-keeping client that does not follow redirects, signed in as staff."""
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)

    def send(path, form=None, origin=srv.url):
        data = None if form is None else urllib.parse.urlencode(form).encode()
        req = urllib.request.Request(srv.url + path, data=data, headers={"Origin": origin} if origin else {})
        try:
            with opener.open(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    status, headers, _ = send("/staff/login", {"token": STAFF_TOKEN, "next": "/staff/saved"})
    assert status == 303, status
    return send


def test_staff_pages_save_rename_share_and_delete_with_forms(site):
    srv, store = site
    send = _browser(srv)
    anonymous = call(srv.url + "/search?q=" + urllib.parse.quote("香港"))[1].decode()
    assert 'class="save-search"' not in anonymous and 'class="search-feed"' in anonymous
    status, _, page = send("/search?" + urllib.parse.urlencode({"q": "<香港>", "category": "港闻", "page": "2",
                                                                 "hl": "en"}))
    assert status == 200 and 'class="save-search"' in page and 'action="/staff/saved?hl=en"' in page
    query_string = html.unescape(page.split('name="query_string" value="')[1].split('"')[0])
    assert urllib.parse.parse_qsl(query_string) == [("q", "<香港>"), ("category", "港闻")]  # no page, no hl

    name = "<script>alert(1)</script>港闻"
    status, headers, _ = send("/staff/saved?hl=en", {"query_string": query_string, "name": name, "shared": "1"})
    assert status == 303 and headers["Location"].endswith("/staff/saved?hl=en")
    saved = next(s for s in store.list_for(_owner(STAFF_TOKEN)) if s.name == name)
    assert saved.params == {"q": ["<香港>"], "category": ["港闻"]} and saved.shared
    status, _, listing = send("/staff/saved?hl=en")
    assert status == 200 and html.escape(name, quote=False) in listing and name not in listing
    assert "Saved searches" in listing and 'href="/staff/webhooks?hl=en"' in listing
    assert f'href="/staff/saved/{saved.id}?hl=en"' in listing
    assert html.escape(f"/feeds/saved/{saved.id}.atom?token={saved.feed_token}") in listing

    # A form posted from another site changes nothing.
    status, _, _ = send(f"/staff/saved/{saved.id}/rename", {"name": "hijacked"}, origin="https://evil.example")
    assert status == 403 and store.get(saved.id).name == name
    assert send(f"/staff/saved/{saved.id}/rename", {"name": "港闻追踪"})[0] == 303
    assert send(f"/staff/saved/{saved.id}/share", {"shared": "0"})[0] == 303
    assert store.get(saved.id).name == "港闻追踪" and not store.get(saved.id).shared
    status, _, page = send(f"/staff/saved/{saved.id}/share", {"shared": "maybe"})
    assert status == 400 and "shared" in page
    status, _, page = send("/staff/saved", {"query_string": "q=香港&range=decade", "name": "bad"})
    assert status == 400 and "range" in page and "bad" not in {s.name for s in store.all()}

    # A colleague's shared search: visible, not theirs to change.
    status, other = _api(srv, "/api/saved-searches", "POST", {"name": "同事的", "params": {"q": "地铁"}, "shared": True},
                         OTHER)
    assert send(f"/staff/saved/{other['id']}/delete", {})[0] == 403 and store.get(other["id"]) is not None
    assert send(f"/staff/saved/{saved.id}/delete", {})[0] == 303 and store.get(saved.id) is None
    assert send("/staff/saved/no-such-id")[0] == 404
    _api(srv, f"/api/saved-searches/{other['id']}", "DELETE", headers=OTHER)


def test_save_a_search_in_a_real_browser(site, browser, sample_records):
    """Staff sign in, search, save the search with a name, see it on
    /staff/saved with its new-alert count, rename it, open its alerts page
    (the count resets).  Screenshots: test-artifacts/saved-*.png."""
    import os

    from conftest import ARTIFACTS
    from search.saved_searches import NewMatch
    from test_pages_browser import axe_violations

    srv, store = site
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        page.goto(srv.url + "/staff/login")
        page.fill("#token", STAFF_TOKEN)
        page.click("#login-submit")
        page.goto(srv.url + "/search?q=" + urllib.parse.quote("香港") + "&sort=newest")
        form = page.locator("form.save-search")
        assert form.is_visible()
        form.locator("input[name=name]").fill("香港动态")
        form.locator("input[name=shared]").check()
        page.screenshot(path=os.path.join(ARTIFACTS, "saved-1-results-form.png"), full_page=False)
        assert axe_violations(page) == []
        form.locator("button[type=submit]").click()
        page.wait_for_url("**/staff/saved")
        saved = next(s for s in store.list_for(_owner(STAFF_TOKEN)) if s.name == "香港动态")
        assert saved.params == {"q": ["香港"], "sort": ["newest"]} and saved.shared
        row = page.locator(f"tr[data-id='{saved.id}']")
        assert row.locator(".new-count").inner_text() == "0"

        hits = [r for r in sample_records if "香港" in r["title"]][:3]
        store.record(saved.id, [NewMatch(r["id"], r["id"], r["title"], r.get("published")) for r in hits], [], [],
                     commit_seq=1)
        page.reload()
        assert row.locator(".new-count").inner_text() == str(len(hits))
        page.screenshot(path=os.path.join(ARTIFACTS, "saved-2-list.png"), full_page=True)
        assert axe_violations(page) == []

        row.locator("form.rename input[name=name]").fill("香港 · 一年")
        row.locator("form.rename button").click()
        page.wait_for_url("**/staff/saved")
        assert row.locator("a.alerts-link").inner_text() == "香港 · 一年" == store.get(saved.id).name

        row.locator("a.alerts-link").click()
        page.wait_for_url(f"**/staff/saved/{saved.id}")
        items = page.locator("#alerts li")
        assert items.count() == len(hits) and page.locator("#alerts li.new").count() == len(hits)
        assert {items.nth(i).locator("a").inner_text() for i in range(len(hits))} == {r["title"] for r in hits}
        page.screenshot(path=os.path.join(ARTIFACTS, "saved-3-alerts.png"), full_page=True)
        assert axe_violations(page) == []
        page.locator("a.results-link").click()
        page.wait_for_url("**/search?*")
        assert page.input_value("#q") == "香港"
        page.goto(srv.url + "/staff/saved")
        assert row.locator(".new-count").inner_text() == "0"  # the visit was recorded
        # On a phone the page never scrolls sideways (the table scrolls inside itself).
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/staff/saved", "/staff/webhooks"):
            page.goto(srv.url + path)
            assert page.evaluate("document.documentElement.scrollWidth") <= 390, (path, page.evaluate(
                "[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 390)"
                ".map(e => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right).slice(0, 8)"))
        page.goto(srv.url + "/staff/saved")
        page.screenshot(path=os.path.join(ARTIFACTS, "saved-4-list-phone.png"), full_page=True)
    finally:
        page.close()


def test_every_answer_fits_the_openapi_document(sample_index, tmp_path):
    """The successful answers of each saved-search operation, validated
    against the OpenAPI document (openapi-core), alerts included."""
    from openapi_core import OpenAPI
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    from search.saved_searches import NewMatch
    from web import create_app
    from web.saved import saved_store

    app = create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_RATE_LIMIT": "off",
                      "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_ARTICLE_STORE": "off",
                      "SEARCH_QUERY_LOG": "off", "SEARCH_SAVED_SEARCHES": str(tmp_path / "saved.sqlite"),
                      "SEARCH_SECRET_KEY_FILE": str(tmp_path / "secret_key")})
    client = app.test_client()
    openapi = OpenAPI.from_dict(client.get("/api/openapi.json").get_json())

    def check(method, path, status, body=None):
        resp = client.open(path, method=method, headers=STAFF, json=body)
        assert resp.status_code == status, (method, path, resp.get_json())
        req = Request(EnvironBuilder(path=path, method=method, base_url="http://localhost").get_environ())
        openapi.validate_response(WerkzeugOpenAPIRequest(req), WerkzeugOpenAPIResponse(resp))
        return resp.get_json()

    created = check("POST", "/api/saved-searches", 201, {"name": "港", "params": {"q": "香港", "year": ["2014"]}})
    saved_store(app).record(created["id"], [NewMatch("a-1", "a-1", "标题", "2014-03-01", None)], [], [], 1)
    assert check("GET", "/api/saved-searches", 200)["saved_searches"][0]["new_count"] == 1
    assert [a["article_id"] for a in check("GET", f"/api/saved-searches/{created['id']}", 200)["alerts"]] == ["a-1"]
    assert check("PATCH", f"/api/saved-searches/{created['id']}", 200, {"shared": True})["shared"] is True
    assert check("DELETE", f"/api/saved-searches/{created['id']}", 200)["deleted"] is True
    check("GET", f"/api/saved-searches/{created['id']}", 404)


def test_a_damaged_store_is_a_503_not_a_500(sample_index, tmp_path):
    """A saved-search file that is not a database: the API answers 503 with
    Retry-After (JSON), the staff page and the feed 503 pages; reader
    searches and their feeds are not affected."""
    from web import create_app

    damaged = tmp_path / "saved.sqlite"
    damaged.write_bytes(b"not a database " * 100)
    app = create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_RATE_LIMIT": "off",
                      "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_ARTICLE_STORE": "off",
                      "SEARCH_QUERY_LOG": "off", "SEARCH_SAVED_SEARCHES": str(damaged),
                      "SEARCH_SECRET_KEY_FILE": str(tmp_path / "secret_key")})
    client = app.test_client()
    for method, path, body in (("GET", "/api/saved-searches", None),
                               ("POST", "/api/saved-searches", {"name": "x", "params": {"q": "香港"}})):
        resp = client.open(path, method=method, headers=STAFF, json=body)
        assert resp.status_code == 503 and resp.headers["Retry-After"] == "5", resp.data
        assert "saved searches are unavailable" in resp.get_json()["error"]
    for path in ("/staff/saved", "/feeds/saved/x.atom?token=y"):
        resp = client.get(path, headers=STAFF)
        assert resp.status_code == 503 and resp.mimetype == "text/html", path
    assert client.get("/search.atom?q=%E9%A6%99%E6%B8%AF").status_code == 200
    assert damaged.read_bytes() == b"not a database " * 100  # nothing written over it


def _app(sample_index, tmp_path, saved, **extra):
    from web import create_app

    return create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_RATE_LIMIT": "off",
                       "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_ARTICLE_STORE": "off",
                       "SEARCH_QUERY_LOG": "off", "SEARCH_SAVED_SEARCHES": saved,
                       "SEARCH_SECRET_KEY_FILE": str(tmp_path / "secret_key"),
                       "SEARCH_WEBHOOK_ALLOW_HOSTS": ("127.0.0.1:9",), **extra})


def test_a_locked_store_is_a_503_on_every_saved_search_blueprint(sample_index, tmp_path):
    """The store write-locked by another process's transaction: the webhook
    API (which had no handler: 500), the saved-search API and the staff
    pages answer 503 with Retry-After, and nothing is changed."""
    import sqlite3

    from search.saved_searches import SavedSearchStore

    path = str(tmp_path / "saved.sqlite")
    app = _app(sample_index, tmp_path, path)
    store = app.extensions["saved_searches"] = SavedSearchStore(path, busy_timeout=0.05)  # the lock is not waited out
    saved = store.create(_owner(STAFF_TOKEN), "锁", {"q": ["香港"]})
    store.set_webhook(saved.id, _owner(STAFF_TOKEN), "http://127.0.0.1:9/hook")
    client = app.test_client()
    locker = sqlite3.connect(path, isolation_level=None)
    locker.execute("BEGIN IMMEDIATE")  # a writer holds the lock
    try:
        for method, url, body in (("DELETE", f"/api/saved-searches/{saved.id}/webhook", None),
                                  ("PUT", f"/api/saved-searches/{saved.id}/webhook", {"url": "http://127.0.0.1:9/x"}),
                                  ("PATCH", f"/api/saved-searches/{saved.id}", {"name": "新"}),
                                  ("POST", "/api/saved-searches", {"name": "x", "params": {"q": "香港"}})):
            resp = client.open(url, method=method, headers=STAFF, json=body)
            assert resp.status_code == 503 and resp.headers["Retry-After"] == "5", (method, url, resp.data)
            assert "saved searches are unavailable" in resp.get_json()["error"]
        resp = client.post("/staff/webhooks", headers={**STAFF, "Origin": "http://localhost"},
                           data={"search_id": saved.id, "clear": "1"})
        assert resp.status_code == 503 and resp.mimetype == "text/html"
    finally:
        locker.execute("ROLLBACK")
        locker.close()
    assert store.get(saved.id).webhook_url == "http://127.0.0.1:9/hook" and store.get(saved.id).name == "锁"
    assert client.delete(f"/api/saved-searches/{saved.id}/webhook", headers=STAFF).status_code == 200


def test_saved_searches_off_is_a_404_everywhere_and_makes_no_file(sample_index, tmp_path, monkeypatch):
    """SEARCH_SAVED_SEARCHES=off: the API, staff pages, saved feeds and
    webhooks answer 404 saying saved searches are off (JSON under /api/,
    pages elsewhere), the writer's delivery thread does not start, and no
    file named "off" appears; reader searches and their feeds still work."""
    import threading

    from indexer import deliveries
    from search.settings import Settings

    monkeypatch.chdir(tmp_path)
    client = _app(sample_index, tmp_path, "off").test_client()
    for method, url, body in (("GET", "/api/saved-searches", None),
                              ("POST", "/api/saved-searches", {"name": "x", "params": {"q": "香港"}}),
                              ("GET", "/api/saved-searches/abc", None),
                              ("PUT", "/api/saved-searches/abc/webhook", {"url": "http://127.0.0.1:9/x"}),
                              ("DELETE", "/api/saved-searches/abc/webhook", None)):
        resp = client.open(url, method=method, headers=STAFF, json=body)
        assert resp.status_code == 404 and "saved searches are off" in resp.get_json()["error"], (url, resp.data)
    for url in ("/staff/saved", "/staff/saved/abc", "/staff/webhooks", "/feeds/saved/abc.atom?token=t"):
        resp = client.get(url, headers=STAFF)
        assert resp.status_code == 404 and resp.mimetype == "text/html", url
        assert "没有开启保存的搜索" in resp.get_data(as_text=True), url
    assert client.get("/search.atom?q=%E9%A6%99%E6%B8%AF").status_code == 200
    stop = threading.Event()
    assert deliveries.start(Settings(index=str(tmp_path / "ix"), saved_searches="off"), stop) is None
    assert not (tmp_path / "off").exists() and not os.path.exists("off")


def test_the_saved_search_and_webhook_apis_read_bodies_alike(sample_index, tmp_path):
    """One reading of a JSON body (web.inputs.json_body): the same 415 for a
    compressed body or another Content-Type, a byte order mark ignored."""
    client = _app(sample_index, tmp_path, str(tmp_path / "saved.sqlite")).test_client()
    resp = client.post("/api/saved-searches", headers={**STAFF, "Content-Type": "application/json"},
                       data=b"\xef\xbb\xbf" + json.dumps({"name": "x", "params": {"q": "香港"}}).encode())
    assert resp.status_code == 201, resp.data
    created = resp.get_json()
    hook = f"/api/saved-searches/{created['id']}/webhook"
    resp = client.put(hook, headers={**STAFF, "Content-Type": "application/json"},
                      data=b"\xef\xbb\xbf" + json.dumps({"url": "http://127.0.0.1:9/x"}).encode())
    assert resp.status_code == 200, resp.data
    for headers in ({"Content-Type": "application/json", "Content-Encoding": "gzip"},
                    {"Content-Type": "text/html"}, {"Content-Type": "application/x-www-form-urlencoded"}):
        answers = []
        for method, url in (("POST", "/api/saved-searches"), ("PUT", hook)):
            resp = client.open(url, method=method, headers={**STAFF, **headers}, data=b"{}")
            answers.append((resp.status_code, resp.get_json()["error"]))
        assert answers[0] == answers[1] and answers[0][0] == 415, answers
    for method, url in (("POST", "/api/saved-searches"), ("PUT", hook)):
        resp = client.open(url, method=method, headers={**STAFF, "Content-Type": "application/json"},
                           data=b'{"name": "\\ud800"}')
        assert resp.status_code == 400 and "surrogate" in resp.get_json()["error"], resp.data
