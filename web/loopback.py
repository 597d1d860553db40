"""A real gunicorn process on loopback serving an index, with the settings
of gunicorn.conf.py (the deployment as it runs): used by the tests and the
HTTP benchmarks.  ``Server(index_dir)`` starts it on a free port (raises
RuntimeError when /healthz does not answer within ``timeout`` seconds);
``stop()`` ends it."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it; another process may take
    it before it is used)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """gunicorn serving ``index_dir`` on a free loopback port."""

    def __init__(self, index_dir, workers=2, extra_env=None, require_healthy=True, timeout=60):
        """Start gunicorn and wait until it answers /healthz (with 200, or with
        any status when ``require_healthy`` is False)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.TemporaryDirectory()  # the query log of this run
        # Read-only unless the caller gives an article store (then the
        # master also runs the index writer).
        env = dict(os.environ, SEARCH_INDEX=index_dir, PYTHONPATH=ROOT, WEB_CONCURRENCY=str(workers),
                   SEARCH_QUERY_LOG=os.path.join(self._tmp.name, "querylog.sqlite"), SEARCH_ARTICLE_STORE="off",
                   # Load tests come from one address: no per-client rate limit
                   # unless the caller sets one.
                   SEARCH_RATE_LIMIT="off")
        env.update(extra_env or {})
        gunicorn = os.path.join(os.path.dirname(sys.executable), "gunicorn")
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [gunicorn, "-c", os.path.join(ROOT, "gunicorn.conf.py"), "--bind", f"127.0.0.1:{self.port}",
             "web:create_app()"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=self.log)
        deadline = time.time() + timeout
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
        """GET ``path`` from the server: (status, headers as a dict, body bytes), errors included;
        raises URLError/OSError when nothing answers within 10 s."""
        try:
            with urllib.request.urlopen(self.url + path, timeout=10) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, path):
        """GET ``path`` and decode its body as JSON: (status, value)."""
        status, _, body = self.get(path)
        return status, json.loads(body)

    def worker_pids(self) -> list[int]:
        """The process ids of gunicorn's workers (the master's children, ``pgrep -P``)."""
        out = subprocess.run(["pgrep", "-P", str(self.proc.pid)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def stop(self):
        """Stop gunicorn (SIGTERM, then SIGKILL after 10 s) and remove this run's temporary files."""
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except Exception:
            self.proc.kill()
            self.proc.wait()
        log = getattr(self, "log", None)
        if log is not None:
            log.close()
            self.log = None
        self._tmp.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
