"""gunicorn settings for a 2-core machine (override with environment variables).

Each worker process opens the index once (numpy arrays per segment) and
refreshes at most once a second when the indexer commits."""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Searching is CPU-bound Python: threads of one worker share its interpreter
# lock, so more than two only stretch every request in that worker
# (bench/http_load: 2 threads gave higher throughput and a lower p99 than 4).
threads = int(os.environ.get("GUNICORN_THREADS", "2"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# No keep-alive: a gthread worker accepts every connection it is offered, so
# with keep-alive the first worker to wake took all of a client's
# connections and served them alone while the other idled.  Closing after
# each response lets the kernel hand new connections to whichever worker is
# free.  (Behind a reverse proxy, keep-alive lives between client and proxy.)
keepalive = 0
preload_app = False
# The app writes its own JSON access log (request time, no client IP unless
# SEARCH_LOG_CLIENT_IP is set); gunicorn's would log every client IP.
accesslog = None
errorlog = "-"
# Forwarding headers are read by the app alone, and only from the proxies in
# SEARCH_TRUSTED_PROXIES (web/proxies.py): gunicorn itself believes none
# (its default would take X-Forwarded-Proto from any local process).
forwarded_allow_ips = ""
secure_scheme_headers = {}


# Prometheus metrics from every worker (prometheus_client multiprocess mode):
# each worker writes its counters to files here; /metrics adds them up.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    import tempfile

    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="news-search-metrics-")


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def post_worker_init(worker):
    """Open the index before the worker takes requests, so that the first
    requests do not wait for it (a missing index is reported by /healthz),
    and wait for its pinyin lexicon and suggester (~10 s on the full
    corpora), so that pinyin and suggestions work from the first request."""
    holder = getattr(worker.wsgi, "extensions", {}).get("search_engine")
    if holder is not None:
        try:
            engine = holder.get()
            engine.pinyin.get(wait=20)
            engine.suggester.get(wait=20)
        except Exception:  # noqa: BLE001 - the app reports it on /healthz
            pass


# ---- the single index writer ----------------------------------------------
# The master starts one writer process (python -m indexer writer) next to
# the workers: the write API and the indexer CLI append to the article
# store, and this process alone commits to the index.
_writer = None


def when_ready(server):
    global _writer
    import subprocess
    import sys

    from indexer import paths

    index = os.environ.get("SEARCH_INDEX", "data/index")
    backend = os.environ.get("SEARCH_BACKEND") or "whoosh"
    # Each index has its own store and query log (beside it, unless set);
    # the shared files of earlier versions move to the index they fed.
    paths.migrate_legacy(index, backend, report=server.log.warning)
    store = paths.store_path(os.environ, index, backend)
    if store == "off":
        return
    cmd = [sys.executable, "-m", "indexer", "writer", "--index", index, "--store", store, "--backend", backend]
    if os.environ.get("SEARCH_USERDICT"):
        cmd += ["--userdict", os.environ["SEARCH_USERDICT"]]
    _writer = subprocess.Popen(cmd)
    server.log.info("index writer started (pid %s)", _writer.pid)


def on_exit(server):
    if _writer is not None and _writer.poll() is None:
        _writer.terminate()
        try:
            _writer.wait(timeout=30)
        except Exception:  # noqa: BLE001
            _writer.kill()
