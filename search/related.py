"""Related articles ("您可能也感兴趣") from key terms stored at index time,
and story coverage over time (the article page's "earlier / later" lists).

Each article stores its most frequent content words (``documents.key_terms``,
normalised to Simplified Chinese, so Traditional and Simplified articles meet).
At query time they are weighted by the live index's rarity (idf), the best
``RELATED_TERMS`` become an OR query ranked by BM25F with the usual mild
recency preference, and the article itself and its duplicates are removed.
The article counts come from the engine's cache (``search/frequency.py``),
and only the few best hits are read (``RELATED_SPARE``).
Editor tags are deliberately not used: they are what relatedness is evaluated
against.

Story coverage is the same key-term query within ``STORY_WINDOW_DAYS`` of
the article, kept to hits scoring at least ``STORY_MIN_SHARE`` of the best
(the same story, not merely the same subject), in date order.

With vectors (issue 20): when the backend has the article's own stored
vector (``IndexBackend.article_vector``: no query is embedded), both lists
are fused (``fuse``): the key-term ranking's best ``RelatedFusion.depth``
hits and the article's ``depth`` nearest neighbours by exact inner product
over the live articles (``IndexBackend.dense_candidates``), both under the
same exclusions (the article, its near-duplicate group; content-hash
copies and republications are dropped from the fused list as before).
Related lists use ``RELATED_FUSION``; story coverage fuses the window's
lists by ``COVERAGE_FUSION`` (a min-max mix, whose scores are shares of
each list's best, so ``STORY_MIN_SHARE`` of the best fused score still
means "close to the best match" on both kinds of evidence).  Without the
article's vector (no ``indexer embed`` yet, an article added since, the
OpenSearch backend) both are the key-term lists above, unchanged.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

import numpy as np

from .hybrid import RRF_K, DenseQuery, rrf
from .models import Hit
from .normalize import fold_case, normalize_query
from .plan import AnyClause, BackendHit, BackendResult, Plan, WordClause
from .results import brief, hit
from .timeutil import published_time

RELATED_TERMS = 12
# Hits read beyond the ``size`` asked for, for those that are the same story
# (a copy or republication): 199 of 200 random articles of the full corpora
# need none; the rest are read again with up to RELATED_MAX_SPARE more.
RELATED_SPARE = 2
RELATED_MAX_SPARE = 10
STORY_WINDOW_DAYS = 90  # follow-ups of a story: related articles within this many days
STORY_MIN_SHARE = 0.5  # ... scoring at least this share of the best one


@dataclasses.dataclass(frozen=True)
class RelatedFusion:
    """How key-term and dense rankings are fused (``fuse``): ``method``
    "rrf" (weighted reciprocal-rank fusion, ``search.hybrid.rrf``, with
    ``rrf_k``) or "minmax" (each list's scores min-max normalised to
    [0, 1], 0 where the list lacks the article, then the weighted mean);
    ``depth``: hits read from each list; ``dense_weight``: the dense
    ranking's weight, the key-term ranking's being 1."""

    method: str = "rrf"
    depth: int = 50
    dense_weight: float = 1.0
    rrf_k: int = RRF_K


# PROVISIONAL values, chosen by eval/related_dense.py on the tag-stripped,
# embedded 2,000-article sample's articles whose SHA-1(id) first byte is odd
# (18 settings: rrf / minmax x depth 20, 50, 100 x dense weight 0.5, 1, 2;
# top-5 specific-tag share 0.078-0.087), reported on the even ones
# (docs/benchmarks.md).  The best was minmax, depth 50, weight 0.5 (0.0872);
# depth 20 (0.0855, 6 slots of 3,405 fewer: within noise) is shipped for
# latency: each list's hits cost a stored-fields read (~0.08 ms each),
# bench/related_latency.py --hybrid.  To be checked on the full corpora.
RELATED_FUSION = RelatedFusion("minmax", 20, 0.5)
# Coverage: the same fusion, its dense weight chosen on the same half (the
# most tag-sharing items per article at a share no lower than key terms').
COVERAGE_FUSION = RelatedFusion("minmax", 20, 0.5)


def related_plan(stored: dict, doc_id: str, backend, exclude: tuple = (), frequencies=None) -> Plan | None:
    """The OR query of the article's weightiest key terms, leaving out the
    article ``doc_id`` and the article ids in ``exclude`` (the caller sets
    how many hits it needs, and any date window); None without key terms.
    ``frequencies``: words -> {word: articles using it}, the engine's
    ``frequency.ArticleFrequencies`` (cached per index version: articles
    share most of their key terms); None asks ``backend.doc_frequencies``."""
    keyterms = stored.get("keyterms") or []
    if not keyterms:
        return None
    n = max(backend.doc_count(), 1)
    words = [t for t, _ in keyterms]
    if frequencies is None:
        dfs = backend.doc_frequencies(words)
    else:
        counts = frequencies(words)
        dfs = [counts[w] for w in words]
    weighted = []
    for (term, tf), df in zip(keyterms, dfs):
        if df <= 1:
            continue  # only in this article: cannot relate it to anything
        if n >= 100 and df > n * 0.2:
            continue  # too common to say what the article is about
        weighted.append((tf * math.log(1 + n / df), term))
    weighted.sort(reverse=True)
    terms = [t for _, t in weighted[:RELATED_TERMS]]
    if not terms:
        return None
    return Plan(
        must=[AnyClause([WordClause(t, [], ("title", "body")) for t in terms])],
        exclude_docs=(doc_id, *exclude),
        relax_below=0,
    )


@dataclasses.dataclass
class Story:
    """What related lists and story coverage both start from: the article
    (``stored``), its near-duplicates (stored fields, earliest first), the
    key-term plan (None when its key terms relate it to nothing) and the
    article's own vector ((float32 ``(dim,)``, model id) from
    ``IndexBackend.article_vector``; None: key terms only)."""

    stored: dict
    copies: list
    plan: Plan | None
    vector: tuple | None = None

    def exclusions(self) -> tuple:
        """The article ids no list may hold: the article and its near-duplicates."""
        return (self.stored["id"], *(c["id"] for c in self.copies))


def story(backend, doc_id: str, frequencies=None) -> Story | None:
    """The article ``doc_id`` of ``backend`` (an ``IndexBackend``) as a
    Story (its terms' document frequencies looked up once, through
    ``frequencies`` when given: see ``related_plan``); None if there is no
    such article."""
    stored = backend.get(doc_id)
    if stored is None:
        return None
    copies = backend.near_duplicates(doc_id)
    plan = related_plan(stored, doc_id, backend, exclude=tuple(c["id"] for c in copies), frequencies=frequencies)
    return Story(stored, copies, plan, backend.article_vector(doc_id))


def fuse(lexical: list[tuple[str, float]], dense: list[tuple[str, float]],
         fusion: RelatedFusion) -> list[tuple[str, float]]:
    """One ranking of two: ``lexical`` (article id, BM25F score) and
    ``dense`` (article id, cosine), each best first and without repeats ->
    [(article id, fused score)], best first, ties in the order of the
    union (the key-term list's order, then the dense-only articles' order).
    ``fusion.method`` "rrf": ``search.hybrid.rrf`` of the ranks (from 1),
    "minmax": ``(lex + w * dense) / (1 + w)`` of the min-max normalised
    scores (a list's only or equal scores normalise to 1; an article a list
    lacks has 0 from it), so a score of 1 means best in both lists.
    Raises ValueError for another method."""
    ids = [d for d, _ in lexical]
    seen = set(ids)
    ids += [d for d, _ in dense if d not in seen]
    where = {d: i for i, d in enumerate(ids)}
    n = len(ids)
    if fusion.method == "rrf":
        ranks = []
        for found in (lexical, dense):
            r = np.zeros(n, np.int64)
            r[[where[d] for d, _ in found]] = np.arange(1, len(found) + 1)
            ranks.append(r)
        scores = rrf(ranks[0], ranks[1], fusion.rrf_k, fusion.dense_weight)
    elif fusion.method == "minmax":
        scores = np.zeros(n, np.float64)
        for found, weight in ((lexical, 1.0), (dense, float(fusion.dense_weight))):
            if not found:
                continue
            raw = np.array([x for _, x in found], np.float64)
            lo, hi = raw.min(), raw.max()
            norm = (raw - lo) / (hi - lo) if hi > lo else np.ones(len(raw))
            scores[[where[d] for d, _ in found]] += weight * norm
        scores /= 1.0 + float(fusion.dense_weight)
    else:
        raise ValueError(f"fusion method must be rrf or minmax, got {fusion.method!r}")
    order = np.lexsort((np.arange(n), -scores))
    return [(ids[i], float(scores[i])) for i in order.tolist()]


def fused_candidates(backend, found: Story, plan: Plan, fusion: RelatedFusion, wanted: int) -> list[BackendHit]:
    """The fused ranking (``fuse``) of ``plan``'s best key-term hits
    (``found.plan`` with ``plan``'s date window; none when the article has
    no key-term plan) and the article's nearest neighbours among the live
    articles ``plan``'s filters keep (its exclusions, its window), each
    list ``fusion.depth`` deep or ``wanted`` when that is more (a long
    related list is never cut short by the depth), the first ``wanted``
    as ``BackendHit``s (score: the fused score; stored fields read for
    the dense-only ones).  ``found.vector`` must be set."""
    vector, model_id = found.vector
    depth = max(fusion.depth, wanted)
    lexical = []
    if found.plan is not None:
        lexical = backend.execute(dataclasses.replace(plan, limit=depth)).hits
    query = DenseQuery(vector, model_id, "hybrid", extra=False)
    dense = backend.dense_candidates(query, depth, plan)
    fused = fuse([(h.stored["id"], h.score) for h in lexical], dense, fusion)[:wanted]
    stored = {h.stored["id"]: h.stored for h in lexical}
    missing = [d for d, _ in fused if d not in stored]
    if missing:
        stored.update(backend.get_many(missing))
    return [BackendHit(None, score, stored[d]) for d, score in fused if stored.get(d) is not None]


def related(backend, doc_id: str, size: int = 5, known: Story | None = None,
            frequencies=None, fusion: RelatedFusion | None = RELATED_FUSION) -> list[Hit] | None:
    """At most ``size`` articles most related to ``doc_id`` (None if it
    does not exist; ``known``: its Story when the caller has it;
    ``frequencies``: see ``related_plan``); its near-duplicates, copies
    with its content hash, and republications (the same headline and at
    least 80% of the same key terms) are not "related", they are the same
    story.  With the article's vector (``Story.vector``) and ``fusion``
    (None: key terms only), the key-term and dense rankings fused
    (``fused_candidates``; ``Hit.score`` is then the fused score), the
    best ``size + RELATED_MAX_SPARE`` considered.  Otherwise the key-term
    ranking: the best ``size + RELATED_SPARE`` hits are read first, the
    best ``size + RELATED_MAX_SPARE`` when too many of those were the same
    story."""
    found = known or story(backend, doc_id, frequencies)
    if found is None:
        return None
    stored, plan = found.stored, found.plan
    if found.vector is not None and fusion is not None:
        base = plan or Plan(exclude_docs=found.exclusions(), relax_below=0)
        return _other_stories(stored, fused_candidates(backend, found, base, fusion, size + RELATED_MAX_SPARE), size)
    if plan is None:
        return []
    hits = []
    for limit in (size + RELATED_SPARE, size + RELATED_MAX_SPARE):
        res = backend.execute(dataclasses.replace(plan, limit=limit))
        hits = _other_stories(stored, res.hits, size)
        if len(hits) >= size or len(res.hits) < limit:
            break  # enough, or every match was read
    return hits


def _other_stories(stored: dict, found: list, size: int) -> list[Hit]:
    """The first ``size`` of ``found`` (``BackendHit`` in rank order) that
    are not the article ``stored`` again: not its content hash, not its
    headline with nearly the same key terms (a republication)."""
    own_hash = stored.get("content_hash")
    own_title = fold_case(normalize_query(stored.get("title", "")))
    hits = []
    for h in found:
        if h.stored.get("content_hash") == own_hash:
            continue  # a duplicate of the article itself
        if own_title and fold_case(normalize_query(h.stored.get("title", ""))) == own_title \
                and _overlap(stored, h.stored) >= 0.8:
            continue  # same headline and nearly the same key terms: a republication
        hits.append(hit(h.stored, h.score, [], highlight=False))
        if len(hits) >= size:
            break
    return hits


def coverage(backend, doc_id: str, size: int = 10, known: Story | None = None, frequencies=None,
             fusion: RelatedFusion | None = COVERAGE_FUSION) -> dict | None:
    """How a story developed: the articles most related to ``doc_id``
    within ``STORY_WINDOW_DAYS`` of it (at most ``size`` searched), split
    into earlier and later coverage in date order (the first of "earlier"
    is the first report found), plus its near-duplicates:
    {"id", "earlier", "later", "near_duplicates"} (lists of ``brief``).
    Kept: those scoring at least ``STORY_MIN_SHARE`` of the best, by
    BM25F, or with the article's vector and ``fusion`` (None: key terms
    only) by the fused score (``fused_candidates``).  None if the article
    does not exist (``frequencies``: see ``related_plan``)."""
    found = known or story(backend, doc_id, frequencies)
    if found is None:
        return None
    stored, copies, plan = found.stored, found.copies, found.plan
    own = published_time(stored.get("published_text"))
    dated = []
    fused = found.vector is not None and fusion is not None
    if (plan is not None or fused) and own is not None:
        window = timedelta(days=STORY_WINDOW_DAYS)
        base = plan or Plan(exclude_docs=found.exclusions(), relax_below=0)
        windowed = dataclasses.replace(base, date_from=own - window, date_to=own + window, limit=size)
        if fused:
            res = BackendResult(0, fused_candidates(backend, found, windowed, fusion, size), {})
        else:
            res = backend.execute(windowed)
        best = res.hits[0].score if res.hits else 0.0
        # The same story, not merely the same subject: close to the best match.
        dated = sorted(((t, h.stored) for h in res.hits if h.score >= STORY_MIN_SHARE * best
                        for t in [published_time(h.stored.get("published_text"))] if t is not None),
                       key=lambda pair: pair[0])
    return {
        "id": doc_id,
        "earlier": [brief(h) for t, h in dated if t < own],
        "later": [brief(h) for t, h in dated if t >= own],
        "near_duplicates": [brief(s) for s in copies],
    }


def article_context(backend, doc_id: str, related_size: int = 5, coverage_size: int = 10,
                    frequencies=None) -> dict | None:
    """An article with its related list and story coverage (the article
    page), sharing one lookup of the article and its key terms:
    {"article": stored, "related": [Hit], "coverage": dict}; None if the
    article does not exist (``frequencies``: see ``related_plan``)."""
    found = story(backend, doc_id, frequencies)
    if found is None:
        return None
    return {"article": found.stored, "related": related(backend, doc_id, related_size, known=found),
            "coverage": coverage(backend, doc_id, coverage_size, known=found)}


def _overlap(a: dict, b: dict) -> float:
    """Jaccard overlap of two stored articles' key terms (0.0 when either has none)."""
    ta = {t for t, _ in a.get("keyterms") or []}
    tb = {t for t, _ in b.get("keyterms") or []}
    if not ta or not tb:
        return 0.0
    return len(ta & tb) / len(ta | tb)
