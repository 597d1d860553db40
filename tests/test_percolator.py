"""Percolation (issue 19, part 1): saved searches matched against each
committed batch, on both backends, with the real writer (``ChangeLoop``,
and ``python -m indexer writer`` processes), the real article store, the
real saved-search store and articles of the 2,000-article sample.

The oracle is the engine's own search: each saved search run as a normal
ungrouped search over the whole index, its full matches kept, filtered to
the batch's ids."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from conftest import drop_alias, need_cluster, ROOT, load_jsonl, SAMPLE

URL = os.environ.get("OPENSEARCH_URL")
BASE = 300  # sample articles indexed before the saved searches exist
BATCH = 100  # the batch of new articles


@dataclasses.dataclass
class World:
    backend: str
    index: str
    store_path: str
    saved_path: str
    articles: object
    writer: object
    saved: object
    alerting: object
    engine: object
    records: list
    pool: list  # sample records not indexed yet, handed out by take()

    def take(self, n):
        out, self.pool = self.pool[:n], self.pool[n:]
        return out

    def commit(self, records=(), deletes=(), now=None) -> int:
        """Write through the store, apply with the writer, percolate: the seq."""
        seq = 0
        if records:
            seq = self.articles.put(list(records))
        if deletes:
            seq = self.articles.delete(list(deletes))
        self.writer.drain()
        self.alerting.drain(now=now)
        return seq

    def rows(self, search_id):
        conn = self.saved._conn()
        return {r["article_id"]: dict(r) for r in conn.execute("SELECT * FROM alerts WHERE search_id = ?",
                                                                (search_id,))}

    def save(self, q=None, **params):
        if q is not None:
            params["q"] = q
        return self.saved.create("token:test", f"s-{uuid.uuid4().hex[:6]}", params)


@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def world(request, tmp_path_factory):
    backend = request.param
    if backend == "opensearch":
        need_cluster()
    from indexer.alerting import Alerting, search_config
    from indexer.article_store import ArticleStore
    from indexer.writer import IndexWriter
    from search.engine import SearchEngine
    from search.saved_searches import SavedSearchStore

    tmp = tmp_path_factory.mktemp(f"percolate-{backend}")
    index = str(tmp / "index") if backend == "whoosh" else "news-percolate-" + uuid.uuid4().hex[:8]
    records = load_jsonl(SAMPLE)
    articles = ArticleStore(str(tmp / "articles.sqlite"))
    articles.put(records[:BASE])
    writer = IndexWriter(index, articles, backend=backend, opensearch_url=URL, regroup_interval=0.0)
    writer.drain()
    engine = SearchEngine.open(index, backend=backend, opensearch_url=URL, refresh_interval=0)
    engine.wait_ready(60, suggestions=False)
    saved = SavedSearchStore(str(tmp / "saved.sqlite"))
    alerting = Alerting(articles, saved, lambda: engine, search_config())
    w = World(backend, index, articles.path, saved.path, articles, writer, saved, alerting, engine, records,
              records[BASE:])
    yield w
    alerting.stop()
    try:
        writer.close()
    except Exception:  # noqa: BLE001 - the restart test closed it already
        pass
    engine.pinyin.get(wait=60)
    if backend == "opensearch":
        drop_alias(index)


def oracle(w, search, batch_ids, now=None):
    """The saved search as a normal whole-index search: its full matches among the batch."""
    from datetime import datetime

    from indexer.alerting import request_reader
    from indexer.alerting import search_config
    from search.timeutil import NEWSROOM_TZ

    at = datetime.fromtimestamp(now if now is not None else time.time(), NEWSROOM_TZ)
    req = request_reader(search_config())(search.params, at)
    req = dataclasses.replace(req, size=5000, page=1, correct=False, group=False, facets=(), highlight=False)
    res = w.engine.search(req)
    return {h.id for h in res.hits if h.match["full"]} & set(batch_ids)


def querymix_params(step=10):
    with open(os.path.join(ROOT, "bench", "querymix.jsonl"), encoding="utf-8") as f:
        rows = [json.loads(line) for line in f]
    return [{k: [v] for k, v in r.items() if k != "kind"} for r in rows[::step]]


# ---- the oracle --------------------------------------------------------------
def test_percolation_equals_each_saved_search_run_over_the_batch(world):
    searches = [world.saved.create("token:test", f"mix-{i}", p) for i, p in enumerate(querymix_params())]
    searches.append(world.save("香港", category=["港聞"]))
    searches.append(world.save("疫情", range=["year"]))
    # Traditional script, a phrase as typed (the prefilter reads the normalised grams).
    searches += [world.save('"發展"'), world.save("國務院 總理"), world.save("香港", sort=["newest"])]
    batch = world.take(BATCH)
    seq = world.commit(batch)
    ids = [r["id"] for r in batch]
    matched_searches = 0
    total = 0
    for s in searches:
        expected = oracle(world, s, ids)
        rows = world.rows(s.id)
        assert {a for a, r in rows.items() if r["state"] in ("alert", "copy")} == expected, s.params
        assert all(r["commit_seq"] == seq for r in rows.values())
        matched_searches += bool(expected)
        total += len(expected)
    print(f"{matched_searches} of {len(searches)} saved searches matched {total} articles of the batch")
    assert matched_searches >= 15 and total >= 60, (matched_searches, total)
    # Another batch: only its articles are matched, the first batch's rows stay as they were,
    # and the plans compiled for the first batch are reused.
    before = {s.id: world.rows(s.id) for s in searches}
    compiled = world.alerting.percolator.compiled
    batch2 = world.take(10)
    world.commit(batch2)
    assert world.alerting.percolator.compiled == compiled
    ids2 = {r["id"] for r in batch2}
    for s in searches[:20]:
        rows = world.rows(s.id)
        assert {a: r for a, r in rows.items() if a not in ids2} == before[s.id]
        assert {a for a in rows if a in ids2} == oracle(world, s, ids2)


def test_full_matches_only_never_a_partial_match(world):
    """A two-word saved search never alerts on an article holding only one of the words,
    although the reader's search lists it (as a partial match)."""
    batch = world.take(BATCH)
    ids = {r["id"] for r in batch}
    world.writer.articles.put(batch)
    world.writer.drain()
    from search.models import SearchRequest

    found = None
    for word in ("特首", "选举", "疫苗", "立法会", "习近平", "经济", "台湾", "美国"):
        for other in ("马拉松", "熊猫", "芯片", "足球", "地震", "航天"):
            res = world.engine.search(SearchRequest(q=f"{word} {other}", size=1000, correct=False, facets=(),
                                                    highlight=False))
            partial = [h.id for h in res.hits if not h.match["full"] and h.id in ids]
            if res.relaxed and partial:
                found = (f"{word} {other}", partial, {h.id for h in res.hits if h.match["full"]} & ids)
                break
        if found:
            break
    assert found, "no two-word query with a partial match among the batch"
    q, partial, full = found
    s = world.save(q)
    # The batch was committed before the search existed: percolate it again by hand.
    from search.percolator import Percolator
    from indexer.alerting import request_reader, search_config

    Percolator(world.engine, world.saved, request_reader(search_config())).percolate(sorted(ids), [], 0)
    rows = world.rows(s.id)
    assert not set(partial) & set(rows)
    assert set(rows) == full
    world.alerting.drain()


def test_a_reader_search_keeps_full_matches_of_one_character_words(world):
    """Found by the oracle above: relaxing h型血 (three one-character words,
    none of which anchors a partial match) dropped its full matches on
    OpenSearch, so the reader's search and the alerts disagreed."""
    from search.models import SearchRequest

    # h as a word of its own, 型 and 血 only inside longer words (类型, 流血).
    record = {**world.take(1)[0]}
    record["id"] += "-blood"
    record["body"] = "H 股类型多，市场流血。\n" + record["body"]
    world.commit([record])
    res = world.engine.search(SearchRequest(q="h型血", size=1000, correct=False, facets=(), highlight=False))
    full = {h.id for h in res.hits if h.match["full"]}
    assert record["id"] in full and len(full) == res.total_full
    assert res.total_full < 10  # few: the search tried relaxing (``Plan.relax_below``)


# ---- near-duplicates --------------------------------------------------------------
def _copy(record, new_id, title=None):
    return {**record, "id": new_id, "title": title or ("（更新）" + record["title"])}


def _long_pair(w, n):
    """n pool records with long bodies (near-duplicate signatures need text), taken."""
    out = [r for r in w.pool if len(r.get("body") or "") > 400 and r.get("published")
           and re.search(r"[\u4e00-\u9fff]{6}", r["body"])][:n]
    w.pool = [r for r in w.pool if r not in out]
    return out


def _phrase(record):
    """Six Chinese characters from the body (no punctuation inside the phrase)."""
    body = record["body"]
    found = re.compile(r"[\u4e00-\u9fff]{6}").search(body, len(body) // 3) or re.search(r"[\u4e00-\u9fff]{6}", body)
    return found.group()


def test_a_later_copy_of_an_alerted_article_is_a_copy_not_a_new_alert(world):
    a, b = _long_pair(world, 2)
    sa = world.save(f'"{_phrase(a)}"')
    sb = world.save(f'"{_phrase(b)}"')
    world.commit([a])
    assert world.rows(sa.id)[a["id"]]["state"] == "alert"
    # A copy with a changed headline, in a later batch: a copy of a's group.
    copy_a = _copy(a, a["id"] + "-copy")
    # b and its copy in one batch: the earlier one alerts, the other is its copy.
    copy_b = {**_copy(b, b["id"] + "-copy"), "published": b["published"]}
    world.commit([copy_a, copy_b, b])
    rows = world.rows(sa.id)
    assert rows[copy_a["id"]]["state"] == "copy" and rows[copy_a["id"]]["group_key"] == a["id"]
    assert [r["state"] for r in rows.values()].count("alert") == 1
    rows_b = world.rows(sb.id)
    assert sorted(r["state"] for r in rows_b.values()) == ["alert", "copy"]
    assert {r["group_key"] for r in rows_b.values()} == {b["id"]}  # the earlier id first, at the same time
    # The feed lists one entry per group.
    assert [x.article_id for x in world.saved.feed(sa.id)] == [a["id"]]
    # Not a copy: the same words in an unrelated article (a different story) alert.
    other = {**world.take(1)[0], "id": a["id"] + "-other"}
    other["body"] = f"{_phrase(a)}。" + other["body"]
    world.commit([other])
    assert world.rows(sa.id)[other["id"]]["state"] == "alert"


def test_a_batch_stopped_after_its_rows_before_its_signatures_still_knows_its_copies(world):
    """The percolator stops right after recording a batch's rows (the writer
    killed, a failing write): run again, the batch finds its rows recorded,
    and a later copy of the alerted article is still a copy, not a new alert."""
    from indexer.alerting import Alerting, search_config

    world.alerting.drain()  # nothing of earlier tests left to percolate
    (a,) = _long_pair(world, 1)
    s = world.save(f'"{_phrase(a)}"')
    seq = world.articles.put([a])
    world.writer.drain()
    alerting = Alerting(world.articles, world.saved, lambda: world.engine, search_config())
    state = alerting.state
    real_record = alerting.saved.record
    calls = []

    def record_then_stop(*args, **kwargs):  # s's rows are written (committed), then the process "stops"
        real_record(*args, **kwargs)
        calls.append(args[0])
        if args[0] == s.id:
            raise KeyboardInterrupt("stopped after recording the rows")

    alerting.saved.record = record_then_stop  # an instance attribute of this store object only
    try:
        with pytest.raises(KeyboardInterrupt):
            alerting.step()
    finally:
        del alerting.saved.record
    assert calls[-1] == s.id and world.rows(s.id)[a["id"]]["state"] == "alert"
    assert (state.percolated() or 0) < seq  # the batch is run again
    alerting.drain()
    assert world.rows(s.id)[a["id"]]["commit_seq"] == seq  # recorded once
    copy_a = _copy(a, a["id"] + "-later-copy")
    world.commit([copy_a])
    row = world.rows(s.id)[copy_a["id"]]
    assert row["state"] == "copy" and row["group_key"] == a["id"]


# ---- updates and deletes ------------------------------------------------------------
def test_an_update_alerts_again_only_when_it_newly_matches(world):
    (a,) = _long_pair(world, 1)
    s = world.save(f'"{_phrase(a)}"')
    world.commit([a])
    first = world.rows(s.id)[a["id"]]
    assert first["state"] == "alert"
    # Updated and still matching: nothing new.
    world.commit([{**a, "category": "更新"}])
    assert world.rows(s.id)[a["id"]] == first
    # Updated and no longer matching: ended (out of the feed).
    gone = {**a, "body": a["body"].replace(_phrase(a), "")}
    world.commit([gone])
    assert world.rows(s.id)[a["id"]]["state"] == "ended"
    assert a["id"] not in [x.article_id for x in world.saved.feed(s.id)]
    # Matching again: a new alert.
    seq = world.commit([a])
    again = world.rows(s.id)[a["id"]]
    assert again["state"] == "alert" and again["commit_seq"] == seq and again["matched_at"] > first["matched_at"]


def test_a_deleted_article_leaves_the_feeds_at_its_commit(world):
    (a,) = _long_pair(world, 1)
    s = world.save(f'"{_phrase(a)}"')
    world.commit([a])
    assert [x.article_id for x in world.saved.feed(s.id)] == [a["id"]]
    world.commit(deletes=[a["id"]])
    assert world.rows(s.id)[a["id"]]["withdrawn_at"] is not None
    assert world.saved.feed(s.id) == []


def test_relative_periods_are_evaluated_at_matching_time(world):
    from search.timeutil import parse_published

    (a,) = _long_pair(world, 1)
    published = parse_published(a["published"]).timestamp()
    week = world.save(f'"{_phrase(a)}"', range=["week"])
    day = world.save(f'"{_phrase(a)}"', range=["day"])
    plain = world.save(f'"{_phrase(a)}"')
    now = published + 3 * 86400  # three days after publication
    world.commit([a], now=now)
    assert a["id"] in world.rows(week.id)
    assert a["id"] not in world.rows(day.id)
    assert a["id"] in world.rows(plain.id)
    assert oracle(world, week, [a["id"]], now) == {a["id"]} and oracle(world, day, [a["id"]], now) == set()


# ---- the writer is never held up -------------------------------------------------------
def hold_lock(path):
    """A write transaction held on the saved-search file: recording alerts cannot finish."""
    conn = sqlite3.connect(path, timeout=10, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    return conn


def test_a_stalled_percolation_never_delays_the_writer(world):
    (a,) = _long_pair(world, 1)
    s = world.save(f'"{_phrase(a)}"')
    world.alerting.start()
    try:
        lock = hold_lock(world.saved_path)
        try:
            seq = world.articles.put([a])
            assert world.writer.step() == 1  # committed and acknowledged ...
            assert world.articles.applied() >= seq
            world.engine.backend.refresh(force=True)
            assert world.engine.get(a["id"]) is not None
            assert world.alerting.state.percolated() < seq  # ... while matching is stuck
            assert a["id"] not in world.rows(s.id)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert world.alerting.wait_percolated(seq, timeout=30)
        assert world.rows(s.id)[a["id"]]["state"] == "alert"
    finally:
        world.alerting.stop()


def test_a_failing_batch_is_retried_and_the_writer_goes_on(world):
    """Recording fails (the saved-search file locked past its timeout): the
    failure is counted, the batch stays unpercolated and is retried; the
    writer commits meanwhile."""
    from indexer.alerting import Alerting, RETRY_MIN, search_config
    from search.saved_searches import SavedSearchStore

    (a,) = _long_pair(world, 1)
    s = world.save(f'"{_phrase(a)}"')
    impatient = Alerting(world.articles, SavedSearchStore(world.saved_path, busy_timeout=0.05),
                         lambda: world.engine, search_config()).start()
    try:
        lock = hold_lock(world.saved_path)
        try:
            seq = world.articles.put([a])
            assert world.writer.step() == 1
            _wait(lambda: impatient.failures >= 1, timeout=30)
            assert "locked" in impatient.last_error and impatient.state.percolated() < seq
        finally:
            lock.execute("ROLLBACK")
            lock.close()
        assert impatient.wait_percolated(seq, timeout=30 + RETRY_MIN)
        assert world.rows(s.id)[a["id"]]["state"] == "alert"
    finally:
        impatient.stop()


def test_a_saved_search_that_no_longer_reads_is_reported_and_the_others_still_alert(world):
    from indexer.alerting import request_reader, search_config
    from search.percolator import Percolator

    (a,) = _long_pair(world, 1)
    good = world.save(f'"{_phrase(a)}"')
    bad = world.save(f'"{_phrase(a)}"', sort=["relevancy"])  # not a sort the pages know
    seq = world.articles.put([a])
    world.writer.drain()
    report = Percolator(world.engine, world.saved, request_reader(search_config())).percolate([a["id"]], [], seq)
    assert "sort" in report.errors[bad.id] and good.id not in report.errors
    assert a["id"] in world.rows(good.id) and world.rows(bad.id) == {}
    world.alerting.drain()


def test_a_saved_search_the_backend_refuses_is_reported_and_the_others_still_alert(world, monkeypatch):
    """One saved search fails in the backend (OpenSearch: atleast21:, past its
    atleastN limit; Whoosh: a one-character word in a proximity operator over
    its limit of stored texts to check, lowered here to 0): it is reported,
    the batch is percolated once, and the good search beside it alerts."""
    from search.backends.whoosh import textchecks

    (a,) = _long_pair(world, 1)
    phrase = _phrase(a)
    good = world.save(f'"{phrase}"')
    if world.backend == "opensearch":
        bad = world.save(f"atleast21:{phrase[:2]}")
        expected = "atleastN"
    else:
        monkeypatch.setattr(textchecks, "MAX_TEXT_CHECKS", 0)
        bad = world.save(f"{phrase[0]} w/5 {phrase[3]}")  # one-character words: checked in the stored text
        expected = "one-character"
    seq = world.commit([a])
    assert world.alerting.state.percolated() == seq  # not retried forever
    assert world.rows(good.id)[a["id"]]["state"] == "alert"
    assert world.rows(bad.id) == {}
    from indexer.alerting import request_reader, search_config
    from search.percolator import Percolator

    report = Percolator(world.engine, world.saved, request_reader(search_config())).percolate([a["id"]], [], seq)
    assert expected in report.errors[bad.id] and good.id not in report.errors


# ---- a writer killed between commit and percolation ----------------------------------------
def _writer_process(w, env):
    cmd = [sys.executable, "-m", "indexer", "writer", "--index", w.index, "--store", w.store_path,
           "--backend", w.backend]
    if w.backend == "opensearch":
        cmd += ["--opensearch-url", URL]
    log = open(os.path.join(os.path.dirname(w.saved_path), "writer.log"), "ab")
    try:
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log)
    finally:
        log.close()


def _log(w):
    with open(os.path.join(os.path.dirname(w.saved_path), "writer.log"), encoding="utf-8", errors="replace") as f:
        return f.read()[-3000:]


def _wait(predicate, timeout=60):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_a_batch_committed_but_not_percolated_is_percolated_after_a_restart_once(world):
    from search.saved_searches import PercolationState, SavedSearchStore

    world.writer.close()  # the writer process owns the index from here on
    env = {k: v for k, v in os.environ.items() if k != "SEARCH_USERDICT"}  # the dictionary the index was cut with
    env.update(PYTHONPATH=ROOT, SEARCH_SAVED_SEARCHES=world.saved_path)
    a, warmup = _long_pair(world, 2)
    s = world.save(f'"{_phrase(a)}"')
    world.saved.set_webhook(s.id, "token:test", "https://alerts.example.com/hook")
    state = PercolationState(SavedSearchStore(world.saved_path))
    proc = _writer_process(world, env)
    try:
        seq0 = world.articles.put([{**warmup, "id": warmup["id"] + "-warm"}])
        _wait(lambda: (state.percolated() or 0) >= seq0)  # writer and its percolator are running
        lock = hold_lock(world.saved_path)
        try:
            seq = world.articles.put([a])
            assert world.articles.wait_applied(seq, 60)
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
        finally:
            lock.execute("ROLLBACK")
            lock.close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    assert state.percolated() < seq and a["id"] not in world.rows(s.id)
    proc = _writer_process(world, env)
    try:
        _wait(lambda: (state.percolated() or 0) >= seq)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, _log(world)
    row = world.rows(s.id)[a["id"]]
    assert row["state"] == "alert" and row["commit_seq"] == seq
    deliveries = world.saved.deliveries([s.id])
    assert len(deliveries) == 1
    from indexer.records import to_article
    from search.timeutil import local_iso

    indexed = to_article(a)  # the title as cleaned and indexed
    assert deliveries[0].payload == {"saved_search": {"id": s.id, "name": s.name}, "commit": seq, "articles": [
        {"id": a["id"], "title": indexed.title, "published": local_iso(a["published"]), "url": a.get("url")}]}
    # Percolating the batch again (a crash after recording, before the progress was saved) doubles nothing.
    state.set_percolated(seq0)
    world.alerting.drain()
    assert world.rows(s.id)[a["id"]] == row
    assert len(world.saved.deliveries([s.id])) == 1



def test_an_unreadable_saved_search_file_never_stops_the_writer_and_alerts_resume_when_fixed(world):
    """The writer process with a corrupt saved-search file: it starts and
    applies writes (alerting retries in its thread and says why in the
    article store's ``alerting_error``, what /healthz shows); once the file
    is replaced by a good one, the changes committed meanwhile alert."""
    from search.saved_searches import SavedSearchStore

    try:
        world.writer.close()  # the writer process owns the index from here on
    except Exception:  # noqa: BLE001 - closed already by the restart test
        pass
    folder = os.path.dirname(world.saved_path)
    broken = os.path.join(folder, "broken-saved.sqlite")
    with open(broken, "wb") as f:
        f.write(b"this is not a SQLite database\n" * 200)
    good_path = os.path.join(folder, "good-saved.sqlite")
    (a,) = _long_pair(world, 1)
    good = SavedSearchStore(good_path)
    s = good.create("token:test", "s-good", {"q": [f'"{_phrase(a)}"']})
    good.close()
    env = {k: v for k, v in os.environ.items() if k != "SEARCH_USERDICT"}
    env.update(PYTHONPATH=ROOT, SEARCH_SAVED_SEARCHES=broken)
    proc = _writer_process(world, env)
    try:
        _wait(lambda: "not a database" in (world.articles.meta("alerting_error") or ""), timeout=60)
        seq = world.articles.put([a])
        assert world.articles.wait_applied(seq, 60), _log(world)  # the writer applies writes
        assert proc.poll() is None, _log(world)
        os.replace(good_path, broken)  # the file fixed
        _wait(lambda: a["id"] in {r.article_id for r in SavedSearchStore(broken).feed(s.id)}, timeout=90)
        _wait(lambda: not world.articles.meta("alerting_error"), timeout=30)
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, _log(world)


# ---- withdrawal does not wait for matching (through gunicorn and its writer) ----------------
@pytest.fixture(scope="module", params=["whoosh", "opensearch"])
def site(request, tmp_path_factory, sample_records):
    """gunicorn with its writer (and so its alerting threads) on a 20-article
    index of each backend: (server, the saved-search store shared with the test)."""
    from conftest import Server, STAFF_TOKEN, digest, write_jsonl
    from indexer import pipeline
    from search.saved_searches import SavedSearchStore

    backend = request.param
    if backend == "opensearch":
        need_cluster()
    folder = tmp_path_factory.mktemp(f"withdraw-{backend}")
    index = str(folder / "index") if backend == "whoosh" else "withdraw19-" + uuid.uuid4().hex[:8]
    pipeline.build(index, [write_jsonl(folder / "in.jsonl", sample_records[:20])], workers=1, progress=False,
                   backend=backend, opensearch_url=URL, replicas=0)
    saved = str(folder / "saved.sqlite")
    env = {"SEARCH_BACKEND": backend, "SEARCH_ARTICLE_STORE": str(folder / "articles.sqlite"),
           "SEARCH_SAVED_SEARCHES": saved, "SEARCH_WRITE_TOKENS": digest(STAFF_TOKEN)}
    if URL:
        env["OPENSEARCH_URL"] = URL
    srv = Server(index, workers=1, extra_env=env)
    try:
        assert srv.wait_for_writer()
        yield srv, SavedSearchStore(saved)
    finally:
        srv.stop()
        if backend == "opensearch":
            drop_alias(index)


def test_a_deleted_article_leaves_the_feed_at_its_commit_while_matching_is_stalled(site):
    """Matching stalled (the saved-search file locked): a deletion through the
    write API still takes the article out of the Atom feed; once the file is
    free the alert is withdrawn in the store too."""
    import feedparser

    from conftest import STAFF, call, call_json

    srv, store = site
    status, made = call_json(f"{srv.url}/api/saved-searches", "POST",
                             json.dumps({"name": "盐湖", "params": {"q": "察尔汗盐湖"}}, ensure_ascii=False),
                             {**STAFF, "Content-Type": "application/json"})
    assert status == 201, made
    sid, doc_id = made["id"], f"withdraw-{uuid.uuid4().hex[:6]}"
    record = {"id": doc_id, "title": "察尔汗盐湖迎来观光旺季", "body": "察尔汗盐湖本周游客数量创下新高。",
              "published": "2026-11-30T08:00:00+08:00"}
    status, answer = call_json(f"{srv.url}/api/articles/{doc_id}", "PUT", json.dumps(record, ensure_ascii=False),
                               {**STAFF, "Content-Type": "application/json"})
    assert status in (200, 201), answer
    _wait(lambda: [a.article_id for a in store.feed(sid)] == [doc_id], timeout=30)

    def entries():
        status, body = call(f"{srv.url}/feeds/saved/{sid}.atom?token={store.get(sid).feed_token}")
        assert status == 200
        return [e.link.rsplit("/", 1)[-1] for e in feedparser.parse(body).entries]

    assert entries() == [doc_id]
    lock = hold_lock(store.path)  # neither matching nor withdrawing can write now
    try:
        status, answer = call_json(f"{srv.url}/api/articles/{doc_id}", "DELETE", None, STAFF)
        assert status == 200, answer
        _wait(lambda: call_json(f"{srv.url}/api/articles/{doc_id}")[0] == 404, timeout=30)  # committed
        assert entries() == []  # out of the feed at its commit ...
        assert [a.article_id for a in store.feed(sid)] == [doc_id]  # ... while the store could not be written
    finally:
        lock.execute("ROLLBACK")
        lock.close()
    _wait(lambda: store.feed(sid) == [], timeout=60)  # withdrawn once the file is free
    assert entries() == []
