"""The Whoosh backend's collectors (search/backends/whoosh/collectors.py) on
the 2,000-article sample index, against brute force over the stored
articles: top k with ties, near-duplicate collapse, facet counts, the
timeline, the deadline."""

import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from search import ranking, timeline
from search.backends.whoosh import collectors
from search.plan import BackendResult, Plan, QueryTimeout
from search.values import value_key

CST = timezone(timedelta(hours=8))
NOW = 1.9e9  # a fixed "now" (2030) for the recency factor


@pytest.fixture(scope="module")
def view(sample_index):
    from search.backends.whoosh.backend import WhooshBackend

    backend = WhooshBackend(sample_index)
    yield backend.view
    backend.close()


@pytest.fixture(scope="module")
def stored(view):
    return [view.stored(g) for g in range(view.n_all)]


def random_matches(view, seed):
    """Every live doc, a random tier and a score from few values (many ties)."""
    rng = np.random.default_rng(seed)
    docs = np.flatnonzero(view.live)
    return docs, rng.integers(0, 3, len(docs)), rng.choice([0.5, 1.0, 2.0], len(docs))


@pytest.mark.parametrize("offset, limit", [(0, 10), (10, 10), (0, 1500)])
def test_top_k_is_tier_then_score_then_doc_id(view, offset, limit):
    """Relevance: tier first, then score x recency, ties by doc id, on the
    partial-selection path (k small) and the full sort alike; any page is a
    slice of the one order."""
    docs, matched, scores = random_matches(view, 1)
    final = scores * ranking.recency_factor(view.published[docs], NOW)
    expected = sorted(range(len(docs)), key=lambda i: (-matched[i], -final[i], docs[i]))
    plan = Plan(offset=offset, limit=limit, now=NOW)
    got = collectors.top_k(view, plan, docs, matched, scores.copy())
    assert got.tolist()[offset:] == expected[offset:offset + limit]


@pytest.mark.parametrize("sort", ["newest", "oldest"])
def test_top_k_by_date_puts_undated_last_and_ties_by_score(view, sort):
    docs, matched, scores = random_matches(view, 2)
    pub = view.published[docs]
    undated = pub == ranking.NO_DATE
    sign = -1 if sort == "newest" else 1
    expected = sorted(range(len(docs)), key=lambda i: (bool(undated[i]), sign * pub[i], -scores[i], i))
    got = collectors.top_k(view, Plan(sort=sort, limit=50, now=NOW), docs, matched, scores.copy())
    assert got.tolist() == expected[:50]


def test_collapse_keeps_each_groups_earliest_match_with_its_best_tier_and_score(view):
    docs, matched, scores = random_matches(view, 3)
    keys = view.group_rep[docs]
    assert (keys != docs).any()  # the sample has near-duplicates
    got_docs, got_tier, got_score = collectors.collapse(view, docs, keys, matched, scores)
    pub = view.published[docs]
    members = defaultdict(list)
    for i, k in enumerate(keys.tolist()):
        members[k].append(i)
    expected = {}
    for group in members.values():
        first = min(group, key=lambda i: (pub[i] == ranking.NO_DATE, pub[i], docs[i]))
        expected[int(docs[first])] = (max(matched[i] for i in group), max(scores[i] for i in group))
    assert got_docs.tolist() == sorted(expected)
    assert list(zip(got_tier.tolist(), got_score.tolist())) == [expected[d] for d in got_docs.tolist()]


def values(record, name):
    if name == "tag":
        return {value_key(t) for t in record.get("tags") or []} - {""}
    return {value_key(record.get(name) or "")} - {""}


@pytest.mark.parametrize("name", ["category", "source", "author", "tag"])
def test_facet_counts_are_the_articles_counts(view, stored, name):
    """Every bucket (size unlimited) counts the articles of the subset with
    a value of that folded key, each article once; buckets are ordered by
    count; a small size keeps the largest counts."""
    rng = np.random.default_rng(4)
    docs = np.flatnonzero(view.live & (rng.random(view.n_all) < 0.5))
    expected = Counter(k for g in docs.tolist() for k in values(stored[g], name))
    assert expected
    got = collectors.facets(view, docs, [name], 100000)[name]
    assert {value_key(shown): n for shown, n in got} == dict(expected)
    counts = [n for _, n in got]
    assert counts == sorted(counts, reverse=True)
    top = collectors.facets(view, docs, [name], 5)[name]
    assert [n for _, n in top] == sorted(expected.values(), reverse=True)[:5]


@pytest.mark.parametrize("interval", ["day", "month", "year", "auto"])
def test_the_histogram_counts_each_dated_match_in_its_newsroom_bucket(view, stored, interval):
    rng = np.random.default_rng(5)
    docs = np.flatnonzero(view.live & (rng.random(view.n_all) < 0.3))
    result = BackendResult(0, [], {})
    collectors.histogram(view, docs, interval, result)
    fmt = {"day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}[result.histogram_interval]
    pub = view.published[docs]
    dated = pub[timeline.plausible(pub)]
    expected = Counter(datetime.fromtimestamp(int(p), CST).strftime(fmt) for p in dated.tolist())
    assert {label: n for label, n in result.histogram if n} == dict(expected)
    assert sum(n for _, n in result.histogram) + result.undated == len(docs)
    assert len(result.histogram) <= timeline.MAX_BUCKETS


def test_the_deadline():
    collectors.Deadline(None).check()
    collectors.Deadline(time.monotonic() + 60).check()
    with pytest.raises(QueryTimeout):
        collectors.Deadline(time.monotonic() - 1).check()
