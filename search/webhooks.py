"""Webhook deliveries: a saved search's new alerts posted as signed JSON.

The percolator queues a delivery (``SavedSearchStore.record(...,
payload=...)``) when a saved search with a webhook has new alerts; the
writer process's delivery loop (``indexer.deliveries``) calls ``deliver``
for each delivery that is due.  One attempt:

1. the URL is checked again (``search.ssrf.check``: DNS and
   ``SEARCH_WEBHOOK_ALLOW_HOSTS`` may have changed since it was set); a
   refusal is a failed attempt, and nothing is sent;
2. the payload is posted (``POST``, ``Content-Type: application/json``,
   UTF-8) to the very address that was checked (``send``: the TCP
   connection goes to ``Destination.address``; the ``Host`` header, TLS
   SNI and the certificate check use the URL's host name), never
   re-resolving the name in between (DNS rebinding);
3. a 2xx answer is a delivery; anything else (another status, a redirect:
   never followed, a timeout, a refused connection, a TLS error) is
   retried after ``retry_delay`` seconds, until ``SEARCH_WEBHOOK_MAX_ATTEMPTS``
   attempts were made; then the delivery is ``failed``.

Headers (the receiver checks them; README "Webhooks" shows how):

* ``X-Webhook-Id``: the delivery's id (the same on every retry: a
  receiver that saw it already ignores it; delivery is at least once);
* ``X-Webhook-Timestamp``: the attempt's time, integer epoch seconds;
* ``X-Signature-256``: ``sha256=`` + the hex HMAC-SHA256, keyed with the
  saved search's ``webhook_secret``, of ``timestamp + "." + raw body``
  (signing the timestamp lets a receiver refuse a replayed old post).

Sent with the standard library's ``http.client``: an ``HTTPSConnection``
whose ``connect`` opens the socket to the checked address and wraps it
with the default TLS context (certificate and host name verified for the
URL's host).  ``requests``/``urllib3`` would need the same pinning by
hand (a custom adapter or pool) and follow redirects by default; here a
redirect is simply an answer.  Each network step waits at most
``SEARCH_WEBHOOK_TIMEOUT`` seconds, the whole attempt at most
``TOTAL_STEPS`` times that (a watchdog timer cuts the connection of a
receiver answering a byte at a time); at most ``MAX_READ`` bytes of the
answer are read (kept, shortened, as the attempt's error).
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import random
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from . import ssrf
from .errors import SearchServiceError
from .saved_searches import Delivery, SavedSearchStore

MAX_READ = 4096  # bytes of a receiver's answer read (chosen: enough for an error message)
TOTAL_STEPS = 3  # an attempt as a whole waits at most this many times SEARCH_WEBHOOK_TIMEOUT
MAX_ERROR = 300  # characters of an attempt's error kept (the staff page shows it)
# Retry n waits BACKOFF_STEPS[n-1] x SEARCH_WEBHOOK_BACKOFF (the last step
# repeats): with 30 s, 30 s, 2 min, 10 min, 1 h, 6 h, 6 h ...
BACKOFF_STEPS = (1, 4, 20, 120, 720)
JITTER = 0.2  # each wait is scaled by a uniform factor in [1 - JITTER, 1 + JITTER]
USER_AGENT = "news-search-webhooks/1"
SIGNATURE_HEADER, TIMESTAMP_HEADER, ID_HEADER = "X-Signature-256", "X-Webhook-Timestamp", "X-Webhook-Id"


@dataclass(frozen=True)
class Policy:
    """What a delivery needs from the settings: ``allow_hosts``
    (``ssrf.parse_allow_hosts`` of ``SEARCH_WEBHOOK_ALLOW_HOSTS``),
    ``timeout`` (s per network step), ``max_attempts``, ``backoff`` (s
    before the first retry)."""
    allow_hosts: frozenset = frozenset()
    timeout: float = 5.0
    max_attempts: int = 8
    backoff: float = 30.0

    @classmethod
    def from_settings(cls, settings) -> "Policy":
        """From a ``search.settings.Settings``.  Raises ValueError naming a
        bad ``SEARCH_WEBHOOK_ALLOW_HOSTS`` entry."""
        return cls(ssrf.parse_allow_hosts(settings.webhook_allow_hosts), settings.webhook_timeout,
                   settings.webhook_max_attempts, settings.webhook_backoff)


def body_of(payload: dict) -> bytes:
    """The payload as the bytes posted: compact JSON, UTF-8, not ASCII-escaped."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``X-Signature-256`` value: ``"sha256=" + hex HMAC-SHA256(secret,
    f"{timestamp}." + body)``."""
    mac = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def headers_for(delivery_id: int, secret: str, body: bytes, now: float) -> dict[str, str]:
    """The request headers of one attempt (signature, timestamp, id)."""
    timestamp = int(now)
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, ID_HEADER: str(delivery_id),
            TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: sign(secret, timestamp, body)}


def retry_delay(attempts: int, backoff: float, rng=random) -> float:
    """Seconds to wait after the ``attempts``-th failed attempt (1 for the
    first): ``BACKOFF_STEPS`` x ``backoff``, with ±``JITTER`` jitter so
    that many deliveries failing together do not retry together."""
    step = BACKOFF_STEPS[min(max(attempts, 1), len(BACKOFF_STEPS)) - 1]
    return backoff * step * rng.uniform(1 - JITTER, 1 + JITTER)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to ``address`` for the URL's ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float):
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self):
        self.sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to ``address``; TLS SNI and the certificate
    check are for the URL's ``host``."""

    def __init__(self, host: str, port: int, address: str, timeout: float, context: ssl.SSLContext):
        super().__init__(host, port, timeout=timeout, context=context)
        self.address = address
        self.tls = context

    def connect(self):
        sock = socket.create_connection((self.address, self.port), self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


class AttemptTooLong(TimeoutError, SearchServiceError, status=504):
    """The whole attempt took longer than ``TOTAL_STEPS`` x the timeout (a
    receiver answering a byte at a time)."""


def _cut(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    """End ``conn`` from the watchdog: a blocked read or write returns."""
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def send(destination: ssrf.Destination, body: bytes, headers: dict[str, str], timeout: float,
         context: ssl.SSLContext | None = None) -> tuple[int, bytes]:
    """POST ``body`` to ``destination`` (connecting to its checked
    ``address``); returns (status, at most ``MAX_READ`` bytes of the
    answer).  Each network step waits at most ``timeout`` seconds, the
    whole attempt at most ``TOTAL_STEPS`` x ``timeout`` (a watchdog cuts
    the connection).  Raises OSError (timeouts, ``AttemptTooLong``,
    refused connections, TLS errors) or ``http.client.HTTPException`` (a
    malformed answer)."""
    if destination.scheme == "https":
        conn = _PinnedHTTPSConnection(destination.host, destination.port, destination.address, timeout,
                                      context or ssl.create_default_context())
    else:
        conn = _PinnedHTTPConnection(destination.host, destination.port, destination.address, timeout)
    expired = threading.Event()
    watchdog = threading.Timer(TOTAL_STEPS * timeout, _cut, args=(conn, expired))
    watchdog.daemon = True
    watchdog.start()
    try:
        conn.request("POST", destination.target, body=body, headers=headers)
        resp = conn.getresponse()
        answer = resp.status, resp.read(MAX_READ)
    except (OSError, http.client.HTTPException):
        if not expired.is_set():
            raise
        answer = None
    finally:
        watchdog.cancel()
        conn.close()
    if expired.is_set():  # a cut answer may read as a complete one: never count it
        raise AttemptTooLong(f"the attempt took longer than {TOTAL_STEPS * timeout:g} s in all")
    return answer


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= MAX_ERROR else text[:MAX_ERROR - 1] + "…"


def attempt(url: str, secret: str, delivery: Delivery, policy: Policy, now: float | None = None,
            context: ssl.SSLContext | None = None) -> str | None:
    """Make one attempt at ``delivery`` to ``url``: None when the receiver
    answered 2xx, else why not (text: the URL refused by the policy, the
    status and the start of the answer, a redirect not followed, the
    network error, or any other exception, named: a delivery that cannot
    be made is a failed attempt like any other).  Never raises."""
    now = time.time() if now is None else now
    try:
        destination = ssrf.check(url, policy.allow_hosts)
    except ssrf.WebhookURLRefused as exc:
        return _short(f"not sent: {exc}")
    except Exception as exc:  # noqa: BLE001 - a URL the policy cannot even read is not sent
        return _short(f"not sent: the URL cannot be checked ({type(exc).__name__}: {exc})")
    try:
        body = body_of(delivery.payload)
        status, answer = send(destination, body, headers_for(delivery.id, secret, body, now), policy.timeout, context)
    except (OSError, http.client.HTTPException) as exc:
        kind = "timed out" if isinstance(exc, (socket.timeout, TimeoutError)) else type(exc).__name__
        return _short(f"{kind}: {exc}" if str(exc) else kind)
    except Exception as exc:  # noqa: BLE001 - never let one delivery stop the queue (recorded as failed)
        return _short(f"not sent: {type(exc).__name__}: {exc}")
    if 200 <= status < 300:
        return None
    text = answer.decode("utf-8", "replace")
    if 300 <= status < 400:
        return _short(f"HTTP {status}: a redirect, not followed (set the final URL as the webhook)")
    return _short(f"HTTP {status}" + (f": {text}" if text.strip() else ""))


def deliver(store: SavedSearchStore, delivery: Delivery, policy: Policy, now: float | None = None,
            rng=random, context: ssl.SSLContext | None = None) -> str | None:
    """One attempt at ``delivery`` (a row of ``store.due()``), recorded with
    ``store.attempted``: delivered, retried after ``retry_delay`` or, at
    the last attempt, failed.  A delivery whose saved search is gone or
    has no webhook any more fails at once.  Returns the attempt's error,
    or None when delivered.  Raises only what ``store`` raises (SQLite
    errors: the store locked or unreadable)."""
    now = time.time() if now is None else now
    search = store.get(delivery.search_id)
    if search is None or not search.webhook_url or not search.webhook_secret:
        error = "not sent: the saved search has no webhook any more"
        store.attempted(delivery.id, error, None, now=now)
        return error
    error = attempt(search.webhook_url, search.webhook_secret, delivery, policy, now, context)
    record_attempt(store, delivery, policy, error, now, rng)
    return error


def record_attempt(store: SavedSearchStore, delivery: Delivery, policy: Policy, error: str | None,
           now: float | None = None, rng=random) -> None:
    """Record an attempt at ``delivery`` that ended with ``error`` (None:
    delivered): retried after ``retry_delay``, or failed for good at the
    ``max_attempts``-th attempt."""
    now = time.time() if now is None else now
    made = delivery.attempts + 1
    retry_at = None if error is None or made >= policy.max_attempts else now + retry_delay(made, policy.backoff, rng)
    store.attempted(delivery.id, error, retry_at, now=time.time())


def verify(secret: str, body: bytes, timestamp: str, signature: str, tolerance: float = 300,
           now: float | None = None) -> bool:
    """Does ``signature`` (the ``X-Signature-256`` header) sign ``body``
    with ``timestamp`` (the ``X-Webhook-Timestamp`` header), and is the
    timestamp within ``tolerance`` seconds of ``now``?  What a receiver
    does (README "Webhooks" has the same few lines to copy)."""
    now = time.time() if now is None else now
    try:
        fresh = abs(now - int(timestamp)) <= tolerance
    except (TypeError, ValueError):
        return False
    return fresh and hmac.compare_digest(sign(secret, int(timestamp), body), signature or "")
