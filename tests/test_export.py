"""Export of a result set: CSV that Excel opens (UTF-8 BOM) and JSON
Lines, with the same articles in the same order as the search."""

import csv
import io
import json
from urllib.parse import quote

from conftest import validated


def test_csv_export_has_a_bom_and_the_search_results(client, openapi):
    q = quote("香港 选举")
    search = validated(client, openapi, f"/api/search?q={q}&size=100&sort=newest").get_json()
    resp = validated(client, openapi, f"/api/export?q={q}&sort=newest&format=csv&limit=100")
    assert resp.data.startswith(b"\xef\xbb\xbf") and resp.mimetype == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert [r["id"] for r in rows] == [h["id"] for h in search["hits"]]
    assert int(resp.headers["X-Total-Count"]) == search["total"]
    assert list(rows[0]) == ["id", "title", "published", "source", "author", "url", "snippet"]
    assert all("<mark>" not in r["snippet"] and r["title"] for r in rows)


def test_jsonl_export_and_limits(client, openapi):
    resp = validated(client, openapi, "/api/export?q=%E9%A6%99%E6%B8%AF&format=jsonl&limit=250")
    lines = [json.loads(line) for line in resp.data.decode("utf-8").splitlines()]
    assert len(lines) == 250 and len({r["id"] for r in lines}) == 250
    assert validated(client, openapi, "/api/export?q=x&limit=10001", status=400).get_json()["status"] == 400
    assert validated(client, openapi, "/api/export?q=x&format=xls", status=400).get_json()["status"] == 400


def test_results_page_links_to_the_export(client):
    page = client.get("/search?q=" + quote("香港")).get_data(as_text=True)
    assert 'class="export-csv" href="/api/export?q=%E9%A6%99%E6%B8%AF&amp;format=csv' in page
