"""Export of a result set: CSV that Excel opens (UTF-8 BOM) and JSON
Lines, with the same articles in the same order as the search."""

import csv
import io
import json
from urllib.parse import quote

import pytest

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
    assert list(rows[0]) == ["id", "title", "body", "published", "category", "source", "author", "tags", "url",
                             "match"]
    assert all(r["title"] and r["body"] and r["match"] == "full" for r in rows)


def test_jsonl_export_and_limits(client, openapi):
    resp = validated(client, openapi, "/api/export?q=%E9%A6%99%E6%B8%AF&format=jsonl&limit=250", headers=STAFF)
    lines = [json.loads(line) for line in resp.data.decode("utf-8").splitlines()]
    assert len(lines) == 250 and len({r["id"] for r in lines}) == 250
    assert validated(client, openapi, "/api/export?q=x&limit=-1", status=400, headers=STAFF).get_json()["status"] == 400
    everything = validated(client, openapi, "/api/export?q=%E9%A6%99%E6%B8%AF&format=jsonl&limit=0", headers=STAFF)
    ids = [json.loads(line)["id"] for line in everything.data.decode("utf-8").splitlines()]
    assert len(ids) == len(set(ids)) == int(everything.headers["X-Total-Count"]) > 250
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
    assert 'class="export-csv" href="/api/export?q=%E9%A6%99%E6%B8%AF&amp;format=csv&amp;limit=0"' in page
    assert staff.get(f"/api/export?q={q}&limit=5").status_code == 200
    # An open redirect through "next" is refused.
    assert staff.post("/staff/login", data={"token": STAFF_TOKEN, "next": "//evil.example"},
                      headers=SAME_SITE).headers["Location"] == "/staff/queries"


# ---- formula injection (issue 15, item 18) ---------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"点击\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A9)",
            "\t=1+1", "\r=1+1", "＝1+1", "－1", "＋86 10", "＠某人"]


def test_csv_cells_never_start_a_formula(tmp_path):
    """Every field an article brings (id, title, source, author, url, and
    the snippet made from the body) is written with a leading quote when it
    would start a formula; the same text elsewhere in a cell is left alone."""
    from indexer import pipeline
    from web import create_app

    from conftest import STAFF, STAFF_TOKEN, digest, write_jsonl

    records = [{"id": f"=f{i}", "title": f, "body": f + " 公式注入测试正文。", "source": f, "author": f,
                "url": "@" + str(i), "published": "2024-03-0%dT10:00:00+08:00" % (1 + i % 9)}
               for i, f in enumerate(FORMULAS)]
    records.append({"id": "plain", "title": "普通标题 =1+1", "body": "公式注入测试正文。", "source": "新华社",
                    "published": "2024-03-10"})
    ix = str(tmp_path / "ix")
    pipeline.build(ix, [write_jsonl(tmp_path / "f.jsonl", records)], workers=1, progress=False)
    app = create_app({"SEARCH_INDEX": ix, "SEARCH_ARTICLE_STORE": "off", "SEARCH_RATE_LIMIT": "off",
                      "SEARCH_QUERY_LOG": "off", "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),),
                      "SEARCH_SECRET_KEY": "k" * 32})
    client = app.test_client()
    url = "/api/export?q=" + quote("公式注入测试") + "&limit=100&group=0&format="
    rows = list(csv.DictReader(io.StringIO(client.get(url + "csv", headers=STAFF).data.decode("utf-8-sig"))))
    raw = [json.loads(line) for line in client.get(url + "jsonl", headers=STAFF).data.decode().splitlines()]
    assert len(rows) == len(raw) == len(records)
    starts = ("=", "+", "-", "@", "\t", "\r", "＝", "－", "＋", "＠")
    dangerous = 0
    for row, plain in zip(rows, raw):  # the same articles in the same order, as stored
        plain["tags"] = "|".join(plain["tags"])  # one cell in CSV
        for column, value in plain.items():
            if value.startswith(starts):
                dangerous += 1
                assert row[column] == "'" + value, (column, value)
            else:
                assert row[column] == value, (column, value)
    assert dangerous >= 5 * len(FORMULAS)  # id, title, body, source, author (and url) of each
    plain = next(r for r in rows if r["id"] == "plain")
    assert plain["title"] == "普通标题 =1+1" and plain["source"] == "新华社"
    assert not any(cell.startswith(starts) for row in rows for cell in row.values())


@pytest.mark.parametrize("value, cell", [
    *[(f, "'" + f) for f in FORMULAS],
    ("", ""), (None, ""), (-5, "'-5"), ("香港 -体育", "香港 -体育"), ("'=already", "'=already"), ("a=b", "a=b"),
    ("\n=1", "\n=1"),
])
def test_safe_cell(value, cell):
    from search.csvsafe import safe_cell

    assert safe_cell(value) == cell


def test_every_csv_writer_of_the_project_is_the_safe_one():
    """No module (bench/ and eval/ included) writes CSV except through
    search/csvsafe.py."""
    import os
    import re

    from conftest import ROOT

    writer = re.compile(r"csv\s*\.\s*(writer|DictWriter)\b|from\s+csv\s+import[^\n]*\b(writer|DictWriter)\b")
    found = []
    for top in ("search", "indexer", "web", "bench", "eval", "tools", "scripts"):
        for folder, _, files in os.walk(os.path.join(ROOT, top)):
            for name in files:
                if name.endswith(".py"):
                    path = os.path.join(folder, name)
                    with open(path, encoding="utf-8") as f:
                        if writer.search(f.read()):
                            found.append(os.path.relpath(path, ROOT))
    assert found == [os.path.join("search", "csvsafe.py")]
