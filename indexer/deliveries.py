"""The webhook delivery loop: a thread of the writer process posting the
deliveries that are due (``search.webhooks.deliver``), one after another.

    stop = threading.Event()
    thread = deliveries.start(settings, stop)   # beside the writer's loop

It looks for due deliveries every ``SEARCH_WEBHOOK_POLL`` seconds (at once
again after a full batch).  It never blocks or crashes the writer: it is a
daemon thread of its own, with its own connection to the saved-search
store, and every failure (the store locked or unreadable, a bad setting,
a bug) is logged and tried again at the next poll.  A delivery that
raises (a damaged row, a bug) is recorded as a failed attempt, retried
with back-off like any other: it never stays first in the queue blocking
the ones behind it.  A delivery in flight
when the process ends is attempted again after the restart (delivery is
at least once; receivers drop a repeated ``X-Webhook-Id``).
"""

from __future__ import annotations

import logging
import threading

from search.saved_searches import SavedSearchStore
from search.webhooks import MAX_ERROR, Policy, deliver, record_attempt

from .paths import saved_searches_path

log = logging.getLogger("indexer.deliveries")
BATCH = 50  # deliveries taken per look (a full batch: look again at once)


def run(store: SavedSearchStore, policy: Policy, poll: float, stop: threading.Event) -> None:
    """Deliver what is due until ``stop`` is set; never raises."""
    while not stop.is_set():
        busy = False
        try:
            due = store.due(limit=BATCH)
            for delivery in due:
                if stop.is_set():
                    break
                try:
                    error = deliver(store, delivery, policy)
                except Exception as exc:  # noqa: BLE001 - one delivery must never block the queue
                    error = f"not sent: {type(exc).__name__}: {exc}"[:MAX_ERROR]
                    record_attempt(store, delivery, policy, error)  # if the store itself fails: the outer handler
                if error is not None:
                    log.warning("webhook delivery %d of saved search %s: %s", delivery.id, delivery.search_id, error)
            busy = len(due) == BATCH
        except Exception:  # noqa: BLE001 - logged; the writer goes on, the next poll retries
            log.exception("webhook deliveries failed; retrying at the next poll")
        if not busy:
            stop.wait(poll)
    store.close()


def _main(settings, stop: threading.Event) -> None:
    """Open the store (retrying each poll until it opens) and run the loop."""
    while not stop.is_set():
        try:
            store = SavedSearchStore(saved_searches_path(settings))
            policy = Policy.from_settings(settings)
        except Exception as exc:  # noqa: BLE001 - a store that cannot open now may open later
            log.error("webhook deliveries cannot start: %s", exc)
            stop.wait(max(settings.webhook_poll, 5.0))
            continue
        run(store, policy, settings.webhook_poll, stop)
        return


def start(settings, stop: threading.Event) -> threading.Thread | None:
    """Start the delivery loop for ``settings`` (a ``search.settings.Settings``
    whose ``index`` and ``backend`` are the writer's: the saved-search
    store is ``indexer.paths.saved_searches_path(settings)``) in a daemon
    thread; it ends when ``stop`` is set.  Returns the thread, or None
    (nothing started, no file made) when ``SEARCH_SAVED_SEARCHES`` is ``off``."""
    if saved_searches_path(settings) == "off":
        log.info("webhook deliveries off: SEARCH_SAVED_SEARCHES=off")
        return None
    thread = threading.Thread(target=_main, args=(settings, stop), name="webhook-deliveries", daemon=True)
    thread.start()
    return thread
