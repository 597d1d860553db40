"""The indexer: inputs, bad records, updates, deletes, interruption."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, SAMPLE, write_jsonl
from search.models import SearchRequest


def good(i, **kw):
    rec = {"id": f"t-{i}", "title": f"测试新闻标题{i}", "body": f"第{i}篇正文。香港立法會今日開會。",
           "published": "2024-03-0%dT10:00:00+08:00" % (1 + i % 9), "category": "测试", "source": "本站",
           "author": "记者甲", "url": f"https://example.com/{i}", "tags": ["测试"]}
    rec.update(kw)
    return rec


def test_bad_records_are_reported_with_location_and_skipped(tiny_index):
    messages = []
    records = [
        good(1),
        "{not json",
        {"title": "没有编号"},
        good(2, title=""),
        good(3, published="下周二"),
        good(4, tags="不是列表"),
        good(5, body=12345),
        "[1, 2]",
        good(6),
        {**good(7), "publishd": "2024-03-01"},  # a misspelt field: its value would be lost
        {**good(8), "Author": "王五"},
        {**good(9), "title": ["不是文字"]},
        {**good(10), "categories": ["时政"], "origin_file": "x.json"},  # a feed's own fields: not near any
    ]
    engine, summary, _ = tiny_index(records, report=messages.append)
    assert (summary.added, summary.skipped) == (3, 10)
    text = "\n".join(messages)
    for lineno, fragment in [(2, "invalid JSON"), (3, "'id'"), (4, "'title'"), (5, "unparsable date"),
                             (6, "'tags'"), (7, "'body'"), (8, "JSON object"),
                             (10, "unknown field 'publishd' (did you mean 'published'?)"),
                             (11, "unknown field 'Author' (did you mean 'author'?)"),
                             (12, "'title' must be a string")]:
        assert f"in.jsonl:{lineno}: skipped" in text and fragment in text, (lineno, text)
    assert {h.id for h in engine.search(SearchRequest(q="立法會", size=10)).hits} == {"t-1", "t-6", "t-10"}


def test_every_bad_field_is_listed():
    from indexer.records import RecordError, to_article

    with pytest.raises(RecordError) as err:
        to_article({"id": "", "title": 3, "published": "yesterday", "tags": [1]})
    msg = str(err.value)
    assert "'id'" in msg and "'title'" in msg and "published" in msg and "'tags'" in msg


def test_reindexing_is_idempotent_and_updates_replace(tmp_path):
    from indexer import pipeline
    from search.engine import SearchEngine

    path = str(tmp_path / "ix")
    src = write_jsonl(tmp_path / "a.jsonl", [good(i) for i in range(10)])
    s1 = pipeline.build(path, [src], workers=1, progress=False)
    assert s1.added == 10
    s2 = pipeline.build(path, [src], workers=1, progress=False)
    assert (s2.added, s2.updated, s2.unchanged) == (0, 0, 10)
    changed = write_jsonl(tmp_path / "b.jsonl", [good(3, title="更正后的标题：台风来袭")])
    s3 = pipeline.build(path, [changed], workers=1, progress=False)
    assert (s3.added, s3.updated) == (0, 1)
    engine = SearchEngine.open(path, refresh_interval=0)
    assert engine.stats().documents == 10
    hits = engine.search(SearchRequest(q="台风")).hits
    assert [h.id for h in hits] == ["t-3"]
    assert engine.search(SearchRequest(q="测试新闻标题3")).total == 0 or \
        all(h.id != "t-3" for h in engine.search(SearchRequest(q='"测试新闻标题3"')).hits)
    n, missing = pipeline.delete(path, ["t-3", "nope"])
    assert (n, missing) == (1, ["nope"])
    engine.backend.refresh(force=True)
    assert engine.stats().documents == 9
    assert engine.search(SearchRequest(q="台风")).total == 0
    assert engine.get("t-3") is None


def test_duplicate_ids_in_one_file_last_wins(tiny_index):
    engine, summary, _ = tiny_index([good(1, title="旧标题"), good(1, title="新标题")])
    assert summary.added == 1
    assert engine.get("t-1")["title"] == "新标题"


def test_csv_input(tmp_path):
    from indexer import pipeline
    from search.engine import SearchEngine

    src = tmp_path / "news.csv"
    src.write_text(
        "id,title,body,published,category,source,author,url,tags\n"
        "c1,港珠澳大桥通车,大桥今日正式通车。,2018-10-24,交通,本站,记者乙,https://e.com/c1,大桥|交通\n"
        'c2,"标题, 带逗号","第一段\n第二段",,,,,,\n'
        "c3,,没有标题,,,,,,\n",
        encoding="utf-8",
    )
    messages = []
    summary = pipeline.build(str(tmp_path / "ix"), [str(src)], workers=1, progress=False, report=messages.append)
    assert (summary.added, summary.skipped) == (2, 1)
    assert any("news.csv:5" in m for m in messages), messages
    engine = SearchEngine.open(str(tmp_path / "ix"), refresh_interval=0)
    doc = engine.get("c1")
    assert doc["tags"] == ["大桥", "交通"] and doc["published_text"] == "2018-10-24"
    assert engine.get("c2")["body"] == "第一段\n第二段"


def test_text_cleaning():
    from indexer.clean import clean_text

    assert clean_text("  第一段\u3000\u3000内容\x00\x07\r\n\r\n\n第二段 \t 结束  ") == "第一段 内容\n第二段 结束"


def test_cli_build_stats_delete(tmp_path):
    env = dict(os.environ, PYTHONPATH=ROOT)
    ix = str(tmp_path / "ix")
    src = write_jsonl(tmp_path / "a.jsonl", [good(i) for i in range(5)])
    out = subprocess.run([sys.executable, "-m", "indexer", "build", "--index", ix, src], env=env,
                         capture_output=True, text=True, check=True)
    assert "added 5" in out.stderr
    stats = subprocess.run([sys.executable, "-m", "indexer", "stats", "--index", ix, "--json"], env=env,
                           capture_output=True, text=True, check=True)
    assert json.loads(stats.stdout)["documents"] == 5
    bad = subprocess.run([sys.executable, "-m", "indexer", "build", "--index", ix, str(tmp_path / "x.txt")],
                         env=env, capture_output=True, text=True)
    assert bad.returncode == 2 and "unsupported file type" in bad.stderr
    d = subprocess.run([sys.executable, "-m", "indexer", "delete", "--index", ix, "t-1"], env=env,
                       capture_output=True, text=True, check=True)
    assert "deleted 1" in d.stderr


def test_kill_during_indexing_leaves_a_readable_index(tmp_path):
    """kill -9 at several random points of a run: every time the index opens,
    search works and every committed batch is there; re-running completes
    with exactly the expected count."""
    import random

    from search.engine import SearchEngine

    env = dict(os.environ, PYTHONPATH=ROOT)
    ix = str(tmp_path / "ix")
    cmd = [sys.executable, "-m", "indexer", "build", "--no-progress", "--batch-size", "200",
           "--workers", "2", "--index", ix, SAMPLE]
    rng = random.Random(7)
    counts = []
    for attempt in range(4):
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        # Wait until the run is under way (its first commit, after any
        # previous attempt's), then kill it a random moment later.
        deadline = time.time() + 120
        while time.time() < deadline and proc.poll() is None:
            tocs = [f for f in os.listdir(ix) if f.endswith(".toc")] if os.path.isdir(ix) else []
            if tocs and max(int(f.split("_")[-1].split(".")[0]) for f in tocs) > len(counts) + 1:
                break
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        if proc.poll() is not None:
            break  # finished before the kill: nothing left to interrupt
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        engine = SearchEngine.open(ix, refresh_interval=0, synonyms_path=None, blocklist_path=None)
        count = engine.stats().documents
        assert 0 < count <= 2000 and (count % 200 == 0 or count == 2000), count
        assert engine.search(SearchRequest(q="香港")).total > 0
        assert not counts or count >= counts[-1]  # nothing committed is ever lost
        counts.append(count)
    assert len(counts) >= 2, counts  # really interrupted more than once
    print(f"\nkill -9 {len(counts)} times; committed documents after each: {counts}")
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    engine = SearchEngine.open(ix, refresh_interval=0, synonyms_path=None, blocklist_path=None)
    assert engine.stats().documents == 2000


def test_stock_whoosh_reads_our_segments(sample_index, sample_records):
    """Segments written in bulk are ordinary Whoosh segments."""
    from whoosh import index as whoosh_index
    from whoosh.query import Phrase, Term

    ix = whoosh_index.open_dir(sample_index, indexname="MAIN")
    with ix.searcher() as s:
        assert s.doc_count() == 2000
        expected = {r["id"] for r in sample_records if "立法会" in r["title"] + r["body"]}
        got = {hit["id"] for hit in s.search(Term("body_w", "立法会"), limit=None)} | \
              {hit["id"] for hit in s.search(Term("title_w", "立法会"), limit=None)}
        assert expected <= got
        phrase = {hit["id"] for hit in s.search(Phrase("body_g", ["香港", "港特", "特别", "别行", "行政", "政区"]), limit=None)}
        assert phrase == {r["id"] for r in sample_records if "香港特别行政区" in r["body"]} | \
            {r["id"] for r in sample_records if "香港特別行政區" in r["body"]}


def test_full_rebuild_switches_atomically_while_serving(tmp_path):
    """A reader keeps answering from the old build during a rebuild and
    picks up the new directory afterwards."""
    from indexer import pipeline
    from search.engine import SearchEngine

    ix = str(tmp_path / "live")
    first = write_jsonl(tmp_path / "a.jsonl", [good(i) for i in range(5)])
    pipeline.rebuild(ix, [first], workers=1, progress=False)
    assert os.path.islink(ix)
    engine = SearchEngine.open(ix, refresh_interval=0)
    old_dir = engine.stats().directory
    assert engine.stats().documents == 5
    second = write_jsonl(tmp_path / "b.jsonl", [good(i, title=f"重建后的标题{i}") for i in range(3)])
    pipeline.rebuild(ix, [second], workers=1, progress=False)
    stats = engine.stats()
    assert stats.directory != old_dir and stats.documents == 3
    assert engine.search(SearchRequest(q="重建")).total == 3
    # The old build stays on disk for readers that still have it open.
    assert os.path.isdir(old_dir)
    pipeline.rebuild(ix, [first], workers=1, progress=False)
    assert not os.path.isdir(old_dir)  # only the previous build is kept


def test_build_workers_die_with_their_parent(tmp_path):
    """kill -9 of the indexing process alone (a CLI build, or the writer
    rebuilding): its worker processes die with it instead of living on,
    holding the store and the new index's lock."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    cmd = [sys.executable, "-m", "indexer", "build", "--no-progress", "--batch-size", "200",
           "--workers", "2", "--index", str(tmp_path / "ix"), SAMPLE]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)

    def children():
        try:
            with open(f"/proc/{proc.pid}/task/{proc.pid}/children") as f:
                return [int(p) for p in f.read().split()]
        except OSError:
            return []

    deadline = time.time() + 60
    while time.time() < deadline and len(children()) < 2 and proc.poll() is None:
        time.sleep(0.05)
    workers = children()
    assert len(workers) >= 2 and proc.poll() is None, workers
    os.kill(proc.pid, signal.SIGKILL)  # the parent only, not its process group
    proc.wait()

    def alive(pid):
        try:
            with open(f"/proc/{pid}/stat") as f:
                return f.read().split(") ")[1][0] != "Z"
        except OSError:
            return False

    deadline = time.time() + 10
    while time.time() < deadline and any(alive(p) for p in workers):
        time.sleep(0.05)
    left = [p for p in workers if alive(p)]
    for p in left:
        os.kill(p, signal.SIGKILL)
    assert not left, f"worker processes outlived their parent: {left}"


def test_tags_are_kept_once_as_facets_count_them():
    from indexer.records import to_article

    a = to_article({"id": "tg-1", "title": "标签", "tags": ["", "  ", "a", "a", "A", "香港", "香港 ", "选举", "選舉"]})
    assert a.tags == ["a", "香港", "选举"]  # case, spaces and script folded as facet values are; the first form kept
