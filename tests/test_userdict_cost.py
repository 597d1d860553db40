"""What the user dictionary costs per query and per writer step, and how
its file's changes are seen (issue 16, review of the dictionary reload).

Costs are counted, not timed: with a 5,000-word dictionary, the pending
words (``search.pending_words``) are computed once per (index state,
dictionary version), the dictionary's words are normalised once per load,
and an idle writer reads nothing.  Spies wrap the real functions (they
count calls and call through); everything else is real: the index, the
SQLite article store, the writer, the files."""

import os
import random
import threading
import time

import pytest

from conftest import write_jsonl

N_WORDS = 5000


def _words(n=N_WORDS, seed=16):
    """``n`` distinct dictionary words: four CJK characters and a Latin
    capital (so normalisation changes them: 测试字词K -> 测试字词k)."""
    rng = random.Random(seed)
    out = set()
    while len(out) < n:
        out.add("".join(chr(0x4E00 + rng.randrange(20000)) for _ in range(4)) + "K")
    return sorted(out)


def _write_dict(path, words):
    path.write_text("".join(f"{w} 10 nz\n" for w in words), encoding="utf-8")


class Spy:
    """Counts the calls of ``module.name`` and calls the real function."""

    def __init__(self, monkeypatch, module, name):
        self.calls = 0
        real = getattr(module, name)

        def counted(*args, **kwargs):
            self.calls += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, counted)


@pytest.fixture(scope="module")
def big_dict_index(tmp_path_factory, sample_records):
    """A 20-article index cut with a 5,000-word user dictionary; (index dir, words, tmp dir)."""
    from indexer import pipeline

    tmp = tmp_path_factory.mktemp("udict-cost")
    words = _words()
    userdict = tmp / "base.txt"
    _write_dict(userdict, words)
    index = str(tmp / "ix")
    pipeline.build(index, [write_jsonl(tmp / "a.jsonl", sample_records[:20])], userdict=str(userdict), workers=1,
                   progress=False)
    return index, words, tmp


def test_pending_words_are_computed_once_per_dictionary_version(big_dict_index, sample_records, monkeypatch,
                                                                tmp_path):
    """Thirty requests of every kind (new queries, cache hits, a spelling
    correction's second search, article highlights, timelines), with the
    store's state handed back as the same object or as an equal new one
    (the web re-reads it every 0.5 s): the pending words are computed
    once, and the dictionary's 5,000 words are not normalised again.  A
    saved dictionary (one word added) is loaded once and the pending
    words computed once more: they are then that word and the index's
    words this worker lacks."""
    from search import pending_words, segmenter
    from search.engine import SearchEngine
    from search.models import SearchRequest
    from search.normalize import normalize_query

    index, words, _ = big_dict_index
    userdict = tmp_path / "userdict.txt"
    _write_dict(userdict, words[10:])  # this worker lacks 10 of the index's words
    engine = SearchEngine.open(index, userdict_path=str(userdict), refresh_interval=0)
    assert engine.wait_ready(120, suggestions=False)  # the lexicon: corrections run
    seg = engine.analyzer.segmenter
    stored = tuple(normalize_query(w) for w in words)  # as the writer records it: normalised
    calls = {"n": 0}

    def index_userdict():
        calls["n"] += 1
        # every other call an equal, new object: what the web returns after its TTL
        return (stored, (), None) if calls["n"] % 2 else (tuple(stored), (), None)

    engine.index_userdict = index_userdict
    pending = Spy(monkeypatch, pending_words, "pending")
    normalised = Spy(monkeypatch, segmenter, "normalize_query")
    loads = seg.loads
    titles = [r["title"][:6] for r in sample_records[:8]]
    for i in range(30):
        kind = i % 5
        if kind == 0:
            engine.search(SearchRequest(q=titles[i % 8], facets=(), correct=False))
        elif kind == 1:
            engine.search(SearchRequest(q=titles[0], facets=(), correct=False))  # a cache hit
        elif kind == 2:
            engine.search(SearchRequest(q="习近凭 " + str(i), facets=()))  # with the correction
        elif kind == 3:
            assert engine.highlight_terms(titles[i % 8])
        else:
            engine.timeline(SearchRequest(q=titles[i % 8], facets=()))
    assert pending.calls == 1
    assert normalised.calls == 0 and seg.loads == loads
    expected = frozenset(normalize_query(w) for w in words[:10])
    assert engine.pending_words() == expected and pending.calls == 1

    added = "新增词语Q"
    _write_dict(userdict, words[10:] + [added])
    for i in range(10):
        engine.search(SearchRequest(q=titles[i % 8] + " x", facets=(), correct=False))
    assert seg.loads == loads + 1 and pending.calls == 2
    assert normalised.calls >= N_WORDS  # the one load normalised them (and jieba's cased words)
    assert engine.pending_words() == expected | {"新增词语q"}
    assert pending.calls == 2


def test_an_idle_writer_reads_nothing_until_the_dictionary_changes(tmp_path, sample_records, monkeypatch):
    """The writer's step after each idle poll: with a settled 5,000-word
    dictionary it neither reads the store's state nor lists the words; a
    saved dictionary (one word added) is taken up (the article holding
    the word re-indexed: done 1 of 1), after which it is idle again."""
    from indexer import userdict_reindex
    from indexer.article_store import ArticleStore
    from indexer.userdict_reindex import progress, read_state
    from indexer.writer import IndexWriter

    words = _words()
    userdict = tmp_path / "userdict.txt"
    _write_dict(userdict, words)
    store = ArticleStore(str(tmp_path / "articles.sqlite"))
    store.put([dict(r, id=f"a{i}") for i, r in enumerate(sample_records[:5])]
              + [{"id": "tv", "title": "爱看4K客户端上线", "body": "新版客户端今天上线。", "published": "2024-05-01"}])
    writer = IndexWriter(str(tmp_path / "ix"), store, userdict=str(userdict))
    try:
        writer.drain()
        assert writer.step() == 0  # settles: the state recorded once
        reads = Spy(monkeypatch, userdict_reindex, "read_state")
        listed = Spy(monkeypatch, userdict_reindex, "_words")
        for _ in range(50):
            assert writer.step() == 0
        assert (reads.calls, listed.calls) == (0, 0)

        _write_dict(userdict, words + ["爱看4K"])
        writer.userdict.segmenter.check(force=True)
        deadline = time.monotonic() + 30
        while (progress(store) or {}).get("reindexing") is not False or progress(store)["total"] != 1:
            writer.step()
            assert time.monotonic() < deadline, progress(store)  # a guard against hanging, not a speed check
            time.sleep(0.01)
        assert progress(store)["done"] == 1 and reads.calls > 0
        assert "爱看4k" in read_state(store)["words"]
        before = (reads.calls, listed.calls)
        for _ in range(50):
            assert writer.step() == 0
        assert (reads.calls, listed.calls) == before
    finally:
        writer.close()


def _same_times(path, stat):
    """Give ``path`` back the modification time of ``stat`` (what cp -p and rsync -t do)."""
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))


@pytest.mark.parametrize("bad_first", [False, True], ids=["good-to-good", "after-a-failed-read"])
def test_a_dictionary_saved_with_its_old_time_and_size_is_seen(tmp_path, bad_first):
    """A dictionary rewritten in place with the same size and modification
    time (cp -p, rsync -t onto the same file) is still seen as changed,
    also when the version before could not be read (a failed read is
    never remembered as good); an unchanged bad file is not rebuilt at
    each check."""
    from search.segmenter import Segmenter

    path = tmp_path / "userdict.txt"
    path.write_text("爱看4K 100 nz\n", encoding="utf-8")
    seg = Segmenter(str(path))
    first = os.stat(path)
    if bad_first:
        path.write_text("爱看4K 10 n x\n", encoding="utf-8")  # one field too many; the same size
        _same_times(path, first)
        assert seg.check(interval=0) is False and ":1:" in seg.error
        loads = seg.loads
        for _ in range(5):
            assert seg.check(interval=0) is False
        assert seg.loads == loads and ":1:" in seg.error
    path.write_text("爱看5K 100 nz\n", encoding="utf-8")  # the same size again
    _same_times(path, first)
    now = os.stat(path)
    assert (now.st_size, now.st_mtime_ns, now.st_ino) == (first.st_size, first.st_mtime_ns, first.st_ino)
    assert seg.check(interval=0) is True
    assert seg.error is None and seg.user_words == ["爱看5K"] and seg.words == frozenset({"爱看5k"})
    assert seg.has_word("爱看5k") and not seg.has_word("爱看4k")


def test_queries_cut_during_a_reload_with_the_last_dictionary(tmp_path, monkeypatch):
    """While a changed dictionary is being built (held open here until the
    other thread has cut), other threads keep cutting and checking with
    the last one instead of waiting; then the new one is swapped in
    whole (words, version and tokenizer together)."""
    from search import segmenter
    from search.segmenter import Segmenter, userdict_version

    path = tmp_path / "userdict.txt"
    path.write_text("爱看4K 100 nz\n", encoding="utf-8")
    seg = Segmenter(str(path))
    old = seg.loaded
    building, release = threading.Event(), threading.Event()
    real_build = segmenter._build

    def held_build(data, where):
        building.set()
        release.wait(30)
        return real_build(data, where)

    monkeypatch.setattr(segmenter, "_build", held_build)
    path.write_text("爱看4K 100 nz\n客户端上线 50\n", encoding="utf-8")
    reloader = threading.Thread(target=seg.check, kwargs={"interval": 0})
    reloader.start()
    assert building.wait(30)
    seen = {}

    def query():
        seen["cut"] = [w for w, _, _ in seg.cut("爱看4k客户端上线")]
        seen["changed"] = seg.check(interval=0)
        seen["version"] = seg.version

    other = threading.Thread(target=query)
    other.start()
    other.join(30)  # a guard: it waits on nothing, so it is done long before
    finished = not other.is_alive()
    release.set()
    reloader.join(30)
    other.join(30)
    assert finished, "a query waited for the reload"
    assert seen == {"cut": ["爱看4k", "客户端", "上线"], "changed": False, "version": old.version}
    assert seg.loaded is not old and seg.version == userdict_version(str(path))
    assert seg.words == frozenset({"爱看4k", "客户端上线"}) and seg.has_word("客户端上线")
    assert [w for w, _, _ in seg.cut("爱看4k客户端上线")] == ["爱看4k", "客户端上线"]


def test_a_synonyms_file_saved_with_its_old_time_and_size_is_seen(tmp_path, monkeypatch):
    """The same change detection for the other watched files (synonyms,
    blocklist: ``search.watched``): a synonyms file rewritten in place with
    its old size and modification time gives the new groups and a new
    version (the result cache's key)."""
    from search import watched
    from search.synonyms import Synonyms

    monkeypatch.setattr(watched, "CHECK_INTERVAL", 0.0)
    path = tmp_path / "synonyms.txt"
    path.write_text("特首, 行政长官\n", encoding="utf-8")
    syn = Synonyms(str(path))
    first, version = os.stat(path), syn.version
    assert syn.group("特首") == ("特首", "行政长官")
    path.write_text("特首, 行政首长\n", encoding="utf-8")  # the same size
    _same_times(path, first)
    assert (os.stat(path).st_size, os.stat(path).st_mtime_ns) == (first.st_size, first.st_mtime_ns)
    assert syn.version != version
    assert syn.group("特首") == ("特首", "行政首长") and syn.group("行政长官") is None


def test_an_index_cut_with_another_dictionary_makes_the_worker_read_its_file_at_once(tmp_path):
    """The writer has re-cut the index with a new dictionary (the store's
    state names its version) before this worker's next look at the file:
    the worker reads the file at once, so a removed word is not searched
    only as a word the index no longer holds; once per state, not per query."""
    from indexer import pipeline
    from search.engine import SearchEngine
    from search.models import SearchRequest

    userdict = tmp_path / "words.txt"
    _write_dict(userdict, ["爱看4K"])
    src = write_jsonl(tmp_path / "in.jsonl", [{"id": "ud-word", "title": "爱看4K客户端上线", "body": "新版爱看4K客户端今天上线。"}])
    index = str(tmp_path / "ix")
    pipeline.build(index, [src], workers=1, progress=False, userdict=str(userdict))
    engine = SearchEngine.open(index, userdict_path=str(userdict), refresh_interval=0)
    seg = engine.analyzer.segmenter
    assert seg.user_words == ["爱看4K"]
    userdict.write_text("# the word taken out\n", encoding="utf-8")
    state = ((), (), "version-the-writer-recut-with")  # as web.engine reads it from the store
    engine.index_userdict = lambda: state
    loads = seg.loads
    for _ in range(5):
        engine.search(SearchRequest(q="爱看4K", facets=(), correct=False))
    assert seg.user_words == [] and seg.loads == loads + 1  # read at once, and once
