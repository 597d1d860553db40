"""gunicorn settings for a 2-core machine (override with environment variables).

Each worker process opens the index once (numpy arrays per segment) and
refreshes at most once a second when the indexer commits."""

import os
import tempfile

# Prometheus metrics from every worker (prometheus_client multiprocess mode):
# each worker writes its counters to files here; /metrics adds them up.
if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="news-search-metrics-")
# The writer supervisor's state, read by every worker's /healthz (see below).
if not os.environ.get("SEARCH_WRITER_STATUS"):
    os.environ["SEARCH_WRITER_STATUS"] = os.path.join(tempfile.mkdtemp(prefix="news-search-writer-"), "status.json")

# One BLAS thread per worker: the workers already take a core each, and the
# dense inner products (hybrid search, related articles) are matrix-vector
# products, where OpenBLAS's helper threads only wait for a busy core (a
# fused related list: 25 ms p50 wall for 4.8 ms CPU with the default
# threads, 7.5 ms with one, on the loaded 2-core machine:
# docs/benchmarks.md).  Before any worker imports numpy; an operator's own
# setting is kept.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

# The settings, read once the two above are in the environment (the workers,
# forked from this process, keep them: search/settings.py).
import sys  # noqa: E402

from search.settings import current  # noqa: E402
from web.config import check as _check  # noqa: E402

try:  # a bad setting stops the service here, named, before any worker boots
    _check()
except ValueError as _exc:
    print(f"error: {_exc}", file=sys.stderr)
    sys.exit(2)
_settings = current()
workers = _settings.web_concurrency
# Searching is CPU-bound Python: threads of one worker share its interpreter
# lock, so more than two only stretch every request in that worker
# (bench/http_load: 2 threads gave higher throughput and a lower p99 than 4).
threads = _settings.gunicorn_threads
timeout = _settings.gunicorn_timeout
# gthread, except that a request reaches a thread only once it has fully
# arrived (head and a body of up to 1 MiB), within SEARCH_CLIENT_TIMEOUT
# seconds (408 after): slow or idle clients cannot occupy the threads
# (web/worker.py), and malformed requests get the API's JSON errors.
worker_class = "web.worker.BufferedThreadWorker"
# URLs up to gunicorn's largest line reach the app, which names what is too
# long (a query over SEARCH_MAX_QUERY_LENGTH ...); longer ones get 414.
limit_request_line = 8190
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
# store, and this process alone commits to the index.  A supervisor thread
# of the master restarts it with back-off whenever it ends (indexer/supervisor.py)
# and keeps its state in a file the workers read for /healthz.
_writer = None


def when_ready(server):
    global _writer
    import sys

    from indexer import paths
    from indexer.supervisor import WriterSupervisor

    index, backend = _settings.index, _settings.backend
    # Each index has its own store and query log (beside it, unless set);
    # the shared files of earlier versions move to the index they fed.
    paths.migrate_legacy(index, backend, report=server.log.warning)
    store = paths.store_path(_settings)
    if store == "off":
        return
    cmd = [sys.executable, "-m", "indexer", "writer", "--index", index, "--store", store, "--backend", backend]
    if _settings.userdict:
        cmd += ["--userdict", _settings.userdict]
    if _settings.embed_model:  # dense vectors after commits (indexer/embed_process.py)
        cmd += ["--embed", _settings.embed_model]
    _writer = WriterSupervisor(cmd, _settings.writer_status, first_delay=_settings.writer_restart_delay,
                               max_delay=_settings.writer_restart_max)
    _writer.start()
    server.log.info("index writer supervised (status in %s)", _settings.writer_status)


def on_exit(server):
    if _writer is not None:
        _writer.stop(timeout=30)
