"""Near-duplicate grouping: signatures and groups on real articles, grouped
search end to end (engine, API, page), and regrouping after a deletion."""

import numpy as np
import pytest

from conftest import validated
from search import dedupe
from search.models import SearchRequest
from search.normalize import fold_case, normalize
from search.timeutil import parse_published

DAY = 86400


def text(title, body):
    return fold_case(normalize(title).text) + "\n" + fold_case(normalize(body).text)


def long_articles(records, n, min_paragraphs=6):
    out = [r for r in records if r["body"].count("\n") >= min_paragraphs - 1 and len(r["body"]) > 1500]
    return out[:n]


def sig(title, body):
    return dedupe.signature(text(title, body))


def test_copies_resemble_and_other_articles_do_not(sample_records):
    from opencc import OpenCC

    a, b = long_articles([r for r in sample_records if r["lang"] == "zh-Hant"], 2)
    original = sig(a["title"], a["body"])
    simplified = sig(OpenCC("t2s").convert(a["title"]), OpenCC("t2s").convert(a["body"]))
    cut = sig(a["title"], "\n".join(a["body"].split("\n")[:-1]))
    assert dedupe.similarity(original, sig(a["title"], a["body"])) == 1.0
    assert dedupe.similarity(original, simplified) >= dedupe.THRESHOLD  # a mainland edition
    assert dedupe.similarity(original, cut) >= dedupe.THRESHOLD
    assert dedupe.similarity(original, sig(b["title"], b["body"])) < 0.2
    # Too short to judge: never grouped, even with itself.
    short = dedupe.signature("短讯")
    assert not dedupe.has_signature(np.stack([short]))[0]


def test_groups_do_not_chain_and_stay_close_in_time(sample_records):
    """A ~ B and B ~ C but A !~ C: C is not in A's group.  A copy three days
    later, or a merely similar text a day later, is another story."""
    base, other = long_articles(sample_records, 2, min_paragraphs=8)
    body, spare = base["body"], other["body"]
    k = len(body) // 8  # A = P Q R;  B = P Q X;  C = Y Q X
    b_body = body[:-k] + spare[:k]
    c_body = spare[-k:] + b_body[k:]
    a, b, c = sig(base["title"], body), sig(base["title"], b_body), sig(base["title"], c_body)
    assert dedupe.similarity(a, b) >= dedupe.THRESHOLD and dedupe.similarity(b, c) >= dedupe.THRESHOLD
    assert dedupe.similarity(a, c) < dedupe.THRESHOLD, "setup: A and C must differ"
    t0 = 1_600_000_000
    sigs = np.stack([a, b, c, a, b])
    ts = np.array([t0, t0 + 3600, t0 + 7200, t0 + 3 * DAY, t0 + 20 * 3600], np.int64)
    rep = dedupe.group(ts, sigs)
    assert rep[1] == 0  # B joins A
    assert rep[2] != 0  # C resembles B only: not A's group
    assert rep[3] == 3  # the same text three days later: a separate story
    # A day later a member must be closer than THRESHOLD_LATER.
    assert (rep[4] == 0) == (dedupe.similarity(a, b) >= dedupe.THRESHOLD_LATER)


@pytest.fixture(scope="module")
def real_pair(engine):
    """A real pair of the sample the indexer grouped: the Hong Kong site's
    updated version of a story, published under another article number."""
    view = engine.backend.view
    members = np.flatnonzero(view.group_rep != np.arange(view.n_all))
    assert len(members) >= 5, "the sample holds real near-duplicates"
    rep = view.stored(int(view.group_rep[members[0]]))
    member = view.stored(int(members[0]))
    return rep, member


def test_sample_index_groups_real_republications(real_pair):
    rep, member = real_pair
    assert rep["id"] != member["id"]
    assert dedupe.similarity(sig(rep["title"], rep["body"]), sig(member["title"], member["body"])) >= dedupe.THRESHOLD
    t_rep, t_member = parse_published(rep["published_text"]), parse_published(member["published_text"])
    assert t_rep <= t_member and (t_member - t_rep).total_seconds() <= dedupe.WINDOW_SECONDS


def test_grouped_search_shows_one_hit_with_its_copies(engine, real_pair):
    rep, member = real_pair
    q = f'"{rep["title"][:12]}"'
    flat = engine.search(SearchRequest(q=q, size=50))
    grouped = engine.search(SearchRequest(q=q, size=50, group=True))
    flat_ids = [h.id for h in flat.hits]
    assert rep["id"] in flat_ids and member["id"] in flat_ids
    ids = [h.id for h in grouped.hits]
    assert member["id"] not in ids
    hit = next(h for h in grouped.hits if h.id == rep["id"])  # the earliest is shown
    assert hit.similar_count >= 1 and member["id"] in [s["id"] for s in hit.similar]
    assert grouped.total_articles == flat.total and grouped.total == flat.total - sum(
        h.similar_count for h in grouped.hits)
    assert sum(f.count for f in grouped.facets["source"]) == grouped.total_articles  # facets count articles


def test_grouping_parameter_in_the_api(client, openapi, real_pair):
    rep, member = real_pair
    from urllib.parse import quote

    q = quote(f'"{rep["title"][:12]}"')
    on = validated(client, openapi, f"/api/search?q={q}&size=50").get_json()
    off = validated(client, openapi, f"/api/search?q={q}&size=50&group=0").get_json()
    assert on["total_counts"] == "groups" and off["total_counts"] == "articles"
    assert on["total_articles"] == off["total"] == off["total_articles"] > on["total"]
    hit = next(h for h in on["hits"] if h["id"] == rep["id"])
    assert hit["similar_count"] >= 1 and member["id"] in [s["id"] for s in hit["similar"]]
    assert all("similar_count" not in h for h in off["hits"])
    cov = validated(client, openapi, f"/api/articles/{member['id']}/coverage").get_json()
    assert rep["id"] in [d["id"] for d in cov["near_duplicates"]]
    related = validated(client, openapi, f"/api/articles/{rep['id']}/related?size=10").get_json()
    assert member["id"] not in [h["id"] for h in related["hits"]]  # a copy is not "related"
    assert client.get(f"/api/search?q={q}&group=2").status_code == 400
    page = client.get(f"/search?q={q}").get_data(as_text=True)
    assert "篇相似报道" in page and f"/articles/{member['id']}" in page


def test_deleting_a_representative_regroups(tiny_index, sample_records):
    """Deleting the earliest copy makes the next one the representative;
    deleting all but one leaves no group."""
    from indexer import pipeline

    a = long_articles(sample_records, 1)[0]
    day = a["published"][:10]
    copies = [dict(a, id=f"copy-{i}", published=f"{day}T0{i + 1}:00:00+08:00") for i in range(3)]
    eng, _, path = tiny_index(copies + sample_records[:50])
    q = f'"{a["title"][:10]}"'
    res = eng.search(SearchRequest(q=q, group=True))
    assert [h.id for h in res.hits] == ["copy-0"] and res.hits[0].similar_count == 2
    pipeline.delete(path, ["copy-0"])
    eng.backend.refresh(force=True)
    res = eng.search(SearchRequest(q=q, group=True))
    assert [h.id for h in res.hits] == ["copy-1"] and [s["id"] for s in res.hits[0].similar] == ["copy-2"]
    pipeline.delete(path, ["copy-2"])
    eng.backend.refresh(force=True)
    res = eng.search(SearchRequest(q=q, group=True))
    assert [h.id for h in res.hits] == ["copy-1"] and res.hits[0].similar_count == 0
    assert eng.near_duplicates("copy-1") == []


def test_installments_of_a_series_stay_apart(sample_records):
    """Part 1 and part 2 (（上）/（下）, 第一次/第二次会议) are different articles
    even when most of their text is the same; an unmarked reprint still groups."""
    a = long_articles(sample_records, 1)[0]
    s = sig(a["title"], a["body"])
    titles = [a["title"] + "（上）", a["title"] + "（下）", a["title"], a["title"] + "（上）"]
    keys = np.array([dedupe.installment_key(normalize(t).text) for t in titles], np.int64)
    assert keys[0] and keys[0] != keys[1] and keys[2] == 0 and keys[3] == keys[0]
    t0 = 1_600_000_000
    rep = dedupe.group(np.array([t0, t0 + 60, t0 + 120, t0 + 180], np.int64), np.stack([s] * 4), keys)
    assert rep.tolist() == [0, 1, 0, 0]
    assert dedupe.installment_key("主席团举行第一次会议") != dedupe.installment_key("主席团举行第二次会议")
