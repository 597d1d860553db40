"""Export of a result set: CSV that Excel opens (UTF-8 BOM) and JSON
Lines, with the same articles in the same order as the search."""

import csv
import io
import json
from urllib.parse import quote

from conftest import STAFF, validated

SAME_SITE = {"Origin": "http://localhost"}  # what a browser sends with the login form


def test_csv_export_has_a_bom_and_the_search_results(client, openapi):
    q = quote("香港 选举")
    search = validated(client, openapi, f"/api/search?q={q}&size=100&sort=newest").get_json()
    resp = validated(client, openapi, f"/api/export?q={q}&sort=newest&format=csv&limit=100", headers=STAFF)
    assert resp.data.startswith(b"\xef\xbb\xbf") and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [h["id"] for h in search["hits"]]
    assert int(resp.headers["X-Total-Count"]) == search["total"]
    assert list(rows[0]) == ["id", "title", "published", "source", "author", "url", "snippet"]
    assert all("<mark>" not in r["snippet"] and r["title"] for r in rows)


def test_jsonl_export_and_limits(client, openapi):
    resp = validated(client, openapi, "/api/export?q=%E9%A6%99%E6%B8%AF&format=jsonl&limit=250", headers=STAFF)
    lines = [json.loads(line) for line in resp.data.decode("utf-8").splitlines()]
    assert len(lines) == 250 and len({r["id"] for r in lines}) == 250
    assert validated(client, openapi, "/api/export?q=x&limit=10001", status=400, headers=STAFF).get_json()["status"] == 400
    assert validated(client, openapi, "/api/export?q=x&format=xls", status=400, headers=STAFF).get_json()["status"] == 400


def test_export_is_for_staff_only(client, web_app):
    """Readers see no export link and the API refuses them; staff signed in
    with their token see the link, and it works with their session cookie."""
    q = quote("香港")
    assert "export-csv" not in client.get("/search?q=" + q).get_data(as_text=True)
    assert client.get(f"/api/export?q={q}").status_code == 401
    assert client.get(f"/api/export?q={q}", headers={"Authorization": "Bearer wrong"}).status_code == 403
    staff = web_app.test_client()
    login = staff.post("/staff/login", data={"token": "wrong", "next": "/search?q=" + q}, headers=SAME_SITE)
    assert login.status_code == 403
    from conftest import STAFF_TOKEN

    login = staff.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/search?q=" + q}, headers=SAME_SITE)
    assert login.status_code == 303 and login.headers["Location"] == "/search?q=" + q
    assert "SameSite=Strict" in login.headers["Set-Cookie"] and "HttpOnly" in login.headers["Set-Cookie"]
    page = staff.get("/search?q=" + q).get_data(as_text=True)
    assert 'class="export-csv" href="/api/export?q=%E9%A6%99%E6%B8%AF&amp;format=csv' in page
    assert staff.get(f"/api/export?q={q}&limit=5").status_code == 200
    # An open redirect through "next" is refused.
    assert staff.post("/staff/login", data={"token": STAFF_TOKEN, "next": "//evil.example"},
                      headers=SAME_SITE).headers["Location"] == "/staff/queries"
