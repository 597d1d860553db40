"""Coverage timeline on the real sample: counts per period equal counts
made from the records themselves."""

from collections import Counter

from conftest import validated
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query
from search.timeutil import NEWSROOM_TZ, parse_published


def norm(text):
    return fold_case(normalize_query(text or ""))


def by_period(records, word, fmt):
    counts, undated = Counter(), 0
    for r in records:
        if norm(word) in norm(r["title"] + r["body"]):
            if r.get("published"):
                counts[parse_published(r["published"]).astimezone(NEWSROOM_TZ).strftime(fmt)] += 1
            else:
                undated += 1
    return counts, undated


def test_yearly_and_monthly_counts_match_the_records(plain_engine, sample_records):
    for interval, fmt in (("year", "%Y"), ("month", "%Y-%m")):
        t = plain_engine.timeline(SearchRequest(q="疫苗", facets=()), interval)
        expected, undated = by_period(sample_records, "疫苗", fmt)
        got = {b["start"]: b["count"] for b in t["buckets"] if b["count"]}
        assert got == dict(expected) and t["undated"] == undated
        assert sum(b["count"] for b in t["buckets"]) + t["undated"] == t["total"]
        starts = [b["start"] for b in t["buckets"]]
        assert starts == sorted(starts) and len(set(starts)) == len(starts)  # every period, in order


def test_auto_interval_follows_the_span(plain_engine):
    from search.timeutil import parse_range

    wide = plain_engine.timeline(SearchRequest(q="香港", facets=()))
    assert wide["interval"] == "year"
    date_from, date_to = parse_range("2020-06-01", "2020-06-30")
    narrow = plain_engine.timeline(SearchRequest(q="香港", facets=(), date_from=date_from, date_to=date_to))
    assert narrow["interval"] == "day" and len(narrow["buckets"]) <= 30
    assert all("2020-06-01" <= b["start"] <= "2020-06-30" for b in narrow["buckets"])


def test_timeline_api(client, openapi):
    data = validated(client, openapi, "/api/timeline?q=%E9%A6%99%E6%B8%AF&interval=year").get_json()
    assert data["interval"] == "year" and data["total"] > 0
    assert sum(b["count"] for b in data["buckets"]) + data["undated"] == data["total"]
    filtered = validated(client, openapi, "/api/timeline?q=%E9%A6%99%E6%B8%AF&interval=year&from=2020-01-01").get_json()
    assert all(b["start"] >= "2020" for b in filtered["buckets"]) and filtered["total"] < data["total"]
    bad = validated(client, openapi, "/api/timeline?q=%E9%A6%99%E6%B8%AF&interval=hour", status=400).get_json()
    assert "'interval'" in bad["error"]


def test_a_finer_interval_than_the_cap_allows_is_coarsened(client, openapi, sample_records):
    """The sample spans 2012-2026: by day that is thousands of bars (the API
    answered 400 before); it is given by month, counts unchanged."""
    from search.timeline import MAX_BUCKETS
    from search.timeutil import local_date

    day = validated(client, openapi, "/api/timeline?q=&interval=day").get_json()
    month = validated(client, openapi, "/api/timeline?q=&interval=month").get_json()
    assert day["interval"] == "month" and day == month and len(day["buckets"]) <= MAX_BUCKETS
    months = {}
    for r in sample_records:
        if r.get("published"):
            key = local_date(r["published"])[:7]
            months[key] = months.get(key, 0) + 1
    assert {b["start"]: b["count"] for b in day["buckets"] if b["count"]} == months
    # A short range keeps its days.
    short = validated(client, openapi, "/api/timeline?q=&interval=day&from=2020-06-01&to=2020-06-30").get_json()
    assert short["interval"] == "day"
