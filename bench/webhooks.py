"""Webhook delivery cost: what the URL check, the signature, the pinned
connection and the store's bookkeeping add to a plain POST.

    python -m bench.webhooks [--deliveries 300]

A receiver (http.server on loopback, in a thread) answers 204.  Measured
in the same run, on the same receiver and payload (a batch of 20 alerted
articles, as the percolator queues it):

* baseline: ``http.client`` POSTs of the body, nothing else;
* ours: ``search.webhooks.deliver`` for queued deliveries of a real
  saved-search store (due -> policy check -> sign -> POST to the checked
  address -> ``attempted``).

Prints deliveries per second and the cost per delivery over the baseline;
writes bench/results/webhooks.json.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)

from search import ssrf, webhooks  # noqa: E402
from search.saved_searches import NewMatch, SavedSearchStore  # noqa: E402

from .measure import write_result  # noqa: E402


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(204)
        self.end_headers()


def _payload(search_id: str) -> dict:
    return {"saved_search": {"id": search_id, "name": "香港选举"}, "commit": 4812,
            "articles": [{"id": f"a-{i}", "title": f"香港立法会选举投票率创新高 第{i}篇",
                          "published": "2024-03-01T10:00:00+08:00", "url": f"https://news.example/2024/03/01/{i}"}
                         for i in range(20)]}


def run(deliveries: int) -> dict:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    url = f"http://127.0.0.1:{port}/hook"
    policy = webhooks.Policy(allow_hosts=ssrf.parse_allow_hosts([f"127.0.0.1:{port}"]))
    try:
        with tempfile.TemporaryDirectory() as tmp:
            store = SavedSearchStore(os.path.join(tmp, "saved.sqlite"))
            saved = store.create("bench", "香港选举", {"q": ["香港 选举"]})
            store.set_webhook(saved.id, "bench", url)
            body = webhooks.body_of(_payload(saved.id))

            t0 = time.perf_counter()
            for _ in range(deliveries):
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                conn.request("POST", "/hook", body=body, headers={"Content-Type": "application/json"})
                conn.getresponse().read()
                conn.close()
            baseline = time.perf_counter() - t0

            for i in range(deliveries):
                store.record(saved.id, [NewMatch(f"a-{i}", f"a-{i}")], [], [], commit_seq=i,
                             payload=_payload(saved.id))
            t0 = time.perf_counter()
            done = 0
            while True:
                due = store.due(limit=50)
                if not due:
                    break
                for delivery in due:
                    if webhooks.deliver(store, delivery, policy) is None:
                        done += 1
            ours = time.perf_counter() - t0
            store.close()
    finally:
        server.shutdown()
        server.server_close()
    return {"deliveries": deliveries, "delivered": done, "payload_bytes": len(body),
            "baseline_posts_per_s": round(deliveries / baseline, 1),
            "ours_deliveries_per_s": round(deliveries / ours, 1),
            "baseline_ms_per_post": round(baseline / deliveries * 1000, 3),
            "ours_ms_per_delivery": round(ours / deliveries * 1000, 3),
            "overhead_ms_per_delivery": round((ours - baseline) / deliveries * 1000, 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=300)
    args = parser.parse_args(argv)
    result = run(args.deliveries)
    print(f"webhook deliveries to a loopback receiver ({result['deliveries']}, {result['payload_bytes']} B each)")
    print(f"  baseline (plain POST):        {result['baseline_posts_per_s']:>8} /s  "
          f"{result['baseline_ms_per_post']} ms each")
    print(f"  ours (check, sign, pin, store): {result['ours_deliveries_per_s']:>6} /s  "
          f"{result['ours_ms_per_delivery']} ms each (+{result['overhead_ms_per_delivery']} ms)")
    write_result(os.path.join(HERE, "results", "webhooks.json"), result)
    return 0 if result["delivered"] == result["deliveries"] else 1


if __name__ == "__main__":
    sys.exit(main())
