"""bench.http_load's measuring parts on the shared gunicorn server (the
2,000-article sample): the open-loop run sends every request once and
counts what fails, the closed-loop pass likewise, the workers' CPU time is
read from /proc, and the targets are judged on the measured figures.
Figures themselves are not asserted (benchmarks, not tests)."""

from __future__ import annotations

import urllib.parse

from bench import http_load


def _search_paths(n):
    return http_load._paths(distinct=True)[:n]


def test_open_loop_sends_each_request_once_and_counts_failures(server):
    paths = _search_paths(30) + ["/api/search?size=0"] * 3 + ["/api/search?bogus=1"] * 2
    before = http_load.worker_cpu_s(server.worker_pids())
    result = http_load.open_loop(server.url, rate=100, paths=paths)
    assert result["requests"] == len(paths) == 35
    assert result["errors"] == 5  # size=0 and an undocumented parameter: 400s
    assert result["rate_per_s"] == 100 and 0 < result["p50_ms"] <= result["p99_ms"]
    # Due times are 10 ms apart: the run cannot be shorter than the schedule.
    assert result["seconds"] >= (len(paths) - 1) / 100
    assert http_load.worker_cpu_s(server.worker_pids()) > before  # the workers did the work


def test_a_refused_connection_is_an_error_not_a_hang():
    from web.loopback import free_port

    url = f"http://127.0.0.1:{free_port()}"
    result = http_load.open_loop(url, rate=200, paths=["/healthz"] * 4, timeout=2)
    assert result["requests"] == 4 and result["errors"] == 4


def test_closed_loop_on_given_paths_with_cpu(server):
    pids = server.worker_pids()
    result = http_load.with_cpu(pids, lambda: http_load.cold_pass(server.url, 4, ["/healthz"] * 40, mode="trivial"))
    assert result["mode"] == "trivial" and result["requests"] == 40 and result["errors"] == 0
    assert result["worker_cpu_ms_per_request"] > 0


def test_search_paths_carry_the_mix_parameters():
    paths = http_load._paths(distinct=True)
    from bench.latency import distinct_queries, load_mix

    mix = distinct_queries(load_mix())
    assert len(paths) == len(mix)
    for path, item in zip(paths, mix):
        args = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(path).query))
        assert args["q"] == item["q"] and args.get("sort") == item.get("sort")


def test_targets_are_judged_on_the_measured_figures():
    result = {"cold": {"connections": 8, "requests_per_s": 200.0, "p99_ms": 151.0, "errors": 0},
              "open": {"rate_per_s": 50.0, "p99_ms": 59.0, "errors": 1},
              "warm": {"requests_per_s": 999.9, "errors": 0}}
    rows = {r["target"]: r for r in http_load.targets(result)}
    assert rows["cold, concurrency 8: requests/s"]["met"] is True
    assert rows["cold: p99 ms"]["met"] is False and rows["cold: p99 ms"]["measured"] == 151.0
    assert rows["open loop 50 requests/s: p99 ms"]["met"] is True
    assert rows["warm: requests/s"]["met"] is False
    assert rows["errors"]["measured"] == 1 and rows["errors"]["met"] is False
