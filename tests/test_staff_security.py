"""Staff sessions and abuse (issue 15, items 14, 16 and 19's token
revocation): the cookie key is a real secret, sessions end on the server,
state-changing forms come from this site, every endpoint is rate limited,
failed logins are slowed per client, and only trusted proxies say who the
client is.  In-process apps share real SQLite files (two apps on the same
files are two workers, or a restart); the deployment checks run a real
gunicorn with two workers."""

from __future__ import annotations

import hashlib
import http.client
import os
import stat
import subprocess
import sys

import pytest
from flask.sessions import SecureCookieSessionInterface

from conftest import ROOT, STAFF, STAFF_TOKEN, Server, digest

OTHER_TOKEN = "second-newsroom-token"
SAME_SITE = {"Origin": "http://localhost"}  # what a browser sends with a form of this site


@pytest.fixture
def make_app(sample_index, tmp_path):
    """create_app on the sample with its state files in tmp_path (two apps
    made with the same arguments share the key and the session file)."""
    from web import create_app

    def make(**config):
        base = {"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0, "SEARCH_ARTICLE_STORE": "off",
                "SEARCH_QUERY_LOG": str(tmp_path / "queries.sqlite"), "SEARCH_RATE_LIMIT": "off",
                "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN), digest(OTHER_TOKEN))}
        return create_app({**base, **config})

    return make


def login(client, token=STAFF_TOKEN, headers=SAME_SITE, addr="192.0.2.1"):
    return client.post("/staff/login", data={"token": token, "next": "/staff/queries"}, headers=headers,
                       environ_base={"REMOTE_ADDR": addr})


def session_cookie(client) -> str:
    cookie = client.get_cookie("session")
    assert cookie is not None
    return cookie.value


def is_staff(app, cookie: str) -> bool:
    """Does a request carrying exactly this session cookie open a staff tool?"""
    client = app.test_client()
    client.set_cookie("session", cookie)
    status = client.get("/api/queries?days=7").status_code
    assert status in (200, 401), status
    return status == 200


# ---- 14: the key, server-side sessions, Secure, same origin ----------------

def test_cookie_cannot_be_forged_from_a_configured_digest(make_app, tmp_path):
    """Before: the key was sha256("session-key|" + digests), so anyone who
    saw the configuration could sign {"staff": true}.  Now such a cookie,
    and one signed with the real key for a session the server never opened,
    open nothing."""
    app = make_app()
    key_file = tmp_path / "secret_key"
    # Readers' requests need no key: none is made until staff use a session.
    assert app.test_client().get("/search?q=a").status_code == 200 and not key_file.exists()
    assert login(app.test_client()).status_code == 303 and key_file.exists()
    digests = sorted(app.config["SEARCH_WRITE_TOKENS"])
    old_key = hashlib.sha256(("session-key|" + "|".join(digests)).encode()).hexdigest()
    assert app.secret_key != old_key and len(app.secret_key) >= 32

    class Old:
        secret_key = old_key
        config = app.config

    forged = SecureCookieSessionInterface().get_signing_serializer(Old).dumps({"staff": True})
    assert not is_staff(app, forged)
    invented = app.session_interface.get_signing_serializer(app).dumps(
        {"staff": True, "sid": "x" * 43, "principal": "token:" + digest(STAFF_TOKEN)[:12]})
    assert not is_staff(app, invented)
    # The generated key lives beside the query log (no article store here), private.
    assert key_file.read_text().strip() == app.secret_key
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_generated_key_is_shared_by_every_worker(make_app, tmp_path):
    """Eight processes racing on a fresh key file all get the same key; a
    second app (another worker, or a restart) accepts the first one's cookie."""
    path = str(tmp_path / "race" / "secret_key")
    # web/secret.py alone (stdlib only), so that the processes start at once and race.
    code = ("import importlib.util, sys; spec = importlib.util.spec_from_file_location('s', sys.argv[2]); "
            "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); print(m.load_or_create(sys.argv[1]))")
    procs = [subprocess.Popen([sys.executable, "-c", code, path, os.path.join(ROOT, "web", "secret.py")],
                              stdout=subprocess.PIPE, text=True) for _ in range(8)]
    keys = {p.communicate(timeout=60)[0].strip() for p in procs}
    assert all(p.returncode == 0 for p in procs)
    with open(path) as f:
        assert len(keys) == 1 and f.read().strip() in keys
    assert sorted(os.listdir(tmp_path / "race")) == ["secret_key"]  # no temporary file left

    first, second = make_app(), make_app()
    client = first.test_client()
    assert login(client).status_code == 303
    assert is_staff(second, session_cookie(client))


def test_configured_secret_key(make_app, tmp_path):
    from web.secret import SecretKeyError

    key = "k" * 40
    app = make_app(SEARCH_SECRET_KEY=key)
    assert app.secret_key == key and not (tmp_path / "secret_key").exists()
    with pytest.raises(SecretKeyError, match="SEARCH_SECRET_KEY is too short"):
        make_app(SEARCH_SECRET_KEY="short")
    # A key file that cannot be used: readers are served, staff login is a 503 (logged).
    (tmp_path / "empty_key").write_text("\n")
    app = make_app(SEARCH_SECRET_KEY_FILE=str(tmp_path / "empty_key"))
    assert app.test_client().get("/api/search?q=a").status_code == 200
    resp = login(app.test_client())
    assert resp.status_code == 503 and "编辑登录暂时不可用" in resp.get_data(as_text=True)
    with pytest.raises(SecretKeyError, match="holds no key"):
        app.session_interface.ensure_key(app)


@pytest.mark.parametrize("config, where", [
    ({"SEARCH_ARTICLE_STORE": "/srv/news/articles.sqlite", "SEARCH_QUERY_LOG": "/var/q.sqlite"}, "/srv/news"),
    ({"SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "/var/q.sqlite"}, "/var"),
    ({"SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off", "SEARCH_INDEX": "/srv/ix/news2k"}, "/srv/ix"),
    ({"SEARCH_ARTICLE_STORE": "off", "SEARCH_QUERY_LOG": "off", "SEARCH_INDEX": "news",
      "SEARCH_BACKEND": "opensearch"}, "data"),
])
def test_where_the_generated_key_lives(config, where):
    from web.secret import default_key_file

    assert default_key_file(config) == os.path.join(where, "secret_key")


def test_logout_ends_the_session_on_the_server(make_app):
    """A copy of the cookie taken before logout opens nothing afterwards,
    in any worker; the session stores who signed in."""
    app, other_worker = make_app(), make_app()
    client = app.test_client()
    assert login(client).status_code == 303
    cookie = session_cookie(client)
    data = app.session_interface.get_signing_serializer(app).loads(cookie)
    assert data["principal"] == "token:" + digest(STAFF_TOKEN)[:12] and data["staff"] is True
    assert is_staff(app, cookie) and is_staff(other_worker, cookie)
    assert "export-csv" in client.get("/search?q=%E9%A6%99%E6%B8%AF").get_data(as_text=True)

    out = client.post("/staff/logout", headers=SAME_SITE)
    assert out.status_code == 303 and client.get_cookie("session") is None
    assert not is_staff(app, cookie) and not is_staff(other_worker, cookie)
    # The stale cookie is cleared where it is presented, and the page is a reader's.
    stale = app.test_client()
    stale.set_cookie("session", cookie)
    page = stale.get("/search?q=%E9%A6%99%E6%B8%AF")
    assert "export-csv" not in page.get_data(as_text=True) and "session=;" in page.headers.get("Set-Cookie", "")


def test_revoking_a_token_ends_its_sessions(make_app):
    """19: remove a digest from SEARCH_WRITE_TOKENS and restart: the sessions
    opened with that token end, the others go on."""
    before = make_app()
    first, second = before.test_client(), before.test_client()
    assert login(first, STAFF_TOKEN).status_code == 303
    assert login(second, OTHER_TOKEN).status_code == 303
    first_cookie, second_cookie = session_cookie(first), session_cookie(second)
    assert before.session_interface.get_signing_serializer(before).loads(second_cookie)["principal"] == \
        "token:" + digest(OTHER_TOKEN)[:12]

    after = make_app(SEARCH_WRITE_TOKENS=(digest(OTHER_TOKEN),))  # the restart without STAFF_TOKEN
    assert not is_staff(after, first_cookie)
    assert is_staff(after, second_cookie)
    # Restoring the digest does not bring the ended session back.
    again = make_app()
    assert not is_staff(again, first_cookie) and is_staff(again, second_cookie)


def test_a_service_on_another_index_never_signs_this_ones_staff_out(make_app, tmp_path):
    """Two services whose article stores sit in one directory (the demo and
    your own index, both in data/): the other one, started without tokens,
    keeps its own staff sessions and leaves this one's alone."""
    ours = make_app(SEARCH_ARTICLE_STORE=str(tmp_path / "news.articles.sqlite"))
    client = ours.test_client()
    assert login(client).status_code == 303
    cookie = session_cookie(client)
    other = make_app(SEARCH_ARTICLE_STORE=str(tmp_path / "index.articles.sqlite"), SEARCH_WRITE_TOKENS=())
    assert other.extensions["staff_sessions"].path != ours.extensions["staff_sessions"].path
    assert ours.extensions["staff_sessions"].path == str(tmp_path / "news.staff_sessions.sqlite")
    again = make_app(SEARCH_ARTICLE_STORE=str(tmp_path / "news.articles.sqlite"))  # this service restarted
    assert is_staff(again, cookie)


def test_sessions_expire_and_a_broken_session_store_is_a_503(make_app, tmp_path):
    expired = make_app(SEARCH_STAFF_SESSION_HOURS=1e-9)  # every session is over at once
    client = expired.test_client()
    assert login(client).status_code == 303
    assert not is_staff(expired, session_cookie(client))
    # The session file cannot be created (its directory is a file): login says so, 503 with Retry-After.
    (tmp_path / "not-a-dir").write_text("")
    broken = make_app(SEARCH_STAFF_SESSIONS=str(tmp_path / "not-a-dir" / "s.sqlite"))
    resp = login(broken.test_client())
    assert resp.status_code == 503 and resp.headers["Retry-After"] == "5" and "编辑登录暂时不可用" in resp.get_data(
        as_text=True)
    # A session file that is no database: the app still starts (readers are served), login is a 503.
    (tmp_path / "garbage.sqlite").write_bytes(b"not a database" * 100)
    garbage = make_app(SEARCH_STAFF_SESSIONS=str(tmp_path / "garbage.sqlite"))
    assert garbage.test_client().get("/api/search?q=a").status_code == 200
    assert login(garbage.test_client()).status_code == 503
    # A cookie of a working store presented where the store is broken opens nothing (and is no 500).
    good = make_app().test_client()
    assert login(good).status_code == 303
    assert not is_staff(broken, session_cookie(good))


def test_state_changing_forms_must_come_from_this_site(make_app):
    """The login (and logout, and any POST form an app adds) refuses a
    foreign Origin, an opaque one, and a request naming no origin, with an
    HTML page that says why; the same site's Origin or Referer passes."""
    app = make_app()

    @app.post("/staff/example-form")  # a form added later is covered without being listed
    def example_form():
        return "done"

    client = app.test_client()
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "http://localhost.evil.example"},
                    {"Origin": "http://localhost:8080"}, {"Origin": "https://localhost"},
                    {"Origin": "null"}, {"Referer": "https://evil.example/login"}, {}):
        resp = login(client, headers=headers)
        assert resp.status_code == 403 and resp.mimetype == "text/html", headers
        assert "cross-site request refused" in resp.get_data(as_text=True), headers
        assert client.get_cookie("session") is None
        assert client.post("/staff/example-form", headers=headers).status_code == 403
    assert login(client, headers={"Referer": "http://localhost/staff/login"}).status_code == 303
    assert client.post("/staff/example-form", headers=SAME_SITE).get_data(as_text=True) == "done"
    # A foreign page cannot log staff out either; the session stays.
    assert client.post("/staff/logout", headers={"Origin": "https://evil.example"}).status_code == 403
    assert is_staff(app, session_cookie(client))
    # A cross-site POST to the API riding on the cookie is refused as JSON;
    # bearer-token clients (the CMS) send no Origin and are not affected.
    resp = client.post("/api/articles:bulk", headers={"Origin": "https://evil.example"}, data="{}")
    assert resp.status_code == 403 and "cross-site" in resp.get_json()["error"]
    plain = app.test_client()
    assert plain.put("/api/articles/x", json={"title": "t"}).status_code == 401
    resp = plain.put("/api/articles/x", json={"title": "t"}, headers=STAFF)
    assert resp.status_code == 403 and "write API is disabled" in resp.get_json()["error"]  # past the check


# ---- 16: rate limits --------------------------------------------------------

def test_every_endpoint_is_rate_limited(make_app, by_id):
    """Pages (the home page, the article page with related and coverage),
    the API, the login form and the login itself share one budget per
    client; monitoring, static files and signed-in staff are exempt."""
    app = make_app(SEARCH_RATE_LIMIT="3/minute")
    client = app.test_client()
    doc = next(iter(by_id))
    for i, path in enumerate(["/", f"/articles/{doc}", "/advanced", "/staff/login", f"/api/articles/{doc}",
                              f"/api/articles/{doc}/coverage", "/api/openapi.json", "/api/search?q=a"]):
        env = {"REMOTE_ADDR": f"198.51.100.{i + 1}"}
        assert [client.get(path, environ_base=env).status_code for _ in range(3)] == [200] * 3, path
        over = client.get(path, environ_base=env)
        assert over.status_code == 429 and int(over.headers["Retry-After"]) >= 1, path
        assert over.mimetype == ("application/json" if path.startswith("/api/") else "text/html"), path
        # Every other endpoint shares the same budget.
        assert client.get("/search?q=a", environ_base=env).status_code == 429
        assert client.get("/healthz", environ_base=env).status_code == 200
        static = client.get("/static/style.css", environ_base=env)
        static.close()
        assert static.status_code == 200
    env = {"REMOTE_ADDR": "198.51.100.50"}
    assert [client.post("/staff/login", data={"token": "x"}, headers=SAME_SITE,
                        environ_base=env).status_code for _ in range(4)] == [403, 403, 403, 429]
    # Staff (session or token) are not held up by readers' limits.
    staff = app.test_client()
    assert login(staff, addr="198.51.100.60").status_code == 303
    assert all(staff.get("/api/queries", environ_base={"REMOTE_ADDR": "198.51.100.60"}).status_code == 200
               for _ in range(6))
    assert all(client.get("/api/search?q=a", headers=STAFF, environ_base=env).status_code == 200
               for _ in range(6))


def test_failed_logins_are_slowed_per_client_never_per_token(make_app):
    """A client guessing tokens gets 429 with Retry-After after 5 failures,
    even with the right token then; another client signs in with that
    token at once (nothing is locked per token)."""
    app = make_app(SEARCH_LOGIN_RATE_LIMIT="5/minute")
    guesser = app.test_client()
    codes = [login(guesser, token=f"guess-{i}", addr="203.0.113.7").status_code for i in range(8)]
    assert codes == [403] * 5 + [429] * 3
    refused = login(guesser, addr="203.0.113.7")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    assert "请求太频繁" in refused.get_data(as_text=True) and guesser.get_cookie("session") is None
    assert login(app.test_client(), addr="203.0.113.8").status_code == 303


def test_rate_limit_settings_are_checked_at_start(make_app):
    with pytest.raises(ValueError, match="SEARCH_RATE_LIMIT_STORAGE 'nosuch://x' cannot be used"):
        make_app(SEARCH_RATE_LIMIT_STORAGE="nosuch://x")
    with pytest.raises(ValueError, match="SEARCH_LOGIN_RATE_LIMIT 'five' is not a rate limit"):
        make_app(SEARCH_LOGIN_RATE_LIMIT="five")
    with pytest.raises(ValueError, match="SEARCH_TRUSTED_PROXIES: 'proxy.local' is not an IP address"):
        make_app(SEARCH_TRUSTED_PROXIES="10.0.0.1, proxy.local")
    # Two apps on memory:// count separately: the per-worker default the README documents.
    first, second = make_app(SEARCH_RATE_LIMIT="2/minute"), make_app(SEARCH_RATE_LIMIT="2/minute")
    env = {"REMOTE_ADDR": "192.0.2.77"}
    assert [c.get("/api/search?q=a", environ_base=env).status_code
            for c in (first.test_client(), first.test_client(), second.test_client())] == [200, 200, 200]
    assert first.test_client().get("/api/search?q=a", environ_base=env).status_code == 429


# ---- trusted proxies (the WSGI middleware on its own) -----------------------

def _echo(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"{environ['REMOTE_ADDR']} {environ['wsgi.url_scheme']} {environ.get('HTTP_HOST')}".encode()]


@pytest.mark.parametrize("peer, headers, seen", [
    # A trusted proxy: the right-most untrusted address of the chain.
    ("10.0.0.1", {"X-Forwarded-For": "203.0.113.5"}, "203.0.113.5 http"),
    ("10.0.0.1", {"X-Forwarded-For": "6.6.6.6, 203.0.113.5"}, "203.0.113.5 http"),  # spoofed entry ignored
    ("10.0.0.1", {"X-Forwarded-For": "203.0.113.5, 10.1.2.3", "X-Forwarded-Proto": "https"}, "203.0.113.5 https"),
    ("10.0.0.1", {"X-Forwarded-For": "[2001:db8::5]:4711,10.9.9.9"}, "2001:db8::5 http"),
    ("::ffff:10.0.0.1", {"X-Forwarded-For": "2001:db8::7"}, "2001:db8::7 http"),  # IPv4-mapped peer
    ("10.0.0.1", {"X-Forwarded-For": "10.0.0.9, 10.0.0.8"}, "10.0.0.9 http"),  # all trusted: the left-most
    ("10.0.0.1", {"X-Forwarded-For": "unknown"}, "10.0.0.1 http"),  # no address: the proxy itself
    ("10.0.0.1", {"X-Forwarded-For": "203.0.113.5, garbage, 10.0.0.8"}, "10.0.0.8 http"),
    ("10.0.0.1", {"X-Forwarded-Proto": "gopher"}, "10.0.0.1 http"),
    # Anyone else: the headers are the client's word, ignored.
    ("203.0.113.9", {"X-Forwarded-For": "1.2.3.4", "X-Forwarded-Proto": "https"}, "203.0.113.9 http"),
    ("192.168.0.1", {"X-Forwarded-For": "1.2.3.4"}, "192.168.0.1 http"),
])
def test_trusted_proxies_middleware(peer, headers, seen):
    from werkzeug.test import Client

    from web.proxies import TrustedProxies, parse_networks

    app = TrustedProxies(_echo, parse_networks("10.0.0.0/8, 2001:db8:ffff::1"))
    body = Client(app).get("/", headers=headers, environ_base={"REMOTE_ADDR": peer}).get_data(as_text=True)
    assert body.rsplit(" ", 1)[0] == seen
    untrusting = TrustedProxies(_echo, parse_networks(""))  # the default: no proxy trusted
    assert Client(untrusting).get("/", headers=headers, environ_base={"REMOTE_ADDR": peer}).get_data(
        as_text=True).split()[:2] == [peer, "http"]


def test_forwarded_host_is_never_believed():
    """The host comes from the Host header the proxy passes, not from
    X-Forwarded-Host, which a proxy may forward from the client unchanged."""
    from werkzeug.test import Client

    from web.proxies import TrustedProxies, parse_networks

    app = TrustedProxies(_echo, parse_networks("10.0.0.1"))
    hdr = {"X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    assert Client(app).get("/", headers=hdr, environ_base={"REMOTE_ADDR": "10.0.0.1"}).get_data(
        as_text=True) == "10.0.0.1 https localhost"


# ---- the deployment: real gunicorn, two workers, behind a "proxy" ----------

@pytest.fixture(scope="module")
def proxied(sample_index, tmp_path_factory):
    """gunicorn (2 workers) trusting 127.0.0.1 as its reverse proxy;
    127.0.0.2 (also loopback) is an untrusted client."""
    state = tmp_path_factory.mktemp("proxied")
    srv = Server(sample_index, workers=2, extra_env={
        "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN), "SEARCH_TRUSTED_PROXIES": "127.0.0.1",
        "SEARCH_RATE_LIMIT": "4/minute", "SEARCH_LOGIN_RATE_LIMIT": "3/minute",
        "SEARCH_SECRET_KEY_FILE": str(state / "secret_key")})
    yield srv, state
    srv.stop()


def request(srv, method, path, source="127.0.0.1", headers=None, body=None):
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def post_login(srv, token, source="127.0.0.1", headers=None):
    body = f"token={token}&next=/staff/queries"
    return request(srv, "POST", "/staff/login", source, body=body,
                   headers={"Content-Type": "application/x-www-form-urlencoded", **(headers or {})})


def test_secure_cookie_behind_a_trusted_https_proxy(proxied):
    srv, state = proxied
    status, headers, _ = post_login(srv, STAFF_TOKEN, headers={
        "X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.20", "Host": "news.example",
        "Origin": "https://news.example"})
    cookie = headers["Set-Cookie"]
    assert status == 303 and "; Secure" in cookie and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    # Both workers know the session (one key file, one session store).
    value = cookie.split(";")[0]
    assert all(request(srv, "GET", "/api/queries", headers={"Cookie": value, "X-Forwarded-Proto": "https"})[0]
               == 200 for _ in range(8))
    assert stat.S_IMODE(os.stat(state / "secret_key").st_mode) == 0o600
    # Plain HTTP: no Secure flag (the browser would drop the cookie).
    status, headers, _ = post_login(srv, STAFF_TOKEN, headers={"Origin": f"http://127.0.0.1:{srv.port}",
                                                               "X-Forwarded-For": "203.0.113.21"})
    assert status == 303 and "Secure" not in headers["Set-Cookie"]
    # An untrusted client claiming HTTPS is not believed: its https Origin is foreign to plain HTTP.
    status, headers, body = post_login(srv, STAFF_TOKEN, source="127.0.0.2", headers={
        "X-Forwarded-Proto": "https", "Origin": f"https://127.0.0.1:{srv.port}"})
    assert status == 403 and "Set-Cookie" not in headers and b"cross-site request refused" in body
    assert b"SEARCH_TRUSTED_PROXIES" in body  # the page says how to fix a proxy the app does not trust
    status, headers, _ = post_login(srv, STAFF_TOKEN, source="127.0.0.2", headers={
        "X-Forwarded-Proto": "https", "Origin": f"http://127.0.0.1:{srv.port}"})
    assert status == 303 and "Secure" not in headers["Set-Cookie"]


def test_clients_behind_the_proxy_have_their_own_budgets(proxied):
    """Through the trusted proxy each reader has its own budget (12 readers,
    one request each: all answered); a client that is not a proxy cannot
    buy budgets by inventing X-Forwarded-For (at most 4 per worker answered)."""
    srv, _ = proxied
    via_proxy = [request(srv, "GET", "/api/suggest?q=x", headers={"X-Forwarded-For": f"198.51.100.{i}"})[0]
                 for i in range(12)]
    assert via_proxy == [200] * 12
    spoofed = [request(srv, "GET", "/articles/none", source="127.0.0.2",
                       headers={"X-Forwarded-For": f"198.51.100.{i}"}) for i in range(12)]
    codes = [s for s, _, _ in spoofed]
    assert set(codes) == {404, 429} and codes.count(429) >= 4
    assert all(int(h["Retry-After"]) >= 1 for s, h, _ in spoofed if s == 429)


def test_login_guessing_over_http_is_slowed_per_client(proxied):
    """30 wrong tokens from one reader behind the proxy: at most 3 per
    worker are checked, the rest answered 429; another reader signs in."""
    srv, _ = proxied
    codes = [post_login(srv, f"guess{i}", headers={"X-Forwarded-For": "203.0.113.99",
                                                    "Origin": f"http://127.0.0.1:{srv.port}"})[0]
             for i in range(30)]
    assert set(codes) == {403, 429} and codes.count(403) <= 6 and codes[-1] == 429
    status, _, _ = post_login(srv, STAFF_TOKEN, headers={"X-Forwarded-For": "203.0.113.100",
                                                         "Origin": f"http://127.0.0.1:{srv.port}"})
    assert status == 303


# ---- a real browser: forms posted from another site ------------------------


@pytest.fixture
def foreign_site(proxied):
    """A page on another site (localhost, another port) with two forms aimed
    at the service: logging the visitor out, and logging them in with the
    attacker's token (login CSRF)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    srv, _ = proxied
    target = f"http://127.0.0.1:{srv.port}"
    page = (f'<!doctype html><form id="out" method="post" action="{target}/staff/logout">'
            f'<button id="logout">x</button></form>'
            f'<form id="in" method="post" action="{target}/staff/login">'
            f'<input name="token" value="{STAFF_TOKEN}"><button id="login">y</button></form>').encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *args):
            pass

    evil = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=evil.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{evil.server_address[1]}/"
    evil.shutdown()
    evil.server_close()


def test_forms_from_another_site_are_refused_in_a_browser(browser, proxied, foreign_site):  # noqa: F811
    srv, _ = proxied
    staff = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.150"})
    page = staff.new_page()
    page.goto(srv.url + "/staff/login")
    page.fill("#token", STAFF_TOKEN)
    page.click("#login-submit")
    assert page.url == srv.url + "/staff/queries" and page.locator("h1").count() >= 1
    # A foreign page logging staff out: refused, the session stays.
    page.goto(foreign_site)
    page.click("#logout")
    assert "cross-site request refused" in page.content()
    assert page.goto(srv.url + "/api/queries?days=1").status == 200
    staff.close()
    # Login CSRF: a foreign page signing a visitor in with the attacker's token.
    visitor = browser.new_context(extra_http_headers={"X-Forwarded-For": "203.0.113.151"})
    page = visitor.new_page()
    page.goto(foreign_site)
    page.click("#login")
    assert "cross-site request refused" in page.content()
    assert visitor.cookies() == [] and page.goto(srv.url + "/api/queries?days=1").status == 401
    visitor.close()


def test_a_signed_in_page_offers_sign_out_and_is_never_cached_publicly(web_app):
    """Signed in, every page says so with a sign-out button (a POST, same
    origin) and is sent ``private, no-store`` (it shows staff tools);
    signed out, pages are public again and the session is gone."""
    from urllib.parse import quote

    from conftest import STAFF_TOKEN

    client = web_app.test_client()
    reader = client.get("/search?q=" + quote("香港"))
    assert "public" in reader.headers["Cache-Control"] and 'class="signout"' not in reader.get_data(as_text=True)
    resp = client.post("/staff/login", data={"token": STAFF_TOKEN, "next": "/search?q=" + quote("香港")},
                       headers={"Origin": "http://localhost"})
    assert resp.status_code == 303
    for url in ("/", "/search?q=" + quote("香港"), "/advanced"):
        page = client.get(url)
        html = page.get_data(as_text=True)
        assert page.headers["Cache-Control"] == "private, no-store", url
        assert '<form class="signout" action="/staff/logout" method="post">' in html, url
    assert client.post("/staff/logout", headers={"Origin": "http://localhost"}).status_code == 303
    after = client.get("/search?q=" + quote("香港"))
    assert "public" in after.headers["Cache-Control"] and 'class="signout"' not in after.get_data(as_text=True)
    assert client.get("/staff/queries").status_code == 401


def test_the_article_page_keeps_the_query_in_the_search_box(web_app, sample_records):
    from urllib.parse import quote

    doc = quote(sample_records[0]["id"], safe="")
    html = web_app.test_client().get(f"/articles/{doc}?q=" + quote("香港 选举")).get_data(as_text=True)
    assert 'name="q" value="香港 选举"' in html
