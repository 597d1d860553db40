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
"""

from __future__ import annotations

import dataclasses
import math
from datetime import timedelta

from .models import Hit
from .normalize import fold_case, normalize_query
from .plan import AnyClause, Plan, WordClause
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
    (``stored``), its near-duplicates ((key, stored) pairs, earliest first)
    and the key-term plan (None when its key terms relate it to nothing)."""

    stored: dict
    copies: list
    plan: Plan | None


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
    return Story(stored, copies, plan)


def related(backend, doc_id: str, size: int = 5, known: Story | None = None,
            frequencies=None) -> list[Hit] | None:
    """At most ``size`` articles most related to ``doc_id`` (None if it
    does not exist; ``known``: its Story when the caller has it;
    ``frequencies``: see ``related_plan``); its near-duplicates, copies
    with its content hash, and republications (the same headline and at
    least 80% of the same key terms) are not "related", they are the same
    story.  The best ``size + RELATED_SPARE`` hits are read first, the best
    ``size + RELATED_MAX_SPARE`` when too many of those were the same story."""
    found = known or story(backend, doc_id, frequencies)
    if found is None:
        return None
    stored, plan = found.stored, found.plan
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


def coverage(backend, doc_id: str, size: int = 10, known: Story | None = None, frequencies=None) -> dict | None:
    """How a story developed: the articles most related to ``doc_id``
    within ``STORY_WINDOW_DAYS`` of it (at most ``size`` searched), split
    into earlier and later coverage in date order (the first of "earlier"
    is the first report found), plus its near-duplicates:
    {"id", "earlier", "later", "near_duplicates"} (lists of ``brief``).
    None if the article does not exist (``frequencies``: see ``related_plan``)."""
    found = known or story(backend, doc_id, frequencies)
    if found is None:
        return None
    stored, copies, plan = found.stored, found.copies, found.plan
    own = published_time(stored.get("published_text"))
    dated = []
    if plan is not None and own is not None:
        window = timedelta(days=STORY_WINDOW_DAYS)
        res = backend.execute(dataclasses.replace(plan, date_from=own - window, date_to=own + window, limit=size))
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
