"""gunicorn settings for a 2-core machine (override with environment variables).

Each worker process opens the index once (numpy arrays per segment) and
refreshes at most once a second when the indexer commits."""

import os

workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
keepalive = 5
preload_app = False
# The app writes its own JSON access log (request time, no client IP unless
# SEARCH_LOG_CLIENT_IP is set); gunicorn's would log every client IP.
accesslog = None
errorlog = "-"


def post_worker_init(worker):
    """Open the index before the worker takes requests, so that the first
    requests do not wait for it (a missing index is reported by /healthz)."""
    holder = getattr(worker.wsgi, "extensions", {}).get("search_engine")
    if holder is not None:
        try:
            holder.get()
        except Exception:  # noqa: BLE001 - the app reports it on /healthz
            pass
