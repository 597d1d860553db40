"""Shared fixtures: real corpus files from ../shared/corpus and indexes built
from them through the real indexer (once per test session)."""

from __future__ import annotations

import gzip
import json
import os
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.environ.get("NEWS_CORPUS", os.path.join(os.path.dirname(ROOT), "shared", "corpus"))
SAMPLE = os.path.join(CORPUS, "news-sample-2k.jsonl.gz")

sys.path.insert(0, ROOT)

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = os.path.join(ROOT, "test-artifacts")  # screenshots (git-ignored)


def need_cluster():
    """Skip without an OpenSearch cluster (OPENSEARCH_URL); fail instead
    under REQUIRE_OPENSEARCH (CI)."""
    if not os.environ.get("OPENSEARCH_URL"):
        if os.environ.get("REQUIRE_OPENSEARCH"):
            pytest.fail("OPENSEARCH_URL is not set: scripts/opensearch start")
        pytest.skip("no OpenSearch cluster (scripts/opensearch start, then OPENSEARCH_URL=...)")


def drop_alias(alias):
    """Delete every index behind ``alias`` on the tests' cluster."""
    from opensearchpy import OpenSearch

    client = OpenSearch(os.environ["OPENSEARCH_URL"], timeout=60)
    if client.indices.exists_alias(name=alias):
        for name in client.indices.get_alias(name=alias):
            client.indices.delete(index=name)


@pytest.fixture(scope="session", autouse=True)
def _project_data_left_as_found():
    """An OpenSearch index keeps its article-store binding and default files
    beside the project's data/ (``indexer.paths``: data/opensearch-<alias>.*,
    relative to the working directory, as in production); the suite's
    throwaway aliases remove theirs when the run ends."""
    folder = os.path.join(ROOT, "data")
    before = set(os.listdir(folder)) if os.path.isdir(folder) else set()
    yield
    if os.path.isdir(folder):
        for name in set(os.listdir(folder)) - before:
            if name.startswith("opensearch-"):
                try:
                    os.remove(os.path.join(folder, name))
                except OSError:
                    pass


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium (Debian's package, driven by Playwright) for
    every browser test of the session; skipped without it, failing under
    CI=true or REQUIRE_BROWSER."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") or os.environ.get("REQUIRE_BROWSER"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    os.makedirs(ARTIFACTS, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield ChineseReader(b)
        b.close()


class ChineseReader:
    """The browser as a reader in mainland China: every page it opens sends
    ``Accept-Language: zh-CN`` (Playwright's default is en-US, which the
    pages answer in English: web/i18n.py), unless a test asks otherwise."""

    def __init__(self, browser):
        self._browser = browser

    def new_page(self, **kw):
        kw.setdefault("locale", "zh-CN")
        return self._browser.new_page(**kw)

    def new_context(self, **kw):
        kw.setdefault("locale", "zh-CN")
        return self._browser.new_context(**kw)

    def __getattr__(self, name):
        return getattr(self._browser, name)


def load_jsonl(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt", encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


@pytest.fixture(scope="session")
def sample_records():
    if not os.path.exists(SAMPLE):
        pytest.fail(f"corpus sample missing: {SAMPLE} (set NEWS_CORPUS)")
    return load_jsonl(SAMPLE)


@pytest.fixture(scope="session")
def indexed_records(sample_records):
    """The sample records as the index holds them: title and body cleaned
    (``records.to_article``: page furniture and photo credits out), tags
    each once, for tests that compare search answers with the records by
    brute force."""
    from indexer.records import to_article

    out = []
    for r in sample_records:
        a = to_article(r)
        out.append({**r, "title": a.title, "body": a.body, "tags": a.tags})
    return out


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory, sample_records):
    """The 2,000-article sample, indexed in several batches (several segments)."""
    from indexer import pipeline

    path = str(tmp_path_factory.mktemp("sample") / "index")
    summary = pipeline.build(path, [SAMPLE], workers=2, batch_size=700, progress=False)
    assert summary.added == len(sample_records) == 2000
    return path


@pytest.fixture(scope="session")
def engine(sample_index):
    from search.engine import SearchEngine

    return SearchEngine.open(sample_index, refresh_interval=0)


@pytest.fixture(scope="session")
def plain_engine(sample_index):
    """The engine without query-time synonyms (exact-semantics checks)."""
    from search.engine import SearchEngine

    return SearchEngine.open(sample_index, refresh_interval=0, synonyms_path=None)


@pytest.fixture(scope="session")
def by_id(sample_records):
    return {r["id"]: r for r in sample_records}


def index_vectors(index_dir):
    """(VectorIndex of the latest commit of the Whoosh index ``index_dir``,
    the article ids of its vectors' rows in row order): read from the
    vectors files and stored fields directly, not through the code under
    test's lookup."""
    from whoosh import index as whoosh_index

    from search.backends.whoosh import embedjob
    from search.backends.whoosh.vectors import VectorIndex

    storage, schema, generation, pairs = embedjob.latest_commit(index_dir)
    found = VectorIndex(index_dir, pairs)
    ids = []
    for segment, _ in pairs:
        reader = whoosh_index.FileIndex._reader(storage, schema, [segment], generation)
        try:
            ids += [reader.stored_fields(d)["id"] for d in range(segment.doc_count_all())]
        finally:
            reader.close()
    return found, [ids[g] for g in found.docnums.tolist()]


def write_jsonl(path, records):
    with open(path, "w", encoding="utf-8") as f:
        for r in records:
            f.write((r if isinstance(r, str) else json.dumps(r, ensure_ascii=False)) + "\n")
    return str(path)


@pytest.fixture
def tiny_index(tmp_path):
    """Build an index from records written by the test itself."""
    from indexer import pipeline
    from search.engine import SearchEngine

    def build(records, **kw):
        src = write_jsonl(tmp_path / "in.jsonl", records)
        path = str(tmp_path / "ix")
        summary = pipeline.build(path, [src], workers=1, progress=False, report=kw.pop("report", None), **kw)
        return SearchEngine.open(path, refresh_interval=0), summary, path

    return build


STAFF_TOKEN = "test-staff-token"  # the tests' bearer token (its SHA-256 is configured)
STAFF = {"Authorization": f"Bearer {STAFF_TOKEN}"}


def digest(token):
    from web.auth import digest as sha

    return sha(token)


@pytest.fixture(scope="session")
def web_app(sample_index, tmp_path_factory):
    from web import create_app

    return create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0,
                       "SEARCH_CORS_ORIGINS": ["https://partner.example"],
                       "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_ARTICLE_STORE": "off",
                       "SEARCH_RATE_LIMIT": "off", "SEARCH_HOT_REFRESH": 0.0,
                       "SEARCH_QUERY_LOG": str(tmp_path_factory.mktemp("querylog") / "queries.sqlite")})


@pytest.fixture(scope="session")
def openapi(web_app):
    from openapi_core import OpenAPI

    spec = web_app.test_client().get("/api/openapi.json").get_json()
    return OpenAPI.from_dict(spec)


def validated(client, openapi, url, status=200, headers=None):
    """GET url and validate request and response against our OpenAPI document."""
    resp = client.get(url, headers=headers)
    assert resp.status_code == status, (url, resp.status_code, resp.data[:300])
    from openapi_core.contrib.werkzeug import WerkzeugOpenAPIRequest, WerkzeugOpenAPIResponse
    from werkzeug.test import EnvironBuilder
    from werkzeug.wrappers import Request

    req = Request(EnvironBuilder(path=url.split("?")[0], query_string=url.partition("?")[2],
                                 base_url="http://localhost").get_environ())
    openapi.validate_response(WerkzeugOpenAPIRequest(req), WerkzeugOpenAPIResponse(resp))
    return resp


@pytest.fixture
def client(web_app):
    return web_app.test_client()


# A real gunicorn on loopback (shared with the HTTP benchmarks).  The tests
# refresh twice a second so that freshness checks do not wait on the interval.
from web.loopback import Server as _Server  # noqa: E402


class Server(_Server):
    """``web.loopback.Server`` for the tests: the saved-search file goes into
    a temporary directory of the server's own unless the test names one
    (its default is beside the index: for an OpenSearch index, in the
    project's ``data/``, where test runs must leave nothing)."""

    def __init__(self, index_dir, workers=2, extra_env=None, require_healthy=True):
        import tempfile

        self._files = tempfile.TemporaryDirectory(prefix="server-files-")
        env = {"SEARCH_REFRESH_INTERVAL": "0.5",
               "SEARCH_SAVED_SEARCHES": os.path.join(self._files.name, "saved.sqlite"), **(extra_env or {})}
        try:
            super().__init__(index_dir, workers=workers, extra_env=env, require_healthy=require_healthy)
        except BaseException:
            self._files.cleanup()
            raise

    def stop(self):
        try:
            super().stop()
        finally:
            self._files.cleanup()

    def wait_for_writer(self, seconds: float = 30) -> bool:
        """Has the index writer started by gunicorn's master come up?"""
        import time

        deadline = time.time() + seconds
        while time.time() < deadline and not self.json("/healthz")[1].get("writer_running"):
            time.sleep(0.2)
        return bool(self.json("/healthz")[1].get("writer_running"))


@pytest.fixture(scope="session")
def server(sample_index):
    s = Server(sample_index)
    yield s
    s.stop()


def call(url, method="GET", body=None, headers=None, timeout=30):
    """One real HTTP request: (status, body bytes), errors included."""
    import urllib.error
    import urllib.request

    data = body.encode("utf-8") if isinstance(body, str) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def call_json(url, method="GET", body=None, headers=None):
    """``call``, the body read as JSON: (status, dict); a body that is not
    JSON as ``{"raw": bytes}``."""
    import json

    status, data = call(url, method, body, headers)
    try:
        return status, json.loads(data or b"{}")
    except ValueError:
        return status, {"raw": data}


class SearchLoad:
    """Readers searching a real server over HTTP (``with`` block) while a
    test changes the index: ``requests`` counts them, ``errors`` keeps each
    one that did not answer 200 (or, with ``need_matches``, found nothing)."""

    def __init__(self, url, words, readers=4, need_matches=False):
        import threading

        self.url, self.words, self.need_matches = url, words, need_matches
        self.requests, self.errors = 0, []
        self._lock, self._stop = threading.Lock(), threading.Event()
        self._threads = [threading.Thread(target=self._read, args=(i,)) for i in range(readers)]

    def _read(self, seed):
        import random
        import urllib.parse

        rng = random.Random(seed)
        while not self._stop.is_set():
            q = urllib.parse.quote(rng.choice(self.words))
            try:
                status, body = call(f"{self.url}/api/search?q={q}&size=5")
                found = json.loads(body)["total"] if status == 200 and self.need_matches else True
            except Exception as exc:  # noqa: BLE001 - a failed request is what we count
                status, found = repr(exc), True
            with self._lock:
                self.requests += 1
                if status != 200 or not found:
                    self.errors.append((status, q) if self.need_matches else status)

    def __enter__(self):
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for t in self._threads:
            t.join()


def query_leaves(node):
    """Every text leaf (Words, Phrase, FieldValue) of a parsed query node."""
    from search import query as q

    if isinstance(node, q.AnyOf):
        for option in node.options:
            yield from query_leaves(option)
    elif isinstance(node, q.AllOf):
        for child in node.must + node.must_not:
            yield from query_leaves(child)
    elif isinstance(node, q.AtLeast):
        yield from query_leaves(node.term)
    elif isinstance(node, q.Near):
        yield from query_leaves(node.left)
        yield from query_leaves(node.right)
    else:
        yield node


def typed_key(text: str) -> str:
    """``text`` as the query parser may legitimately rewrite what was typed:
    invisible characters dropped, width and case folded (NFKC, casefold),
    without whitespace, control characters and quote marks.  Every leaf a
    parse produces must be a substring of its input under this key: the
    parser never invents text."""
    import unicodedata

    from search.chars import strip_ignorable

    folded = unicodedata.normalize("NFKC", strip_ignorable(text)).casefold()
    return "".join(c for c in folded
                   if not c.isspace() and unicodedata.category(c) != "Cc" and c not in '"“”「」')


def leaf_text(leaf) -> str:
    return leaf.value if hasattr(leaf, "value") else leaf.text
