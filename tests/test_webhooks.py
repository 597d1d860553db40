"""Webhooks of saved searches: the URL policy (SSRF guard) on real inputs,
signed posts to a real receiver (http.server on loopback, and HTTPS with
a real certificate), retries with back-off, timeouts, redirects, the
policy applied again at delivery, the README's verification code, and
the whole path through the real service: gunicorn's API and staff page,
the writer process's delivery thread posting to the receiver."""

from __future__ import annotations

import json
import os
import random
import re
import ssl
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import ROOT, STAFF, STAFF_TOKEN, Server, call, call_json, digest, write_jsonl

from search import ssrf, webhooks
from search.saved_searches import NewMatch, SavedSearchStore

OWNER = "token:" + digest(STAFF_TOKEN)[:12]  # auth.principal() of the tests' bearer token
OTHER_TOKEN = "another-staff-token"
OTHER = {"Authorization": f"Bearer {OTHER_TOKEN}"}
PAYLOAD = {"saved_search": {"id": "s", "name": "香港选举"}, "commit": 7,
           "articles": [{"id": "a-1", "title": "香港立法会选举投票率创新高",
                         "published": "2024-03-01T10:00:00+08:00", "url": "https://news.example/1"}]}


# ---- the URL policy ----------------------------------------------------------

REFUSED = [
    ("http://93.184.216.34/hook", "must use https"),
    ("ftp://93.184.216.34/hook", "must start with https://"),
    ("https://127.0.0.1/hook", "is loopback"),
    ("https://localhost/hook", "resolves to"),           # a name resolving to loopback
    ("https://10.1.2.3/hook", "is private"),
    ("https://192.168.0.10/hook", "is private"),
    ("https://172.16.5.4/hook", "is private"),
    ("https://[::1]/hook", "is loopback"),
    ("https://[::ffff:127.0.0.1]/hook", "loopback, inside the IPv6 address"),
    ("https://[::ffff:10.0.0.1]/hook", "private, inside the IPv6 address"),
    ("https://[2002:7f00:1::]/hook", "loopback, inside the IPv6 address"),   # 6to4 of 127.0.0.1
    ("https://[64:ff9b::a9fe:a9fe]/hook", "link-local"),                       # NAT64 of 169.254.169.254
    ("https://[fe80::1]/hook", "link-local"),
    ("https://[fc00::1]/hook", "is private"),
    ("https://0x7f000001/hook", "non-standard form"),
    ("https://2130706433/hook", "non-standard form"),
    ("https://127.1/hook", "non-standard form"),
    ("https://0177.0.0.1/hook", "non-standard form"),
    ("https://169.254.169.254/latest/meta-data/", "link-local"),
    ("https://100.64.0.1/hook", "shared address space"),
    ("https://224.0.0.1/hook", "multicast"),
    ("https://0.0.0.0/hook", "unspecified"),
    ("https://user:pass@93.184.216.34/hook", "credentials"),
    ("https://token@93.184.216.34/hook", "credentials"),
    ("https://93.184.216.34:99999/hook", "cannot be read"),
    ("https://93.184.216.34/hook#frag", "fragment"),
    ("https:///hook", "no host"),
    ("https://93.184.216.34/a b", "spaces"),
    ("", "must be text"),
    ("https://no-such-host.invalid/hook", "does not resolve"),
]


@pytest.mark.parametrize("url,reason", REFUSED)
def test_the_policy_refuses_urls_that_could_reach_inside(url, reason):
    with pytest.raises(ssrf.WebhookURLRefused) as refused:
        ssrf.check(url)
    assert reason in str(refused.value), str(refused.value)
    assert refused.value.status == 400


def test_public_https_urls_are_allowed_without_connecting():
    found = ssrf.check("https://93.184.216.34/hooks/news?x=1")
    assert (found.scheme, found.host, found.port, found.target, found.address, found.allowed) == (
        "https", "93.184.216.34", 443, "/hooks/news?x=1", "93.184.216.34", False)
    assert ssrf.check("https://93.184.216.34:8443").port == 8443
    assert ssrf.check("https://[2606:2800:220:1:248:1893:25c8:1946]/h").address == "2606:2800:220:1:248:1893:25c8:1946"
    assert ssrf.check("https://[::ffff:93.184.216.34]/h").allowed is False  # mapped public IPv4: public


def test_nat64_addresses_are_judged_by_the_ipv4_address_they_carry():
    found = ssrf.check("https://[64:ff9b::808:808]/h")          # NAT64 of 8.8.8.8: public
    assert (found.address, found.allowed) == ("64:ff9b::808:808", False)
    with pytest.raises(ssrf.WebhookURLRefused, match="loopback, inside the IPv6 address 64:ff9b::7f00:1"):
        ssrf.check("https://[64:ff9b::7f00:1]/h")              # NAT64 of 127.0.0.1
    with pytest.raises(ssrf.WebhookURLRefused, match="private, inside the IPv6 address"):
        ssrf.check("https://[64:ff9b::a00:1]/h")               # NAT64 of 10.0.0.1


def test_non_ascii_paths_are_percent_encoded_and_idn_hosts_sent_as_a_labels():
    asked = []

    def resolve(host, port):
        asked.append(host)
        return ["93.184.216.34"]

    found = ssrf.check("https://例子.测试/钩子/新闻?名=香港&x=%20", resolve=resolve)
    assert found.target == "/%E9%92%A9%E5%AD%90/%E6%96%B0%E9%97%BB?%E5%90%8D=%E9%A6%99%E6%B8%AF&x=%20"
    assert found.host == asked[0] == "xn--fsqu00a.xn--0zwm56d"
    assert found.target.isascii() and found.host.isascii()


def test_a_name_is_judged_by_every_address_it_resolves_to():
    def resolve(host, port):
        return {"mixed.example": ["93.184.216.34", "10.0.0.5"], "public.example": ["93.184.216.34"]}[host]

    with pytest.raises(ssrf.WebhookURLRefused, match="resolves to 10.0.0.5, which is private"):
        ssrf.check("https://mixed.example/h", resolve=resolve)
    found = ssrf.check("https://public.example/h", resolve=resolve)
    assert (found.host, found.address) == ("public.example", "93.184.216.34")


def test_allowed_hosts_may_be_private_and_use_http():
    allow = ssrf.parse_allow_hosts(["127.0.0.1:8080", "LOCALHOST", "[::1]:9000", " "])
    assert allow == {("127.0.0.1", 8080), ("localhost", None), ("::1", 9000)}
    found = ssrf.check("http://127.0.0.1:8080/h", allow)
    assert (found.scheme, found.address, found.allowed) == ("http", "127.0.0.1", True)
    assert ssrf.check("https://localhost:1234/h", allow).address in ("127.0.0.1", "::1")
    assert ssrf.check("http://[::1]:9000/", allow).address == "::1"
    with pytest.raises(ssrf.WebhookURLRefused, match="must use https"):
        ssrf.check("http://127.0.0.1:8081/h", allow)     # another port: not allowed
    with pytest.raises(ssrf.WebhookURLRefused, match="is loopback"):
        ssrf.check("https://127.0.0.1:8081/h", allow)
    with pytest.raises(ssrf.WebhookURLRefused, match="credentials"):
        ssrf.check("http://u:p@127.0.0.1:8080/h", allow)
    with pytest.raises(ValueError, match="SEARCH_WEBHOOK_ALLOW_HOSTS"):
        ssrf.parse_allow_hosts(["hooks.internal/path"])


def test_the_backoff_grows_to_six_hours_with_jitter():
    rng = random.Random(5)
    for attempts, base in enumerate((30, 120, 600, 3600, 21600, 21600, 21600), start=1):
        delays = [webhooks.retry_delay(attempts, 30.0, rng) for _ in range(200)]
        assert base * 0.8 <= min(delays) and max(delays) <= base * 1.2, (attempts, min(delays), max(delays))
        assert max(delays) - min(delays) > base * 0.2  # jitter: not all alike


# ---- a real receiver -----------------------------------------------------------

class Receiver:
    """An HTTP(S) server on loopback in a thread.  ``script[path]``: a list
    of answers given in turn (the last repeats): a status, ``"hang"``
    (never answer until ``release``), ``"drip"`` (a byte every 0.1 s until
    ``release``), ``("wait", status)`` (answer once
    ``release`` is set) or ``("redirect", location)``.  ``requests``:
    (path, headers, body, monotonic time) of each request."""

    def __init__(self, context: ssl.SSLContext | None = None):
        self.script: dict[str, list] = {}
        self.requests: list[tuple[str, dict, bytes, float]] = []
        self.release = threading.Event()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with receiver.lock:
                    receiver.requests.append((self.path, dict(self.headers), body, time.monotonic()))
                    answers = receiver.script.get(self.path, [200])
                    answer = answers.pop(0) if len(answers) > 1 else answers[0]
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                if answer == "drip":  # a header byte every 0.1 s: each read is quick, the answer never ends
                    try:
                        self.wfile.write(b"HTTP/1.1 200 OK\r\n")
                        while not receiver.release.wait(0.1):
                            self.wfile.write(b"X")
                            self.wfile.flush()
                    except OSError:
                        pass
                    return
                if isinstance(answer, tuple) and answer[0] == "wait":
                    receiver.release.wait(30)
                    answer = answer[1]
                if isinstance(answer, tuple) and answer[0] == "redirect":
                    self.send_response(302)
                    self.send_header("Location", answer[1])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                text = b"receiver says no" if answer >= 400 else b"ok"
                self.send_response(answer)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        if context is not None:
            self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def posts(self, path: str) -> list[tuple[str, dict, bytes, float]]:
        with self.lock:
            return [r for r in self.requests if r[0] == path]

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    yield r
    r.stop()


@pytest.fixture
def store(tmp_path):
    s = SavedSearchStore(str(tmp_path / "saved.sqlite"))
    yield s
    s.close()


def _queued(store, url, payload=PAYLOAD):
    """A saved search with webhook ``url`` and one queued delivery: (search, delivery)."""
    saved = store.create(OWNER, "香港选举", {"q": ["香港 选举"]})
    saved = store.set_webhook(saved.id, OWNER, url)
    store.record(saved.id, [NewMatch("a-1", "a-1", "标题")], [], [], commit_seq=7, payload=payload)
    (delivery,) = store.due()
    return saved, delivery


def _loopback(receiver, **kw):
    return webhooks.Policy(allow_hosts=ssrf.parse_allow_hosts([f"127.0.0.1:{receiver.port}"]), **kw)


def _readme_verify():
    """``verify_webhook`` as README's "Webhooks" section writes it."""
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        section = f.read().split("## Webhooks", 1)[1].split("\n## ", 1)[0]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    scope: dict = {}
    exec(compile(code, "README.md#webhooks", "exec"), scope)  # noqa: S102 - the README's own example
    return scope["verify_webhook"]


def test_a_delivery_is_a_signed_post_of_the_payload(store, receiver):
    receiver.script["/ok"] = [200]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/ok")
    assert webhooks.deliver(store, delivery, _loopback(receiver)) is None
    ((path, headers, body, _),) = receiver.posts("/ok")
    assert json.loads(body) == PAYLOAD
    assert body == webhooks.body_of(PAYLOAD) and "香港".encode() in body  # UTF-8, not \\u escapes
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Webhook-Id"] == str(delivery.id)
    assert abs(int(headers["X-Webhook-Timestamp"]) - time.time()) < 60
    expected = "sha256=" + __import__("hmac").new(
        saved.webhook_secret.encode(), headers["X-Webhook-Timestamp"].encode() + b"." + body, "sha256").hexdigest()
    assert headers["X-Signature-256"] == expected
    assert webhooks.verify(saved.webhook_secret, body, headers["X-Webhook-Timestamp"], headers["X-Signature-256"])
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts, row.last_error) == ("delivered", 1, None)
    assert store.due(now=time.time() + 10**6) == []


def test_the_readme_verification_code_accepts_a_real_post_and_nothing_else(store, receiver):
    receiver.script["/readme"] = [200]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/readme")
    assert webhooks.deliver(store, delivery, _loopback(receiver)) is None
    ((_, headers, body, _),) = receiver.posts("/readme")
    verify_webhook = _readme_verify()
    assert verify_webhook(saved.webhook_secret, headers, body) is True
    assert verify_webhook("another secret", headers, body) is False
    assert verify_webhook(saved.webhook_secret, headers, body.replace(b'"commit":7', b'"commit":8')) is False
    old = str(int(headers["X-Webhook-Timestamp"]) - 3600)   # a replay an hour later, even re-signed
    resigned = {**headers, "X-Webhook-Timestamp": old,
                "X-Signature-256": webhooks.sign(saved.webhook_secret, int(old), body)}
    assert verify_webhook(saved.webhook_secret, resigned, body) is False
    assert verify_webhook(saved.webhook_secret, resigned, body, tolerance=7200) is True
    assert verify_webhook(saved.webhook_secret, {**headers, "X-Signature-256": ""}, body) is False


def test_a_failing_receiver_is_retried_with_backoff_then_marked_failed(store, receiver):
    receiver.script["/down"] = [500]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/down")
    policy = _loopback(receiver, max_attempts=3, backoff=60.0)
    for attempt in (1, 2, 3):
        before = time.time()
        error = webhooks.deliver(store, delivery, policy)
        assert error == "HTTP 500: receiver says no"
        (row,) = store.deliveries([saved.id])
        assert row.attempts == attempt and row.last_error == error
        if attempt < 3:
            wait = webhooks.BACKOFF_STEPS[attempt - 1] * 60.0
            assert row.status == "pending"
            assert before + 0.8 * wait <= row.next_attempt <= time.time() + 1.2 * wait
            assert store.due() == []                            # not before its time
            (delivery,) = store.due(now=row.next_attempt)
        else:
            assert row.status == "failed"
            assert store.due(now=time.time() + 10**6) == []
    assert len(receiver.posts("/down")) == 3


def test_a_receiver_that_never_answers_times_out_and_is_retried(store, receiver):
    receiver.script["/hang"] = ["hang"]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/hang")
    policy = _loopback(receiver, timeout=0.3, max_attempts=2, backoff=0.001)
    error = webhooks.deliver(store, delivery, policy)
    assert error.startswith("timed out"), error
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts) == ("pending", 1)
    (delivery,) = store.due(now=time.time() + 1)
    assert webhooks.deliver(store, delivery, policy).startswith("timed out")
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts) == ("failed", 2)
    assert len(receiver.posts("/hang")) == 2


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off(store, receiver):
    receiver.script["/drip"] = ["drip"]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/drip")
    error = webhooks.deliver(store, delivery, _loopback(receiver, timeout=0.3))
    assert error == "timed out: the attempt took longer than 0.9 s in all", error
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts) == ("pending", 1)


def test_redirects_are_not_followed(store, receiver):
    receiver.script["/moved"] = [("redirect", f"http://127.0.0.1:{receiver.port}/target")]
    receiver.script["/target"] = [200]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/moved")
    error = webhooks.deliver(store, delivery, _loopback(receiver))
    assert error.startswith("HTTP 302: a redirect, not followed"), error
    assert receiver.posts("/target") == []
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts) == ("pending", 1)


def test_a_host_refused_at_delivery_gets_nothing_though_allowed_when_set(store, receiver):
    receiver.script["/later-refused"] = [200]
    url = f"http://127.0.0.1:{receiver.port}/later-refused"
    ssrf.check(url, _loopback(receiver).allow_hosts)          # allowed when set ...
    saved, delivery = _queued(store, url)
    error = webhooks.deliver(store, delivery, webhooks.Policy())  # ... the allowance gone at delivery
    assert error.startswith("not sent: a webhook URL must use https"), error
    https_url = f"https://127.0.0.1:{receiver.port}/later-refused"
    store.set_webhook(saved.id, OWNER, https_url)
    (delivery,) = store.due(now=time.time() + 10**6)
    error = webhooks.deliver(store, delivery, webhooks.Policy())
    assert error.startswith("not sent: webhook host '127.0.0.1' is loopback"), error
    assert receiver.posts("/later-refused") == []
    (row,) = store.deliveries([saved.id])
    assert (row.status, row.attempts) == ("pending", 2)


def test_a_cleared_webhook_fails_its_pending_deliveries(store, receiver):
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/cleared")
    store.set_webhook(saved.id, OWNER, None)
    assert "no webhook any more" in webhooks.deliver(store, delivery, _loopback(receiver))
    (row,) = store.deliveries([saved.id])
    assert row.status == "failed" and receiver.posts("/cleared") == []


def test_the_post_goes_to_the_checked_address_with_the_name_in_host_and_tls():
    """DNS rebinding: the connection goes to the address that was checked,
    never to a new resolution of the name (``hooks.test`` resolves to
    nothing here); TLS checks the certificate for the name (SNI), so the
    pinned address cannot be used to impersonate another host."""
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("hooks.test").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    tls = Receiver(server_context)
    try:
        tls.script["/tls"] = [204]
        pinned = ssrf.Destination(url="https://hooks.test/tls", scheme="https", host="hooks.test", port=tls.port,
                                  target="/tls", address="127.0.0.1", allowed=True)
        status, _ = webhooks.send(pinned, b"{}", {"Content-Type": "application/json"}, 5.0, client_context)
        assert status == 204
        ((_, headers, _, _),) = tls.posts("/tls")
        assert headers["Host"] == f"hooks.test:{tls.port}"
        other = ssrf.Destination(url="https://other.test/tls", scheme="https", host="other.test", port=tls.port,
                                 target="/tls", address="127.0.0.1", allowed=True)
        with pytest.raises(ssl.SSLCertVerificationError):
            webhooks.send(other, b"{}", {}, 5.0, client_context)
        with pytest.raises(ssl.SSLCertVerificationError):                  # not trusted by default
            webhooks.send(pinned, b"{}", {}, 5.0)
        assert len(tls.posts("/tls")) == 1
    finally:
        tls.stop()


# ---- through the real service ---------------------------------------------------

OPENSEARCH_URL = os.environ.get("OPENSEARCH_URL")


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def service(request, tmp_path_factory, sample_records, receiver):
    """gunicorn with the writer (and so the delivery thread) on each
    backend, the receiver allowed, short back-off and polling: (server,
    the saved-search store shared with the test, the backend)."""
    import uuid

    from indexer import pipeline

    backend = request.param
    if backend == "opensearch" and not OPENSEARCH_URL:
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (OPENSEARCH_URL)")
    folder = tmp_path_factory.mktemp(f"webhooks-{backend}")
    index = str(folder / "index") if backend == "whoosh" else "webhooks19-" + uuid.uuid4().hex[:8]
    pipeline.build(index, [write_jsonl(folder / "in.jsonl", sample_records[:20])], workers=1, progress=False,
                   backend=backend, opensearch_url=OPENSEARCH_URL, replicas=0)
    saved = str(folder / "saved.sqlite")
    env = {"SEARCH_BACKEND": backend, "SEARCH_ARTICLE_STORE": str(folder / "articles.sqlite"),
           "SEARCH_SAVED_SEARCHES": saved, "SEARCH_WRITE_TOKENS": f"{digest(STAFF_TOKEN)},{digest(OTHER_TOKEN)}",
           "SEARCH_WEBHOOK_ALLOW_HOSTS": f"127.0.0.1:{receiver.port}", "SEARCH_WEBHOOK_BACKOFF": "0.5",
           "SEARCH_WEBHOOK_POLL": "0.05", "SEARCH_WEBHOOK_TIMEOUT": "20", "SEARCH_WEBHOOK_MAX_ATTEMPTS": "3"}
    if OPENSEARCH_URL:
        env["OPENSEARCH_URL"] = OPENSEARCH_URL
    srv = Server(index, workers=1, extra_env=env)
    try:
        assert srv.wait_for_writer()
        yield srv, SavedSearchStore(saved), backend
    finally:
        srv.stop()
        if backend == "opensearch":
            from opensearchpy import OpenSearch

            client = OpenSearch(OPENSEARCH_URL, timeout=60)
            client.indices.delete(index=list(client.indices.get_alias(name=index)), ignore=[404])


def _put(srv, search_id, body, headers=STAFF):
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return call_json(f"{srv.url}/api/saved-searches/{search_id}/webhook", "PUT", data,
                     {**headers, "Content-Type": "application/json"})


def _until(predicate, seconds=30.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached within %s s" % seconds)


def test_the_api_sets_checks_and_clears_a_webhook_for_the_owner_only(service, receiver):
    srv, store, backend = service
    mine = store.create(OWNER, "台风", {"q": ["台风"]})
    theirs = store.create("token:" + digest(OTHER_TOKEN)[:12], "私有", {"q": ["经济"]})
    shared = store.create("token:" + digest(OTHER_TOKEN)[:12], "共享", {"q": ["经济"]}, shared=True)
    url = f"http://127.0.0.1:{receiver.port}/api-set-{backend}"
    status, body = _put(srv, mine.id, {"url": url})
    assert status == 200, body
    assert body["webhook_url"] == url and re.fullmatch(r"[0-9a-f]{64}", body["webhook_secret"])
    assert store.get(mine.id).webhook_secret == body["webhook_secret"]
    status, got = call_json(f"{srv.url}/api/saved-searches/{mine.id}/webhook", headers=STAFF)
    assert status == 200 and got == {"id": mine.id, "name": "台风", "webhook_url": url, "deliveries": []}
    assert "webhook_secret" not in got                              # answered once, when set
    for bad, reason in (("https://10.1.2.3/x", "is private"), ("https://localhost/x", "resolves to"),
                        ("http://93.184.216.34/x", "must use https"), ("https://2130706433/", "non-standard")):
        status, body = _put(srv, mine.id, {"url": bad})
        assert status == 400 and reason in body["error"], (bad, body)
    assert _put(srv, mine.id, {"url": url, "secret": "x"})[1]["error"].startswith("unknown field(s) 'secret'")
    assert _put(srv, mine.id, "not json")[0] == 400
    assert _put(srv, mine.id, {"link": url})[0] == 400
    assert store.get(mine.id).webhook_url == url                    # nothing refused was stored
    assert _put(srv, theirs.id, {"url": url})[0] == 404             # cannot see it
    assert _put(srv, shared.id, {"url": url})[0] == 403             # sees it, does not own it
    assert _put(srv, mine.id, {"url": url}, headers={})[0] == 401
    assert _put(srv, mine.id, {"url": url}, headers=OTHER)[0] == 404
    status, body = call_json(f"{srv.url}/api/saved-searches/{mine.id}/webhook", "DELETE", headers=STAFF)
    assert (status, body) == (200, {"id": mine.id, "webhook_url": None})
    assert store.get(mine.id).webhook_url is None and store.get(mine.id).webhook_secret is None


def test_the_writer_delivers_retries_and_the_staff_page_shows_it(service, receiver):
    """A receiver answering 500 then 200: the writer's delivery thread posts
    a queued delivery, the API and /staff/webhooks show the failure, then
    (after the back-off) the success; both posts signed."""
    srv, store, backend = service
    saved = store.create(OWNER, "选举 webhook", {"q": ["选举"]})
    receiver.release.clear()
    path = f"/flaky-{backend}"
    receiver.script[path] = [500, ("wait", 200)]
    status, body = _put(srv, saved.id, {"url": f"http://127.0.0.1:{receiver.port}{path}"})
    assert status == 200, body
    secret = body["webhook_secret"]
    payload = {**PAYLOAD, "saved_search": {"id": saved.id, "name": saved.name}}
    store.record(saved.id, [NewMatch("a-1", "a-1", "标题")], [], [], commit_seq=7, payload=payload)

    def delivery():
        return call_json(f"{srv.url}/api/saved-searches/{saved.id}/webhook", headers=STAFF)[1]["deliveries"][0]

    failed = _until(lambda: (d := delivery())["attempts"] == 1 and d)  # the 2nd post waits for release
    assert failed["status"] == "pending" and failed["last_error"] == "HTTP 500: receiver says no"
    assert failed["next_attempt"] > failed["last_attempt"]
    status, html = call(f"{srv.url}/staff/webhooks", headers={**STAFF, "Accept-Language": "zh-CN"})
    html = html.decode("utf-8")
    assert status == 200 and "HTTP 500: receiver says no" in html and "等待重试" in html and "选举 webhook" in html
    receiver.release.set()
    done = _until(lambda: (d := delivery())["status"] == "delivered" and d)
    assert done["attempts"] == 2 and done["last_error"] is None and done["next_attempt"] is None
    status, html = call(f"{srv.url}/staff/webhooks?hl=en", headers=STAFF)
    assert status == 200 and "Delivered" in html.decode("utf-8")
    first, second = receiver.posts(path)
    assert second[3] - first[3] >= 0.5 * (1 - webhooks.JITTER)          # waited its back-off
    for _, headers, body, _ in (first, second):
        assert json.loads(body) == payload
        assert webhooks.verify(secret, body, headers["X-Webhook-Timestamp"], headers["X-Signature-256"])
        assert headers["X-Webhook-Id"] == str(done["id"])


def test_the_staff_page_form_sets_and_clears_a_webhook(service, receiver):
    srv, store, backend = service
    saved = store.create(OWNER, "表单 <b>测试</b>", {"q": ["测试"]})
    url = f"http://127.0.0.1:{receiver.port}/form-{backend}"
    form = {**STAFF, "Content-Type": "application/x-www-form-urlencoded"}
    from urllib.parse import urlencode

    status, html = call(f"{srv.url}/staff/webhooks", "POST", urlencode({"search_id": saved.id, "url": url}), form)
    html = html.decode("utf-8")
    secret = store.get(saved.id).webhook_secret
    assert status == 200 and secret and secret in html and "表单 &lt;b&gt;测试&lt;/b&gt;" in html
    assert "<b>测试</b>" not in html                                    # escaped
    status, html = call(f"{srv.url}/staff/webhooks", "POST",
                        urlencode({"search_id": saved.id, "url": "https://169.254.169.254/"}), form)
    assert status == 400 and "link-local" in html.decode("utf-8")
    assert store.get(saved.id).webhook_url == url
    status, html = call(f"{srv.url}/staff/webhooks", "POST", urlencode({"search_id": saved.id, "clear": "1"}), form)
    assert status == 200 and store.get(saved.id).webhook_url is None
    status, _ = call(f"{srv.url}/staff/webhooks", "POST", urlencode({"search_id": saved.id, "clear": "1"}),
                     {"Content-Type": "application/x-www-form-urlencoded"})
    assert status == 403                                            # no Origin: refused as cross-site
    status, _ = call(f"{srv.url}/staff/webhooks", "POST", urlencode({"search_id": saved.id, "clear": "1"}),
                     {"Content-Type": "application/x-www-form-urlencoded", "Origin": srv.url})
    assert status == 401                                            # same site, not signed in
    status, _ = call(f"{srv.url}/staff/webhooks")
    assert status == 401


# ---- the delivery loop -------------------------------------------------------------

def test_the_delivery_loop_delivers_what_is_due_and_stops(tmp_path, receiver):
    from indexer import deliveries
    from search.settings import Settings

    receiver.script["/loop"] = [503, 200]
    path = str(tmp_path / "saved.sqlite")
    store = SavedSearchStore(path)
    saved, _ = _queued(store, f"http://127.0.0.1:{receiver.port}/loop")
    settings = Settings(index=str(tmp_path / "ix"), saved_searches=path, webhook_poll=0.02, webhook_backoff=0.01,
                        webhook_allow_hosts=(f"127.0.0.1:{receiver.port}",))
    stop = threading.Event()
    thread = deliveries.start(settings, stop)
    try:
        row = _until(lambda: (r := store.deliveries([saved.id])[0]).status == "delivered" and r)
        assert row.attempts == 2 and len(receiver.posts("/loop")) == 2
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


def test_a_non_ascii_webhook_path_is_posted_percent_encoded(store, receiver):
    receiver.script["/%E9%92%A9%E5%AD%90?%E5%90%8D=1"] = [200]
    saved, delivery = _queued(store, f"http://127.0.0.1:{receiver.port}/钩子?名=1")
    assert webhooks.deliver(store, delivery, _loopback(receiver)) is None
    ((_, _, body, _),) = receiver.posts("/%E9%92%A9%E5%AD%90?%E5%90%8D=1")
    assert json.loads(body) == PAYLOAD
    assert store.deliveries([saved.id])[0].status == "delivered"


def test_a_delivery_that_raises_is_a_failed_attempt_and_never_blocks_the_queue(tmp_path, receiver):
    """Two damaged rows (a secret stored as a blob, not text: the attempt raises; params
    that are not JSON: reading the search raises) queued before a sound
    delivery: each is recorded as a failed attempt naming the error, and the
    sound one behind them is delivered."""
    from indexer import deliveries
    from search.settings import Settings

    receiver.script["/behind"] = [200]
    path = str(tmp_path / "saved.sqlite")
    store = SavedSearchStore(path)
    bad_secret, d1 = _queued(store, f"http://127.0.0.1:{receiver.port}/poisoned")
    conn = store._conn()
    conn.execute("UPDATE searches SET webhook_secret = X'3132' WHERE id = ?", (bad_secret.id,))
    assert webhooks.deliver(store, d1, _loopback(receiver), context=None).startswith("not sent: AttributeError")
    bad_params, _ = _queued(store, f"http://127.0.0.1:{receiver.port}/poisoned")
    conn.execute("UPDATE searches SET params = '{not json' WHERE id = ?", (bad_params.id,))
    good = store.create(OWNER, "sound", {"q": ["香港"]})
    store.set_webhook(good.id, OWNER, f"http://127.0.0.1:{receiver.port}/behind")
    store.record(good.id, [NewMatch("a-3", "a-3", "标题")], [], [], commit_seq=9, payload=PAYLOAD)
    settings = Settings(index=str(tmp_path / "ix"), saved_searches=path, webhook_poll=0.02, webhook_backoff=60,
                        webhook_allow_hosts=(f"127.0.0.1:{receiver.port}",))
    stop = threading.Event()
    thread = deliveries.start(settings, stop)
    try:
        _until(lambda: store.deliveries([good.id])[0].status == "delivered", seconds=15)
        bad = _until(lambda: (r := store.deliveries([bad_params.id])[0]).attempts and r, seconds=15)
    finally:
        stop.set()
        thread.join(10)
    assert (bad.status, bad.attempts) == ("pending", 1) and bad.next_attempt > time.time() + 30
    assert "JSONDecodeError" in bad.last_error
    (first,) = store.deliveries([bad_secret.id])
    assert (first.status, first.attempts) == ("pending", 1) and "AttributeError" in first.last_error
    assert receiver.posts("/poisoned") == [] and len(receiver.posts("/behind")) == 1
    store.close()


def test_the_delivery_loop_survives_a_store_it_cannot_open(tmp_path, caplog):
    """A saved-search store that cannot be opened (here: a directory) is
    logged and retried; the thread neither dies nor takes the writer down."""
    from indexer import deliveries
    from search.settings import Settings

    folder = tmp_path / "not-a-file.sqlite"
    folder.mkdir()
    stop = threading.Event()
    thread = deliveries.start(Settings(index=str(tmp_path / "ix"), saved_searches=str(folder), webhook_poll=0.02),
                              stop)
    try:
        _until(lambda: any("cannot start" in r.getMessage() for r in caplog.records))
        assert thread.is_alive()
    finally:
        stop.set()
        thread.join(10)
    assert not thread.is_alive()


# ---- the whole path: a write, its alert, the feed, the count and the webhook ----

def _write(srv, doc_id, title, body, method="PUT"):
    record = {"id": doc_id, "title": title, "body": body, "published": "2026-11-30T08:00:00+08:00",
              "source": "测试社"}
    status, answer = call_json(f"{srv.url}/api/articles/{doc_id}", method,
                               json.dumps(record, ensure_ascii=False) if method == "PUT" else None,
                               {**STAFF, "Content-Type": "application/json"})
    assert status in (200, 201), answer
    return answer


def test_a_written_article_reaches_the_feed_the_count_and_the_webhook(service, receiver):
    """End to end through gunicorn and the real writer: a saved search made
    over the API, a webhook set on it, then articles written through the
    write API: the full match alerts once (its near-duplicate copy and an
    article holding only some of the words do not), the Atom feed lists
    it, the list counts it as new, the receiver gets one signed post of
    it; deleting the article leaves its copy in the feed in its place,
    deleting the copy too empties the feed."""
    import feedparser

    srv, store, backend = service
    status, made = call_json(f"{srv.url}/api/saved-searches", "POST",
                             json.dumps({"name": "雪豹巡护", "params": {"q": "雪豹巡护队"}}, ensure_ascii=False),
                             {**STAFF, "Content-Type": "application/json"})
    assert status == 201, made
    sid = made["id"]
    path = f"/e2e-{backend}"
    receiver.script[path] = [200]
    status, hook = _put(srv, sid, {"url": f"http://127.0.0.1:{receiver.port}{path}"})
    assert status == 200, hook
    body = ("祁连山国家公园的雪豹巡护队本周在海拔四千米的山谷里布设了红外相机，"
            "回收的影像显示一只雌性雪豹带着两只幼崽经过。巡护队员说，这是该区域三年来首次记录到雪豹繁殖。"
            "保护区管理局表示，将扩大监测范围，并与牧民合作减少人兽冲突。")
    first, copy, other = f"e2e-{backend}-1", f"e2e-{backend}-2", f"e2e-{backend}-3"
    _write(srv, first, "雪豹巡护队在祁连山记录到雪豹繁殖", body)
    _write(srv, other, "祁连山雪豹保护区扩大监测", "保护区管理局表示将扩大雪豹监测范围。")
    _write(srv, copy, "祁连山雪豹巡护队记录到雪豹繁殖", body)  # a near-duplicate republished later

    rows = _until(lambda: (k := store.known(sid, [first, copy, other])) and len(k) == 2 and k)
    assert rows[first].state == "alert" and rows[copy].state == "copy" and other not in rows
    status, feed_body = call(srv.url + made["feed_url"] if "feed_url" in made else
                             f"{srv.url}/feeds/saved/{sid}.atom?token={store.get(sid).feed_token}")
    feed = feedparser.parse(feed_body)
    assert status == 200 and not feed.bozo
    assert [e.link.rsplit("/", 1)[-1] for e in feed.entries] == [first]
    [listed] = [s for s in call_json(f"{srv.url}/api/saved-searches", headers=STAFF)[1]["saved_searches"]
                if s["id"] == sid]
    assert listed["new_count"] == 1
    [(_, headers, posted, _)] = _until(lambda: receiver.posts(path))
    assert webhooks.verify(hook["webhook_secret"], posted, headers["X-Webhook-Timestamp"],
                           headers["X-Signature-256"])
    assert [a["id"] for a in json.loads(posted)["articles"]] == [first]

    feed_url = f"{srv.url}/feeds/saved/{sid}.atom?token={store.get(sid).feed_token}"
    _write(srv, first, "", "", method="DELETE")  # the story goes on in its copy
    _until(lambda: [a.article_id for a in store.feed(sid)] == [copy])
    status, feed_body = call(feed_url)
    assert status == 200 and [e.link.rsplit("/", 1)[-1] for e in feedparser.parse(feed_body).entries] == [copy]
    _write(srv, copy, "", "", method="DELETE")  # and ends with it
    _until(lambda: not store.feed(sid))
    status, feed_body = call(feed_url)
    assert status == 200 and feedparser.parse(feed_body).entries == []
    assert receiver.posts(path) == [receiver.posts(path)[0]]  # still the one post
