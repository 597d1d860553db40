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
def by_id(sample_records):
    return {r["id"]: r for r in sample_records}


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


@pytest.fixture(scope="session")
def web_app(sample_index):
    from web import create_app

    return create_app({"SEARCH_INDEX": sample_index, "SEARCH_REFRESH_INTERVAL": 0.0,
                       "SEARCH_CORS_ORIGINS": ["https://partner.example"]})


@pytest.fixture
def client(web_app):
    return web_app.test_client()


def free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """A real gunicorn process on loopback serving an index."""

    def __init__(self, index_dir, workers=2, extra_env=None, require_healthy=True):
        """Start gunicorn and wait until it answers /healthz (with 200, or with
        any status when ``require_healthy`` is False)."""
        import subprocess
        import tempfile
        import time
        import urllib.error
        import urllib.request

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, SEARCH_INDEX=index_dir, PYTHONPATH=ROOT, WEB_CONCURRENCY=str(workers),
                   SEARCH_REFRESH_INTERVAL="0.5", **(extra_env or {}))
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [gunicorn, "-c", os.path.join(ROOT, "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}",
             "web:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except urllib.error.HTTPError:
                if not require_healthy:
                    return
            except Exception:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not answer /healthz")

    def get(self, path):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path):
        import json as _json

        status, _, body = self.get(path)
        return status, _json.loads(body)

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        log = getattr(self, "log", None)
        if log is not None:
            log.close()


@pytest.fixture(scope="session")
def server(sample_index):
    s = Server(sample_index)
    yield s
    s.stop()
