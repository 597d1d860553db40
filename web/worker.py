"""gunicorn's threaded worker, safe from slow and idle clients.

gunicorn's ``gthread`` worker hands a connection to one of its few threads
as soon as the first byte arrives; the thread then blocks until the whole
request head has come (and the app until the body has), so four clients
sending half a header each occupied every thread of a 2x2 deployment
indefinitely.  This worker (own code: gunicorn has no request-read
timeout, and its async workers would run the app's CPU-bound background
threads as greenlets) reads in the worker's event loop instead, without
blocking, and hands a request to a thread only once its head and a body
of up to ``SEARCH_BUFFER_BODY_BYTES`` have arrived, the way a buffering
reverse proxy does:

* a client has ``SEARCH_CLIENT_TIMEOUT`` seconds (default 10) from
  connecting to send that much, else it gets 408 and is closed; a longer
  body (bulk uploads) is read by the thread with the same timeout per read;
* a head larger than gunicorn's limits (``limit_request_line``,
  ``limit_request_field_size`` x ``limit_request_fields``) gets 414/431;
* these answers, and gunicorn's own answers to malformed requests, are
  the API's JSON errors (``{"error", "status"}``) for ``/api/``, ``/healthz``
  and ``/metrics``, and a small HTML page elsewhere, instead of gunicorn's
  HTML.

Use: ``worker_class = "web.worker.BufferedThreadWorker"`` (gunicorn.conf.py).
"""

from __future__ import annotations

import errno
import html
import json
import re
import selectors
import socket
import threading
import time
from functools import partial

from gunicorn.http import errors as http_errors
from gunicorn.workers import gthread

from search import settings

from .inputs import is_json_path

CLIENT_TIMEOUT = settings.current().client_timeout  # seconds (search/settings.py)
BUFFER_BODY_BYTES = settings.current().buffer_body_bytes
_CONTENT_LENGTH = re.compile(rb"^content-length:[ \t]*(\d+)[ \t]*$", re.I | re.M)
_CHUNKED = re.compile(rb"^transfer-encoding:.*chunked", re.I | re.M)
_EXPECT = re.compile(rb"^expect:[ \t]*100-continue", re.I | re.M)
_REASONS = {400: "Bad Request", 403: "Forbidden", 408: "Request Timeout", 414: "URI Too Long",
            431: "Request Header Fields Too Large", 501: "Not Implemented"}


def _target(head: bytes) -> str:
    """The request target of a (possibly partial) request head."""
    parts = head.split(b"\r\n", 1)[0].split(b" ")
    return parts[1].decode("latin-1") if len(parts) > 1 else ""


def error_response(status: int, message: str, target: str) -> bytes:
    """A complete HTTP response: the API's JSON error for API paths, a
    small HTML page for the rest; the connection is closed after it."""
    path = target.split("?", 1)[0]
    if is_json_path(path):
        body = json.dumps({"error": message, "status": status}).encode("utf-8")
        ctype = "application/json"
    else:
        body = (f'<!doctype html><html lang="zh"><meta charset="utf-8"><title>{status}</title>'
                f"<h1>{status} {_REASONS.get(status, '')}</h1><p>{html.escape(message)}</p></html>").encode("utf-8")
        ctype = "text/html; charset=utf-8"
    return (f"HTTP/1.1 {status} {_REASONS.get(status, 'Error')}\r\nConnection: close\r\n"
            f"Content-Type: {ctype}\r\nContent-Length: {len(body)}\r\nCache-Control: no-store\r\n"
            "X-Content-Type-Options: nosniff\r\n\r\n").encode("latin-1") + body


class BufferedConn(gthread.TConn):
    def __init__(self, cfg, sock, client, server, deadline: float):
        super().__init__(cfg, sock, client, server)
        self.buf = bytearray()
        self.deadline = deadline
        self.target = ""  # the request target, once its line has arrived

    def init(self):
        super().init()
        # The thread reads what was not buffered (a long body) with a
        # timeout per read, never forever.
        self.sock.settimeout(CLIENT_TIMEOUT)
        if self.buf:
            self.parser.unreader.unread(bytes(self.buf))
            self.buf = bytearray()


class BufferedThreadWorker(gthread.ThreadWorker):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._reading: dict[int, BufferedConn] = {}
        self._local = threading.local()
        cfg = self.cfg
        self.max_line = cfg.limit_request_line or 1 << 20
        self.max_head = self.max_line + (cfg.limit_request_field_size or 8190) * (cfg.limit_request_fields or 100)

    def accept(self, server, listener):
        try:
            sock, client = listener.accept()
            conn = BufferedConn(self.cfg, sock, client, server, self._now() + CLIENT_TIMEOUT)
            self.nr_conns += 1
            with self._lock:
                self._reading[id(conn)] = conn
                self.poller.register(conn.sock, selectors.EVENT_READ, partial(self.on_client_socket_readable, conn))
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise

    @staticmethod
    def _now() -> float:
        return time.monotonic()

    def _drop(self, conn: BufferedConn, response: bytes | None = None) -> None:
        with self._lock:
            self._reading.pop(id(conn), None)
            try:
                self.poller.unregister(conn.sock)
            except (KeyError, ValueError, OSError):
                pass
        if response:
            try:
                conn.sock.send(response)  # best effort: non-blocking, small
            except OSError:
                pass
        self.nr_conns -= 1
        conn.close()

    def on_client_socket_readable(self, conn, client):
        if conn.initialized:  # a kept-alive connection: as gthread
            return super().on_client_socket_readable(conn, client)
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            return self._drop(conn)
        if not data:
            return self._drop(conn)
        conn.buf += data
        end = conn.buf.find(b"\r\n\r\n")
        line_end = conn.buf.find(b"\r\n")
        target = _target(bytes(conn.buf[:min(len(conn.buf), self.max_line + 64)]))
        if (line_end if line_end >= 0 else len(conn.buf)) > self.max_line:
            return self._drop(conn, error_response(
                414, f"the request line (URL) is too long: over {self.max_line} bytes", target))
        if (end if end >= 0 else len(conn.buf)) > self.max_head:
            return self._drop(conn, error_response(
                431, f"the request headers are too large: over {self.max_head} bytes", target))
        if end < 0:
            return
        head = bytes(conn.buf[:end])
        conn.target = target
        # A client that waits for "100 Continue" sends its body only after
        # gunicorn has answered the head: hand the request over now.
        if not _CHUNKED.search(head) and not _EXPECT.search(head):
            m = _CONTENT_LENGTH.search(head)
            wanted = int(m.group(1)) if m else 0
            if wanted <= BUFFER_BODY_BYTES and len(conn.buf) - end - 4 < wanted:
                return  # the body is still coming
        with self._lock:
            self._reading.pop(id(conn), None)
            self.poller.unregister(conn.sock)
        self.enqueue_req(conn)

    def murder_keepalived(self):
        super().murder_keepalived()
        now = self._now()
        late = [c for c in list(self._reading.values()) if c.deadline <= now]
        for conn in late:
            self._drop(conn, error_response(
                408, f"the request did not arrive within {CLIENT_TIMEOUT:g} s", _target(bytes(conn.buf))))

    def handle(self, conn):
        self._local.target = getattr(conn, "target", "")
        return super().handle(conn)

    def handle_request(self, req, conn):
        self._local.target = req.uri or ""
        return super().handle_request(req, conn)

    def handle_error(self, req, client, addr, exc):
        """gunicorn's answer to a malformed request, as JSON for the API."""
        status = None
        if isinstance(exc, http_errors.ConfigurationProblem):
            status = None
        elif isinstance(exc, http_errors.ForbiddenProxyRequest):
            status = 403
        elif isinstance(exc, http_errors.LimitRequestLine):
            status = 414
        elif isinstance(exc, http_errors.LimitRequestHeaders):
            status = 431
        elif isinstance(exc, http_errors.UnsupportedTransferCoding):
            status = 501
        elif isinstance(exc, (http_errors.ParseException, socket.timeout)):
            status = 408 if isinstance(exc, socket.timeout) else 400
        if status is None:
            return super().handle_error(req, client, addr, exc)
        self.log.warning("Invalid request from ip=%s: %s", (addr or ("",))[0], exc)
        target = getattr(req, "uri", None) or getattr(self._local, "target", "") or ""
        message = f"malformed request: {exc}" if status == 400 else str(exc)
        try:
            client.settimeout(1.0)
            client.sendall(error_response(status, message, target))
        except OSError:
            pass
