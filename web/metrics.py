"""Prometheus metrics at /metrics: requests and latency by endpoint (every
gunicorn worker counted, through prometheus_client's multiprocess mode),
plus the index's document count, last commit time and indexing backlog,
read when scraped."""

from __future__ import annotations

import time

from flask import Blueprint, Response, current_app, g, request
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest

from search import settings

from .engine import article_store

bp = Blueprint("metrics", __name__)

REQUESTS = Counter("news_search_http_requests_total", "HTTP requests", ["endpoint", "method", "status"])
LATENCY = Histogram("news_search_http_request_seconds", "HTTP request latency", ["endpoint"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))


def observe(resp):
    """Called after every request (web/__init__.py)."""
    endpoint = request.url_rule.rule if request.url_rule is not None else "unmatched"
    REQUESTS.labels(endpoint, request.method, str(resp.status_code)).inc()
    LATENCY.labels(endpoint).observe(time.perf_counter() - g.get("t0", time.perf_counter()))


def _registry():
    if settings.current().prometheus_multiproc_dir:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def _gauge(name: str, help_text: str, value) -> str:
    return f"# HELP {name} {help_text}\n# TYPE {name} gauge\n{name} {value}\n" if value is not None else ""


@bp.get("/metrics")
def metrics():
    text = generate_latest(_registry()).decode("utf-8")
    docs = commit = backlog = None
    try:
        stats = current_app.extensions["search_engine"].get().stats()
        docs, commit = stats.documents, stats.last_modified
    except Exception:  # noqa: BLE001 - no index: reported on /healthz; the gauges are left out
        pass
    try:
        store = article_store(current_app, existing_only=True)
        if store is not None:
            backlog = store.backlog()
    except Exception:  # noqa: BLE001 - an unreadable store: reported on /healthz; the gauge is left out
        pass
    text += _gauge("news_search_index_documents", "Live documents in the index", docs)
    text += _gauge("news_search_index_last_commit_timestamp_seconds", "Time of the index's last commit", commit)
    text += _gauge("news_search_indexing_queue_length", "Accepted writes not yet in the index", backlog)
    return Response(text, mimetype=CONTENT_TYPE_LATEST.split(";")[0], headers={"Cache-Control": "no-store"})
