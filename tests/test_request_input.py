"""Odd input never reaches a header, a log or a template unread: raw bytes
in the query string (real gunicorn: the Flask test client encodes them
itself), raw UTF-8 in a page URL, redirect targets after the staff login."""

from __future__ import annotations

import json
import socket

import pytest

from conftest import STAFF_TOKEN


def raw_get(server, target: bytes) -> tuple[int, dict, bytes]:
    """One GET with ``target`` sent byte for byte: (status, headers, body);
    an empty reply is status 0."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"GET " + target + b" HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    if not data:
        return 0, {}, b""
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(lines[0].split()[1]), headers, body


JSON_PATHS = [b"/healthz", b"/api/search", b"/api/timeline", b"/api/suggest", b"/api/openapi.json"]
PAGE_PATHS = [b"/", b"/search", b"/advanced", b"/staff/login", b"/articles/x"]


@pytest.mark.parametrize("query", [b"x=\xff", b"q=\xe9\xa6", b"q=%FF", b"q=%E4%B8", b"q=a&b=\xc0\xaf"])
def test_query_string_that_is_not_utf8_is_a_400_naming_it(server, query):
    for path in JSON_PATHS:
        status, headers, body = raw_get(server, path + b"?" + query)
        assert status == 400, (path, query, status, body[:200])
        assert headers["content-type"].startswith("application/json")
        data = json.loads(body)
        assert data["status"] == 400 and "not UTF-8" in data["error"], data
    for path in PAGE_PATHS:
        status, headers, body = raw_get(server, path + b"?" + query)
        assert status == 400, (path, query, status, body[:200])
        assert headers["content-type"].startswith("text/html")
        assert "not UTF-8" in body.decode("utf-8")


def test_raw_utf8_in_a_page_url_is_answered_and_the_link_header_is_ascii(server):
    status, headers, body = raw_get(server, "/search?q=香港".encode())
    assert status == 200 and "<mark>香港</mark>" in body.decode()
    assert headers["link"] == '</api/search?q=%E9%A6%99%E6%B8%AF>; rel="alternate"; type="application/json"'
    # A value cannot end the URL inside the header or add parameters to it.
    status, headers, _ = raw_get(server, b'/search?q=a>;rel=preload;as="x"')
    assert status == 200
    assert headers["link"] == ('</api/search?q=a%3E%3Brel%3Dpreload%3Bas%3D%22x%22>; '
                               'rel="alternate"; type="application/json"')
    status, _, body = raw_get(server, "/api/search?q=香港&size=1".encode())
    assert status == 200 and json.loads(body)["query"] == "香港"


def test_raw_bytes_never_reach_the_access_log_unread(client):
    """The hook answers before the access log reads request.args (the test
    client sends the WSGI string gunicorn would)."""
    resp = client.get("/search", environ_overrides={"QUERY_STRING": "q=\xff"})
    assert resp.status_code == 400 and "not UTF-8" in resp.get_data(as_text=True)


@pytest.mark.parametrize("target, expected", [
    ("/\t/evil.example", "/staff/queries"),
    ("/\n/x", "/staff/queries"),
    ("/\r\n/evil.example", "/staff/queries"),
    ("\\\\evil.example", "/staff/queries"),
    ("/\\evil.example", "/staff/queries"),
    (" //evil.example", "/staff/queries"),
    ("\x00//evil.example", "/staff/queries"),
    ("https://evil.example/", "/staff/queries"),
    ("javascript:alert(1)", "/staff/queries"),
    ("//evil.example", "/staff/queries"),
    ("/search?q=香港", "/search?q=%E9%A6%99%E6%B8%AF"),
    ("/search?q=a b", "/search?q=a%20b"),
    ("/staff/queries?days=30#top", "/staff/queries?days=30"),
    ("/search?q=%E9%A6%99", "/search?q=%E9%A6%99"),
    ("", "/staff/queries"),
])
def test_login_redirects_only_to_a_path_of_this_site(web_app, target, expected):
    staff = web_app.test_client()
    resp = staff.post("/staff/login", data={"token": STAFF_TOKEN, "next": target},
                      headers={"Origin": "http://localhost"})
    assert resp.status_code == 303 and resp.headers["Location"] == expected
    # The login form carries the same reading of next=.
    form = web_app.test_client().get("/staff/login", query_string={"next": target}).get_data(as_text=True)
    assert f'value="{expected}"' in form.replace("&amp;", "&")


def test_a_path_is_read_as_the_bytes_sent(server):
    """A path sent with raw UTF-8 is that text (gunicorn alone read 港 as
    æ¸¯); a path whose bytes are not UTF-8, raw or percent-encoded, is a
    400 naming it, never an id nobody can type."""
    for target in ("/api/articles/港-raw".encode(), "http://localhost/api/articles/港-raw".encode(),
                   b"/api/articles/%E6%B8%AF-raw"):
        status, _, body = raw_get(server, target)
        assert status == 404 and json.loads(body)["error"] == "no article with id '港-raw'", (target, body)
    for target in (b"/api/articles/x\xff", b"/api/articles/x%FF", b"/api/articles/%E6%B8", b"/api/x\xe6\xb8/y"):
        status, headers, body = raw_get(server, target)
        assert status == 400 and headers["content-type"].startswith("application/json"), (target, body)
        assert json.loads(body)["error"].startswith("the URL path is not UTF-8"), body
    status, headers, body = raw_get(server, b"/articles/x\xff?q=1")
    assert status == 400 and headers["content-type"].startswith("text/html") and "not UTF-8" in body.decode()
    # A page path with raw UTF-8 is routed as its text too.
    status, headers, body = raw_get(server, "/articles/不存在的稿件".encode())
    assert status == 404 and headers["content-type"].startswith("text/html")


@pytest.mark.parametrize("value", ["５", "٣", "1_0", " 5", "5 ", "+5", "1e2", "0x10", "10.0"])
def test_a_number_parameter_is_ascii_digits_only(client, value):
    """size=５ (full-width) or 1_0 is no number a URL writes: a 400 naming
    the parameter, on the API and the pages alike, never read as 5 or 10."""
    from urllib.parse import quote

    resp = client.get("/api/search?q=" + quote("香港") + "&size=" + quote(value))
    assert resp.status_code == 400 and "'size' must be an integer" in resp.get_json()["error"]
    assert client.get("/search?q=" + quote("香港") + "&page=" + quote(value)).status_code == 400
    assert client.get("/api/search?q=" + quote("香港") + "&size=5").status_code == 200
