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
