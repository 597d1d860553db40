"""Related articles ("您可能也感兴趣")."""



def test_related_on_real_articles(engine, sample_records, by_id):
    import random

    rng = random.Random(5)
    shared_tag = 0
    checked = 0
    baseline = 0
    by_source = {}
    for r in sample_records:
        by_source.setdefault(r["source"], []).append(r)
    for rec in rng.sample(sample_records, 40):
        hits = engine.related(rec["id"], size=5)
        assert hits is not None
        ids = [h.id for h in hits]
        assert rec["id"] not in ids
        assert len(ids) == len(set(ids))
        for h in hits:
            other = by_id[h.id]
            assert (other["title"], other["body"]) != (rec["title"], rec["body"])
        if hits:
            checked += 1
            tags = set(rec["tags"])
            shared_tag += any(tags & set(by_id[h.id]["tags"]) for h in hits)
            pool = [r for r in by_source[rec["source"]] if r["id"] != rec["id"]]
            baseline += any(tags & set(r["tags"]) for r in rng.sample(pool, len(hits)))
    # Tags are not used to compute relatedness, yet related lists share them
    # far more often than random articles from the same outlet.
    assert checked >= 30 and shared_tag >= 2 * baseline and shared_tag / checked > 0.3, (shared_tag, baseline, checked)


def test_unknown_article_has_no_related(engine):
    assert engine.related("no-such-id") is None


def _story(i, title, body, lang, published):
    return {"id": f"r-{i}", "title": title, "body": body, "published": published, "lang": lang,
            "category": "测试", "source": "本站", "tags": []}


def test_related_across_scripts_without_duplicates(tiny_index):
    base = "港珠澳大桥今日迎来客流高峰，跨境巴士加密班次，口岸旅客排队通关。运输部门表示将加派人手。"
    records = [
        _story(1, "港珠澳大桥客流创新高", base, "zh-Hans", "2021-12-05T10:00:00+08:00"),
        _story(2, "港珠澳大桥客流创新高", base, "zh-Hans", "2021-12-05T11:00:00+08:00"),  # exact duplicate
        _story(3, "港珠澳大橋客流回升 跨境巴士加密班次", "港珠澳大橋口岸客流回升，跨境巴士公司加密班次，旅客排隊通關時間縮短。運輸署加派人手。",
               "zh-Hant", "2021-12-06"),
        _story(4, "跨境巴士票价调整", "跨境巴士公司宣布调整票价，港珠澳大桥口岸线路受影响。", "zh-Hans", "2021-11-01"),
        _story(5, "图书馆新馆开放", "市图书馆新馆开放，馆藏图书三百万册，设少儿阅读区。", "zh-Hans", "2021-12-01"),
        _story(6, "博物馆夜场开放", "博物馆推出夜场，市民可在周末晚上参观展览。", "zh-Hans", "2021-12-02"),
    ]
    engine, _, _ = tiny_index(records)
    hits = engine.related("r-1", size=5)
    ids = [h.id for h in hits]
    assert "r-1" not in ids and "r-2" not in ids  # never itself, never its duplicate
    assert ids[0] == "r-3"  # the Traditional report of the same story
    assert "r-5" not in ids and "r-6" not in ids


# ---- the fast path against the exhaustive one ---------------------------------
def _exhaustive_related(backend, doc_id, size=5):
    """Related articles the straightforward way, written out from the rules
    (``search/related.py``'s docstrings), as the oracle of the fast path:
    every key term's article count asked afresh, the 12 weightiest
    (tf x log(1 + n / df); df 1 or over 20 % of n left out) as an OR query
    summed per document through the general path (the OR twice, so each
    score is exactly doubled: two clauses are added up per document), the
    article and its near-duplicate group left out, the best size + 10
    hits read, copies (same content hash) and republications (same folded
    headline, key terms 80 % the same) dropped.  (ids, scores, hits read
    up to the last one kept)."""
    import math

    from search.normalize import fold_case, normalize_query
    from search.plan import AnyClause, Plan, WordClause

    stored = backend.get(doc_id)
    keyterms = stored.get("keyterms") or []
    n = backend.doc_count()
    dfs = backend.doc_frequencies([t for t, _ in keyterms])
    weighted = sorted(((tf * math.log(1 + n / df), t) for (t, tf), df in zip(keyterms, dfs)
                       if df > 1 and not (n >= 100 and df > 0.2 * n)), reverse=True)
    terms = [t for _, t in weighted[:12]]
    if not terms:
        return [], [], 0
    copies = [c["id"] for c in backend.near_duplicates(doc_id)]
    clause = AnyClause([WordClause(t, [], ("title", "body")) for t in terms])
    res = backend.execute(Plan(must=[clause, clause], exclude_docs=(doc_id, *copies), relax_below=0, limit=size + 10))
    title = fold_case(normalize_query(stored.get("title", "")))
    own = {t for t, _ in keyterms}
    ids, scores, read = [], [], 0
    for i, h in enumerate(res.hits):
        if len(ids) == size:
            break
        other = {t for t, _ in h.stored.get("keyterms") or []}
        if h.stored.get("content_hash") == stored.get("content_hash"):
            continue
        if title and fold_case(normalize_query(h.stored.get("title", ""))) == title and other and own \
                and len(own & other) / len(own | other) >= 0.8:
            continue
        ids.append(h.stored["id"])
        scores.append(h.score / 2)
        read = i + 1
    return ids, scores, read


def test_fast_path_equals_the_exhaustive_path(engine, sample_records):
    """A deterministic 224 articles of the 2,000-article sample (every
    10th, and 608-631, where four need the second read): the related list
    (cached article counts, the first size + 2 hits read, a one-clause plan
    taken as it is) is exactly the exhaustive oracle's, never the article,
    never one of its near-duplicates or copies."""
    import math

    from search import related as stories
    from search.frequency import ArticleFrequencies

    backend = engine.backend
    freq = ArticleFrequencies(backend)
    chosen = sample_records[::10] + sample_records[608:632]
    checked = refetched = 0
    for rec in chosen:
        doc_id = rec["id"]
        want_ids, want_scores, read = _exhaustive_related(backend, doc_id)
        got = stories.related(backend, doc_id, 5, frequencies=freq)
        assert [h.id for h in got] == want_ids, doc_id
        # The same scores, up to the recency factor's clock (the two runs are
        # milliseconds apart; the recency half-life is days).
        assert all(math.isclose(h.score, s, rel_tol=1e-9) for h, s in zip(got, want_scores)), doc_id
        stored = backend.get(doc_id)
        group = {c["id"] for c in backend.near_duplicates(doc_id)}
        for h in got:
            assert h.id != doc_id and h.id not in group
            assert backend.get(h.id)["content_hash"] != stored["content_hash"]
        checked += bool(want_ids)
        refetched += read > 5 + stories.RELATED_SPARE  # the fast path's first read fell short
    assert checked >= len(chosen) - 10, checked
    assert freq.lookups < len(chosen)  # articles whose words were all seen cost no backend call
    assert refetched >= 1, "no article exercised the second read"
