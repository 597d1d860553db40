"""Query-time synonyms on the real sample: a synonym finds articles that
only use the other term, the file is editable without re-indexing, and
matching respects word boundaries."""

from search import synonyms as syn
from search import watched
from search.engine import SearchEngine
from search.models import SearchRequest
from search.normalize import fold_case, normalize_query


def norm(text):
    return fold_case(normalize_query(text or ""))


def ids(engine, q):
    res = engine.search(SearchRequest(q=q, size=5000, facets=(), highlight=False))
    return {h.id for h in res.hits}, res


def only_using(records, present, absent):
    return {r["id"] for r in records
            if norm(present) in norm(r["title"] + r["body"]) and norm(absent) not in norm(r["title"] + r["body"])}


def test_shipped_synonym_finds_articles_using_the_other_term(engine, plain_engine, sample_records):
    # Hong Kong articles say 特首 without 行政長官 (and the other way round).
    only_tezhou = only_using(sample_records, "特首", "行政长官")
    assert only_tezhou, "the sample should have articles saying only 特首"
    found, res = ids(engine, "行政长官")
    assert only_tezhou <= found
    assert ["特首", "行政长官"] in res.synonyms
    assert any("OR" in u for u in res.understood)  # the explanation shows the alternatives
    without, _ = ids(plain_engine, "行政长官")
    assert not (only_tezhou & without)


def test_synonym_term_is_highlighted(engine, sample_records):
    res = engine.search(SearchRequest(q="行政长官", size=50, facets=()))
    marked = " ".join(h.title_highlight + " " + (h.snippet or "") for h in res.hits)
    assert "<mark>特首</mark>" in marked


def test_edited_file_applies_without_reindexing(sample_index, indexed_records, tmp_path, monkeypatch):
    monkeypatch.setattr(watched, "CHECK_INTERVAL", 0.0)
    path = tmp_path / "synonyms.txt"
    path.write_text("# nothing yet\n", encoding="utf-8")
    engine = SearchEngine.open(sample_index, refresh_interval=0, synonyms_path=str(path))
    target = only_using(indexed_records, "立法会", "议会")
    assert target
    before, _ = ids(engine, "议会")
    assert not (target & before)
    path.write_text("议会, 立法会\n", encoding="utf-8")
    import os
    import time

    os.utime(path, (time.time() + 5, time.time() + 5))  # a new mtime even within the same second
    after, res = ids(engine, "议会")
    assert target <= after and res.synonyms == [["议会", "立法会"]]


def test_multi_word_latin_synonym(tmp_path, tiny_index):
    engine, _, _ = tiny_index([
        {"id": "a", "title": "林鄭月娥宣讀施政報告", "body": "行政長官林鄭月娥今日在立法會宣讀施政報告。"},
        {"id": "b", "title": "无关新闻", "body": "Carrie Underwood 在音乐会上演唱。"},
    ])
    res = engine.search(SearchRequest(q="Carrie Lam", size=10, facets=()))
    assert res.hits[0].id == "a"  # (b, with only "Carrie", may follow as a partial match)
    assert res.synonyms == [["Carrie Lam", "林郑月娥"]]
    assert "<mark>林鄭月娥</mark>" in res.hits[0].title_highlight  # marked in the article's own script


def test_latin_term_needs_word_boundaries(tmp_path):
    path = tmp_path / "s.txt"
    path.write_text("lam, 林\n", encoding="utf-8")
    s = syn.Synonyms(str(path))
    assert s.split("islam") == [("islam", None)]
    assert [g for _, g in s.split("lam kin")][0] == ("lam", "林")


def test_malformed_line_is_reported_and_skipped(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text("特首, 行政长官\n孤单的词\n欧盟, 欧洲联盟\n", encoding="utf-8")
    s = syn.Synonyms(str(path))
    assert len(s.errors) == 1 and s.errors[0].startswith("line 2")
    assert s.group("特首") == ("特首", "行政长官") and s.group("欧洲联盟") == ("欧盟", "欧洲联盟")
