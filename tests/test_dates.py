"""Dates mean the same thing everywhere: a search bound ``YYYY-MM-DD`` is a
whole day in newsroom time (Beijing, UTC+8), inclusive, in the CLI, the
API, the pages, the export, the timeline and the staff query reports; and
a publication time is shown, filtered, counted per day and exported as the
same newsroom-time day.

The expected days below are worked out by hand from the UTC offsets (they
are the right values, not values read back from the code under test)."""

import csv
import io
import json
import re
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import pytest

from conftest import STAFF, STAFF_TOKEN, digest
from search.models import SearchRequest
from search.timeutil import (DateError, local_date, local_iso, local_time, parse_bound, parse_published,
                             parse_range)

BEIJING = timezone(timedelta(hours=8))
WORD = "潮汐发电站"  # in every article below, and in no other

# id -> (published as stored, the newsroom-time day it belongs to, its time shown on the article page)
BOUNDARY = {
    "late-utc": ("2024-03-01T23:30:00Z", "2024-03-02", "2024-03-02 07:30"),
    "midnight-beijing": ("2024-03-01T16:00:00Z", "2024-03-02", "2024-03-02 00:00"),  # 00:00 Beijing: 2 March
    "last-second": ("2024-03-01T15:59:59Z", "2024-03-01", "2024-03-01 23:59"),  # 23:59:59 Beijing: 1 March
    "date-only": ("2024-03-01", "2024-03-01", "2024-03-01"),
    "india": ("2024-03-01T22:00:00+05:30", "2024-03-02", "2024-03-02 00:30"),  # 16:30 UTC = 00:30 Beijing
}
DAYS = ("2024-02-29", "2024-03-01", "2024-03-02", "2024-03-03")


def expected_on(day):
    return {doc_id for doc_id, (_, d, _) in BOUNDARY.items() if d == day}


# ---- the one parser --------------------------------------------------------------
def test_a_date_bound_is_a_whole_day_in_newsroom_time():
    assert parse_bound("2024-03-01") == datetime(2024, 3, 1, tzinfo=BEIJING)
    assert parse_bound("2024-03-01", end=True) == datetime(2024, 3, 2, tzinfo=BEIJING)  # exclusive end
    assert parse_range("2024-03-01", "2024-03-01") == (datetime(2024, 3, 1, tzinfo=BEIJING),
                                                       datetime(2024, 3, 2, tzinfo=BEIJING))
    assert parse_range("2024-12-31", "2024-12-31")[1] == datetime(2025, 1, 1, tzinfo=BEIJING)
    assert parse_range("", None) == (None, None)


def test_a_date_time_bound_is_taken_as_given():
    assert parse_bound("2024-03-01T08:30") == datetime(2024, 3, 1, 8, 30, tzinfo=BEIJING)  # naive: Beijing
    assert parse_bound("2024-03-01T08:30", end=True) == datetime(2024, 3, 1, 8, 30, tzinfo=BEIJING)
    assert parse_bound("2024-03-01T23:30:00Z") == datetime(2024, 3, 2, 7, 30, tzinfo=BEIJING)
    assert parse_bound("2024-03-01 22:00+05:30") == datetime(2024, 3, 2, 0, 30, tzinfo=BEIJING)
    # Publication times are whole seconds: a fraction rounds up, so >= and < keep their meaning.
    assert parse_bound("2024-03-01T08:00:00.5") == datetime(2024, 3, 1, 8, 0, 1, tzinfo=BEIJING)


@pytest.mark.parametrize("bad", ["yesterday", "2021-02-30", "20240301", "2024-W09-5", "2024-03-01T8:00",
                                 "2024-3-1", "9999-12-31", "2024-03-01T25:00", "２０２４-03-01"])
def test_a_bad_bound_is_a_clear_error(bad):
    with pytest.raises(DateError) as err:
        parse_range(None, bad)
    assert "'to'" in str(err.value) and repr(bad.strip()) in str(err.value)


def test_the_plausible_range_is_1900_to_the_end_of_tomorrow_in_beijing():
    # 2024-03-01 20:00 UTC is already 2 March in Beijing: tomorrow there is 3 March.
    now = datetime(2024, 3, 1, 20, 0, tzinfo=timezone.utc)
    assert parse_range("1900-01-01", "2024-03-03", now=now) == (
        datetime(1900, 1, 1, tzinfo=BEIJING), datetime(2024, 3, 4, tzinfo=BEIJING))
    assert parse_range(None, "2024-03-03T23:59:59", now=now)[1] == datetime(2024, 3, 3, 23, 59, 59, tzinfo=BEIJING)
    for bad in ("2024-03-04", "2024-03-04T00:00", "1899-12-31", "1899-12-31T23:59:59+08:00",
                "1900-01-01T00:00:00+08:30", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-12:00"):
        with pytest.raises(DateError, match="outside the plausible range of dates .1900-01-01 to 2024-03-03, Beijing time"):
            parse_range(bad, None, now=now)
    assert parse_published("2024-03-03T23:59:59+08:00", now=now) == datetime(2024, 3, 3, 23, 59, 59, tzinfo=BEIJING)
    assert parse_published("1969-12-31T23:59:59Z", now=now).timestamp() == -1  # a date like any other
    for bad in ("2024-03-04", "1899-12-31", "0001-01-01T00:00:00+14:00", "9999-12-31"):
        with pytest.raises(DateError):
            parse_published(bad, now=now)


def test_an_index_written_with_the_old_no_date_marker_reads_as_before(tmp_path, monkeypatch):
    """Segments written before the marker moved used -1 for "no date" and
    have no ``no_date`` in their docinfo: their -1 still means undated
    (only in those segments: a new one keeps 1969-12-31T23:59:59Z a date,
    see test_backend_contract's plausibility test)."""
    import numpy as np

    from conftest import write_jsonl
    from indexer import pipeline
    from search.backends.whoosh import docinfo, segwriter
    from search.engine import SearchEngine

    monkeypatch.setattr(segwriter, "NO_DATE", -1)  # what the writer wrote before
    monkeypatch.setattr(docinfo, "NO_DATE", -1)
    records = [{"id": "undated", "title": WORD}, {"id": "dated", "title": WORD, "published": "2024-03-01"}]
    path = str(tmp_path / "ix")
    pipeline.build(path, [write_jsonl(tmp_path / "r.jsonl", records)], workers=1, progress=False)
    monkeypatch.undo()
    for name in [n for n in __import__("os").listdir(path) if n.endswith(docinfo.SUFFIX)]:
        with np.load(f"{path}/{name}") as data:
            arrays = {k: data[k] for k in data.files if k != "no_date"}
        assert -1 in arrays["published"].tolist()
        np.savez(f"{path}/{name}", **arrays)
    eng = SearchEngine.open(path, refresh_interval=0)
    timeline = eng.timeline(SearchRequest(q=WORD, facets=()), "auto")
    assert timeline["undated"] == 1 and timeline["buckets"] == [{"start": "2024-03-01", "count": 1}]
    assert [h.id for h in eng.search(SearchRequest(q=WORD, sort="oldest")).hits] == ["dated", "undated"]
    lo, hi = parse_range(None, "2024-03-01")
    assert [h.id for h in eng.search(SearchRequest(q=WORD, date_to=hi)).hits] == ["dated"]


def test_an_empty_range_is_an_error_naming_the_inputs():
    with pytest.raises(DateError, match="--from must be before --to"):
        parse_range("2024-03-02", "2024-03-01", names=("--from", "--to"))
    with pytest.raises(DateError, match="before"):
        parse_range("2024-03-01T10:00", "2024-03-01T10:00")


def test_publication_dates_keep_their_own_meaning():
    """An article dated only by day is noon that day (recency, date order),
    yet it belongs to that day for every filter and display."""
    assert parse_published("2024-03-01") == datetime(2024, 3, 1, 12, tzinfo=BEIJING)
    start, end = parse_range("2024-03-01", "2024-03-01")
    assert start <= parse_published("2024-03-01") < end


def test_display_helpers():
    for published, day, shown in BOUNDARY.values():
        assert local_date(published) == day and local_time(published) == shown
        assert local_iso(published)[:10] == day
    assert local_iso("2024-03-01T23:30:00Z") == "2024-03-02T07:30:00+08:00"
    assert local_date(None) == local_date("") == ""


# ---- every surface on one tiny index -------------------------------------------------
@pytest.fixture
def boundary_index(tiny_index):
    records = [{"id": doc_id, "title": f"{WORD}新闻 {doc_id}", "published": published,
                "body": f"沿海{WORD}今天投入运行，编号{i}。"}
               for i, (doc_id, (published, _, _)) in enumerate(BOUNDARY.items())]
    engine, summary, path = tiny_index(records)
    assert summary.added == len(BOUNDARY)
    from web import create_app

    app = create_app({"SEARCH_INDEX": path, "SEARCH_QUERY_LOG": "off", "SEARCH_ARTICLE_STORE": "off",
                      "SEARCH_RATE_LIMIT": "off", "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),),
                      "SEARCH_REFRESH_INTERVAL": 0.0})
    yield engine, path, app.test_client()
    holder_engine = app.extensions["search_engine"].get()
    holder_engine.wait_ready(60)  # background builds read the index: let them finish before it goes
    engine.wait_ready(60)


def cli_ids(path, *args):
    from contextlib import redirect_stdout

    from search.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["query", "--index", path, "--json", "--size", "50", *args, WORD]) == 0
    return {h["id"] for h in json.loads(out.getvalue())["hits"]}


def page_dates(html):
    """(article id, day shown) for every result on a results page."""
    return re.findall(r'<h3[^>]*><a href="/articles/([^"?]+)(?:\?[^"]*)?">.*?</h3>.*?<time datetime="([^"]*)">([^<]*)</time>',
                      html, re.S)


@pytest.mark.parametrize("day", DAYS)
def test_from_to_one_day_finds_that_days_articles_everywhere(boundary_index, day):
    engine, path, client = boundary_index
    want = expected_on(day)
    q = quote(WORD)
    api = client.get(f"/api/search?q={q}&from={day}&to={day}&group=0&size=50").get_json()
    assert {h["id"] for h in api["hits"]} == want and api["total"] == len(want)
    assert cli_ids(path, "--from", day, "--to", day) == want
    page = client.get(f"/search?q={q}&from={day}&to={day}&group=0").get_data(as_text=True)
    shown = page_dates(page)
    assert {doc_id for doc_id, _, _ in shown} == want
    assert all(text == day and iso[:10] == day for _, iso, text in shown)
    export = client.get(f"/api/export?q={q}&from={day}&to={day}&format=jsonl", headers=STAFF)
    rows = [json.loads(line) for line in export.data.decode("utf-8").splitlines()]
    assert {r["id"] for r in rows} == want and all(r["published"][:10] == day for r in rows)
    timeline = client.get(f"/api/timeline?q={q}&from={day}&to={day}&interval=day").get_json()
    assert [(b["start"], b["count"]) for b in timeline["buckets"] if b["count"]] == ([(day, len(want))] if want else [])


def test_each_article_is_shown_counted_and_exported_on_its_newsroom_day(boundary_index):
    engine, path, client = boundary_index
    q = quote(WORD)
    page = client.get(f"/search?q={q}&group=0").get_data(as_text=True)
    assert {doc_id: text for doc_id, _, text in page_dates(page)} == {k: v[1] for k, v in BOUNDARY.items()}
    lists = 0
    for doc_id, (published, day, shown) in BOUNDARY.items():
        article = client.get("/articles/" + doc_id).get_data(as_text=True)
        meta = re.search(r'<p class="meta"><time datetime="([^"]*)">([^<]*)</time>', article)
        assert meta.groups() == (local_iso(published), shown), doc_id
        assert re.search(rf'<li class="this" aria-current="true"><time datetime="[^"]*">{day}</time>', article) \
            or 'class="coverage"' not in article
        # Coverage and related lists show the other articles on their days too.
        for other, listed in re.findall(r'<time datetime="[^"]*">([^<]*)</time>[^<]*(?:<span[^>]*>[^<]*</span>)? '
                                        r'<a href="/articles/([^"]+)">', article):
            assert other == BOUNDARY[listed][1], (doc_id, listed)
            lists += 1
        for listed, other in re.findall(r'<a href="/articles/([^"?]+)(?:\?[^"]*)?"[^>]*>[^<]*</a> <span class="meta">([^<]*)</span>',
                                        article):
            assert other in (BOUNDARY[listed][1], BOUNDARY[listed][2]), (doc_id, listed)
            lists += 1
    assert lists >= 2 * len(BOUNDARY)  # the story and related lists were there to check
    home = client.get("/").get_data(as_text=True)
    listed = re.findall(r'<a href="/articles/([^"?]+)(?:\?[^"]*)?"[^>]*>[^<]*</a> <span class="meta">([^ <]*) ·', home)
    assert dict(listed) == {k: v[1] for k, v in BOUNDARY.items()}
    # The timeline's day buckets are the days shown.
    timeline = engine.timeline(SearchRequest(q=WORD), "day")
    assert {b["start"]: b["count"] for b in timeline["buckets"]} == {"2024-03-01": 2, "2024-03-02": 3}
    # The CSV export carries the same day (newsroom time).
    resp = client.get(f"/api/export?q={q}&format=csv", headers=STAFF)
    rows = list(csv.DictReader(io.StringIO(resp.data.decode("utf-8-sig"))))
    assert {r["id"]: r["published"] for r in rows} == {k: local_iso(v[0]) for k, v in BOUNDARY.items()}
    assert {r["id"]: r["published"][:10] for r in rows} == {k: v[1] for k, v in BOUNDARY.items()}


def test_date_times_and_ranges_over_the_boundary(boundary_index):
    _, path, client = boundary_index
    q = quote(WORD)

    def api(**bounds):
        args = "&".join(f"{k}={quote(v)}" for k, v in bounds.items())
        return {h["id"] for h in client.get(f"/api/search?q={q}&group=0&{args}").get_json()["hits"]}

    # An instant as given: 16:00Z is 00:00 Beijing, so from it on are the 2 March ones.
    assert api(**{"from": "2024-03-01T16:00:00Z"}) == expected_on("2024-03-02")
    assert api(**{"from": "2024-03-02T00:00"}) == expected_on("2024-03-02")  # naive: Beijing time
    assert api(to="2024-03-02T00:00:00+08:00") == expected_on("2024-03-01")  # exclusive
    assert api(**{"from": "2024-03-01", "to": "2024-03-02"}) == set(BOUNDARY)
    assert cli_ids(path, "--from", "2024-03-01T16:00:00Z") == expected_on("2024-03-02")
    assert cli_ids(path, "--to", "2024-03-01") == expected_on("2024-03-01")


@pytest.mark.parametrize("query,fragment", [
    ("from=2024-03-32", "'from'"),
    ("to=03/01/2024", "'to'"),
    ("from=2024-03-02&to=2024-03-01", "before"),
    ("from=9999-12-31&to=9999-12-31", "'from': '9999-12-31' is outside the plausible range of dates (1900-01-01 to"),
    ("to=9999-12-31", "'to': '9999-12-31' is outside the plausible range of dates (1900-01-01 to"),
    ("from=0001-01-01T00:00:00%2B14:00", "'from': '0001-01-01T00:00:00+14:00' is outside the plausible range"),
    ("from=1899-12-31", "'from': '1899-12-31' is outside the plausible range"),
    ("to=2999-01-01", "'to': '2999-01-01' is outside the plausible range"),
    ("range=week&from=2024-03-01", "'range'"),
])
def test_bad_dates_are_400_on_every_endpoint(boundary_index, query, fragment):
    _, path, client = boundary_index
    for endpoint in ("/api/search", "/api/timeline", "/api/export"):
        resp = client.get(f"{endpoint}?q=x&{query}", headers=STAFF)
        assert resp.status_code == 400 and fragment in resp.get_json()["error"], (endpoint, query)
    if "range" not in query:
        for endpoint in ("/api/queries", "/staff/queries"):
            assert client.get(f"{endpoint}?{query}", headers=STAFF).status_code == 400, endpoint
    assert client.get(f"/search?q=x&{query}").status_code == 400
    if "range" not in query:
        page = client.get(f"/advanced?all=x&{query}")
        assert page.status_code == 400 and fragment.replace("'", "&#39;") in page.get_data(as_text=True)


def test_bad_dates_are_exit_code_2_in_the_cli(boundary_index, capsys):
    from search.cli import main

    _, path, _ = boundary_index
    assert main(["query", "--index", path, "--from", "2024-02-30", WORD]) == 2
    assert "--from" in capsys.readouterr().err
    assert main(["query", "--index", path, "--from", "2024-03-02", "--to", "2024-03-01", WORD]) == 2
    assert "--from must be before --to" in capsys.readouterr().err


def test_staff_query_reports_count_whole_days(tmp_path):
    """A query logged at 23:30 UTC on 1 March belongs to 2 March in the newsroom."""
    from werkzeug.datastructures import MultiDict

    from search.querylog import QueryLog
    from web.params import query_period

    log = QueryLog(str(tmp_path / "q.sqlite"))
    at = datetime(2024, 3, 1, 23, 30, tzinfo=timezone.utc).timestamp()
    log.record("潮汐", 3, ts=at)
    since, until, _, _ = query_period(MultiDict({"from": "2024-03-02", "to": "2024-03-02"}))
    assert (since, until) == (datetime(2024, 3, 2, tzinfo=BEIJING).timestamp(),
                              datetime(2024, 3, 3, tzinfo=BEIJING).timestamp())
    assert [r["q"] for r in log.top(since, until, 10)] == ["潮汐"]
    since, until, _, _ = query_period(MultiDict({"from": "2024-03-01", "to": "2024-03-01"}))
    assert log.top(since, until, 10) == []


# ---- the 2,000-article sample: the CLI and the API agree with the records ----------
def _records_in_range(sample_records, text, start, end):
    """Brute force: records containing ``text`` (normalised as the engine
    does) whose publication instant lies in [start, end)."""
    from search.normalize import fold_case, normalize_query

    needle = fold_case(normalize_query(text))
    out = set()
    for r in sample_records:
        if not r.get("published"):
            continue
        when = parse_published(r["published"])
        if (start is None or start <= when) and (end is None or when < end) and \
                needle in fold_case(normalize_query(r["title"] + "\n" + r["body"])):
            out.add(r["id"])
    return out


def _day(text, plus=0):
    return datetime.fromisoformat(text).replace(tzinfo=BEIJING) + timedelta(days=plus)


@pytest.mark.parametrize("word,date_from,date_to,start,end", [
    ("消息", "2024-03-04", "2024-03-04", _day("2024-03-04"), _day("2024-03-04", 1)),
    ("香港", "2020-01-01", "2020-12-31", _day("2020-01-01"), _day("2020-12-31", 1)),
    ("疫苗", "2021-06-01", "2021-06-30", _day("2021-06-01"), _day("2021-06-30", 1)),
    ("会议", "2019-03-05", "2019-03-15", _day("2019-03-05"), _day("2019-03-15", 1)),
    ("政府", "2020-07-01T19:00", "2020-07-31T12:00:00+08:00", _day("2020-07-01T19:00"), _day("2020-07-31T12:00")),
    ("选举", None, "2017-12-31", None, _day("2017-12-31", 1)),
])
def test_cli_and_api_agree_with_the_records(client, sample_index, sample_records, word, date_from, date_to,
                                            start, end):
    expected = _records_in_range(sample_records, word, start, end)
    assert expected, "pick bounds with matches"
    args = [a for name, v in (("--from", date_from), ("--to", date_to)) if v for a in (name, v)]
    from contextlib import redirect_stdout

    from search.cli import main

    out = io.StringIO()
    with redirect_stdout(out):
        assert main(["query", "--index", sample_index, "--json", "--size", "2000", *args, f'"{word}"']) == 0
    cli = json.loads(out.getvalue())
    url = f"/api/search?q={quote(chr(34) + word + chr(34))}&group=0&size=100" + \
        "".join(f"&{k}={quote(v)}" for k, v in (("from", date_from), ("to", date_to)) if v)
    api = client.get(url).get_json()
    assert cli["total"] == api["total"] == len(expected)
    assert {h["id"] for h in cli["hits"]} == expected


def test_acknowledged_articles_with_implausible_dates_are_kept_undated_by_a_rebuild(tmp_path, capsys):
    """Articles the store acknowledged before dates were checked (here put
    into the store directly, as an earlier release's write API did) are
    never dropped: rebuilds from the store and from the index keep them,
    undated, with the date as written."""
    from conftest import write_jsonl
    from indexer import pipeline
    from indexer.article_store import ArticleStore
    from indexer.cli import main
    from search.engine import SearchEngine

    records = [{"id": "far-future", "title": WORD + " 远期", "published": "9999-12-31"},
               {"id": "dated", "title": WORD + " 正常", "published": "2024-03-01"}]
    store_path, from_store, from_index = (str(tmp_path / "articles.sqlite"), str(tmp_path / "ix1"),
                                          str(tmp_path / "ix2"))
    ArticleStore(store_path).put(records, already_indexed=True)
    # An index that holds such an article (as an earlier release wrote it).
    pipeline.build(from_index, [write_jsonl(tmp_path / "r.jsonl", records)], workers=1, progress=False,
                   acknowledged=True)
    for index, args in ((from_store, ["--store", store_path]), (from_index, [])):
        assert main(["rebuild", "--index", index, *args]) == 0, capsys.readouterr().err
        eng = SearchEngine.open(index, refresh_interval=0)
        timeline = eng.timeline(SearchRequest(q=WORD, facets=()), "auto")
        assert timeline["total"] == 2 and timeline["undated"] == 1, args
        assert eng.get("far-future")["published_text"] == "9999-12-31"


def test_the_write_api_refuses_an_implausible_date_by_name(sample_index, tmp_path):
    from web import create_app

    app = create_app({"SEARCH_INDEX": sample_index, "SEARCH_ARTICLE_STORE": str(tmp_path / "s.sqlite"),
                      "SEARCH_WRITE_TOKENS": (digest(STAFF_TOKEN),), "SEARCH_RATE_LIMIT": "off",
                      "SEARCH_QUERY_LOG": "off", "SEARCH_WRITE_WAIT": 0})
    client = app.test_client()
    for value in ("9999-12-31", "0001-01-01T00:00:00+14:00", "1899-12-31"):
        resp = client.put("/api/articles/implausible", headers=STAFF,
                          json={"title": WORD, "published": value})
        assert resp.status_code == 400, resp.get_data(as_text=True)
        assert f"implausible date in 'published': '{value}' is outside the plausible range" in \
            json.dumps(resp.get_json(), ensure_ascii=False)
