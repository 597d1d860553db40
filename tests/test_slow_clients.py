"""Slow, idle and malformed clients against the real deployment (gunicorn
with gunicorn.conf.py's worker, web/worker.py): they never hold the
threads, and what gunicorn itself answers is the API's JSON error for
API paths and an HTML page for pages."""

import json
import socket
from urllib.parse import quote

import pytest

from conftest import STAFF_TOKEN, Server, digest


@pytest.fixture(scope="module")
def srv(sample_index):
    s = Server(sample_index, workers=2, extra_env={"SEARCH_CLIENT_TIMEOUT": "1.5",
                                                   "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN)})
    yield s
    s.stop()


def raw(srv, data: bytes, timeout=10.0) -> tuple[int, dict, bytes]:
    """Send ``data`` as is; (status, headers, body) of the answer."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        while True:
            try:
                chunk = s.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return int(lines[0].split()[1]), headers, body


def hold(srv, n, data):
    """``n`` connections that sent ``data`` and then nothing more."""
    socks = []
    for _ in range(n):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
        s.sendall(data)
        socks.append(s)
    return socks


def test_50_slow_clients_do_not_stop_searches(srv):
    partial_head = hold(srv, 40, b"GET /api/search?q=%E9%A6%99%E6%B8%AF HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    short_body = hold(srv, 10, b"POST /staff/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded"
                               b"\r\nContent-Length: 200\r\n\r\ntoken=abc")
    try:
        for q in ("香港", "选举", "疫情"):
            status, _, body = srv.get(f"/api/search?q={quote(q)}&size=3")
            assert status == 200 and json.loads(body)["total"] > 0
        status, data = srv.json("/healthz")
        assert status == 200 and data["ok"]
        assert srv.get("/search?q=%E9%A6%99%E6%B8%AF")[0] == 200
    finally:
        for s in partial_head + short_body:
            s.close()


def test_a_client_that_stops_sending_gets_408_in_json_or_html(srv):
    status, headers, body = raw(srv, b"GET /api/search?q=x HTTP/1.1\r\nHost: x\r\n")
    assert status == 408 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "the request did not arrive within 1.5 s", "status": 408}
    status, headers, body = raw(srv, b"POST /staff/login HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\ntok")
    assert status == 408 and headers["content-type"].startswith("text/html")
    assert "the request did not arrive within 1.5 s" in body.decode()


def test_a_long_body_that_stops_coming_gets_408(srv):
    """Over the buffered 1 MiB the app reads the body itself, with the
    same timeout per read: 408, never a 500."""
    status, headers, body = raw(srv, b"POST /api/articles:bulk HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
                                + STAFF_TOKEN.encode() + b"\r\nContent-Length: 3000000\r\n\r\n" + b"{" * 100)
    assert status == 408 and json.loads(body) == {
        "error": "the request body did not arrive: nothing came for 1.5 s, or the client went away",
        "status": 408}, body


def test_a_client_waiting_for_100_continue_gets_it(srv):
    """The client sends its body only after "100 Continue"; the app then
    reads that body (a malformed JSON article: its 400 names the JSON
    problem, which it can only do having read it)."""
    body = b'{"id": "c1", "title":'
    with socket.create_connection(("127.0.0.1", srv.port), timeout=10) as s:
        s.sendall(b"PUT /api/articles/c1 HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Authorization: Bearer " + STAFF_TOKEN.encode() + b"\r\n"
                  b"Content-Type: application/json\r\nContent-Length: " + str(len(body)).encode()
                  + b"\r\nConnection: close\r\n\r\n")
        received = b""
        while b"\r\n\r\n" not in received:  # the interim answer, however TCP cuts it
            chunk = s.recv(100)
            assert chunk, received
            received += chunk
        assert received.startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        s.sendall(body)
        while chunk:
            chunk = s.recv(65536)
            received += chunk
    final = received[len(b"HTTP/1.1 100 Continue\r\n\r\n"):]
    head, _, answer = final.partition(b"\r\n\r\n")
    assert head.split(b" ")[1] == b"400", final
    assert json.loads(answer)["error"].startswith("the body must be one JSON object (an article):")


def test_a_5000_character_url_gets_a_json_error_naming_the_problem(srv):
    # up to gunicorn's longest request line (8190) the app answers and
    # names the problem: the query is too long
    status, headers, body = raw(srv, b"GET /api/search?q=" + b"a" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400 and headers["content-type"] == "application/json"
    assert "query too long" in json.loads(body)["error"]
    status, headers, body = raw(srv, b"GET /search?q=" + b"%E9%A6%99" * 550 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 400 and headers["content-type"].startswith("text/html")
    # beyond it: 414, JSON for the API, an HTML page for pages
    status, headers, body = raw(srv, b"GET /api/search?q=" + b"a" * 9000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"error": "the request line (URL) is too long: over 8190 bytes", "status": 414}
    status, headers, body = raw(srv, b"GET /search?q=" + b"%E9%A6%99" * 1000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status == 414 and headers["content-type"].startswith("text/html")
    assert "the request line (URL) is too long" in body.decode()


@pytest.mark.parametrize("request_bytes, status", [
    (b"GET /api/search?q=x HTTP/1.1\r\nHost: x\r\nBad Header: 1\r\n\r\n", 400),
    (b"GET /api/search?q=x HTTP/9.9\r\nHost: x\r\n\r\n", 400),
    (b"GET /api/search?q=x HTTP/1.1\r\nHost: x\r\n" + b"X-Big: " + b"a" * 9000 + b"\r\n\r\n", 431),
], ids=["space in a header name", "unknown HTTP version", "a 9,000-byte header"])
def test_malformed_requests_get_json_errors_for_the_api(srv, request_bytes, status):
    got, headers, body = raw(srv, request_bytes)
    assert got == status and headers["content-type"] == "application/json", (got, body[:300])
    data = json.loads(body)
    assert data["status"] == status and data["error"]
